"""The STORE steps of the intake: one transaction, under the writer lock.

find_duplicates → cluster → store_signals → count → record_ingest → queue_reactions:
which signals are new, the clusters they join or start, their rows with the keys,
media and texts they add, the counts, the batch's audit event, and the reactions due
once it commits. ``signals.intake.store_batch`` runs them.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, cast

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.signals import backlog, clustering, counting, storage, text
from watchfloor.signals.intake.batch import IntakeBatch, ValidItem
from watchfloor.signals.models import (
    Cluster,
    ClusterKey,
    ClusterMedia,
    ClusterText,
    KeyKind,
    Signal,
)
from watchfloor.signals.tasks import react_after_commit


def find_duplicates(batch: IntakeBatch) -> None:
    """A signal already stored for this producer, or sent earlier in the same batch, is a
    duplicate of that one."""
    items = batch.valid()
    stored = {
        external_id: (signal_id, cluster_id)
        for external_id, signal_id, cluster_id in storage.select_in(
            Signal,
            ["external_id", "id", "cluster"],
            where=[("producer", batch.producer)],
            field="external_id",
            values=sorted({item.signal.id for item in items}),
        )
    }
    first_in_batch: dict[str, ValidItem] = {}
    for item in items:
        known = stored.get(item.signal.id)
        if known is not None:
            item.duplicate_of = known
        elif item.signal.id in first_in_batch:
            item.repeat_of = first_in_batch[item.signal.id]
        else:
            first_in_batch[item.signal.id] = item
            batch.new.append(item)


def cluster(batch: IntakeBatch) -> None:
    """Assign each new signal to a cluster (``clustering.assign_clusters``), create the
    clusters the batch starts and load the ones it joins."""
    keys = [item.keys for item in batch.new]
    exact = sorted({key for signal_keys in keys for key in signal_keys.exact()})
    owners = _key_owners(exact)
    for _attempt in range(2):
        with clustering.indexes_in_use(clustering.clustering_config()) as indexes:
            assignment = clustering.assign_clusters(
                keys, owners=owners, indexes=indexes, neighbours=batch.neighbours
            )
        joined = sorted(assignment.existing_cluster_ids())
        existing = counting.load_counts(joined)
        if len(existing) == len(joined):
            break
        # A cluster the indexes know of is gone (the database was restored underneath
        # this process): rebuild them from the database and assign again.
        clustering.forget_indexes()
    else:  # pragma: no cover - a rebuilt index only holds clusters that exist
        raise RuntimeError(f"clusters {sorted(set(joined) - set(existing))} do not exist")
    real_ids = _create_clusters(batch, assignment.founders)
    batch.clusters = existing
    for temporary, made in real_ids.items():
        first_seen = batch.new[assignment.founders[temporary]].signal.received_at
        batch.clusters[made] = counting.ClusterCounts(
            id=made, first_seen_at=first_seen, last_seen_at=first_seen
        )
    batch.clusters_created = len(real_ids)

    def real(cluster_id: int) -> int:
        return real_ids[cluster_id] if cluster_id < 0 else cluster_id

    assignment.cluster_ids = [real(cluster_id) for cluster_id in assignment.cluster_ids]
    assignment.founders = {real(c): position for c, position in assignment.founders.items()}
    assignment.new_keys = [(kind, value, real(c)) for kind, value, c in assignment.new_keys]
    assignment.new_media = [(real(c), pdq) for c, pdq in assignment.new_media]
    assignment.new_texts = [
        (real(c), signature, figures) for c, signature, figures in assignment.new_texts
    ]
    assignment.relations = Counter(
        {(real(a), real(b), kind): n for (a, b, kind), n in assignment.relations.items()}
    )
    batch.assignment = assignment


def _key_owners(exact: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The stored clusters owning these keys: a query per kind of key, its values looked
    up on the (kind, value) index."""
    owners: dict[tuple[str, str], int] = {}
    for kind in sorted({kind for kind, _ in exact}):
        for value, cluster_id in storage.select_in(
            ClusterKey,
            ["value", "cluster"],
            where=[("kind", kind)],
            field="value",
            values=[value for k, value in exact if k == kind],
        ):
            owners[(kind, value)] = cluster_id
    return owners


def _create_clusters(batch: IntakeBatch, founders: dict[int, int]) -> dict[int, int]:
    """Insert the clusters the batch starts, from their first signals; returns the real id
    of each temporary one. Rows come back in no promised order, so each is recognised by
    its subject, which no two new clusters share (the second would have joined the
    first)."""
    if not founders:
        return {}
    now = clock.now()
    fields = [field for field in Cluster._meta.concrete_fields if not field.primary_key]
    subjects: dict[tuple[str, str], int] = {}
    rows = []
    for temporary, position in founders.items():
        signal = batch.new[position].signal
        made = Cluster(
            representative_text=signal.text or "",
            representative_url=signal.url or "",
            subject_kind=signal.subject_kind,
            subject_ref=signal.subject_ref,
            origin_key=KeyKind.NEW,
            first_seen_at=signal.received_at,
            last_seen_at=signal.received_at,
            updated_at=now,
        )
        rows.append([getattr(made, field.attname) for field in fields])
        subjects[(signal.subject_kind, signal.subject_ref)] = temporary
    if len(subjects) != len(founders):  # pragma: no cover - see the docstring
        raise RuntimeError("two new clusters of one batch have the same subject")
    created = storage.insert_returning(
        Cluster,
        [field.name for field in fields],
        rows,
        returning=["id", "subject_kind", "subject_ref"],
    )
    return {subjects[(kind, ref)]: cluster_id for cluster_id, kind, ref in created}


