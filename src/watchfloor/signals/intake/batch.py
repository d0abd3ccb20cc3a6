"""The batch as the intake's steps see it, and what they make of it.

``IntakeBatch`` holds one ``Item`` per raw signal; the steps of ``signals.intake``
fill its items in turn (the contract's verdict, keys, language, then the ids they are
stored under). ``IntakeBatch.result`` turns them into the ``BatchResult`` the callers
report: one ``ItemResult`` per item, ``accepted``, ``duplicate`` or ``rejected``. A
prepared batch pickles compactly, for ``watchfloor ingest``'s helper processes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from watchfloor.signals import clustering, counting
from watchfloor.signals.contract import SignalInput, SignalRejected

if TYPE_CHECKING:
    from watchfloor.people.models import User
    from watchfloor.signals import reactions

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"


# ---------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What became of one item: ``accepted``, ``duplicate`` (of the signal and cluster
    given) or ``rejected`` (with the reason code, the dotted field and a message)."""

    index: int
    line: int | None
    status: str
    signal_id: int | None = None
    cluster_id: int | None = None
    reason: str = ""
    field: str = ""
    message: str = ""


@dataclass(frozen=True)
class BatchResult:
    results: list[ItemResult]
    cluster_ids: list[int] = field(default_factory=list)
    series_keys: list[reactions.SeriesKey] = field(default_factory=list)
    first_signal_id: int | None = None
    last_signal_id: int | None = None
    # Seconds spent preparing (no lock), storing (from the start of the transaction to
    # its commit) and reacting (after commit).
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return sum(1 for result in self.results if result.status == ACCEPTED)

    @property
    def duplicates(self) -> int:
        return sum(1 for result in self.results if result.status == DUPLICATE)

    @property
    def rejected(self) -> int:
        return sum(1 for result in self.results if result.status == REJECTED)

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(r.reason for r in self.results if r.status == REJECTED).items()))


# ---------------------------------------------------------------------------
# The batch as the steps see it


@dataclass(slots=True, eq=False)
class Item:
    index: int
    line: int | None
    raw: Any
    signal: SignalInput | None = None
    rejection: SignalRejected | None = None
    language: str = ""
    language_detected: bool = False
    url_normalised: str = ""
    keys: clustering.SignalKeys | None = None
    duplicate_of: tuple[int, int] | None = None  # (signal id, cluster id) already stored
    repeat_of: Item | None = None  # the item earlier in the batch with the same id
    signal_id: int | None = None  # once stored
    cluster_id: int | None = None

    def reject(self, rejection: SignalRejected) -> None:
        self.rejection = rejection.at_line(self.line) if self.line is not None else rejection
        self.signal = None


if TYPE_CHECKING:

    class ValidItem(Item):
        """An item as the steps after ``validate`` see it (``IntakeBatch.valid``): its
        signal passed the checks, and from ``normalise`` on it has its keys. A type for
        the checker only; at run time these are plain :class:`Item` objects."""

        signal: SignalInput
        keys: clustering.SignalKeys
else:
    ValidItem = Item


