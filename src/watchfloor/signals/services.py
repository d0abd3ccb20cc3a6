"""Every change to a cluster or a surge alert is one named action here: checked, written
and audited in one transaction.

Analysts escalate a cluster, attach it to an escalation, mark it benign, snooze it or
reopen it. The reactions that run after each ingested batch raise and end surge alerts
and wake snoozed clusters, as the system. A cluster's facts, subjects, markets and
languages, as an escalation takes them, are here too: the escalation form and the
auto-escalation rules (``signals.auto_escalation``, which act as the rules' service
account) both use them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, PermissionDenied
from watchfloor.core.roles import can_work_escalations
from watchfloor.core.validation import check_time_range, clean_text
from watchfloor.escalations.filing import create_escalation
from watchfloor.escalations.inputs import EscalationInput, SubjectInput
from watchfloor.escalations.models import Escalation, Subject
from watchfloor.escalations.selectors import access_escalation
from watchfloor.escalations.services import add_note
from watchfloor.markets.selectors import markets_named
from watchfloor.people.models import User
from watchfloor.signals.models import (
    Cluster,
    ClusterState,
    SurgeAlert,
)
from watchfloor.signals.selectors import (
    describe_surge_subject,
    effective_state,
    tally_rows,
)

if TYPE_CHECKING:
    from watchfloor.signals.surge import Surge

_LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
REASON_MAX = 2_000
LONGEST_SNOOZE = timedelta(days=30)

# Which analyst actions each state allows. A snoozed cluster whose time has passed is
# open (selectors.effective_state) even before the wake-up job writes it down.
CLUSTER_TRANSITIONS: dict[str, frozenset[str]] = {
    ClusterState.OPEN: frozenset(
        {ClusterState.ESCALATED, ClusterState.BENIGN, ClusterState.SNOOZED}
    ),
    ClusterState.SNOOZED: frozenset(
        {ClusterState.OPEN, ClusterState.ESCALATED, ClusterState.BENIGN, ClusterState.SNOOZED}
    ),
    ClusterState.BENIGN: frozenset({ClusterState.OPEN, ClusterState.ESCALATED}),
    # Escalated is where a cluster's work continues: on its escalation.
    ClusterState.ESCALATED: frozenset(),
}


# ---------------------------------------------------------------- helpers


def _require_worker(actor: User, doing: str) -> None:
    if not can_work_escalations(actor):
        raise PermissionDenied(f"your role cannot {doing}: viewers and partners only read")


def _text(value: str | None, *, field: str, required: bool, max_length: int = REASON_MAX) -> str:
    return clean_text(value, field=field, max_length=max_length, required=required)


def locked_cluster(cluster: Cluster) -> Cluster:
    """The cluster read again under a row lock, for a change in this transaction."""
    return Cluster.objects.select_for_update().get(pk=cluster.pk)


def _move(cluster: Cluster, to_state: str, *, now: datetime) -> str:
    """Check the transition table; returns the state the cluster was in (effectively)."""
    current = effective_state(cluster, now)
    if to_state not in CLUSTER_TRANSITIONS[current]:
        if current == ClusterState.ESCALATED:
            # Not naming the escalation: it may be restricted and hidden from the actor.
            raise Conflict(
                f"cluster C-{cluster.pk} is already escalated; work it on its escalation "
                "(linked from the cluster page)",
                field="state",
            )
        raise Conflict(
            f"cluster C-{cluster.pk} is {ClusterState(current).label.lower()}; it cannot be "
            f"{ClusterState(to_state).label.lower()} from there",
            field="state",
        )
    return current


def link_cluster(cluster: Cluster, escalation: Escalation, *, now: datetime) -> None:
    """Put the cluster on ``escalation`` (state escalated); the caller audits it."""
    cluster.escalation = escalation
    cluster.state = ClusterState.ESCALATED
    cluster.snoozed_until = None
    cluster.updated_at = now
    cluster.save(update_fields=["escalation", "state", "snoozed_until", "updated_at"])


def cluster_facts(cluster: Cluster) -> str:
    """The cluster in a few lines, for an escalation's summary or note."""

    def listing(tally: dict[str, Any]) -> str:
        rows = tally_rows(tally, limit=8)
        return ", ".join(f"{value.replace('_', ' ')} {count}" for value, count in rows) or "—"

    lines = [
        f"Cluster C-{cluster.pk}: {cluster.signal_count} signals from "
        f"{cluster.reporter_count} reporters, first {cluster.first_seen_at:%Y-%m-%d %H:%M} UTC, "
        f"last {cluster.last_seen_at:%Y-%m-%d %H:%M} UTC; {cluster.velocity_1h} in the last hour.",
        f"Sources: {listing(cluster.sources)}",
        f"Markets: {listing(cluster.markets)}",
        f"Languages: {listing(cluster.languages)}",
        f"Policy hints: {listing(cluster.policy_hints)}",
    ]
    if cluster.reach_impressions or cluster.reach_shares:
        lines.append(
            f"Reach: {cluster.reach_impressions:,} impressions, {cluster.reach_shares:,} shares"
        )
    representative = representative_of(cluster, length=300)
    if representative:
        lines.append(f"Representative: “{representative}”")
    return "\n".join(lines)


