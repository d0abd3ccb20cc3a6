"""People: accounts with a role and a time zone, teams (internal and partner), API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from watchfloor.core.roles import Role


class Team(models.Model):
    class Kind(models.TextChoices):
        SITE_POLICY = "site_policy", "Site policy"
        PARTNER = "partner", "Partner team"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    time_zone = models.CharField(
        max_length=64, default="UTC", help_text="IANA name, e.g. Asia/Tokyo"
    )
    languages = models.JSONField(default=list, blank=True)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class APIToken(models.Model):
    """A token for systems. Only its SHA-256 is stored; the secret is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
