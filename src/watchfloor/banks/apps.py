from django.apps import AppConfig


class BanksConfig(AppConfig):
    """Hash banks, the exact matcher, exchanges, action rules and enforcement connectors."""

    name = "watchfloor.banks"
    label = "banks"

    def ready(self) -> None:
        from watchfloor.banks.panel import enforcement_panel
        from watchfloor.escalations.hooks import register_escalation_panel

        register_escalation_panel("enforcement_panel", enforcement_panel)
