"""An exact PDQ index: multi-index hashing by the generalised pigeonhole principle.

Pure numpy, no Django: the matcher process builds it from the database, the benchmark
builds it from random hashes, and the tests compare it with brute force.

The scheme (docs/banks.md has the reasoning and the figures):

* A 256-bit hash is cut into ``m`` contiguous chunks of near-equal width (at most 22
  bits each). If two hashes are within ``t`` bits, the chunk distances add up to at most
  ``t``. Write ``t = m * r + a`` with ``0 <= a < m``: if ``a + 1`` chosen chunks all
  differed by ``r + 1`` or more and the other ``m - a - 1`` by ``r`` or more, the total
  would be at least ``m * r + a + 1 = t + 1``. So every hash within ``t`` agrees with the
  query, on one of the chosen ``a + 1`` chunks within ``r`` bits, or on one of the others
  within ``r - 1`` bits. (16 chunks of 16 bits and ``t = 31`` is the familiar case: some
  chunk within one bit.)
* Each chunk has a direct-address table (CSR): ``offsets[key] .. offsets[key + 1]`` are
  the positions whose chunk equals ``key``, in one ``postings`` array. A query probes
  every key within its chunk's radius (the query's chunk XOR each precomputed mask),
  gathers the candidate positions and verifies each by exact popcount distance. Nothing
  is approximate: the candidates are a superset of the answer, the verification is exact.
* New entries go to a small in-memory delta searched by brute force; disabled entries go
  to a tombstone mask. Both take effect at once, without a rebuild. ``compacted()``
  folds them into a fresh index (from memory, not from the database).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HASH_BITS = 256
HASH_WORDS = 4
HASH_HEX_LENGTH = 64
MAX_CHUNK_WIDTH = 24
MIN_TABLE_WIDTH = 16
TABLE_SLOTS_PER_HASH = 4
DEFAULT_THRESHOLD = 31
# Queries searched together: enough to amortise numpy's per-call cost over thousands of
# candidates, few enough that the temporaries stay in the caches (docs/banks.md).
QUERY_BATCH = 64
# Relative cost of one probe (a table read, mostly a cache miss) and one candidate (a
# postings read, a hash read, a popcount), measured at 10 M hashes on one core.
PROBE_COST = 1.0
CANDIDATE_COST = 1.5
# A candidate's query number and its postings slot, packed in one int64 (slot below).
SLOT_BITS = 32
SLOT_MASK = (1 << SLOT_BITS) - 1

Words = npt.NDArray[np.uint64]
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
class Chunk:
    offset: int  # first bit, counted from the most significant bit of word 0
    width: int
    radius: int  # probe keys within this many bits; -1: this chunk is not probed


def _chunk_widths(chunk_count: int) -> list[int]:
    base, extra = divmod(HASH_BITS, chunk_count)
    return [base + 1] * extra + [base] * (chunk_count - extra)


def _probes(width: int, radius: int) -> int:
    return sum(math.comb(width, flipped) for flipped in range(radius + 1))


def _chunk_cost(width: int, radius: int, size: int) -> float:
    """Estimated work of probing one chunk: its probes, and the hashes they bring."""
    if radius < 0:
        return 0.0
    return _probes(width, radius) * (PROBE_COST + CANDIDATE_COST * size / 2**width)


def widest_chunk(size: int) -> int:
    """The widest chunk worth a direct-address table for an index of ``size`` hashes.

    A table has ``2 ** width`` slots; past a few slots per hash it is mostly empty memory
    that saves few candidates, so small indexes get narrower (hence more) chunks.
    """
    fitting = (TABLE_SLOTS_PER_HASH * max(size, 1)).bit_length() - 1
    return max(MIN_TABLE_WIDTH, min(MAX_CHUNK_WIDTH, fitting))


def plan_chunks(*, threshold: int, chunk_count: int, size: int = 1_000_000) -> tuple[Chunk, ...]:
    """Chunks and radii that find every hash within ``threshold`` (see module docstring).

    The ``a + 1`` chunks that get the larger radius are those where it costs least
    (probes plus expected candidates for an index of ``size`` hashes).
    """
    if threshold < 0 or threshold >= HASH_BITS:
        raise ValueError(f"threshold must be between 0 and {HASH_BITS - 1}, got {threshold}")
    widths = _chunk_widths(chunk_count)
    if max(widths) > MAX_CHUNK_WIDTH:
        raise ValueError(
            f"{chunk_count} chunks are {max(widths)} bits wide; at most {MAX_CHUNK_WIDTH} "
            f"(use {math.ceil(HASH_BITS / MAX_CHUNK_WIDTH)} chunks or more)"
        )
    radius, remainder = divmod(threshold, chunk_count)
    extra_cost = [
        _chunk_cost(width, radius, size) - _chunk_cost(width, radius - 1, size) for width in widths
    ]
    wider = set(sorted(range(chunk_count), key=lambda index: extra_cost[index])[: remainder + 1])
    chunks = []
    offset = 0
    for index, width in enumerate(widths):
        chunks.append(
            Chunk(offset=offset, width=width, radius=radius if index in wider else radius - 1)
        )
        offset += width
    return tuple(chunks)


def plan_cost(chunks: Sequence[Chunk], *, size: int) -> float:
    return sum(_chunk_cost(chunk.width, chunk.radius, size) for chunk in chunks)


def choose_chunk_count(*, threshold: int, size: int) -> int:
    """The chunk count with the least estimated work per query for this threshold and size."""
    smallest = math.ceil(HASH_BITS / widest_chunk(size))
    return min(
        range(smallest, 33),
        key=lambda count: plan_cost(
            plan_chunks(threshold=threshold, chunk_count=count, size=size), size=size
        ),
    )


def extract_chunk(hashes: Words, chunk: Chunk) -> npt.NDArray[np.int64]:
    """The chunk's bits of every row, as integers below ``2 ** chunk.width``."""
    word, bit = divmod(chunk.offset, 64)
    mask = np.uint64((1 << chunk.width) - 1)
    if bit + chunk.width <= 64:
        values = (hashes[:, word] >> np.uint64(64 - bit - chunk.width)) & mask
    else:
        low_width = bit + chunk.width - 64
        high = (hashes[:, word] << np.uint64(low_width)) & mask
        low = hashes[:, word + 1] >> np.uint64(64 - low_width)
        values = high | low
    return values.astype(np.int64)


