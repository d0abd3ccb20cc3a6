"""Fixtures for notifications: a policy file of our own, people with email addresses and
time zones, a worker that runs whatever is due on the injected clock, and a real HTTP
receiver on 127.0.0.1 that answers as each test scripts it."""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Q
from django.test import Client
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult, get_date_max

from tests.escalations.conftest import SEVERITY_ANSWERS
from watchfloor.core import clock
from watchfloor.notify import recipients

PUBLIC_URL = "https://watchfloor.test"
# The real lookup (the people app's rota), before the tests below replace it.
REAL_ON_CALL_LOOKUP = recipients._on_call_lookup

TEST_POLICY = """\
version: "test-1"
override_quiet_hours_from: SEV1
acknowledge_link_valid_for: PT1H
rules:
  - code: crisis
    name: Crisis
    when:
      severities: [SEV0]
    stages:
      - name: Crisis lead on call
        notify:
          - on_call: {code: site_policy, role: lead}
          - channel: war-room
      - name: Regional head
        after: PT10M
        notify:
          - user: apac.head
  - code: high
    name: High
    when:
      severities: [SEV2]
    stages:
      - name: On call
        notify:
          - on_call: site_policy
      - name: Regional head
        after: PT2H
        notify:
          - user: apac.head
"""


@pytest.fixture(autouse=True)
def notify_settings(settings, tmp_path: Path) -> Path:
    policy = tmp_path / "escalation_policies.yaml"
    policy.write_text(TEST_POLICY, encoding="utf-8")
    settings.WATCHFLOOR_ESCALATION_POLICY_FILE = str(policy)
    settings.WATCHFLOOR_PUBLIC_URL = PUBLIC_URL
    settings.WATCHFLOOR_NOTIFY_WEBHOOK_TIMEOUT_SECONDS = 2
    settings.WATCHFLOOR_NOTIFY_MAX_ATTEMPTS = 4
    settings.WATCHFLOOR_NOTIFY_BACKOFF_BASE_SECONDS = 30
    settings.WATCHFLOOR_NOTIFY_BACKOFF_MAX_SECONDS = 600
    # The test receivers listen on this machine, which outbound requests otherwise refuse.
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    return policy


@pytest.fixture
def write_policy(notify_settings: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        notify_settings.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return notify_settings

    return write


@pytest.fixture(autouse=True)
def no_rota(monkeypatch) -> None:
    """Tests decide who is on call; by default there is no rota (members are told)."""
    monkeypatch.setattr(recipients, "_on_call_lookup", lambda: None)


@pytest.fixture
def rota(monkeypatch) -> Callable[[list], list[tuple]]:
    """Install an on-call lookup answering ``people``; returns the calls it received."""
    calls: list[tuple] = []

    def install(people: list) -> list[tuple]:
        def on_call_now(team_code: str, market: str | None, at) -> list:
            calls.append((team_code, market, at))
            return list(people)

        monkeypatch.setattr(recipients, "_on_call_lookup", lambda: on_call_now)
        return calls

    return install


# ---------------------------------------------------------------- people


def _person(username: str, role: str, team: str | None, zone: str):
    from watchfloor.people.models import Team
    from watchfloor.people.services import create_user

    return create_user(
        username=username,
        password="correct-horse-battery",
        role=role,
        actor=None,
        team=Team.objects.get(code=team) if team else None,
        time_zone=zone,
        email=f"{username}@watchfloor.test",
        first_name=username.split(".")[0].title(),
    )


@pytest.fixture
def crisis_lead(catalog):
    return _person("mei.lead", "lead", "site_policy", "Asia/Singapore")


@pytest.fixture
def duty_analyst(catalog):
    return _person("aiko.duty", "analyst", "site_policy", "Asia/Tokyo")


@pytest.fixture
def regional_head(catalog):
    return _person("apac.head", "lead", None, "Australia/Sydney")


@pytest.fixture
def team(crisis_lead, duty_analyst, regional_head):
    return {"lead": crisis_lead, "analyst": duty_analyst, "head": regional_head}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ---------------------------------------------------------------- commits and the worker


@pytest.fixture
def committed(django_capture_on_commit_callbacks) -> Callable[[], AbstractContextManager]:
    """Run the block as if its transaction committed: on_commit work (enqueueing) runs."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


class DueTasks:
    """The database worker's loop, driven by the injected clock instead of the wall clock."""

    def __init__(self, committed):
        self.committed = committed
        self.results: list[str] = []
        self.worker = Worker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="tests",
        )

    def ready(self):
        return DBTaskResult.objects.filter(status=TaskResultStatus.READY).filter(
            Q(run_after__lte=clock.now()) | Q(run_after=get_date_max())
        )

    def __call__(self, *, limit: int = 100) -> list[str]:
        ran: list[str] = []
        for _ in range(limit):
            row = self.ready().order_by("run_after", "enqueued_at").first()
            if row is None:
                return ran
            row.claim(self.worker.worker_id)
            with self.committed():
                self.worker.run_task(row)
            row.refresh_from_db()
            assert row.status == TaskResultStatus.SUCCESSFUL, row.traceback
            ran.append(f"{row.task_path.rsplit('.', 1)[-1]}: {row.return_value}")
        raise AssertionError(f"more than {limit} tasks became due; a task keeps re-enqueueing")

    def pending(self, task_name: str = ""):
        rows = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
        return rows.filter(task_path__endswith=task_name) if task_name else rows


@pytest.fixture
def run_due(committed) -> DueTasks:
    return DueTasks(committed)


@pytest.fixture(autouse=True)
def no_failed_tasks(db):
    yield
    failed = list(DBTaskResult.objects.filter(status=TaskResultStatus.FAILED))
    assert not failed, "\n\n".join(row.traceback for row in failed)


# ---------------------------------------------------------------- escalations


@pytest.fixture
def escalate(make_escalation, analyst, committed):
    """File an escalation at ``severity`` (a drill's, with ``drill``); the escalation
    services tell the notify app."""

    def make(severity: int, *, drill: bool = False, **overrides: Any):
        with committed():
            escalation = make_escalation(
                rubric_answers=SEVERITY_ANSWERS[severity], is_drill=drill, **overrides
            )
            assert escalation.severity == severity
        return escalation

    return make


@pytest.fixture
def war_room(catalog, receiver):
    from watchfloor.notify.channels import save_channel
    from watchfloor.notify.models import Channel

    return save_channel(
        channel=Channel(code="war-room", name="War room", kind="webhook", url=receiver.url),
        actor=None,
        changed_fields=["code", "name", "kind", "url"],
    )


# ---------------------------------------------------------------- a real HTTP receiver


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers POSTs from ``script`` in order: an int is a status code, ``"hang"`` holds
    the request unanswered until the test ends (then answers 200). Past the script,
    everything gets 200."""

    url: str = ""
    script: list[Any] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    test_ended: threading.Event = field(default_factory=threading.Event)

    def next_answer(self) -> Any:
        with self.lock:
            return self.script.pop(0) if self.script else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            answer = state.next_answer()
            status = 200
            if answer == "hang":
                # Bounded, so a test that never ends its wait cannot keep a thread forever.
                state.test_ended.wait(timeout=60)
            else:
                status = int(answer)
            payload = b"ok" if status < 400 else b"receiver says no"
            try:
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "120")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): that is the point

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/watchfloor"
    try:
        yield state
    finally:
        state.test_ended.set()
        server.shutdown()
        server.server_close()
