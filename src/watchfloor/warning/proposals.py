"""The crisis proposals official alerts lead to, and deciding them.

Once the auto-escalation rules have run, :func:`propose_from_alert_signals` (a
``signals.backlog`` hook) proposes a crisis for a thread whose alert opened an
escalation through a rule with an ``alert`` condition, and a stand-down when the
trusted sender cancels it. A crisis lead accepts (declaring the crisis, or taking the
level down) or dismisses each proposal; both are audited. Receiving the alerts is
:mod:`watchfloor.warning.services`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, PermissionDenied
from watchfloor.core.validation import clean_text
from watchfloor.crises.models import DECLARABLE_LEVELS, Level, WatchlistKind
from watchfloor.crises.permissions import may_work_crisis
from watchfloor.crises.services import change_level, declare_crisis
from watchfloor.crises.watchlists import add_watchlist_entry
from watchfloor.markets.models import Market
from watchfloor.signals.models import Cluster, RuleFiring, Signal
from watchfloor.warning.models import CrisisProposal
from watchfloor.warning.services import SOURCE
from watchfloor.warning.terms import hazard_terms_in_force, watchlist_terms

if TYPE_CHECKING:
    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User

# How many of the markets' languages a proposed crisis takes.
MAX_LANGUAGES = 8


def propose_from_alert_signals(signal_ids: Sequence[int]) -> int:
    """After the rules of a reactions pass: for each thread of these official alerts
    whose alert opened an escalation through a rule with an ``alert`` condition, propose
    a crisis (once); when a trusted sender cancels the alert, propose standing down.
    Returns how many proposals were made."""
    if not signal_ids:
        return 0
    wanted = set(signal_ids)
    # One scan of the id range rather than a list of up to 10,000 ids per batch.
    rows = (
        Signal.objects.filter(pk__gte=min(wanted), pk__lte=max(wanted), source=SOURCE)
        .order_by("received_at", "pk")
        .values_list("pk", "cluster_id", "attributes")
    )
    by_cluster: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for pk, cluster_id, attributes in rows:
        if pk not in wanted:
            continue
        alert = attributes.get("alert") if isinstance(attributes, dict) else None
        if isinstance(alert, dict) and alert.get("trusted") is True:
            by_cluster[cluster_id].append(alert)
    if not by_cluster:
        return 0
    made = 0
    clusters = Cluster.objects.filter(pk__in=by_cluster, escalation__isnull=False).select_related(
        "escalation"
    )
    for cluster in clusters:
        alerts = by_cluster[cluster.pk]
        if not RuleFiring.objects.filter(
            cluster=cluster, escalation=cluster.escalation, evidence__has_key="alert"
        ).exists():
            continue
        thread = alerts[-1]["thread"]
        escalation = cluster.escalation
        assert escalation is not None  # filtered above
        try:
            if any(alert.get("msg_type") == "Cancel" for alert in alerts):
                made += _propose_stand_down(
                    cluster=cluster, escalation=escalation, thread=thread, alert=alerts[-1]
                )
            else:
                made += _propose_crisis(cluster=cluster, escalation=escalation, thread=thread)
        except IntegrityError:
            continue  # proposed by another worker at the same moment
    return made


def _thread_alerts(cluster: Cluster) -> list[dict[str, Any]]:
    found = []
    for attributes in (
        Signal.objects.filter(cluster=cluster, source=SOURCE)
        .order_by("received_at", "pk")
        .values_list("attributes", flat=True)[:200]
    ):
        alert = attributes.get("alert") if isinstance(attributes, dict) else None
        if isinstance(alert, dict) and alert.get("trusted") is True:
            found.append(alert)
    return found


def _propose_crisis(*, cluster: Cluster, escalation: Escalation, thread: str) -> int:
    if CrisisProposal.objects.filter(thread=thread, kind=CrisisProposal.Kind.DECLARE).exists():
        return 0
    alerts = [a for a in _thread_alerts(cluster) if a.get("msg_type") != "Cancel"]
    if not alerts:
        return 0
    codes = list(dict.fromkeys(code for alert in alerts for code in alert.get("markets", [])))
    market_rows = {m.code: m for m in Market.objects.filter(code__in=codes)}
    codes = [code for code in codes if code in market_rows]
    languages = list(dict.fromkeys(tag for code in codes for tag in market_rows[code].languages))[
        :MAX_LANGUAGES
    ]
    events = list(
        dict.fromkeys((alert.get("event", ""), (alert.get("language") or "en")) for alert in alerts)
    )
    hazards = hazard_terms_in_force().spec.hazards
    watchlist = watchlist_terms(events=events, languages=languages or ["en"], hazards=hazards)
    latest = alerts[-1]
    event = latest.get("event") or latest.get("headline") or "Official alert"
    title = f"{event} ({', '.join(codes) or 'no market'})"[:200]
    reason = (
        f"{latest.get('trusted_as') or latest.get('sender')}: {event}, "
        f"{latest.get('severity')}, {latest.get('urgency')}, {latest.get('certainty')} "
        f"({latest.get('msg_type')} {latest.get('identifier')}); it opened "
        f"{escalation.reference}."
    )
    with transaction.atomic():
        proposal = CrisisProposal.objects.create(
            kind=CrisisProposal.Kind.DECLARE,
            thread=thread,
            escalation=escalation,
            title=title,
            reason=reason,
            markets=codes,
            languages=languages,
            watchlist=watchlist,
            proposed_at=clock.now(),
        )
        record_event(
            action=AuditAction.WARNING_CRISIS_PROPOSED,
            actor=None,
            target=proposal,
            escalation_id=escalation.pk,
            data={"thread": thread, "title": title, "markets": codes, "watchlist": watchlist},
        )
    return 1


def _propose_stand_down(
    *, cluster: Cluster, escalation: Escalation, thread: str, alert: dict[str, Any]
) -> int:
    with transaction.atomic():
        if CrisisProposal.objects.filter(
            thread=thread, kind=CrisisProposal.Kind.STAND_DOWN
        ).exists():
            return 0
        declared = (
            CrisisProposal.objects.select_for_update()
            .filter(thread=thread, kind=CrisisProposal.Kind.DECLARE)
            .first()
        )
        if declared is not None and declared.state == CrisisProposal.State.OPEN:
            declared.state = CrisisProposal.State.WITHDRAWN
            declared.decided_at = clock.now()
            declared.save(update_fields=["state", "decided_at"])
        crisis = declared.crisis if declared is not None else None
        title = f"Stand down: {alert.get('event') or 'official alert'} cancelled"[:200]
        proposal = CrisisProposal.objects.create(
            kind=CrisisProposal.Kind.STAND_DOWN,
            thread=thread,
            escalation=escalation,
            crisis=crisis,
            title=title,
            reason=(
                f"{alert.get('trusted_as') or alert.get('sender')} cancelled the alert "
                f"({alert.get('identifier')}, sent {alert.get('sent')})."
            ),
            markets=list(alert.get("markets", [])),
            proposed_at=clock.now(),
        )
        record_event(
            action=AuditAction.WARNING_STAND_DOWN_PROPOSED,
            actor=None,
            target=proposal,
            escalation_id=escalation.pk,
            data={"thread": thread, "crisis": crisis.pk if crisis else None},
        )
    return 1


def _decidable(proposal: CrisisProposal, actor: User) -> CrisisProposal:
    if not may_work_crisis(actor):
        raise PermissionDenied("your role cannot declare or stand down a crisis")
    locked = CrisisProposal.objects.select_for_update().get(pk=proposal.pk)
    if locked.state != CrisisProposal.State.OPEN:
        who = f" by {locked.decided_by.display_name}" if locked.decided_by else ""
        raise Conflict(f"this proposal was already {locked.get_state_display().lower()}{who}")
    return locked


def accept_proposal(*, proposal: CrisisProposal, actor: User) -> CrisisProposal:
    """Declare the proposed crisis (from the escalation, with its watchlist); or stand
    down the crisis declared from the thread (through its own level change, which
    records the stand-down criteria still open), or, without one, record that the
    stand-down was taken up."""
    with transaction.atomic():
        proposal = _decidable(proposal, actor)
        if proposal.kind == CrisisProposal.Kind.DECLARE:
            crisis = declare_crisis(
                actor=actor,
                title=proposal.title,
                markets=proposal.markets,
                languages=proposal.languages,
                declared_from=proposal.escalation,
                reason=proposal.reason[:500],
            )
            for entry in proposal.watchlist:
                add_watchlist_entry(
                    crisis=crisis,
                    kind=WatchlistKind.TERM,
                    value=entry["value"],
                    language=entry.get("language", ""),
                    actor=actor,
                    note="from the official alert",
                )
            proposal.crisis = crisis
        elif proposal.crisis is not None and proposal.crisis.level in DECLARABLE_LEVELS:
            # The crisis's own guards apply; the reason says why it stands down even
            # if some of its stand-down criteria are still open (they are recorded).
            change_level(
                crisis=proposal.crisis,
                to_level=Level.STAND_DOWN,
                actor=actor,
                reason=f"Official alert cancelled: {proposal.reason}"[:500],
            )
        proposal.state = CrisisProposal.State.ACCEPTED
        proposal.decided_by = actor
        proposal.decided_at = clock.now()
        proposal.save(update_fields=["state", "decided_by", "decided_at", "crisis"])
        record_event(
            action=AuditAction.WARNING_PROPOSAL_ACCEPTED,
            actor=actor,
            target=proposal,
            escalation_id=proposal.escalation_id,
            data={"kind": proposal.kind, "crisis": proposal.crisis_id},
        )
    return proposal


def dismiss_proposal(*, proposal: CrisisProposal, actor: User, reason: str = "") -> CrisisProposal:
    reason = clean_text(reason, field="reason", max_length=500, required=False)
    with transaction.atomic():
        proposal = _decidable(proposal, actor)
        proposal.state = CrisisProposal.State.DISMISSED
        proposal.decided_by = actor
        proposal.decided_at = clock.now()
        proposal.save(update_fields=["state", "decided_by", "decided_at"])
        record_event(
            action=AuditAction.WARNING_PROPOSAL_DISMISSED,
            actor=actor,
            target=proposal,
            escalation_id=proposal.escalation_id,
            data={"kind": proposal.kind, "reason": reason},
        )
    return proposal
