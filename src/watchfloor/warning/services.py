"""Official alerts in: ``receive_cap_document``.

An alert becomes signals through the ONE intake (``signals.intake.ingest_signals``):
one signal per ``<info>`` (or one for an alert without any: a Cancel often has none),
source ``external_alert``, subject ``alert:<thread>``. The thread is the first alert of
a chain: an Update or Cancel names earlier alerts in ``references``, and takes the
thread of the first it names that Watchfloor has received (else that alert itself), so
every message of one incident shares a subject and lands in one cluster.

What each signal carries about the alert is in ``attributes.alert`` (sender, event,
urgency, severity, certainty, areas, markets, effective/onset/expires, trusted...); the
auto-escalation rules read it (``signals.rules``, condition ``alert``). The crisis
proposals that follow once the rules have run are :mod:`watchfloor.warning.proposals`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.catalog.selectors import active_catalog_version, catalog_for
from watchfloor.core import clock
from watchfloor.core.errors import NotFound
from watchfloor.signals import intake
from watchfloor.signals.contract import canonical_language_tag
from watchfloor.warning import areas, cap
from watchfloor.warning.models import ReceivedAlert
from watchfloor.warning.senders import senders_in_force

if TYPE_CHECKING:
    from watchfloor.catalog.schema import MarketSpec
    from watchfloor.people.models import User

__all__ = [
    "PRODUCER",
    "AlertOutcome",
    "CapReceipt",
    "receive_cap_document",
]

# CAP alerts are known by sender and identifier whoever delivers them (the API, a file,
# a feed poller): one producer, so the same alert sent twice is one signal.
PRODUCER = "cap"
SOURCE = "external_alert"
MAX_LISTED = 20


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
