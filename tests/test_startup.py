"""Start-up stays light: every `watchfloor` command but the command list sets Django up,
so the heavy libraries that only matching, clustering, language detection or the API
need must be imported where they are used, not by an app's ``ready()`` or an admin
module (the admin modules are imported at start-up too)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

HEAVY = (
    "numpy",
    "faiss",
    "lingua",
    "httpx",
    "PIL",
    "pdqhash",
    "ninja",
    "threatexchange",
    "requests",
    "lxml",
)
# Modules whose services an admin page or a ready() hook uses only when called
# (core.lazy.imported_when_called): each brought tens of milliseconds to every command.
LAZY = (
    "watchfloor.people.services",
    "watchfloor.banks.actioner",
    "watchfloor.notify.services",
)


def _imported_after(tmp_path: Path, code: str, names: tuple[str, ...]) -> str:
    """Which of ``names`` a fresh process has imported once Django is set up and ``code``
    has run (space-separated; empty when none)."""
    env = {**os.environ, "WATCHFLOOR_DATA_DIR": str(tmp_path)}
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("DJANGO_SETTINGS_MODULE", "watchfloor.settings")
    script = (
        f"import sys, django; django.setup(); {code}; "
        f"print(' '.join(name for name in {names!r} if name in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_setting_django_up_imports_none_of_the_heavy_libraries(tmp_path):
    imported = _imported_after(tmp_path, "pass", HEAVY + LAZY)
    assert imported == "", f"imported at start-up: {imported}"


# What the ingest command leaves to the worker: the reactions (rules, watchlists, triage)
# and the crises' selectors cost a quarter of a second that queuing reactions never uses.
INGEST_LEAVES = (
    "watchfloor.signals.reactions",
    "watchfloor.signals.auto_escalation",
    "watchfloor.crises.selectors",
)


def test_the_ingest_command_loads_no_reactions(tmp_path):
    load_ingest = (
        "from django.core.management import load_command_class; "
        "load_command_class('watchfloor.signals', 'ingest')"
    )
    imported = _imported_after(tmp_path, load_ingest, INGEST_LEAVES)
    assert imported == "", f"imported by the ingest command: {imported}"


def test_a_long_running_process_can_import_every_hook_at_once(tmp_path):
    """The worker imports its hooks' code when it starts (core.lazy.import_every_hook),
    so the first reactions pass does not wait for the imports; other commands do not."""
    hooks = (*LAZY, "watchfloor.crises.watchlists", "watchfloor.warning.proposals")
    imported = _imported_after(
        tmp_path,
        "from watchfloor.core.lazy import import_every_hook; import_every_hook()",
        hooks,
    )
    assert imported.split() == list(hooks)


def test_a_server_loads_its_urls_and_hooks_before_it_serves(tmp_path):
    """The first request to a fresh server used to import every URL module (5.3 s for
    the first batch of signals against 0.6 s for the next)."""
    wanted = ("watchfloor.urls", "watchfloor.signals.api", "watchfloor.crises.watchlists")
    imported = _imported_after(
        tmp_path,
        "from watchfloor.bootstrap.server import prepare_to_serve; "
        "import gc; assert prepare_to_serve() == gc.get_freeze_count() > 0",
        wanted,
    )
    assert imported.split() == list(wanted)


def test_the_command_list_is_the_one_django_registers():
    """`watchfloor --help` answers from a static list (no Django set-up): it names every
    command Django would, under the same app, and nothing else."""
    from django.core.management import get_commands

    from watchfloor.cli import COMMANDS

    registered: dict[str, list[str]] = {}
    for name, app in get_commands().items():
        registered.setdefault(app.rpartition(".")[-1], []).append(name)
    expected = {app: tuple(sorted(names)) for app, names in registered.items()}
    assert expected == COMMANDS, f"set watchfloor.cli.COMMANDS to {expected!r}"


def test_the_command_list_is_printed_without_setting_django_up(tmp_path):
    env = {**os.environ, "WATCHFLOOR_DATA_DIR": str(tmp_path)}
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    script = (
        "import sys; from watchfloor.cli import main; main(sys.argv[1:]); "
        "print('django.apps.registry' in sys.modules, 'watchfloor.settings' in sys.modules)"
    )
    for args in ([], ["--help"], ["help"]):
        done = subprocess.run(
            [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        *listing, imported = done.stdout.strip().splitlines()
        assert imported == "False False"
        assert "[signals]" in listing and "    ingest" in listing
    # Help on one command still comes from Django.
    done = subprocess.run(
        [sys.executable, "-c", script, "help", "ingest"], env=env, capture_output=True, text=True
    )
    assert "usage: watchfloor ingest" in done.stdout, done.stderr


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


@pytest.mark.django_db
def test_a_migrated_database_is_known_without_reading_the_migrations():
    """Commands that work on data ask whether migrations wait; on a migrated database the
    file names and the applied table answer (no migration module imported), and one
    unrecorded file sends the question to Django's full plan."""
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    from watchfloor.core.preparation import database_needs_migrating, every_migration_file_applied

    assert every_migration_file_applied()
    assert not database_needs_migrating()
    latest = MigrationRecorder(connection).migration_qs.filter(app="escalations").latest("id")
    latest.delete()
    assert not every_migration_file_applied()
    assert database_needs_migrating()
