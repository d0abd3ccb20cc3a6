"""The escalation pages: the triage queue, filing, the escalation page and its actions."""

from django.urls import path

from . import filing_views, queue_views, review_views, search_views, views

urlpatterns = [
    path("", queue_views.queue, name="queue"),
    path("search", search_views.search_page, name="search"),
    path("escalations/export.csv", queue_views.queue_export, name="queue-export"),
    path("escalations/new-since", queue_views.queue_new, name="queue-new"),
    path("escalations/new", filing_views.escalation_create, name="escalation-create"),
    path("escalations/new/preview", filing_views.escalation_preview, name="escalation-preview"),
    path("escalations/<int:escalation_id>/", views.escalation_detail, name="escalation-detail"),
    path(
        "escalations/<int:escalation_id>/transition",
        views.escalation_transition,
        name="escalation-transition",
    ),
    path(
        "escalations/<int:escalation_id>/assign", views.escalation_assign, name="escalation-assign"
    ),
    path("escalations/<int:escalation_id>/notes", views.escalation_note, name="escalation-note"),
    path("escalations/<int:escalation_id>/link", views.escalation_link, name="escalation-link"),
    path("escalations/<int:escalation_id>/merge", views.escalation_merge, name="escalation-merge"),
    path(
        "escalations/<int:escalation_id>/severity",
        views.escalation_override,
        name="escalation-override",
    ),
    path(
        "escalations/<int:escalation_id>/decisions",
        views.escalation_decide,
        name="escalation-decide",
    ),
    path(
        "escalations/<int:escalation_id>/decisions/<int:item_id>/approve",
        review_views.decision_approve,
        name="decision-approve",
    ),
    path(
        "escalations/<int:escalation_id>/decisions/<int:item_id>/send-back",
        review_views.decision_send_back,
        name="decision-send-back",
    ),
    path(
        "escalations/<int:escalation_id>/severity-downgrades/<int:item_id>/approve",
        review_views.downgrade_approve,
        name="downgrade-approve",
    ),
    path(
        "escalations/<int:escalation_id>/severity-downgrades/<int:item_id>/reject",
        review_views.downgrade_reject,
        name="downgrade-reject",
    ),
    path(
        "escalations/<int:escalation_id>/access", views.escalation_access, name="escalation-access"
    ),
]
