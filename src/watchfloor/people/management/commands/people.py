from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from watchfloor.core.errors import WatchfloorError
from watchfloor.people.services import deactivate_user, get_user_by_username


class Command(BaseCommand):
    help = (
        "Accounts. `people deactivate USERNAME --reason TEXT` takes a leaver's access away at "
        "once: no sign-in, no API tokens, open sessions ended (audited)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        deactivate = sub.add_parser("deactivate", help="deactivate USERNAME and end its sessions")
        deactivate.add_argument("username")
        deactivate.add_argument(
            "--reason", required=True, help="why, for the audit log (e.g. 'left on 2026-11-30')"
        )

    def handle(self, *args, subcommand: str, username: str, reason: str, **options):
        try:
            user = get_user_by_username(username)
            result = deactivate_user(user=user, actor=None, reason=reason)
        except WatchfloorError as exc:
            raise CommandError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc
        state = "deactivated" if result.was_active else "was already inactive"
        self.stdout.write(
            f"{result.user.username} {state}; {result.sessions_ended} open session(s) ended"
        )
