"""Signals and the clusters they form.

A signal is an immutable fact: one report, referral or detector hit, stored once per
(producer, external id). A cluster is what analysts work: every signal about the same
thing, with its counts, reach and velocity kept up to date as signals arrive. The
lookup tables (``ClusterKey``, ``ClusterMedia``, ``ClusterText``) are what the
clustering step matches new signals against; the in-memory indexes are rebuilt from
them, so a restarted or additional worker sees exactly what the others see.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ClusterState(models.TextChoices):
    OPEN = "open", "Open"
    ESCALATED = "escalated", "Escalated"
    BENIGN = "benign", "Marked benign"
    SNOOZED = "snoozed", "Snoozed"


class KeyKind(models.TextChoices):
    """How a signal joined its cluster, in the order the keys are tried."""

    SUBJECT = "subject", "Same subject"
    URL = "url", "Same normalised URL"
    MEDIA = "media", "Near-identical media (PDQ)"
    MEDIA_HASH = "media_hash", "Same media file (MD5/SHA-256)"
    TEXT = "text", "Near-identical text"
    NEW = "new", "Started the cluster"


class Cluster(models.Model):
    state = models.CharField(max_length=12, choices=ClusterState.choices, default=ClusterState.OPEN)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    escalation = models.ForeignKey(
        "escalations.Escalation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="clusters",
    )
    # What the cluster is about, from its first signal (the representative).
    representative = models.ForeignKey(
        "Signal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    representative_text = models.TextField(blank=True)
    representative_url = models.CharField(max_length=4096, blank=True)
    subject_kind = models.CharField(max_length=12, blank=True)
    subject_ref = models.CharField(max_length=4096, blank=True)
    origin_key = models.CharField(max_length=12, choices=KeyKind.choices, default=KeyKind.NEW)

    first_seen_at = models.DateTimeField(db_index=True)
    last_seen_at = models.DateTimeField(db_index=True)
    signal_count = models.PositiveIntegerField(default=0)
    reporter_count = models.PositiveIntegerField(default=0)
    # {value: count} tallies, kept small (sources, markets, languages, policy hints).
    sources = models.JSONField(default=dict)
    markets = models.JSONField(default=dict)
    languages = models.JSONField(default=dict)
    policy_hints = models.JSONField(default=dict)
    reach_impressions = models.PositiveBigIntegerField(default=0)
    reach_shares = models.PositiveBigIntegerField(default=0)
    max_followers = models.PositiveBigIntegerField(default=0)
    # Rolling counts, refreshed as signals arrive and by the surge job; the sort keys of
    # the clusters view. Exact figures come from ClusterBucket.
    velocity_5m = models.PositiveIntegerField(default=0, db_index=True)
    velocity_1h = models.PositiveIntegerField(default=0)
    velocity_24h = models.PositiveIntegerField(default=0)
    severity_hint = models.PositiveSmallIntegerField(null=True, blank=True)
    # The triage score (signals.triage): how likely the cluster is an informative report
    # in a crisis, 0 to 1, and its largest parts in words as [[label, part], …]. Set by
    # the reactions pass, off the intake's path; null until then.
    triage_score = models.FloatField(null=True, blank=True)
    triage_reasons = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["state", "-velocity_1h"], name="cluster_rank"),
            models.Index(fields=["state", "-triage_score"], name="cluster_triage_rank"),
            # The clusters still to score (the periodic pass's backfill): empty once done.
            models.Index(
                fields=["id"],
                condition=models.Q(triage_score__isnull=True),
                name="cluster_unscored",
            ),
        ]

    def __str__(self) -> str:
        return f"cluster {self.pk} ({self.signal_count} signals)"


class Signal(models.Model):
    producer = models.CharField(max_length=150)
    external_id = models.CharField(max_length=200)
    received_at = models.DateTimeField()
    ingested_at = models.DateTimeField()
    source = models.CharField(max_length=20)
    subject_kind = models.CharField(max_length=12)
    # The contract allows references and URLs of up to 4,096 characters; a normalised URL
    # can be longer than the one it came from (percent-encoding), so it has no limit.
    subject_ref = models.CharField(max_length=4096)
    text = models.TextField(blank=True)
    url = models.CharField(max_length=4096, blank=True)
    url_normalised = models.TextField(blank=True)
    media_pdq = models.BinaryField(max_length=32, null=True, blank=True)
    media_pdq_quality = models.PositiveSmallIntegerField(null=True, blank=True)
    media_md5 = models.CharField(max_length=32, blank=True)
    media_sha256 = models.CharField(max_length=64, blank=True)
    market = models.CharField(max_length=8, blank=True)
    language = models.CharField(max_length=35, blank=True)
    language_detected = models.BooleanField(default=False)
    policy_hint = models.CharField(max_length=64, blank=True)
    reach_impressions = models.PositiveBigIntegerField(null=True, blank=True)
    reach_followers = models.PositiveBigIntegerField(null=True, blank=True)
    reach_shares = models.PositiveBigIntegerField(null=True, blank=True)
    reporter = models.CharField(max_length=200, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    # Looked up through the (cluster, received_at) index below: a second index on the
    # cluster alone would only cost every insert on the intake's hottest table.
    cluster = models.ForeignKey(
        Cluster, on_delete=models.PROTECT, related_name="signals", db_index=False
    )
    matched_by = models.CharField(max_length=12, choices=KeyKind.choices)
    # Set when an admin takes the signal out of its cluster's counts and lists (a date
    # outside the calendar stored before input was bounded, a producer's mistake); it
    # stays stored, and its id stays taken, so sending it again is a duplicate
    # (``signals.quarantine``).
    quarantined_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["producer", "external_id"], name="signal_idempotency")
        ]
        indexes = [models.Index(fields=["cluster", "received_at"], name="signal_cluster_time")]

    def __str__(self) -> str:
        return f"{self.producer}:{self.external_id}"


class ClusterKey(models.Model):
    """Exact keys: subject ref, normalised URL, MD5, SHA-256 → the cluster that owns them."""

    kind = models.CharField(max_length=12)
    value = models.CharField(max_length=2000)
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="keys")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="cluster_key_unique")]

    def __str__(self) -> str:
        return f"{self.kind}={self.value[:40]} → {self.cluster_id}"


class ClusterMedia(models.Model):
    """A distinct PDQ hash seen in a cluster (near-duplicates within the threshold are not
    stored again); the PDQ index is built from these."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="media")
    pdq = models.BinaryField(max_length=32)

    def __str__(self) -> str:
        return f"pdq {bytes(self.pdq).hex()[:12]}… → {self.cluster_id}"


