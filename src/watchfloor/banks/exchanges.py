"""Exchanges: hashes shared by others, fetched into a bank, and opinions sent back.

Each exchange is one of python-threatexchange's exchange APIs (its ``SignalExchangeAPI``
implementations: the local signal file and StopNCII.org today). Watchfloor keeps what
the package leaves to its caller: where the fetched signals go (one bank per
exchange), the checkpoint the next fetch resumes from, the schedule, and the opinions
to send back.

A fetch walks the API's deltas in order. Each delta is applied in one transaction
together with the checkpoint it ends at, so a fetch cut off anywhere (a crash, a
timeout, the exchange going away) resumes after the last delta applied and never
applies one twice. A signal the exchange withdraws disables its entry ("withdrawn by
exchange …"); if the exchange sends it again it is enabled again, unless someone here
disabled it after review.

Opinions (``record_opinion``): a false positive disables the entry here at once and is
queued to send; a confirmation is queued. The worker sends what is queued; an exchange
that takes no such opinion gets it marked ``unsupported``, not retried.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F, Q

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.banks.models import (
    Bank,
    BankEntry,
    EntryChange,
    EntrySource,
    Exchange,
    ExchangeFeedback,
    ExchangeKind,
    FeedbackState,
    Opinion,
)
from watchfloor.banks.services import disable_entry, enable_entry
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, NotFound
from watchfloor.core.netpolicy import check_outbound_url
from watchfloor.core.validation import clean_text

if TYPE_CHECKING:
    from watchfloor.people.models import User

WITHDRAWN = "withdrawn by exchange"
MIN_FETCH_EVERY = timedelta(minutes=5)
MAX_FETCH_EVERY = timedelta(days=30)
# One fetch applies at most this many deltas; the next resumes from the checkpoint.
MAX_DELTAS_PER_FETCH = 200
# A fetch that started this long ago and never finished is taken to have died.
FETCH_LEASE = timedelta(minutes=30)
MAX_ERROR_CHARS = 2000


@dataclass
class FetchResult:
    exchange: str
    deltas: int = 0
    added: int = 0
    enabled_again: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    # (signal type, value excerpt, reason) for what was left out.
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    finished: bool = True
    error: str = ""

    def summary(self) -> str:
        text = (
            f"{self.exchange}: {self.deltas} deltas, {self.added} added, "
            f"{self.enabled_again} enabled again, {self.withdrawn} withdrawn, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped"
        )
        if not self.finished:
            text += "; more to fetch"
        return f"{text}; error: {self.error}" if self.error else text


# ---------------------------------------------------------------- configuration


def _check_location(kind: ExchangeKind, location: str) -> str:
    location = location.strip()
    if kind == ExchangeKind.FILE:
        if not location or not os.path.isabs(location):
            raise InvalidInput(
                "a file exchange reads an absolute path, e.g. /srv/exchange/signals.txt",
                field="location",
            )
        return location
    if location:
        check_outbound_url(location, field="location")
    return location


def create_exchange(
    *,
    name: str,
    kind: str,
    bank: Bank,
    actor: User | None,
    location: str = "",
    credentials_env: str = "",
    fetch_every: timedelta = timedelta(hours=1),
) -> Exchange:
    """An exchange fetched into ``bank``. ``credentials_env`` names the environment
    variable holding the credentials (StopNCII: ``fetch_key,subscription_key``, and a
    third part, the feedback key, to send opinions back)."""
    try:
        exchange_kind = ExchangeKind(kind)
    except ValueError:
        known = ", ".join(ExchangeKind.values)
        raise InvalidInput(
            f"unknown exchange kind {kind!r}; use one of: {known}", field="kind"
        ) from None
    if not name or not name.replace("-", "").replace("_", "").isalnum() or len(name) > 100:
        raise InvalidInput(
            f"an exchange name is letters, digits, - and _ only, got {name!r}", field="name"
        )
    if not MIN_FETCH_EVERY <= fetch_every <= MAX_FETCH_EVERY:
        raise InvalidInput(
            f"fetch every {MIN_FETCH_EVERY} to {MAX_FETCH_EVERY}, got {fetch_every}",
            field="fetch_every",
        )
    location = _check_location(exchange_kind, location)
    credentials_env = credentials_env.strip()
    if exchange_kind == ExchangeKind.STOPNCII and not credentials_env:
        raise InvalidInput(
            "StopNCII needs credentials: name the environment variable that holds "
            "'fetch_key,subscription_key'",
            field="credentials_env",
        )
    with transaction.atomic():
        if Exchange.objects.filter(name=name).exists():
            raise Conflict(f"an exchange named {name!r} exists already", field="name")
        exchange = Exchange.objects.create(
            name=name,
            kind=exchange_kind,
            bank=bank,
            location=location,
            credentials_env=credentials_env,
            fetch_every=fetch_every,
            created_at=clock.now(),
        )
        record_event(
            action=AuditAction.BANK_EXCHANGE_SAVED,
            actor=actor,
            target=exchange,
            data={
                "name": name,
                "kind": exchange_kind.value,
                "bank": bank.name,
                "location": location,
                "credentials_env": credentials_env,
                "fetch_every_seconds": int(fetch_every.total_seconds()),
            },
        )
    return exchange


# ---------------------------------------------------------------- the APIs


def _credentials(exchange: Exchange) -> str:
    value = os.environ.get(exchange.credentials_env, "") if exchange.credentials_env else ""
    if not value:
        raise InvalidInput(
            f"exchange {exchange.name!r}: environment variable {exchange.credentials_env!r} "
            "is not set",
            field="credentials_env",
        )
    return value


def _stopncii_keys(exchange: Exchange) -> list[str]:
    """``fetch_key,subscription_key[,feedback_key]`` from the named variable."""
    parts = [part.strip() for part in _credentials(exchange).split(",")]
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidInput(
            f"exchange {exchange.name!r}: {exchange.credentials_env} must hold "
            "'fetch_key,subscription_key' or 'fetch_key,subscription_key,feedback_key'",
            field="credentials_env",
        )
    return parts


def exchange_api(exchange: Exchange) -> Any:
    """The python-threatexchange API object for the exchange."""
    from threatexchange.exchanges.collab_config import CollaborationConfigBase

    if exchange.kind == ExchangeKind.FILE:
        from threatexchange.exchanges.impl.file_api import (
            FileCollaborationConfig,
            LocalFileSignalExchangeAPI,
        )

        if not os.path.isfile(exchange.location):
            raise InvalidInput(
                f"exchange {exchange.name!r}: no file at {exchange.location}", field="location"
            )
        return LocalFileSignalExchangeAPI.for_collab(
            FileCollaborationConfig(
                name=exchange.name, api="local_file", enabled=True, filename=exchange.location
            )
        )
    from threatexchange.exchanges.impl.stop_ncii_api import (
        StopNCIICredentials,
        StopNCIISignalExchangeAPI,
    )

    parts = _stopncii_keys(exchange)
    if exchange.location:
        # Checked again at each fetch: the name may resolve elsewhere since it was saved.
        check_outbound_url(exchange.location, field="location")
    credentials = StopNCIICredentials(
        fetch_function_key=parts[0],
        subscription_key=parts[1],
        base_url_override=exchange.location.rstrip("/") or None,
    )
    return StopNCIISignalExchangeAPI.for_collab(
        CollaborationConfigBase(name=exchange.name, api="stop_ncii", enabled=True), credentials
    )


@dataclass
class _Delta:
    updates: dict[tuple[str, str], Any]
    checkpoint: Any


def _stopncii_deltas(api: Any, checkpoint: Any) -> Iterator[_Delta]:
    """StopNCII's pages as deltas, as the package's ``fetch_iter`` makes them, except
    that a hash whose cases were all withdrawn or deleted comes out as withdrawn: the
    package (1.2.17) compares the hash value, not its status, with those states, so
    withdrawals never reach its caller."""
    from threatexchange.exchanges.clients.stopncii import api as stopncii
    from threatexchange.exchanges.impl.stop_ncii_api import (
        StopNCIICheckpoint,
        StopNCIISignalMetadata,
    )

    names = _stopncii_type_names()
    gone = (stopncii.StopNCIICaseStatus.Withdrawn, stopncii.StopNCIICaseStatus.Deleted)
    start = checkpoint.update_time if checkpoint is not None else api.api.DEFAULT_START_TIME
    for page in api.api.fetch_hashes_iter(start_timestamp=start):
        updates: dict[tuple[str, str], Any] = {}
        for record in page.hashRecords:
            name = names.get(record.signalType)
            if name is None:
                continue
            withdrawn = record.hashStatus in gone
            updates[name, record.hashValue] = (
                None if withdrawn else StopNCIISignalMetadata(record.CSPFeedbacks)
            )
        yield _Delta(updates, StopNCIICheckpoint.from_stopncii_fetch(page))


def _stopncii_type_names() -> dict[Any, str]:
    """StopNCII's signal types by their python-threatexchange names (fetched one way,
    opinions sent the other)."""
    from threatexchange.exchanges.clients.stopncii import api as stopncii

    return {
        stopncii.StopNCIISignalType.ImagePDQ: "pdq",
        stopncii.StopNCIISignalType.VideoMD5: "video_md5",
        stopncii.StopNCIISignalType.URL: "url",
        stopncii.StopNCIISignalType.Text: "raw_text",
    }


def _load_checkpoint(api: Any, stored: dict[str, Any] | None) -> Any:
    if stored is None:
        return None
    from threatexchange.utils.dataclass_json import dataclass_load_dict

    checkpoint = dataclass_load_dict(stored, api.get_checkpoint_cls())
    return None if checkpoint.is_stale() else checkpoint


def _dump_checkpoint(checkpoint: Any) -> dict[str, Any]:
    from threatexchange.utils.dataclass_json import dataclass_dump_dict

    return dataclass_dump_dict(checkpoint)


# ---------------------------------------------------------------- fetching


def exchanges_due(*, now: Any) -> list[Exchange]:
    """Enabled exchanges whose last fetch is older than their interval (or never ran),
    leaving out those with a fetch still under way."""
    never = Q(last_fetched_at__isnull=True)
    stale = Q(last_fetched_at__lte=now - F("fetch_every"))
    waiting = Q(fetch_queued_at__gt=now - FETCH_LEASE) & (
        Q(last_fetched_at__isnull=True) | Q(last_fetched_at__lt=F("fetch_queued_at"))
    )
    busy = Q(last_fetch_started_at__gt=now - FETCH_LEASE) & (
        Q(last_fetched_at__isnull=True) | Q(last_fetched_at__lt=F("last_fetch_started_at"))
    )
    return list(
        Exchange.objects.filter(is_enabled=True)
        .filter(never | stale)
        .exclude(waiting)
        .exclude(busy)
        .select_related("bank")
    )


def mark_queued(exchanges: list[Exchange], *, now: Any) -> None:
    """Remember that a fetch of each is queued, so the schedule does not queue another
    before it ran."""
    Exchange.objects.filter(pk__in=[exchange.pk for exchange in exchanges]).update(
        fetch_queued_at=now
    )


def _claim(exchange_id: int) -> Exchange:
    """Mark the fetch as started, refusing when another is under way."""
    now = clock.now()
    with transaction.atomic():
        exchange = Exchange.objects.select_for_update().filter(pk=exchange_id).first()
        if exchange is None:
            raise NotFound(f"no exchange {exchange_id}")
        started = exchange.last_fetch_started_at
        running = started is not None and (
            exchange.last_fetched_at is None or exchange.last_fetched_at < started
        )
        if running and started is not None and started > now - FETCH_LEASE:
            raise Conflict(
                f"exchange {exchange.name!r} is being fetched since "
                f"{exchange.last_fetch_started_at:%Y-%m-%d %H:%M} UTC",
                field="exchange",
            )
        exchange.last_fetch_started_at = now
        exchange.save(update_fields=["last_fetch_started_at"])
    return exchange


def fetch_exchange(
    *, exchange: Exchange, actor: User | None, max_deltas: int = MAX_DELTAS_PER_FETCH
) -> FetchResult:
    """Fetch the exchange from its checkpoint into its bank (see the module's docstring).
    Errors from the exchange are recorded on it and returned, not raised: one exchange
    down never stops the others."""
    exchange = _claim(exchange.pk)
    result = FetchResult(exchange=exchange.name)
    try:
        api = exchange_api(exchange)
        from watchfloor.banks.pytx import pytx_signal_types

        checkpoint = _load_checkpoint(api, exchange.checkpoint)
        deltas: Iterator[Any] = (
            _stopncii_deltas(api, checkpoint)
            if exchange.kind == ExchangeKind.STOPNCII
            else api.fetch_iter(pytx_signal_types(), checkpoint)
        )
        for delta in deltas:
            _apply_delta(exchange=exchange, delta=delta, actor=actor, result=result)
            result.deltas += 1
            if result.deltas >= max_deltas:
                result.finished = False
                break
    except Exception as error:  # an exchange's failure of any kind is its own
        result.error = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
    with transaction.atomic():
        Exchange.objects.filter(pk=exchange.pk).update(
            last_fetched_at=clock.now(), last_error=result.error
        )
        record_event(
            action=AuditAction.BANK_EXCHANGE_FETCHED,
            actor=actor,
            target=exchange,
            data={
                "bank": exchange.bank.name,
                "deltas": result.deltas,
                "added": result.added,
                "enabled_again": result.enabled_again,
                "withdrawn": result.withdrawn,
                "skipped": len(result.skipped),
                "finished": result.finished,
                "error": result.error,
            },
        )
    return result


def _apply_delta(
    *, exchange: Exchange, delta: Any, actor: User | None, result: FetchResult
) -> None:
    from watchfloor.banks.pytx import PYTX_TO_BANK, entry_of_pytx

    bank = exchange.bank
    now = clock.now()
    wanted: dict[str, bool] = {}  # value -> present (False: withdrawn)
    for (type_name, raw_value), metadata in delta.updates.items():
        if PYTX_TO_BANK.get(type_name) != bank.signal_type:
            result.skipped.append(
                (type_name, raw_value[:40], f"bank {bank.name!r} holds {bank.signal_type}")
            )
            continue
        try:
            value = entry_of_pytx(type_name, raw_value, field="signal").value
        except InvalidInput as error:
            result.skipped.append((type_name, raw_value[:40], error.message))
            continue
        wanted[value] = metadata is not None
    with transaction.atomic():
        locked = Exchange.objects.select_for_update().get(pk=exchange.pk)
        existing = {
            entry.value: entry
            for entry in BankEntry.objects.select_for_update().filter(
                bank=bank, value__in=list(wanted)
            )
        }
        fresh = []
        for value, present in wanted.items():
            entry = existing.get(value)
            if entry is None:
                if present:
                    fresh.append(value)
                continue
            if (
                present
                and entry.disabled_at is not None
                and entry.disabled_reason.startswith(WITHDRAWN)
            ):
                enable_entry(entry=entry, actor=actor)
                result.enabled_again += 1
            elif not present and entry.disabled_at is None:
                disable_entry(entry=entry, reason=f"{WITHDRAWN} {exchange.name}", actor=actor)
                result.withdrawn += 1
            else:
                result.unchanged += 1
        created = BankEntry.objects.bulk_create(
            [
                BankEntry(
                    bank=bank,
                    signal_type=bank.signal_type,
                    value=value,
                    labels=sorted({*bank.labels, f"exchange:{exchange.name}"}),
                    source=EntrySource.EXCHANGE,
                    note=f"fetched from exchange {exchange.name}",
                    added_at=now,
                    exchange=exchange,
                )
                for value in fresh
            ]
        )
        if created and created[0].pk is None:  # backends that return no ids (none today)
            created = list(BankEntry.objects.filter(bank=bank, value__in=fresh))
        EntryChange.objects.bulk_create(
            [
                EntryChange(entry=entry, kind=EntryChange.Kind.ADDED, changed_at=now)
                for entry in created
            ]
        )
        result.added += len(created)
        locked.checkpoint = _dump_checkpoint(delta.checkpoint)
        locked.save(update_fields=["checkpoint"])
        if created:
            record_event(
                action=AuditAction.BANK_ENTRIES_ADDED,
                actor=actor,
                target=bank,
                data={
                    "source": EntrySource.EXCHANGE.value,
                    "exchange": exchange.name,
                    "added": len(created),
                    "already_present": 0,
                    "first_entry_id": created[0].pk,
                },
            )


# ---------------------------------------------------------------- opinions


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
        api = exchange_api(exchange)
    except InvalidInput as error:
        _settle(queued, FeedbackState.FAILED, error.message)
        outcome[FeedbackState.FAILED] = len(queued)
        return outcome
    for feedback in queued:
        state, detail = _send_one(exchange, api, feedback)
        _settle([feedback], state, detail)
        outcome[state] += 1
    return outcome


def _send_one(
    exchange: Exchange, api: Any, feedback: ExchangeFeedback
) -> tuple[FeedbackState, str]:
    from watchfloor.banks.pytx import BANK_TO_PYTX

    positive = feedback.opinion == Opinion.CONFIRMED
    try:
        if exchange.kind == ExchangeKind.STOPNCII:
            from threatexchange.exchanges.clients.stopncii import api as stopncii

            kinds = {name: kind for kind, name in _stopncii_type_names().items()}
            keys = _stopncii_keys(exchange)
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
    except InvalidInput as error:
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
