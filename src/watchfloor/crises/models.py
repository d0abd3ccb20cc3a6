"""Crises: declared when one or more escalations meet the crisis bar, run from a war room.

A crisis has a level (the table below), people in named roles (with the history of who
held each), linked escalations, notes and pinned key facts, sitreps sent on the level's
cadence, follow-the-sun handoffs between regions, and a post-incident review. Models
hold data and invariants; ``services`` changes them and writes the audit log.

One module past 500 lines on purpose: it is the app's schema, each model a few fields
and their constraints, and Django and the migrations know them here; the logic that
would make it long lives in the services and selectors.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Level(models.TextChoices):
    MONITORING = "monitoring", "Monitoring"
    INCIDENT = "incident", "Incident"
    CRISIS_PROTOCOL = "crisis_protocol", "Crisis protocol active"
    STAND_DOWN = "stand_down", "Stand-down"
    CLOSED = "closed", "Closed"


# The levels, in one place. Services consult it; tests enumerate it. A crisis may move up
# or down between the response levels, stand down from any of them, go back up from a
# stand-down (a flare-up), and close only from a stand-down. Closed is final: a crisis
# that returns is a new crisis, linked to the same escalations.
LEVEL_TRANSITIONS: dict[str, frozenset[str]] = {
    Level.MONITORING: frozenset({Level.INCIDENT, Level.CRISIS_PROTOCOL, Level.STAND_DOWN}),
    Level.INCIDENT: frozenset({Level.MONITORING, Level.CRISIS_PROTOCOL, Level.STAND_DOWN}),
    Level.CRISIS_PROTOCOL: frozenset({Level.MONITORING, Level.INCIDENT, Level.STAND_DOWN}),
    Level.STAND_DOWN: frozenset(
        {Level.MONITORING, Level.INCIDENT, Level.CRISIS_PROTOCOL, Level.CLOSED}
    ),
    Level.CLOSED: frozenset(),
}
# The guards that go with the table (enforced by ``services.change_level``):
# - every change records a reason;
# - standing down needs the stand-down criteria met, or else a reason that says why not;
# - closing needs the crisis stood down first (the table) and a reason.
DECLARABLE_LEVELS = (Level.MONITORING, Level.INCIDENT, Level.CRISIS_PROTOCOL)
RESPONSE_LEVELS = frozenset(DECLARABLE_LEVELS)
# Most urgent first: what the crises list sorts on.
LEVEL_URGENCY = {
    Level.CRISIS_PROTOCOL: 0,
    Level.INCIDENT: 1,
    Level.MONITORING: 2,
    Level.STAND_DOWN: 3,
    Level.CLOSED: 4,
}


class Crisis(models.Model):
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    level = models.CharField(max_length=20, choices=Level.choices, default=Level.INCIDENT)
    # level != closed, kept beside it by the services (the list shows active crises first).
    is_active = models.BooleanField(default=True)
    level_changed_at = models.DateTimeField()
    markets = models.ManyToManyField("markets.Market", related_name="crises", blank=True)
    languages = models.JSONField(default=list, blank=True)

    declared_at = models.DateTimeField()
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The escalation the crisis was declared from, if any; it is also one of the links.
    declared_from = models.ForeignKey(
        "escalations.Escalation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="declared_crises",
    )
    escalations = models.ManyToManyField(
        "escalations.Escalation", through="CrisisEscalation", related_name="crises", blank=True
    )

    is_restricted = models.BooleanField(default=False, db_index=True)
    access_list = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="granted_crises", blank=True
    )
    # Counts the changes to who may see the crisis or hold its roles. Those edits name the
    # count they were read at and are refused when another came first (core.versions).
    access_version = models.PositiveIntegerField(default=1)
    # A tabletop exercise (see ``watchfloor.drills``): shown as a drill everywhere, never
    # notifies.
    is_drill = models.BooleanField(default=False)

    # Derived from the level's cadence and the last sitrep of record; kept by the services
    # so the list and the reminders can sort and filter on it.
    next_sitrep_due_at = models.DateTimeField(null=True, blank=True)
    stood_down_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-declared_at", "-id"]
        indexes = [models.Index(fields=["is_active", "level"], name="crisis_active_level")]
        verbose_name_plural = "crises"

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        return f"CR-{self.pk}"


class CrisisEscalation(models.Model):
    """An escalation that is part of a crisis."""

    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="links")
    escalation = models.ForeignKey(
        "escalations.Escalation", on_delete=models.PROTECT, related_name="crisis_links"
    )
    is_origin = models.BooleanField(default=False)
    reason = models.CharField(max_length=500, blank=True)
    linked_at = models.DateTimeField()
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["linked_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["crisis", "escalation"], name="crisis_escalation_once")
        ]

    def __str__(self) -> str:
        return f"CR-{self.crisis_id} ↔ WF-{self.escalation_id}"


class RoleKind(models.TextChoices):
    INCIDENT_COMMANDER = "incident_commander", "Incident commander"
    DEPUTY = "deputy", "Deputy commander"
    SCRIBE = "scribe", "Scribe"
    POLICY_LEAD = "policy_lead", "Policy lead"
    REGIONAL_LEAD = "regional_lead", "Regional lead"
    LEGAL_LIAISON = "legal_liaison", "Legal liaison"
    PUBLIC_POLICY_LIAISON = "public_policy_liaison", "Public Policy liaison"
    COMMUNICATIONS_LIAISON = "communications_liaison", "Communications liaison"
    CUSTOMER_SERVICE_LIAISON = "customer_service_liaison", "Customer Service liaison"
    LAW_ENFORCEMENT_LIAISON = "law_enforcement_liaison", "Law enforcement liaison"


# The partner team each liaison speaks for: a member of that team may hold the role.
LIAISON_TEAMS: dict[str, str] = {
    RoleKind.LEGAL_LIAISON: "legal",
    RoleKind.PUBLIC_POLICY_LIAISON: "public_policy",
    RoleKind.COMMUNICATIONS_LIAISON: "communications",
    RoleKind.CUSTOMER_SERVICE_LIAISON: "customer_service",
    RoleKind.LAW_ENFORCEMENT_LIAISON: "law_enforcement_response",
}
# Roles that direct the response: they may change the level and hand roles over.
COMMAND_ROLES = frozenset({RoleKind.INCIDENT_COMMANDER, RoleKind.DEPUTY})


class RoleAssignment(models.Model):
    """One person holding one role for a while. The current holder has no ``ended_at``;
    handing over ends one row and starts the next, so the history is the table itself."""

    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(max_length=40, choices=RoleKind.choices)
    # The market a regional lead covers; empty for every other role.
    market_code = models.CharField(max_length=8, blank=True, default="")
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True, help_text="the handover note")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            # One current holder per role (per market for regional leads), even under races.
            models.UniqueConstraint(
                fields=["crisis", "role", "market_code"],
                condition=models.Q(ended_at__isnull=True),
                name="one_current_holder_per_role",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(role="regional_lead", market_code__gt="")
                    | (~models.Q(role="regional_lead") & models.Q(market_code=""))
                ),
                name="regional_lead_has_a_market",
            ),
        ]

    def __str__(self) -> str:
        scope = f" {self.market_code}" if self.market_code else ""
        return f"{self.role}{scope}: {self.holder_id}"

    @property
    def is_current(self) -> bool:
        return self.ended_at is None

    @property
    def role_label(self) -> str:
        label = RoleKind(self.role).label
        return f"{label} ({self.market_code})" if self.market_code else label


class CrisisNote(models.Model):
    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        DECISION = "decision", "Decision"

    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="notes")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.NOTE)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField()
    # A key fact: pinned to the top of the war room until unpinned.
    is_pinned = models.BooleanField(default=False)
    pinned_at = models.DateTimeField(null=True, blank=True)
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["crisis", "is_pinned"], name="crisis_pinned_notes"),
            models.Index(fields=["crisis", "kind", "created_at"], name="crisis_notes_by_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.author_id} on CR-{self.crisis_id}"


class SentRecordError(RuntimeError):
    pass


class Sitrep(models.Model):
    """A sitrep as it was sent: its text, audience, language and number never change."""

    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="sitreps")
    audience = models.SlugField(max_length=40)
    # Counted per audience: leadership sitrep 7 and partner sitrep 7 went out together.
    number = models.PositiveIntegerField()
    language = models.CharField(max_length=35)
    subject = models.CharField(max_length=500)
    body = models.TextField()
    level = models.CharField(max_length=20, choices=Level.choices)
    # What it covers: from the previous sitrep to this audience (or the declaration).
    covers_from = models.DateTimeField()
    sent_at = models.DateTimeField()
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # When the sitrep of record was due as it went out (empty for other audiences): the
    # review counts late ones from it.
    was_due_at = models.DateTimeField(null=True, blank=True)
    template_code = models.SlugField(max_length=64)
    template_digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["crisis", "audience", "number"], name="sitrep_number_per_audience"
            )
        ]

    def __str__(self) -> str:
        return f"CR-{self.crisis_id} {self.audience} sitrep {self.number} ({self.language})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise SentRecordError("a sent sitrep is kept as it was sent; send a new one instead")
        super().save(*args, **kwargs)

    @property
    def is_late(self) -> bool:
        return self.was_due_at is not None and self.sent_at > self.was_due_at


class SitrepSection(models.Model):
    """A part of a sent sitrep about one restricted escalation, kept apart from the shared
    text: shown only to readers who may see that escalation, and left out, with no mark
    where it was, for everyone else (``selectors.sitrep_for_reader``). Kept as sent."""

    sitrep = models.ForeignKey(Sitrep, on_delete=models.CASCADE, related_name="sections")
    position = models.PositiveSmallIntegerField()
    escalation = models.ForeignKey(
        "escalations.Escalation", on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField()

    class Meta:
        ordering = ["sitrep", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sitrep", "position"], name="sitrep_section_position"),
            models.UniqueConstraint(
                fields=["sitrep", "escalation"], name="sitrep_section_per_escalation"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sitrep} section on WF-{self.escalation_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise SentRecordError("a sent sitrep is kept as it was sent; send a new one instead")
        super().save(*args, **kwargs)


class Handoff(models.Model):
    """A follow-the-sun handoff: the packet as the outgoing commander confirmed it, and the
    incoming commander's acknowledgement (which hands command over)."""

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed by the outgoing commander"
        ACKNOWLEDGED = "acknowledged", "Acknowledged by the incoming commander"

    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="handoffs")
    from_region = models.SlugField(max_length=40)
    to_region = models.SlugField(max_length=40)
    handoff_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONFIRMED)
    packet = models.JSONField(default=dict)
    risks = models.TextField(blank=True)
    outgoing_commander = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    incoming_commander = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(blank=True)

    class Meta:
        ordering = ["handoff_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["crisis", "handoff_at"], name="one_handoff_per_time")
        ]

    def __str__(self) -> str:
        return f"CR-{self.crisis_id} {self.from_region}→{self.to_region} {self.handoff_at}"


