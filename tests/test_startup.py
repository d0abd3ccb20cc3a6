"""Start-up stays light: every `watchfloor` command (even `--help`) sets Django up, so
the heavy libraries that only matching, clustering or language detection need must be
imported where they are used, not by an app's ``ready()``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

HEAVY = ("numpy", "faiss", "lingua")


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