def representative_of(cluster: Cluster, *, length: int = 80) -> str:
    text = " ".join((cluster.representative_text or "").split())
    if not text:
        text = cluster.representative_url or (
            f"{cluster.subject_kind} {cluster.subject_ref}".strip()
        )
    return text if len(text) <= length else text[: length - 1] + "…"


# ---------------------------------------------------------------- analyst actions


@transaction.atomic
def escalate_cluster(*, cluster: Cluster, actor: User, details: EscalationInput) -> Escalation:
    """Open an escalation from the cluster (``escalations.filing.create_escalation``)
    and link the cluster to it."""
    _require_worker(actor, "escalate clusters")
    now = clock.now()
    cluster = locked_cluster(cluster)
    previous = _move(cluster, ClusterState.ESCALATED, now=now)
    created = create_escalation(actor=actor, details=details)
    link_cluster(cluster, created, now=now)
    record_event(
        action=AuditAction.SIGNALS_CLUSTER_ESCALATED,
        actor=actor,
        target=cluster,
        escalation_id=created.pk,
        data={
            "cluster": cluster.pk,
            "escalation": created.reference,
            "from_state": previous,
            "signals": cluster.signal_count,
        },
    )
    return created


@transaction.atomic
def attach_cluster(
    *, cluster: Cluster, escalation_id: int | str, actor: User, note: str = ""
) -> Escalation:
    """Attach the cluster to an open escalation the actor can see, with a note there."""
    _require_worker(actor, "attach clusters to escalations")
    note = _text(note, field="note", required=False)
    escalation = access_escalation(actor=actor, escalation_id=escalation_id)
    if escalation.merged_into_id is not None:
        raise Conflict(
            f"{escalation.reference} was merged into WF-{escalation.merged_into_id}; "
            "attach the cluster there",
            field="escalation_id",
        )
    if not escalation.is_open:
        raise Conflict(
            f"{escalation.reference} is closed; reopen it before attaching to it",
            field="escalation_id",
        )
    now = clock.now()
    cluster = locked_cluster(cluster)
    previous = _move(cluster, ClusterState.ESCALATED, now=now)
    link_cluster(cluster, escalation, now=now)
    body = f"Cluster C-{cluster.pk} attached by {actor.display_name}.\n{cluster_facts(cluster)}"
    if note:
        body += f"\n\n{note}"
    add_note(escalation=escalation, body=body, actor=actor)
    record_event(
        action=AuditAction.SIGNALS_CLUSTER_ATTACHED,
        actor=actor,
        target=cluster,
        escalation_id=escalation.pk,
        data={
            "cluster": cluster.pk,
            "escalation": escalation.reference,
            "from_state": previous,
            "note": note,
        },
    )
    return escalation


@transaction.atomic
def mark_cluster_benign(*, cluster: Cluster, actor: User, reason: str) -> Cluster:
    """Nothing to act on; the auto-escalation rules leave it alone (trusted sources aside)."""
    _require_worker(actor, "mark clusters benign")
    reason = _text(reason, field="reason", required=True)
    now = clock.now()
    cluster = locked_cluster(cluster)
    previous = _move(cluster, ClusterState.BENIGN, now=now)
    cluster.state = ClusterState.BENIGN
    cluster.snoozed_until = None
    cluster.updated_at = now
    cluster.save(update_fields=["state", "snoozed_until", "updated_at"])
    record_event(
        action=AuditAction.SIGNALS_CLUSTER_MARKED_BENIGN,
        actor=actor,
        target=cluster,
        data={"cluster": cluster.pk, "from_state": previous, "reason": reason},
    )
    return cluster


