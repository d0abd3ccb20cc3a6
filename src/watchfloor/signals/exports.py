"""Clusters and surge alerts out of the system, as JSON Lines or CSV.

A cluster's record carries its id, the kind of key that holds it together (and how many
signals joined by each kind), its representative, its
counts and tallies, and the ids of its signals (producer and producer's id, the pair that
is unique); a surge alert's record says what surged, when it started, when it was raised
and ended, and the baseline it was measured against.

CSV cells are safe to open in a spreadsheet: reported text is adversarial, so a cell that
starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is prefixed with
``'`` and is never run as a formula. Nested values (tallies, signal ids) are JSON text in
their cell.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from watchfloor.core.spreadsheet import write_csv
from watchfloor.core.validation import time_range_problem, within_time_range
from watchfloor.escalations.models import Escalation
from watchfloor.severity.rubric import parse_iso_duration
from watchfloor.signals.models import Cluster, Signal, SurgeAlert
from watchfloor.signals.selectors import (
    describe_surge_subject,
    join_kinds,
    key_kind,
    surge_explanation,
)

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

CLUSTER_FIELDS = (
    "id",
    "state",
    "key_kind",
    "joined_by",
    "representative",
    "representative_url",
    "subject_kind",
    "subject_ref",
    "first_seen_at",
    "last_seen_at",
    "signal_count",
    "reporter_count",
    "velocity_1h",
    "reach_impressions",
    "markets",
    "languages",
    "sources",
    "policy_hints",
    "escalation",
    "signal_ids",
)
SURGE_FIELDS = (
    "id",
    "subject",
    "what",
    "cluster_id",
    "market",
    "policy",
    "language",
    "started_at",
    "raised_at",
    "ended_at",
    "ratio",
    "current_rate_per_hour",
    "baseline_rate_per_hour",
    "window_minutes",
    "baseline_window_minutes",
    "explanation",
    "acknowledged_by",
)
FORMATS = ("jsonl", "csv")
_RELATIVE = re.compile(r"^(?P<amount>\d+)\s*(?P<unit>[mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime) -> datetime:
    """``2026-11-24T09:00:00+09:00``, ``2026-11-24`` (UTC midnight), ``24h``/``7d`` or
    ``PT24H`` (that long before ``now``)."""
    value = text.strip()
    relative = _RELATIVE.match(value)
    try:
        if relative:
            amount = int(relative["amount"])
            moment = now - timedelta(**{_UNITS[relative["unit"]]: amount})
        elif value.upper().startswith("P"):
            moment = now - parse_iso_duration(value.upper())
        else:
            moment = _absolute_since(text, value)
    except OverflowError:  # "99999999d": further back than the calendar goes
        raise ValueError(time_range_problem("since", repr(text))) from None
    if not within_time_range(moment):
        raise ValueError(time_range_problem("since", repr(text)))
    return moment.astimezone(UTC)


def _absolute_since(text: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"'{text}' is not a time: use 2026-11-24T09:00:00+09:00, 2026-11-24, 24h, 7d or PT6H"
        ) from None
    if moment.tzinfo is None:
        if "T" in value or " " in value:
            raise ValueError(f"'{text}' needs its UTC offset, e.g. {value}+09:00 or {value}Z")
        moment = moment.replace(tzinfo=UTC)
    return moment


def _utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def cluster_records(*, since: datetime | None = None, chunk: int = 200) -> Iterator[dict[str, Any]]:
    """Every cluster with a signal since ``since`` (all without it), oldest first.

    Signal ids are read a chunk of clusters at a time, so a cluster of 40,000 signals
    costs one query with its neighbours, not one per signal.
    """
    clusters = Cluster.objects.order_by("pk")
    if since is not None:
        clusters = clusters.filter(last_seen_at__gte=since)
    batch: list[Cluster] = []
    for cluster in clusters.iterator(chunk_size=chunk):
        batch.append(cluster)
        if len(batch) == chunk:
            yield from _cluster_batch(batch)
            batch = []
    if batch:
        yield from _cluster_batch(batch)


def _cluster_batch(clusters: list[Cluster]) -> Iterator[dict[str, Any]]:
    ids = [cluster.pk for cluster in clusters]
    kinds = join_kinds(ids)
    signal_ids: dict[int, list[dict[str, str]]] = {pk: [] for pk in ids}
    for cluster_id, producer, external_id in (
        Signal.objects.filter(cluster_id__in=ids, quarantined_at__isnull=True)
        .order_by("cluster_id", "received_at", "pk")
        .values_list("cluster_id", "producer", "external_id")
    ):
        signal_ids[cluster_id].append({"producer": producer, "id": external_id})
    # Need to know: a restricted escalation is not named outside its access list.
    escalations = {
        pk: (reference, restricted)
        for pk, reference, restricted in (
            (e.pk, e.reference, e.is_restricted)
            for e in Escalation.objects.filter(
                pk__in={c.escalation_id for c in clusters if c.escalation_id}
            ).only("pk", "is_restricted")
        )
    }
    for cluster in clusters:
        escalation = escalations.get(cluster.escalation_id) if cluster.escalation_id else None
        yield {
            "id": cluster.pk,
            "state": cluster.state,
            "key_kind": key_kind(kinds[cluster.pk]),
            "joined_by": kinds[cluster.pk],
            "representative": cluster.representative_text,
            "representative_url": cluster.representative_url,
            "subject_kind": cluster.subject_kind,
            "subject_ref": cluster.subject_ref,
            "first_seen_at": _utc(cluster.first_seen_at),
            "last_seen_at": _utc(cluster.last_seen_at),
            "signal_count": cluster.signal_count,
            "reporter_count": cluster.reporter_count,
            "velocity_1h": cluster.velocity_1h,
            "reach_impressions": cluster.reach_impressions,
            "markets": dict(cluster.markets),
            "languages": dict(cluster.languages),
            "sources": dict(cluster.sources),
            "policy_hints": dict(cluster.policy_hints),
            "escalation": (
                None if escalation is None else "restricted" if escalation[1] else escalation[0]
            ),
            "signal_ids": signal_ids[cluster.pk],
        }


def surge_records(*, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Every surge alert raised since ``since`` (all without it), oldest first."""
    alerts = SurgeAlert.objects.select_related("acknowledged_by").order_by("raised_at", "pk")
    if since is not None:
        alerts = alerts.filter(raised_at__gte=since)
    for alert in alerts.iterator(chunk_size=500):
        yield {
            "id": alert.pk,
            "subject": alert.subject,
            "what": describe_surge_subject(alert),
            "cluster_id": alert.cluster_id,
            "market": alert.market,
            "policy": alert.policy,
            "language": alert.language,
            "started_at": _utc(alert.started_at),
            "raised_at": _utc(alert.raised_at),
            "ended_at": _utc(alert.ended_at),
            "ratio": round(alert.ratio, 3),
            "current_rate_per_hour": round(alert.current_rate, 3),
            "baseline_rate_per_hour": round(alert.baseline_rate, 3),
            "window_minutes": round(alert.window / timedelta(minutes=1)),
            "baseline_window_minutes": round(alert.baseline_window / timedelta(minutes=1)),
            "explanation": surge_explanation(alert),
            "acknowledged_by": alert.acknowledged_by.username if alert.acknowledged_by else None,
        }


def _csv_cell(value: Any) -> str:
    """A record's value as a cell's text (write_csv makes it spreadsheet-safe)."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def write_records(
    records: Iterable[dict[str, Any]],
    *,
    stream: SupportsWrite[str],
    fields: tuple[str, ...],
    format: str,
) -> int:
    """Write ``records`` to ``stream`` as ``jsonl`` or ``csv``; returns how many."""
    if format not in FORMATS:
        raise ValueError(f"unknown format '{format}'; use {' or '.join(FORMATS)}")
    count = 0
    if format == "jsonl":
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        return count
    rows = ([_csv_cell(record.get(name)) for name in fields] for record in records)
    return write_csv(stream, fields, rows)
