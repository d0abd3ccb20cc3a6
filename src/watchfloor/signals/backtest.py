"""Replaying signal files through the surge detector at full speed, on their own time.

``backtest`` reads the files, validates each signal against the contract, detects the
missing languages and clusters the signals exactly as the intake would (its PREPARE
steps, then ``clustering.assign_clusters`` over the whole run, in memory), then feeds them
in time order to a ``surge_stream.SurgeStream``: checks at the last signal of each minute
(a live intake's batch) and every five minutes while an alert is open. No database, no
web server, no sleeping: the detector is the one the reactions use.

With onsets (``market,onset`` per line: when something really started in that market),
each market alert is measured against them: its delay from the onset it follows, and
the alerts raised before the first onset (false alerts).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from watchfloor.core.errors import InvalidInput
from watchfloor.core.validation import check_time_range
from watchfloor.signals import clustering
from watchfloor.signals.contract import SignalRejected, load_signal_file, parse_deferred
from watchfloor.signals.intake import (
    IntakeBatch,
    ValidItem,
    detect_language,
    normalise,
    pair_within_batch,
    validate,
)
from watchfloor.signals.surge import DEFAULT_CONFIG, SurgeConfig
from watchfloor.signals.surge_stream import CLUSTER_CONFIG, MarketAlert, SurgeStream

__all__ = ["BacktestResult", "Onset", "backtest", "read_onsets", "write_alerts_csv"]


class OnsetFileError(ValueError):
    pass


@dataclass(frozen=True)
class Onset:
    market: str
    at: datetime


@dataclass
class BacktestResult:
    signals: int
    rejected: list[SignalRejected]
    stream: SurgeStream
    onsets: list[Onset] = field(default_factory=list)

    @property
    def market_alerts(self) -> list[MarketAlert]:
        return self.stream.market_alerts

    def onset_of(self, alert: MarketAlert) -> Onset | None:
        """The latest onset of the alert's market at or before it was raised."""
        before = [o for o in self.onsets if o.market == alert.market and o.at <= alert.raised_at]
        return max(before, key=lambda o: o.at, default=None)

    def delay(self, alert: MarketAlert) -> timedelta | None:
        onset = self.onset_of(alert)
        return alert.raised_at - onset.at if onset else None

    def before_onset(self, market: str) -> list[MarketAlert]:
        """The market's alerts raised before its first onset (all of them if it has none)."""
        first = min((o.at for o in self.onsets if o.market == market), default=None)
        return [
            a
            for a in self.market_alerts
            if a.market == market and (first is None or a.raised_at < first)
        ]

    def first_after(self, onset: Onset) -> MarketAlert | None:
        """The first alert of the onset's market raised at or after it, or still open at
        it (an alert already running when the onset came counts as a delay of zero)."""
        for alert in self.market_alerts:
            if alert.market != onset.market:
                continue
            if alert.raised_at >= onset.at or (alert.ended_at is None or alert.ended_at > onset.at):
                return alert
        return None


