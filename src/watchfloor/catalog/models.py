"""Which version of the configuration catalog was in force, and what it said."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CatalogVersion(models.Model):
    """One loaded catalog. Its validated content is kept whole, so any assessment can be
    re-explained later with the rubric and taxonomy that produced it."""

    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the catalog files")
    label = models.CharField(max_length=100)
    source = models.CharField(max_length=500)
    loaded_at = models.DateTimeField()
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    content = models.JSONField()
    is_active = models.BooleanField(default=False, db_index=True)

    class Meta:
        ordering = ["-loaded_at"]

    def __str__(self) -> str:
        return f"{self.label} ({self.digest[:12]})"
