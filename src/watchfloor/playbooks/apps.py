from django.apps import AppConfig


def ensure_playbook_library() -> str | None:
    """Load the bundled playbooks when none is active (a fresh database)."""
    from watchfloor.playbooks.library import load_playbooks
    from watchfloor.playbooks.models import Playbook

    if Playbook.objects.filter(is_active=True).exists():
        return None
    result = load_playbooks(actor=None)
    return (
        f"loaded playbook library: {len(result.new_playbook_versions)} playbooks, "
        f"{len(result.new_template_versions)} communication templates"
    )


class PlaybooksConfig(AppConfig):
    name = "watchfloor.playbooks"
    label = "playbooks"

    def ready(self) -> None:
        from watchfloor.core.preparation import register_preparer

        register_preparer("playbooks", ensure_playbook_library)

        from watchfloor.escalations.hooks import (
            listen_to_escalation_events,
            register_escalation_panel,
        )
        from watchfloor.playbooks import selectors, services

        def start_or_replan(*, escalation, event, actor, how):
            return services.on_escalation_changed(escalation=escalation, actor=actor)

        listen_to_escalation_events(
            "playbooks", start_or_replan, events=("created", "severity_changed")
        )
        register_escalation_panel("runs", selectors.run_views)
        register_escalation_panel(
            "proposals",
            lambda *, escalation, viewer, now: selectors.proposals_for(
                escalation, facts=selectors.prefetched_facts(escalation)
            ),
        )
