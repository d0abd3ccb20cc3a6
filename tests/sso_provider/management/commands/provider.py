"""Set up the test provider: `provider client …` registers Watchfloor as a client,
`provider person …` creates or updates a person and their groups."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from oauth2_provider.models import Application


class Command(BaseCommand):
    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        client = sub.add_parser("client")
        client.add_argument("--client-id", required=True)
        client.add_argument("--client-secret", required=True)
        client.add_argument("--redirect-uri", required=True)
        person = sub.add_parser("person")
        person.add_argument("username")
        person.add_argument("--password", required=True)
        person.add_argument("--groups", default="", help="comma-separated; empty for none")
        person.add_argument("--email", default="")
        person.add_argument("--first-name", default="")
        person.add_argument("--last-name", default="")

    def handle(self, *args, subcommand, **options):
        if subcommand == "client":
            Application.objects.filter(client_id=options["client_id"]).delete()
            Application.objects.create(
                name="Watchfloor",
                client_id=options["client_id"],
                client_secret=options["client_secret"],
                client_type=Application.CLIENT_CONFIDENTIAL,
                authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
                redirect_uris=options["redirect_uri"],
                algorithm=Application.RS256_ALGORITHM,
                skip_authorization=True,
            )
            return
        user, _ = User.objects.get_or_create(username=options["username"])
        user.set_password(options["password"])
        user.email = options["email"]
        user.first_name = options["first_name"]
        user.last_name = options["last_name"]
        user.save()
        names = [name.strip() for name in options["groups"].split(",") if name.strip()]
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in names])
