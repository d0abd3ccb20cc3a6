from django.apps import AppConfig


class SeverityConfig(AppConfig):
    name = "watchfloor.severity"
    label = "severity"
