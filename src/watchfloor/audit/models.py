"""Append-only, hash-chained audit log.

Each event stores the hash of the previous one, so changing or removing any event
breaks every hash after it; ``watchfloor audit verify`` finds the first break. The
application never updates or deletes an event: the model and its queryset refuse.
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

    def __str__(self) -> str:
        return f"audit chain head at #{self.last_sequence}"
