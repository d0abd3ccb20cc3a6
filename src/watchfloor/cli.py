"""The `watchfloor` command: Django's management commands under the product's name.

`watchfloor`, `watchfloor help` and `watchfloor --help` list the commands without
setting Django up (importing every app's models and hooks takes most of a second); the
list below is kept true by tests/test_cli.py, which compares it with the commands Django
registers. Every other call goes to Django's own command line.
"""

from __future__ import annotations

import os
import sys

# Each app's commands, as Django lists them (the app's last dotted name, then the commands).
COMMANDS: dict[str, tuple[str, ...]] = {
    "audit": ("audit",),
    "auth": ("changepassword", "createsuperuser"),
    "axes": (
        "axes_list_attempts",
        "axes_reset",
        "axes_reset_failure_logs",
        "axes_reset_ip",
        "axes_reset_ip_username",
        "axes_reset_logs",
        "axes_reset_username",
    ),
    "banks": ("bank_rules", "banks", "match"),
    "bootstrap": ("demo", "export_openapi_schema", "serve", "worker"),
    "catalog": ("config",),
    "contenttypes": ("remove_stale_contenttypes",),
    "core": (
        "check",
        "compilemessages",
        "createcachetable",
        "dbshell",
        "diffsettings",
        "dumpdata",
        "flush",
        "inspectdb",
        "loaddata",
        "makemessages",
        "makemigrations",
        "migrate",
        "optimizemigration",
        "sendtestemail",
        "shell",
        "showmigrations",
        "sqlflush",
        "sqlmigrate",
        "sqlsequencereset",
        "squashmigrations",
        "startapp",
        "startproject",
        "test",
        "testserver",
    ),
    "crises": ("crises",),
    "django_tasks_db": ("db_worker", "prune_db_task_results"),
    "drills": ("drill",),
    "evidence": ("evidence",),
    "warning": ("cap_senders",),
    "notify": ("notify",),
    "otp_static": ("addstatictoken",),
    "people": ("oncall", "people", "rotas", "token"),
    "playbooks": ("playbooks",),
    "runserver_nostatic": ("runserver",),
    "sessions": ("clearsessions",),
    "signals": ("clusters", "ingest", "replay", "signal_rules", "signals", "surges"),
    "staticfiles": ("collectstatic", "findstatic"),
}

_LIST_REQUESTS: tuple[list[str], ...] = ([], ["help"], ["--help"], ["-h"])


def help_text() -> str:
    """The command list, as Django's `help` prints it."""
    lines = [
        "",
        "Type 'watchfloor help <subcommand>' for help on a specific subcommand.",
        "",
        "Available subcommands:",
    ]
    for app in sorted(COMMANDS):
        lines += ["", f"[{app}]", *(f"    {name}" for name in COMMANDS[app])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    if args in _LIST_REQUESTS:
        sys.stdout.write(help_text())
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchfloor.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["watchfloor", *args])


if __name__ == "__main__":
    main()