# The columns of a stored signal, in the order _signal_row gives their values.
_SIGNAL_COLUMNS = (
    "producer",
    "external_id",
    "received_at",
    "ingested_at",
    "source",
    "subject_kind",
    "subject_ref",
    "text",
    "url",
    "url_normalised",
    "media_pdq",
    "media_pdq_quality",
    "media_md5",
    "media_sha256",
    "market",
    "language",
    "language_detected",
    "policy_hint",
    "reach_impressions",
    "reach_followers",
    "reach_shares",
    "reporter",
    "attributes",
    "cluster",
    "matched_by",
)


def store_signals(batch: IntakeBatch) -> None:
    """Write the new signals, and the keys, media, text and relations they add."""
    assignment = batch.assignment
    assert assignment is not None, "store_signals runs after cluster"
    now = clock.now()
    for item, cluster_id in zip(batch.new, assignment.cluster_ids, strict=True):
        item.cluster_id = cluster_id
    rows = [
        _signal_row(item, batch.producer, matched_by, now)
        for item, matched_by in zip(batch.new, assignment.matched_by, strict=True)
    ]
    # Ids come back with the external id they belong to: RETURNING promises no order.
    ids = {
        external_id: signal_id
        for signal_id, external_id in storage.insert_returning(
            Signal, _SIGNAL_COLUMNS, rows, returning=["id", "external_id"]
        )
    }
    for item in batch.new:
        item.signal_id = ids[item.signal.id]
    for cluster_id, position in assignment.founders.items():
        batch.clusters[cluster_id].representative_id = batch.new[position].signal_id
    storage.insert_returning(
        ClusterKey, ["kind", "value", "cluster"], assignment.new_keys, returning=["id"]
    )
    storage.insert_returning(
        ClusterMedia,
        ["cluster", "pdq"],
        [(c, pdq) for c, pdq in assignment.new_media],
        returning=["id"],
    )
    storage.insert_returning(
        ClusterText,
        ["cluster", "signature", "figures"],
        [
            (c, text.signature_to_bytes(signature), figures)
            for c, signature, figures in assignment.new_texts
        ],
        returning=["id"],
    )
    counting.record_relations(assignment.relations)


def _signal_row(item: ValidItem, producer: str, matched_by: str, now: datetime) -> tuple[Any, ...]:
    signal = item.signal
    return (
        producer,
        signal.id,
        signal.received_at,
        now,
        signal.source,
        signal.subject_kind,
        signal.subject_ref,
        signal.text or "",
        signal.url or "",
        item.url_normalised,
        signal.media_pdq,
        signal.media_pdq_quality,
        signal.media_md5 or "",
        signal.media_sha256 or "",
        signal.market or "",
        item.language,
        item.language_detected,
        signal.policy_hint or "",
        signal.reach_impressions,
        signal.reach_followers,
        signal.reach_shares,
        signal.reporter or "",
        dict(signal.attributes),
        item.cluster_id,
        matched_by,
    )


def count(batch: IntakeBatch) -> None:
    """Counts, tallies, buckets and velocities of the clusters and series touched."""
    counted = [
        counting.CountedSignal(
            cluster_id=cast(int, item.cluster_id),  # set by store_signals
            received_at=item.signal.received_at,
            source=item.signal.source,
            market=item.signal.market or "",
            language=item.language,
            policy_hint=item.signal.policy_hint or "",
            reach_impressions=item.signal.reach_impressions,
            reach_followers=item.signal.reach_followers,
            reach_shares=item.signal.reach_shares,
            reporter=item.signal.reporter or "",
        )
        for item in batch.new
    ]
    result = counting.count_signals(signals=counted, clusters=batch.clusters, now=clock.now())
    batch.series_keys = result.series_keys


def record_ingest(batch: IntakeBatch) -> None:
    """One ``signals.ingested`` audit event for the batch, in its transaction."""
    if not batch.new:
        return
    rejected = Counter(
        str(item.rejection.reason_code) for item in batch.items if item.rejection is not None
    )
    ids = [item.signal_id for item in batch.new if item.signal_id is not None]
    record_event(
        action=AuditAction.SIGNALS_INGESTED,
        actor=batch.actor,
        data={
            "producer": batch.producer,
            "accepted": len(batch.new),
            "duplicates": len(batch.items) - len(batch.new) - rejected.total(),
            "rejected": rejected.total(),
            "rejected_by_reason": dict(sorted(rejected.items())),
            "first_signal_id": min(ids),
            "last_signal_id": max(ids),
            "clusters_created": batch.clusters_created,
            "clusters_touched": len(batch.clusters),
        },
    )


def queue_reactions(batch: IntakeBatch) -> None:
    """Record, in the batch's transaction, that its reactions (surge checks, rules,
    watchlists) are due, and have the worker run them once it has committed
    (``signals.backlog``): they are never lost and never slow the acknowledgement."""
    if not batch.new:
        return
    backlog.queue_reactions(
        cluster_ids=batch.clusters,
        series_keys=batch.series_keys,
        signal_ids=[item.signal_id for item in batch.new if item.signal_id is not None],
        actor=batch.actor,
    )
    react_after_commit()
