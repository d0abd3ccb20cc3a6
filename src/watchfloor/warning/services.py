"""Official alerts in: ``receive_cap_document``; and the crisis proposals they lead to.

An alert becomes signals through the ONE intake (``signals.intake.ingest_signals``):
one signal per ``<info>`` (or one for an alert without any: a Cancel often has none),
source ``external_alert``, subject ``alert:<thread>``. The thread is the first alert of
a chain: an Update or Cancel names earlier alerts in ``references``, and takes the
thread of the first it names that Watchfloor has received (else that alert itself), so
every message of one incident shares a subject and lands in one cluster.

What each signal carries about the alert is in ``attributes.alert`` (sender, event,
urgency, severity, certainty, areas, markets, effective/onset/expires, trusted...); the
auto-escalation rules read it (``signals.rules``, condition ``alert``). Once the rules
have run, ``propose_from_alert_signals`` (a ``signals.backlog`` hook) proposes a crisis
for a thread whose alert opened an escalation, and a stand-down when the sender
cancels it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.catalog.selectors import active_catalog_version, catalog_for
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, NotFound, PermissionDenied
from watchfloor.core.validation import clean_text
from watchfloor.crises.models import DECLARABLE_LEVELS, Level, WatchlistKind
from watchfloor.crises.permissions import may_work_crisis
from watchfloor.crises.services import change_level, declare_crisis
from watchfloor.crises.watchlists import add_watchlist_entry
from watchfloor.markets.models import Market
from watchfloor.signals import intake
from watchfloor.signals.contract import canonical_language_tag
from watchfloor.signals.models import Cluster, RuleFiring, Signal
from watchfloor.warning import areas, cap
from watchfloor.warning.models import CrisisProposal, ReceivedAlert
from watchfloor.warning.senders import senders_in_force
from watchfloor.warning.terms import hazard_terms_in_force, watchlist_terms

if TYPE_CHECKING:
    from watchfloor.catalog.schema import MarketSpec
    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User

__all__ = [
    "PRODUCER",
    "AlertOutcome",
    "CapReceipt",
    "accept_proposal",
    "dismiss_proposal",
    "propose_from_alert_signals",
    "receive_cap_document",
]

# CAP alerts are known by sender and identifier whoever delivers them (the API, a file,
# a feed poller): one producer, so the same alert sent twice is one signal.
PRODUCER = "cap"
SOURCE = "external_alert"
MAX_LISTED = 20
MAX_LANGUAGES = 8


@dataclass(frozen=True)
class AlertOutcome:
    sender: str
    identifier: str
    msg_type: str
    thread: str
    trusted: bool
    markets: list[str]
    status: str  # accepted, duplicate or rejected
    signal_ids: list[int]
    cluster_id: int | None
    problems: list[str] = field(default_factory=list)


@dataclass
class CapReceipt:
    kind: str
    alerts: list[AlertOutcome] = field(default_factory=list)
    problems: list[cap.CapProblem] = field(default_factory=list)
    entries: int = 0
    entries_without_alert: int = 0

    @property
    def accepted(self) -> int:
        return sum(1 for alert in self.alerts if alert.status == intake.ACCEPTED)

    @property
    def duplicates(self) -> int:
        return sum(1 for alert in self.alerts if alert.status == intake.DUPLICATE)

    @property
    def rejected(self) -> int:
        return len(self.problems) + sum(
            1 for alert in self.alerts if alert.status == intake.REJECTED
        )

    def summary(self) -> str:
        what = "alert" if self.kind == "alert" else f"feed of {self.entries} entries"
        parts = [
            f"{what}: {self.accepted} alert{'s' if self.accepted != 1 else ''} accepted",
            f"{self.duplicates} already received",
            f"{self.rejected} refused",
        ]
        if self.entries_without_alert:
            parts.append(
                f"{self.entries_without_alert} entries only link to their alert (not fetched)"
            )
        signals = sum(len(alert.signal_ids) for alert in self.alerts)
        return ", ".join(parts) + f"; {signals} signal{'s' if signals != 1 else ''}"


# ---------------------------------------------------------------- receiving


def receive_cap_document(*, raw: bytes, actor: User | None) -> CapReceipt:
    """Read a CAP alert or Atom feed (``cap.read_cap_document``: bounded, no entities,
    schema-validated), and store each alert as signals through the intake. A document
    that cannot be read raises ``cap.CapRefused``; an invalid alert in a feed is
    reported and the others are taken."""
    intake.check_can_ingest(actor)
    limit = getattr(settings, "WATCHFLOOR_CAP_MAX_BYTES", cap.MAX_DOCUMENT_BYTES)
    document = cap.read_cap_document(raw, max_bytes=limit)
    receipt = CapReceipt(
        kind=document.kind,
        problems=list(document.problems),
        entries=document.entries,
        entries_without_alert=document.entries_without_alert,
    )
    if not document.alerts:
        return receipt
    markets, senders = _markets_and_senders()
    threads = _known_threads(document.alerts)
    items: list[dict[str, Any]] = []
    owners: list[int] = []  # for each item, the index of its alert
    planned = []
    for position, alert in sorted(enumerate(document.alerts), key=lambda p: p[1].sent):
        thread = _thread_of(alert, threads)
        threads[alert.key] = thread
        trusted = senders.spec.find(alert.sender)
        country = trusted.country if trusted and trusted.country else None
        country = country or areas.sender_domain_country(alert.sender)
        signals = _signals_of(
            alert, thread=thread, trusted=trusted, markets=markets, country=country
        )
        planned.append((position, alert, thread, trusted is not None, signals))
        for item in signals:
            items.append(item)
            owners.append(position)
    result = intake.ingest_signals(items=items, producer=PRODUCER, actor=actor)
    by_alert: dict[int, list[intake.ItemResult]] = defaultdict(list)
    for owner, item_result in zip(owners, result.results, strict=True):
        by_alert[owner].append(item_result)
    outcomes: dict[int, AlertOutcome] = {}
    for position, alert, thread, trusted, signals in planned:
        results = by_alert[position]
        statuses = {r.status for r in results}
        status = (
            intake.REJECTED
            if intake.REJECTED in statuses
            else intake.ACCEPTED
            if intake.ACCEPTED in statuses
            else intake.DUPLICATE
        )
        outcomes[position] = AlertOutcome(
            sender=alert.sender,
            identifier=alert.identifier,
            msg_type=alert.msg_type,
            thread=thread,
            trusted=trusted,
            markets=sorted({m for s in signals for m in s["attributes"]["alert"]["markets"]}),
            status=status,
            signal_ids=[r.signal_id for r in results if r.signal_id is not None],
            cluster_id=next((r.cluster_id for r in results if r.cluster_id), None),
            problems=[f"{r.field}: {r.message}" for r in results if r.status == intake.REJECTED],
        )
    receipt.alerts = [outcomes[position] for position in sorted(outcomes)]
    _record_alerts(receipt, document.alerts, actor=actor)
    return receipt


def _markets_and_senders() -> tuple[list[MarketSpec], Any]:
    try:
        version = active_catalog_version()
    except NotFound:
        return [], senders_in_force(None)
    catalog = catalog_for(version)
    return list(catalog.markets.markets), senders_in_force(catalog, catalog_key=version.digest)


def _known_threads(alerts: Sequence[cap.CapAlert]) -> dict[tuple[str, str], str]:
    keys = {alert.key for alert in alerts} | {
        reference.key for alert in alerts for reference in alert.references
    }
    rows = ReceivedAlert.objects.filter(
        sender__in={sender for sender, _ in keys}, identifier__in={i for _, i in keys}
    ).values_list("sender", "identifier", "thread")
    return {(sender, identifier): thread for sender, identifier, thread in rows}


def _thread_of(alert: cap.CapAlert, known: dict[tuple[str, str], str]) -> str:
    """The thread an alert belongs to: that of the first alert it references which has
    been received, else the earliest it references, else its own."""
    if alert.key in known:
        return known[alert.key]
    for reference in alert.references:
        if reference.key in known:
            return known[reference.key]
    if alert.references:
        first = min(alert.references, key=lambda r: r.sent)
        return f"{first.sender},{first.identifier}"
    return f"{alert.sender},{alert.identifier}"


def _signal_id(alert: cap.CapAlert, info_index: int) -> str:
    value = f"{alert.sender},{alert.identifier}#{info_index}"
    if len(value) <= 200:
        return value
    digest = hashlib.sha256(f"{alert.sender},{alert.identifier}".encode()).hexdigest()
    return f"sha256:{digest}#{info_index}"


def _signals_of(
    alert: cap.CapAlert,
    *,
    thread: str,
    trusted: Any,
    markets: list[MarketSpec],
    country: str | None,
) -> list[dict[str, Any]]:
    base = {
        "cap_version": alert.version,
        "sender": alert.sender,
        "identifier": alert.identifier,
        "sent": alert.sent_text,
        "status": alert.status,
        "msg_type": alert.msg_type,
        "scope": alert.scope,
        "thread": thread,
        "references": [[r.sender, r.identifier, r.sent] for r in alert.references[:MAX_LISTED]],
        "incidents": list(alert.incidents[:MAX_LISTED]),
        "trusted": trusted is not None,
        "trusted_as": trusted.name if trusted is not None else "",
        "signed": alert.signed,
        "signature_checked": False,
    }
    signals = []
    infos: Sequence[cap.CapInfo | None] = alert.infos or (None,)
    for index, info in enumerate(infos):
        facts = dict(base)
        if info is None:
            codes = [country] if country in {m.code for m in markets} else []
            named = ", ".join(r.identifier for r in alert.references) or alert.identifier
            text = alert.note or f"{alert.msg_type} of {named}"
            facts.update(markets=codes, markets_from="sender" if codes else "", info=None)
            language = None
        else:
            found = areas.markets_for_info(info, markets=markets, sender_country=country)
            codes = list(found.codes)
            text = "\n\n".join(cap.iter_text(info))
            facts.update(
                info=index,
                language=info.language,
                event=info.event,
                categories=list(info.categories),
                urgency=info.urgency,
                severity=info.severity,
                certainty=info.certainty,
                response_types=list(info.response_types),
                effective=_iso(info.effective),
                onset=_iso(info.onset),
                expires=_iso(info.expires),
                sender_name=info.sender_name,
                headline=info.headline[:500],
                web=info.web[:1000],
                areas=[area.description[:300] for area in info.areas[:MAX_LISTED]],
                markets=codes,
                markets_from=found.how,
            )
            language = _language(info.language)
        signal: dict[str, Any] = {
            "id": _signal_id(alert, index),
            "received_at": alert.sent.isoformat(),
            "source": SOURCE,
            "subject": {"kind": "alert", "ref": thread[:4096]},
            "text": text[: cap.MAX_SIGNAL_TEXT] or alert.identifier,
            "reporter": alert.sender[:200],
            "attributes": {"alert": facts},
        }
        if codes:
            signal["market"] = codes[0]
        if language:
            signal["language"] = language
        signals.append(signal)
    return signals


def _language(tag: str) -> str | None:
    try:
        return canonical_language_tag(tag) if tag and tag.replace("-", "").isalnum() else None
    except ValueError:  # pragma: no cover - a tag the contract refuses is left out
        return None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _record_alerts(
    receipt: CapReceipt, alerts: Sequence[cap.CapAlert], *, actor: User | None
) -> None:
    """A ``ReceivedAlert`` per newly taken alert, and one audit event, in one
    transaction (after the intake's own has committed the signals)."""
    parsed = {alert.key: alert for alert in alerts}
    now = clock.now()
    with transaction.atomic():
        known = set(
            ReceivedAlert.objects.filter(
                sender__in={a.sender for a in receipt.alerts},
                identifier__in={a.identifier for a in receipt.alerts},
            ).values_list("sender", "identifier")
        )
        rows = []
        for outcome in receipt.alerts:
            key = (outcome.sender, outcome.identifier)
            if outcome.status != intake.ACCEPTED or key in known:
                continue
            known.add(key)
            alert = parsed[key]
            rows.append(
                ReceivedAlert(
                    sender=alert.sender,
                    identifier=alert.identifier,
                    sent=alert.sent,
                    version=alert.version,
                    status=alert.status,
                    msg_type=alert.msg_type,
                    thread=outcome.thread,
                    references=[[r.sender, r.identifier, r.sent] for r in alert.references],
                    trusted=outcome.trusted,
                    signed=alert.signed,
                    events=[info.event for info in alert.infos],
                    markets=outcome.markets,
                    signal_ids=outcome.signal_ids,
                    cluster_id=outcome.cluster_id,
                    received_at=now,
                    received_by=actor,
                )
            )
        # Another delivery of the same alert may have just been recorded: one row each.
        ReceivedAlert.objects.bulk_create(rows, ignore_conflicts=True)
        record_event(
            action=AuditAction.WARNING_ALERTS_RECEIVED,
            actor=actor,
            data={
                "document": receipt.kind,
                "accepted": receipt.accepted,
                "duplicates": receipt.duplicates,
                "refused": receipt.rejected,
                "alerts": [
                    {
                        "sender": o.sender,
                        "identifier": o.identifier,
                        "msg_type": o.msg_type,
                        "thread": o.thread,
                        "trusted": o.trusted,
                        "status": o.status,
                    }
                    for o in receipt.alerts[:MAX_LISTED]
                ],
            },
        )


# ---------------------------------------------------------------- proposals


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
