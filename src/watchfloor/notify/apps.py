from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "watchfloor.notify"
    label = "notify"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Registers the system check that validates the escalation policy file.
        from watchfloor.notify import checks  # noqa: F401
