"""Locality-sensitive hashing over MinHash signatures: candidates without comparing all.

``LSHIndex`` cuts each signature (``text.MinHasher``) into bands; two texts whose
signatures agree on every row of one band are candidates, confirmed by their estimated
similarity (``text.text_matches``). ``lsh_bands`` picks the bands and rows that keep a
pair at the threshold with high probability and let few pairs far below it through.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from watchfloor.signals.text import (
    DEFAULT_NUM_PERM,
    DEFAULT_THRESHOLD,
    seeded_words,
)

__all__ = ["LSHIndex", "TextMatch", "lsh_bands"]


def lsh_bands(threshold: float, num_perm: int, recall: float = 0.95) -> tuple[int, int]:
    """Bands × rows for ``num_perm`` values: the split that keeps pairs at the threshold.

    Two signatures become candidates when all rows of at least one band agree, with
    probability ``1 − (1 − s^r)^b`` for Jaccard similarity s. Candidates are
    confirmed with ``text_matches``, so a false candidate costs one comparison while
    a missed one is a missed match: of the splits under which a pair exactly at the
    threshold is a candidate with probability ≥ ``recall``, this picks the one
    with the fewest false candidates below it (the smallest area under the curve
    from 0 to the threshold). At 0.8 and 128 values: 18 bands of 7 rows, candidate
    probability 0.986 at 0.8, 0.13 at 0.5, 0.004 at 0.3.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold is {threshold}: use a value between 0 and 1 (0.8 is usual)")
    grid = np.linspace(0.0, threshold, 401)
    best: tuple[float, int, int] | None = None
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands < recall:
            continue
        false_candidates = float(np.trapezoid(1.0 - (1.0 - grid**rows) ** bands, grid))
        if best is None or false_candidates < best[0]:
            best = (false_candidates, bands, rows)
    if best is None:
        raise ValueError(
            f"{num_perm} hash functions cannot reach recall {recall} at threshold {threshold}: "
            "use more hash functions or a lower recall"
        )
    return best[1], best[2]


@lru_cache(maxsize=16)
def _cached_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    return lsh_bands(threshold, num_perm)


@dataclass(frozen=True, slots=True)
class TextMatch:
    key: Hashable
    similarity: float


class _Bucket(set):
    """Two or more keys under one band value (one key is stored bare: most are alone)."""

    __slots__ = ()


_ABSENT = object()


