from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "watchfloor.people"
    label = "people"

    def ready(self) -> None:
        from watchfloor.catalog.reference import register_reference_data
        from watchfloor.people.reference import apply_teams

        register_reference_data("people", apply_teams)

        from django.contrib.auth.signals import user_logged_in

        from watchfloor.people import checks  # noqa: F401 (registers the deploy checks)
        from watchfloor.people.admin import replace_device_admins

        user_logged_in.connect(_session_begins, dispatch_uid="watchfloor.people.session_begins")
        # django-otp registers editable admins for its devices, which would let anyone with
        # admin access add or confirm a device for someone else, unaudited. The admin
        # autodiscovery has run by now (django.contrib.admin is ready first).
        replace_device_admins()


def _session_begins(sender, request, user, **kwargs) -> None:
    """Every sign-in (password form, admin, test client) notes what the new session owes
    (its second factor) and when it was last used (idle expiry)."""
    if request is None or not hasattr(request, "session"):
        return
    from watchfloor.people import second_factor
    from watchfloor.people.middleware import touch_session

    second_factor.begin_session(request, user)
    touch_session(request, force=True)
