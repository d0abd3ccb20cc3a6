from django.apps import AppConfig


class BanksConfig(AppConfig):
    """Hash banks, the exact matcher, exchanges, action rules and enforcement connectors."""

    name = "watchfloor.banks"
    label = "banks"

    def ready(self) -> None:
        from watchfloor.banks.panel import enforcement_panel
        from watchfloor.banks.views import bank_this_link
        from watchfloor.escalations.hooks import register_escalation_panel
        from watchfloor.evidence.hooks import register_item_link

        register_escalation_panel("enforcement_panel", enforcement_panel)
        register_item_link("bank_this", bank_this_link)
