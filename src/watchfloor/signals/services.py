"""Every change to a cluster or a surge alert is one named action here: checked, written
and audited in one transaction.

Analysts escalate a cluster, attach it to an escalation, mark it benign, snooze it or
reopen it. The reactions that run after each ingested batch raise and end surge alerts,
wake snoozed clusters and apply the auto-escalation rules, as the system or as the
rules' service account.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, PermissionDenied, WatchfloorError
from watchfloor.core.roles import Role, can_work_escalations
from watchfloor.core.validation import check_time_range, clean_text
from watchfloor.escalations.filing import create_escalation
from watchfloor.escalations.inputs import EscalationInput, SubjectInput
from watchfloor.escalations.models import OPEN_STATUSES, Escalation, SourceKind, Subject
from watchfloor.escalations.selectors import access_escalation, escalations_visible_to
from watchfloor.escalations.services import add_note, link_escalations
from watchfloor.markets.models import Market
from watchfloor.people.models import Team, User
from watchfloor.signals.models import (
    Cluster,
    ClusterRelation,
    ClusterState,
    KeyKind,
    RuleFiring,
    SurgeAlert,
)
from watchfloor.signals.rules import (
    ESCALATION_SOURCE_FOR_SIGNAL,
    Match,
    RuleSet,
    RuleSpec,
    escalation_type_for,
    render_title,
)
from watchfloor.signals.selectors import (
    describe_surge_subject,
    effective_state,
    surge_explanation,
    tally_rows,
)

if TYPE_CHECKING:
    from watchfloor.signals.surge import Surge

RULES_ACCOUNT = "watchfloor-rules"
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


def _locked(cluster: Cluster) -> Cluster:
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


def _link(cluster: Cluster, escalation: Escalation, *, now: datetime) -> None:
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
    cluster = _locked(cluster)
    previous = _move(cluster, ClusterState.ESCALATED, now=now)
    created = create_escalation(actor=actor, details=details)
    _link(cluster, created, now=now)
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
    cluster = _locked(cluster)
    previous = _move(cluster, ClusterState.ESCALATED, now=now)
    _link(cluster, escalation, now=now)
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
    cluster = _locked(cluster)
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
    cluster = _locked(cluster)
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
    cluster = _locked(cluster)
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


# ---------------------------------------------------------------- auto-escalation


def rules_account() -> User:
    """The account the rules act as, created on first use.

    A named service account rather than "no actor": escalations need someone who filed
    them, and the audit log and timelines then say plainly that a rule, not a person,
    did it. It is an analyst (the least role that may open escalations and add notes; it
    cannot approve decisions or override severity) on the site-policy team, with no
    usable password, so nobody can sign in as it.
    """
    account = User.objects.filter(username=RULES_ACCOUNT).first()
    if account is not None:
        return account
    from watchfloor.people.services import create_user

    team = Team.objects.filter(kind=Team.Kind.SITE_POLICY).order_by("pk").first()
    try:
        with transaction.atomic():
            return create_user(
                username=RULES_ACCOUNT,
                password=None,
                role=Role.ANALYST,
                actor=None,
                team=team,
                time_zone="UTC",
                first_name="Auto-escalation",
                last_name="rules",
            )
    except (IntegrityError, InvalidInput):
        return User.objects.get(username=RULES_ACCOUNT)


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
    known = set(Market.objects.filter(code__in=wanted).values_list("code", flat=True))
    return [code for code in wanted if code in known]


def valid_languages(tags: Iterable[str]) -> list[str]:
    """The tags an escalation accepts (detected ones such as "und" are left out)."""
    return [tag for tag in tags if tag and _LANGUAGE_TAG.match(tag)][:10]


def _source_fields(cluster: Cluster | None, signal_source: str | None) -> dict[str, Any]:
    kind = ESCALATION_SOURCE_FOR_SIGNAL.get(signal_source or "", SourceKind.INTERNAL)
    fields = {"source_kind": kind, "source_team_code": ""}
    if kind == SourceKind.PARTNER_TEAM:
        team_code = ""
        if cluster is not None:
            attributes = (
                cluster.signals.filter(source="partner_referral")
                .order_by("received_at")
                .values_list("attributes", flat=True)
                .first()
            ) or {}
            team_code = (
                str(attributes.get("partner_team", "")) if isinstance(attributes, dict) else ""
            )
        if team_code and Team.objects.filter(code=team_code, kind=Team.Kind.PARTNER).exists():
            fields["source_team_code"] = team_code
        else:
            fields["source_kind"] = SourceKind.INTERNAL  # a partner referral that names no team
    return fields


def _title_values(rule: RuleSpec, match: Match, **values: Any) -> dict[str, Any]:
    return {"rule": rule.name, "ratio": f"{match.figures.get('ratio', '')}", **values}


def _summary(rule: RuleSpec, ruleset: RuleSet, match: Match, facts: str) -> str:
    why = "\n".join(f"- {condition}" for condition in match.conditions)
    return (
        f"Opened by the auto-escalation rule “{rule.name}” ({rule.code}, rules version "
        f"{ruleset.version}).\n\nWhy:\n{why}\n\n{facts}"
    )


def _open_escalations(account: User) -> QuerySet[Escalation]:
    return escalations_visible_to(account).filter(
        status__in=OPEN_STATUSES, merged_into__isnull=True
    )


def _attach_candidate(
    *, account: User, type_code: str, markets: list[str], within: timedelta
) -> Escalation | None:
    """The newest open escalation of the type in one of ``markets``: a loose match (an
    unrelated scam in the same country is one), so it is attached to only where a rule
    says ``attach: same_type_and_market``, and otherwise only proposed."""
    candidates = _open_escalations(account).filter(
        type__code=type_code, opened_at__gte=clock.now() - within
    )
    if markets:
        candidates = candidates.filter(markets__code__in=markets)
    else:
        candidates = candidates.filter(markets__isnull=True)
    return candidates.order_by("-opened_at", "-pk").first()


def _shared_key_target(*, account: User, cluster: Cluster) -> tuple[Escalation, str] | None:
    """An open escalation that shares a key with ``cluster``, and the key in words.

    A key is shared when a cluster already on the escalation is related to this one (a
    signal matched both: the same subject, URL, media hash or near-identical text), or
    when the cluster's subject or URL is among the escalation's subjects.
    """
    open_escalations = _open_escalations(account)
    relations = ClusterRelation.objects.filter(Q(cluster=cluster) | Q(related=cluster))
    kind_of: dict[int, str] = {}
    for one, other, kind in relations.values_list("cluster_id", "related_id", "key_kind"):
        kind_of.setdefault(other if one == cluster.pk else one, kind)
    if kind_of:
        related = (
            Cluster.objects.filter(pk__in=kind_of, escalation__in=open_escalations)
            .select_related("escalation")
            .order_by("-escalation__opened_at", "-escalation_id")
            .first()
        )
        if related is not None and related.escalation is not None:
            label = KeyKind(kind_of[related.pk]).label.lower()
            return related.escalation, f"{label} as cluster C-{related.pk}, already on it"
    references = {ref[:2000] for ref in (cluster.subject_ref, cluster.representative_url) if ref}
    if references:
        target = (
            open_escalations.filter(subjects__reference__in=references)
            .order_by("-opened_at", "-pk")
            .first()
        )
        if target is not None:
            return target, "the cluster's subject or URL is among its subjects"
    return None


def _proposal_note(*, rule: RuleSpec, candidate: Escalation, what: str) -> str:
    return (
        f"Proposed, not attached: {candidate.reference} is open with the "
        f"same type and market, but nothing ties {what} to it (no shared subject, URL, "
        f"media hash or near-identical text). If they are the same matter, merge this "
        f"escalation into {candidate.reference}. (Auto-escalation rule {rule.code}; a rule "
        "with attach: same_type_and_market attaches on type and market alone.)"
    )


def _fire_on_cluster(
    *, rule: RuleSpec, ruleset: RuleSet, match: Match, cluster: Cluster, account: User
) -> tuple[str, Escalation | None, str]:
    """Open or attach; returns (outcome, escalation, what was done in words)."""
    action = rule.escalate
    now = clock.now()
    type_code = escalation_type_for(rule, match)
    owner = None
    if cluster.escalation_id is not None:
        owner = escalations_visible_to(account).filter(pk=cluster.escalation_id).first()
        if owner is None:
            return "skipped", None, "the cluster belongs to an escalation the rules cannot see"
        if not owner.is_open:
            owner = None  # closed since: the cluster's new activity is new work
    facts = cluster_facts(cluster)
    conditions = "\n".join(f"- {condition}" for condition in match.conditions)
    note = (
        f"Auto-escalation rule “{rule.name}” ({rule.code}) matched cluster C-{cluster.pk}:\n"
        f"{conditions}\n\n{facts}"
    )
    proposal = None
    if action.attach != "never":
        target, why = owner, "its own escalation"
        if target is None:
            target, why = _shared_key_target(account=account, cluster=cluster) or (None, "")
        loose = None
        if target is None:
            loose = _attach_candidate(
                account=account,
                type_code=type_code,
                markets=[m for m, _ in tally_rows(cluster.markets)],
                within=action.attach_within,
            )
        if loose is not None and action.attach == "same_type_and_market":
            target, why = loose, "the rule attaches on type and market"
        else:
            proposal = loose
        if target is not None:
            if cluster.escalation_id != target.pk:
                _link(cluster, target, now=now)
            add_note(escalation=target, body=f"{note}\n\nAttached: {why}.", actor=account)
            return "attached", target, f"attached to {target.reference} ({why})"
    markets = known_markets(m for m, _ in tally_rows(cluster.markets, limit=20))
    languages = valid_languages(tag for tag, _ in tally_rows(cluster.languages))
    sources = [s for s, _ in tally_rows(cluster.sources)]
    representative = representative_of(cluster)
    title = render_title(
        action.title or "{rule}: {representative}",
        _title_values(
            rule,
            match,
            representative=representative,
            markets=", ".join(markets) or "no market",
            languages=", ".join(languages) or "language unknown",
            policy=", ".join(p.replace("_", " ") for p, _ in tally_rows(cluster.policy_hints))
            or "no policy hint",
            sources=", ".join(s.replace("_", " ") for s in sources),
            signals=cluster.signal_count,
        ),
    )
    created = create_escalation(
        actor=account,
        details=EscalationInput(
            type_code=type_code,
            title=title[:200],
            summary=_summary(rule, ruleset, match, facts),
            markets=markets,
            languages=languages,
            subjects=subjects_for(cluster),
            source_detail=f"Auto-escalation rule {rule.code} on cluster C-{cluster.pk}"[:500],
            rubric_answers=dict(action.rubric),
            **_source_fields(cluster, match.chosen_source or (sources[0] if sources else None)),
        ),
    )
    if owner is not None:
        # The cluster stays with the escalation that has it; the new one is linked to it.
        link_escalations(
            escalation=created, other=owner, actor=account, reason=f"same cluster C-{cluster.pk}"
        )
        return "opened", created, f"opened {created.reference}, linked to {owner.reference}"
    _link(cluster, created, now=now)
    if proposal is not None:
        add_note(
            escalation=created,
            body=_proposal_note(rule=rule, candidate=proposal, what=f"cluster C-{cluster.pk}"),
            actor=account,
        )
        return (
            "opened",
            created,
            f"opened {created.reference}; proposed {proposal.reference} (same type and "
            "market, no shared key)",
        )
    return "opened", created, f"opened {created.reference}"


def _fire_on_series(
    *, rule: RuleSpec, ruleset: RuleSet, match: Match, alert: SurgeAlert, account: User
) -> tuple[str, Escalation | None, str]:
    action = rule.escalate
    markets = known_markets([alert.market])
    subject = describe_surge_subject(alert)
    explanation = surge_explanation(alert)
    conditions = "\n".join(f"- {condition}" for condition in match.conditions)
    facts = f"Surge in {subject} since {alert.started_at:%Y-%m-%d %H:%M} UTC: {explanation}."
    # A series (market × policy × language) has no subject, URL, hash or text of its own
    # to share: it is noted on an escalation of its type and market only where the rule
    # says so, and otherwise that escalation is proposed on the one it opens.
    proposal = None
    if action.attach != "never":
        candidate = _attach_candidate(
            account=account, type_code=action.type, markets=markets, within=action.attach_within
        )
        if candidate is not None and action.attach == "same_type_and_market":
            add_note(
                escalation=candidate,
                body=f"Auto-escalation rule “{rule.name}” ({rule.code}) matched a surge:\n"
                f"{conditions}\n\n{facts}",
                actor=account,
            )
            return "attached", candidate, f"noted on {candidate.reference}"
        proposal = candidate
    title = render_title(
        action.title or "{rule}: {representative}",
        _title_values(
            rule,
            match,
            representative=f"surge in {subject}",
            markets=", ".join(markets) or "no market",
            languages=alert.language or "language unknown",
            policy=(alert.policy or "no policy hint").replace("_", " "),
            sources="",
            signals=round(alert.current_rate * alert.window / timedelta(hours=1)),
        ),
    )
    created = create_escalation(
        actor=account,
        details=EscalationInput(
            type_code=action.type,
            title=title[:200],
            summary=_summary(rule, ruleset, match, facts),
            markets=markets,
            languages=valid_languages([alert.language]),
            source_kind=SourceKind.DETECTOR,
            source_detail=f"Auto-escalation rule {rule.code} on surge alert {alert.pk}"[:500],
            rubric_answers=dict(action.rubric),
        ),
    )
    if proposal is not None:
        add_note(
            escalation=created,
            body=_proposal_note(rule=rule, candidate=proposal, what=f"the surge in {subject}"),
            actor=account,
        )
        return (
            "opened",
            created,
            f"opened {created.reference}; proposed {proposal.reference} (same type and "
            "market, no shared key)",
        )
    return "opened", created, f"opened {created.reference}"


def apply_rule(
    *,
    rule: RuleSpec,
    ruleset: RuleSet,
    match: Match,
    cluster: Cluster | None = None,
    alert: SurgeAlert | None = None,
) -> RuleFiring | None:
    """Act on a match, once: open or attach, record the firing with its evidence, audit.

    Returns None when the rule had already fired for this cluster (or series alert). A
    rule whose action fails (an escalation type no longer in the catalog, say) is recorded
    as skipped, with the reason, so it is not retried on every batch.
    """
    if (cluster is None) == (alert is None):
        raise ValueError("give either a cluster or a series surge alert")
    account = rules_account()
    try:
        with transaction.atomic():
            if cluster is not None:
                cluster = _locked(cluster)
                fired = RuleFiring.objects.filter(rule_code=rule.code, cluster=cluster)
            else:
                assert alert is not None, "checked above: a cluster or an alert"
                alert = SurgeAlert.objects.select_for_update().get(pk=alert.pk)
                fired = RuleFiring.objects.filter(
                    rule_code=rule.code, cluster__isnull=True, surge=alert
                )
            if fired.exists():
                return None
            evidence = match.as_evidence()
            try:
                with transaction.atomic():
                    if cluster is not None:
                        outcome, escalation, done = _fire_on_cluster(
                            rule=rule,
                            ruleset=ruleset,
                            match=match,
                            cluster=cluster,
                            account=account,
                        )
                    else:
                        assert alert is not None, "checked above: a cluster or an alert"
                        outcome, escalation, done = _fire_on_series(
                            rule=rule, ruleset=ruleset, match=match, alert=alert, account=account
                        )
            except WatchfloorError as error:
                outcome, escalation, done = "skipped", None, f"could not act: {error.message}"
            evidence["action"] = done
            surge_id = match.figures.get("surge")
            firing = RuleFiring.objects.create(
                rule_code=rule.code,
                rule_version=ruleset.version[:64],
                cluster=cluster,
                surge_id=surge_id,
                escalation=escalation,
                outcome=outcome,
                evidence=evidence,
                fired_at=clock.now(),
            )
            record_event(
                action=AuditAction.SIGNALS_RULE_FIRED,
                actor=account,
                target=firing,
                escalation_id=escalation.pk if escalation else None,
                data={
                    "rule": rule.code,
                    "rule_version": ruleset.version,
                    "outcome": outcome,
                    "action": done,
                    "cluster": cluster.pk if cluster else None,
                    "surge": surge_id,
                    "escalation": escalation.reference if escalation else None,
                    "evidence": evidence,
                },
            )
            return firing
    except IntegrityError:
        return None  # fired by another worker at the same moment


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
