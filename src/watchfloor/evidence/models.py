"""Evidence items, their reveals (exposure) and each person's viewing preferences.

An item's bytes live in the evidence storage under their SHA-256 (content-addressed:
the same file added twice is stored once); the row holds what was computed on upload.
Reveals are the exposure record: one row per timed reveal of one item by one person.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"
    AUDIO = "audio", "Audio"
    PDF = "pdf", "PDF"
    HTML = "html", "HTML capture"
    REFERENCE = "reference", "Reference only"


class Category(models.TextChoices):
    """What the material shows; decides who may see it and how long it is kept."""

    GENERAL = "general", "General"
    GRAPHIC_VIOLENCE = "graphic_violence", "Graphic violence"
    TERRORIST = "terrorist", "Terrorist or violent extremist content"
    SELF_HARM = "self_harm", "Suicide and self-harm"
    NUDITY = "nudity", "Nudity or non-consensual intimate imagery"
    CHILD_SEXUAL_EXPLOITATION = "child_sexual_exploitation", "Child sexual exploitation"


# Shown to nobody, downloadable by nobody: the bytes are never kept, only hashes.
PROHIBITED_CATEGORIES = frozenset({Category.CHILD_SEXUAL_EXPLOITATION})
# Revealed only by people with the graphic-content training flag.
TRAINING_CATEGORIES = frozenset({Category.GRAPHIC_VIOLENCE, Category.TERRORIST})


class Source(models.TextChoices):
    UPLOAD = "upload", "Uploaded file"
    URL_CAPTURE = "url_capture", "URL capture"
    REFERENCE = "reference", "Reference only"


def exactly_one_of(*fields: str) -> models.Q:
    """A condition true when exactly one of the foreign keys is set."""
    condition = models.Q()
    for chosen in fields:
        condition |= models.Q(
            **{f"{field}__isnull": field != chosen for field in fields},
        )
    return condition


class EvidenceItem(models.Model):
    # What the item is evidence of: exactly one escalation, signals cluster or crisis (a
    # database check holds it). Need to know follows that one thing.
    escalation = models.ForeignKey(
        "escalations.Escalation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="evidence_items",
    )
    cluster = models.ForeignKey(
        "signals.Cluster",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="evidence_items",
    )
    crisis = models.ForeignKey(
        "crises.Crisis",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="evidence_items",
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    category = models.CharField(max_length=32, choices=Category.choices, default=Category.GENERAL)
    description = models.CharField(max_length=500, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    # Identity is the SHA-256 of the original bytes; MD5 for partners' hash lists.
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    # Indexed: search finds an item by any of its hashes (docs/search.md).
    md5 = models.CharField(max_length=32, blank=True, db_index=True)
    pdq = models.CharField(max_length=64, blank=True, db_index=True)
    pdq_quality = models.PositiveSmallIntegerField(null=True, blank=True)
    # Video: [{"at_seconds": 1.0, "pdq": "...", "quality": 90}, ...]
    frame_hashes = models.JSONField(default=list, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    # Storage names: the original (untouched), a display copy without metadata, a thumbnail.
    original_file = models.CharField(max_length=300, blank=True)
    display_file = models.CharField(max_length=300, blank=True)
    thumbnail_file = models.CharField(max_length=300, blank=True)
    # Why there is no preview, when there is none ("no preview: ffmpeg not installed").
    preview_note = models.CharField(max_length=200, blank=True)
    # URL capture and references.
    url = models.URLField(max_length=2000, blank=True)
    content_id = models.CharField(max_length=300, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField()
    # Legal hold: while set, neither retention nor anyone may delete the item.
    legal_hold = models.BooleanField(default=False)
    hold_reason = models.CharField(max_length=500, blank=True)
    # Set when retention removed the bytes; the row (hashes, custody) stays.
    purged_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-added_at", "-pk"]
        indexes = [
            models.Index(fields=["escalation", "added_at"], name="evidence_by_escalation"),
            models.Index(fields=["cluster", "added_at"], name="evidence_by_cluster"),
            models.Index(fields=["crisis", "added_at"], name="evidence_by_crisis"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=exactly_one_of("escalation", "cluster", "crisis"),
                name="evidence_of_exactly_one_thing",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.original_name or self.content_id or self.url}"

    @property
    def reference(self) -> str:
        return f"EV-{self.pk}"

    @property
    def target_reference(self) -> str:
        """What the item is evidence of, as people write it: WF-n, C-n or CR-n."""
        if self.escalation_id is not None:
            return f"WF-{self.escalation_id}"
        if self.cluster_id is not None:
            return f"C-{self.cluster_id}"
        return f"CR-{self.crisis_id}"

    @property
    def is_prohibited(self) -> bool:
        return self.category in PROHIBITED_CATEGORIES

    @property
    def needs_training(self) -> bool:
        return self.category in TRAINING_CATEGORIES

    @property
    def has_bytes(self) -> bool:
        return bool(self.original_file) and self.purged_at is None


class Reveal(models.Model):
    """One timed reveal of one item by one person: the exposure record."""

    item = models.ForeignKey(EvidenceItem, on_delete=models.CASCADE, related_name="reveals")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="evidence_reveals"
    )
    # Copied from the item so exposure by category survives a reclassification.
    category = models.CharField(max_length=32, choices=Category.choices)
    revealed_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    seconds = models.PositiveIntegerField()

    class Meta:
        ordering = ["-revealed_at"]
        indexes = [models.Index(fields=["person", "revealed_at"], name="reveal_by_person")]

    def __str__(self) -> str:
        return f"reveal of EV-{self.item_id} for {self.seconds} s"


class ViewingPreference(models.Model):
    """How one person sees evidence. The training flag is set by a lead, not by the person."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="viewing_preference"
    )
    blur_radius = models.PositiveSmallIntegerField(default=12)
    grayscale = models.BooleanField(default=True)
    # Ask before each reveal (a confirmation step) rather than revealing at one click.
    always_ask = models.BooleanField(default=False)
    reveal_seconds = models.PositiveSmallIntegerField(default=30)
    graphic_content_trained = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"viewing preferences of person {self.person_id}"