class Review(models.Model):
    """The post-incident review. What can be reconstructed (timeline, key times, clocks,
    decisions) is computed from the record each time; this holds what the team adds."""

    crisis = models.OneToOneField(Crisis, on_delete=models.CASCADE, related_name="review")
    # When the harm began and when it was contained, where the team knows better than the
    # record (the record's figures are used while these are empty).
    incident_started_at = models.DateTimeField(null=True, blank=True)
    contained_at = models.DateTimeField(null=True, blank=True)
    summary = models.TextField(blank=True)
    went_well = models.TextField(blank=True)
    went_badly = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"review of CR-{self.crisis_id}"


WHYS_MAX = 5


class RootCause(models.Model):
    """A five-whys chain: the problem, each "why?" answered in turn, and the root it reaches."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="root_causes")
    problem = models.TextField()
    whys = models.JSONField(default=list)
    root_cause = models.TextField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"root cause on CR-{self.review.crisis_id}: {self.root_cause[:40]}"


class ActionItem(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        DROPPED = "dropped", "Dropped"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=300)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    status_note = models.TextField(blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["due_on", "id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"


# An action item is tracked to completion: done or dropped (with a note), or reopened.
ACTION_ITEM_TRANSITIONS: dict[str, frozenset[str]] = {
    ActionItem.Status.OPEN: frozenset({ActionItem.Status.DONE, ActionItem.Status.DROPPED}),
    ActionItem.Status.DONE: frozenset({ActionItem.Status.OPEN}),
    ActionItem.Status.DROPPED: frozenset({ActionItem.Status.OPEN}),
}


class CrisisCluster(models.Model):
    """A signals cluster that is part of a crisis: its signals count towards the war
    room's containment figures."""

    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="cluster_links")
    cluster = models.ForeignKey(
        "signals.Cluster", on_delete=models.PROTECT, related_name="crisis_links"
    )
    reason = models.CharField(max_length=500, blank=True)
    linked_at = models.DateTimeField()
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["linked_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["crisis", "cluster"], name="crisis_cluster_once")
        ]

    def __str__(self) -> str:
        return f"CR-{self.crisis_id} ↔ cluster {self.cluster_id}"


