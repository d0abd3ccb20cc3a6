"""Official alerts received, and the crisis proposals they lead to.

The alerts' content lives in their signals (one per ``<info>``, written by the signals
intake); a ``ReceivedAlert`` keeps what threading needs — the CAP identity (sender,
identifier), the thread it belongs to, whether the sender is trusted — and where its
signals went.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ReceivedAlert(models.Model):
    sender = models.CharField(max_length=255)
    identifier = models.CharField(max_length=255)
    sent = models.DateTimeField()
    version = models.CharField(max_length=4, help_text="CAP version: 1.2 or 1.1")
    status = models.CharField(max_length=12)
    msg_type = models.CharField(max_length=12)
    # "sender,identifier" of the first alert of the thread (Update and Cancel name it in
    # references); every signal of the thread has it as its subject, so one cluster.
    thread = models.CharField(max_length=520, db_index=True)
    references = models.JSONField(default=list, help_text="[[sender, identifier, sent], …]")
    trusted = models.BooleanField(default=False)
    signed = models.BooleanField(default=False, help_text="carries an XML signature (unchecked)")
    events = models.JSONField(default=list)
    markets = models.JSONField(default=list)
    signal_ids = models.JSONField(default=list)
    cluster = models.ForeignKey(
        "signals.Cluster", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField()
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sender", "identifier"], name="one_alert_per_identity")
        ]
        ordering = ["sent", "pk"]

    def __str__(self) -> str:
        return f"{self.msg_type} {self.sender},{self.identifier}"


class CrisisProposal(models.Model):
    """A crisis Watchfloor suggests declaring (or standing down) because of an official
    alert; a person accepts or dismisses it on the escalation's page."""

    class Kind(models.TextChoices):
        DECLARE = "declare", "Declare a crisis"
        STAND_DOWN = "stand_down", "Stand down"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        DISMISSED = "dismissed", "Dismissed"
        WITHDRAWN = "withdrawn", "Withdrawn (the sender cancelled the alert)"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    thread = models.CharField(max_length=520, db_index=True)
    escalation = models.ForeignKey(
        "escalations.Escalation", on_delete=models.CASCADE, related_name="+"
    )
    crisis = models.ForeignKey(
        "crises.Crisis", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=200)
    reason = models.TextField()
    markets = models.JSONField(default=list)
    languages = models.JSONField(default=list)
    # [{"value": "津波", "language": "ja"}, …]: the watchlist a declared crisis starts with.
    watchlist = models.JSONField(default=list)
    proposed_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["thread", "kind"],
                condition=models.Q(state="open"),
                name="one_open_proposal_per_thread_and_kind",
            )
        ]
        ordering = ["-proposed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"
