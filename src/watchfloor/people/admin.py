from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from watchfloor.core import clock
from watchfloor.core.admin import ReadOnlyAdminMixin
from watchfloor.core.errors import InvalidInput, WatchfloorError
from watchfloor.core.lazy import imported_when_called
from watchfloor.core.roles import Role
from watchfloor.people.models import (
    APIToken,
    RotaOverride,
    Rotation,
    RotationMember,
    RotationShift,
    Team,
    TeamRegion,
    User,
)

# Imported when an admin page first uses them: every command imports the admin modules at
# start-up, and the services bring the rota file's models and the catalog loader.
refuse_stale_account_edit = imported_when_called(
    "watchfloor.people.services.refuse_stale_account_edit"
)
remove_second_factor = imported_when_called("watchfloor.people.authenticator.remove_second_factor")
revoke_api_token = imported_when_called("watchfloor.people.api_tokens.revoke_api_token")
save_team_as_admin = imported_when_called("watchfloor.people.services.save_team_as_admin")
save_user_as_admin = imported_when_called("watchfloor.people.services.save_user_as_admin")
validate_time_zone = imported_when_called("watchfloor.people.services.validate_time_zone")


class WatchfloorUserChangeForm(UserChangeForm):
    # The account's access_version when the page was opened: saving a page opened before
    # somebody else changed the account (revoked a role, deactivated it) is refused.
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta(UserChangeForm.Meta):
        model = User

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["expected_version"].initial = self.instance.access_version

    def clean_time_zone(self):
        try:
            return validate_time_zone(self.cleaned_data["time_zone"])
        except InvalidInput as exc:
            raise ValidationError(exc.message) from exc

    def clean(self):
        cleaned = super().clean() or {}
        if self.instance.pk is not None:
            stored = User.objects.select_related("team").get(pk=self.instance.pk)
            try:
                refuse_stale_account_edit(
                    user=stored, expected_version=cleaned.get("expected_version") or 0
                )
            except WatchfloorError as exc:
                raise ValidationError(exc.message) from exc
        team = cleaned.get("team")
        if cleaned.get("role") == Role.PARTNER and (team is None or team.kind != Team.Kind.PARTNER):
            self.add_error("team", "a partner account needs a partner team")
        return cleaned


@admin.register(User)
class WatchfloorUserAdmin(UserAdmin):
    form = WatchfloorUserChangeForm
    list_display = ("username", "first_name", "last_name", "role", "team", "time_zone", "is_active")
    list_filter = ("role", "team", "is_active")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        (
            "Watchfloor",
            {"fields": ("role", "team", "time_zone", "languages", "expected_version")},
        ),
    )

    actions = ["remove_second_factors"]

    @admin.action(description="Remove second factor (lost phone)", permissions=["change"])
    def remove_second_factors(self, request, queryset) -> None:
        done, skipped = [], []
        for person in queryset:
            try:
                remove_second_factor(
                    user=person, actor=request.user, reason="removed by an administrator"
                )
            except WatchfloorError:
                skipped.append(person.username)
            else:
                done.append(person.username)
        if done:
            self.message_user(
                request,
                f"Removed the authenticator app and recovery codes of {', '.join(done)}; "
                "they set up a new app at their next sign-in.",
            )
        if skipped:
            self.message_user(
                request, f"No second factor to remove: {', '.join(skipped)}.", messages.WARNING
            )

    def save_model(self, request, obj, form, change):
        save_user_as_admin(
            user=obj,
            actor=request.user,
            changed_fields=[name for name in form.changed_data if name != "expected_version"],
            expected_version=form.cleaned_data.get("expected_version") if change else None,
        )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind")
    list_filter = ("kind",)
    search_fields = ("code", "name")

    def save_model(self, request, obj, form, change):
        save_team_as_admin(team=obj, actor=request.user, changed_fields=list(form.changed_data))

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(APIToken)
class APITokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every API token, whose it is, what it may do, when it expires and was last used.
    Tokens are created with `watchfloor token create`; an admin revokes them here (the
    "Revoke" action) or with `watchfloor token revoke`. Both are audited."""

    list_display = (
        "prefix",
        "name",
        "user",
        "scope_list",
        "created_at",
        "expires_at",
        "last_used_at",
        "state",
    )
    list_filter = ("revoked_at", "expires_at")
    list_select_related = ("user", "revoked_by")
    search_fields = ("name", "prefix", "user__username")
    ordering = ("-created_at",)
    actions = ["revoke_tokens"]

    @admin.display(description="scopes")
    def scope_list(self, token: APIToken) -> str:
        return ", ".join(token.scopes)

    @admin.display(description="state")
    def state(self, token: APIToken) -> str:
        state = token.state_at(clock.now())
        if state == "revoked" and token.revoked_by is not None:
            return f"revoked by {token.revoked_by.username}"
        return state

    @admin.action(description="Revoke the selected tokens", permissions=["view"])
    def revoke_tokens(self, request, queryset) -> None:
        revoked = []
        for token in queryset.filter(revoked_at__isnull=True):
            revoke_api_token(token=token, actor=request.user)
            revoked.append(f"{token.prefix}… ({token.name})")
        if revoked:
            self.message_user(request, f"Revoked {len(revoked)}: {', '.join(revoked)}.")
        else:
            self.message_user(
                request, "The selected tokens were already revoked.", level=messages.WARNING
            )


# ---------------------------------------------------------------- second factor
# django-otp's devices change only through the audited services: the person's own
# sign-in security page, or the "Remove second factor" action on a person above.


class ReadOnlyTOTPDeviceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    list_select_related = ("user",)
    search_fields = ("user__username",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")


class ReadOnlyStaticDeviceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("user__username",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")


def replace_device_admins() -> None:
    """Swap django-otp's editable device admins for read-only lists."""
    for model, model_admin in (
        (TOTPDevice, ReadOnlyTOTPDeviceAdmin),
        (StaticDevice, ReadOnlyStaticDeviceAdmin),
    ):
        if admin.site.is_registered(model):
            admin.site.unregister(model)
        admin.site.register(model, model_admin)


# ---------------------------------------------------------------- rotas
# Rotations, shifts and regions come from the rota file (`watchfloor rotas load`), so
# they are read-only here.


class RotationShiftInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RotationShift
    fields = ("position", "label", "time_zone", "starts", "days")
    extra = 0
    show_change_link = True


@admin.register(Rotation)
class RotationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "team", "kind", "start_date", "region_code", "is_active")
    list_filter = ("team", "kind", "is_active")
    list_select_related = ("team",)
    inlines = [RotationShiftInline]


class RotationMemberInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RotationMember
    fields = ("position", "user")
    extra = 0


@admin.register(RotationShift)
class RotationShiftAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("rotation", "position", "label", "time_zone", "starts")
    list_select_related = ("rotation",)
    inlines = [RotationMemberInline]


@admin.register(TeamRegion)
class TeamRegionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("team", "code", "name", "markets")
    list_select_related = ("team",)


@admin.register(RotaOverride)
class RotaOverrideAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Overrides are added and cancelled on the rotation's page or through the API, which
    check them and audit both; cancelled ones stay as the record of who was on call."""

    list_display = ("rotation", "user", "replaces", "starts_at", "ends_at", "cancelled_at")
    list_filter = ("rotation",)
    list_select_related = ("rotation", "user", "replaces")