class LSHIndex:
    """Banded LSH over MinHash signatures: ``query`` returns candidate keys,
    ``matches`` the candidates whose estimated similarity reaches the threshold.

    Each band of a signature is reduced to one 64-bit integer (a random linear
    combination of its rows, computed for all bands in one numpy call), so a
    lookup is one dict access per band. Keys are any hashable values, such as
    cluster or signal ids. The signatures are kept as the rows of one matrix, so
    ``matches_many`` confirms every candidate of many queries in one comparison.
    """

    _BAND_SEED = 0x4C53_4842_414E_4453
    # Candidate pairs compared per numpy call: bounds the temporary arrays (about
    # 20,000 × 128 × 4 bytes, twice) however many candidates a batch has.
    _PAIRS_PER_CALL = 20_000

    def __init__(
        self, threshold: float = DEFAULT_THRESHOLD, num_perm: int = DEFAULT_NUM_PERM
    ) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        self.bands, self.rows = _cached_bands(threshold, num_perm)
        weights = seeded_words(self._BAND_SEED, self.bands * self.rows) | np.uint64(1)
        self._weights = weights.reshape(self.bands, self.rows)
        self._tables: list[dict[int, Any]] = [{} for _ in range(self.bands)]
        self._row_of: dict[Hashable, int] = {}  # key -> its row of _matrix
        self._matrix: np.ndarray | None = None  # grows by doubling; dtype of the first
        self._used = 0  # rows of _matrix written (a removed key's row stays, unused)

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, key: object) -> bool:
        return key in self._row_of

    def _band_values(self, signatures: np.ndarray) -> np.ndarray:
        if signatures.shape[-1] != self.num_perm:
            raise ValueError(
                f"the signature has {signatures.shape[-1]} values; this index takes {self.num_perm}"
            )
        used = signatures[..., : self.bands * self.rows].astype(np.uint64)
        shaped = used.reshape(*signatures.shape[:-1], self.bands, self.rows)
        return (shaped * self._weights).sum(axis=-1, dtype=np.uint64)

    def _store(self, signature: np.ndarray) -> int:
        if self._matrix is None:
            self._matrix = np.empty((64, self.num_perm), dtype=signature.dtype)
        elif self._used == len(self._matrix):
            self._matrix = np.concatenate([self._matrix, np.empty_like(self._matrix)])
        self._matrix[self._used] = signature
        self._used += 1
        return self._used - 1

    def insert(self, key: Hashable, signature: np.ndarray) -> None:
        """Add (or replace) the signature stored under ``key``."""
        self._insert(key, signature, self._band_values(signature).tolist())

    def insert_many(self, items: Iterable[tuple[Hashable, np.ndarray]]) -> None:
        """``insert`` for many, their bands computed in one numpy call."""
        pairs = list(items)
        if not pairs:
            return
        signatures = [signature for _, signature in pairs]
        bands = self._band_values(np.stack(signatures)).tolist()
        for (key, signature), band_values in zip(pairs, bands, strict=True):
            self._insert(key, signature, band_values)

    def _insert(self, key: Hashable, signature: np.ndarray, band_values: list[int]) -> None:
        if key in self._row_of:
            self.remove(key)
        for table, value in zip(self._tables, band_values, strict=True):
            current = table.get(value, _ABSENT)
            if current is _ABSENT:
                table[value] = key
            elif type(current) is _Bucket:
                current.add(key)
            else:
                table[value] = _Bucket((current, key))
        self._row_of[key] = self._store(signature)

    def remove(self, key: Hashable) -> None:
        """Forget ``key``; nothing happens if it is not there."""
        row = self._row_of.pop(key, None)
        if row is None:
            return
        assert self._matrix is not None
        for table, value in zip(
            self._tables, self._band_values(self._matrix[row]).tolist(), strict=True
        ):
            current = table.get(value, _ABSENT)
            if type(current) is _Bucket:
                current.discard(key)
                if len(current) == 1:
                    table[value] = next(iter(current))
            elif current is not _ABSENT and current == key:
                del table[value]

    def query(self, signature: np.ndarray) -> set[Hashable]:
        """Keys sharing at least one band with the signature (unconfirmed candidates)."""
        return self._candidates(self._band_values(signature).tolist())

    def query_many(self, signatures: Sequence[np.ndarray]) -> list[set[Hashable]]:
        """``query`` for many signatures, their bands computed in one numpy call."""
        if not signatures:
            return []
        return self._candidate_sets(np.stack(signatures))

    def _candidate_sets(self, stacked: np.ndarray) -> list[set[Hashable]]:
        return [self._candidates(row) for row in self._band_values(stacked).tolist()]

    def _candidates(self, band_values: list[int]) -> set[Hashable]:
        candidates: set[Hashable] = set()
        for table, value in zip(self._tables, band_values, strict=True):
            current = table.get(value, _ABSENT)
            if current is _ABSENT:
                continue
            if type(current) is _Bucket:
                candidates |= current
            else:
                candidates.add(current)
        return candidates

    def matches(self, signature: np.ndarray) -> list[TextMatch]:
        """Confirmed matches (estimated Jaccard ≥ threshold), most similar first."""
        return self.matches_many([signature])[0]

    def matches_many(self, signatures: Sequence[np.ndarray]) -> list[list[TextMatch]]:
        """``matches`` for many signatures: their bands in one numpy call, and every
        (signature, candidate) pair compared in a few."""
        found: list[list[TextMatch]] = [[] for _ in signatures]
        if not signatures or not self._row_of:
            return found
        queries = np.stack(signatures)
        # Texts of one template share bands, so the candidates grow with the stored texts
        # (about 130 a query after a million signals): they are listed in one pass and
        # their queries' positions made by numpy, not two appends per candidate.
        candidate_sets = self._candidate_sets(queries)
        keys: list[Hashable] = [key for candidates in candidate_sets for key in candidates]
        positions = np.repeat(
            np.arange(len(candidate_sets)), [len(candidates) for candidates in candidate_sets]
        )
        assert self._matrix is not None
        row_of = self._row_of
        for start in range(0, len(keys), self._PAIRS_PER_CALL):
            part = slice(start, start + self._PAIRS_PER_CALL)
            rows = list(map(row_of.__getitem__, keys[part]))
            equal = np.count_nonzero(queries[positions[part]] == self._matrix[rows], axis=1)
            # Most candidates share a band by chance and fall short: only the confirmed
            # ones come back to Python.
            similarities = equal / self.num_perm
            for index in np.flatnonzero(similarities >= self.threshold).tolist():
                found[int(positions[start + index])].append(
                    TextMatch(keys[start + index], float(similarities[index]))
                )
        for matches in found:
            matches.sort(key=lambda match: -match.similarity)
        return found
