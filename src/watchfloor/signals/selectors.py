"""Reads of clusters, signals and surge alerts. Every query starts from the ``*_visible_to``
functions here.

Signals are raw reports: they can name victims, carry abuse in their text and point at
harmful media. Partner-team members therefore see no clusters, signals or surges at all
(they see the escalations shared with them); everyone else with an account may read
them, and only those who can work escalations may act on them (``core.roles``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet

from watchfloor.core.errors import NotFound
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.signals.models import (
    Cluster,
    ClusterBucket,
    ClusterRelation,
    ClusterState,
    KeyKind,
    SeriesBucket,
    Signal,
    SurgeAlert,
)
from watchfloor.signals.permissions import can_see_signals
from watchfloor.signals.surge import CLUSTER_CONFIG, DEFAULT_CONFIG, SurgeConfig, raise_level
from watchfloor.signals.surge_stream import ALL, series_containing

if TYPE_CHECKING:
    from django.db.models.expressions import OrderBy

    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User

BUCKET = DEFAULT_CONFIG.bucket
SPARKLINE_SPAN = DEFAULT_CONFIG.baseline_window + DEFAULT_CONFIG.window  # what the detector reads


_DURATIONS = ("bucket", "baseline_window", "end_window", "quiet")


def surge_config(subject: str) -> SurgeConfig:
    """The detector's settings for ``cluster`` or ``series`` subjects.

    ``WATCHFLOOR_SURGE = {"series": {"raise_ratio": 5, "windows": [5, 30]}}`` in the
    settings changes them (durations in minutes).
    """
    default = CLUSTER_CONFIG if subject == "cluster" else DEFAULT_CONFIG
    overrides = (getattr(settings, "WATCHFLOOR_SURGE", None) or {}).get(subject) or {}
    if not overrides:
        return default
    values: dict[str, Any] = {
        key: timedelta(minutes=value)
        if key in _DURATIONS
        else tuple(timedelta(minutes=v) for v in value)
        if key == "windows"
        else value
        for key, value in overrides.items()
    }
    return replace(default, **values)


def bucket_floor(moment: datetime, bucket: timedelta = BUCKET) -> datetime:
    """The start of the bucket holding ``moment`` (buckets are aligned on the Unix epoch)."""
    seconds = int(bucket.total_seconds())
    stamp = int(moment.timestamp())
    return moment - timedelta(seconds=stamp % seconds, microseconds=moment.microsecond)


def bucket_end(moment: datetime, bucket: timedelta = BUCKET) -> datetime:
    """The end of the bucket holding ``moment``: the surge window's end at that time."""
    return bucket_floor(moment, bucket) + bucket


# ---------------------------------------------------------------- need to know


def clusters_visible_to(user: User) -> QuerySet[Cluster]:
    """Every cluster for staff roles; none for partners or anyone signed out."""
    if not can_see_signals(user):
        return Cluster.objects.none()
    return Cluster.objects.all()


def surges_visible_to(user: User) -> QuerySet[SurgeAlert]:
    if not can_see_signals(user):
        return SurgeAlert.objects.none()
    return SurgeAlert.objects.all()


def access_cluster(*, actor: User, cluster_id: int | str) -> Cluster:
    """The cluster, or the same NotFound whether it is missing or hidden from ``actor``."""
    try:
        pk = int(cluster_id)
    except (TypeError, ValueError) as exc:
        raise NotFound(f"no cluster '{cluster_id}'", field="cluster_id") from exc
    cluster = clusters_visible_to(actor).select_related("representative").filter(pk=pk).first()
    if cluster is None:
        raise NotFound(f"no cluster C-{pk} that you can see", field="cluster_id")
    return cluster


def access_surge(*, actor: User, surge_id: int | str) -> SurgeAlert:
    try:
        pk = int(surge_id)
    except (TypeError, ValueError) as exc:
        raise NotFound(f"no surge alert '{surge_id}'", field="surge_id") from exc
    alert = surges_visible_to(actor).select_related("cluster").filter(pk=pk).first()
    if alert is None:
        raise NotFound(f"no surge alert {pk} that you can see", field="surge_id")
    return alert


# ---------------------------------------------------------------- state


def effective_state(cluster: Cluster, now: datetime) -> str:
    """A snooze ends by itself: once its time has passed the cluster counts as open,
    whether or not the wake-up job has written that down yet."""
    if (
        cluster.state == ClusterState.SNOOZED
        and cluster.snoozed_until is not None
        and cluster.snoozed_until <= now
    ):
        return ClusterState.OPEN
    return cluster.state


def _state_q(state: str, now: datetime) -> Q:
    woken = Q(state=ClusterState.SNOOZED, snoozed_until__lte=now)
    if state == ClusterState.OPEN:
        return Q(state=ClusterState.OPEN) | woken
    if state == ClusterState.SNOOZED:
        return Q(state=ClusterState.SNOOZED) & ~woken
    return Q(state=state)


