from django.apps import AppConfig


class CrisesConfig(AppConfig):
    name = "watchfloor.crises"
    label = "crises"

    def ready(self) -> None:
        # New signals are matched against the active crises' watchlists in the same
        # reactions pass as the surge checks (signals.backlog), off the intake's path.
        from watchfloor.crises.watchlists import flag_matching_signals
        from watchfloor.signals.backlog import after_signals_stored

        after_signals_stored(flag_matching_signals)

        from watchfloor.crises.describe import ESCALATION_TIMELINE_DESCRIBERS
        from watchfloor.crises.selectors import escalation_crisis_panel
        from watchfloor.escalations.hooks import register_escalation_panel
        from watchfloor.escalations.timeline import register_timeline_describers

        register_escalation_panel(
            "crisis_panel",
            lambda *, escalation, viewer, now: escalation_crisis_panel(
                escalation=escalation, viewer=viewer
            ),
        )
        register_timeline_describers(ESCALATION_TIMELINE_DESCRIBERS)
