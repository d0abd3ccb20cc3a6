"""The PDQ index is exact: it returns what brute force returns, at and around the threshold."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

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
from watchfloor.banks.index_plan import choose_chunk_count, extract_chunk, widest_chunk
from watchfloor.banks.index_scan import build_tables


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


def test_each_chunk_table_holds_exactly_the_positions_of_its_key():
    """Start-only tables: a key's postings end where the next key's start, at every key
    (the first, the last, and the many empty ones) of every chunk."""
    rng = np.random.default_rng(3)
    all_zero, all_one = np.zeros(4, dtype=np.uint64), np.full(4, 2**64 - 1, dtype=np.uint64)
    hashes = np.concatenate([random_hashes(rng, 3000), np.stack([all_zero, all_one, all_one])])
    chunks = plan_chunks(threshold=31, chunk_count=16, size=len(hashes))
    tables = build_tables(hashes, chunks)
    table_start = 0
    for number, chunk in enumerate(tables.probed):
        keys = extract_chunk(hashes, chunk)
        table = tables.starts[table_start : table_start + 2**chunk.width + 1].astype(np.int64)
        assert table[0] == number * len(hashes)
        assert table[-1] == (number + 1) * len(hashes)
        assert np.array_equal(np.diff(table), np.bincount(keys, minlength=2**chunk.width))
        for key in (0, 1, int(keys[0]), 2**chunk.width - 1):
            postings = tables.postings[table[key] : table[key + 1]]
            assert sorted(postings.tolist()) == np.flatnonzero(keys == key).tolist()
        table_start += 2**chunk.width + 1


def test_hashes_at_the_table_edges_and_long_postings_runs_are_found():
    rng = np.random.default_rng(5)
    all_zero, all_one = np.zeros(4, dtype=np.uint64), np.full(4, 2**64 - 1, dtype=np.uint64)
    crowd = np.repeat(random_hashes(rng, 1), 700, axis=0)  # one key with 700 postings
    near_edges = [
        flip_bits(edge, rng.choice(256, 20, replace=False)) for edge in (all_zero, all_one)
    ]
    hashes = np.concatenate(
        [random_hashes(rng, 2000), crowd, np.stack([all_zero, all_one, *near_edges])]
    )
    ids = np.arange(len(hashes)) + 100
    queries = np.stack([all_zero, all_one, flip_bits(crowd[0], np.arange(31))])
    for chunk_count in (None, 11, 16):
        index = PDQIndex(hashes, ids, chunk_count=chunk_count)
        matches = index.search(queries)
        for number, query in enumerate(queries):
            assert sorted(matches.for_query(number)) == brute_force(hashes, ids, query, 31)


def test_scratch_buffers_reused_across_batch_sizes_and_threads_give_the_same_answers():
    rng = np.random.default_rng(9)
    hashes = random_hashes(rng, 3000)
    queries = np.concatenate(
        [hashes[:150], [flip_bits(h, rng.choice(256, 25, replace=False)) for h in hashes[:150]]]
    )
    index = PDQIndex(hashes, np.arange(3000))
    expected = [brute_force(hashes, np.arange(3000), query, 31) for query in queries]

    def answers(batch_size: int) -> list[list[tuple[int, int]]]:
        found = []
        for start in range(0, len(queries), batch_size):
            batch = queries[start : start + batch_size]
            matches = index.search(batch)
            found += [sorted(matches.for_query(number)) for number in range(len(batch))]
        return found

    assert answers(300) == expected
    assert answers(1) == expected
    assert answers(300) == expected
    with ThreadPoolExecutor(max_workers=3) as pool:
        assert list(pool.map(answers, [7, 64, 300])) == [expected] * 3


def test_ids_in_any_order_are_found_removed_and_revived_by_id():
    rng = np.random.default_rng(13)
    hashes = random_hashes(rng, 500)
    ids = rng.permutation(500) * 3 + 1
    index = PDQIndex(hashes, ids)
    assert index.search(hashes[10][None, :]).for_query(0) == [(int(ids[10]), 0)]
    index.remove([ids[10]])
    assert index.search(hashes[10][None, :]).for_query(0) == []
    index.add(hashes[10][None, :], [ids[10]])
    assert index.search(hashes[10][None, :]).for_query(0) == [(int(ids[10]), 0)]
    assert index.delta_size == 0 and len(index) == 500


@pytest.mark.parametrize("size", [1, 1000, 100_000, 1_000_000, 10_000_000])
def test_the_chosen_plan_keeps_tables_near_the_size_of_the_index(size):
    """At most 24-bit chunks, and no more than eight table slots a hash past 2 ** 16."""
    count = choose_chunk_count(threshold=31, size=size)
    chunks = plan_chunks(threshold=31, chunk_count=count, size=size)
    widest = max(chunk.width for chunk in chunks)
    assert widest <= widest_chunk(size) <= 24
    assert 2**widest <= max(2**16, 8 * size)
    assert sum(chunk.radius + 1 for chunk in chunks) == 32
    if size == 1_000_000:
        assert count == 12  # 21-22 bits: ~2,000 probes and ~700 candidates a query
    if size == 10_000_000:
        assert count == 11  # 23-24 bits: ~2,900 probes and ~2,900 candidates a query
