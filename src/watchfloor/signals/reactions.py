"""What happens after signals are stored: surge checks and auto-escalation rules.

Run by the worker for the batches waiting in the reactions backlog (``signals.backlog``),
after they have committed, so a failure here never loses an acknowledged signal. Each
alert raised or ended, each cluster woken and each rule firing is its own transaction,
so one failure does not undo the others.

The surge lifecycle (raised, open, ended) is ``signals.surge_checks``.

The touched clusters' velocities and triage scores (``signals.triage``) are refreshed
first; the periodic pass also scores clusters stored before the score existed.

Then the rules: every enabled rule is matched against each touched cluster (and each
cluster that has just woken from a snooze), and series rules against the open alerts of
touched series; a match acts once (``auto_escalation.apply_rule``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models.fields.json import KeyTextTransform

from watchfloor.catalog.selectors import active_catalog_version, catalog_for, rubric_for
from watchfloor.core import clock
from watchfloor.core.errors import NotFound
from watchfloor.signals import auto_escalation, services
from watchfloor.signals.counting import SeriesKey, velocities
from watchfloor.signals.models import Cluster, Signal, SurgeAlert
from watchfloor.signals.rule_matching import match_cluster, match_series_surge
from watchfloor.signals.rules import (
    EMPTY_RULES,
    RuleSet,
    rules_in_force,
)
from watchfloor.signals.selectors import (
    bucket_end,
    effective_state,
    surge_config,
)
from watchfloor.signals.suggestions import severity_hint, types_by_policy
from watchfloor.signals.surge_checks import (
    check_clusters,
    check_series,
    end_fallen_alerts,
    open_series_alerts,
)
from watchfloor.signals.surge_stream import series_keys_for
from watchfloor.signals.triage import triage_cluster

__all__ = [
    "ReactionReport",
    "SeriesKey",
    "after_ingest",
    "check_all",
    "react_on_signal_time",
    "refresh_triage",
    "surge_config",
]

if TYPE_CHECKING:
    from watchfloor.people.models import User

logger = logging.getLogger(__name__)
# How often the periodic check runs in a quiet stretch of signal time (as in a replay).
QUIET_CHECK = timedelta(minutes=5)


@dataclass
class ReactionReport:
    """What one pass did; the replay prints it, tests read it."""

    raised: list[SurgeAlert] = field(default_factory=list)
    ended: list[SurgeAlert] = field(default_factory=list)
    woken: list[int] = field(default_factory=list)
    fired: list = field(default_factory=list)

    def add(self, other: ReactionReport) -> None:
        self.raised += other.raised
        self.ended += other.ended
        self.woken += other.woken
        self.fired += other.fired


def after_ingest(
    *, cluster_ids: Iterable[int], series_keys: Iterable[SeriesKey], actor: User | None
) -> ReactionReport:
    """Check the touched clusters and series for surges and run the auto-escalation rules."""
    now = clock.now()
    touched_clusters = sorted({int(pk) for pk in cluster_ids})
    touched_series = series_keys_for(series_keys)
    report = ReactionReport()
    report.woken = services.wake_due_clusters(now=now)
    refresh_velocities(touched_clusters, now=now)
    refresh_triage(touched_clusters)
    check_clusters(touched_clusters, now=now, report=report)
    check_series(touched_series, now=now, report=report)
    end_fallen_alerts(
        now=now, skip_clusters=set(touched_clusters), skip_series=set(touched_series), report=report
    )
    ruleset = current_rules()
    if ruleset.rules:
        _run_cluster_rules(ruleset, [*touched_clusters, *report.woken], now=now, report=report)
        _run_series_rules(ruleset, touched_series, report=report)
    return report


def check_all(*, now: datetime | None = None) -> ReactionReport:
    """The periodic pass (``watchfloor surges check``): wake snoozed clusters, end alerts
    whose rate fell back, refresh the velocities of clusters that were busy in the last day,
    and run the rules on any cluster that woke."""
    now = now or clock.now()
    report = ReactionReport()
    report.woken = services.wake_due_clusters(now=now)
    stale = list(Cluster.objects.filter(velocity_24h__gt=0).values_list("pk", flat=True))
    for start in range(0, len(stale), 500):
        refresh_velocities(stale[start : start + 500], now=now)
    # Clusters stored before the triage score existed get theirs here, a few at a time.
    refresh_triage(
        list(
            Cluster.objects.filter(triage_score__isnull=True).values_list("pk", flat=True)[
                :TRIAGE_BACKFILL
            ]
        )
    )
    end_fallen_alerts(now=now, skip_clusters=set(), skip_series=set(), report=report)
    ruleset = current_rules()
    if ruleset.rules and report.woken:
        _run_cluster_rules(ruleset, report.woken, now=now, report=report)
    return report


def react_on_signal_time(
    signals: Iterable[tuple[datetime, int, SeriesKey]], *, since: datetime | None = None
) -> ReactionReport:
    """The reactions of stored signals ``(received_at, cluster id, series triple)`` run
    on the signals' own time, as if they were arriving now: ``after_ingest`` for each
    5-minute bucket that received signals, with ``core.clock`` at its last signal, and
    the periodic check every 5 minutes in between while an alert is open (from
    ``since``, the time the previous call ended at). For ``watchfloor ingest --react``
    on a file of past signals, in time order."""
    groups: dict[datetime, tuple[set[int], set[SeriesKey], list[datetime]]] = {}
    for at, cluster_id, key in signals:
        clusters, series, times = groups.setdefault(bucket_end(at), (set(), set(), []))
        clusters.add(cluster_id)
        market, policy, language = key
        series.add((market, policy, language))
        times.append(at)
    report = ReactionReport()
    previous = since
    for _, (clusters, series, times) in sorted(groups.items()):
        last = max(times)
        if previous is not None:
            tick = previous + QUIET_CHECK
            while tick < last and SurgeAlert.objects.filter(ended_at__isnull=True).exists():
                with clock.frozen_at(tick):
                    report.add(check_all())
                tick += QUIET_CHECK
        with clock.frozen_at(last):
            report.add(
                after_ingest(cluster_ids=sorted(clusters), series_keys=sorted(series), actor=None)
            )
        previous = last if previous is None else max(previous, last)
    return report


def current_rules() -> RuleSet:
    try:
        version = active_catalog_version()
    except NotFound:
        logger.error("auto-escalation rules are off: no catalog is loaded")
        return EMPTY_RULES
    return rules_in_force(catalog_for(version), catalog_key=version.digest)


# ---------------------------------------------------------------- velocities


def refresh_velocities(cluster_ids: list[int], *, now: datetime) -> None:
    """The velocities (``counting.velocities``, the one definition) and the severity hint
    that follows from them; only changed rows are written."""
    if not cluster_ids:
        return
    found = velocities(cluster_ids, now=now)
    clusters = list(
        Cluster.objects.filter(pk__in=cluster_ids)
        .select_related("escalation")
        .only(
            "pk",
            "policy_hints",
            "sources",
            "reach_impressions",
            "signal_count",
            *_FIGURES,
            "escalation__severity",
        )
    )
    rubric, by_policy = _hint_inputs()
    changed = []
    for cluster in clusters:
        before = tuple(getattr(cluster, name) for name in _FIGURES)
        cluster.velocity_5m, cluster.velocity_1h, cluster.velocity_24h = found.get(
            cluster.pk, (0, 0, 0)
        )
        if rubric is not None:
            cluster.severity_hint = severity_hint(
                cluster,
                rubric=rubric,
                by_policy=by_policy,
                escalation_severity=cluster.escalation.severity if cluster.escalation else None,
            )
        after = tuple(getattr(cluster, name) for name in _FIGURES)
        if after != before:
            changed.append((*after, cluster.pk))
    _write_figures(changed)


# The figures this pass keeps. Written with one parameterised statement run for each
# changed cluster: Django's bulk_update builds a CASE per field and row, which for the
# 2,000 clusters of a large batch took longer than storing the batch itself.
_FIGURES = ("velocity_5m", "velocity_1h", "velocity_24h", "severity_hint")


def _write_figures(rows: list[tuple]) -> None:
    if not rows:
        return
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(name)} = %s" for name in _FIGURES)
    sql = f"UPDATE {quote(Cluster._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"  # noqa: S608 (names from the model, values as parameters)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


# ---------------------------------------------------------------- triage

# Clusters without a triage score scored per periodic pass (those stored before it existed).
TRIAGE_BACKFILL = 2000


def refresh_triage(cluster_ids: list[int]) -> None:
    """The triage score (``signals.triage``) of these clusters, from their
    representative's text, link, media and reporter and the sources of their signals;
    only changed rows are written. The text's part is cached, so a busy cluster whose
    text has not changed costs a lookup."""
    if not cluster_ids:
        return
    rows = (
        Cluster.objects.filter(pk__in=cluster_ids)
        .annotate(verified=KeyTextTransform("verified", "representative__attributes"))
        .values_list(
            "pk",
            "representative_text",
            "representative_url",
            "sources",
            "verified",
            "representative__media_md5",
            "representative__media_sha256",
            "representative__media_pdq",
            "triage_score",
            "triage_reasons",
        )
    )
    changed = []
    for pk, text, url, sources, verified, md5, sha256, pdq, score, reasons in rows:
        found = triage_cluster(
            text=text,
            url=url,
            sources=sources,
            verified=verified in (True, 1, "true", "1"),
            has_media=bool(md5 or sha256 or pdq),
        )
        new_score, new_reasons = round(found.score, 4), found.reasons()
        if new_score != score or new_reasons != reasons:
            changed.append((new_score, json.dumps(new_reasons, ensure_ascii=False), pk))
    if not changed:
        return
    quote = connection.ops.quote_name
    # A JSON parameter is text: PostgreSQL's jsonb wants it cast, SQLite stores it as is.
    as_json = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    sql = (
        f"UPDATE {quote(Cluster._meta.db_table)} SET {quote('triage_score')} = %s, "  # noqa: S608 (names from the model, values as parameters)
        f"{quote('triage_reasons')} = {as_json} WHERE {quote('id')} = %s"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, changed)


def _hint_inputs():
    try:
        version = active_catalog_version()
    except NotFound:
        return None, {}
    return rubric_for(version), types_by_policy()


# ---------------------------------------------------------------- rules


def _run_cluster_rules(
    ruleset: RuleSet, cluster_ids: list[int], *, now: datetime, report: ReactionReport
) -> None:
    rules = [rule for rule in ruleset.rules if not rule.on_series]
    if not rules or not cluster_ids:
        return
    clusters = Cluster.objects.in_bulk(cluster_ids)
    surges = {
        alert.cluster_id: alert
        for alert in SurgeAlert.objects.filter(
            subject=SurgeAlert.Subject.CLUSTER, cluster_id__in=cluster_ids, ended_at__isnull=True
        )
    }
    from watchfloor.signals.models import RuleFiring

    already = set(
        RuleFiring.objects.filter(
            cluster_id__in=cluster_ids, rule_code__in=[rule.code for rule in rules]
        ).values_list("rule_code", "cluster_id")
    )
    with_alerts = [pk for pk, c in clusters.items() if c.sources.get("external_alert")]
    alerts = _official_alerts(with_alerts) if with_alerts else {}
    # A cluster of nothing but official alerts from senders nobody trusts is never acted
    # on, whatever the rule: anyone can write a CAP file (docs/warning.md).
    account = auto_escalation.rules_account()
    untrusted = {
        pk
        for pk in with_alerts
        if set(clusters[pk].sources) == {"external_alert"}
        and not any(alert.get("trusted") is True for alert in alerts.get(pk, ()))
    }
    for pk in dict.fromkeys(cluster_ids):
        cluster = clusters.get(pk)
        if cluster is None or pk in untrusted:
            continue
        for rule in rules:
            if (rule.code, pk) in already:
                continue
            state = effective_state(cluster, now)
            match = match_cluster(
                rule, cluster, state=state, surge=surges.get(pk), alerts=alerts.get(pk, ())
            )
            if match is None:
                continue
            firing = auto_escalation.apply_rule(
                rule=rule, ruleset=ruleset, match=match, cluster=cluster, account=account
            )
            if firing is not None:
                report.fired.append(firing)
                already.add((rule.code, pk))
                # Its state or escalation may have changed: the firing holds the copy read
                # under its lock and changed with it (unless its action was rolled back).
                if firing.outcome != "skipped" and firing.cluster is not None:
                    cluster = firing.cluster
                else:
                    cluster.refresh_from_db()


def _official_alerts(cluster_ids: list[int]) -> dict[int, list[dict]]:
    """The ``attributes.alert`` of the clusters' official alerts (source
    ``external_alert``), newest first, for the rules with an ``alert`` condition."""
    found: dict[int, list[dict]] = {}
    rows = (
        Signal.objects.filter(cluster_id__in=cluster_ids, source="external_alert")
        .order_by("-received_at", "-pk")
        .values_list("cluster_id", "attributes")
    )
    for cluster_id, attributes in rows:
        alert = attributes.get("alert") if isinstance(attributes, dict) else None
        if isinstance(alert, dict):
            found.setdefault(cluster_id, []).append(alert)
    return found


def _run_series_rules(ruleset: RuleSet, keys: list[SeriesKey], *, report: ReactionReport) -> None:
    rules = [rule for rule in ruleset.rules if rule.on_series]
    if not rules or not keys:
        return
    account = auto_escalation.rules_account()
    for alert in open_series_alerts(keys).values():
        for rule in rules:
            match = match_series_surge(rule, alert)
            if match is None:
                continue
            firing = auto_escalation.apply_rule(
                rule=rule, ruleset=ruleset, match=match, alert=alert, account=account
            )
            if firing is not None:
                report.fired.append(firing)
