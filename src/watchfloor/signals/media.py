"""Near-identical media by PDQ hash: parsing, Hamming distance and an exact index.

PDQ (Meta's perceptual hash for images) gives 256 bits; two images whose hashes
differ in at most 31 bits are treated as the same picture (the reference
implementation's recommended starting threshold; configurable). Clustering must
not miss such a pair, so ``PDQIndex`` is exhaustive: faiss's ``IndexBinaryFlat``
compares the query with every stored hash using popcount instructions, and
``range_search`` returns every hash within the radius. The tests check it against
a pure-Python brute force.

Measured on this machine (2 cores), one query: 12-14 µs against 10,000 hashes and
about 60 µs against 100,000; ``query_many`` amortises the call (6 µs per query at
10,000, 53 µs at 100,000). faiss runs single-threaded here: with two OpenMP threads
one query against 10,000 hashes measured 129 µs instead of 12 µs (and up to 16
times slower at 100,000 while the other core was busy); a second thread only
helped large batches on an idle core (31 µs instead of 54 µs per query at
100,000), and the ingest pipeline gets its parallelism from worker processes
anyway. A numpy popcount brute force measured 155 µs at 10,000, so there is no
second code path for small indexes.

The reference implementation also recommends discarding hashes of quality 49 or
less (featureless images); ``is_useful_quality`` says so for the caller.
"""

from __future__ import annotations

import random
import re
from collections.abc import Hashable, Iterable, Sequence
from functools import lru_cache

import faiss
import numpy as np

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "MIN_USEFUL_QUALITY",
    "PDQ_BITS",
    "PDQ_BYTES",
    "PDQIndex",
    "hamming_distance",
    "is_useful_quality",
    "parse_pdq_hex",
    "pdq_to_hex",
    "pdq_variant",
]

PDQ_BITS = 256
PDQ_BYTES = PDQ_BITS // 8
DEFAULT_MAX_DISTANCE = 31
MIN_USEFUL_QUALITY = 50

_HEX_64 = re.compile(r"[0-9a-fA-F]{64}")


def parse_pdq_hex(value: str) -> bytes:
    """The 32 bytes of a PDQ hash written as 64 hex digits (either case)."""
    if not isinstance(value, str) or _HEX_64.fullmatch(value) is None:
        raise ValueError(f"{value!r:.80} is not a PDQ hash: give exactly 64 hex digits (256 bits)")
    return bytes.fromhex(value)


def pdq_to_hex(pdq: bytes) -> str:
    return _checked(pdq).hex()


def is_useful_quality(quality: int | None) -> bool:
    """Whether a hash of this PDQ quality is worth matching (unknown counts as useful)."""
    return quality is None or quality >= MIN_USEFUL_QUALITY


def hamming_distance(a: bytes, b: bytes) -> int:
    """The number of differing bits between two PDQ hashes."""
    _checked(a)
    _checked(b)
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def pdq_variant(pdq: bytes, distance: int, *, seed: int | None = None) -> bytes:
    """A hash exactly ``distance`` bits away from ``pdq`` (distinct random bits flipped).

    For tests and benchmarks: it plants near-duplicates at a known distance.
    """
    _checked(pdq)
    if not 0 <= distance <= PDQ_BITS:
        raise ValueError(f"distance is {distance}: use 0 to {PDQ_BITS}")
    generator = random.Random(seed)  # noqa: S311 - test data, not security
    value = int.from_bytes(pdq, "big")
    for bit in generator.sample(range(PDQ_BITS), distance):
        value ^= 1 << bit
    return value.to_bytes(PDQ_BYTES, "big")


def _checked(pdq: bytes) -> bytes:
    if not isinstance(pdq, bytes | bytearray | memoryview) or len(pdq) != PDQ_BYTES:
        raise ValueError(
            f"a PDQ hash is {PDQ_BYTES} bytes; got {type(pdq).__name__} of "
            f"{len(pdq) if hasattr(pdq, '__len__') else '?'}: parse hex with parse_pdq_hex"
        )
    return bytes(pdq)


@lru_cache(maxsize=1)
def _single_threaded_faiss() -> None:
    # See the module docstring: one OpenMP thread per lookup, parallelism by process.
    faiss.omp_set_num_threads(1)


