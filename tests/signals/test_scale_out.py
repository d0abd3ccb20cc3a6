"""Several `watchfloor ingest` workers on PostgreSQL: overlapping files ingested at once
cluster as if one worker had done it all.

Run with ``DATABASE_URL=postgres://…`` (skipped on SQLite, where writers queue on the
database's own lock anyway).
"""

from __future__ import annotations

import re
import subprocess

import pytest
from django.db import connection
from django.db.models import Count, Sum

from tests.signals.test_durability import (
    assert_every_signal_belongs_to_a_committed_batch,
    ingest_command,
    subprocess_environment,
    write_surge,
)
from watchfloor.signals.models import Cluster, ClusterKey, ClusterReporter, Signal

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="scale-out runs on PostgreSQL: set DATABASE_URL=postgres://…",
)


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_overlapping_files_cluster_each_signal_once(catalog, tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_surge(first, count=4000, start=0)
    write_surge(second, count=4000, start=2000)  # 2,000 signals in both files
    env = subprocess_environment()
    workers = [
        subprocess.Popen(
            ingest_command(str(path), "--batch-size", "250"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in (first, second)
    ]
    outputs = [worker.communicate(timeout=600) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr[-2000:]
    totals = [
        tuple(
            int(n.replace(",", ""))
            for n in re.search(r"([\d,]+) accepted, ([\d,]+) dup", out).groups()
        )
        for out, _ in outputs
    ]
    assert sum(accepted for accepted, _ in totals) == 6000
    assert sum(duplicates for _, duplicates in totals) == 2000
    assert all(accepted > 0 for accepted, _ in totals)  # both workers stored signals

    assert Signal.objects.count() == 6000
    # One cluster per subject, and each subject key owned once.
    split = (
        Signal.objects.values("subject_kind", "subject_ref")
        .annotate(clusters=Count("cluster", distinct=True))
        .filter(clusters__gt=1)
    )
    assert not split.exists()
    subjects = ClusterKey.objects.filter(kind="subject")
    assert subjects.count() == subjects.values("value").distinct().count()
    # Counts equal the signals they count, cluster by cluster.
    assert Cluster.objects.aggregate(n=Sum("signal_count"))["n"] == 6000
    for cluster in Cluster.objects.annotate(stored=Count("signals")):
        assert cluster.signal_count == cluster.stored
        distinct_reporters = (
            Signal.objects.filter(cluster=cluster)
            .exclude(reporter="")
            .values("reporter")
            .distinct()
        )
        assert cluster.reporter_count == distinct_reporters.count()
        assert ClusterReporter.objects.filter(cluster=cluster).count() == cluster.reporter_count
    assert_every_signal_belongs_to_a_committed_batch()
