"""Signals clusters in a crisis, and whether the crisis is being contained.

A crisis's clusters are the ones linked to it directly (``link_cluster``) and the ones
attached to its linked escalations (``signals.Cluster.escalation``) that the reader may
see. The containment figures read only aggregates: the 5-minute ``ClusterBucket`` counts
summed per hour, the watchlist hits counted per hour in the database, and the clusters'
own tallies. Nothing here reads signals one by one, and the window is bounded (the last
24 hours, ending with the hour that holds now), so the war room's 15-second refresh costs
the same with a thousand signals or a million.

Partner-team members see no clusters or signals (``signals.selectors``), so they see none
of this either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)

from watchfloor.audit.events import AuditAction
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, NotFound
from watchfloor.core.validation import clean_text, require
from watchfloor.crises import permissions
from watchfloor.crises.models import Crisis, CrisisCluster, WatchlistEntry, WatchlistHit
from watchfloor.crises.permissions import may_work_crisis
from watchfloor.crises.services.common import lock_crisis, record_crisis_event, refuse_if_closed
from watchfloor.crises.watchlists import WatchlistMatch, recent_hits, watchlist_of
from watchfloor.signals.models import Cluster, ClusterBucket, SurgeAlert
from watchfloor.signals.permissions import can_see_signals
from watchfloor.signals.selectors import (
    bucket_end,
    by_triage_score,
    clusters_visible_to,
    effective_state,
    tally_rows,
)
from watchfloor.signals.tallies import summed_tallies

if TYPE_CHECKING:
    from watchfloor.people.models import User

__all__ = [
    "CONTAINMENT_WINDOW",
    "Containment",
    "HourFigure",
    "LinkedCluster",
    "WarRoomSignals",
    "containment_figures",
    "crisis_clusters",
    "link_cluster",
    "linked_clusters",
    "unlink_cluster",
    "war_room_signals",
]

HOUR = timedelta(hours=1)
CONTAINMENT_WINDOW = timedelta(hours=24)
# A cluster is still growing while signals reach it: any in the last hour.
GROWING_WINDOW = timedelta(hours=1)
LISTED_CLUSTERS = 50
# From this many clusters, hours that have ended are kept in the cache for SETTLED_FOR.
CACHE_FROM_CLUSTERS = 200
SETTLED_FOR = timedelta(seconds=60)
REASON_MAX = 500


# ---------------------------------------------------------------- services


def _check_may_link(actor: User, crisis: Crisis, cluster: Cluster) -> None:
    require(
        may_work_crisis(actor) and can_see_signals(actor),
        "your role cannot link signals clusters to a crisis",
    )
    if not permissions.may_see(actor, crisis):
        raise NotFound(f"no crisis {crisis.reference} that you can see", field="crisis_id")
    if not clusters_visible_to(actor).filter(pk=cluster.pk).exists():
        raise NotFound(f"no cluster C-{cluster.pk} that you can see", field="cluster")


@transaction.atomic
def link_cluster(
    *, crisis: Crisis, cluster: Cluster, actor: User, reason: str = ""
) -> CrisisCluster:
    """Make a signals cluster part of a crisis: its signals count in the containment
    figures and it is listed in the war room."""
    _check_may_link(actor, crisis, cluster)
    crisis = lock_crisis(crisis)
    refuse_if_closed(crisis, "link the cluster to a new crisis instead")
    reason = clean_text(reason, field="reason", max_length=REASON_MAX, required=False)
    if CrisisCluster.objects.filter(crisis=crisis, cluster=cluster).exists():
        raise Conflict(f"C-{cluster.pk} is already part of {crisis.reference}", field="cluster")
    try:
        with transaction.atomic():
            link = CrisisCluster.objects.create(
                crisis=crisis,
                cluster=cluster,
                reason=reason,
                linked_at=clock.now(),
                linked_by=actor,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"C-{cluster.pk} was linked to {crisis.reference} just now", field="cluster"
        ) from exc
    record_crisis_event(
        AuditAction.CRISIS_CLUSTER_LINKED,
        crisis=crisis,
        actor=actor,
        target=link,
        data={
            "cluster_id": cluster.pk,
            "cluster": f"C-{cluster.pk}",
            "signals": cluster.signal_count,
            "reason": reason,
        },
    )
    return link


@transaction.atomic
def unlink_cluster(*, crisis: Crisis, cluster: Cluster, actor: User, reason: str) -> None:
    """Take a directly linked cluster out of a crisis (one attached to a linked escalation
    stays part of it through that escalation)."""
    _check_may_link(actor, crisis, cluster)
    crisis = lock_crisis(crisis)
    refuse_if_closed(crisis, "its clusters are kept as they were")
    reason = clean_text(reason, field="reason", max_length=REASON_MAX, required=True)
    link = CrisisCluster.objects.filter(crisis=crisis, cluster=cluster).first()
    if link is None:
        raise NotFound(f"C-{cluster.pk} is not linked to {crisis.reference}", field="cluster")
    link.delete()
    record_crisis_event(
        AuditAction.CRISIS_CLUSTER_UNLINKED,
        crisis=crisis,
        actor=actor,
        data={"cluster_id": cluster.pk, "cluster": f"C-{cluster.pk}", "reason": reason},
    )


# ---------------------------------------------------------------- selectors


def crisis_clusters(
    *, crisis: Crisis, viewer: User, escalation_ids: list[int]
) -> QuerySet[Cluster]:
    """The crisis's clusters as ``viewer`` may see them: linked directly, or attached to one
    of ``escalation_ids`` (the linked escalations the viewer may see)."""
    direct = CrisisCluster.objects.filter(crisis=crisis).values("cluster_id")
    wanted = Q(pk__in=direct)
    if escalation_ids:
        wanted |= Q(escalation_id__in=list(escalation_ids))
    return clusters_visible_to(viewer).filter(wanted)


@dataclass(frozen=True)
class LinkedCluster:
    cluster: Cluster
    state: str
    # The direct link (None for a cluster attached to a linked escalation).
    link: CrisisCluster | None = None

    @property
    def via_escalation(self) -> str:
        return f"WF-{self.cluster.escalation_id}" if self.link is None else ""


def linked_clusters(
    *,
    crisis: Crisis,
    viewer: User,
    escalation_ids: list[int],
    now: datetime,
    limit: int = LISTED_CLUSTERS,
) -> list[LinkedCluster]:
    """The most informative directly linked clusters and the most informative ones
    attached to linked escalations (at most ``limit`` of each), together ordered by the
    triage score (``signals.triage``; unscored last), then the fastest. Two queries."""
    if not can_see_signals(viewer):
        return []
    links = list(
        CrisisCluster.objects.filter(crisis=crisis)
        .select_related("cluster", "linked_by")
        .order_by(*by_triage_score("cluster__"), "pk")[:limit]
    )
    rows = [LinkedCluster(link.cluster, effective_state(link.cluster, now), link) for link in links]
    if escalation_ids:
        attached = (
            clusters_visible_to(viewer)
            .filter(escalation_id__in=list(escalation_ids))
            .exclude(pk__in=CrisisCluster.objects.filter(crisis=crisis).values("cluster_id"))
            .order_by(*by_triage_score(), "pk")[:limit]
        )
        rows += [LinkedCluster(cluster, effective_state(cluster, now)) for cluster in attached]
    rows.sort(
        key=lambda row: (
            row.cluster.triage_score is None,
            -(row.cluster.triage_score or 0.0),
            -row.cluster.velocity_1h,
            -row.cluster.last_seen_at.timestamp(),
            row.cluster.pk,
        )
    )
    return rows


@dataclass(frozen=True)
class HourFigure:
    start: datetime
    signals: int
    matches: int

    @property
    def end(self) -> datetime:
        return self.start + HOUR


@dataclass(frozen=True)
class Containment:
    """The war room's containment figures over ``start``–``end`` (hours, oldest first)."""

    start: datetime
    end: datetime
    hours: list[HourFigure]
    clusters: int
    growing: int
    surging: int
    signals_total: int
    signals_last_hour: int
    top_markets: list[tuple[str, int]] = field(default_factory=list)
    top_languages: list[tuple[str, int]] = field(default_factory=list)

    @property
    def signals_in_window(self) -> int:
        return sum(hour.signals for hour in self.hours)

    @property
    def matches_in_window(self) -> int:
        return sum(hour.matches for hour in self.hours)

    @property
    def peak_hour(self) -> HourFigure | None:
        busiest = max(self.hours, key=lambda hour: (hour.signals, hour.start), default=None)
        return busiest if busiest is not None and busiest.signals else None

    @property
    def contained(self) -> bool:
        """No cluster took a signal in the last hour."""
        return self.clusters > 0 and self.growing == 0


