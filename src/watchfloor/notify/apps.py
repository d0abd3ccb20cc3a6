from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "watchfloor.notify"
    label = "notify"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Registers the system check that validates the escalation policy file.
        from watchfloor.notify import checks  # noqa: F401
        from watchfloor.notify.recipients import why_unreachable
        from watchfloor.people.reachability import register_reachability_check

        # The on-call page flags people whom a page would not reach.
        register_reachability_check(why_unreachable)
