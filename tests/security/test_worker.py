"""Issue 11, finding 15: a worker killed outright leaves no task RUNNING forever, and a
task longer than any lease is never taken over while its worker is alive.

Real ``watchfloor worker`` processes on this test's (committed) database, one of them
killed with SIGKILL: no handler, no cleanup, as in a crash. The task waits at a named
pipe the test opens, so the test decides when it may finish.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tests.security.worker_tasks import hold_until_released
from tests.signals.test_durability import subprocess_environment
from tests.waiting import wait_for_exit, wait_until
from watchfloor.bootstrap.models import WorkerHeartbeat
from watchfloor.signals import backlog, reactions
from watchfloor.signals import hooks as signal_hooks
from watchfloor.signals.models import ReactionBacklog

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BEAT_SECONDS = "0.2"
DEAD_AFTER_SECONDS = 1.0


def worker_environment() -> dict[str, str]:
    env = subprocess_environment()
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env["PYTHONPATH"]  # the test's task
    env["WATCHFLOOR_WORKER_HEARTBEAT_SECONDS"] = BEAT_SECONDS
    env["WATCHFLOOR_WORKER_DEAD_AFTER_SECONDS"] = str(DEAD_AFTER_SECONDS)
    return env


def start_worker(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "watchfloor.cli", "worker", "--interval", "0.05", *args],
        env=worker_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def marks(folder: Path, kind: str) -> list[int]:
    return sorted(int(path.name.split("-", 1)[1]) for path in folder.glob(f"{kind}-*"))


def wait_for_mark(folder: Path, kind: str, process: subprocess.Popen) -> None:
    def marked() -> bool:
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        return process.pid in marks(folder, kind)

    wait_until(marked, timeout=120, waiting_for=f"worker {process.pid} to write {kind}")


def open_the_gate(folder: Path) -> None:
    # Opening a pipe for writing waits for its reader: the task, already at its gate.
    with (folder / "gate").open("w", encoding="utf-8") as gate:
        gate.write("go")


def release_and_wait(folder: Path, task_id: str) -> None:
    """Let the task at the gate finish, and wait until its row says it succeeded."""
    open_the_gate(folder)
    wait_until(
        lambda: DBTaskResult.objects.get(pk=task_id).status == TaskResultStatus.SUCCESSFUL,
        timeout=60,
        waiting_for=f"task {task_id} to succeed",
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "gate")
    return tmp_path


def test_a_task_of_a_killed_worker_is_run_again_and_completes_once(catalog, gate):
    result = hold_until_released.enqueue(str(gate))
    first = start_worker()
    second = None
    try:
        wait_for_mark(gate, "started", first)
        first.send_signal(signal.SIGKILL)
        wait_for_exit([first.pid], timeout=30, waiting_for="the killed worker to end")
        row = DBTaskResult.objects.get(pk=result.id)
        assert row.status == TaskResultStatus.RUNNING  # what the dead worker left
        (dead_worker,) = row.worker_ids

        second = start_worker()
        wait_for_mark(gate, "started", second)
        release_and_wait(gate, result.id)
    finally:
        stop(first)
        if second is not None:
            stop(second)
    row = DBTaskResult.objects.get(pk=result.id)
    assert marks(gate, "started") == sorted([first.pid, second.pid])
    assert marks(gate, "finished") == [second.pid], "completed once, by the live worker"
    assert row.return_value == second.pid
    assert len(row.worker_ids) == 2 and row.worker_ids[0] == dead_worker
    # The live worker stopped cleanly: its heartbeat went with it; the dead one's is
    # cleared by the reclaim pass once stale.
    assert not WorkerHeartbeat.objects.filter(worker_id=row.worker_ids[1]).exists()
    assert not WorkerHeartbeat.objects.filter(worker_id=dead_worker).exists()


def test_a_long_task_is_not_taken_over_while_its_worker_beats(catalog, gate):
    result = hold_until_released.enqueue(str(gate))
    first = start_worker()
    try:
        wait_for_mark(gate, "started", first)
        row = DBTaskResult.objects.get(pk=result.id)
        (owner,) = row.worker_ids
        # Past the time after which a silent worker counts as dead, still beating.
        beyond = row.started_at + timedelta(seconds=2 * DEAD_AFTER_SECONDS)
        wait_until(
            lambda: WorkerHeartbeat.objects.filter(worker_id=owner, beat_at__gt=beyond).exists(),
            timeout=60,
            waiting_for="the running worker's heartbeat to outlast the dead-after time",
        )
        other = subprocess.run(
            [sys.executable, "-m", "watchfloor.cli", "worker", "--batch"],
            env=worker_environment(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert other.returncode == 0, other.stderr
        assert "0 tasks of stopped workers queued again" in other.stdout
        row.refresh_from_db()
        assert row.status == TaskResultStatus.RUNNING and row.worker_ids == [owner]

        release_and_wait(gate, result.id)
    finally:
        stop(first)
    assert marks(gate, "started") == [first.pid]
    assert marks(gate, "finished") == [first.pid]


def test_a_reactions_pass_longer_than_its_lease_keeps_its_rows(catalog, monkeypatch):
    """The drain renews its claim from a heartbeat while its pass runs: another drain,
    once a whole lease has gone by since the claim, finds nothing to take over. (A short
    lease, so the test waits a moment, not five minutes; real time throughout, as the
    pass and its heartbeat run on their own threads.)"""
    monkeypatch.setattr(backlog, "CLAIM_LEASE", timedelta(seconds=0.5))
    monkeypatch.setattr(backlog, "CLAIM_RENEW_EVERY", timedelta(seconds=0.05))
    in_pass, finish = threading.Event(), threading.Event()

    def slow_hook(signal_ids) -> None:
        in_pass.set()
        assert finish.wait(timeout=60)

    monkeypatch.setattr(signal_hooks, "_hooks", [slow_hook])
    monkeypatch.setattr(reactions, "after_ingest", lambda **_: reactions.ReactionReport())
    backlog.queue_reactions(cluster_ids=[], series_keys=[], signal_ids=[1], actor=None)
    outcome: dict[str, backlog.DrainReport] = {}
    first = threading.Thread(target=lambda: outcome.setdefault("first", backlog.drain()))
    first.start()
    try:
        assert in_pass.wait(timeout=60)
        claimed_at = ReactionBacklog.objects.get().claimed_at
        wait_until(
            lambda: ReactionBacklog.objects.filter(
                claimed_at__gt=claimed_at + backlog.CLAIM_LEASE
            ).exists(),
            timeout=30,
            waiting_for="the running pass to renew its claim past one lease",
        )
        assert backlog.drain(worker="second").rows == 0, "taken over while running"
    finally:
        finish.set()
        first.join(timeout=60)
    assert outcome["first"].rows == 1
    assert not ReactionBacklog.objects.exists()
