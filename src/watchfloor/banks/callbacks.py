"""The platform's answer to an enforcement request: a signed callback that confirms or
refuses it, item by item (``POST /api/v1/enforcement/callback/<connector>``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.banks.models import (
    EnforcementConnector,
    EnforcementItem,
    EnforcementRequest,
    ItemStatus,
    RequestStatus,
)
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, NotFound
from watchfloor.notify.signing import SignatureError, verify_signature

CALLBACK_MAX_BYTES = 4 * 1024 * 1024


class CallbackRefused(InvalidInput):
    code = "callback_refused"
    http_status = 401


def receive_callback(
    *, connector_code: str, body: bytes, signature: str | None
) -> EnforcementRequest:
    """The platform says what became of a request. Signed with the connector's secret;
    the same callback twice changes nothing the second time.

    Body: ``{"idempotency_key", "status": "carried_out" | "refused", "carried_out_at",
    "by", "reference", "reason", "items": [{"reference", "status": "done" | "refused" |
    "failed", "detail"}]}``; items not named take the request's status."""
    connector = EnforcementConnector.objects.filter(code=connector_code).first()
    if connector is None:
        raise CallbackRefused("unknown connector", field="connector")
    if len(body) > CALLBACK_MAX_BYTES:
        raise InvalidInput(f"a callback is at most {CALLBACK_MAX_BYTES:,} bytes", field="body")
    try:
        verify_signature(
            secret=connector.secret,
            header=signature,
            body=body,
            now=int(clock.now().timestamp()),
        )
    except SignatureError as error:
        raise CallbackRefused(str(error), field="X-Watchfloor-Signature") from None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the callback body is not JSON", field="body") from None
    if not isinstance(data, dict):
        raise InvalidInput("the callback body is a JSON object", field="body")
    status = data.get("status")
    if status not in ("carried_out", "refused"):
        raise InvalidInput("status is carried_out or refused", field="status")
    items = data.get("items") or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidInput("items is a list of objects", field="items")
    with transaction.atomic():
        request = (
            EnforcementRequest.objects.select_for_update()
            .filter(connector=connector, idempotency_key=str(data.get("idempotency_key", "")))
            .first()
        )
        if request is None:
            raise NotFound("no request with this idempotency key", field="idempotency_key")
        if request.completed_at is not None:
            return request  # told twice: the first answer stands
        default = ItemStatus.DONE if status == "carried_out" else ItemStatus.REFUSED
        named = _item_results(items)
        rows = list(request.items.all())
        for row in rows:
            row.status, row.detail = named.get(row.reference, (default, ""))
        EnforcementItem.objects.bulk_update(rows, ["status", "detail"], batch_size=1000)
        done = sum(1 for row in rows if row.status == ItemStatus.DONE)
        request.status = (
            RequestStatus.REFUSED
            if done == 0
            else RequestStatus.CARRIED_OUT
            if done == len(rows)
            else RequestStatus.PARTLY_CARRIED_OUT
        )
        request.completed_at = _when(data.get("carried_out_at"))
        request.completed_by = str(data.get("by") or "")[:200]
        request.platform_reference = str(data.get("reference") or "")[:200]
        request.refusal_reason = str(data.get("reason") or "")[:2000]
        request.next_attempt_at = None
        request.save()
        record_event(
            action=AuditAction.BANK_ENFORCEMENT_ANSWERED,
            actor=None,
            target=request,
            escalation_id=request.escalation_id,
            data={
                "status": request.status,
                "done": done,
                "items": len(rows),
                "by": request.completed_by,
                "at": request.completed_at.isoformat(),
                "reason": request.refusal_reason,
            },
        )
    return request


def _item_results(items: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    results: dict[str, tuple[str, str]] = {}
    for index, item in enumerate(items):
        status = item.get("status")
        if status not in (ItemStatus.DONE, ItemStatus.REFUSED, ItemStatus.FAILED):
            raise InvalidInput(
                "an item's status is done, refused or failed", field=f"items[{index}]"
            )
        results[str(item.get("reference", ""))] = (status, str(item.get("detail") or "")[:500])
    return results


def _when(value: Any) -> datetime:
    """The platform's time, when it gives a sensible one; else the time it told us."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(
                "carried_out_at is an ISO 8601 time", field="carried_out_at"
            ) from None
        if parsed.tzinfo is not None and 2000 <= parsed.year <= 2199:
            return parsed.astimezone(UTC)
        raise InvalidInput("carried_out_at needs an offset (Z or +09:00)", field="carried_out_at")
    return clock.now()
