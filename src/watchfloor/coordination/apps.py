from django.apps import AppConfig


class CoordinationConfig(AppConfig):
    name = "watchfloor.coordination"
    label = "coordination"
    verbose_name = "Partner coordination"

    def ready(self) -> None:
        from watchfloor.coordination.panel import requests_panel
        from watchfloor.escalations.hooks import register_escalation_panel

        register_escalation_panel("partner_requests", requests_panel)
