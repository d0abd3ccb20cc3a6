from django.contrib import admin

from watchfloor.catalog.admin import CatalogManaged
from watchfloor.markets.models import Market, StatutoryRule


@admin.register(Market)
class MarketAdmin(CatalogManaged, admin.ModelAdmin):
    list_display = ("code", "name", "primary_time_zone")
    search_fields = ("code", "name")


@admin.register(StatutoryRule)
class StatutoryRuleAdmin(CatalogManaged, admin.ModelAdmin):
    list_display = (
        "code",
        "jurisdiction",
        "deadline_kind",
        "deadline",
        "internal_target",
        "effective_from",
        "needs_verification",
    )
    list_filter = ("deadline_kind", "needs_verification", "jurisdiction")
    search_fields = ("code", "instrument", "trigger", "action")