class PDQIndex:
    """An exact index of PDQ hashes, each stored under a key (a cluster id, say).

    A key may hold several hashes; results name each key once, at its smallest
    distance. Hashes cannot be removed one by one: rebuild the index instead
    (100,000 hashes load in about 30 ms with ``add_many``).
    """

    def __init__(self, max_distance: int = DEFAULT_MAX_DISTANCE) -> None:
        if not 0 <= max_distance <= PDQ_BITS:
            raise ValueError(
                f"max_distance is {max_distance}: use 0 to {PDQ_BITS} ({DEFAULT_MAX_DISTANCE} "
                "is the recommended start)"
            )
        _single_threaded_faiss()
        self.max_distance = max_distance
        self._index = faiss.IndexBinaryFlat(PDQ_BITS)
        # faiss row → the key's number; a number → its key. Numbers, not keys, per row:
        # a popular picture's re-uploads leave thousands of hashes under one cluster, and
        # a query near it returns them all, so keeping each key's nearest is done on
        # arrays rather than one Python step per row (which grew with every re-upload).
        self._row_keys = np.empty(0, dtype=np.int64)
        self._keys: list[Hashable] = []
        self._key_numbers: dict[Hashable, int] = {}

    def __len__(self) -> int:
        return len(self._row_keys)

    def add(self, key: Hashable, pdq: bytes) -> None:
        self.add_many([(key, pdq)])

    def add_many(self, items: Iterable[tuple[Hashable, bytes]]) -> None:
        keys: list[Hashable] = []
        hashes: list[bytes] = []
        for key, pdq in items:
            keys.append(key)
            hashes.append(_checked(pdq))
        if not hashes:
            return
        # Numbered only once every hash is valid: a refused batch leaves nothing behind.
        numbers = [self._number_of(key) for key in keys]
        self._index.add(np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, PDQ_BYTES))
        self._row_keys = np.concatenate((self._row_keys, np.array(numbers, dtype=np.int64)))

    def _number_of(self, key: Hashable) -> int:
        number = self._key_numbers.get(key)
        if number is None:
            number = self._key_numbers[key] = len(self._keys)
            self._keys.append(key)
        return number

    def query(self, pdq: bytes, max_distance: int | None = None) -> list[tuple[Hashable, int]]:
        """Every key with a hash within ``max_distance`` bits (inclusive), nearest first."""
        return self.query_many([pdq], max_distance)[0]

    def query_many(
        self, pdqs: Sequence[bytes], max_distance: int | None = None
    ) -> list[list[tuple[Hashable, int]]]:
        """``query`` for many hashes in one faiss call."""
        limit = self.max_distance if max_distance is None else max_distance
        if not pdqs:
            return []
        if not len(self._row_keys):
            return [[] for _ in pdqs]
        queries = np.frombuffer(b"".join(_checked(pdq) for pdq in pdqs), dtype=np.uint8)
        # faiss's radius is exclusive: distance < radius.
        limits, distances, rows = self._index.range_search(
            queries.reshape(-1, PDQ_BYTES), limit + 1
        )
        positions = np.repeat(np.arange(len(pdqs)), np.diff(limits.astype(np.int64)))
        rows = rows.astype(np.int64)
        keys = self._row_keys[rows]
        # Each (query, key) pair once, at its nearest row: sorted by query, key,
        # distance, row, the first of each pair is the one kept.
        order = np.lexsort((rows, distances, keys, positions))
        positions, keys, distances, rows = (a[order] for a in (positions, keys, distances, rows))
        first = np.ones(len(order), dtype=bool)
        first[1:] = (positions[1:] != positions[:-1]) | (keys[1:] != keys[:-1])
        positions, keys, distances, rows = (a[first] for a in (positions, keys, distances, rows))
        # Nearest first within each query; equal distances in the order stored.
        order = np.lexsort((rows, distances, positions))
        positions, keys, distances = positions[order], keys[order], distances[order]
        bounds = np.searchsorted(positions, np.arange(len(pdqs) + 1))
        every_key, key_list, distance_list = self._keys, keys.tolist(), distances.tolist()
        return [
            [
                (every_key[number], distance)
                for number, distance in zip(
                    key_list[start:end], distance_list[start:end], strict=True
                )
            ]
            for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        ]

    def nearest(self, pdq: bytes) -> tuple[Hashable, int] | None:
        """The closest stored hash's key and distance, however far; None if empty."""
        if not len(self._row_keys):
            return None
        query = np.frombuffer(_checked(pdq), dtype=np.uint8).reshape(1, PDQ_BYTES)
        distances, rows = self._index.search(query, 1)
        return self._keys[int(self._row_keys[int(rows[0, 0])])], int(distances[0, 0])
