"""A task for the worker tests: it says it started, waits at a gate (a named pipe) that
the test opens, and says it finished. Each mark carries the process id, so the test
knows which worker ran it, and how many times."""

from __future__ import annotations

import os
from pathlib import Path

from django_tasks import task


@task()
def hold_until_released(directory: str) -> int:
    folder = Path(directory)
    (folder / f"started-{os.getpid()}").touch()
    # Blocks until the test opens the pipe for writing and closes it.
    with (folder / "gate").open(encoding="utf-8") as gate:
        gate.read()
    (folder / f"finished-{os.getpid()}").touch()
    return os.getpid()