@transaction.atomic
def snooze_cluster(*, cluster: Cluster, actor: User, until: datetime, reason: str = "") -> Cluster:
    """Out of the open list until ``until``; then it is open again by itself."""
    _require_worker(actor, "snooze clusters")
    reason = _text(reason, field="reason", required=False)
    if until.tzinfo is None or until.utcoffset() is None:
        raise InvalidInput(
            "the time must carry its zone, e.g. 2026-11-24T18:00:00+09:00", field="until"
        )
    check_time_range(until, field="until")
    now = clock.now()
    if until <= now:
        raise InvalidInput("snooze until a time in the future", field="until")
    if until - now > LONGEST_SNOOZE:
        raise InvalidInput(
            f"snooze for at most {LONGEST_SNOOZE.days} days; mark it benign if it needs no work",
            field="until",
        )
    cluster = locked_cluster(cluster)
    previous = _move(cluster, ClusterState.SNOOZED, now=now)
    cluster.state = ClusterState.SNOOZED
    cluster.snoozed_until = until
    cluster.updated_at = now
    cluster.save(update_fields=["state", "snoozed_until", "updated_at"])
    record_event(
        action=AuditAction.SIGNALS_CLUSTER_SNOOZED,
        actor=actor,
        target=cluster,
        data={"cluster": cluster.pk, "from_state": previous, "until": until, "reason": reason},
    )
    return cluster


@transaction.atomic
def reopen_cluster(*, cluster: Cluster, actor: User, reason: str = "") -> Cluster:
    """Back to open from benign or snoozed."""
    _require_worker(actor, "reopen clusters")
    reason = _text(reason, field="reason", required=False)
    now = clock.now()
    cluster = locked_cluster(cluster)
    if effective_state(cluster, now) == ClusterState.OPEN:
        raise Conflict(f"cluster C-{cluster.pk} is already open", field="state")
    previous = _move(cluster, ClusterState.OPEN, now=now)
    cluster.state = ClusterState.OPEN
    cluster.snoozed_until = None
    cluster.updated_at = now
    cluster.save(update_fields=["state", "snoozed_until", "updated_at"])
    record_event(
        action=AuditAction.SIGNALS_CLUSTER_REOPENED,
        actor=actor,
        target=cluster,
        data={"cluster": cluster.pk, "from_state": previous, "reason": reason},
    )
    return cluster


@transaction.atomic
def acknowledge_surge(*, alert: SurgeAlert, actor: User) -> SurgeAlert:
    """Someone has seen the alert (it stays open until the rate falls back)."""
    _require_worker(actor, "acknowledge surges")
    alert = SurgeAlert.objects.select_for_update().get(pk=alert.pk)
    if alert.acknowledged_by is not None:
        raise Conflict(
            f"already acknowledged by {alert.acknowledged_by.display_name}", field="surge"
        )
    alert.acknowledged_by = actor
    alert.save(update_fields=["acknowledged_by"])
    record_event(
        action=AuditAction.SIGNALS_SURGE_ACKNOWLEDGED,
        actor=actor,
        target=alert,
        escalation_id=alert.cluster.escalation_id if alert.cluster is not None else None,
        data={"surge": alert.pk, "subject": describe_surge_subject(alert)},
    )
    return alert


# ---------------------------------------------------------------- system actions


def wake_due_clusters(*, now: datetime | None = None) -> list[int]:
    """Snoozed clusters whose time has come are open again; each wake-up is audited."""
    now = now or clock.now()
    woken = []
    due = Cluster.objects.filter(state=ClusterState.SNOOZED, snoozed_until__lte=now)
    for pk in due.values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            cluster = Cluster.objects.select_for_update().get(pk=pk)
            if cluster.state != ClusterState.SNOOZED or cluster.snoozed_until is None:
                continue
            until = cluster.snoozed_until
            if until > now:
                continue
            cluster.state = ClusterState.OPEN
            cluster.snoozed_until = None
            cluster.updated_at = now
            cluster.save(update_fields=["state", "snoozed_until", "updated_at"])
            record_event(
                action=AuditAction.SIGNALS_CLUSTER_WOKE,
                actor=None,
                target=cluster,
                data={"cluster": cluster.pk, "snoozed_until": until},
            )
            woken.append(pk)
    return woken


