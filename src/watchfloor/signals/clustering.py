"""Which cluster a new signal joins, and what it adds to the lookup tables.

A signal joins the cluster of an earlier signal it matches. The keys are tried in
the order of ``KeyKind``:

1. the same subject (``ClusterKey`` kind ``subject``, value ``kind:ref``);
2. the same normalised URL (kind ``url``);
3. near-identical media: a PDQ hash within ``max_distance`` bits of one of the
   cluster's hashes (``ClusterMedia``, searched with ``media.PDQIndex``);
4. the same media file: an equal MD5 or SHA-256 (kinds ``md5`` and ``sha256``);
5. near-identical text: estimated Jaccard similarity of at least ``text_threshold``
   with the cluster's text signature (``ClusterText``, searched with ``lsh.LSHIndex``).

When keys point at different clusters, the first key in that order wins and the
clusters are kept apart: merging cascades (one shared hashtag or URL shortener would
fuse unrelated campaigns) and merged counts cannot be taken apart again. A
``ClusterRelation`` records each such link for analysts. The signal's other keys are
given to the winning cluster only where no cluster owns them yet.

Signals of one batch cluster with each other as well as with stored clusters: each is
assigned in turn, and what it adds is visible to the signals after it.

The in-memory indexes hold only committed rows. They are built from ``ClusterMedia``
and ``ClusterText`` at first use and brought up to date (rows with a higher id than
the last one seen) at the start of each batch, under the intake's writer lock, so
several processes see each other's clusters. What a batch adds lives in small
batch-local indexes until the next sync reads it back from the database; a batch
that rolls back therefore leaves nothing behind in memory.

This module runs past ~500 lines on purpose: the keys, the indexes they are looked up
in and the assignment that walks them in order are one rule (the one above) and read
best together; the near-match searches themselves live in ``media``, ``text`` and
``lsh``.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from django.conf import settings
from django.db import models

from watchfloor.signals import lsh, media, text
from watchfloor.signals.models import ClusterMedia, ClusterText, KeyKind

__all__ = [
    "MEDIA_STORE_DISTANCE",
    "MIN_TEXT_WEIGHT",
    "Assignment",
    "BatchNeighbours",
    "ClusterIndexes",
    "ClusteringConfig",
    "SignalKeys",
    "assign_clusters",
    "clustering_config",
    "exact_key_value",
    "indexes_in_use",
    "text_weight",
]

# A PDQ hash this close to one the cluster already has adds nothing to its matching:
# it is not stored again.
MEDIA_STORE_DISTANCE = 8
# Texts lighter than this (letters and digits after normalisation, a Han, kana or
# Hangul character counting as two) are too short to judge: "scam!!" or "詐欺です" would
# join every other report that says the same, whatever it is about.
MIN_TEXT_WEIGHT = 20
# Texts at least this heavy but lighter than MIN_TEXT_WEIGHT are matched exactly, on their
# normalised form ("pray for boston"); lighter ones ("scam!!", "詐欺です") not at all.
MIN_SHORT_TEXT_WEIGHT = 10
# A cluster keeps up to this many texts to compare new signals with (its representatives):
# the founder's, then those of members that differ from every one it has by enough
# (estimated similarity below REPRESENTATIVE_BELOW). A variant of a variant then still
# joins, while the cluster cannot drift far from its founder.
MAX_REPRESENTATIVES = 4
REPRESENTATIVE_BELOW = 0.9
# Links inside a text that become URL keys, at most (the first ones).
MAX_TEXT_LINKS = 3
# Longer key values are stored as a digest: the unique index on (kind, value) has a
# size limit per row on PostgreSQL (about 2,700 bytes).
MAX_KEY_BYTES = 1000

# ClusterKey kinds of the exact keys, in the order they are tried.
SUBJECT = "subject"
URL = "url"
MD5 = "md5"
SHA256 = "sha256"
SHORT_TEXT = "short_text"

_FIGURE = re.compile(r"\S*\d\S*")


def figures_of(normalised: str) -> str:
    """The figures of a normalised text, each once, sorted: "6 killed" → "6",
    "warning no 17a" → "17a". Two texts that differ in them ("6 killed" and "33 killed")
    are not the same report, however similar the rest."""
    return " ".join(sorted(set(_FIGURE.findall(normalised))))[:200]


@dataclass(frozen=True, slots=True)
class ClusteringConfig:
    max_distance: int = media.DEFAULT_MAX_DISTANCE
    text_threshold: float = text.DEFAULT_THRESHOLD


def clustering_config() -> ClusteringConfig:
    """The thresholds in force (``WATCHFLOOR_PDQ_MAX_DISTANCE``, ``WATCHFLOOR_TEXT_JACCARD``)."""
    return ClusteringConfig(
        max_distance=int(
            getattr(settings, "WATCHFLOOR_PDQ_MAX_DISTANCE", media.DEFAULT_MAX_DISTANCE)
        ),
        text_threshold=float(getattr(settings, "WATCHFLOOR_TEXT_JACCARD", text.DEFAULT_THRESHOLD)),
    )


@dataclass(slots=True)
class SignalKeys:
    """Everything a signal can be matched on, already normalised."""

    subject: str
    url: str | None = None
    pdq: bytes | None = None
    md5: str | None = None
    sha256: str | None = None
    text_signature: np.ndarray | None = None
    figures: str = ""
    """The figures of the text (``figures_of``): texts match only with equal figures."""
    short_text: str | None = None
    """The normalised text when too short for a signature but heavy enough to match."""
    text_urls: tuple[str, ...] = ()
    """Normalised links found inside the text (URL keys after the ``url`` field's)."""

    def exact(self) -> list[tuple[str, str]]:
        """The exact keys ``(ClusterKey kind, value)``, in the order they are tried."""
        keys = [(SUBJECT, self.subject)]
        if self.url:
            keys.append((URL, self.url))
        keys.extend((URL, link) for link in self.text_urls if link != self.url)
        if self.md5:
            keys.append((MD5, self.md5))
        if self.sha256:
            keys.append((SHA256, self.sha256))
        if self.short_text:
            keys.append((SHORT_TEXT, self.short_text))
        return keys


def exact_key_value(value: str) -> str:
    """The stored form of a key value: itself, or a digest when it is very long."""
    if len(value) * 4 > MAX_KEY_BYTES and len(value.encode("utf-8")) > MAX_KEY_BYTES:
        return "#sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
    return value


def subject_key(kind: str, ref: str) -> str:
    return exact_key_value(f"{kind}:{ref}")


_DENSE = re.compile("[\u2e80-\u9fff\uac00-\ud7af]")


def text_weight(normalised: str) -> int:
    """How much text there is to judge: letters and digits, Han, kana and Hangul counting
    double (as in ``language``)."""
    letters = len(normalised) - normalised.count(" ")
    if letters == 0 or normalised.isascii():
        return letters
    return letters + len(_DENSE.findall(normalised))


# ---------------------------------------------------------------------------
# The process's indexes


class ClusterIndexes:
    """The PDQ and LSH indexes of one process, over committed rows only.

    ``sync`` reads the rows added since the last call. If the last row it saw has
    gone (the database was restored, flushed or rolled back underneath it), it
    starts again from nothing.
    """

    def __init__(self, config: ClusteringConfig) -> None:
        self.config = config
        self._empty()

    def _empty(self) -> None:
        self.pdq = media.PDQIndex(self.config.max_distance)
        # Keyed by (cluster id, figures, row id): a cluster has up to MAX_REPRESENTATIVES.
        self.text = lsh.LSHIndex(self.config.text_threshold)
        self.representatives: Counter[int] = Counter()
        # (id, cluster id) of the last row loaded from each table.
        self._media_mark: tuple[int, int] | None = None
        self._text_mark: tuple[int, int] | None = None

    def sync(self) -> None:
        """Load the rows committed since the last sync. Only the intake writes these
        tables, one batch at a time under its writer lock, so ids are committed in
        increasing order and "above the last id seen" misses nothing."""
        media_rows = _rows_since(ClusterMedia, self._media_mark, "pdq")
        text_rows = _rows_since(ClusterText, self._text_mark, "signature", "figures")
        if media_rows is None or text_rows is None:
            self._empty()
            media_rows = _rows_since(ClusterMedia, None, "pdq") or []
            text_rows = _rows_since(ClusterText, None, "signature", "figures") or []
        if media_rows:
            self.pdq.add_many((cluster_id, bytes(pdq)) for _, cluster_id, pdq in media_rows)
            self._media_mark = media_rows[-1][:2]
        self.text.insert_many(
            ((cluster_id, figures, row_id), text.signature_from_bytes(bytes(signature)))
            for row_id, cluster_id, signature, figures in text_rows
        )
        self.representatives.update(cluster_id for _, cluster_id, _, _ in text_rows)
        if text_rows:
            self._text_mark = text_rows[-1][:2]


def _rows_since(
    model: type[models.Model], mark: tuple[int, int] | None, *columns: str
) -> list[tuple[Any, ...]] | None:
    """Rows after ``mark`` (the last row already loaded), or None if that row is gone."""
    start = mark[0] if mark else 0
    rows = list(
        model._default_manager.filter(id__gte=start)
        .order_by("id")
        .values_list("id", "cluster_id", *columns)
    )
    if mark is None:
        return rows
    if not rows or (rows[0][0], rows[0][1]) != mark:
        return None
    return rows[1:]


_indexes_lock = threading.Lock()
_indexes: ClusterIndexes | None = None


@contextmanager
def indexes_in_use(config: ClusteringConfig) -> Iterator[ClusterIndexes]:
    """The process's indexes, synced with the database, for one batch.

    Call it under the intake's writer lock, inside the batch's transaction; the
    thread lock keeps two threads of one process (an API server) from syncing or
    reading the indexes at once.
    """
    global _indexes
    with _indexes_lock:
        if _indexes is None or _indexes.config != config:
            _indexes = ClusterIndexes(config)
        _indexes.sync()
        yield _indexes


def forget_indexes() -> None:
    """Drop the process's indexes; the next batch rebuilds them from the database."""
    global _indexes
    with _indexes_lock:
        _indexes = None


# ---------------------------------------------------------------------------
# Assigning a batch


class BatchNeighbours:
    """Which of a batch's own hashes and texts are near each other, worked out once
    before the batch is assigned (by the intake's PREPARE steps, off the writer lock).

    A signal's media or text can match a cluster the batch itself started. Asking a
    growing batch-local index once per signal cost more than all the rest of the
    assignment; instead, every distinct PDQ hash of the batch is compared with every
    other (a vectorised popcount, in blocks) and every distinct text signature is
    looked up among the others through the same banded LSH as the stored index
    (candidates confirmed on the estimated similarity). While the batch is assigned,
    ``_GivenInBatch`` reads only the hashes and texts already given to a cluster: the
    answer a batch-local index holding just those would give. The pairs themselves never
    change, so an assignment run again (after an index rebuild) starts afresh.
    """

    _ROWS_PER_BLOCK = 64  # hashes compared with all the others per numpy call

    def __init__(self, keys: Sequence[SignalKeys], config: ClusteringConfig) -> None:
        self.config = config
        self.near_media = self._media_pairs(_distinct_hashes(keys), config.max_distance)
        self.near_text = self._text_pairs(_distinct_signatures(keys), config.text_threshold)

    @classmethod
    def _media_pairs(
        cls, hashes: list[bytes], max_distance: int
    ) -> dict[bytes, list[tuple[bytes, int]]]:
        near: dict[bytes, list[tuple[bytes, int]]] = {}
        if not hashes:
            return near
        words = np.frombuffer(b"".join(hashes), dtype=">u8").astype(np.uint64).reshape(-1, 4)
        for start in range(0, len(hashes), cls._ROWS_PER_BLOCK):
            block = words[start : start + cls._ROWS_PER_BLOCK]
            distances = np.bitwise_count(block[:, None, :] ^ words[None, :, :]).sum(axis=2)
            rows, columns = np.nonzero(distances <= max_distance)
            for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
                near.setdefault(hashes[start + row], []).append(
                    (hashes[column], int(distances[row, column]))
                )
        return near

    @staticmethod
    def _text_pairs(
        signatures: dict[bytes, np.ndarray], threshold: float
    ) -> dict[bytes, list[tuple[bytes, float]]]:
        if not signatures:
            return {}
        index = lsh.LSHIndex(threshold)
        index.insert_many(signatures.items())
        return {
            key: [(cast(bytes, match.key), match.similarity) for match in matches]
            for key, matches in zip(
                signatures, index.matches_many(list(signatures.values())), strict=True
            )
        }


class _GivenInBatch:
    """During one assignment: which of the batch's hashes and texts have been given to
    which cluster, and through ``BatchNeighbours`` the clusters a hash or text matches."""

    def __init__(self, neighbours: BatchNeighbours) -> None:
        self._neighbours = neighbours
        self._media_owners: dict[bytes, list[int]] = {}  # a hash can be kept for several
        self._text_owner: dict[bytes, tuple[int, str]] = {}  # -> (cluster, figures)

    def media_matches(self, pdq: bytes) -> list[tuple[int, int]]:
        """``(cluster, distance)`` for the batch's hashes within the distance already
        given to a cluster (each cluster possibly more than once)."""
        if not self._media_owners:
            return []
        return [
            (cluster_id, distance)
            for other, distance in self._neighbours.near_media.get(pdq, ())
            for cluster_id in self._media_owners.get(other, ())
        ]

    def text_matches(self, signature: bytes) -> list[tuple[int, float, str | None]]:
        """``(cluster, similarity, figures)`` for the batch's texts similar enough already
        given to a cluster."""
        if not self._text_owner:
            return []
        found: list[tuple[int, float, str | None]] = []
        for other, similarity in self._neighbours.near_text.get(signature, ()):
            owner = self._text_owner.get(other)
            if owner is not None:
                found.append((owner[0], similarity, owner[1]))
        return found

    def give_media(self, pdq: bytes, cluster_id: int) -> None:
        self._media_owners.setdefault(pdq, []).append(cluster_id)

    def give_text(self, signature: bytes, cluster_id: int, figures: str) -> None:
        self._text_owner.setdefault(signature, (cluster_id, figures))


@dataclass
class Assignment:
    """Where each signal of a batch goes and what the batch adds to the lookup tables.

    Cluster ids are those of stored clusters, or negative numbers (-1, -2, ...) for
    the clusters this batch starts, in the order they are started.
    """

    cluster_ids: list[int]
    matched_by: list[str]
    founders: dict[int, int] = field(default_factory=dict)  # new cluster -> its first signal
    new_keys: list[tuple[str, str, int]] = field(default_factory=list)
    new_media: list[tuple[int, bytes]] = field(default_factory=list)
    new_texts: list[tuple[int, np.ndarray, str]] = field(default_factory=list)
    relations: Counter[tuple[int, int, str]] = field(default_factory=Counter)

    def existing_cluster_ids(self) -> set[int]:
        return {cluster_id for cluster_id in self.cluster_ids if cluster_id > 0}


def _preference(cluster_id: int) -> tuple[bool, int]:
    """Ties go to the older cluster: stored ones before new ones, lower ids first."""
    return (cluster_id < 0, abs(cluster_id))


def assign_clusters(
    keys: Sequence[SignalKeys],
    *,
    owners: Mapping[tuple[str, str], int],
    indexes: ClusterIndexes,
    neighbours: BatchNeighbours | None = None,
) -> Assignment:
    """Assign each signal, in order, to a cluster.

    ``owners`` maps the stored exact keys of this batch's signals, ``(kind, value)``,
    to the cluster that owns them; ``indexes`` are the process's synced indexes;
    ``neighbours``, if already worked out, those of these keys (or of more). Nothing is
    written here.
    """
    config = indexes.config
    assignment = Assignment(cluster_ids=[0] * len(keys), matched_by=[""] * len(keys))
    stored_pdq = _stored_pdq_matches(keys, indexes.pdq)
    stored_text = _stored_text_matches(keys, indexes.text)
    batch_owners: dict[tuple[str, str], int] = {}
    if neighbours is None or neighbours.config != config:
        neighbours = BatchNeighbours(keys, config)
    given = _GivenInBatch(neighbours)
    representatives = Counter(indexes.representatives)  # grows with the batch's own

    for position, signal_keys in enumerate(keys):
        exact = [
            (kind, value, batch_owners.get((kind, value)) or owners.get((kind, value)))
            for kind, value in signal_keys.exact()
        ]
        # (key kind, clusters it points at, best first), in the order keys are tried.
        found: list[tuple[str, list[int]]] = []
        for kind, _, owner in exact:
            if owner is not None and kind in (SUBJECT, URL):
                found.append((kind, [owner]))
        pdq_matches: dict[int, int] = {}
        if signal_keys.pdq is not None:
            pdq_matches = dict(stored_pdq.get(signal_keys.pdq, ()))
            for cluster_id, distance in given.media_matches(signal_keys.pdq):
                if distance < pdq_matches.get(cluster_id, media.PDQ_BITS + 1):
                    pdq_matches[cluster_id] = distance
            if pdq_matches:
                ranked = sorted(pdq_matches, key=lambda c: (pdq_matches[c], *_preference(c)))
                found.append((KeyKind.MEDIA, ranked))
        hash_owners = [
            owner for kind, _, owner in exact if owner is not None and kind in (MD5, SHA256)
        ]
        if hash_owners:
            found.append((KeyKind.MEDIA_HASH, list(dict.fromkeys(hash_owners))))
        text_matches: dict[int, float] = {}  # figures equal: the text may join these
        other_figures: dict[int, float] = {}  # similar but for their figures: related only
        signature = signal_keys.text_signature
        if signature is not None:
            signature_bytes = signature.tobytes()
            for cluster_id, similarity, figures in (
                *stored_text.get(signature_bytes, ()),
                *given.text_matches(signature_bytes),
            ):
                same = figures is None or figures == signal_keys.figures
                into = text_matches if same else other_figures
                into[cluster_id] = max(similarity, into.get(cluster_id, 0))
            if text_matches:
                ranked = sorted(text_matches, key=lambda c: (-text_matches[c], *_preference(c)))
                found.append((KeyKind.TEXT, ranked))
        short_owner = next((o for k, _, o in exact if k == SHORT_TEXT and o is not None), None)
        if short_owner is not None:
            found.append((KeyKind.TEXT, [short_owner]))

        if found:
            winning_kind, candidates = found[0]
            winner = candidates[0]
        else:
            winning_kind = KeyKind.NEW
            winner = -(len(assignment.founders) + 1)
            assignment.founders[winner] = position
        assignment.cluster_ids[position] = winner
        assignment.matched_by[position] = str(winning_kind)

        linked: set[tuple[int, str]] = set()
        related = sorted(c for c in other_figures if c not in text_matches)
        for kind, candidates in [*found, (KeyKind.TEXT, related)]:
            for other in candidates:
                if other != winner and (other, kind) not in linked:
                    linked.add((other, kind))
                    assignment.relations[(winner, other, str(kind))] += 1

        # The signal's keys that no cluster owns yet now belong to the winner.
        for kind, value, owner in exact:
            if owner is None:
                batch_owners[(kind, value)] = winner
                assignment.new_keys.append((kind, value, winner))
        # A hash near another cluster's media is that cluster's; one within
        # MEDIA_STORE_DISTANCE of the winner's adds nothing.
        if signal_keys.pdq is not None and (
            not pdq_matches
            or (winner in pdq_matches and pdq_matches[winner] > MEDIA_STORE_DISTANCE)
        ):
            given.give_media(signal_keys.pdq, winner)
            assignment.new_media.append((winner, signal_keys.pdq))
        # The text becomes one of the winner's representatives if it has room for one,
        # differs enough from those it has, and is no other cluster's text (like the
        # other keys, it goes to the winner only where no cluster owns it yet).
        if (
            signature is not None
            and representatives[winner] < MAX_REPRESENTATIVES
            and text_matches.get(winner, 0.0) < REPRESENTATIVE_BELOW
            and all(c == winner for c in text_matches)
        ):
            representatives[winner] += 1
            given.give_text(signature_bytes, winner, signal_keys.figures)
            assignment.new_texts.append((winner, signature, signal_keys.figures))
    return assignment


def _stored_pdq_matches(
    keys: Sequence[SignalKeys], index: media.PDQIndex
) -> dict[bytes, list[tuple[int, int]]]:
    """Per distinct hash of the batch, the stored clusters within the distance (one
    index call; reports of one post mostly carry the same hash)."""
    hashes = _distinct_hashes(keys)
    if not hashes or not len(index):
        return {}
    return {
        # The index holds cluster ids as its keys.
        pdq: cast("list[tuple[int, int]]", found)
        for pdq, found in zip(hashes, index.query_many(hashes), strict=True)
        if found
    }


def _stored_text_match(match: lsh.TextMatch) -> tuple[int, float, str | None]:
    # The stored texts' index is keyed by tuples starting (cluster id, figures).
    key = cast("tuple[Any, ...]", match.key)
    return key[0], match.similarity, key[1]


def _stored_text_matches(
    keys: Sequence[SignalKeys], index: lsh.LSHIndex
) -> dict[bytes, list[tuple[int, float, str | None]]]:
    """Per distinct text signature of the batch, the stored clusters whose text is
    similar enough: LSH candidates, confirmed on the estimated similarity (all of the
    batch's in one ``matches_many``)."""
    distinct = _distinct_signatures(keys)
    if not distinct or not len(index):
        return {}
    return {
        key: [_stored_text_match(match) for match in matches]
        for key, matches in zip(distinct, index.matches_many(list(distinct.values())), strict=True)
        if matches
    }


def _distinct_hashes(keys: Sequence[SignalKeys]) -> list[bytes]:
    """The batch's PDQ hashes, each once, in order."""
    return list(dict.fromkeys(k.pdq for k in keys if k.pdq is not None))


def _distinct_signatures(keys: Sequence[SignalKeys]) -> dict[bytes, np.ndarray]:
    """The batch's text signatures, each once, by their bytes."""
    distinct: dict[bytes, np.ndarray] = {}
    for signal_keys in keys:
        if signal_keys.text_signature is not None:
            distinct.setdefault(signal_keys.text_signature.tobytes(), signal_keys.text_signature)
    return distinct