def hour_floor(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def _bucket_totals(cluster_ids: QuerySet, start: datetime, end: datetime) -> dict[datetime, int]:
    """New signals per 5-minute bucket from ``start`` to ``end``, summed over the clusters
    in the database (twelve rows an hour whatever the number of clusters)."""
    rows = (
        ClusterBucket.objects.filter(
            cluster_id__in=cluster_ids, bucket_start__gte=start, bucket_start__lt=end
        )
        .values("bucket_start")
        .annotate(total=Sum("count"))
        .order_by()
    )
    return {row["bucket_start"]: row["total"] for row in rows}


def _per_hour(totals: dict[datetime, int], hour_starts: list[datetime]) -> list[int]:
    hours = [0] * len(hour_starts)
    if hour_starts:
        for bucket_start, total in totals.items():
            hours[int((bucket_start - hour_starts[0]) / HOUR)] += total
    return hours


def _matches_per_hour(crisis: Crisis, hour_starts: list[datetime]) -> list[int]:
    """Watchlist hits per hour, grouped in the database on the hit-time index."""
    if not hour_starts:
        return []
    hour = Case(
        *(
            When(received_at__lt=moment + HOUR, then=Value(index))
            for index, moment in enumerate(hour_starts)
        ),
        output_field=IntegerField(),
    )
    counts = [0] * len(hour_starts)
    rows = (
        WatchlistHit.objects.filter(
            crisis=crisis, received_at__gte=hour_starts[0], received_at__lt=hour_starts[-1] + HOUR
        )
        .annotate(hour=hour)
        .values("hour")
        .annotate(hits=Count("pk"))
        .order_by()
    )
    for row in rows:
        counts[row["hour"]] = row["hits"]
    return counts


def _settled_hours(
    *, crisis: Crisis, cluster_ids: list[int], cluster_query: QuerySet, hour_starts: list[datetime]
) -> tuple[dict[datetime, int], list[int]]:
    """Signals per 5-minute bucket and matches per hour for hours that have ended, kept
    for ``SETTLED_FOR`` in the process's cache: a late signal dated in one of them shows
    up that much later. Buckets, not hours, so that the last hour's signals can be
    summed from the part of it that has ended."""
    if not hour_starts:
        return {}, []
    digest = hashlib.blake2b(
        ",".join(map(str, sorted(cluster_ids))).encode(), digest_size=16
    ).hexdigest()
    key = (
        f"watchfloor:containment:{crisis.pk}:{digest}:{hour_starts[0]:%Y%m%d%H}:{len(hour_starts)}"
    )
    found = cache.get(key)
    if found is None:
        found = (
            _bucket_totals(cluster_query, hour_starts[0], hour_starts[-1] + HOUR),
            _matches_per_hour(crisis, hour_starts),
        )
        cache.set(key, found, SETTLED_FOR.total_seconds())
    return found


def containment_figures(
    *,
    crisis: Crisis,
    viewer: User,
    escalation_ids: list[int],
    now: datetime,
    window: timedelta = CONTAINMENT_WINDOW,
    top: int = 5,
) -> Containment | None:
    """New signals and watchlist matches per hour over the last ``window``, how many
    clusters there are and how many still grow, and their top markets and languages.

    Every query reads an aggregate, never signals: the clusters' counts (with whether
    each has an open surge alert, and its newest signal, which tells whether it still
    grows), their market and language tallies summed in the database, the 5-minute
    buckets summed per bucket start, and the hits grouped per hour. A crisis of
    ``CACHE_FROM_CLUSTERS`` clusters or more reads the current hour fresh and the ones
    before from a cache kept ``SETTLED_FOR`` (``_settled_hours``): with 2,000
    clusters busy all day, its buckets run to hundreds of thousands of rows.
    """
    if not can_see_signals(viewer):
        return None
    end = hour_floor(now) + HOUR
    start = end - window
    hour_starts = [start + index * HOUR for index in range(int(window / HOUR))]
    clusters = crisis_clusters(crisis=crisis, viewer=viewer, escalation_ids=escalation_ids)
    cluster_query = clusters.values("pk")

    last_hour_to = bucket_end(now)
    last_hour_from = last_hour_to - GROWING_WINDOW
    ids: list[int] = []
    signals_total = surging = growing = 0
    open_surge = Exists(
        SurgeAlert.objects.filter(
            subject=SurgeAlert.Subject.CLUSTER, cluster_id=OuterRef("pk"), ended_at__isnull=True
        )
    )
    for pk, signal_count, last_seen_at, is_surging in clusters.annotate(
        is_surging=open_surge
    ).values_list("pk", "signal_count", "last_seen_at", "is_surging"):
        ids.append(pk)
        signals_total += signal_count
        surging += bool(is_surging)
        # Still growing: its newest signal is in the last hour (its buckets would say the
        # same, at the cost of a query over every bucket of that hour).
        growing += last_hour_from <= last_seen_at < last_hour_to
    # Summed by the database: decoding two JSON tallies per cluster here cost more than
    # the rest of the figures together.
    tallies = summed_tallies(clusters) if ids else {"markets": {}, "languages": {}}

    # The current hour is read fresh, and with few clusters every hour is; the hours
    # before it come from the cache, the part of the last hour that they hold too.
    fresh_from = hour_floor(now) if len(ids) >= CACHE_FROM_CLUSTERS else start
    settled = [moment for moment in hour_starts if moment < fresh_from]
    fresh = [moment for moment in hour_starts if moment >= fresh_from]
    totals = _bucket_totals(cluster_query, fresh_from, end) if fresh else {}
    if settled:
        settled_totals, settled_matches = _settled_hours(
            crisis=crisis, cluster_ids=ids, cluster_query=cluster_query, hour_starts=settled
        )
        totals = {**settled_totals, **totals}
    else:
        settled_matches = []
    signals = _per_hour(totals, hour_starts)
    matches = settled_matches + _matches_per_hour(crisis, fresh)
    signals_last_hour = sum(
        total for moment, total in totals.items() if last_hour_from <= moment < last_hour_to
    )

    return Containment(
        start=start,
        end=end,
        hours=[
            HourFigure(moment, signals[index], matches[index])
            for index, moment in enumerate(hour_starts)
        ],
        clusters=len(ids),
        growing=growing,
        surging=surging,
        signals_total=signals_total,
        signals_last_hour=signals_last_hour,
        top_markets=tally_rows(tallies["markets"], limit=top),
        top_languages=tally_rows(tallies["languages"], limit=top),
    )


@dataclass(frozen=True)
class WarRoomSignals:
    """What the war room shows of signals: the clusters, the containment figures, the
    watchlist and its latest matches."""

    may_see_signals: bool
    clusters: list[LinkedCluster]
    containment: Containment | None
    entries: list[WatchlistEntry]
    hits: list[WatchlistMatch]

    @property
    def more_clusters(self) -> int:
        """Clusters counted in the figures but not listed (beyond the busiest ones)."""
        if self.containment is None:
            return 0
        return max(self.containment.clusters - len(self.clusters), 0)


def war_room_signals(
    *, crisis: Crisis, viewer: User, escalation_ids: list[int], now: datetime
) -> WarRoomSignals:
    may_see_signals = can_see_signals(viewer)
    return WarRoomSignals(
        may_see_signals=may_see_signals,
        clusters=linked_clusters(
            crisis=crisis, viewer=viewer, escalation_ids=escalation_ids, now=now
        ),
        containment=containment_figures(
            crisis=crisis, viewer=viewer, escalation_ids=escalation_ids, now=now
        ),
        entries=list(watchlist_of(crisis)),
        hits=recent_hits(crisis=crisis, viewer=viewer) if may_see_signals else [],
    )
