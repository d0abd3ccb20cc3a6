"""An exact PDQ index: multi-index hashing by the generalised pigeonhole principle.

Pure numpy, no Django: the matcher process builds it from the database, the benchmark
builds it from random hashes, and the tests compare it with brute force.

The scheme (docs/banks.md has the reasoning and the figures):

* A 256-bit hash is cut into ``m`` contiguous chunks of at most 24 bits, each probed
  within a radius such that every hash within the threshold agrees with the query on
  some chunk within its radius (``index_plan``: the pigeonhole plan and its cost model).
* Each chunk has a direct-address table (CSR) of postings; a query probes every key within
  its chunk's radius, gathers the candidate positions and verifies each by exact popcount
  distance (``index_scan``). Nothing is approximate: the candidates are a superset of the
  answer, the verification is exact.
* New entries go to a small in-memory delta searched by brute force; disabled entries go
  to a tombstone mask. Both take effect at once, without a rebuild. ``compacted()``
  folds them into a fresh index (from memory, not from the database).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchfloor.banks.index_plan import (
    HASH_BITS,
    Words,
    choose_chunk_count,
    plan_chunks,
)
from watchfloor.banks.index_scan import build_tables, scan

__all__ = [
    "DEFAULT_THRESHOLD",
    "HASH_BITS",
    "InvalidHashError",
    "Matches",
    "PDQIndex",
    "hamming_distances",
    "hash_to_hex",
    "hashes_from_hex",
    "parse_pdq_hex",
    "plan_chunks",
]

HASH_WORDS = 4
HASH_HEX_LENGTH = 64
DEFAULT_THRESHOLD = 31
# Queries scanned together: enough to spread numpy's per-call cost over thousands of
# candidates, few enough that the scratch buffers stay in the caches (docs/banks.md).
QUERY_BATCH = 64

IntArray = npt.NDArray[np.int64]


class InvalidHashError(ValueError):
    """A PDQ hash that is not 64 hexadecimal characters."""


def parse_pdq_hex(value: str) -> Words:
    """One PDQ hash (64 hex characters) as four big-endian 64-bit words."""
    text = value.strip().lower()
    if len(text) != HASH_HEX_LENGTH:
        raise InvalidHashError(
            f"a PDQ hash is {HASH_HEX_LENGTH} hexadecimal characters, got {len(text)}"
        )
    try:
        number = int(text, 16)
    except ValueError:
        raise InvalidHashError("a PDQ hash has only the characters 0-9 and a-f") from None
    return np.array(
        [(number >> (64 * (HASH_WORDS - 1 - word))) & 0xFFFFFFFFFFFFFFFF for word in range(4)],
        dtype=np.uint64,
    )


def hashes_from_hex(values: Iterable[str]) -> Words:
    rows = [parse_pdq_hex(value) for value in values]
    if not rows:
        return np.zeros((0, HASH_WORDS), dtype=np.uint64)
    return np.stack(rows)


def hash_to_hex(words: Words) -> str:
    return "".join(f"{int(word):016x}" for word in words)


def hamming_distances(hashes: Words, query: Words) -> npt.NDArray[np.int64]:
    """Exact distances from one query to each row (the brute-force reference)."""
    return np.bitwise_count(hashes ^ query[None, :]).sum(axis=1, dtype=np.int64)


@dataclass(frozen=True)
class Matches:
    """Every (query, id, distance) within the threshold, sorted by query then distance."""

    query_index: npt.NDArray[np.int64]
    ids: IntArray
    distances: npt.NDArray[np.int64]

    def for_query(self, index: int) -> list[tuple[int, int]]:
        selected = self.query_index == index
        return list(
            zip(self.ids[selected].tolist(), self.distances[selected].tolist(), strict=True)
        )


class PDQIndex:
    """An exact threshold index over PDQ hashes, with an in-memory delta and tombstones.

    ``ids`` are the caller's identifiers (bank entry ids), unique. Searching is safe
    while another thread adds or removes: the delta is replaced, never mutated in place.
    """

    def __init__(
        self,
        hashes: Words,
        ids: Sequence[int] | IntArray,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        chunk_count: int | None = None,
    ) -> None:
        hashes = np.ascontiguousarray(hashes, dtype=np.uint64).reshape(-1, HASH_WORDS)
        id_array = np.asarray(ids, dtype=np.int64)
        if len(id_array) != len(hashes):
            raise ValueError(f"{len(hashes)} hashes but {len(id_array)} ids")
        if len(id_array) > 1 and not bool(np.all(id_array[1:] > id_array[:-1])):
            # Rows kept in id order, so an id's row is a binary search away (the matcher
            # and the benchmark pass them in that order already: no copy then).
            order = np.argsort(id_array, kind="stable")
            hashes, id_array = hashes.take(order, axis=0), id_array[order]
        size = len(hashes)
        self.threshold = threshold
        self.chunk_count = chunk_count or choose_chunk_count(threshold=threshold, size=max(size, 1))
        self.chunks = plan_chunks(
            threshold=threshold, chunk_count=self.chunk_count, size=max(size, 1)
        )
        self._hashes = hashes
        self._ids = id_array
        self._alive = np.ones(size, dtype=bool)
        self._lock = threading.Lock()
        self._delta_hashes: Words = np.zeros((0, HASH_WORDS), dtype=np.uint64)
        self._delta_ids: IntArray = np.zeros(0, dtype=np.int64)
        self._tables = build_tables(hashes, self.chunks)

    # -- changes without a rebuild -------------------------------------------------

    def __len__(self) -> int:
        return int(self._alive.sum()) + len(self._delta_ids)

    @property
    def delta_size(self) -> int:
        return len(self._delta_ids)

    def add(self, hashes: Words, ids: Sequence[int] | IntArray) -> None:
        """Make new entries matchable at once (they are searched by brute force)."""
        hashes = np.asarray(hashes, dtype=np.uint64).reshape(-1, HASH_WORDS)
        id_array = np.asarray(ids, dtype=np.int64)
        with self._lock:
            self._revive_main(id_array)
            fresh = ~np.isin(id_array, self._delta_ids) & ~self._in_main(id_array)
            self._delta_hashes = np.concatenate([self._delta_hashes, hashes[fresh]])
            self._delta_ids = np.concatenate([self._delta_ids, id_array[fresh]])

    def remove(self, ids: Sequence[int] | IntArray) -> None:
        """Stop matching these ids at once (a tombstone; the arrays stay as they are)."""
        id_array = np.asarray(ids, dtype=np.int64)
        with self._lock:
            positions = self._main_positions(id_array)
            alive = self._alive.copy() if len(positions) else self._alive
            alive[positions] = False
            self._alive = alive
            keep = ~np.isin(self._delta_ids, id_array)
            self._delta_hashes = self._delta_hashes[keep]
            self._delta_ids = self._delta_ids[keep]

    def _main_positions(self, id_array: IntArray) -> npt.NDArray[np.int64]:
        if not len(self._ids) or not len(id_array):
            return np.zeros(0, dtype=np.int64)
        where = np.searchsorted(self._ids, id_array).clip(max=len(self._ids) - 1)
        return where[self._ids[where] == id_array].astype(np.int64)

    def _in_main(self, id_array: IntArray) -> npt.NDArray[np.bool_]:
        if not len(self._ids) or not len(id_array):
            return np.zeros(len(id_array), dtype=bool)
        where = np.searchsorted(self._ids, id_array).clip(max=len(self._ids) - 1)
        return np.asarray(self._ids[where] == id_array)

    def _revive_main(self, id_array: IntArray) -> None:
        positions = self._main_positions(id_array)
        if len(positions) and not self._alive[positions].all():
            alive = self._alive.copy()
            alive[positions] = True
            self._alive = alive

    def compacted(self) -> PDQIndex:
        """A fresh index of the live entries (main minus tombstones, plus the delta)."""
        with self._lock:
            hashes = np.concatenate([self._hashes[self._alive], self._delta_hashes])
            ids = np.concatenate([self._ids[self._alive], self._delta_ids])
        return PDQIndex(hashes, ids, threshold=self.threshold)

    # -- search ----------------------------------------------------------------------

    def search(self, queries: Words, *, threshold: int | None = None) -> Matches:
        """Every live hash within ``threshold`` (default: the index's) of each query."""
        limit = self.threshold if threshold is None else threshold
        if limit > self.threshold:
            raise ValueError(
                f"this index finds hashes within {self.threshold} bits; "
                f"{limit} needs an index built for it"
            )
        queries = np.ascontiguousarray(queries, dtype=np.uint64).reshape(-1, HASH_WORDS)
        alive, delta_hashes, delta_ids = self._alive, self._delta_hashes, self._delta_ids
        empty = np.zeros(0, dtype=np.int64)
        found_query, found_positions, found_distances = [empty], [empty], [empty]
        for start in range(0, len(queries), QUERY_BATCH):
            batch_query, batch_positions, batch_distances = scan(
                self._tables, self._hashes, queries[start : start + QUERY_BATCH], limit
            )
            found_query.append(batch_query + start)
            found_positions.append(batch_positions)
            found_distances.append(batch_distances)
        query_index = np.concatenate(found_query)
        positions = np.concatenate(found_positions)
        distances = np.concatenate(found_distances)
        keep = alive[positions]
        query_index, positions, distances = query_index[keep], positions[keep], distances[keep]
        # A hash close on several chunks is a candidate several times: keep it once.
        pair = query_index * max(len(self._hashes), 1) + positions
        pair, first = np.unique(pair, return_index=True)
        query_index, ids, distances = (
            query_index[first],
            self._ids[positions[first]],
            distances[first],
        )
        if len(delta_ids):
            delta_query, delta_found, delta_distances = _brute_force(
                delta_hashes, delta_ids, queries, limit
            )
            query_index = np.concatenate([query_index, delta_query])
            ids = np.concatenate([ids, delta_found])
            distances = np.concatenate([distances, delta_distances])
        order = np.lexsort((ids, distances, query_index))
        return Matches(query_index[order], ids[order], distances[order])


def _brute_force(
    hashes: Words, ids: IntArray, queries: Words, limit: int
) -> tuple[npt.NDArray[np.int64], IntArray, npt.NDArray[np.int64]]:
    found_query = [np.zeros(0, dtype=np.int64)]
    found_ids = [np.zeros(0, dtype=np.int64)]
    found_distances = [np.zeros(0, dtype=np.int64)]
    for number, query in enumerate(queries):
        distances = hamming_distances(hashes, query)
        close = distances <= limit
        found_query.append(np.full(int(close.sum()), number, dtype=np.int64))
        found_ids.append(ids[close])
        found_distances.append(distances[close])
    return (
        np.concatenate(found_query),
        np.concatenate(found_ids),
        np.concatenate(found_distances),
    )
