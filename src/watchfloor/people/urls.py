from django.urls import path

from . import account_views, profile_views, views

urlpatterns = [
    path("account/profile/", profile_views.profile, name="account-profile"),
    path("account/security/", account_views.security, name="account-security"),
    path("account/second-factor/", account_views.verify, name="mfa-verify"),
    path("account/second-factor/enrol/", account_views.enrol, name="mfa-enrol"),
    path(
        "account/second-factor/recovery-codes",
        account_views.new_recovery_codes,
        name="mfa-recovery-codes",
    ),
    path("account/second-factor/remove", account_views.remove, name="mfa-remove"),
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