def _flip_masks(width: int, radius: int) -> npt.NDArray[np.int64]:
    masks = [0]
    for flipped in range(1, radius + 1):
        for bits in itertools.combinations(range(width), flipped):
            masks.append(sum(1 << bit for bit in bits))
    return np.array(masks, dtype=np.int64)


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
        size = len(hashes)
        self.threshold = threshold
        self.chunk_count = chunk_count or choose_chunk_count(threshold=threshold, size=max(size, 1))
        self.chunks = plan_chunks(
            threshold=threshold, chunk_count=self.chunk_count, size=max(size, 1)
        )
        self._hashes = hashes
        self._ids = id_array
        self._alive = np.ones(size, dtype=bool)
        self._id_order = np.argsort(id_array, kind="stable")
        self._lock = threading.Lock()
        self._delta_hashes: Words = np.zeros((0, HASH_WORDS), dtype=np.uint64)
        self._delta_ids: IntArray = np.zeros(0, dtype=np.int64)
        self._build_tables()

    def _build_tables(self) -> None:
        size = len(self._hashes)
        probed = [chunk for chunk in self.chunks if chunk.radius >= 0]
        if size * len(probed) >= 2**SLOT_BITS:
            raise ValueError(f"{size} hashes are more than one index holds; shard them")
        # One uint32 per key: where its postings start; the next key's start is where they
        # end (each chunk's table has one slot past its last key for that).
        self._starts = np.empty(sum(2**chunk.width + 1 for chunk in probed), dtype=np.uint32)
        self._postings = np.empty(size * len(probed), dtype=np.int32)
        position_bits = max(size - 1, 1).bit_length()
        positions = np.arange(size, dtype=np.int64)
        probe_mask: list[npt.NDArray[np.int64]] = []
        probe_base: list[npt.NDArray[np.int64]] = []
        table_start = 0
        for number, chunk in enumerate(probed):
            keys = extract_chunk(self._hashes, chunk)
            # Key and position packed in one int64 sort by key, then position: each key's
            # postings, sooner than a stable argsort of the keys.
            packed = np.sort((keys << position_bits) | positions)
            self._postings[number * size : (number + 1) * size] = packed & ((1 << position_bits) - 1)
            counts = np.bincount(keys, minlength=2**chunk.width)
            table = self._starts[table_start : table_start + 2**chunk.width + 1]
            table[0] = number * size
            table[1:] = np.cumsum(counts) + number * size
            masks = _flip_masks(chunk.width, chunk.radius)
            probe_mask.append(masks)
            probe_base.append(np.full(len(masks), table_start, dtype=np.int64))
            table_start += 2**chunk.width + 1
            del keys, packed, counts
        self._probed = probed
        self._probe_chunk = np.repeat(np.arange(len(probed)), [len(m) for m in probe_mask])
        self._probe_mask = np.concatenate(probe_mask)
        self._probe_base = np.concatenate(probe_base)
        self._ends = self._starts[1:]  # a view: ends[slot] == starts[slot + 1]

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
        sorted_ids = self._ids[self._id_order]
        where = np.searchsorted(sorted_ids, id_array).clip(max=len(sorted_ids) - 1)
        found = sorted_ids[where] == id_array
        return self._id_order[where[found]].astype(np.int64)

    def _in_main(self, id_array: IntArray) -> npt.NDArray[np.bool_]:
        if not len(self._ids) or not len(id_array):
            return np.zeros(len(id_array), dtype=bool)
        sorted_ids = self._ids[self._id_order]
        where = np.searchsorted(sorted_ids, id_array).clip(max=len(sorted_ids) - 1)
        return np.asarray(sorted_ids[where] == id_array)

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
        found = [
            self._search_main(queries[start : start + QUERY_BATCH], start, limit)
            for start in range(0, len(queries), QUERY_BATCH)
        ]
        query_index = np.concatenate([np.zeros(0, dtype=np.int64), *(f[0] for f in found)])
        positions = np.concatenate([np.zeros(0, dtype=np.int64), *(f[1] for f in found)])
        distances = np.concatenate([np.zeros(0, dtype=np.int64), *(f[2] for f in found)])
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

    def _search_main(
        self, batch: Words, first_query: int, limit: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(query, position, distance) of every main-array hash within ``limit``, repeats kept."""
        query_of, slots = self._candidate_slots(batch)
        positions = self._postings.take(slots)
        rows = self._hashes.take(positions, axis=0)
        rows ^= batch.take(query_of, axis=0)
        distances = _row_distances(rows)
        close = np.flatnonzero(distances <= limit)
        return (
            query_of[close] + first_query,
            positions[close].astype(np.int64),
            distances[close].astype(np.int64),
        )

    def _candidate_slots(
        self, batch: Words
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Each candidate's query number and postings slot (all the postings of every probe)."""
        query_keys = np.stack([extract_chunk(batch, chunk) for chunk in self._probed])
        # Probe-major order: row p holds probe p of every query (the same table, nearby).
        probe = (
            self._probe_base[:, None] + (query_keys[self._probe_chunk] ^ self._probe_mask[:, None])
        ).ravel()
        begin = self._starts.take(probe)
        count = self._ends.take(probe) - begin
        nonempty = np.flatnonzero(count)
        if not len(nonempty):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        count = count[nonempty].astype(np.int64)
        run_start = (nonempty % len(batch) << SLOT_BITS) + begin[nonempty]
        run_first = np.cumsum(count) - count
        total = int(run_first[-1] + count[-1])
        # Expand every run [begin, begin + count) with one cumulative sum: step 1 inside a
        # run, and at a run's first candidate the jump from the previous run's last one.
        # The query number rides in the high bits of the same sum.
        step = np.ones(total, dtype=np.int64)
        step[run_first[1:]] = run_start[1:] - (run_start[:-1] + count[:-1] - 1)
        step[0] = run_start[0]
        packed = np.cumsum(step)
        return packed >> SLOT_BITS, packed & SLOT_MASK


def _row_distances(differences: Words) -> npt.NDArray[np.uint32]:
    """Popcount of each row of XORed words, without numpy's slow reduce over 4 columns.

    The four per-word counts (each at most 64) are the four bytes of one uint32: add them
    pairwise in 16-bit lanes, then the two lanes (at most 256, exact).
    """
    counts = np.bitwise_count(differences).view(np.uint32).ravel()
    pairs = (counts & np.uint32(0x00FF00FF)) + ((counts >> np.uint32(8)) & np.uint32(0x00FF00FF))
    return (pairs & np.uint32(0xFFFF)) + (pairs >> np.uint32(16))


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
