"""Killing ``watchfloor ingest`` mid-run loses nothing acknowledged and leaves nothing
half-written; running it again finishes the job with duplicates for what was stored.

The command runs in a subprocess against this test's database (committed, so the test
is transactional), and is killed with SIGKILL: no handler, no cleanup, as in a crash.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count, Sum

from tests.signals.test_intake import PDQ, at, make_signal
from tests.waiting import wait_for_exit, wait_until
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.selectors import verify_chain
from watchfloor.signals.media import pdq_to_hex, pdq_variant
from watchfloor.signals.models import Cluster, ClusterBucket, ClusterReporter, Signal

SRC = Path(__file__).resolve().parents[2] / "src"


def subprocess_environment() -> dict[str, str]:
    """The environment of a `watchfloor` process using this test's database."""
    env = dict(os.environ)
    env["WATCHFLOOR_TESTING"] = "1"
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{database['NAME']}"
    else:
        user = database.get("USER") or "postgres"
        password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
        host = database.get("HOST") or "127.0.0.1"
        port = database.get("PORT") or 5432
        env["DATABASE_URL"] = f"postgres://{user}{password}@{host}:{port}/{database['NAME']}"
    return env


def ingest_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "watchfloor.cli", "ingest", *args]


def write_surge(path: Path, *, count: int, start: int = 0) -> None:
    """Signals that share subjects, links, media and texts, so batches touch the same
    clusters. Every signal names its language, so no detector model has to load."""
    with path.open("w", encoding="utf-8") as out:
        for n in range(start, start + count):
            story = n % 97
            fields = {
                "subject": {"kind": "post", "ref": f"post:{story}-{n % 3}"},
                "received_at": at(seconds=n),
                "language": "en",
                "reporter": f"user:{n % 211}",
                "market": "JP" if n % 2 else "PH",
            }
            if n % 3 == 1:
                fields["url"] = f"https://example.com/story/{story}?utm_source={n}"
            if n % 5 == 2:
                fields["media"] = {"pdq": pdq_to_hex(pdq_variant(PDQ, 60 + story, seed=story))}
            if n % 4 == 3:
                fields["text"] = f"Story {story}: a fake relief fund asks for transfers " * 2
            out.write(json.dumps(make_signal(n, **fields)) + "\n")


def assert_every_signal_belongs_to_a_committed_batch() -> None:
    """Each `signals.ingested` event names the id range of its batch and how many it
    stored: every stored signal is in exactly one such range, every range is full, and
    the counts committed with the signals add up to them."""
    events = list(AuditEvent.objects.filter(action="signals.ingested").order_by("sequence"))
    covered = 0
    for event in events:
        data = event.data
        in_range = Signal.objects.filter(
            id__gte=data["first_signal_id"], id__lte=data["last_signal_id"]
        ).count()
        assert in_range == data["accepted"], event.data
        covered += data["accepted"]
    total = Signal.objects.count()
    assert covered == total
    clusters = Cluster.objects.aggregate(signals=Sum("signal_count"))["signals"] or 0
    assert clusters == total
    assert (ClusterBucket.objects.aggregate(n=Sum("count"))["n"] or 0) == total
    for cluster in Cluster.objects.annotate(stored=Count("signals")):
        assert cluster.signal_count == cluster.stored
        assert cluster.reporter_count == (
            ClusterReporter.objects.filter(cluster_id=cluster.pk).count()
        )
    assert verify_chain().ok


def run_and_kill(path: Path, env: dict[str, str], *, after_batches: int) -> None:
    """Start an ingest and SIGKILL it once ``after_batches`` batches in all have committed."""
    process = subprocess.Popen(
        ingest_command(str(path), "--batch-size", "100"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def committed_enough() -> bool:
        # Only the database knows what the other process committed: look until it has.
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        return AuditEvent.objects.filter(action="signals.ingested").count() >= after_batches

    try:
        wait_until(committed_enough, timeout=120, waiting_for=f"{after_batches} batches")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    # The helper that prepares batches notices and stops too.
    wait_for_exit(processes_reading(path), timeout=15, waiting_for="the preparing helper to stop")
    assert not processes_reading(path), "the preparing helper outlived the ingest"


def processes_reading(path: Path) -> list[int]:
    """Processes whose command line names ``path`` (Linux: from /proc)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(path).encode() in command and b"ingest" in command:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killing_ingest_mid_run_loses_nothing_acknowledged(catalog, tmp_path):
    total = 3000
    path = tmp_path / "surge.jsonl"
    write_surge(path, count=total)
    env = subprocess_environment()

    run_and_kill(path, env, after_batches=3)
    stored = Signal.objects.count()
    assert 0 < stored < total
    assert_every_signal_belongs_to_a_committed_batch()

    # Killed again, later, while going over what it had already stored.
    run_and_kill(path, env, after_batches=8)
    stored = Signal.objects.count()
    assert stored < total
    assert_every_signal_belongs_to_a_committed_batch()

    rerun = subprocess.run(
        ingest_command(str(path), "--batch-size", "500"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{total - stored:,} accepted, {stored:,} duplicates, 0 rejected" in rerun.stdout
    assert Signal.objects.count() == total
    assert_every_signal_belongs_to_a_committed_batch()
