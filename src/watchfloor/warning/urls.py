from django.urls import path

from . import views

urlpatterns = [
    path(
        "warning/proposals/<int:proposal_id>/decide",
        views.decide_proposal,
        name="warning-proposal-decide",
    ),
]
