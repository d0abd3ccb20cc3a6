"""The work of a PDQIndex lookup: probe the chunk tables, expand the postings, verify.

Plain arrays in, plain arrays out, numpy on one core. Each probed chunk has a
direct-address table (CSR): ``starts[key] .. starts[key + 1]`` are the slots in
``postings`` of the positions whose chunk equals ``key`` (one uint32 per key; each
chunk's table has one slot past its last key, so the next start is always there). A
query probes every key within its chunk's radius (its chunk XOR each flip mask), and
every position found is verified by exact popcount distance.

At 10 M hashes the scan is memory-bound (a cache miss per probe, per postings run, per
candidate hash), and numpy's own costs decide the rest (docs/banks.md, "At 10 million"):

* the large temporaries are per-thread scratch buffers reused from call to call: fresh
  ones are mapped and unmapped by malloc on every call, and faulting their pages in cost
  as much as the scan (about 100 page faults a query);
* the postings runs are expanded by one cumulative sum, not ``np.repeat``;
* hash rows are gathered with ``take(axis=0)``, not 2-D fancy indexing (five times
  slower), and their four popcounts are added in byte lanes, not by a reduce over a
  4-wide axis (twenty times slower).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchfloor.banks.index_plan import Chunk, Words, extract_chunk, flip_masks

IntArray = npt.NDArray[np.int64]

# A candidate's query number and its postings slot, packed in one int64 (slot below).
SLOT_BITS = 32
SLOT_MASK = (1 << SLOT_BITS) - 1
# A scratch buffer bigger than this (a batch of queries with huge postings runs) is not
# kept: it would hold that memory for the life of the thread.
SCRATCH_KEEP_BYTES = 64 * 2**20


@dataclass(frozen=True)
class ChunkTables:
    probed: tuple[Chunk, ...]
    starts: npt.NDArray[np.uint32]
    postings: npt.NDArray[np.int32]
    # Probe p of a query reads slot probe_base[p] + (key of chunk probe_chunk[p] XOR
    # probe_mask[p]).
    probe_chunk: IntArray
    probe_mask: IntArray
    probe_base: IntArray

    @property
    def ends(self) -> npt.NDArray[np.uint32]:
        return self.starts[1:]  # ends[slot] is starts[slot + 1]: a view, no copy


def build_tables(hashes: Words, chunks: tuple[Chunk, ...]) -> ChunkTables:
    size = len(hashes)
    probed = tuple(chunk for chunk in chunks if chunk.radius >= 0)
    if size * len(probed) >= 2**SLOT_BITS:
        raise ValueError(f"{size} hashes are more than one index holds; shard them")
    starts = np.empty(sum(2**chunk.width + 1 for chunk in probed), dtype=np.uint32)
    postings = np.empty(size * len(probed), dtype=np.int32)
    position_bits = max(size - 1, 1).bit_length()
    positions = np.arange(size, dtype=np.int64)
    masks = [flip_masks(chunk.width, chunk.radius) for chunk in probed]
    bases = []
    table_start = 0
    for number, chunk in enumerate(probed):
        keys = extract_chunk(hashes, chunk)
        # Key and position packed in one int64 sort by key, then position: each key's
        # postings, sooner than a stable argsort of the keys.
        packed = np.sort((keys << position_bits) | positions)
        postings[number * size : (number + 1) * size] = packed & ((1 << position_bits) - 1)
        counts = np.bincount(keys, minlength=2**chunk.width)
        table = starts[table_start : table_start + 2**chunk.width + 1]
        table[0] = number * size
        table[1:] = np.cumsum(counts) + number * size
        bases.append(table_start)
        table_start += 2**chunk.width + 1
        del keys, packed, counts
    lengths = [len(chunk_masks) for chunk_masks in masks]
    return ChunkTables(
        probed=probed,
        starts=starts,
        postings=postings,
        probe_chunk=np.repeat(np.arange(len(probed), dtype=np.int64), lengths),
        probe_mask=np.concatenate(masks),
        probe_base=np.repeat(np.array(bases, dtype=np.int64), lengths),
    )


class _Scratch(threading.local):
    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}


_SCRATCH = _Scratch()


def _buffer(name: str, length: int, dtype: type[np.generic]) -> np.ndarray:
    """``length`` items of this thread's buffer ``name`` (contents left over)."""
    buffer = _SCRATCH.buffers.get(name)
    if buffer is None or len(buffer) < length:
        buffer = np.empty(max(length, 2 * len(buffer) if buffer is not None else 0), dtype=dtype)
        if buffer.nbytes <= SCRATCH_KEEP_BYTES:
            _SCRATCH.buffers[name] = buffer
        if name == "indices":
            buffer[:] = np.arange(len(buffer))
    return buffer[:length]


