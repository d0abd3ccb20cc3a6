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
    SIGNAL = "signal", "Banked from a cluster's signals"


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
    # A crisis bank: the crisis it was made for (action rules flag matches into it).
    crisis = models.ForeignKey(
        "crises.Crisis", on_delete=models.PROTECT, null=True, blank=True, related_name="banks"
    )
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
    # The exchange that supplied the entry (source "exchange"): its withdrawals disable
    # the entry, and opinions on it are sent back there.
    exchange = models.ForeignKey(
        "Exchange", on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["signal_type", "value"], name="bank_entry_lookup"),
            # Search finds entries by hash whatever their type (docs/search.md).
            models.Index(fields=["value"], name="bank_entry_by_value"),
        ]
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


class MatchChannel(models.TextChoices):
    API = "api", "Match API"
    CLI = "cli", "Command line"


class Match(models.Model):
    """One query that matched one bank entry: recorded for every match the API or the CLI
    answers (allow-bank suppressions are not matches), then turned into a ``hash_match``
    signal and checked against the action rules (``banks.match_work``)."""

    signal_type = models.CharField(max_length=16, choices=SignalType.choices)
    value = models.CharField(max_length=2000)
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="matches")
    entry = models.ForeignKey(BankEntry, on_delete=models.PROTECT, related_name="matches")
    distance = models.PositiveSmallIntegerField()
    # The bank's and the entry's labels at the time, what the action rules look at.
    labels = models.JSONField(default=list, blank=True)
    # What the caller said about the item, when it did: its market and reference.
    market = models.CharField(max_length=8, blank=True)
    subject_ref = models.CharField(max_length=4096, blank=True)
    matched_at = models.DateTimeField()
    matched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    token = models.ForeignKey(
        "people.APIToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=8, choices=MatchChannel.choices)
    # The hash_match signal the query became (one per query, shared by its matches).
    signal = models.ForeignKey(
        "signals.Signal", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["bank", "matched_at"], name="bank_match_by_time"),
            models.Index(fields=["matched_at"], name="bank_match_time"),
        ]

    def __str__(self) -> str:
        return f"{self.signal_type}:{self.value[:16]} ~ entry {self.entry_id} ({self.distance})"


class FiringMode(models.TextChoices):
    LIVE = "live", "Live"
    SHADOW = "shadow", "Shadow (recorded, not done)"


class FiringOutcome(models.TextChoices):
    OPENED = "opened", "Opened an escalation"
    ATTACHED = "attached", "Attached to an escalation"
    FLAGGED = "flagged", "Flagged into a crisis"
    REQUESTED = "requested", "Requested an enforcement action"
    WOULD_OPEN = "would_open", "Would open an escalation"
    WOULD_ATTACH = "would_attach", "Would attach to an escalation"
    WOULD_FLAG = "would_flag", "Would flag into a crisis"
    WOULD_REQUEST = "would_request", "Would request an enforcement action"
    FAILED = "failed", "Failed"


class ReviewOutcome(models.TextChoices):
    PENDING = "", "Not reviewed"
    CORRECT = "correct", "Correct"
    WRONG = "wrong", "Wrong"


class RuleFiring(models.Model):
    """An action rule that held for a match: what it did (live) or would have done
    (shadow), or why it failed. Sampled live firings wait for a person's review."""

    rule_code = models.CharField(max_length=100)
    rules_version = models.CharField(max_length=80)
    match = models.ForeignKey(Match, on_delete=models.PROTECT, related_name="firings")
    mode = models.CharField(max_length=8, choices=FiringMode.choices)
    action = models.CharField(max_length=16)
    outcome = models.CharField(max_length=16, choices=FiringOutcome.choices)
    conditions = models.JSONField(default=list)
    detail = models.TextField(blank=True)
    escalation = models.ForeignKey(
        "escalations.Escalation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bank_rule_firings",
    )
    crisis = models.ForeignKey(
        "crises.Crisis", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fired_at = models.DateTimeField()
    needs_review = models.BooleanField(default=False)
    review_outcome = models.CharField(
        max_length=8, choices=ReviewOutcome.choices, blank=True, default=ReviewOutcome.PENDING
    )
    review_note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["rule_code", "fired_at"], name="bank_firing_rule_time"),
            models.Index(
                fields=["needs_review", "review_outcome"], name="bank_firing_review_queue"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_code} on match {self.match_id}: {self.outcome}"


# ---------------------------------------------------------------- the actioner