class WatchlistKind(models.TextChoices):
    TERM = "term", "Keyword or phrase"
    HASHTAG = "hashtag", "Hashtag"
    ACCOUNT = "account", "Account"
    URL = "url", "URL"
    DOMAIN = "domain", "Domain"
    MEDIA_HASH = "media_hash", "Media hash (PDQ, MD5 or SHA-256)"


class WatchlistEntry(models.Model):
    """One thing a crisis watches for. Entries are never edited in place: removing one
    sets ``removed_at``, so the watchlist as it stood at any time can be told."""

    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="watchlist")
    kind = models.CharField(max_length=12, choices=WatchlistKind.choices)
    # As the user typed it, and as matching compares it (see ``crises.watchlists``).
    value = models.CharField(max_length=500)
    normalised = models.CharField(max_length=500)
    # Other spellings that match as this term (``馬鹿`` for ``バカ``), as given: a list of
    # strings, each normalised like ``value`` when the matcher is compiled.
    variants = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=35, blank=True)
    note = models.CharField(max_length=500, blank=True)
    added_at = models.DateTimeField()
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["kind", "normalised", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["crisis", "kind", "normalised"],
                condition=models.Q(removed_at__isnull=True),
                name="watchlist_entry_once",
            )
        ]

    def __str__(self) -> str:
        return f"CR-{self.crisis_id} {self.kind}: {self.value}"


