from django.apps import AppConfig


def ensure_active_catalog() -> str | None:
    """Load the bundled catalog when no version is active (a fresh database)."""
    from watchfloor.catalog.models import CatalogVersion

    if CatalogVersion.objects.filter(is_active=True).exists():
        return None
    # Imported only when there is work: every command that works on data asks.
    from watchfloor.catalog.services import load_catalog

    return f"loaded catalog {load_catalog(actor=None)}"


class CatalogConfig(AppConfig):
    name = "watchfloor.catalog"
    label = "catalog"

    def ready(self) -> None:
        from watchfloor.core.preparation import register_preparer

        register_preparer("catalog", ensure_active_catalog)