class TeamCarePolicy(models.Model):
    """A team's opt-in: when someone passes the exposure threshold, tell their lead."""

    team = models.OneToOneField("people.Team", on_delete=models.CASCADE, related_name="+")
    tell_lead = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"care policy of team {self.team_id}"


class EvidencePackage(models.Model):
    """A package built for law enforcement or a regulator: what went in, and its SHA-256.

    The ZIP itself is handed to the requester and not kept (it would be a second copy of
    the evidence); the items' originals and the manifest kept here reproduce it byte for
    byte (``packages.reproduce_package``), checked against ``sha256``.
    """

    # Of one escalation's or one crisis's evidence.
    escalation = models.ForeignKey(
        "escalations.Escalation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="evidence_packages",
    )
    crisis = models.ForeignKey(
        "crises.Crisis",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="evidence_packages",
    )
    partner_request = models.ForeignKey(
        "coordination.PartnerRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="evidence_packages",
    )
    items = models.ManyToManyField(EvidenceItem, related_name="packages")
    built_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    built_at = models.DateTimeField()
    requester_zone = models.CharField(max_length=64, default="UTC")
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    # The manifest as built (the ZIP's manifest.json): with the originals it makes the same
    # ZIP again. Empty for packages built before manifests were kept: those cannot be.
    manifest = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-built_at"]
        constraints = [
            models.CheckConstraint(
                condition=exactly_one_of("escalation", "crisis"),
                name="evidence_package_of_exactly_one_thing",
            )
        ]

    def __str__(self) -> str:
        return f"package {self.sha256[:12]} of {self.subject_reference}"

    @property
    def reference(self) -> str:
        return f"PKG-{self.pk}"

    @property
    def subject_reference(self) -> str:
        """What the package is of, as people write it: WF-n or CR-n."""
        return f"WF-{self.escalation_id}" if self.escalation_id else f"CR-{self.crisis_id}"

    @property
    def file_name(self) -> str:
        return f"{self.subject_reference}-evidence-{self.sha256[:12]}.zip"
