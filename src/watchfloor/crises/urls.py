from django.urls import path

from . import (
    cluster_views,
    handoff_views,
    needs_me_views,
    review_views,
    sitrep_views,
    views,
    war_room_views,
)

urlpatterns = [
    path("me/", needs_me_views.needs_me_page, name="needs-me"),
    path("crises/", views.crisis_list, name="crises"),
    path("crises/new", views.crisis_declare, name="crisis-declare"),
    path("crises/<int:crisis_id>/", views.crisis_detail, name="crisis-detail"),
    path("crises/<int:crisis_id>/live", views.crisis_live, name="crisis-live"),
    path("crises/<int:crisis_id>/notes", war_room_views.crisis_note, name="crisis-note"),
    path(
        "crises/<int:crisis_id>/notes/<int:note_id>/pin",
        war_room_views.crisis_pin,
        name="crisis-pin",
    ),
    path("crises/<int:crisis_id>/level", war_room_views.crisis_level, name="crisis-level"),
    path("crises/<int:crisis_id>/roles", war_room_views.crisis_role, name="crisis-role"),
    path(
        "crises/<int:crisis_id>/roles/release",
        war_room_views.crisis_role_release,
        name="crisis-role-release",
    ),
    path("crises/<int:crisis_id>/escalations", war_room_views.crisis_link, name="crisis-link"),
    path(
        "crises/<int:crisis_id>/escalations/<int:escalation_id>/unlink",
        war_room_views.crisis_unlink,
        name="crisis-unlink",
    ),
    path(
        "crises/<int:crisis_id>/clusters",
        war_room_views.crisis_cluster_link,
        name="crisis-cluster-link",
    ),
    path(
        "crises/<int:crisis_id>/clusters/<int:cluster_id>/unlink",
        war_room_views.crisis_cluster_unlink,
        name="crisis-cluster-unlink",
    ),
    path("crises/<int:crisis_id>/watchlist", war_room_views.crisis_watch, name="crisis-watch"),
    path(
        "crises/<int:crisis_id>/watchlist/<int:entry_id>/remove",
        war_room_views.crisis_unwatch,
        name="crisis-unwatch",
    ),
    path("crises/<int:crisis_id>/details", war_room_views.crisis_details, name="crisis-details"),
    path("crises/<int:crisis_id>/access", war_room_views.crisis_access, name="crisis-access"),
    path("crises/<int:crisis_id>/sitreps/new", sitrep_views.crisis_sitrep, name="crisis-sitrep"),
    path(
        "crises/<int:crisis_id>/sitreps/<int:sitrep_id>/",
        sitrep_views.sitrep_detail,
        name="crisis-sitrep-detail",
    ),
    path("crises/<int:crisis_id>/handoff", handoff_views.crisis_handoff, name="crisis-handoff"),
    path(
        "crises/<int:crisis_id>/handoffs/<int:handoff_id>/acknowledge",
        handoff_views.handoff_acknowledge,
        name="crisis-handoff-acknowledge",
    ),
    path("crises/<int:crisis_id>/review/", review_views.crisis_review, name="crisis-review"),
    path(
        "crises/<int:crisis_id>/review.md",
        review_views.crisis_review_markdown,
        name="crisis-review-md",
    ),
    path(
        "crises/<int:crisis_id>/review/<slug:part>",
        review_views.crisis_review_update,
        name="crisis-review-update",
    ),
    path(
        "crises/<int:crisis_id>/review/actions/<int:item_id>/status",
        review_views.action_item_status,
        name="crisis-action-item-status",
    ),
    path(
        "clusters/<int:cluster_id>/crisis",
        cluster_views.cluster_link_crisis,
        name="cluster-crisis",
    ),
]
