"""The drill pages, under /crises/drills/ as they were when drills lived in crises."""

from django.urls import path

from . import views

urlpatterns = [
    path("crises/drills/", views.drill_list, name="drills"),
    path("crises/drills/start", views.drill_start, name="drill-start"),
    path("crises/drills/<int:run_id>/", views.drill_detail, name="drill-detail"),
    path("crises/drills/<int:run_id>/inject", views.drill_inject, name="drill-inject"),
    path("crises/drills/<int:run_id>/speed", views.drill_speed, name="drill-speed"),
    path("crises/drills/<int:run_id>/step", views.drill_step, name="drill-step"),
    path("crises/drills/<int:run_id>/finish", views.drill_finish, name="drill-finish"),
    path("crises/drills/<int:run_id>/abandon", views.drill_abandon, name="drill-abandon"),
    path("crises/drills/<int:run_id>/score", views.drill_score, name="drill-score"),
]