# ---------------------------------------------------------------- the clusters view


# The orders of the clusters view: the most informative first (the triage score,
# ``signals.triage``), or the fastest first.
SORT_INFORMATIVE = "informative"
SORT_FASTEST = "fastest"


@dataclass(frozen=True)
class ClusterFilters:
    state: str = ClusterState.OPEN  # "" for every state
    market: str = ""
    language: str = ""
    source: str = ""
    policy: str = ""
    sort: str = SORT_INFORMATIVE

    @property
    def is_filtered(self) -> bool:
        return replace(self, sort=SORT_INFORMATIVE) != ClusterFilters()


def by_triage_score(prefix: str = "") -> list[OrderBy]:
    """Most informative first (no score yet last), then fastest, then most recent."""
    return [
        F(f"{prefix}triage_score").desc(nulls_last=True),
        F(f"{prefix}velocity_1h").desc(),
        F(f"{prefix}last_seen_at").desc(),
    ]


def cluster_list(*, user: User, filters: ClusterFilters, now: datetime) -> QuerySet[Cluster]:
    """Clusters, the most informative first (the triage score, then the fastest), or the
    fastest first (signals in the last hour), then by severity hint (most severe first,
    none last), then the last five minutes, then the most recent."""
    clusters = clusters_visible_to(user)
    if filters.state:
        clusters = clusters.filter(_state_q(filters.state, now))
    # The tallies are {value: count} objects; a key is present once a signal carried it.
    for name, value in (
        ("markets", filters.market),
        ("languages", filters.language),
        ("sources", filters.source),
        ("policy_hints", filters.policy),
    ):
        if value:
            clusters = clusters.filter(**{f"{name}__has_key": value})
    # The representative's language, for the lang attribute on its text, without loading
    # the whole signal.
    clusters = clusters.annotate(representative_language=F("representative__language"))
    if filters.sort == SORT_FASTEST:
        return clusters.order_by(
            F("velocity_1h").desc(),
            F("severity_hint").asc(nulls_last=True),
            F("velocity_5m").desc(),
            F("last_seen_at").desc(),
            "pk",
        )
    return clusters.order_by(*by_triage_score(), "pk")


