"""The actioner: enforcement actions carried out through a platform connector.

A request (``EnforcementRequest``) is one action (remove, label, withhold in named
countries, suspend ...) on any number of items, from a decision recorded on an
escalation or from a live action rule. It is sent on the worker as a signed webhook —
the notify app's transport and signing, HMAC-SHA256 over ``<t>.<body>`` in
``X-Watchfloor-Signature`` — with an ``Idempotency-Key`` that stays the same across
retries, retried with the notify app's backoff while the platform is unreachable or
overloaded. The platform answers 2xx to take the request, then calls back
(``POST /api/v1/enforcement/callback/<connector>``, signed with the same secret) to say
which items it carried out or refused, when and by whom.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.banks.models import (
    OUTSTANDING_REQUEST_STATUSES,
    EnforcementAttempt,
    EnforcementConnector,
    EnforcementItem,
    EnforcementRequest,
    ItemStatus,
    RequestStatus,
    RuleFiring,
)
from watchfloor.banks.tasks import send_after_commit
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from watchfloor.core.roles import can_work_escalations, is_admin
from watchfloor.core.validation import refuse_control_characters, require
from watchfloor.escalations.models import Decision
from watchfloor.markets.models import Market
from watchfloor.notify.backoff import retry_delay
from watchfloor.notify.channels import validate_webhook_url
from watchfloor.notify.signing import new_secret
from watchfloor.notify.transports import SendResult, encode_body, post_webhook
from watchfloor.policy.models import EnforcementAction

if TYPE_CHECKING:
    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User

MAX_ITEMS = 10_000
REFERENCE_MAX = 2000
CALLBACK_MAX_BYTES = 4 * 1024 * 1024
IDEMPOTENCY_HEADER = "Idempotency-Key"


# ---------------------------------------------------------------- connectors


def check_connector_url(url: str) -> str:
    """The one place a connector's address is checked, the notify app's check of every
    address that signed requests are POSTed to."""
    return validate_webhook_url(
        url,
        what="a connector",
        example="https://enforcement.example.com/watchfloor",
        carries="requests name the content",
    )


def save_connector(*, connector: EnforcementConnector, actor: User | None) -> EnforcementConnector:
    """Create or change a connector (the admin's way in); a new one gets a secret."""
    if actor is not None and not is_admin(actor):
        raise PermissionDenied("only an admin manages enforcement connectors")
    if not (connector.name or "").strip():
        raise InvalidInput("a connector needs a name people recognise", field="name")
    refuse_control_characters(connector.name, field="name")
    check_connector_url(connector.url)
    if not 1 <= connector.max_attempts <= 20:
        raise InvalidInput("max_attempts is from 1 to 20", field="max_attempts")
    created = connector.pk is None
    with transaction.atomic():
        now = clock.now()
        if created:
            connector.created_at = now
        was_sending = (
            not created
            and EnforcementConnector.objects.filter(
                pk=connector.pk, sends_final_decisions=True
            ).exists()
        )
        if connector.sends_final_decisions and not was_sending:
            connector.sends_final_decisions_since = now
        elif not connector.sends_final_decisions:
            connector.sends_final_decisions_since = None
        if not connector.secret:
            connector.secret = new_secret()
        connector.save()
        record_event(
            action=AuditAction.BANK_CONNECTOR_SAVED,
            actor=actor,
            target=connector,
            data={
                "code": connector.code,
                "url": connector.url,
                "is_active": connector.is_active,
                "sends_final_decisions": connector.sends_final_decisions,
                "created": created,
            },
        )
    return connector


def active_connector(code: str) -> EnforcementConnector:
    connector = EnforcementConnector.objects.filter(code=code).first()
    if connector is None:
        raise NotFound(f"no enforcement connector named {code!r}", field="connector")
    if not connector.is_active:
        raise Conflict(f"the connector {code!r} is switched off", field="connector")
    return connector


# ---------------------------------------------------------------- requests


def _clean_references(references: Sequence[str]) -> list[str]:
    cleaned: list[str] = []
    seen: set[str] = set()
    for index, reference in enumerate(references):
        text = (reference or "").strip()
        if not text or len(text) > REFERENCE_MAX:
            raise InvalidInput(
                f"an item reference is 1 to {REFERENCE_MAX} characters", field=f"items[{index}]"
            )
        refuse_control_characters(text, field=f"items[{index}]")
        if text not in seen:
            seen.add(text)
            cleaned.append(text)
    if not cleaned:
        raise InvalidInput("name at least one item to act on", field="items")
    if len(cleaned) > MAX_ITEMS:
        raise InvalidInput(
            f"at most {MAX_ITEMS:,} items in one request, got {len(cleaned):,}", field="items"
        )
    return cleaned


def request_enforcement(
    *,
    connector: EnforcementConnector,
    action_code: str,
    references: Sequence[str],
    actor: User | None,
    countries: Sequence[str] = (),
    decision: Decision | None = None,
    escalation: Escalation | None = None,
    firing: RuleFiring | None = None,
    automatic: bool = False,
) -> EnforcementRequest:
    """Queue one action on ``references`` through ``connector``; sent after commit.
    ``automatic``: queued because ``decision`` became final, not by a person."""
    if not connector.is_active:
        raise Conflict(f"the connector {connector.code!r} is switched off", field="connector")
    action = EnforcementAction.objects.filter(code=action_code).first()
    if action is None:
        raise InvalidInput(f"unknown enforcement action {action_code!r}", field="action")
    codes = [code.strip().upper() for code in countries if code and code.strip()]
    if action.needs_countries and not codes:
        raise InvalidInput(f"'{action.label}' needs the countries it applies in", field="countries")
    if not action.needs_countries and codes:
        raise InvalidInput(f"'{action.label}' does not take countries", field="countries")
    known = set(Market.objects.filter(code__in=codes).values_list("code", flat=True))
    for index, code in enumerate(codes):
        if code not in known:
            raise InvalidInput(f"unknown country or market '{code}'", field=f"countries[{index}]")
    items = _clean_references(references)
    now = clock.now()
    with transaction.atomic():
        request = EnforcementRequest.objects.create(
            connector=connector,
            idempotency_key=uuid.uuid4().hex,
            action=action,
            countries=codes,
            decision=decision,
            escalation=escalation or (decision.escalation if decision is not None else None),
            firing=firing,
            requested_by=actor,
            requested_at=now,
            automatic=automatic,
            status=RequestStatus.QUEUED,
            item_count=len(items),
        )
        EnforcementItem.objects.bulk_create(
            [EnforcementItem(request=request, reference=reference) for reference in items],
            batch_size=1000,
        )
        record_event(
            action=AuditAction.BANK_ENFORCEMENT_REQUESTED,
            actor=actor,
            target=request,
            escalation_id=request.escalation_id,
            data={
                "connector": connector.code,
                "action": action.code,
                "countries": codes,
                "items": len(items),
                "decision": decision.pk if decision is not None else None,
                "firing": firing.pk if firing is not None else None,
                "automatic": automatic,
                "idempotency_key": request.idempotency_key,
            },
        )
        send_after_commit(request.pk)
    return request


def carry_out_decision(
    *,
    decision: Decision,
    connector_code: str,
    actor: User,
    references: Sequence[str] = (),
) -> EnforcementRequest:
    """Send a final decision to a platform connector: its action and countries, on the
    items named, or else on every item the escalation holds (its subjects and the items
    of the bank matches in its clusters)."""
    require(can_work_escalations(actor), "your role cannot carry out decisions")
    if decision.state != Decision.State.FINAL:
        raise Conflict(
            "only a final decision is carried out; this one is "
            f"{decision.get_state_display().lower()}",
            field="decision",
        )
    connector = active_connector(connector_code)
    items = list(references) or escalation_items(decision.escalation)
    # The same decision is not sent twice for an item (it may have gone out on its own
    # when it became final); an item the platform refused or failed may be sent again.
    already = items_requested(decision=decision, connector=connector)
    fresh = [item for item in items if (item or "").strip() not in already]
    if items and not fresh:
        raise Conflict(
            f"decision {decision.pk} already went to {connector.name} for every item; "
            "what became of it is in the Enforcement panel",
            field="decision",
        )
    return request_enforcement(
        connector=connector,
        action_code=decision.action.code,
        countries=list(decision.countries),
        references=fresh,
        actor=actor,
        decision=decision,
    )


def items_requested(*, decision: Decision, connector: EnforcementConnector) -> set[str]:
    """The items this decision was sent through ``connector`` for, except those refused
    or never delivered."""
    return set(
        EnforcementItem.objects.filter(request__decision=decision, request__connector=connector)
        .exclude(request__status__in=(RequestStatus.FAILED, RequestStatus.REFUSED))
        .exclude(status__in=(ItemStatus.REFUSED, ItemStatus.FAILED))
        .values_list("reference", flat=True)
    )


def escalation_items(escalation: Escalation) -> list[str]:
    """What a decision acts on by default: the escalation's subjects, then the platform
    references of the hash matches in its clusters (copies of the same content)."""
    from watchfloor.banks.models import Match

    items = list(escalation.subjects.values_list("reference", flat=True))
    items += list(
        Match.objects.filter(signal__cluster__escalation=escalation)
        .exclude(subject_ref="")
        .order_by("id")
        .values_list("subject_ref", flat=True)
        .distinct()[: MAX_ITEMS + 1]
    )
    return items


# ---------------------------------------------------------------- sending (on the worker)


@dataclass(frozen=True)
class _Prepared:
    request_id: int
    number: int
    url: str
    secret: str
    payload: dict[str, Any]
    idempotency_key: str
    started_at: datetime


def send_request(*, request_id: int) -> str:
    """One attempt at sending the request, if it still wants one (the worker's task)."""
    prepared = _begin(request_id)
    if isinstance(prepared, str):
        return prepared
    try:
        url = check_connector_url(prepared.url)
    except InvalidInput as refused:
        return _finish(prepared, _refused(refused.message))
    result = post_webhook(
        url=url,
        body=encode_body(prepared.payload),
        secret=prepared.secret,
        timestamp=int(clock.now().timestamp()),
        headers={
            IDEMPOTENCY_HEADER: prepared.idempotency_key,
            "X-Watchfloor-Attempt": str(prepared.number),
        },
    )
    return _finish(prepared, result)


def _payload(request: EnforcementRequest) -> dict[str, Any]:
    return {
        "type": "enforcement.request",
        "idempotency_key": request.idempotency_key,
        "action": request.action.code,
        "countries": list(request.countries),
        "items": list(request.items.order_by("id").values_list("reference", flat=True)),
        "escalation": request.escalation.reference if request.escalation is not None else None,
        "decision": request.decision_id,
        "rule": request.firing.rule_code if request.firing is not None else None,
        "requested_at": request.requested_at.astimezone(UTC).isoformat(),
        "callback_path": f"/api/v1/enforcement/callback/{request.connector.code}",
    }


def _begin(request_id: int) -> _Prepared | str:
    now = clock.now()
    with transaction.atomic():
        request = (
            EnforcementRequest.objects.select_for_update(of=("self",))
            .select_related("connector", "action", "escalation", "firing")
            .filter(pk=request_id)
            .first()
        )
        if request is None:
            return "no such request"
        if request.status not in OUTSTANDING_REQUEST_STATUSES:
            return f"nothing to do: {request.get_status_display().lower()}"
        if request.next_attempt_at is not None and request.next_attempt_at > now:
            send_after_commit(request.pk, at=request.next_attempt_at)
            return f"not due until {request.next_attempt_at.isoformat()}"
        number = request.attempt_count + 1
        if not request.connector.is_active:
            _record_attempt(request, number, now, _refused("the connector is switched off"))
            _give_up(request, "the connector was switched off")
            return "gave up: connector switched off"
        request.status = RequestStatus.SENDING
        request.sending_since = now
        request.attempt_count = number
        request.save(update_fields=["status", "sending_since", "attempt_count"])
        return _Prepared(
            request_id=request.pk,
            number=number,
            url=request.connector.url,
            secret=request.connector.secret,
            payload={**_payload(request), "attempt": number},
            idempotency_key=request.idempotency_key,
            started_at=now,
        )


def _record_attempt(
    request: EnforcementRequest,
    number: int,
    started_at: datetime,
    result: SendResult,
    *,
    next_retry_at: datetime | None = None,
) -> EnforcementAttempt:
    return EnforcementAttempt.objects.create(
        request=request,
        number=number,
        started_at=started_at,
        finished_at=clock.now(),
        outcome=result.outcome,
        status_code=result.status_code,
        error=result.error,
        next_retry_at=next_retry_at,
    )


def _refused(error: str) -> SendResult:
    return SendResult(outcome="rejected", retryable=False, duration_ms=0, error=error)


def _finish(prepared: _Prepared, result: SendResult) -> str:
    finished = clock.now()
    with transaction.atomic():
        request = EnforcementRequest.objects.select_for_update().get(pk=prepared.request_id)
        request.sending_since = None
        if result.delivered:
            _record_attempt(request, prepared.number, prepared.started_at, result)
            if request.status == RequestStatus.SENDING:  # a fast callback may have come first
                request.status = RequestStatus.SENT
            request.sent_at = finished
            request.next_attempt_at = None
            request.last_error = ""
            request.save()
            record_event(
                action=AuditAction.BANK_ENFORCEMENT_SENT,
                actor=None,
                target=request,
                escalation_id=request.escalation_id,
                data={"attempt": prepared.number, "status_code": result.status_code},
            )
            return "sent"
        if result.retryable and prepared.number < request.connector.max_attempts:
            next_at = finished + retry_delay(
                prepared.number, retry_after_seconds=result.retry_after_seconds
            )
            _record_attempt(
                request, prepared.number, prepared.started_at, result, next_retry_at=next_at
            )
            request.status = RequestStatus.RETRYING
            request.next_attempt_at = next_at
            request.last_error = result.error
            request.save()
            send_after_commit(request.pk, at=next_at)
            return f"retrying at {next_at.isoformat()}"
        _record_attempt(request, prepared.number, prepared.started_at, result)
        _give_up(request, result.error)
        return f"gave up: {result.error}"


def _give_up(request: EnforcementRequest, error: str) -> None:
    request.status = RequestStatus.FAILED
    request.next_attempt_at = None
    request.sending_since = None
    request.last_error = error
    request.save()
    record_event(
        action=AuditAction.BANK_ENFORCEMENT_FAILED,
        actor=None,
        target=request,
        escalation_id=request.escalation_id,
        data={"attempts": request.attempt_count, "error": error},
    )


# ---------------------------------------------------------------- recovery


STALE_SENDING_AFTER = timedelta(minutes=10)
OVERDUE_GRACE = timedelta(minutes=2)


def resume_enforcement_requests() -> list[int]:
    """Nothing waits forever (run when a worker starts): a request cut off mid-send is
    sent again (the platform drops the repeat by its idempotency key), and one well past
    its due time is enqueued again; the task re-checks it under a lock."""
    now = clock.now()
    resumed: list[int] = []
    stale = EnforcementRequest.objects.filter(
        status=RequestStatus.SENDING, sending_since__lt=now - STALE_SENDING_AFTER
    ).values_list("pk", flat=True)
    for pk in list(stale):
        with transaction.atomic():
            request = EnforcementRequest.objects.select_for_update().get(pk=pk)
            if request.status != RequestStatus.SENDING:
                continue
            request.status = RequestStatus.RETRYING
            request.next_attempt_at = now
            request.sending_since = None
            request.last_error = "the worker stopped during an attempt; sent again"
            request.save()
            send_after_commit(pk)
            resumed.append(pk)
    for pk in EnforcementRequest.objects.filter(
        status__in=OUTSTANDING_REQUEST_STATUSES, next_attempt_at__lt=now - OVERDUE_GRACE
    ).values_list("pk", flat=True):
        if pk not in resumed:
            with transaction.atomic():
                send_after_commit(pk)
            resumed.append(pk)
    return resumed
