"""PDQ matching: exact within the distance, checked against a brute force."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.signals.media import (
    DEFAULT_MAX_DISTANCE,
    PDQ_BYTES,
    PDQIndex,
    hamming_distance,
    is_useful_quality,
    parse_pdq_hex,
    pdq_to_hex,
    pdq_variant,
)

DATA = Path(__file__).parent / "data"


def reference_hashes() -> dict[str, tuple[bytes, int]]:
    with (DATA / "pdq_reference_hashes.csv").open(encoding="utf-8") as handle:
        return {
            row["image"].rsplit("/", 1)[-1]: (parse_pdq_hex(row["pdq_hex"]), int(row["quality"]))
            for row in csv.DictReader(handle)
        }


REFERENCE = reference_hashes()
BRIDGE = REFERENCE["aaa-orig.jpg"][0]
BRIDGE_EDITS = [
    "blur-a-lot.jpg",
    "high-contrast.jpg",
    "sharpen-a-lot.jpg",
    "shrink-a-lot.jpg",
    "square-128x128.jpg",
]
UNRELATED = ["bridge-2-rotate-90.jpg", "LA.png", "I16.png", "rgb.jpeg"]


def brute_force(
    stored: list[tuple[object, bytes]], query: bytes, max_distance: int
) -> dict[object, int]:
    """The slow, obviously right answer: every key, its nearest hash, if close enough."""
    nearest: dict[object, int] = {}
    query_bits = int.from_bytes(query, "big")
    for key, pdq in stored:
        distance = bin(query_bits ^ int.from_bytes(pdq, "big")).count("1")
        if distance <= max_distance:
            nearest[key] = min(distance, nearest.get(key, distance))
    return nearest


def test_hex_is_parsed_in_either_case():
    lower = "d8f8f0cce0f4a84f0e370a22028f67f0b36e2ed596623e1d33e6b39c4e9c9b22"
    assert parse_pdq_hex(lower) == parse_pdq_hex(lower.upper()) == BRIDGE
    assert pdq_to_hex(BRIDGE) == lower


@pytest.mark.parametrize("value", ["", "d8f8", "g" * 64, "d8" * 33, None, 12])
def test_anything_but_64_hex_digits_is_refused(value):
    with pytest.raises(ValueError, match="64 hex digits"):
        parse_pdq_hex(value)


def test_hashes_must_be_32_bytes():
    with pytest.raises(ValueError, match="32 bytes"):
        hamming_distance(BRIDGE, BRIDGE[:31])
    with pytest.raises(ValueError, match="32 bytes"):
        PDQIndex().add("k", "d8f8")  # type: ignore[arg-type]


def test_a_batch_with_one_bad_hash_adds_nothing():
    index = PDQIndex()
    index.add("kept", BRIDGE)
    with pytest.raises(ValueError, match="32 bytes"):
        index.add_many([("new", pdq_variant(BRIDGE, 3, seed=1)), ("bad", BRIDGE[:31])])

    assert len(index) == 1
    assert index.query(BRIDGE) == [("kept", 0)]
    index.add("later", pdq_variant(BRIDGE, 2, seed=2))
    assert index.query(BRIDGE) == [("kept", 0), ("later", 2)]
    assert index._keys == ["kept", "later"]


def test_edits_of_one_photo_are_within_the_distance_and_other_images_are_not():
    for name in BRIDGE_EDITS:
        assert hamming_distance(BRIDGE, REFERENCE[name][0]) <= DEFAULT_MAX_DISTANCE, name
    for name in UNRELATED:
        assert hamming_distance(BRIDGE, REFERENCE[name][0]) > 100, name


def test_the_index_matches_the_reference_edits_and_only_them():
    index = PDQIndex()
    index.add_many((name, pdq) for name, (pdq, _) in REFERENCE.items())

    found = dict(index.query(BRIDGE))

    assert set(found) == {"aaa-orig.jpg", *BRIDGE_EDITS}
    assert found["aaa-orig.jpg"] == 0
    assert found["sharpen-a-lot.jpg"] == hamming_distance(BRIDGE, REFERENCE["sharpen-a-lot.jpg"][0])
    assert index.query(BRIDGE)[0] == ("aaa-orig.jpg", 0)


def test_low_quality_hashes_are_flagged():
    assert REFERENCE["I16.png"][1] == 36 and not is_useful_quality(36)
    assert is_useful_quality(50) and is_useful_quality(None)


@given(st.binary(min_size=PDQ_BYTES, max_size=PDQ_BYTES), st.integers(0, 256), st.integers())
def test_a_variant_is_exactly_the_asked_distance_away(pdq, distance, seed):
    assert hamming_distance(pdq, pdq_variant(pdq, distance, seed=seed)) == distance


PLANTED_DISTANCES = [0, 1, 30, 31, 32]


@settings(max_examples=60, deadline=None)
@given(
    noise=st.lists(st.binary(min_size=PDQ_BYTES, max_size=PDQ_BYTES), max_size=200),
    query=st.binary(min_size=PDQ_BYTES, max_size=PDQ_BYTES),
    seed=st.integers(0, 2**32),
    max_distance=st.sampled_from([0, 1, 30, 31, 32, 64]),
)
def test_the_index_is_exact_against_brute_force(noise, query, seed, max_distance):
    stored: list[tuple[object, bytes]] = [(f"noise-{i}", pdq) for i, pdq in enumerate(noise)]
    stored += [(f"planted-{d}", pdq_variant(query, d, seed=seed + d)) for d in PLANTED_DISTANCES]
    stored.append(("planted-31", pdq_variant(query, 200, seed=seed)))  # a far second hash
    index = PDQIndex(max_distance=max_distance)
    index.add_many(stored)

    found = index.query(query)

    assert dict(found) == brute_force(stored, query, max_distance)
    assert [distance for _, distance in found] == sorted(distance for _, distance in found)
    for d in PLANTED_DISTANCES:
        assert (f"planted-{d}" in dict(found)) == (d <= max_distance)


def test_the_boundary_is_inclusive_at_31_and_exclusive_at_32():
    index = PDQIndex()
    for distance in (30, 31, 32):
        index.add(distance, pdq_variant(BRIDGE, distance, seed=distance))

    assert index.query(BRIDGE) == [(30, 30), (31, 31)]
    assert index.query(BRIDGE, max_distance=32) == [(30, 30), (31, 31), (32, 32)]


def test_a_key_with_several_hashes_is_reported_once_at_its_nearest():
    index = PDQIndex()
    index.add("cluster-1", pdq_variant(BRIDGE, 20, seed=1))
    index.add("cluster-1", pdq_variant(BRIDGE, 5, seed=2))
    index.add("cluster-2", pdq_variant(BRIDGE, 12, seed=3))

    assert index.query(BRIDGE) == [("cluster-1", 5), ("cluster-2", 12)]
    assert len(index) == 3


def test_query_many_equals_one_query_at_a_time():
    index = PDQIndex()
    index.add_many((i, pdq_variant(BRIDGE, i * 3, seed=i)) for i in range(40))
    queries = [BRIDGE, pdq_variant(BRIDGE, 40, seed=99), REFERENCE["LA.png"][0]]

    assert index.query_many(queries) == [index.query(query) for query in queries]
    assert index.query_many([]) == []


@settings(max_examples=60, deadline=None)
@given(
    centre=st.binary(min_size=PDQ_BYTES, max_size=PDQ_BYTES),
    stored=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 40), st.integers(0, 2**16)), max_size=120
    ),
    queries=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 2**16)), max_size=6),
)
def test_many_hashes_under_few_keys_are_reported_once_each_at_their_nearest(
    centre, stored, queries
):
    """A popular picture's re-uploads: many hashes near each other under a few clusters.
    Every query names each key once, at its smallest distance, nearest first; equal
    distances in the order the keys' nearest hashes were stored."""
    hashes = [(f"cluster-{key}", pdq_variant(centre, d, seed=s)) for key, d, s in stored]
    asked = [pdq_variant(centre, d, seed=s) for d, s in queries]
    index = PDQIndex()
    index.add_many(hashes)

    found = index.query_many(asked)

    for query, answer in zip(asked, found, strict=True):
        assert dict(answer) == brute_force(hashes, query, DEFAULT_MAX_DISTANCE)
        first_row = {}
        for row, (key, pdq) in enumerate(hashes):
            distance = hamming_distance(pdq, query)
            if distance == dict(answer).get(key) and key not in first_row:
                first_row[key] = row
        assert answer == sorted(answer, key=lambda pair: (pair[1], first_row[pair[0]]))
    assert len(index) == len(hashes)


def test_nearest_ignores_the_distance_limit():
    index = PDQIndex(max_distance=10)
    assert index.nearest(BRIDGE) is None
    assert index.query(BRIDGE) == []

    index.add("far", pdq_variant(BRIDGE, 90, seed=5))
    index.add("farther", pdq_variant(BRIDGE, 120, seed=6))

    assert index.query(BRIDGE) == []
    assert index.nearest(BRIDGE) == ("far", 90)


@pytest.mark.parametrize("max_distance", [-1, 257])
def test_an_impossible_distance_is_refused(max_distance):
    with pytest.raises(ValueError, match="max_distance"):
        PDQIndex(max_distance=max_distance)
