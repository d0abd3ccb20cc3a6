from django.apps import AppConfig

from watchfloor.core.lazy import imported_when_called

# The panels are imported when a page first draws them: the evidence services bring
# Pillow, numpy and the PDQ hasher, which a command that never shows a page
# (``watchfloor --help``, ``ingest``) should not load at start-up.
escalation_evidence_panel = imported_when_called(
    "watchfloor.evidence.selectors.escalation_evidence_panel"
)
crisis_exposure = imported_when_called("watchfloor.evidence.selectors.crisis_exposure")
crisis_evidence_panel = imported_when_called("watchfloor.evidence.selectors.crisis_evidence_panel")
cluster_evidence_panel = imported_when_called(
    "watchfloor.evidence.selectors.cluster_evidence_panel"
)
request_packages = imported_when_called("watchfloor.evidence.selectors.request_packages")


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

        from watchfloor.coordination.hooks import register_request_panel

        # The packages built for a partner request, on its page.
        register_request_panel("request_evidence_packages", request_packages)

        from watchfloor.crises.hooks import register_war_room_panel

        register_war_room_panel("crisis_exposure", crisis_exposure)
        register_war_room_panel("crisis_evidence", crisis_evidence_panel)

        from watchfloor.signals.hooks import register_cluster_panel

        register_cluster_panel("cluster_evidence", cluster_evidence_panel)

        # Evidence in the header's search (docs/search.md), by id and by hash.
        from watchfloor.web.search import SearchProvider, register_search_provider

        register_search_provider(
            SearchProvider(
                kind="evidence",
                label="Evidence",
                position=40,
                search=imported_when_called("watchfloor.evidence.search.search_evidence"),
            )
        )
