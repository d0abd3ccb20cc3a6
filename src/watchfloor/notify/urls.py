from django.urls import path

from . import views

urlpatterns = [
    path("notify/deliveries", views.deliveries, name="notify-deliveries"),
    path(
        "notify/deliveries/<int:notification_id>/retry",
        views.retry_delivery,
        name="notify-retry",
    ),
    path("notify/preferences", views.preferences, name="notify-preferences"),
    path(
        "notify/escalations/<int:escalation_id>/acknowledge",
        views.acknowledge,
        name="notify-acknowledge",
    ),
    path("notify/ack/<str:token>", views.acknowledge_link, name="notify-ack-link"),
]
