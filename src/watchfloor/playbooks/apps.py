from django.apps import AppConfig


def ensure_playbook_library() -> str | None:
    """Load the bundled playbooks when none is active (a fresh database)."""
    from watchfloor.playbooks.models import Playbook
    from watchfloor.playbooks.services import load_playbooks

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
