"""The matcher: one PDQ index per process, built from the database once, then kept in
step by the change counter (``EntryChange``) before each lookup.

Every process that matches (web workers, the CLI) holds its own index. ``sync()`` reads
the changes after the last one it applied — one indexed query — and adds or tombstones
those entries, so an entry added or disabled in any process matches or stops matching in
every other on its next lookup. There is no periodic rebuild; ``compact()`` folds the
delta into the arrays when it grows, from memory.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from watchfloor.banks.index import DEFAULT_THRESHOLD, PDQIndex, hashes_from_hex
from watchfloor.banks.models import Bank, BankEntry, EntryChange, SignalType
from watchfloor.banks.signals import normalise_value, parse_signal_type
from watchfloor.core.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from django.db.models import QuerySet

COMPACT_AFTER = 20_000
MAX_BATCH = 1000


@dataclass(frozen=True)
class EntryMatch:
    bank: str
    entry_id: int
    distance: int
    labels: tuple[str, ...]


@dataclass
class QueryResult:
    signal_type: str
    value: str
    matches: list[EntryMatch] = field(default_factory=list)
    suppressed_by: list[EntryMatch] = field(default_factory=list)
    error: InvalidInput | NotFound | None = None


@dataclass(frozen=True)
class Query:
    signal_type: str
    value: str


class PDQMatcher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: PDQIndex | None = None
        self._bank_of: dict[int, int] = {}
        self._last_change = 0

    def reset(self) -> None:
        with self._lock:
            self._index = None
            self._bank_of = {}
            self._last_change = 0

    def _build(self) -> None:
        self._last_change = (
            EntryChange.objects.order_by("-id").values_list("id", flat=True).first() or 0
        )
        rows = list(
            BankEntry.objects.filter(signal_type=SignalType.PDQ, disabled_at__isnull=True)
            .order_by("id")
            .values_list("id", "bank_id", "value")
        )
        self._bank_of = {entry_id: bank_id for entry_id, bank_id, _ in rows}
        self._index = PDQIndex(
            hashes_from_hex(value for _, _, value in rows),
            [entry_id for entry_id, _, _ in rows],
            threshold=DEFAULT_THRESHOLD,
        )

    def sync(self) -> PDQIndex:
        with self._lock:
            if self._index is None:
                self._build()
            assert self._index is not None
            changes = list(
                EntryChange.objects.filter(id__gt=self._last_change)
                .order_by("id")
                .values_list(
                    "id", "kind", "entry_id", "entry__bank_id", "entry__value", "entry__signal_type"
                )
            )
            for change_id, kind, entry_id, bank_id, value, signal_type in changes:
                self._last_change = change_id
                if signal_type != SignalType.PDQ:
                    continue
                if kind == EntryChange.Kind.ADDED:
                    self._index.add(hashes_from_hex([value]), [entry_id])
                    self._bank_of[entry_id] = bank_id
                else:
                    self._index.remove([entry_id])
            if self._index.delta_size > COMPACT_AFTER:
                self._index = self._index.compacted()
            return self._index

    def bank_of(self, entry_id: int) -> int | None:
        return self._bank_of.get(entry_id)


PDQ_MATCHER = PDQMatcher()


def _in_rollout(bank: Bank, value: str) -> bool:
    if bank.matching_ratio >= 1.0:
        return True
    digest = hashlib.sha256(f"{bank.pk}:{value}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < bank.matching_ratio


def match(
    *, queries: Sequence[Query], banks: QuerySet[Bank], only: Iterable[str] = ()
) -> list[QueryResult]:
    """Answer each query against the enabled banks in ``banks`` (the caller's visible
    ones), or only those named. Bad items get their own error; the rest are answered."""
    if len(queries) > MAX_BATCH:
        raise InvalidInput(
            f"at most {MAX_BATCH} hashes in one request, got {len(queries)}; split the batch",
            field="queries",
        )
    wanted = list(only)
    enabled = {bank.pk: bank for bank in banks.filter(is_enabled=True)}
    results: list[QueryResult] = []
    missing = [name for name in wanted if name not in {b.name for b in enabled.values()}]
    if wanted:  # allow banks always speak: they hold what must never be actioned
        enabled = {
            pk: bank for pk, bank in enabled.items() if bank.name in wanted or bank.is_allow_bank
        }
    pdq_rows: list[int] = []
    for number, query in enumerate(queries):
        result = QueryResult(signal_type=query.signal_type, value=query.value)
        results.append(result)
        if missing:
            result.error = NotFound(f"no bank named {missing[0]!r}", field="banks")
            continue
        try:
            kind = parse_signal_type(query.signal_type, field=f"queries.{number}.signal_type")
            result.signal_type = kind.value
            result.value = normalise_value(kind, query.value, field=f"queries.{number}.value")
        except InvalidInput as error:
            result.error = error
            continue
        if kind == SignalType.PDQ:
            pdq_rows.append(number)
        else:
            _match_exact(result, enabled)
    if pdq_rows:
        _match_pdq([results[row] for row in pdq_rows], enabled)
    allow_names = {bank.name for bank in enabled.values() if bank.is_allow_bank}
    for result in results:
        _apply_allow_banks(result, allow_names)
    return results


def _match_exact(result: QueryResult, enabled: dict[int, Bank]) -> None:
    rows = BankEntry.objects.filter(
        signal_type=result.signal_type,
        value=result.value,
        disabled_at__isnull=True,
        bank_id__in=list(enabled),
    ).order_by("id")
    for entry in rows:
        bank = enabled[entry.bank_id]
        if _in_rollout(bank, result.value):
            result.matches.append(
                EntryMatch(
                    bank=bank.name, entry_id=entry.pk, distance=0, labels=tuple(entry.labels)
                )
            )


def _match_pdq(results: list[QueryResult], enabled: dict[int, Bank]) -> None:
    index = PDQ_MATCHER.sync()
    found = index.search(hashes_from_hex(result.value for result in results))
    entry_ids = found.ids.tolist()
    labels = dict(BankEntry.objects.filter(pk__in=entry_ids).values_list("id", "labels"))
    for query_number, entry_id, distance in zip(
        found.query_index.tolist(), entry_ids, found.distances.tolist(), strict=True
    ):
        bank = enabled.get(PDQ_MATCHER.bank_of(entry_id) or 0)
        result = results[query_number]
        if bank is None or distance > bank.threshold or not _in_rollout(bank, result.value):
            continue
        result.matches.append(
            EntryMatch(
                bank=bank.name,
                entry_id=entry_id,
                distance=distance,
                labels=tuple(labels.get(entry_id, [])),
            )
        )


def _apply_allow_banks(result: QueryResult, allow_names: set[str]) -> None:
    allowed = [m for m in result.matches if m.bank in allow_names]
    if allowed:
        result.suppressed_by = allowed
        result.matches = []