def read_onsets(path: str | Path) -> list[Onset]:
    """``market,onset`` lines (a header line is allowed); the onset an ISO 8601 time with
    its offset."""
    onsets = []
    with open(path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or (number == 1 and row[0].strip().lower() == "market"):
                continue
            if len(row) != 2:
                raise OnsetFileError(f"{path}, line {number}: expected market,onset")
            try:
                at = datetime.fromisoformat(row[1].strip().replace("Z", "+00:00"))
            except ValueError:
                raise OnsetFileError(
                    f"{path}, line {number}: onset {row[1].strip()!r} is not an ISO 8601 time"
                ) from None
            if at.tzinfo is None:
                raise OnsetFileError(
                    f"{path}, line {number}: onset {row[1].strip()!r} has no offset (add Z)"
                )
            try:
                check_time_range(at, field="onset")
            except InvalidInput as error:
                raise OnsetFileError(f"{path}, line {number}: {error}") from None
            onsets.append(Onset(market=row[0].strip(), at=at))
    return onsets


def _records(paths: Sequence[str | Path]) -> Iterable[tuple[int, Any]]:
    for path in paths:
        for line, record in load_signal_file(path, defer_json=True):
            yield line, parse_deferred(line, record)


def cluster_records(
    records: Sequence[tuple[int | None, Any]],
) -> tuple[list[ValidItem], list[int], list[SignalRejected]]:
    """The valid signals among ``records`` (``(line, record)``), each once, with the
    cluster the intake would give it (numbered from 1 in the order clusters start), and
    the rejected ones. The intake's PREPARE steps, then one ``assign_clusters`` over all
    of them: a batch clusters exactly as its signals sent one at a time."""
    batch = IntakeBatch.of(
        [record for _, record in records],
        producer="backtest",
        actor=None,
        lines=[line for line, _ in records],
    )
    validate(batch)
    seen: set[str] = set()
    for item in batch.items:
        if item.signal is not None and item.signal.id in seen:
            item.signal = None  # sent twice: counted once, as the intake would
        elif item.signal is not None:
            seen.add(item.signal.id)
    normalise(batch)
    detect_language(batch)
    pair_within_batch(batch)
    items = batch.valid()
    assignment = clustering.assign_clusters(
        [item.keys for item in items],
        owners={},
        indexes=clustering.ClusterIndexes(clustering.clustering_config()),
        neighbours=batch.neighbours,
    )
    rejected = [item.rejection for item in batch.items if item.rejection is not None]
    return items, [-cluster_id for cluster_id in assignment.cluster_ids], rejected


def backtest(
    paths: Sequence[str | Path],
    *,
    onsets: Sequence[Onset] = (),
    config: SurgeConfig = DEFAULT_CONFIG,
    cluster_config: SurgeConfig = CLUSTER_CONFIG,
) -> BacktestResult:
    """Run the files' signals through the detector; see the module's docstring."""
    records = list(_records(paths))
    items, cluster_ids, rejected = cluster_records(records)
    timed = sorted(
        (
            (
                item.signal.received_at,
                item.index,
                item.signal.market or "",
                item.signal.policy_hint or "",
                item.language,
                cluster_id,
            )
            for item, cluster_id in zip(items, cluster_ids, strict=True)
        ),
    )
    stream = SurgeStream(config=config, cluster_config=cluster_config)
    stream.run(
        (at, market, policy, language, cluster)
        for at, _, market, policy, language, cluster in timed
    )
    return BacktestResult(signals=len(items), rejected=rejected, stream=stream, onsets=list(onsets))


CSV_FIELDS = [
    "market",
    "raised_at",
    "ended_at",
    "minutes_open",
    "onset",
    "delay_minutes",
    "before_onset",
    "series",
    "lead_series",
    "window_minutes",
    "observed",
    "expected",
    "ratio",
    "explanation",
]


def alert_rows(result: BacktestResult) -> list[dict[str, Any]]:
    rows = []
    for alert in result.market_alerts:
        onset = result.onset_of(alert)
        first = min((o.at for o in result.onsets if o.market == alert.market), default=None)
        lead = alert.lead
        rows.append(
            {
                "market": alert.market,
                "raised_at": alert.raised_at.isoformat(),
                "ended_at": alert.ended_at.isoformat() if alert.ended_at else "",
                "minutes_open": round((alert.ended_at - alert.raised_at) / timedelta(minutes=1), 1)
                if alert.ended_at
                else "",
                "onset": onset.at.isoformat() if onset else "",
                "delay_minutes": round((alert.raised_at - onset.at) / timedelta(minutes=1), 1)
                if onset
                else "",
                "before_onset": bool(first is not None and alert.raised_at < first),
                "series": len({a.series for a in alert.alerts}),
                "lead_series": lead.series.label,
                "window_minutes": int(lead.surge.window / timedelta(minutes=1)),
                "observed": lead.surge.current_count,
                "expected": round(lead.surge.expected_count, 2),
                "ratio": round(lead.surge.ratio, 2),
                "explanation": alert.explanation,
            }
        )
    return rows


def write_alerts_csv(result: BacktestResult, path: str | Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(alert_rows(result))
