from django.apps import AppConfig

from watchfloor.core.lazy import imported_when_called


class CrisesConfig(AppConfig):
    name = "watchfloor.crises"
    label = "crises"

    def ready(self) -> None:
        # New signals are matched against the active crises' watchlists in the same
        # reactions pass as the surge checks (signals.backlog), off the intake's path.
        from watchfloor.signals.hooks import after_signals_stored

        # Imported when a reactions pass first runs it: it brings numpy, which a command
        # that never reacts (``watchfloor --help``) should not load.
        after_signals_stored(
            imported_when_called("watchfloor.crises.watchlists.flag_matching_signals")
        )

        from watchfloor.crises.describe import ESCALATION_TIMELINE_DESCRIBERS
        from watchfloor.escalations.hooks import register_escalation_panel
        from watchfloor.escalations.timeline import register_timeline_describers

        # The selectors (with the sitrep cadence's models) are imported on first use.
        register_escalation_panel("crisis_panel", imported_when_called(f"{__name__}.crisis_panel"))
        register_timeline_describers(ESCALATION_TIMELINE_DESCRIBERS)

        # The triage queue names the active crises the viewer may see, with their war rooms.
        from watchfloor.escalations.hooks import register_queue_banner

        register_queue_banner("crisis_banner", imported_when_called(f"{__name__}.crisis_banner"))

        # Crisis events land on the timelines of the escalations they concern: read them
        # there as the reader may see them (need to know, see docs/security.md).
        from watchfloor.escalations.selectors import register_timeline_reader

        register_timeline_reader(
            imported_when_called("watchfloor.crises.timeline.crisis_events_for_reader")
        )

        # A sitrep reminder names its crisis and who commands it: the delivery log shows
        # it only to those who may see the crisis.
        from watchfloor.notify.hooks import register_hidden_notifications

        register_hidden_notifications(
            imported_when_called("watchfloor.crises.selectors.reminder_notifications_hidden_from")
        )

        # Crises in the header's search (docs/search.md).
        from watchfloor.crises.search import PROVIDER
        from watchfloor.web.search import register_search_provider

        register_search_provider(PROVIDER)


def crisis_panel(*, escalation, viewer, now):
    from watchfloor.crises.selectors import escalation_crisis_panel

    return escalation_crisis_panel(escalation=escalation, viewer=viewer)


def crisis_banner(*, viewer, now):
    from watchfloor.crises.selectors import queue_crisis_banner

    return queue_crisis_banner(viewer=viewer)
