from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "watchfloor.notify"
    label = "notify"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Registers the system check that validates the escalation policy file.
        from watchfloor.escalations.hooks import (
            listen_to_escalation_events,
            register_escalation_panel,
        )
        from watchfloor.escalations.timeline import register_timeline_describers
        from watchfloor.notify import (
            checks,  # noqa: F401
            selectors,
            services,
            timeline,
        )

        # Paging follows every change of an escalation; it runs after the playbooks'
        # listener because notify is installed after playbooks.
        listen_to_escalation_events("notify", services.notify_escalation_event)
        register_escalation_panel(
            "notify_panel",
            lambda *, escalation, viewer, now: selectors.escalation_panel(
                escalation=escalation, viewer=viewer
            ),
        )
        register_timeline_describers(timeline.DESCRIBERS)
        from watchfloor.notify.recipients import why_unreachable
        from watchfloor.people.reachability import register_reachability_check

        # The on-call page flags people whom a page would not reach.
        register_reachability_check(why_unreachable)