class ClusterText(models.Model):
    """The MinHash signature of one of a cluster's representative texts (up to
    ``clustering.MAX_REPRESENTATIVES``); the LSH index is built from these."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="texts")
    signature = models.BinaryField()
    # The text's figures (clustering.figures_of): a text matches only equal figures. Null
    # for texts stored before figures were kept: those match any.
    figures = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 (null: unknown, "": none)

    def __str__(self) -> str:
        return f"text signature → {self.cluster_id}"


class ClusterReporter(models.Model):
    """Distinct reporters per cluster (so the count is exact, not an estimate)."""

    # The unique (cluster, reporter) index serves lookups by cluster.
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+", db_index=False)
    reporter = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "reporter"], name="cluster_reporter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.reporter} → {self.cluster_id}"


class ClusterRelation(models.Model):
    """A signal matched two clusters on different keys; they are kept apart (see
    docs/signals.md) and the relation is shown to analysts, who may merge by escalating."""

    # The unique (cluster, related, key_kind) index serves lookups by cluster.
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+", db_index=False)
    related = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    key_kind = models.CharField(max_length=12, choices=KeyKind.choices)
    signal_count = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "related", "key_kind"], name="cluster_relation_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id} ~ {self.related_id} by {self.key_kind}"


class ClusterBucket(models.Model):
    """Signals per cluster per 5-minute bucket: velocity, sparklines and surge input."""

    # The unique (cluster, bucket_start) index serves lookups by cluster.
    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="buckets", db_index=False
    )
    bucket_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "bucket_start"], name="cluster_bucket_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id} @ {self.bucket_start:%H:%M}: {self.count}"


class SeriesBucket(models.Model):
    """Signals per market × policy hint × language per 5-minute bucket ('' = not given)."""

    market = models.CharField(max_length=8)
    policy = models.CharField(max_length=64)
    language = models.CharField(max_length=35)
    bucket_start = models.DateTimeField(db_index=True)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["market", "policy", "language", "bucket_start"], name="series_bucket_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.market}/{self.policy}/{self.language} @ {self.bucket_start:%H:%M}"


class SurgeAlert(models.Model):
    class Subject(models.TextChoices):
        CLUSTER = "cluster", "Cluster"
        SERIES = "series", "Market × policy × language"

    subject = models.CharField(max_length=10, choices=Subject.choices)
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="surges"
    )
    market = models.CharField(max_length=8, blank=True)
    policy = models.CharField(max_length=64, blank=True)
    language = models.CharField(max_length=35, blank=True)
    started_at = models.DateTimeField()
    raised_at = models.DateTimeField(db_index=True)
    ratio = models.FloatField()
    current_rate = models.FloatField(help_text="signals per hour in the current window")
    baseline_rate = models.FloatField(help_text="signals per hour in the baseline")
    window = models.DurationField()
    baseline_window = models.DurationField()
    ended_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-raised_at"]
        # One open alert per subject, even with several workers checking at once.
        constraints = [
            models.UniqueConstraint(
                fields=["cluster"],
                condition=models.Q(subject="cluster", ended_at__isnull=True),
                name="surge_one_open_per_cluster",
            ),
            models.UniqueConstraint(
                fields=["market", "policy", "language"],
                condition=models.Q(subject="series", ended_at__isnull=True),
                name="surge_one_open_per_series",
            ),
        ]

    def __str__(self) -> str:
        return f"surge ×{self.ratio:.1f} ({self.subject})"


class RuleFiring(models.Model):
    """An auto-escalation rule fired: what it did and the evidence it acted on."""

    rule_code = models.CharField(max_length=64)
    rule_version = models.CharField(max_length=64)
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    surge = models.ForeignKey(
        SurgeAlert, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalation = models.ForeignKey(
        "escalations.Escalation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=20)  # opened | attached | skipped
    evidence = models.JSONField(default=dict)
    fired_at = models.DateTimeField()

    class Meta:
        # A rule acts once per cluster (or, for a series, once per surge alert), even when
        # two workers evaluate the same cluster at the same moment.
        constraints = [
            models.UniqueConstraint(
                fields=["rule_code", "cluster"],
                condition=models.Q(cluster__isnull=False),
                name="rule_fires_once_per_cluster",
            ),
            models.UniqueConstraint(
                fields=["rule_code", "surge"],
                condition=models.Q(cluster__isnull=True, surge__isnull=False),
                name="rule_fires_once_per_surge",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_code} → {self.outcome}"


class ReactionBacklog(models.Model):
    """A committed batch whose reactions (surge checks, auto-escalation rules, crisis
    watchlists) have not run yet. Written in the batch's own transaction, so nothing
    acknowledged can miss its reactions; the worker claims rows, runs the reactions
    for all of them at once and deletes them (``signals.backlog``)."""

    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cluster_ids = models.JSONField(default=list)
    # [[market, policy hint, language], …]
    series_keys = models.JSONField(default=list)
    # The batch's new signals as [first id, last id] ranges (a batch is nearly always one).
    signal_ranges = models.JSONField(default=list)
    signal_count = models.PositiveIntegerField(default=0)
    # Set while a worker runs the row; a claim older than the lease is taken over.
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"reactions for {self.signal_count} signals ({self.created_at:%H:%M:%S})"
