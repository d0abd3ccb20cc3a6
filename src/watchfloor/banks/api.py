"""`POST /api/v1/match`: a batch of hashes, answered item by item."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ninja import Field, Router, Schema

from watchfloor.banks.callbacks import receive_callback
from watchfloor.banks.match_work import QueryContext, record_matches
from watchfloor.banks.matcher import EntryMatch, Query, QueryResult, match
from watchfloor.banks.models import MatchChannel
from watchfloor.banks.selectors import banks_visible_to
from watchfloor.notify.signing import SIGNATURE_HEADER
from watchfloor.people.auth import api_authenticators, request_actor, request_token
from watchfloor.people.models import TokenScope
from watchfloor.web.api import ErrorOut

if TYPE_CHECKING:
    from django.http import HttpRequest

router = Router(tags=["banks"])


class QueryIn(Schema):
    signal_type: str = "pdq"
    value: str
    # What the caller knows of the item: its id (the hash_match signal's idempotency key),
    # the market it was uploaded in, and the platform's reference to it.
    id: str = Field("", max_length=200)
    market: str = Field("", max_length=8)
    subject_ref: str = Field("", max_length=4096)


class MatchIn(Schema):
    queries: list[QueryIn]
    banks: list[str] = []


class EntryMatchOut(Schema):
    bank: str
    entry_id: int
    distance: int
    labels: list[str]


class ItemError(Schema):
    code: str
    message: str
    field: str | None


class ResultOut(Schema):
    signal_type: str
    value: str
    matches: list[EntryMatchOut]
    suppressed_by: list[EntryMatchOut]
    error: ItemError | None


class MatchOut(Schema):
    results: list[ResultOut]


def result_out(result: QueryResult) -> ResultOut:
    def entry(match_: EntryMatch) -> EntryMatchOut:
        return EntryMatchOut(
            bank=match_.bank,
            entry_id=match_.entry_id,
            distance=match_.distance,
            labels=list(match_.labels),
        )

    return ResultOut(
        signal_type=result.signal_type,
        value=result.value,
        matches=[entry(m) for m in result.matches],
        suppressed_by=[entry(m) for m in result.suppressed_by],
        error=ItemError(
            code=result.error.code, message=result.error.message, field=result.error.field
        )
        if result.error
        else None,
    )


@router.post(
    "/match",
    response={200: MatchOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut},
    summary="Match a batch of hashes against the banks",
    auth=api_authenticators(scope=TokenScope.MATCHER),
)
def match_batch(request: HttpRequest, payload: MatchIn):
    """Up to 1,000 queries (MAX_BATCH); each is answered with every entry matched (PDQ: within
    its bank's threshold, with the distance) or its own error; the rest of the batch is
    answered either way. Only banks the caller may see are searched. Every match is
    recorded and becomes a hash_match signal; the action rules then act on it."""
    actor = request_actor(request)
    results = match(
        queries=[Query(signal_type=q.signal_type, value=q.value) for q in payload.queries],
        banks=banks_visible_to(actor),
        only=payload.banks,
    )
    record_matches(
        results=results,
        contexts=[
            QueryContext(id=q.id, market=q.market.upper(), subject_ref=q.subject_ref)
            for q in payload.queries
        ],
        actor=actor,
        channel=MatchChannel.API,
        token=request_token(request),
    )
    return MatchOut(results=[result_out(result) for result in results])


class CallbackOut(Schema):
    idempotency_key: str
    status: str
    items: int


@router.post(
    "/enforcement/callback/{connector}",
    response={200: CallbackOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut},
    summary="A platform confirms or refuses an enforcement request",
    auth=None,
)
def enforcement_callback(request: HttpRequest, connector: str):
    """Signed by the platform with the connector's secret (`X-Watchfloor-Signature:
    t=<unix seconds>,v1=<HMAC-SHA256 of "<t>.<body>">`), no token. Body:
    `{"idempotency_key", "status": "carried_out"|"refused", "carried_out_at", "by",
    "reference", "reason", "items": [{"reference", "status": "done"|"refused"|"failed",
    "detail"}]}`; items not named take the request's status. The same callback twice
    changes nothing the second time."""
    answered = receive_callback(
        connector_code=connector,
        body=request.body,
        signature=request.headers.get(SIGNATURE_HEADER),
    )
    return CallbackOut(
        idempotency_key=answered.idempotency_key,
        status=answered.status,
        items=answered.item_count,
    )
