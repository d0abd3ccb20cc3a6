from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError

from watchfloor.core.admin import ReadOnlyAdminMixin
from watchfloor.core.errors import InvalidInput
from watchfloor.core.roles import Role
from watchfloor.people.models import APIToken, Team, User
from watchfloor.people.services import (
    save_team_as_admin,
    save_user_as_admin,
    validate_time_zone,
)


class WatchfloorUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User

    def clean_time_zone(self):
        try:
            return validate_time_zone(self.cleaned_data["time_zone"])
        except InvalidInput as exc:
            raise ValidationError(exc.message) from exc

    def clean(self):
        cleaned = super().clean()
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
        *UserAdmin.fieldsets,
        ("Watchfloor", {"fields": ("role", "team", "time_zone", "languages")}),
    )

    def save_model(self, request, obj, form, change):
        save_user_as_admin(user=obj, actor=request.user, changed_fields=list(form.changed_data))


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
    """Tokens are created and revoked with `watchfloor token`, which audits both."""

    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    search_fields = ("name", "user__username")
