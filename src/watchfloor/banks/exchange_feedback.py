"""Opinions on an exchange's entries, recorded after review and sent back.

``record_opinion``: a false positive disables the entry here at once and is queued to
send; a confirmation is queued. The worker sends what is queued (``send_feedback``); an
exchange that takes no such opinion gets it marked ``unsupported``, not retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.banks.exchange_apis import (
    MAX_ERROR_CHARS,
    check_usable,
    stopncii_keys,
    stopncii_type_names,
)
from watchfloor.banks.models import (
    BankEntry,
    Exchange,
    ExchangeFeedback,
    ExchangeItem,
    ExchangeKind,
    FeedbackState,
    Opinion,
)
from watchfloor.banks.services import disable_entry
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, WatchfloorError
from watchfloor.core.validation import clean_text

if TYPE_CHECKING:
    from watchfloor.people.models import User


def record_opinion(
    *, entry: BankEntry, opinion: str, actor: User, note: str = ""
) -> ExchangeFeedback:
    """Confirm or dispute an exchange's entry after review. A false positive disables the
    entry here at once; either opinion is queued to send back to the exchange."""
    if entry.exchange_id is None:
        raise InvalidInput(
            "only entries fetched from an exchange take an opinion to send back", field="entry"
        )
    try:
        chosen = Opinion(opinion)
    except ValueError:
        known = ", ".join(Opinion.values)
        raise InvalidInput(f"an opinion is one of: {known}", field="opinion") from None
    note = clean_text(note, field="note", max_length=2000, required=False)
    with transaction.atomic():
        feedback = ExchangeFeedback.objects.create(
            exchange_id=entry.exchange_id,
            entry=entry,
            opinion=chosen,
            note=note,
            recorded_by=actor,
            recorded_at=clock.now(),
        )
        if chosen == Opinion.FALSE_POSITIVE:
            disable_entry(
                entry=entry,
                reason=f"false positive after review{': ' + note if note else ''}",
                actor=actor,
            )
        record_event(
            action=AuditAction.BANK_EXCHANGE_OPINION,
            actor=actor,
            target=entry,
            data={"bank": entry.bank.name, "opinion": chosen.value, "note": note},
        )
    from watchfloor.banks.tasks import send_feedback_after_commit

    send_feedback_after_commit(feedback.exchange_id)
    return feedback


def send_feedback(*, exchange: Exchange) -> dict[str, int]:
    """Send the exchange's queued opinions (and those that failed before); returns how
    many ended in each state."""
    outcome = {state.value: 0 for state in FeedbackState}
    queued = list(
        # Those that failed before are tried again; "unsupported" ones are not.
        ExchangeFeedback.objects.filter(
            exchange=exchange, state__in=[FeedbackState.PENDING, FeedbackState.FAILED]
        )
        .select_related("entry")
        .order_by("id")
    )
    if not queued:
        return outcome
    try:
        check_usable(exchange)
    except InvalidInput as error:
        _settle(queued, FeedbackState.FAILED, error.message)
        outcome[FeedbackState.FAILED] = len(queued)
        return outcome
    for feedback in queued:
        state, detail = _send_one(exchange, feedback)
        _settle([feedback], state, detail)
        outcome[state] += 1
    return outcome


def _send_one(exchange: Exchange, feedback: ExchangeFeedback) -> tuple[FeedbackState, str]:
    """One opinion, through the exchange's own client (StopNCII's ``SubmitFeedback``,
    ThreatExchange's reactions, NCMEC's feedback) or as a line appended to its signal
    file."""
    from watchfloor.banks.pytx import BANK_TO_PYTX

    positive = feedback.opinion == Opinion.CONFIRMED
    try:
        if exchange.kind == ExchangeKind.THREATEXCHANGE:
            from watchfloor.banks.exchange_threatexchange import send_threatexchange_opinion

            send_threatexchange_opinion(
                exchange,
                pytx_type=BANK_TO_PYTX[feedback.entry.signal_type],
                value=feedback.entry.value,
                positive=positive,
            )
            return FeedbackState.SENT, ""
        if exchange.kind == ExchangeKind.NCMEC:
            from watchfloor.banks.exchange_ncmec import send_ncmec_opinion

            send_ncmec_opinion(
                exchange,
                pytx_type=BANK_TO_PYTX[feedback.entry.signal_type],
                value=feedback.entry.value,
                refs=list(
                    ExchangeItem.objects.filter(
                        exchange=exchange, value=feedback.entry.value
                    ).values_list("ref", flat=True)
                ),
                positive=positive,
            )
            return FeedbackState.SENT, ""
        if exchange.kind == ExchangeKind.STOPNCII:
            from threatexchange.exchanges.clients.stopncii import api as stopncii

            kinds = {name: kind for kind, name in stopncii_type_names().items()}
            keys = stopncii_keys(exchange)
            if len(keys) < 3:
                raise InvalidInput(
                    f"{exchange.credentials_env} holds no feedback key (the third part)",
                    field="credentials_env",
                )
            client = stopncii.StopNCIIAPI(
                keys[1],
                keys[0],
                additional_function_keys={stopncii.StopNCIIEndpoint.SubmitFeedback: keys[2]},
                base_url_override=exchange.location.rstrip("/") or None,
            )
            client.submit_feedback(
                kinds[BANK_TO_PYTX[feedback.entry.signal_type]],
                feedback.entry.value,
                stopncii.StopNCIICSPFeedbackValue.Blocked
                if positive
                else stopncii.StopNCIICSPFeedbackValue.NotBlocked,
            )
            return FeedbackState.SENT, ""
        # A signal file takes a confirmation as one more line, as python-threatexchange's
        # file exchange writes it; its own writer opens the file in a mode Python 3.11
        # refuses ("wta"), so the line is appended here. A dispute has no place in it.
        if not positive:
            raise NotImplementedError
        with open(exchange.location, "a", encoding="utf-8") as signals:
            signals.write(f"{BANK_TO_PYTX[feedback.entry.signal_type]} {feedback.entry.value}\n")
        return FeedbackState.SENT, ""
    except NotImplementedError:
        return FeedbackState.UNSUPPORTED, f"{exchange.get_kind_display()} takes no such opinion"
    except WatchfloorError as error:
        return FeedbackState.FAILED, error.message
    except Exception as error:  # the exchange's failure is recorded on the opinion
        return FeedbackState.FAILED, f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]


def _settle(feedback: list[ExchangeFeedback], state: FeedbackState, detail: str) -> None:
    now = clock.now()
    with transaction.atomic():
        for item in feedback:
            item.state = state
            item.detail = detail
            item.sent_at = now if state == FeedbackState.SENT else None
            item.save(update_fields=["state", "detail", "sent_at"])
            record_event(
                action=AuditAction.BANK_EXCHANGE_OPINION_SENT,
                actor=None,
                target=item.entry,
                data={"exchange": item.exchange_id, "state": state.value, "detail": detail},
            )
