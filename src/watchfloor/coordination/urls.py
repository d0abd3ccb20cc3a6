from django.urls import path

from . import views

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:request_id>/", views.request_detail, name="partner-request"),
    path(
        "inbox/<int:request_id>/withdraw",
        views.request_withdraw,
        name="partner-request-withdraw",
    ),
    path(
        "escalations/<int:escalation_id>/partner-requests/",
        views.escalation_requests,
        name="escalation-partner-requests",
    ),
]
