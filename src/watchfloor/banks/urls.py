from django.urls import path

from . import hma, views

urlpatterns = [
    # HMA's paths, at the root as HMA serves them (banks/hma.py).
    path("m/raw_lookup", hma.raw_lookup, name="hma-raw-lookup"),
    path("m/lookup", hma.lookup, name="hma-lookup"),
    path("h/hash", hma.hash_media, name="hma-hash"),
    path(
        "escalations/<int:escalation_id>/enforcement/",
        views.escalation_enforce,
        name="escalation-enforce",
    ),
]
