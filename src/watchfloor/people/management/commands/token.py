from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from watchfloor.core.errors import WatchfloorError
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.people.services import create_api_token, get_user_by_username


class Command(PreparesDatabase, BaseCommand):
    help = "API tokens for systems. `token create USER [--name NAME]` prints the secret once."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        create = sub.add_parser("create", help="create a token for USER")
        create.add_argument("username")
        create.add_argument("--name", default="cli", help="which system will use the token")

    def handle(self, *args, subcommand: str, username: str, name: str, **options):
        try:
            user = get_user_by_username(username)
            token, secret = create_api_token(user=user, name=name, actor=None)
        except WatchfloorError as exc:
            raise CommandError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc
        self.stderr.write(
            f"token '{token.name}' for {user.username} created; it is shown only once:"
        )
        self.stdout.write(secret)