def join_kinds(cluster_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """How each cluster's signals joined it ({key kind: signals}, largest first), in one
    query: the first signal "started" the cluster, the others matched a key."""
    found: dict[int, dict[str, int]] = {pk: {} for pk in cluster_ids}
    rows = (
        Signal.objects.filter(cluster_id__in=list(cluster_ids), quarantined_at__isnull=True)
        .order_by()
        .values_list("cluster_id", "matched_by")
        .annotate(count=Count("pk"))
    )
    for cluster_id, kind, count in rows:
        found[cluster_id][kind] = count
    return {pk: dict(tally_rows(kinds, limit=10)) for pk, kinds in found.items()}


def key_kind(kinds: dict[str, int]) -> str:
    """The key that holds a cluster together: the commonest way its signals joined
    (``new`` for a cluster of one signal)."""
    joined = {kind: count for kind, count in kinds.items() if kind != KeyKind.NEW}
    return max(joined, key=lambda kind: (joined[kind], kind)) if joined else KeyKind.NEW


def sparkline_counts(
    cluster_ids: Sequence[int], *, end: datetime, span: timedelta = SPARKLINE_SPAN
) -> dict[int, list[int]]:
    """Counts per bucket for each cluster over ``span`` before ``end``, in one query."""
    buckets = int(span / BUCKET)
    start = end - buckets * BUCKET
    counts: dict[int, list[int]] = {pk: [0] * buckets for pk in cluster_ids}
    rows = ClusterBucket.objects.filter(
        cluster_id__in=list(cluster_ids), bucket_start__gte=start, bucket_start__lt=end
    ).values_list("cluster_id", "bucket_start", "count")
    for cluster_id, bucket_start, count in rows:
        counts[cluster_id][int((bucket_start - start) / BUCKET)] += count
    return counts


def open_surges_by_cluster(cluster_ids: Iterable[int]) -> dict[int, SurgeAlert]:
    alerts = SurgeAlert.objects.filter(
        subject=SurgeAlert.Subject.CLUSTER, cluster_id__in=list(cluster_ids), ended_at__isnull=True
    )
    return {alert.cluster_id: alert for alert in alerts if alert.cluster_id is not None}


def visible_escalations_by_id(*, user: User, ids: Iterable[int | None]) -> dict[int, Escalation]:
    """The escalations among ``ids`` that ``user`` may see: a restricted one stays hidden
    even where a cluster points at it."""
    wanted = {pk for pk in ids if pk is not None}
    if not wanted:
        return {}
    return {e.pk: e for e in escalations_visible_to(user).filter(pk__in=wanted)}


def filter_options() -> dict[str, list[str]]:
    """The values the filters offer, from the series buckets of the last week (one query)."""
    from watchfloor.core import clock

    since = clock.now() - timedelta(days=7)
    markets, languages, policies = set(), set(), set()
    for market, policy, language in (
        SeriesBucket.objects.filter(bucket_start__gte=since)
        .values_list("market", "policy", "language")
        .distinct()
    ):
        markets.add(market)
        languages.add(language)
        policies.add(policy)
    return {
        "markets": sorted(m for m in markets if m),
        "languages": sorted(language for language in languages if language),
        "policies": sorted(p for p in policies if p),
    }


# ---------------------------------------------------------------- one cluster


def cluster_signals(cluster: Cluster) -> QuerySet[Signal]:
    """The cluster's signals, newest first; quarantined ones are left out."""
    return cluster.signals.filter(quarantined_at__isnull=True).order_by("-received_at", "-pk")


@dataclass(frozen=True)
class SampleText:
    text: str
    language: str
    count: int
    source: str


def sample_texts(cluster: Cluster, *, limit: int = 8, scan: int = 400) -> list[SampleText]:
    """A few distinct texts, each language represented before any repeats: the analyst
    sees what was said in every script, not 8 copies of the first retweet."""
    rows = (
        cluster.signals.exclude(text="")
        .filter(quarantined_at__isnull=True)
        .order_by("received_at", "pk")
        .values_list("text", "language", "source")[:scan]
    )
    counts: Counter[str] = Counter()
    first: dict[str, tuple[str, str, str]] = {}
    for text, language, source in rows:
        key = " ".join(text.split()).casefold()
        counts[key] += 1
        first.setdefault(key, (text, language or "", source))
    by_language: dict[str, list[str]] = defaultdict(list)
    for key in sorted(counts, key=lambda k: -counts[k]):
        by_language[first[key][1]].append(key)
    chosen: list[str] = []
    while len(chosen) < limit and any(by_language.values()):
        for language in sorted(by_language, key=lambda lang: -len(by_language[lang])):
            if by_language[language] and len(chosen) < limit:
                chosen.append(by_language[language].pop(0))
    return [
        SampleText(
            text=first[key][0], language=first[key][1], count=counts[key], source=first[key][2]
        )
        for key in chosen
    ]


@dataclass(frozen=True)
class RelatedCluster:
    cluster: Cluster
    key_kind: str
    signal_count: int


def related_clusters(cluster: Cluster) -> list[RelatedCluster]:
    """Clusters that share a signal's other key with this one (kept apart on purpose)."""
    relations = ClusterRelation.objects.filter(Q(cluster=cluster) | Q(related=cluster))
    pairs = []
    for relation in relations.values("cluster_id", "related_id", "key_kind", "signal_count"):
        other = (
            relation["related_id"]
            if relation["cluster_id"] == cluster.pk
            else relation["cluster_id"]
        )
        pairs.append((other, relation["key_kind"], relation["signal_count"]))
    others = Cluster.objects.in_bulk([pk for pk, _, _ in pairs])
    return [
        RelatedCluster(cluster=others[pk], key_kind=kind, signal_count=count)
        for pk, kind, count in pairs
        if pk in others
    ]


def surge_history(cluster: Cluster) -> QuerySet[SurgeAlert]:
    return cluster.surges.select_related("acknowledged_by").order_by("-raised_at")


# ---------------------------------------------------------------- the surge feed


@dataclass(frozen=True)
class SurgeFilters:
    only_open: bool = False
    subject: str = ""


def surge_feed(*, user: User, filters: SurgeFilters) -> QuerySet[SurgeAlert]:
    alerts = surges_visible_to(user)
    if filters.only_open:
        alerts = alerts.filter(ended_at__isnull=True)
    if filters.subject:
        alerts = alerts.filter(subject=filters.subject)
    return alerts.select_related("cluster", "acknowledged_by").order_by("-raised_at", "-pk")


def describe_surge_subject(alert: SurgeAlert) -> str:
    """What surged, in words: a cluster, or a market series (all of it, one policy, or
    one language)."""
    if alert.subject == SurgeAlert.Subject.CLUSTER:
        return f"cluster C-{alert.cluster_id}"
    parts = [alert.market or "no market"]
    if alert.policy == ALL and alert.language == ALL:
        parts.append("all signals")
    if alert.policy != ALL:
        parts.append((alert.policy or "no policy hint").replace("_", " "))
    if alert.language != ALL:
        parts.append(alert.language or "language unknown")
    return " × ".join(parts)


def surge_threshold_per_hour(alert: SurgeAlert) -> float:
    """The rate over the alert's window that raised it (its raise level), per hour."""
    config = surge_config(alert.subject)
    buckets = alert.window // config.bucket
    level = raise_level(buckets, Fraction(alert.baseline_rate) / config.per_hour, config)
    return float(level) / (alert.window / timedelta(hours=1))


def surge_explanation(alert: SurgeAlert) -> str:
    """The alert's numbers in a sentence: what the window held against what was expected."""
    window_hours = alert.window / timedelta(hours=1)
    count = round(alert.current_rate * window_hours)
    expected = alert.baseline_rate * window_hours
    return (
        f"{count} signals in {_duration_words(alert.window)} against {expected:.1f} expected "
        f"({alert.baseline_rate:.1f}/h): {alert.ratio:.1f}×"
    )


def _duration_words(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def series_sparklines(alerts: Sequence[SurgeAlert], *, end: datetime) -> dict[int, list[int]]:
    """Sparklines for the series alerts on a page, in one query."""
    series = [a for a in alerts if a.subject == SurgeAlert.Subject.SERIES]
    if not series:
        return {}
    buckets = int(SPARKLINE_SPAN / BUCKET)
    start = end - buckets * BUCKET
    keys = {(a.market, a.policy, a.language) for a in series}
    by_key: dict[tuple[str, str, str], list[int]] = {key: [0] * buckets for key in keys}
    rows = SeriesBucket.objects.filter(
        market__in={k[0] for k in keys}, bucket_start__gte=start, bucket_start__lt=end
    ).values_list("market", "policy", "language", "bucket_start", "count")
    for market, policy, language, bucket_start, count in rows:
        # A bucket counts in its own triple (alerts raised before the market series) and
        # in the market series that contain it.
        for key in ((market, policy, language), *series_containing(market, policy, language)):
            if key in by_key:
                by_key[key][int((bucket_start - start) / BUCKET)] += count
    return {a.pk: by_key[(a.market, a.policy, a.language)] for a in series}


@dataclass(frozen=True)
class MarketSurge:
    """The open alerts of one market, merged: what the analyst is told first."""

    market: str
    alerts: list[SurgeAlert]
    lead: SurgeAlert

    @property
    def explanation(self) -> str:
        market = self.market or "no market"
        lead = f"{describe_surge_subject(self.lead)} ({surge_explanation(self.lead)})"
        if len(self.alerts) == 1:
            return f"{market}: {lead}"
        return f"{market}: {len(self.alerts)} series rising, led by {lead}"


def market_surges(alerts: Iterable[SurgeAlert]) -> list[MarketSurge]:
    """The open ``alerts`` grouped by market (a cluster's is its commonest market), each
    led by its highest ratio; the markets with the most alerts first. Reads nothing."""
    by_market: dict[str, list[SurgeAlert]] = defaultdict(list)
    for alert in alerts:
        if alert.ended_at is not None:
            continue
        if alert.subject == SurgeAlert.Subject.CLUSTER:
            markets = alert.cluster.markets if alert.cluster is not None else {}
            market = max(markets, key=lambda m: (markets[m], m), default="")
        else:
            market = alert.market
        by_market[market].append(alert)
    merged = [
        MarketSurge(
            market=market,
            alerts=group,
            lead=max(group, key=lambda a: (a.ratio, a.policy == ALL and a.language == ALL)),
        )
        for market, group in by_market.items()
    ]
    return sorted(merged, key=lambda m: (-len(m.alerts), -m.lead.ratio, m.market))


def tally_rows(tally: dict[str, Any], *, limit: int = 12) -> list[tuple[str, int]]:
    """A {value: count} tally, largest first."""
    return sorted(((str(k), int(v)) for k, v in tally.items()), key=lambda kv: (-kv[1], kv[0]))[
        :limit
    ]


def escalations_for_surges(
    *, user: User, alerts: Sequence[SurgeAlert]
) -> dict[int, list[tuple[str, Escalation]]]:
    """For each alert, the escalations its rule firings opened or noted, as (outcome,
    escalation), those ``user`` may see only (two queries)."""
    from watchfloor.signals.models import RuleFiring

    firings = list(
        RuleFiring.objects.filter(surge_id__in=[a.pk for a in alerts], escalation__isnull=False)
        .order_by("pk")
        .values_list("surge_id", "outcome", "escalation_id")
    )
    visible = visible_escalations_by_id(user=user, ids=[pk for _, _, pk in firings])
    found: dict[int, list[tuple[str, Escalation]]] = defaultdict(list)
    for surge_id, outcome, escalation_id in firings:
        if escalation_id in visible and all(e.pk != escalation_id for _, e in found[surge_id]):
            found[surge_id].append((outcome, visible[escalation_id]))
    return dict(found)
