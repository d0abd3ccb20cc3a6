from django.apps import AppConfig


class WarningConfig(AppConfig):
    """Early warning from outside: official alerts (CAP) in, the escalations and crisis
    proposals they lead to."""

    name = "watchfloor.warning"
    label = "warning"
    verbose_name = "Early warning"
