from django.urls import path

from . import views

urlpatterns = [
    path("oncall/", views.oncall_board, name="oncall"),
    path("oncall/<slug:code>.ics", views.rotation_ics, name="rotation-ics"),
    path("oncall/rotations/<slug:code>/", views.rotation_detail, name="rotation"),
    path(
        "oncall/rotations/<slug:code>/overrides",
        views.rotation_override,
        name="rotation-override",
    ),
    path(
        "oncall/rotations/<slug:code>/overrides/<int:override_id>/cancel",
        views.rotation_override_cancel,
        name="rotation-override-cancel",
    ),
]
