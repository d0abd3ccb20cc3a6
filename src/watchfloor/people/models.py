"""People: accounts with a role and a time zone, teams (internal and partner), API tokens,
and who is on call: team regions, rotations, their shifts and members, and overrides."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models

from watchfloor.core.roles import Role

# ISO weekdays: Monday is 1, Sunday is 7.
EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]


def weekdays() -> list[int]:
    return [1, 2, 3, 4, 5]


def every_day() -> list[int]:
    return list(EVERY_DAY)


class Team(models.Model):
    class Kind(models.TextChoices):
        SITE_POLICY = "site_policy", "Site policy"
        PARTNER = "partner", "Partner team"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField(blank=True)
    # Where and when the team works; set by the rota file (`watchfloor rotas load`).
    time_zone = models.CharField(max_length=64, default="UTC", help_text="IANA name")
    working_hours_start = models.TimeField(null=True, blank=True)
    working_hours_end = models.TimeField(null=True, blank=True)
    working_days = models.JSONField(default=weekdays, blank=True, help_text="ISO weekdays, 1=Mon")

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
    # Counts the changes to what this account may do (role, team, active, admin rights). An
    # administrator's edit names the count it was read at and is refused when another
    # change came first, so a stale form cannot undo a revocation (core.versions).
    access_version = models.PositiveIntegerField(default=1)
    # Counts the person's own edits of their profile (time zone, languages): the profile
    # page names the count it was read at, so a second tab cannot undo the first's edit.
    profile_version = models.PositiveIntegerField(default=1)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class TokenScope(models.TextChoices):
    """What an API token may do. The API's authentication checks one scope per request:
    ``read`` for GET (and HEAD, OPTIONS), ``write`` for every other method, ``ingest`` for
    the signal batch endpoint alone; ``matcher`` is kept for the match API to come."""

    READ = "read", "Read: GET requests"
    WRITE = "write", "Write: POST, PUT, PATCH and DELETE requests"
    INGEST = "ingest", "Ingest: send signal batches"
    MATCHER = "matcher", "Matcher: the match API (reserved)"


class APIToken(models.Model):
    """A token for systems. Only its SHA-256 is stored; the secret is shown once.

    A token works until it expires or is revoked (``watchfloor token revoke``, or the
    admin's token list); ``last_used_at`` is kept to the minute."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, help_text="TokenScope values")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name} ({self.user})"

    def state_at(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "active"


# ---------------------------------------------------------------- who is on call


class TeamRegion(models.Model):
    """A group of markets a team covers as one (its APAC, say), named in the rota file."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="regions")
    code = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    markets = models.JSONField(default=list)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["team", "position"]
        constraints = [
            models.UniqueConstraint(fields=["team", "code"], name="team_region_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.team.code}/{self.code}"


class Rotation(models.Model):
    """An on-call rotation of one team, loaded from the rota file.

    A rotation is a list of shifts. Each shift starts at a wall-clock time in its own
    zone on its days and runs until the next shift of the rotation starts; within a shift
    the members take a week each, in order, counted from ``start_date``. A weekly
    rotation has one shift; a follow-the-sun rotation has one per region (APAC → EMEA →
    Americas).
    """

    class Kind(models.TextChoices):
        WEEKLY = "weekly", "Weekly"
        FOLLOW_THE_SUN = "follow_the_sun", "Follow the sun"

    code = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="rotations")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    start_date = models.DateField(help_text="the first day of week 1 of the rotation")
    # The team region it covers, and that region's markets as loaded. No region: every market.
    region_code = models.CharField(max_length=64, blank=True)
    markets = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    source_digest = models.CharField(max_length=64, blank=True)
    loaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["team", "code"]

    def __str__(self) -> str:
        return self.code

    @property
    def covers_every_market(self) -> bool:
        return not self.markets


class RotationShift(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="shifts")
    position = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=100, blank=True, help_text="e.g. APAC, EMEA, Americas")
    time_zone = models.CharField(max_length=64)
    starts = models.TimeField(help_text="local wall-clock time the shift takes over")
    days = models.JSONField(default=every_day, help_text="ISO weekdays the shift starts on")
    # Whoever holds this shift is the first to look at graphic material (evidence reveals
    # advise others to leave it to them), so exposure is spread along the rota.
    graphic_content_duty = models.BooleanField(default=False)

    class Meta:
        ordering = ["rotation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["rotation", "position"], name="rotation_shift_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.rotation_id}: {self.label or self.position} from {self.starts}"


class RotationMember(models.Model):
    shift = models.ForeignKey(RotationShift, on_delete=models.CASCADE, related_name="members")
    position = models.PositiveSmallIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["shift", "position"]
        constraints = [
            models.UniqueConstraint(fields=["shift", "position"], name="rotation_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.shift_id}#{self.position}: {self.user_id}"


class RotaOverride(models.Model):
    """Someone on call instead, for a period: for one member (``replaces``) or, without
    it, for the whole rotation. Added and cancelled through the audited services."""

    rotation = models.ForeignKey(Rotation, on_delete=models.PROTECT, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    replaces = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["rotation", "ends_at"], name="rota_override_window")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="rota_override_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.rotation_id} from {self.starts_at:%Y-%m-%d %H:%M}"
