"""The signals API: ``POST /api/v1/signals:batch``, a thin handler over ``intake``.

The body is a JSON array of signals (see docs/signals.md for the contract); the
answer has one result per item, in order. The body is read and decoded here, not by
a ninja schema: validating 10,000 signals is the intake's first step (with the
contract's reasons, fields and messages), and a rejected item must not stop the
others.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from watchfloor.core.errors import InvalidInput
from watchfloor.people.auth import api_authenticators, request_actor
from watchfloor.people.models import TokenScope
from watchfloor.signals import intake
from watchfloor.signals.collector import collecting_rarely
from watchfloor.signals.contract import decode_json
from watchfloor.web.api import ErrorOut

if TYPE_CHECKING:
    pass

router = Router(tags=["signals"])

# A full batch of ordinary signals is a few megabytes; 10,000 signals at the contract's
# limits would be more than a gigabyte, which is not a batch anyone should send.
MAX_BODY_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 1024 * 1024


class SignalErrorOut(Schema):
    code: str = Field(description="the rejection reason, e.g. missing_field, unknown_market")
    message: str = Field(description="what is wrong and how to fix it")
    field: str | None = Field(description="dotted field at fault; null for the whole item")


class SignalResultOut(Schema):
    index: int = Field(description="position of the item in the request, from 0")
    status: str = Field(description="accepted, duplicate or rejected")
    signal_id: int | None = Field(
        description="the stored signal (for a duplicate, the earlier one)"
    )
    cluster_id: int | None = Field(description="the cluster the signal belongs to")
    error: SignalErrorOut | None = Field(description="why the item was rejected")


class BatchOut(Schema):
    accepted: int
    duplicates: int
    rejected: int
    rejected_by_reason: dict[str, int]
    results: list[SignalResultOut]

    @classmethod
    def build(cls, result: intake.BatchResult) -> dict[str, Any]:
        return {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": result.rejected,
            "rejected_by_reason": result.rejected_by_reason,
            "results": [
                {
                    "index": item.index,
                    "status": item.status,
                    "signal_id": item.signal_id,
                    "cluster_id": item.cluster_id,
                    "error": {"code": item.reason, "message": item.message, "field": item.field}
                    if item.status == intake.REJECTED
                    else None,
                }
                for item in result.results
            ],
        }


def _signal_schema() -> dict[str, Any]:
    schema = json.loads(
        (Path(__file__).parent / "schema" / "signal.schema.json").read_text(encoding="utf-8")
    )
    schema.pop("$schema", None)
    schema.pop("$id", None)
    return schema


_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "maxItems": intake.MAX_BATCH_SIZE,
                    "items": _signal_schema(),
                }
            }
        },
    }
}


@router.post(
    "/signals:batch",
    response={
        200: BatchOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        413: ErrorOut,
    },
    openapi_extra=_REQUEST_BODY,
    summary="Send a batch of signals",
    # A token needs the ingest scope here, whatever else it may do.
    auth=api_authenticators(scope=TokenScope.INGEST),
)
def ingest_batch(request: HttpRequest):
    """Ingest up to 10,000 signals, given as a JSON array. Each item is answered in order:
    ``accepted``, ``duplicate`` (this producer already sent that ``id``; the earlier
    signal is named) or ``rejected`` with its reason. Valid items are stored even when
    others are rejected. The producer is the caller's username. The response comes
    after the batch has been committed."""
    actor = request_actor(request)
    intake.check_can_ingest(actor)
    # The collector runs rarely while the batch is read and stored, as in `ingest`.
    with collecting_rarely():
        items = _signals_in_body(request)
        result = intake.ingest_signals(items=items, producer=actor.get_username(), actor=actor)
    return BatchOut.build(result)


def _signals_in_body(request: HttpRequest) -> list[Any]:
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _body_too_large()
    body = _read_body(request)
    try:
        data = decode_json(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"the request body is not UTF-8 (byte {error.start + 1}): send JSON in UTF-8",
            code="bad_encoding",
        ) from None
    except (ValueError, RecursionError) as error:
        detail = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise InvalidInput(
            f"the request body is not valid JSON ({detail}): send a JSON array of signals "
            "with Content-Type: application/json",
            code="malformed_json",
        ) from None
    if type(data) is not list:
        raise InvalidInput(
            "the request body must be a JSON array of signals, such as "
            '[{"id": "...", "received_at": "...", "source": "...", "subject": {...}}]',
            code="invalid",
        )
    if len(data) > intake.MAX_BATCH_SIZE:
        raise intake.BatchTooLarge(
            f"the batch holds {len(data):,} signals; the limit is {intake.MAX_BATCH_SIZE:,}: "
            "send them in several requests"
        )
    return data


def _read_body(request: HttpRequest) -> bytes:
    if getattr(request, "_body", None) is not None:
        body = request.body
    else:
        chunks, size = [], 0
        while chunk := request.read(_READ_CHUNK):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _body_too_large()
            chunks.append(chunk)
        body = b"".join(chunks)
    if len(body) > MAX_BODY_BYTES:
        raise _body_too_large()
    return body


def _body_too_large() -> intake.BatchTooLarge:
    return intake.BatchTooLarge(
        f"the request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB: "
        "send fewer signals per request"
    )
