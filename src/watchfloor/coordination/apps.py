from django.apps import AppConfig


class CoordinationConfig(AppConfig):
    name = "watchfloor.coordination"
    label = "coordination"
    verbose_name = "Partner coordination"

    def ready(self) -> None:
        from watchfloor.core.lazy import imported_when_called
        from watchfloor.escalations.hooks import register_escalation_panel

        # Imported when a page first draws it (its form is not needed at start-up).
        register_escalation_panel(
            "partner_requests",
            imported_when_called("watchfloor.coordination.panel.requests_panel"),
        )