def raise_surge_alert(
    *,
    surge: Surge,
    cluster_id: int | None = None,
    series: tuple[str, str, str] | None = None,
    escalation_id: int | None = None,
) -> SurgeAlert | None:
    """Open an alert for the subject (a cluster, or a market × policy × language series),
    unless one is open already (then None)."""
    if (cluster_id is None) == (series is None):
        raise ValueError("give either a cluster or a series")
    market, policy, language = series or ("", "", "")
    try:
        with transaction.atomic():
            alert = SurgeAlert.objects.create(
                subject=SurgeAlert.Subject.CLUSTER if cluster_id else SurgeAlert.Subject.SERIES,
                cluster_id=cluster_id,
                market=market,
                policy=policy,
                language=language,
                started_at=surge.started_at,
                raised_at=clock.now(),
                ratio=surge.ratio,
                current_rate=surge.current_rate,
                baseline_rate=surge.baseline_rate,
                window=surge.window,
                baseline_window=surge.baseline_window,
            )
            record_event(
                action=AuditAction.SIGNALS_SURGE_RAISED,
                actor=None,
                target=alert,
                escalation_id=escalation_id,
                data={
                    "surge": alert.pk,
                    "subject": describe_surge_subject(alert),
                    "cluster": cluster_id,
                    "series": list(series) if series else None,
                    "started_at": surge.started_at,
                    "ratio": round(surge.ratio, 3),
                    "current_rate_per_hour": round(surge.current_rate, 3),
                    "baseline_rate_per_hour": round(surge.baseline_rate, 3),
                    "window_count": surge.current_count,
                    "baseline_median_per_bucket": surge.baseline_median,
                    "baseline_is_floor": surge.floored,
                    "explanation": surge.explanation,
                },
            )
    except IntegrityError:
        return None  # another worker raised it a moment ago: one open alert per subject
    return alert


def end_surge_alert(
    *, alert: SurgeAlert, current_rate: float, window_count: int, escalation_id: int | None = None
) -> SurgeAlert:
    with transaction.atomic():
        alert = SurgeAlert.objects.select_for_update().get(pk=alert.pk)
        if alert.ended_at is not None:
            return alert
        alert.ended_at = clock.now()
        alert.save(update_fields=["ended_at"])
        record_event(
            action=AuditAction.SIGNALS_SURGE_ENDED,
            actor=None,
            target=alert,
            escalation_id=escalation_id,
            data={
                "surge": alert.pk,
                "subject": describe_surge_subject(alert),
                "lasted_minutes": round((alert.ended_at - alert.started_at) / timedelta(minutes=1)),
                "current_rate_per_hour": round(current_rate, 3),
                "window_count": window_count,
                "baseline_rate_per_hour": round(alert.baseline_rate, 3),
            },
        )
    return alert


# ---------------------------------------------------------------- a cluster as escalation details


def subjects_for(cluster: Cluster) -> list[SubjectInput]:
    kinds = {
        "post": Subject.Kind.POST,
        "livestream": Subject.Kind.POST,
        "account": Subject.Kind.ACCOUNT,
        "media": Subject.Kind.MEDIA,
        "url": Subject.Kind.URL,
    }
    subjects = []
    kind = kinds.get(cluster.subject_kind)
    if kind and cluster.subject_ref:
        note = "livestream" if cluster.subject_kind == "livestream" else ""
        subjects.append(SubjectInput(kind=kind, reference=cluster.subject_ref[:2000], note=note))
    if cluster.representative_url and cluster.representative_url != cluster.subject_ref:
        subjects.append(SubjectInput(kind=Subject.Kind.URL, reference=cluster.representative_url))
    return subjects


def known_markets(codes: Iterable[str]) -> list[str]:
    wanted = [code for code in codes if code]
    known = markets_named(frozenset(wanted))
    return [code for code in wanted if code in known]


def valid_languages(tags: Iterable[str]) -> list[str]:
    """The tags an escalation accepts (detected ones such as "und" are left out)."""
    return [tag for tag in tags if tag and _LANGUAGE_TAG.match(tag)][:10]


# ---------------------------------------------------------------- exports


@transaction.atomic
def record_export(*, what: str, rows: int, options: dict[str, Any], actor: User | None) -> None:
    """Who took signals out of the system, which slice and how much of it."""
    action = (
        AuditAction.SIGNALS_CLUSTERS_EXPORTED
        if what == "clusters"
        else AuditAction.SIGNALS_SURGES_EXPORTED
    )
    record_event(action=action, actor=actor, data={"rows": rows, **options})
