"""Hash banks and their entries; entries are disabled, never deleted."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SignalType(models.TextChoices):
    PDQ = "pdq", "PDQ photo hash"
    MD5 = "md5", "MD5"
    SHA256 = "sha256", "SHA-256"
    URL = "url", "URL"
    DOMAIN = "domain", "Domain"
    TEXT = "text", "Text (exact)"


class EntrySource(models.TextChoices):
    MANUAL = "manual", "Added by hand"
    IMPORT = "import", "Imported from a file"
    API = "api", "Added through the API"
    EVIDENCE = "evidence", "Banked from an evidence item"
    EXCHANGE = "exchange", "Fetched from an exchange"


class Bank(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    owner_team = models.ForeignKey(
        "people.Team", on_delete=models.PROTECT, related_name="banks", null=True, blank=True
    )
    labels = models.JSONField(default=list, blank=True)
    signal_type = models.CharField(max_length=16, choices=SignalType.choices)
    # PDQ: every entry within this many bits matches (at most the index's threshold).
    threshold = models.PositiveSmallIntegerField(default=31)
    is_enabled = models.BooleanField(default=True)
    # Gradual roll-out: the share of queries this bank answers, chosen by the query's
    # value so the same hash always gets the same answer.
    matching_ratio = models.FloatField(default=1.0)
    # Known benign content (logos, stock images): a match here suppresses the others.
    is_allow_bank = models.BooleanField(default=False)
    is_restricted = models.BooleanField(default=False)
    access_list = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="granted_banks", blank=True
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BankEntry(models.Model):
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="entries")
    signal_type = models.CharField(max_length=16, choices=SignalType.choices)
    value = models.CharField(max_length=2000)
    labels = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=16, choices=EntrySource.choices)
    note = models.TextField(blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    added_at = models.DateTimeField()
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["signal_type", "value"], name="bank_entry_lookup")]
        constraints = [
            models.UniqueConstraint(fields=["bank", "value"], name="bank_entry_once_per_bank")
        ]

    def __str__(self) -> str:
        return f"{self.bank_id}:{self.signal_type}:{self.value[:20]}"


class EntryChange(models.Model):
    """The change counter: every matcher process applies the changes after the last one
    it has seen (its id), so an entry added or disabled anywhere matches or stops
    matching everywhere on the next lookup, without a rebuild."""

    class Kind(models.TextChoices):
        ADDED = "added", "Added or enabled"
        DISABLED = "disabled", "Disabled"

    entry = models.ForeignKey(BankEntry, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} entry {self.entry_id}"
