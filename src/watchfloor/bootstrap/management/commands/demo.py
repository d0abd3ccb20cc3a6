from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from watchfloor.banks.demo_platform import ensure_demo_connector
from watchfloor.bootstrap.demo import (
    DEMO_PASSWORD,
    DemoRefused,
    demo_connector_line,
    demo_platform_reachable,
    demo_replay_command,
    ensure_demo_accounts,
    load_demo_scenario,
    refuse_in_production,
)
from watchfloor.bootstrap.server import serve_forever, start_demo_platform, start_worker
from watchfloor.core.preparation import prepare_database


class Command(BaseCommand):
    help = (
        "Set up a demo installation (catalog, one account per role, a believable APAC day) "
        "and serve it, with a demo platform on 127.0.0.1 answering its enforcement connector. "
        "Running it again reuses the data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="prepare the data and the demo connector and exit; starts no server, worker "
            "or demo platform (for scripts)",
        )

    def handle(self, *args, host: str, port: int, threads: int, no_serve: bool, **options):
        try:
            refuse_in_production()
        except DemoRefused as refused:
            raise CommandError(str(refused)) from refused
        with demo_platform_reachable():
            self.run_demo(host=host, port=port, threads=threads, no_serve=no_serve)

    def run_demo(self, *, host: str, port: int, threads: int, no_serve: bool) -> None:
        prepare_database(stdout=self.stdout)
        accounts = ensure_demo_accounts()
        created = load_demo_scenario()
        if created:
            self.stdout.write(f"demo scenario loaded: {created} escalations")
        else:
            self.stdout.write("demo data already present: reusing it")
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
        for user in accounts:
            team = f", {user.team.name}" if user.team else ""
            self.stdout.write(
                f"  {user.username:<10} {user.get_role_display()}{team} · {user.time_zone}"
            )
        required = ", ".join(settings.WATCHFLOOR_MFA_REQUIRED_ROLES)
        if required:
            self.stdout.write(
                f"Roles {required} sign in with an authenticator app as well: the first sign-in "
                "sets one up (WATCHFLOOR_MFA_REQUIRED_ROLES= turns this off on a laptop)."
            )
        self.stdout.write(
            "\nA crisis is running: the hijacked city account's fake evacuation order, in its "
            "war room under /crises/. Drills to rehearse are under /crises/drills/."
        )
        self.stdout.write(
            "\nTo rehearse a surge (an earthquake and the scams that ride it, about 5 minutes "
            "at 120x), run in another terminal:\n  " + demo_replay_command()
        )
        if no_serve:
            connector, _created = ensure_demo_connector(url=None)
            self.stdout.write("\n" + demo_connector_line(connector, platform_url=None))
            self.stdout.write("--no-serve: nothing started (no server, worker or platform)")
            return
        # One command for the demo: the platform that answers the demo connector, and the
        # worker (notifications, policy timers, retries, enforcement requests) on threads
        # beside the web server; the platform's port closes when the server stops.
        self.stdout.write("")
        platform = start_demo_platform(stdout=self.stdout, host=host, port=port)
        try:
            start_worker(stdout=self.stdout, host=host, port=port)
            serve_forever(
                host=host, port=port, threads=threads, stdout=self.stdout, worker_running=True
            )
        finally:
            platform.stop()