def scan(
    tables: ChunkTables, hashes: Words, batch: Words, limit: int
) -> tuple[IntArray, IntArray, IntArray]:
    """(query, position, distance) of every hash within ``limit``; repeats kept.

    A hash close to a query on several chunks comes once per chunk.
    """
    query_of, slots = _candidate_slots(tables, batch)
    total = len(slots)
    positions = np.take(
        tables.postings, slots, out=_buffer("positions", total, np.int32), mode="clip"
    )
    rows = _buffer("rows", total * 4, np.uint64).reshape(total, 4)
    np.take(hashes, positions, axis=0, out=rows, mode="clip")
    query_rows = _buffer("query_rows", total * 4, np.uint64).reshape(total, 4)
    np.take(batch, query_of, axis=0, out=query_rows, mode="clip")
    np.bitwise_xor(rows, query_rows, out=rows)
    distances = _row_distances(rows)
    close = np.flatnonzero(np.less_equal(distances, limit, out=_buffer("close", total, np.bool_)))
    return query_of[close], positions[close].astype(np.int64), distances[close].astype(np.int64)


def _candidate_slots(tables: ChunkTables, batch: Words) -> tuple[IntArray, IntArray]:
    """Each candidate's query number and postings slot: every posting of every probe."""
    query_keys = np.stack([extract_chunk(batch, chunk) for chunk in tables.probed])
    probes = len(tables.probe_chunk) * len(batch)
    # Probe-major: row p holds probe p of every query of the batch.
    probe_grid = _buffer("probe", probes, np.int64).reshape(-1, len(batch))
    np.take(query_keys, tables.probe_chunk, axis=0, out=probe_grid, mode="clip")
    np.bitwise_xor(probe_grid, tables.probe_mask[:, None], out=probe_grid)
    np.add(probe_grid, tables.probe_base[:, None], out=probe_grid)
    probe = probe_grid.reshape(-1)
    begin = np.take(tables.starts, probe, out=_buffer("begin", probes, np.uint32), mode="clip")
    count = np.take(tables.ends, probe, out=_buffer("count", probes, np.uint32), mode="clip")
    np.subtract(count, begin, out=count)
    # Most probes at 23-24 bits find no hash: keep only the runs that exist.
    found = np.not_equal(count, 0, out=_buffer("found", probes, np.bool_))
    runs = int(np.count_nonzero(found))
    if not runs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    run_start = np.compress(
        found, _buffer("indices", probes, np.int64), out=_buffer("run", runs, np.int64)
    )
    run_begin = np.compress(found, begin, out=_buffer("run_begin", runs, np.uint32))
    run_count = np.compress(found, count, out=_buffer("run_count", runs, np.uint32))
    # A run's first candidate, packed: its query number (high bits), its slot (low bits).
    np.remainder(run_start, len(batch), out=run_start)
    np.left_shift(run_start, SLOT_BITS, out=run_start)
    np.add(run_start, run_begin, out=run_start)
    run_first = np.cumsum(run_count, dtype=np.int64, out=_buffer("run_first", runs, np.int64))
    total = int(run_first[-1])
    np.subtract(run_first, run_count, out=run_first)
    # Expand the runs with one cumulative sum: step 1 inside a run, and at a run's first
    # candidate the jump from the previous run's last one (the query number rides along).
    jump = np.add(run_start, run_count, out=_buffer("jump", runs, np.int64))
    jump -= 1
    np.subtract(run_start[1:], jump[:-1], out=jump[1:])
    jump[0] = run_start[0]
    packed = _buffer("packed", total, np.int64)
    packed.fill(1)
    packed[run_first] = jump
    np.cumsum(packed, out=packed)
    query_of = np.right_shift(packed, SLOT_BITS, out=_buffer("query_of", total, np.int64))
    return query_of, np.bitwise_and(packed, SLOT_MASK, out=packed)


def _row_distances(differences: Words) -> npt.NDArray[np.uint32]:
    """The popcount of each row of four XORed words.

    The four per-word counts (each at most 64) are the four bytes of one uint32: add them
    pairwise in 16-bit lanes, then the two lanes (at most 256, exact).
    """
    total = len(differences)
    counts = np.bitwise_count(
        differences, out=_buffer("popcounts", total * 4, np.uint8).reshape(total, 4)
    )
    lanes = counts.view(np.uint32).reshape(total)
    pairs = np.bitwise_and(lanes, np.uint32(0x00FF00FF), out=_buffer("pairs", total, np.uint32))
    shifted = np.right_shift(lanes, np.uint32(8), out=_buffer("shifted", total, np.uint32))
    shifted &= np.uint32(0x00FF00FF)
    pairs += shifted
    np.right_shift(pairs, np.uint32(16), out=shifted)
    pairs &= np.uint32(0xFFFF)
    pairs += shifted
    return pairs
