"""Notifications: where messages go (channels), who wants quiet when (preferences), the
escalation policy running on an escalation (engagements), each message (notifications)
and each try to deliver it (delivery attempts).

Models hold data and invariants; every change goes through :mod:`watchfloor.notify.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email address (a list or a shared inbox)"
    WEBHOOK = "webhook", "JSON webhook"
    SLACK = "slack", "Slack-compatible incoming webhook"


WEBHOOK_KINDS = frozenset({ChannelKind.WEBHOOK, ChannelKind.SLACK})


class Channel(models.Model):
    """Somewhere other than a person's inbox: a team list, a chat room, another system."""

    code = models.SlugField(max_length=64, unique=True, help_text="named by escalation policies")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    url = models.URLField(
        max_length=1000, blank=True, help_text="webhooks only: where the JSON is POSTed"
    )
    email_address = models.EmailField(blank=True, help_text="email channels only")
    # The HMAC-SHA256 key for X-Watchfloor-Signature. Generated when the channel is saved
    # without one; the receiver keeps a copy to verify each request.
    secret = models.CharField(max_length=100, blank=True)
    max_attempts = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="tries before giving up; empty means the installation's default",
    )
    is_active = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_webhook(self) -> bool:
        return self.kind in WEBHOOK_KINDS


class NotificationPreference(models.Model):
    """A person's quiet hours, read in their own time zone (``User.time_zone``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Both or neither: half a quiet period has no meaning.
            models.CheckConstraint(
                condition=(
                    models.Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                    | models.Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False)
                ),
                name="notify_quiet_hours_both_or_neither",
            )
        ]

    def __str__(self) -> str:
        return f"notification preferences of {self.user_id}"


class EngagementStatus(models.TextChoices):
    ACTIVE = "active", "Waiting for acknowledgement"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    ENDED = "ended", "Stopped"


# How an engagement was acknowledged (Engagement.acknowledged_via), in words. Triaging,
# taking ownership and acting on the escalation acknowledge its page as the button does.
ACKNOWLEDGED_VIA = {
    "ui": "with the Acknowledge button",
    "link": "by email link",
    "status": "by changing its status",
    "ownership": "by taking ownership",
    "decision": "by recording a decision",
}


class Engagement(models.Model):
    """One run of an escalation policy rule on an escalation: who was told at each stage,
    and whether somebody acknowledged before the next stage fell due.

    ``plan`` is the rule as it stood when the run started, so editing the policy file
    never changes a run already under way (as with playbook versions).
    """

    escalation = models.ForeignKey(
        "escalations.Escalation", on_delete=models.PROTECT, related_name="engagements"
    )
    rule_code = models.SlugField(max_length=64)
    rule_name = models.CharField(max_length=200)
    plan = models.JSONField()
    policy_digest = models.CharField(max_length=64)
    severity = models.PositiveSmallIntegerField()
    trigger = models.CharField(max_length=32)
    status = models.CharField(
        max_length=20, choices=EngagementStatus.choices, default=EngagementStatus.ACTIVE
    )
    # Drills rehearse the whole chase (stages, timers, acknowledgement) but never reach
    # a real inbox or channel.
    suppress_delivery = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Index into plan["stages"] of the last stage notified; -1 before the first.
    current_stage = models.SmallIntegerField(default=-1)
    next_stage_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_via = models.CharField(max_length=20, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["escalation"],
                condition=models.Q(status="active"),
                name="notify_one_active_engagement",
            )
        ]
        indexes = [models.Index(fields=["status", "next_stage_at"], name="notify_engagement_due")]

    def __str__(self) -> str:
        return f"{self.rule_code} on WF-{self.escalation_id} ({self.status})"

    @property
    def stages(self) -> list[dict]:
        return list(self.plan.get("stages", []))


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    DEFERRED = "deferred", "Held for quiet hours"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed (drill)"
    CANCELLED = "cancelled", "Cancelled"


# States a delivery task may still act on.
OUTSTANDING_STATUSES = frozenset(
    {NotificationStatus.PENDING, NotificationStatus.DEFERRED, NotificationStatus.RETRYING}
)
FINISHED_STATUSES = frozenset(
    {
        NotificationStatus.DELIVERED,
        NotificationStatus.FAILED,
        NotificationStatus.SUPPRESSED,
        NotificationStatus.CANCELLED,
    }
)


class Notification(models.Model):
    """One message to one recipient (a person's email, or a channel), rendered once.

    A target that could not be resolved (an unknown user, a channel that is not set up)
    is kept too, as a failed notification with the reason, so nobody wonders why
    a stage told nobody.
    """

    engagement = models.ForeignKey(
        Engagement,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    escalation = models.ForeignKey(
        "escalations.Escalation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    stage = models.SmallIntegerField(null=True, blank=True)
    event = models.CharField(max_length=32, blank=True)
    target = models.CharField(max_length=200, help_text="the policy target, e.g. 'user: lead'")
    reason = models.CharField(max_length=500, help_text="why this recipient was chosen")
    kind = models.CharField(max_length=20, choices=ChannelKind.choices, blank=True)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="notifications"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    # Email address at the time of rendering; webhook URLs are read from the channel when
    # sending, never copied here (a Slack webhook URL is itself a secret).
    address = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)

    status = models.CharField(
        max_length=20, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    suppress_delivery = models.BooleanField(default=False)
    max_attempts = models.PositiveSmallIntegerField()
    attempt_count = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)

    # The acknowledgement link: only a hash of its random part is kept.
    ack_nonce_hash = models.CharField(max_length=64, blank=True)
    ack_expires_at = models.DateTimeField(null=True, blank=True)
    ack_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notify_outstanding"),
            models.Index(fields=["escalation", "created_at"], name="notify_by_escalation"),
        ]

    def __str__(self) -> str:
        return f"notification {self.pk} to {self.target} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def recipient_label(self) -> str:
        if self.recipient is not None:
            return self.recipient.display_name
        if self.channel is not None:
            return self.channel.name
        return self.target


class AttemptOutcome(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    TIMEOUT = "timeout", "Timed out"
    REJECTED = "rejected", "Rejected (not retried)"
    INTERRUPTED = "interrupted", "Interrupted (worker stopped)"
    DELIVERY_SUPPRESSED = "delivery_suppressed", "Delivery suppressed (drill)"


class DeliveryAttempt(models.Model):
    """One try at delivering a notification, with what happened."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="attempts"
    )
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=30, choices=AttemptOutcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # What happened, in Watchfloor's words and the status code: shown to leads.
    error = models.CharField(max_length=1000, blank=True)
    # A short, sanitised excerpt of an HTTP receiver's answer. The receiver's words may
    # carry anything (an internal service's banner, data echoed back): administrators
    # only, never copied into the audit log or the notification's last error.
    response_excerpt = models.CharField(max_length=200, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["notification_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "number"], name="notify_attempt_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of notification {self.notification_id}: {self.outcome}"
