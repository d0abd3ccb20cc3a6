"""Exchanges: hashes shared by others, configured and fetched into a bank.

Each exchange is one of python-threatexchange's exchange APIs (its ``SignalExchangeAPI``
implementations: the local signal file, StopNCII.org, Meta's ThreatExchange, NCMEC).
Watchfloor keeps what the package leaves to its caller: where the fetched signals go
(one bank per exchange), the checkpoint the next fetch resumes from, the schedule, and
the opinions to send back.

A fetch walks the API's deltas in order. Each delta is applied in one transaction
together with the checkpoint it ends at, so a fetch cut off anywhere (a crash, a
timeout, the exchange going away) resumes after the last delta applied and never
applies one twice. A signal the exchange withdraws disables its entry ("withdrawn by
exchange …"); if the exchange sends it again it is enabled again, unless someone here
disabled it after review.

The python-threatexchange API objects are made in ``banks.exchange_apis``; opinions sent
back are ``banks.exchange_feedback``'s.
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
from watchfloor.banks.exchange_apis import (
    MAX_ERROR_CHARS,
    dump_checkpoint,
    exchange_api,
    load_checkpoint,
    stopncii_deltas,
)
from watchfloor.banks.exchange_ncmec import ncmec_deltas
from watchfloor.banks.exchange_threatexchange import threatexchange_deltas
from watchfloor.banks.models import (
    Bank,
    BankEntry,
    EntryChange,
    EntrySource,
    Exchange,
    ExchangeItem,
    ExchangeKind,
)
from watchfloor.banks.services import disable_entry, enable_entry
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, NotFound
from watchfloor.core.netpolicy import check_outbound_url

if TYPE_CHECKING:
    from watchfloor.people.models import User

WITHDRAWN = "withdrawn by exchange"
MIN_FETCH_EVERY = timedelta(minutes=5)
MAX_FETCH_EVERY = timedelta(days=30)
# One fetch applies at most this many deltas; the next resumes from the checkpoint.
MAX_DELTAS_PER_FETCH = 200
# A fetch that started this long ago and never finished is taken to have died.
FETCH_LEASE = timedelta(minutes=30)


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


def _check_privacy_group(
    kind: ExchangeKind, privacy_group: int | None, credentials_env: str
) -> int | None:
    if kind != ExchangeKind.THREATEXCHANGE:
        if privacy_group is not None:
            raise InvalidInput(
                "only a ThreatExchange exchange fetches a privacy group", field="privacy_group"
            )
        return None
    if not credentials_env:
        raise InvalidInput(
            "ThreatExchange needs credentials: name the environment variable that holds "
            "the app access token 'APP_ID|SECRET'",
            field="credentials_env",
        )
    if privacy_group is None or not 0 < privacy_group < 2**63:
        raise InvalidInput(
            "ThreatExchange fetches one privacy group: give its id (a positive number, "
            "listed on the app's ThreatExchange page), got "
            f"{'none' if privacy_group is None else privacy_group}",
            field="privacy_group",
        )
    return privacy_group


def create_exchange(
    *,
    name: str,
    kind: str,
    bank: Bank,
    actor: User | None,
    location: str = "",
    credentials_env: str = "",
    fetch_every: timedelta = timedelta(hours=1),
    privacy_group: int | None = None,
) -> Exchange:
    """An exchange fetched into ``bank``. ``credentials_env`` names the environment
    variable holding the credentials (StopNCII: ``fetch_key,subscription_key``, and a
    third part, the feedback key, to send opinions back; ThreatExchange: the app access
    token ``APP_ID|SECRET``). ThreatExchange fetches one ``privacy_group``."""
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
    if exchange_kind == ExchangeKind.NCMEC and not credentials_env:
        raise InvalidInput(
            "NCMEC needs credentials: name the environment variable that holds 'user:password'",
            field="credentials_env",
        )
    privacy_group = _check_privacy_group(exchange_kind, privacy_group, credentials_env)
    with transaction.atomic():
        if Exchange.objects.filter(name=name).exists():
            raise Conflict(f"an exchange named {name!r} exists already", field="name")
        exchange = Exchange.objects.create(
            name=name,
            kind=exchange_kind,
            bank=bank,
            location=location,
            credentials_env=credentials_env,
            privacy_group=privacy_group,
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
                "privacy_group": privacy_group,
                "fetch_every_seconds": int(fetch_every.total_seconds()),
            },
        )
    return exchange


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

        checkpoint = load_checkpoint(api, exchange.checkpoint)
        deltas: Iterator[Any]
        if exchange.kind == ExchangeKind.STOPNCII:
            deltas = stopncii_deltas(api, checkpoint)
        elif exchange.kind == ExchangeKind.THREATEXCHANGE:
            deltas = threatexchange_deltas(api, checkpoint)
        elif exchange.kind == ExchangeKind.NCMEC:
            deltas = ncmec_deltas(api, checkpoint, exchange)
        else:
            deltas = api.fetch_iter(pytx_signal_types(), checkpoint)
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
    normalised: dict[tuple[str, str], str] = {}
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
        normalised[type_name, raw_value] = value
    with transaction.atomic():
        locked = Exchange.objects.select_for_update().get(pk=exchange.pk)
        refs = getattr(delta, "refs", None)
        if refs:
            for value in _record_refs(exchange=exchange, refs=refs, normalised=normalised):
                wanted.setdefault(value, False)
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
        locked.checkpoint = dump_checkpoint(delta.checkpoint)
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


def _record_refs(
    *,
    exchange: Exchange,
    refs: dict[str, list[tuple[str, str]] | None],
    normalised: dict[tuple[str, str], str],
) -> set[str]:
    """Keep which values each of the exchange's records holds; returns the values no
    record holds any more (their records deleted or changed)."""
    held_before = set(
        ExchangeItem.objects.filter(exchange=exchange, ref__in=list(refs)).values_list(
            "value", flat=True
        )
    )
    ExchangeItem.objects.filter(exchange=exchange, ref__in=list(refs)).delete()
    ExchangeItem.objects.bulk_create(
        [
            ExchangeItem(exchange=exchange, ref=ref, value=normalised[key])
            for ref, held in refs.items()
            for key in held or []
            if key in normalised
        ],
        ignore_conflicts=True,
    )
    still_held = set(
        ExchangeItem.objects.filter(exchange=exchange, value__in=held_before).values_list(
            "value", flat=True
        )
    )
    return held_before - still_held
