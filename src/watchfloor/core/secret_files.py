"""Per-installation secrets kept in files of the data directory (the session secret, the
development audit key).

Written beside the final name and linked into place: processes starting together on a
fresh data directory (test workers, a server and a worker, two ingest commands) all read
the same complete secret, never an empty or half-written file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path


def ensure_secret_file(path: Path, *, nbytes: int) -> Path:
    """Make ``path`` (mode 600) holding a new random secret unless it exists already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path
    descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as handle:  # mkstemp makes it mode 600
            handle.write(secrets.token_urlsafe(nbytes) + "\n")
        with contextlib.suppress(FileExistsError):  # another process was first: use its secret
            os.link(draft, path)
    finally:
        os.unlink(draft)
    return path
