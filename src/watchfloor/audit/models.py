"""Append-only, hash-chained audit log.

Each event stores the hash of the previous one, so changing or removing any event
breaks every hash after it; ``watchfloor audit verify`` finds the first break. The
hashes are HMACs with a key kept outside the database (``audit.keys``), so someone who
can write the database cannot recompute them. The application never updates or deletes
an event: the model and its queryset refuse.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from watchfloor.audit.events import AuditAction

GENESIS_HASH = "0" * 64


class AppendOnlyError(RuntimeError):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events are append-only; they are never updated")

    def delete(self):
        raise AppendOnlyError("audit events are append-only; they are never deleted")


class AuditEvent(models.Model):
    sequence = models.PositiveBigIntegerField(unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Kept beside the foreign key so the event still reads well if the account is renamed.
    actor_label = models.CharField(max_length=150, blank=True)
    # Not a choices field: each app adds its own actions to the vocabulary without a migration.
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # A plain column, not a foreign key: the log must outlive and never cascade from
    # the things it describes. It makes an escalation's timeline one indexed query.
    escalation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # The crisis an event belongs to, copied from ``data["crisis_id"]`` (which the hash
    # covers; ``audit verify`` checks the copy) so a war room reads its timeline from an
    # index rather than by looking inside every event's JSON.
    crisis_id = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # The id of the audit key whose HMAC ``hash`` is; empty for the events recorded
    # before the chain was keyed (plain SHA-256, see AuditChainHead.keyed_from_sequence).
    key_id = models.CharField(max_length=32, blank=True, default="")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["sequence"]
        indexes = [
            models.Index(fields=["escalation_id", "sequence"]),
            models.Index(
                fields=["crisis_id", "sequence"],
                name="audit_crisis_sequence",
                condition=models.Q(crisis_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only; they are never updated")
        # force_insert: a fresh instance carrying an existing pk must not become an UPDATE.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are append-only; they are never deleted")

    @property
    def action_label(self) -> str:
        try:
            return AuditAction(self.action).label
        except ValueError:
            return self.action


class AuditChainHead(models.Model):
    """One row holding the end of the chain; locking it serialises appends."""

    last_sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    # The first event whose hash is keyed. A database made before keying has unkeyed
    # events before it; the upgrade sealed this number together with the hash of the
    # last unkeyed event (an HMAC, ``keys.keyed_start_message``), so neither can be
    # moved or rewritten without the key. From 1 (a chain keyed from the start) there
    # is nothing to seal: every event must be keyed.
    keyed_from_sequence = models.PositiveBigIntegerField(default=1)
    keyed_from_key_id = models.CharField(max_length=32, blank=True, default="")
    keyed_from_seal = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"audit chain head at #{self.last_sequence}"


class HeadDestination(models.TextChoices):
    FILE = "file", "File"
    WEBHOOK = "webhook", "Webhook"


class AuditHeadExport(models.Model):
    """One attempt to publish the signed chain head to a place outside the database.

    Kept to know when the next export is due and to show what failed; it is not
    evidence of anything (the published copies are).
    """

    destination = models.CharField(max_length=16, choices=HeadDestination.choices)
    target = models.CharField(max_length=500)
    attempted_at = models.DateTimeField()
    sequence = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    succeeded = models.BooleanField()
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["destination", "succeeded", "attempted_at"], name="audit_head_export_due"
            )
        ]

    def __str__(self) -> str:
        outcome = "published" if self.succeeded else "failed"
        return f"audit head #{self.sequence} {outcome} to {self.destination} {self.target}"
