from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from watchfloor.core import clock
from watchfloor.core.errors import WatchfloorError
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.people.api_tokens import create_api_token, revoke_api_token
from watchfloor.people.models import TokenScope
from watchfloor.people.selectors import api_tokens, get_api_token
from watchfloor.people.services import get_user_by_username


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else "never"


class Command(PreparesDatabase, BaseCommand):
    help = (
        "API tokens for systems: `token create USER --scope SCOPE [--name NAME] [--days N]` "
        "prints the secret once; `token list`; `token revoke ID|PREFIX`."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        create = sub.add_parser("create", help="create a token for USER")
        create.add_argument("username")
        create.add_argument("--name", default="cli", help="which system will use the token")
        create.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            default=[],
            metavar="SCOPE",
            help=f"what it may do, repeatable or comma-separated: {', '.join(TokenScope.values)} "
            "(read: GET; write: other methods; ingest: signal batches)",
        )
        create.add_argument(
            "--days", type=int, default=None, help="days until it expires (default 90)"
        )
        listing = sub.add_parser("list", help="tokens that work, or with --all every token")
        listing.add_argument("--user", default=None, help="only this user's tokens")
        listing.add_argument(
            "--all", action="store_true", help="include expired and revoked tokens"
        )
        revoke = sub.add_parser("revoke", help="stop a token working, at once")
        revoke.add_argument("token", help="the token's id or its prefix (wf_…) from `token list`")

    def handle(self, *args, subcommand: str, **options):
        try:
            if subcommand == "create":
                self._create(**options)
            elif subcommand == "list":
                self._list(**options)
            else:
                self._revoke(**options)
        except WatchfloorError as exc:
            raise CommandError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc

    def _create(self, *, username: str, name: str, scopes: list[str], days: int | None, **_):
        user = get_user_by_username(username)
        token, secret = create_api_token(
            user=user,
            name=name,
            scopes=[part for value in scopes for part in value.split(",")],
            actor=None,
            lifetime=timedelta(days=days) if days is not None else None,
        )
        self.stderr.write(
            f"token '{token.name}' for {user.username} created (scopes: "
            f"{', '.join(token.scopes)}; expires {_when(token.expires_at)}); "
            "it is shown only once:"
        )
        self.stdout.write(secret)

    def _list(self, *, user: str | None, all: bool, **_):
        now = clock.now()
        rows = api_tokens(username=user, include_inactive=all, now=now)
        if not rows:
            self.stderr.write("no tokens" if all else "no working tokens (--all lists the rest)")
            return
        header = ("id", "prefix", "name", "user", "scopes", "expires", "last used", "state")
        lines = [header] + [
            (
                str(token.pk),
                token.prefix,
                token.name,
                token.user.username,
                ",".join(token.scopes),
                _when(token.expires_at),
                _when(token.last_used_at),
                token.state_at(now),
            )
            for token in rows
        ]
        widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
        for line in lines:
            self.stdout.write(
                "  ".join(
                    cell.ljust(width) for cell, width in zip(line, widths, strict=True)
                ).rstrip()
            )

    def _revoke(self, *, token: str, **_):
        found = get_api_token(token)
        revoked = revoke_api_token(token=found, actor=None)
        self.stdout.write(
            f"revoked token {revoked.pk} {revoked.prefix}… ({revoked.name}) of "
            f"{revoked.user.username}; it stops working at once"
        )
