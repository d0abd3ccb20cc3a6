from django.urls import path

from . import views

urlpatterns = [
    path("clusters/", views.cluster_list, name="clusters"),
    path("clusters/<int:cluster_id>/", views.cluster_detail, name="cluster-detail"),
    path("clusters/<int:cluster_id>/escalate", views.cluster_escalate, name="cluster-escalate"),
    path("clusters/<int:cluster_id>/attach", views.cluster_attach, name="cluster-attach"),
    path("clusters/<int:cluster_id>/benign", views.cluster_benign, name="cluster-benign"),
    path("clusters/<int:cluster_id>/snooze", views.cluster_snooze, name="cluster-snooze"),
    path("clusters/<int:cluster_id>/reopen", views.cluster_reopen, name="cluster-reopen"),
    path("surges/", views.surge_feed, name="surges"),
    path("surges/<int:surge_id>/acknowledge", views.surge_acknowledge, name="surge-acknowledge"),
]
