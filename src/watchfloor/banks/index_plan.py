"""Which chunks a PDQIndex cuts a hash into, and how far it probes each (the plan).

A 256-bit hash is cut into ``m`` contiguous chunks of near-equal width. If two hashes
are within ``t`` bits, the chunk distances add up to at most ``t``. Write ``t = m * r + a``
with ``0 <= a < m``: if ``a + 1`` chosen chunks all differed by ``r + 1`` or more and the
other ``m - a - 1`` by ``r`` or more, the total would be at least ``m * r + a + 1 = t + 1``.
So every hash within ``t`` agrees with the query, on one of the chosen ``a + 1`` chunks
within ``r`` bits, or on one of the others within ``r - 1`` bits. (16 chunks of 16 bits
and ``t = 31`` is the familiar case: some chunk within one bit.)

The chunk count is the one with the least estimated work per query: probes (table reads)
plus the candidates they bring (hashes to verify), weighed by their measured costs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HASH_BITS = 256
# A chunk's table has 2 ** width uint32 slots: 64 MB at 24 bits, and at most 8 slots (32
# bytes, the size of a hash) per hash in the index past 2 ** 16 slots.
MAX_CHUNK_WIDTH = 24
MIN_TABLE_WIDTH = 16
TABLE_SLOTS_PER_HASH = 8
# Relative cost of one probe (a table read, mostly a cache miss) and one candidate (a
# postings read, a hash read, a popcount): fitted to lookups timed at 1 M and 10 M
# hashes with 11 to 16 chunks on one core (docs/banks.md); any ratio from 1 to 1.7 picks
# the same chunk counts there (12 at 1 M, 11 at 10 M).
PROBE_COST = 1.0
CANDIDATE_COST = 1.5

Words = npt.NDArray[np.uint64]


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


def flip_masks(width: int, radius: int) -> npt.NDArray[np.int64]:
    masks = [0]
    for flipped in range(1, radius + 1):
        for bits in itertools.combinations(range(width), flipped):
            masks.append(sum(1 << bit for bit in bits))
    return np.array(masks, dtype=np.int64)
