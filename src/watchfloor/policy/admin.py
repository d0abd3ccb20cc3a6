from django.contrib import admin

from watchfloor.catalog.admin import CatalogManaged
from watchfloor.policy.models import EnforcementAction, Policy, PolicyArea, PolicyVersion


@admin.register(PolicyArea)
class PolicyAreaAdmin(CatalogManaged, admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


class PolicyVersionInline(CatalogManaged, admin.TabularInline):
    model = PolicyVersion
    fields = ("version", "effective_from", "summary")
    extra = 0


@admin.register(Policy)
class PolicyAdmin(CatalogManaged, admin.ModelAdmin):
    list_display = ("code", "name", "area")
    list_filter = ("area",)
    list_select_related = ("area",)
    search_fields = ("code", "name", "description")
    inlines = [PolicyVersionInline]


@admin.register(PolicyVersion)
class PolicyVersionAdmin(CatalogManaged, admin.ModelAdmin):
    list_display = ("policy", "version", "effective_from")
    list_filter = ("policy__area",)
    list_select_related = ("policy",)
    search_fields = ("policy__code", "policy__name", "version", "summary")


@admin.register(EnforcementAction)
class EnforcementActionAdmin(CatalogManaged, admin.ModelAdmin):
    list_display = ("position", "code", "label", "needs_countries")
    search_fields = ("code", "label", "description")
