"""Running Watchfloor: prepare the database and catalog, then serve with a real WSGI server."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command

from watchfloor.catalog.models import CatalogVersion
from watchfloor.catalog.services import load_catalog
from watchfloor.playbooks.models import Playbook
from watchfloor.playbooks.services import load_playbooks


def prepare_database(*, stdout) -> None:
    """Migrate and make sure a catalog is active. Safe to run on every start."""
    call_command("migrate", interactive=False, verbosity=0)
    if not CatalogVersion.objects.filter(is_active=True).exists():
        version = load_catalog(actor=None)
        stdout.write(f"loaded catalog {version}")
    if not Playbook.objects.filter(is_active=True).exists():
        result = load_playbooks(actor=None)
        stdout.write(
            f"loaded playbook library: {len(result.new_playbook_versions)} playbooks, "
            f"{len(result.new_template_versions)} communication templates"
        )


def serve_forever(*, host: str, port: int, stdout, threads: int = 8) -> None:
    # waitress: a production-grade, pure-Python WSGI server (no compiler, any OS).
    from waitress import serve

    from watchfloor.wsgi import application

    display_host = f"[{host}]" if ":" in host else host
    stdout.write(f"\nWatchfloor is running at http://{display_host}:{port}/  (Ctrl+C to stop)")
    stdout.write(f"data directory: {settings.DATA_DIR}\n")
    serve(application, host=host, port=port, threads=threads, ident="watchfloor")
