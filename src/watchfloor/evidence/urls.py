from django.urls import path, register_converter

from . import views


class TargetConverter:
    """``escalations``, ``clusters`` or ``crises`` in a path; ``escalation``, ``cluster``
    or ``crisis`` (evidence.targets.KINDS) in the view."""

    regex = "escalations|clusters|crises"
    _kinds = {"escalations": "escalation", "clusters": "cluster", "crises": "crisis"}
    _paths = {kind: part for part, kind in _kinds.items()}

    def to_python(self, value: str) -> str:
        return self._kinds[value]

    def to_url(self, value: str) -> str:
        return self._paths[value]


register_converter(TargetConverter, "evidence_target")

urlpatterns = [
    path(
        "<evidence_target:target>/<int:target_id>/evidence",
        views.evidence_upload,
        name="evidence-upload",
    ),
    path(
        "<evidence_target:target>/<int:target_id>/evidence/all",
        views.evidence_list,
        name="evidence-list",
    ),
    path("evidence/exposure/", views.my_exposure, name="evidence-exposure"),
    path("evidence/exposure/team", views.team_exposure, name="evidence-team-exposure"),
    path("evidence/exposure/team/training", views.team_training, name="evidence-team-training"),
    path("evidence/exposure/team/care", views.team_care, name="evidence-team-care"),
    path("evidence/revealed/<str:token>", views.evidence_revealed, name="evidence-revealed"),
    path("evidence/<int:evidence_id>/", views.evidence_detail, name="evidence-detail"),
    path("evidence/<int:evidence_id>/preview.jpg", views.evidence_preview, name="evidence-preview"),
    path("evidence/<int:evidence_id>/reveal", views.evidence_reveal, name="evidence-reveal"),
    path("evidence/<int:evidence_id>/hold", views.evidence_hold, name="evidence-hold"),
    path(
        "evidence/packages/<int:package_id>/download",
        views.package_download,
        name="evidence-package-download",
    ),
]