@dataclass(eq=False)
class IntakeBatch:
    producer: str
    actor: User | None
    items: list[Item]
    # Filled in by the STORE steps.
    new: list[ValidItem] = field(default_factory=list)
    clusters: dict[int, counting.ClusterCounts] = field(default_factory=dict)
    assignment: clustering.Assignment | None = None
    series_keys: list[reactions.SeriesKey] = field(default_factory=list)
    clusters_created: int = 0
    # Filled in by PREPARE.
    neighbours: clustering.BatchNeighbours | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        items: Sequence[Any],
        *,
        producer: str,
        actor: User | None,
        lines: Sequence[int | None] | None = None,
    ) -> IntakeBatch:
        if lines is not None and len(lines) != len(items):
            raise ValueError(f"{len(lines)} line numbers for {len(items)} items")
        return cls(
            producer=producer,
            actor=actor,
            items=[
                Item(index=i, line=lines[i] if lines is not None else None, raw=raw)
                for i, raw in enumerate(items)
            ],
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """A prepared batch crosses to the storing process (``watchfloor ingest``) as plain
        tuples and one array of text signatures: the default pickling of the slotted
        dataclasses cost 26 µs per signal to load, this 6 µs."""
        if self.new or self.assignment is not None:
            raise TypeError("only a prepared batch, not yet stored, can be sent elsewhere")
        rows: list[tuple[Any, ...]] = []
        signatures: list[np.ndarray] = []
        for item in self.items:
            keys = item.keys
            signature_row = None
            if keys is not None and keys.text_signature is not None:
                signature_row = len(signatures)
                signatures.append(keys.text_signature)
            rows.append(
                (
                    item.index,
                    item.line,
                    _signal_values(item.signal) if item.signal is not None else None,
                    item.rejection,
                    item.language,
                    item.language_detected,
                    item.url_normalised,
                    (
                        keys.subject,
                        keys.url,
                        keys.pdq,
                        keys.md5,
                        keys.sha256,
                        keys.figures,
                        keys.short_text,
                        keys.text_urls,
                    )
                    if keys is not None
                    else None,
                    signature_row,
                )
            )
        matrix = np.stack(signatures) if signatures else None
        return (
            _prepared_batch,
            (self.producer, self.actor, rows, matrix, dict(self.timings), self.neighbours),
        )

    def valid(self) -> list[ValidItem]:
        """Items that passed the checks so far and are not known duplicates."""
        valid = [
            item
            for item in self.items
            if item.signal is not None and item.duplicate_of is None and item.repeat_of is None
        ]
        return cast("list[ValidItem]", valid)

    def result(self) -> BatchResult:
        results = []
        for item in self.items:
            if item.rejection is not None:
                rejection = item.rejection
                results.append(
                    ItemResult(
                        item.index,
                        item.line if item.line is not None else rejection.line,
                        REJECTED,
                        reason=str(rejection.reason_code),
                        field=rejection.field,
                        message=rejection.message,
                    )
                )
            elif item.duplicate_of is not None or item.repeat_of is not None:
                signal_id, cluster_id = item.duplicate_of or (
                    (item.repeat_of.signal_id, item.repeat_of.cluster_id)
                    if item.repeat_of is not None
                    else (None, None)
                )
                results.append(ItemResult(item.index, item.line, DUPLICATE, signal_id, cluster_id))
            elif item.signal_id is not None:
                results.append(
                    ItemResult(item.index, item.line, ACCEPTED, item.signal_id, item.cluster_id)
                )
            else:  # pragma: no cover - every item ends in one of the three states
                raise RuntimeError(f"item {item.index} was neither stored nor rejected")
        ids = [item.signal_id for item in self.new if item.signal_id is not None]
        return BatchResult(
            results=results,
            cluster_ids=sorted(self.clusters),
            series_keys=self.series_keys,
            first_signal_id=min(ids, default=None),
            last_signal_id=max(ids, default=None),
            timings=dict(self.timings),
        )


_SIGNAL_FIELDS = tuple(field.name for field in dataclasses.fields(SignalInput))


def _signal_values(signal: SignalInput) -> tuple[Any, ...]:
    return tuple(getattr(signal, name) for name in _SIGNAL_FIELDS)


def _prepared_batch(
    producer: str,
    actor: User | None,
    rows: list[tuple[Any, ...]],
    signatures: np.ndarray | None,
    timings: dict[str, float],
    neighbours: clustering.BatchNeighbours | None,
) -> IntakeBatch:
    items = []
    for index, line, values, rejection, tag, detected, url, keys, row in rows:
        item = Item(
            index=index,
            line=line,
            raw=None,
            signal=SignalInput(*values) if values is not None else None,
            rejection=rejection,
            language=tag,
            language_detected=detected,
            url_normalised=url,
        )
        if keys is not None:
            subject, url_key, pdq, md5, sha256, figures, short_text, text_urls = keys
            item.keys = clustering.SignalKeys(
                subject,
                url_key,
                pdq,
                md5,
                sha256,
                text_signature=signatures[row]
                if row is not None and signatures is not None
                else None,
                figures=figures,
                short_text=short_text,
                text_urls=text_urls,
            )
        items.append(item)
    return IntakeBatch(
        producer=producer, actor=actor, items=items, timings=timings, neighbours=neighbours
    )


Step = Callable[[IntakeBatch], None]
