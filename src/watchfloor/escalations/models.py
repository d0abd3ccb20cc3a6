"""Escalations: the unit of work. Models hold data and invariants; services change them."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.db import models

from watchfloor.core import clock


class EscalationType(models.Model):
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    default_policy = models.ForeignKey(
        "policy.Policy", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Status(models.TextChoices):
    NEW = "new", "New"
    TRIAGED = "triaged", "Triaged"
    INVESTIGATING = "investigating", "Investigating"
    AWAITING_PARTNER = "awaiting_partner", "Awaiting partner"
    DECIDED = "decided", "Decided"
    ACTIONED = "actioned", "Actioned"
    CLOSED = "closed", "Closed"


# The lifecycle, in one place. Services consult it; tests enumerate it.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.TRIAGED, Status.INVESTIGATING, Status.CLOSED}),
    Status.TRIAGED: frozenset({Status.INVESTIGATING, Status.AWAITING_PARTNER, Status.CLOSED}),
    Status.INVESTIGATING: frozenset({Status.AWAITING_PARTNER, Status.DECIDED, Status.CLOSED}),
    Status.AWAITING_PARTNER: frozenset({Status.INVESTIGATING, Status.DECIDED, Status.CLOSED}),
    Status.DECIDED: frozenset({Status.ACTIONED, Status.INVESTIGATING, Status.CLOSED}),
    Status.ACTIONED: frozenset({Status.CLOSED, Status.INVESTIGATING}),
    Status.CLOSED: frozenset({Status.INVESTIGATING}),  # reopen
}
OPEN_STATUSES = frozenset(s for s in Status.values if s != Status.CLOSED)
NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)


class SourceKind(models.TextChoices):
    USER_REPORT = "user_report", "User report"
    TRUSTED_FLAGGER = "trusted_flagger", "Trusted flagger"
    PARTNER_TEAM = "partner_team", "Partner team"
    LAW_ENFORCEMENT = "law_enforcement", "Law enforcement"
    GOVERNMENT = "government", "Government"
    REGULATOR = "regulator", "Regulator"
    MEDIA = "media", "Media"
    DETECTOR = "detector", "Automated detector"
    INTERNAL = "internal", "Internal"


class Escalation(models.Model):
    type = models.ForeignKey(EscalationType, on_delete=models.PROTECT, related_name="escalations")
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    # status != closed, kept beside it by the services. A boolean because SQLite uses a
    # partial index only when the query states its condition literally, and Django
    # writes a boolean test without a bound parameter.
    is_open = models.BooleanField(default=True)
    policy = models.ForeignKey(
        "policy.Policy", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    markets = models.ManyToManyField("markets.Market", related_name="escalations", blank=True)
    # The first market the reporter named: its zone counts business days and local times.
    primary_market = models.ForeignKey(
        "markets.Market", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    languages = models.JSONField(default=list, blank=True)

    source_kind = models.CharField(max_length=20, choices=SourceKind.choices)
    source_team = models.ForeignKey(
        "people.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_detail = models.CharField(max_length=500, blank=True)

    # Severity: what the rubric said, what is in force, and why.
    severity = models.PositiveSmallIntegerField(db_index=True)
    computed_severity = models.PositiveSmallIntegerField()
    rubric_answers = models.JSONField(default=dict)
    severity_explanation = models.JSONField(default=dict)
    severity_override_reason = models.TextField(blank=True)
    severity_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    catalog_version = models.ForeignKey(
        "catalog.CatalogVersion", on_delete=models.PROTECT, related_name="escalations"
    )

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_escalations",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    is_high_visibility = models.BooleanField(default=False)
    # Opened by a crisis drill (a tabletop exercise): marked as a drill everywhere it is
    # shown, and notifications about it are recorded but never delivered.
    is_drill = models.BooleanField(default=False)
    is_restricted = models.BooleanField(default=False, db_index=True)
    access_list = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="granted_escalations", blank=True
    )
    shared_with_teams = models.ManyToManyField(
        "people.Team", related_name="shared_escalations", blank=True
    )
    # Counts the changes to who may see it (restriction, access list, teams). An edit of
    # them names the count it was read at and is refused when another came first, so a
    # form opened before a revocation cannot silently undo it.
    access_version = models.PositiveIntegerField(default=1)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_duplicates"
    )

    # When the matter began: the earliest statutory trigger, else when it was filed.
    opened_at = models.DateTimeField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # Derived from the clocks (the earliest running one), kept here so the queue can sort
    # 100,000 escalations on an index. Recomputed by services whenever a clock changes.
    next_due_at = models.DateTimeField(null=True, blank=True)
    next_due_label = models.CharField(max_length=100, blank=True)
    # The same, never empty (NO_DEADLINE when no clock runs), so "nearest deadline first,
    # none last" is a plain ascending index walk on every database.
    queue_due_at = models.DateTimeField(default=NO_DEADLINE)

    class Meta:
        indexes = [
            # The open queue: walked in order and cut after a page, never sorted in full.
            models.Index(
                # The default queue's own filters (open, not a drill), so counting and
                # paging it reads the index alone, never the table rows.
                fields=["severity", "queue_due_at", "id", "is_restricted"],
                condition=models.Q(is_open=True, is_drill=False),
                name="open_queue_order",
            ),
            # The same queue sorted by deadline, and the glance strip's "breached" and
            # "due within the hour": a range at the front of this index.
            models.Index(
                fields=["queue_due_at", "severity", "id", "is_restricted"],
                condition=models.Q(is_open=True, is_drill=False),
                name="open_queue_deadline",
            ),
            # One open, non-drill escalation by its id, with what visibility needs: a
            # market filter's count looks up each of the market's escalations here, from
            # the index alone (on PostgreSQL the primary key's index cannot answer "open,
            # not a drill, restricted?" without reading the row: 60-87 ms at 1,000,000).
            models.Index(
                fields=["id", "is_restricted"],
                condition=models.Q(is_open=True, is_drill=False),
                name="open_queue_ids",
            ),
            models.Index(fields=["owner", "status"], name="owner_status"),
            # The queue past the open, non-drill rows (drills shown, closed included):
            # the same order over every row, carrying the two conditions, so those views
            # are an index walk too, and their capped counts read the index alone.
            models.Index(
                fields=["severity", "queue_due_at", "id", "is_restricted", "is_open", "is_drill"],
                name="queue_order_all",
            ),
            # Each filter of the queue, then its order: the first page of a filtered queue
            # is a walk of the filter's own run of the index, cut after fifty rows, and its
            # capped count never reads the table.
            models.Index(
                fields=["status", "severity", "queue_due_at", "id", "is_restricted", "is_drill"],
                name="status_queue_order",
            ),
            models.Index(
                fields=["policy", "severity", "queue_due_at", "id", "is_restricted"],
                condition=models.Q(is_open=True, is_drill=False),
                name="open_policy_queue_order",
            ),
            models.Index(
                fields=["owner", "severity", "queue_due_at", "id", "is_restricted"],
                condition=models.Q(is_open=True, is_drill=False),
                name="open_owner_queue_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        return f"WF-{self.pk}"

    @property
    def severity_name(self) -> str:
        return f"SEV{self.severity}"


class Subject(models.Model):
    """What the escalation is about: an account, a post, a URL or a media reference."""

    class Kind(models.TextChoices):
        ACCOUNT = "account", "Account"
        POST = "post", "Post"
        URL = "url", "URL"
        MEDIA = "media", "Media reference"

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="subjects")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reference = models.CharField(max_length=2000)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.reference}"


class Clock(models.Model):
    class Kind(models.TextChoices):
        ACKNOWLEDGE = "acknowledge", "Acknowledge"
        FIRST_ACTION = "first_action", "First action"
        RESOLVE = "resolve", "Resolve"
        STATUTORY = "statutory", "Statutory"

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="clocks")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    label = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    due_at = models.DateTimeField()
    met_at = models.DateTimeField(null=True, blank=True)
    statutory_rule = models.ForeignKey(
        "markets.StatutoryRule", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Where the deadline comes from, shown beside it: the instrument, or the severity target.
    basis = models.CharField(max_length=500, blank=True)
    notice_reference = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["due_at"]

    def __str__(self) -> str:
        return f"{self.label} due {self.due_at.isoformat()}"

    def state(self, at=None) -> str:
        """running | breached | met | met_late — computed, never stored."""
        if self.met_at is not None:
            return "met" if self.met_at <= self.due_at else "met_late"
        moment = at or clock.now()
        return "breached" if moment > self.due_at else "running"


class Note(models.Model):
    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note by {self.author_id} on WF-{self.escalation_id}"


class Link(models.Model):
    """A symmetric relation between two escalations, stored once (from the lower id)."""

    from_escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="+")
    to_escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["from_escalation", "to_escalation"], name="link_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(from_escalation__lt=models.F("to_escalation")),
                name="link_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"WF-{self.from_escalation_id} ↔ WF-{self.to_escalation_id}"


class Decision(models.Model):
    class State(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", "Awaiting approval"
        FINAL = "final", "Final"
        SENT_BACK = "sent_back", "Sent back"
        # A final decision replaced by a later one that said so (``superseded_by``).
        SUPERSEDED = "superseded", "Superseded"

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="decisions")
    policy_version = models.ForeignKey(
        "policy.PolicyVersion", on_delete=models.PROTECT, related_name="+"
    )
    action = models.ForeignKey(
        "policy.EnforcementAction", on_delete=models.PROTECT, related_name="+"
    )
    countries = models.JSONField(default=list, blank=True)
    scope = models.TextField(help_text="what the action applies to: which content, accounts")
    rationale = models.TextField()
    state = models.CharField(max_length=20, choices=State.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)
    # The final decision this one replaces, named when it was recorded: an escalation has
    # at most one final decision, and a later one replaces it only by saying so.
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )

    class Meta:
        ordering = ["decided_at", "id"]
        indexes = [
            # The few decisions awaiting approval, found without reading the others (the
            # queue's "awaiting approval" figure starts from them).
            models.Index(
                fields=["escalation"],
                condition=models.Q(state="pending_approval"),
                name="decision_awaiting_approval",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["escalation"],
                condition=models.Q(state="final"),
                name="one_final_decision_per_escalation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action_id} on WF-{self.escalation_id} ({self.state})"


class SeverityDowngrade(models.Model):
    """A proposal to lower a SEV0 or SEV1 escalation's severity. It takes effect only
    when a second lead or admin approves it; until then the severity stays."""

    class State(models.TextChoices):
        PENDING = "pending", "Awaiting approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        # The severity moved another way first (e.g. raised): the proposal no longer fits.
        SUPERSEDED = "superseded", "Superseded"

    escalation = models.ForeignKey(
        Escalation, on_delete=models.CASCADE, related_name="severity_downgrades"
    )
    from_severity = models.PositiveSmallIntegerField()
    to_severity = models.PositiveSmallIntegerField()
    reason = models.TextField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["proposed_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["escalation"],
                condition=models.Q(state="pending"),
                name="one_pending_downgrade",
            ),
            models.CheckConstraint(
                condition=models.Q(to_severity__gt=models.F("from_severity")),
                name="downgrade_lowers_severity",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"WF-{self.escalation_id} SEV{self.from_severity} → SEV{self.to_severity} "
            f"({self.state})"
        )
