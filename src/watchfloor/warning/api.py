"""``POST /api/v1/alerts:cap``: official alerts (CAP 1.2 XML, one alert or an Atom feed
of them) through ``services.receive_cap_document``.

The body is the XML itself (``Content-Type: application/cap+xml``, ``application/xml``
or ``application/atom+xml``), read here within its byte limit, never by the JSON
parser. A document that cannot be taken is answered with the usual error shape and the
line at fault; an invalid alert of a feed is listed in ``refused`` and the others taken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from watchfloor.people.auth import api_authenticators, request_actor
from watchfloor.people.models import TokenScope
from watchfloor.signals import intake
from watchfloor.warning import cap
from watchfloor.web.api import ErrorOut

if TYPE_CHECKING:
    from watchfloor.warning.services import CapReceipt

router = Router(tags=["warning"])
_READ_CHUNK = 64 * 1024


class AlertResultOut(Schema):
    sender: str
    identifier: str
    msg_type: str = Field(description="Alert, Update, Cancel, Ack or Error")
    thread: str = Field(description="sender,identifier of the first alert of its thread")
    trusted: bool = Field(description="the sender is one the organisation trusts")
    markets: list[str]
    status: str = Field(description="accepted, duplicate or rejected")
    signal_ids: list[int] = Field(description="one signal per <info>")
    cluster_id: int | None


class RefusedOut(Schema):
    index: int = Field(description="the entry of the feed, from 0")
    line: int | None
    code: str
    message: str


class CapReceiptOut(Schema):
    document: str = Field(description="alert or feed")
    accepted: int
    duplicates: int
    refused: int
    entries_without_alert: int = Field(
        description="feed entries that only link to their alert (links are not fetched)"
    )
    alerts: list[AlertResultOut]
    refused_alerts: list[RefusedOut]

    @classmethod
    def build(cls, receipt: CapReceipt) -> dict[str, Any]:
        return {
            "document": receipt.kind,
            "accepted": receipt.accepted,
            "duplicates": receipt.duplicates,
            "refused": receipt.rejected,
            "entries_without_alert": receipt.entries_without_alert,
            "alerts": [alert.__dict__ for alert in receipt.alerts],
            "refused_alerts": [
                {"index": p.index, "line": p.line, "code": p.code, "message": p.message}
                for p in receipt.problems
            ],
        }


_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in ("application/cap+xml", "application/atom+xml", "application/xml")
        },
    }
}


@router.post(
    "/alerts:cap",
    response={200: CapReceiptOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 413: ErrorOut},
    openapi_extra=_REQUEST_BODY,
    summary="Send an official alert (CAP 1.2) or an Atom feed of them",
    auth=api_authenticators(scope=TokenScope.INGEST),
)
def receive_cap(request: HttpRequest):
    """Validate the alert(s) against the OASIS CAP schema (documents declaring a DTD or
    entities are refused) and store one signal per ``<info>``; Update and Cancel join
    the thread of the alert they reference. The response comes after the signals are
    committed."""
    from watchfloor.warning.services import receive_cap_document

    actor = request_actor(request)
    intake.check_can_ingest(actor)
    receipt = receive_cap_document(raw=_read_body(request), actor=actor)
    return CapReceiptOut.build(receipt)


def _read_body(request: HttpRequest) -> bytes:
    """The body, one byte past the limit at most (the service refuses it)."""
    limit = getattr(settings, "WATCHFLOOR_CAP_MAX_BYTES", cap.MAX_DOCUMENT_BYTES)
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limit:
        raise cap.CapTooLarge(
            f"the document is {int(declared):,} bytes; the limit is {limit:,}",
            code="document_too_large",
        )
    if getattr(request, "_body", None) is not None:
        return request.body[: limit + 1]
    chunks, size = [], 0
    while size <= limit and (chunk := request.read(_READ_CHUNK)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[: limit + 1]
