from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    """Evidence items on escalations, clusters and crises: storage, safe viewing,
    exposure, chain of custody, legal hold and packages."""

    name = "watchfloor.evidence"
    label = "evidence"
