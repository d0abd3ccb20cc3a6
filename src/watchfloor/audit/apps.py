from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "watchfloor.audit"
    label = "audit"

    def ready(self) -> None:
        from watchfloor.audit import checks  # noqa: F401 (registers the deploy checks)
