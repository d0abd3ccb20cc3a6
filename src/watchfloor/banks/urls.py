from django.urls import path

from . import hma, hma_curation, views

urlpatterns = [
    # HMA's paths, at the root as HMA serves them (banks/hma.py).
    path("m/raw_lookup", hma.raw_lookup, name="hma-raw-lookup"),
    path("m/lookup", hma.lookup, name="hma-lookup"),
    path("h/hash", hma.hash_media, name="hma-hash"),
    path("c/banks", hma_curation.banks, name="hma-banks"),
    path("c/bank/<str:bank_name>", hma_curation.bank, name="hma-bank"),
    path("c/bank/<str:bank_name>/signal", hma_curation.bank_signal, name="hma-bank-signal"),
    path("c/bank/<str:bank_name>/content", hma_curation.bank_content, name="hma-bank-content"),
    path(
        "c/bank/<str:bank_name>/content/<int:content_id>",
        hma_curation.bank_content_remove,
        name="hma-bank-content-remove",
    ),
    path("banks/", views.bank_list, name="banks"),
    path("banks/match", views.match_page, name="bank-match"),
    path("banks/<slug:bank_name>/", views.bank_detail, name="bank-detail"),
    path("banks/<slug:bank_name>/entries", views.bank_entry_add, name="bank-entry-add"),
    path(
        "banks/<slug:bank_name>/entries/<int:entry_id>/switch",
        views.bank_entry_switch,
        name="bank-entry-switch",
    ),
    path(
        "banks/<slug:bank_name>/entries/<int:entry_id>/opinion",
        views.bank_entry_opinion,
        name="bank-entry-opinion",
    ),
    path("evidence/<int:evidence_id>/bank", views.bank_evidence, name="bank-evidence"),
    path("clusters/<int:cluster_id>/bank", views.bank_cluster, name="bank-cluster"),
    path(
        "escalations/<int:escalation_id>/enforcement/",
        views.escalation_enforce,
        name="escalation-enforce",
    ),
]