class EnforcementConnector(models.Model):
    """A platform system that carries out enforcement actions: Watchfloor POSTs each
    request to ``url`` signed with ``secret`` (HMAC-SHA256, as notifications are), and
    the platform calls back, signed with the same secret, to confirm or refuse."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    max_attempts = models.PositiveSmallIntegerField(default=6)
    created_at = models.DateTimeField()
    # Decisions go out through this connector on their own once final; only decisions
    # that became final since it was switched on (set by ``save_connector``), so
    # switching it on never sends the past.
    sends_final_decisions = models.BooleanField(default=False)
    sends_final_decisions_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class RequestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Waiting to retry"
    SENT = "sent", "Requested, awaiting the platform"
    CARRIED_OUT = "carried_out", "Carried out"
    PARTLY_CARRIED_OUT = "partly_carried_out", "Partly carried out"
    REFUSED = "refused", "Refused by the platform"
    FAILED = "failed", "Could not be delivered"


OUTSTANDING_REQUEST_STATUSES = (RequestStatus.QUEUED, RequestStatus.RETRYING)


class EnforcementRequest(models.Model):
    """One enforcement action requested from one connector, on any number of items (one
    decision on 3,000 copies is one request with 3,000 item results). The idempotency key
    travels with every attempt, so a platform that receives a retry does the work once."""

    connector = models.ForeignKey(
        EnforcementConnector, on_delete=models.PROTECT, related_name="requests"
    )
    idempotency_key = models.CharField(max_length=64, unique=True)
    action = models.ForeignKey(
        "policy.EnforcementAction", on_delete=models.PROTECT, related_name="+"
    )
    countries = models.JSONField(default=list, blank=True)
    decision = models.ForeignKey(
        "escalations.Decision",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="enforcement_requests",
    )
    escalation = models.ForeignKey(
        "escalations.Escalation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="enforcement_requests",
    )
    firing = models.OneToOneField(
        RuleFiring,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="enforcement_request",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField()
    # Queued because the decision became final (a connector that sends final decisions),
    # not by a person's "Carry out": at most one such request per decision and connector.
    automatic = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=RequestStatus.choices)
    item_count = models.PositiveIntegerField()
    attempt_count = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # From the platform's callback.
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.CharField(max_length=200, blank=True)
    platform_reference = models.CharField(max_length=200, blank=True)
    refusal_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="enforcement_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["decision", "connector"],
                condition=models.Q(automatic=True),
                name="one_automatic_request_per_decision",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action_id} via {self.connector_id} ({self.status})"


class ItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Carried out"
    REFUSED = "refused", "Refused"
    FAILED = "failed", "Failed on the platform"


class EnforcementItem(models.Model):
    request = models.ForeignKey(EnforcementRequest, on_delete=models.CASCADE, related_name="items")
    reference = models.CharField(max_length=2000)
    status = models.CharField(max_length=10, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "reference"], name="enforcement_item_once")
        ]

    def __str__(self) -> str:
        return f"{self.reference[:40]}: {self.status}"


class EnforcementAttempt(models.Model):
    request = models.ForeignKey(
        EnforcementRequest, on_delete=models.CASCADE, related_name="attempts"
    )
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=20)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of request {self.request_id}: {self.outcome}"


# ---------------------------------------------------------------- exchanges


class ExchangeKind(models.TextChoices):
    """The python-threatexchange exchange APIs Watchfloor fetches from."""

    FILE = "file", "Signal file (python-threatexchange's local file exchange)"
    STOPNCII = "stopncii", "StopNCII.org hash exchange"
    THREATEXCHANGE = "threatexchange", "Meta ThreatExchange (a privacy group's updates)"
    NCMEC = "ncmec", "NCMEC hash sharing"


class Exchange(models.Model):
    """A source of hashes shared by others, fetched into one bank on a schedule and
    resumed from its checkpoint. Credentials never live in the database: the exchange
    names the environment variable that holds them."""

    name = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=ExchangeKind.choices)
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="exchanges")
    # The file to read (file) or the API's base address (blank for the exchange's own).
    location = models.CharField(max_length=2000, blank=True)
    # ThreatExchange's privacy group (ThreatPrivacyGroup id) fetched; none for the others.
    privacy_group = models.BigIntegerField(null=True, blank=True)
    credentials_env = models.CharField(max_length=100, blank=True)
    fetch_every = models.DurationField()
    is_enabled = models.BooleanField(default=True)
    checkpoint = models.JSONField(null=True, blank=True)
    # When the worker's schedule last queued a fetch: not queued again until it ran.
    fetch_queued_at = models.DateTimeField(null=True, blank=True)
    last_fetch_started_at = models.DateTimeField(null=True, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def fetch_every_minutes(self) -> int:
        return int(self.fetch_every.total_seconds() // 60)


class ExchangeItem(models.Model):
    """A value one of the exchange's own records holds (NCMEC: an entry, named
    ``member-entry id``), kept for exchanges whose deletions name the record and not the
    value: a value is withdrawn when no record of the exchange holds it any more."""

    exchange = models.ForeignKey(Exchange, on_delete=models.CASCADE, related_name="items")
    ref = models.CharField(max_length=200)
    value = models.CharField(max_length=2000)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["exchange", "ref", "value"], name="exchange_item_once")
        ]
        indexes = [models.Index(fields=["exchange", "value"], name="exchange_item_by_value")]

    def __str__(self) -> str:
        return f"{self.exchange_id}:{self.ref}"


class Opinion(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed: the match was what the exchange said"
    FALSE_POSITIVE = "false_positive", "False positive"


class FeedbackState(models.TextChoices):
    PENDING = "pending", "To send"
    SENT = "sent", "Sent"
    UNSUPPORTED = "unsupported", "The exchange takes no such opinion"
    FAILED = "failed", "Could not be sent"


class ExchangeFeedback(models.Model):
    """An opinion on an exchange's entry after review, kept and sent back to the
    exchange by the worker."""

    exchange = models.ForeignKey(Exchange, on_delete=models.PROTECT, related_name="feedback")
    entry = models.ForeignKey(BankEntry, on_delete=models.PROTECT, related_name="feedback")
    opinion = models.CharField(max_length=16, choices=Opinion.choices)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    recorded_at = models.DateTimeField()
    state = models.CharField(
        max_length=16, choices=FeedbackState.choices, default=FeedbackState.PENDING
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["exchange", "state"], name="exchange_feedback_to_send")]

    def __str__(self) -> str:
        return f"{self.opinion} on entry {self.entry_id} ({self.state})"
