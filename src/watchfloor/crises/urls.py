from django.urls import path

from . import cluster_views, needs_me_views, views

urlpatterns = [
    path("me/", needs_me_views.needs_me_page, name="needs-me"),
    path("crises/", views.crisis_list, name="crises"),
    path("crises/new", views.crisis_declare, name="crisis-declare"),
    path("crises/<int:crisis_id>/", views.crisis_detail, name="crisis-detail"),
    path("crises/<int:crisis_id>/live", views.crisis_live, name="crisis-live"),
    path("crises/<int:crisis_id>/notes", views.crisis_note, name="crisis-note"),
    path("crises/<int:crisis_id>/notes/<int:note_id>/pin", views.crisis_pin, name="crisis-pin"),
    path("crises/<int:crisis_id>/level", views.crisis_level, name="crisis-level"),
    path("crises/<int:crisis_id>/roles", views.crisis_role, name="crisis-role"),
    path(
        "crises/<int:crisis_id>/roles/release",
        views.crisis_role_release,
        name="crisis-role-release",
    ),
    path("crises/<int:crisis_id>/escalations", views.crisis_link, name="crisis-link"),
    path(
        "crises/<int:crisis_id>/escalations/<int:escalation_id>/unlink",
        views.crisis_unlink,
        name="crisis-unlink",
    ),
    path("crises/<int:crisis_id>/clusters", views.crisis_cluster_link, name="crisis-cluster-link"),
    path(
        "crises/<int:crisis_id>/clusters/<int:cluster_id>/unlink",
        views.crisis_cluster_unlink,
        name="crisis-cluster-unlink",
    ),
    path("crises/<int:crisis_id>/watchlist", views.crisis_watch, name="crisis-watch"),
    path(
        "crises/<int:crisis_id>/watchlist/<int:entry_id>/remove",
        views.crisis_unwatch,
        name="crisis-unwatch",
    ),
    path("crises/<int:crisis_id>/details", views.crisis_details, name="crisis-details"),
    path("crises/<int:crisis_id>/access", views.crisis_access, name="crisis-access"),
    path("crises/<int:crisis_id>/sitreps/new", views.crisis_sitrep, name="crisis-sitrep"),
    path(
        "crises/<int:crisis_id>/sitreps/<int:sitrep_id>/",
        views.sitrep_detail,
        name="crisis-sitrep-detail",
    ),
    path("crises/<int:crisis_id>/handoff", views.crisis_handoff, name="crisis-handoff"),
    path(
        "crises/<int:crisis_id>/handoffs/<int:handoff_id>/acknowledge",
        views.handoff_acknowledge,
        name="crisis-handoff-acknowledge",
    ),
    path("crises/<int:crisis_id>/review/", views.crisis_review, name="crisis-review"),
    path("crises/<int:crisis_id>/review.md", views.crisis_review_markdown, name="crisis-review-md"),
    path(
        "crises/<int:crisis_id>/review/<slug:part>",
        views.crisis_review_update,
        name="crisis-review-update",
    ),
    path(
        "crises/<int:crisis_id>/review/actions/<int:item_id>/status",
        views.action_item_status,
        name="crisis-action-item-status",
    ),
    path(
        "clusters/<int:cluster_id>/crisis",
        cluster_views.cluster_link_crisis,
        name="cluster-crisis",
    ),
]
