from django.urls import path

from . import views

urlpatterns = [
    path(
        "escalations/<int:escalation_id>/enforcement/",
        views.escalation_enforce,
        name="escalation-enforce",
    ),
]
