from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "watchfloor.notify"
    label = "notify"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Registers the system check that validates the escalation policy file.
        from watchfloor.core.lazy import imported_when_called
        from watchfloor.escalations.hooks import (
            listen_to_escalation_events,
            register_escalation_panel,
        )
        from watchfloor.escalations.timeline import register_timeline_describers
        from watchfloor.notify import (
            checks,  # noqa: F401
            timeline,
        )

        # Paging follows every change of an escalation; it runs after the playbooks'
        # listener because notify is installed after playbooks. The services and
        # selectors (with the policy file's models) are imported on first use.
        listen_to_escalation_events(
            "notify", imported_when_called("watchfloor.notify.services.notify_escalation_event")
        )
        register_escalation_panel("notify_panel", imported_when_called(f"{__name__}.notify_panel"))
        register_timeline_describers(timeline.DESCRIBERS)
        from watchfloor.people.reachability import register_reachability_check

        # The on-call page flags people whom a page would not reach.
        register_reachability_check(
            imported_when_called("watchfloor.notify.recipients.why_unreachable")
        )


def notify_panel(*, escalation, viewer, now):
    """The escalation page's notifications panel (the hook passes the time; it needs none)."""
    from watchfloor.notify.selectors import escalation_panel

    return escalation_panel(escalation=escalation, viewer=viewer)
