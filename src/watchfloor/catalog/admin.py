from django.contrib import admin

from watchfloor.catalog.models import CatalogVersion
from watchfloor.core.admin import ReadOnlyAdminMixin


class CatalogManaged(ReadOnlyAdminMixin):
    """Read-only admin for rows that come from the catalog files.

    Change the files and run `watchfloor config load`; an edit made here would bypass
    review and the audit log, and the next load would overwrite it.
    """


@admin.register(CatalogVersion)
class CatalogVersionAdmin(CatalogManaged, admin.ModelAdmin):
    list_display = ("label", "short_digest", "is_active", "loaded_at", "loaded_by", "source")
    list_filter = ("is_active",)
    search_fields = ("label", "digest", "source")
    list_select_related = ("loaded_by",)

    @admin.display(description="digest", ordering="digest")
    def short_digest(self, obj: CatalogVersion) -> str:
        return obj.digest[:12]
