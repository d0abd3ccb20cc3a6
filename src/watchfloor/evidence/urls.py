from django.urls import path

from . import views

urlpatterns = [
    path(
        "escalations/<int:escalation_id>/evidence",
        views.evidence_upload,
        name="evidence-upload",
    ),
    path(
        "escalations/<int:escalation_id>/evidence/all",
        views.evidence_list,
        name="evidence-list",
    ),
    path("evidence/exposure/", views.my_exposure, name="evidence-exposure"),
    path("evidence/exposure/team", views.team_exposure, name="evidence-team-exposure"),
    path("evidence/revealed/<str:token>", views.evidence_revealed, name="evidence-revealed"),
    path("evidence/<int:evidence_id>/", views.evidence_detail, name="evidence-detail"),
    path("evidence/<int:evidence_id>/preview.jpg", views.evidence_preview, name="evidence-preview"),
    path("evidence/<int:evidence_id>/reveal", views.evidence_reveal, name="evidence-reveal"),
    path("evidence/<int:evidence_id>/hold", views.evidence_hold, name="evidence-hold"),
]
