from django.apps import AppConfig


class BanksConfig(AppConfig):
    """Hash banks, the exact matcher, exchanges, action rules and enforcement connectors."""

    name = "watchfloor.banks"
    label = "banks"
