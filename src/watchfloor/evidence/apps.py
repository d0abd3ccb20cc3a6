from typing import Any

from django.apps import AppConfig


# The panels are imported when a page first draws them: the evidence services bring
# Pillow, numpy and the PDQ hasher, which a command that never shows a page
# (``watchfloor --help``, ``ingest``) should not load at start-up.
def escalation_evidence_panel(**kwargs: Any) -> Any:
    from watchfloor.evidence.selectors import escalation_evidence_panel as panel

    return panel(**kwargs)


def crisis_exposure(**kwargs: Any) -> Any:
    from watchfloor.evidence.selectors import crisis_exposure as panel

    return panel(**kwargs)


class EvidenceConfig(AppConfig):
    """Evidence items on escalations, clusters and crises: storage, safe viewing,
    exposure, chain of custody, legal hold and packages."""

    name = "watchfloor.evidence"
    label = "evidence"

    def ready(self) -> None:
        from watchfloor.escalations.hooks import register_escalation_panel
        from watchfloor.escalations.selectors import register_timeline_reader
        from watchfloor.escalations.timeline import register_timeline_describers
        from watchfloor.evidence.custody import timeline_without_views
        from watchfloor.evidence.describe import ESCALATION_TIMELINE_DESCRIBERS

        register_escalation_panel("evidence_panel", escalation_evidence_panel)
        register_timeline_describers(ESCALATION_TIMELINE_DESCRIBERS)
        register_timeline_reader(timeline_without_views)

        from watchfloor.crises.hooks import register_war_room_panel

        register_war_room_panel("crisis_exposure", crisis_exposure)
