from django.apps import AppConfig


def ensure_playbook_library() -> str | None:
    """Load the bundled playbooks when none is active (a fresh database)."""
    from watchfloor.playbooks.models import Playbook

    if Playbook.objects.filter(is_active=True).exists():
        return None
    # Imported only when there is work: every command that works on data asks, and the
    # services bring the playbook schema and Markdown rendering.
    from watchfloor.playbooks.library import load_playbooks

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

        from watchfloor.core.lazy import imported_when_called
        from watchfloor.escalations.hooks import (
            listen_to_escalation_events,
            register_escalation_panel,
        )

        # The services and selectors (with the playbook schema and Markdown rendering)
        # are imported on first use, not by every command at start-up.
        listen_to_escalation_events(
            "playbooks",
            imported_when_called(f"{__name__}.start_or_replan"),
            events=("created", "severity_changed"),
        )
        register_escalation_panel(
            "runs", imported_when_called("watchfloor.playbooks.run_panel.run_views")
        )
        register_escalation_panel("proposals", imported_when_called(f"{__name__}.proposals"))


def start_or_replan(*, escalation, event, actor, how):
    from watchfloor.playbooks import services

    return services.on_escalation_changed(
        escalation=escalation, actor=actor, created=event == "created"
    )


def proposals(*, escalation, viewer, now):
    from watchfloor.playbooks import selectors

    return selectors.proposals_for(escalation, facts=selectors.prefetched_facts(escalation))
