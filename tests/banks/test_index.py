"""The PDQ index is exact: it returns what brute force returns, at and around the threshold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.banks.index import (
    HASH_BITS,
    InvalidHashError,
    PDQIndex,
    hamming_distances,
    hash_to_hex,
    parse_pdq_hex,
    plan_chunks,
)


def random_hashes(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 2**64, size=(count, 4), dtype=np.uint64)


def flip_bits(words: np.ndarray, bits: np.ndarray) -> np.ndarray:
    flipped = words.copy()
    for bit in bits:
        flipped[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
    return flipped


def brute_force(hashes: np.ndarray, ids: np.ndarray, query: np.ndarray, limit: int):
    distances = hamming_distances(hashes, query)
    return sorted((int(ids[i]), int(distances[i])) for i in np.nonzero(distances <= limit)[0])


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    threshold=st.sampled_from([30, 31, 32]),
    chunk_count=st.sampled_from([None, 12, 13, 16]),
    planted=st.lists(st.integers(26, 36), min_size=1, max_size=30),
)
def test_search_returns_exactly_what_brute_force_returns(seed, threshold, chunk_count, planted):
    rng = np.random.default_rng(seed)
    queries = random_hashes(rng, 3)
    near = [
        flip_bits(queries[rng.integers(0, 3)], rng.choice(HASH_BITS, distance, replace=False))
        for distance in planted
    ]
    hashes = np.concatenate([random_hashes(rng, 500), np.stack(near)])
    ids = rng.permutation(len(hashes)).astype(np.int64) * 7 + 3
    index = PDQIndex(hashes, ids, threshold=threshold, chunk_count=chunk_count)
    matches = index.search(queries)
    for number, query in enumerate(queries):
        assert sorted(matches.for_query(number)) == brute_force(hashes, ids, query, threshold)
    # A tighter per-bank threshold on the same index is exact too.
    tighter = index.search(queries, threshold=threshold - 1)
    for number, query in enumerate(queries):
        assert sorted(tighter.for_query(number)) == brute_force(hashes, ids, query, threshold - 1)


@pytest.mark.parametrize("threshold", [0, 1, 5, 15, 30, 31, 32, 47, 63])
@pytest.mark.parametrize("chunk_count", [12, 13, 16, 20, 32])
def test_every_plan_covers_the_threshold(threshold, chunk_count):
    """The pigeonhole bound: chunk distances at one above each radius sum past the threshold."""
    chunks = plan_chunks(threshold=threshold, chunk_count=chunk_count)
    assert sum(chunk.width for chunk in chunks) == HASH_BITS
    assert sum(chunk.radius + 1 for chunk in chunks) == threshold + 1


def test_planted_hashes_at_the_threshold_are_found_and_one_past_is_not():
    rng = np.random.default_rng(7)
    query = random_hashes(rng, 1)[0]
    hashes = np.concatenate(
        [
            random_hashes(rng, 2000),
            np.stack([flip_bits(query, rng.choice(256, d, replace=False)) for d in (0, 31, 32)]),
        ]
    )
    index = PDQIndex(hashes, np.arange(len(hashes)))
    assert index.search(query[None, :]).for_query(0) == [(2000, 0), (2001, 31)]


def test_added_entries_match_at_once_and_removed_ones_stop():
    rng = np.random.default_rng(11)
    hashes = random_hashes(rng, 1000)
    index = PDQIndex(hashes, np.arange(1000))
    query = random_hashes(rng, 1)[0]
    newcomer = flip_bits(query, np.arange(10))
    index.add(newcomer[None, :], [5000])
    assert index.search(query[None, :]).for_query(0) == [(5000, 10)]
    index.remove([5000])
    assert index.search(query[None, :]).for_query(0) == []
    index.remove([42])
    assert index.search(hashes[42][None, :]).for_query(0) == []
    index.add(hashes[42][None, :], [42])  # re-enabled: the tombstone lifts
    assert index.search(hashes[42][None, :]).for_query(0) == [(42, 0)]
    assert len(index) == 1000
    index.add(newcomer[None, :], [5000])
    index.remove([7])
    compacted = index.compacted()
    assert compacted.delta_size == 0
    assert compacted.search(query[None, :]).for_query(0) == [(5000, 10)]
    assert compacted.search(hashes[7][None, :]).for_query(0) == []
    assert len(compacted) == 1000


def test_hex_round_trip_and_refusals():
    text = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    assert hash_to_hex(parse_pdq_hex(text.upper())) == text
    with pytest.raises(InvalidHashError, match="64 hexadecimal characters, got 63"):
        parse_pdq_hex(text[:-1])
    with pytest.raises(InvalidHashError, match="0-9 and a-f"):
        parse_pdq_hex("z" + text[1:])