class WatchlistHit(models.Model):
    """A signal that matched a watchlist entry, flagged into the crisis view."""

    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="watchlist_hits")
    entry = models.ForeignKey(WatchlistEntry, on_delete=models.CASCADE, related_name="hits")
    signal = models.ForeignKey("signals.Signal", on_delete=models.CASCADE, related_name="+")
    cluster = models.ForeignKey("signals.Cluster", on_delete=models.CASCADE, related_name="+")
    # The signal's own time (the containment chart plots it) and when it was flagged.
    received_at = models.DateTimeField()
    flagged_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "signal"], name="watchlist_hit_once")
        ]
        indexes = [models.Index(fields=["crisis", "received_at"], name="watchlist_hit_time")]

    def __str__(self) -> str:
        return f"signal {self.signal_id} matched {self.entry_id}"


class SitrepReminder(models.Model):
    """A reminder to the incident commander that the sitrep of record falls due at
    ``due_at``. One per crisis and due time, whichever worker gets there first: sending
    the sitrep moves the due time on, and the next reminder is for the new one."""

    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="sitrep_reminders")
    due_at = models.DateTimeField()
    # The commander when the reminder went out (empty when the crisis had none to remind).
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    notification = models.ForeignKey(
        "notify.Notification",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Whether the sitrep was already overdue when the reminder went out.
    was_overdue = models.BooleanField(default=False)
    # A drill's reminder is recorded and never delivered.
    is_suppressed = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["crisis", "due_at"], name="sitrep_reminder_once")
        ]

    def __str__(self) -> str:
        return f"CR-{self.crisis_id} sitrep due {self.due_at:%Y-%m-%d %H:%M} UTC reminder"
