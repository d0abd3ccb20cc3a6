"""Start-up stays light: every `watchfloor` command (even `--help`) sets Django up, so
the heavy libraries that only matching, clustering or language detection need must be
imported where they are used, not by an app's ``ready()``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

HEAVY = ("numpy", "faiss", "lingua", "httpx", "PIL", "pdqhash", "threatexchange", "requests")


def test_setting_django_up_imports_none_of_the_heavy_libraries(tmp_path):
    env = {**os.environ, "WATCHFLOOR_DATA_DIR": str(tmp_path)}
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("DJANGO_SETTINGS_MODULE", "watchfloor.settings")
    script = (
        "import sys, django; django.setup(); "
        f"print(' '.join(name for name in {HEAVY!r} if name in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported at start-up: {done.stdout.strip()}"


def test_processes_starting_together_share_one_complete_secret(tmp_path):
    """Eight processes make the per-installation secret files at once: every one reads
    the same, complete secret (never an empty or half-written file)."""
    script = (
        "import sys; from pathlib import Path; "
        "from watchfloor.core.secret_files import ensure_secret_file; "
        "print(ensure_secret_file(Path(sys.argv[1]), nbytes=50).read_text().strip())"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    target = tmp_path / "data" / "secret_key"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(target)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    secrets = {run.communicate(timeout=120)[0].strip() for run in runs}
    assert len(secrets) == 1 and len(secrets.pop()) >= 60
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in target.parent.iterdir()] == ["secret_key"]  # no drafts left
