from __future__ import annotations

from django.core.management.base import BaseCommand

from watchfloor.bootstrap.server import serve_forever
from watchfloor.core.preparation import prepare_database


class Command(BaseCommand):
    help = "Migrate, load the catalog if none is active, and serve Watchfloor (no demo data)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args, host: str, port: int, threads: int, **options):
        prepare_database(stdout=self.stdout)
        from watchfloor.people.models import User

        if not User.objects.exists():
            self.stdout.write(
                "No accounts yet: create the first with `watchfloor createsuperuser`, "
                "or try `watchfloor demo` for a populated installation."
            )
        serve_forever(host=host, port=port, threads=threads, stdout=self.stdout)
