from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from watchfloor.people.models import APIToken, Team, User


@admin.register(User)
class WatchfloorUserAdmin(UserAdmin):
    list_display = ("username", "first_name", "last_name", "role", "team", "time_zone", "is_active")
    list_filter = ("role", "team", "is_active")
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Watchfloor", {"fields": ("role", "team", "time_zone", "languages")}),
    )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind")
    list_filter = ("kind",)
    search_fields = ("code", "name")


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "token_hash", "created_at", "last_used_at")
    search_fields = ("name", "user__username")
