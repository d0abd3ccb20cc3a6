"""Replays: a file's day shifted to now and fed in order on the simulated clock."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from watchfloor.bootstrap.demo import DEMO_SURGE_FILE, demo_replay_command
from watchfloor.core import clock
from watchfloor.signals.contract import Reason, SignalRejected, load_signal_file
from watchfloor.signals.replay import default_producer, plan_replay, run_replay

START = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
DAY = datetime(2013, 2, 15, 3, 20, tzinfo=UTC)


def _signal(number: int, at: datetime, **fields) -> dict:
    return {
        "id": f"s-{number}",
        "received_at": at.isoformat(),
        "source": "user_report",
        "subject": {"kind": "post", "ref": f"post:{number}"},
        **fields,
    }


def _records(*signals) -> list[tuple[int, object]]:
    return [(line, signal) for line, signal in enumerate(signals, 1)]


def test_the_first_signal_becomes_the_start_and_the_spacing_is_kept():
    records = _records(
        _signal(1, DAY + timedelta(minutes=10)),
        _signal(2, DAY),  # the earliest, though not first in the file
        _signal(3, DAY + timedelta(minutes=10, seconds=30)),
        _signal(4, DAY + timedelta(hours=2)),
    )
    plan = plan_replay(records, start=START, batch_window=timedelta(minutes=1))

    assert plan.first_signal_at == DAY
    assert plan.shift == START - DAY
    assert [batch.at for batch in plan.batches] == [
        START,
        START + timedelta(minutes=10, seconds=30),
        START + timedelta(hours=2),
    ]
    assert [batch.lines for batch in plan.batches] == [[2], [1, 3], [4]]
    fed = [item["received_at"] for batch in plan.batches for item in batch.items]
    assert fed == [
        "2026-11-24T00:30:00Z",
        "2026-11-24T00:40:00Z",
        "2026-11-24T00:40:30Z",
        "2026-11-24T02:30:00Z",
    ]
    # Everything but the time is as in the file.
    assert plan.batches[1].items[0]["id"] == "s-1"
    assert plan.batches[1].items[0]["subject"] == {"kind": "post", "ref": "post:1"}


def test_offsets_in_the_file_are_read_as_instants():
    in_tokyo = datetime(2013, 2, 15, 12, 20, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    tokyo = _signal(1, in_tokyo)
    utc = _signal(2, datetime(2013, 2, 15, 12, 20, 30, tzinfo=UTC))
    plan = plan_replay(_records(utc, tokyo), start=START)
    assert [item["id"] for item in plan.batches[0].items] == ["s-1", "s-2"]
    assert plan.batches[0].items[1]["received_at"] == "2026-11-24T00:30:30Z"


def test_batches_are_cut_by_size_too_and_bad_lines_are_left_out():
    records = [
        *_records(*(_signal(n, DAY + timedelta(seconds=n)) for n in range(1, 6))),
        (6, {"id": "no-time", "source": "user_report"}),
        (7, SignalRejected(Reason.MALFORMED_JSON, "", "not JSON", line=7)),
    ]
    plan = plan_replay(records, start=START, max_batch=2)
    assert [len(batch.items) for batch in plan.batches] == [2, 2, 1]
    assert [(r.line, r.reason_code) for r in plan.unreadable] == [
        (6, Reason.MISSING_FIELD),
        (7, Reason.MALFORMED_JSON),
    ]


class FakeWallClock:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_batches_are_fed_on_the_simulated_clock_compressed_by_the_speed():
    plan = plan_replay(
        _records(
            _signal(1, DAY),
            _signal(2, DAY + timedelta(minutes=3)),
            _signal(3, DAY + timedelta(minutes=18)),
        ),
        start=START,
    )
    wall = FakeWallClock()
    fed: list[tuple[datetime, list[str], str]] = []
    checks: list[datetime] = []
    reacted: list[datetime] = []

    def ingest(*, items, producer, actor, lines):
        fed.append((clock.now(), [i["received_at"] for i in items], producer))
        assert actor is None  # the system replays

    progress = run_replay(
        plan,
        speed=60,
        producer="replay-test",
        ingest=ingest,
        check=lambda: checks.append(clock.now()),
        react=lambda: reacted.append(clock.now()),
        sleep=wall.sleep,
        monotonic=wall.monotonic,
    )

    assert [at for at, _, _ in fed] == [
        START,
        START + timedelta(minutes=3),
        START + timedelta(minutes=18),
    ]
    assert fed[2][1] == ["2026-11-24T00:48:00Z"]
    # Each batch's reactions run at once, at the batch's simulated time.
    assert reacted == [at for at, _, _ in fed]
    assert {producer for *_, producer in fed} == {"replay-test"}
    # Three simulated minutes are three real seconds at 60×; in the quiet 15 minutes
    # after, the periodic check runs every five simulated minutes.
    assert checks == [START + timedelta(minutes=8), START + timedelta(minutes=13)]
    assert wall.slept == [3.0, 5.0, 5.0, 5.0]
    assert wall.now == 100.0 + 18
    assert (progress.batches, progress.checks) == (3, 2)


def test_speed_zero_does_not_wait():
    plan = plan_replay(_records(_signal(1, DAY), _signal(2, DAY + timedelta(hours=5))), start=START)
    wall = FakeWallClock()
    run_replay(
        plan,
        speed=0,
        producer="p",
        ingest=lambda **_: None,
        check=lambda: None,
        react=lambda: None,
        sleep=wall.sleep,
        monotonic=wall.monotonic,
    )
    assert wall.slept == []


def test_the_producer_is_new_for_each_run():
    assert default_producer("surge day.jsonl", START) == "replay-surge-day.jsonl-20261124T003000Z"


def test_the_demo_surge_file_is_in_the_contract_and_spans_a_day():
    records = list(load_signal_file(DEMO_SURGE_FILE))
    plan = plan_replay(records, start=START)
    assert plan.unreadable == []
    assert plan.signal_count == len(records) > 1000
    assert timedelta(hours=10) < plan.end - plan.start < timedelta(hours=11)
    real = [r for _, r in records if r["id"].startswith("crisislex-")]
    assert len(real) == 650
    # A tweet's time is the one its snowflake id encodes.
    tweet = real[0]
    tweet_id = int(tweet["id"].removeprefix("crisislex-"))
    encoded = datetime.fromtimestamp(((tweet_id >> 22) + 1288834974657) / 1000, tz=UTC)
    assert datetime.fromisoformat(tweet["received_at"]) == encoded
    assert Path(DEMO_SURGE_FILE).with_name("surge_day.SOURCE.txt").read_text().count("MIT") >= 2
    assert demo_replay_command().startswith("watchfloor replay ")


# ---------------------------------------------------------------- through the intake


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_replayed_file_goes_through_the_intake_and_surges_on_simulated_time(
    catalog, tmp_path, monkeypatch
):
    monkeypatch.setenv("WATCHFLOOR_SIGNAL_RULES", "/nonexistent/signal_rules.yaml")
    from watchfloor.signals.models import Signal, SurgeAlert

    lines = [
        _signal(n, DAY + timedelta(minutes=n * 7), text=f"quiet report {n}", language="en")
        for n in range(1, 40)
    ]
    burst_at = DAY + timedelta(hours=5)
    lines += [
        _signal(
            100 + n,
            burst_at + timedelta(seconds=20 * n),
            subject={"kind": "account", "ref": "acct:fake_relief"},
            text="Fake relief page asking for donations",
            market="PH",
            language="en",
            policy_hint="scams_fraud",
        )
        for n in range(30)
    ]
    path = tmp_path / "day.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    out = io.StringIO()
    call_command(
        "replay",
        str(path),
        "--speed",
        "0",
        "--start",
        start.isoformat(),
        stdout=out,
        stderr=io.StringIO(),
    )

    assert Signal.objects.count() == len(lines)
    first = Signal.objects.get(external_id="s-1")
    assert first.received_at == start  # the file's first signal is the start
    assert first.producer == "replay-day.jsonl-20261124T090000Z"
    alert = SurgeAlert.objects.get(subject="cluster")
    shift = start - (DAY + timedelta(minutes=7))
    # Raised on simulated time: when the batch that tipped it was fed.
    assert burst_at + shift < alert.raised_at <= burst_at + shift + timedelta(minutes=10)
    assert "surge: cluster C-" in out.getvalue()
    assert "Done: 69 accepted" in out.getvalue()


@pytest.mark.slow
@pytest.mark.django_db
def test_the_demo_says_how_to_replay_its_surge_without_replaying_it(catalog):
    from watchfloor.signals.models import Signal

    out = io.StringIO()
    call_command("demo", "--no-serve", stdout=out)
    assert demo_replay_command() in out.getvalue()
    # Only the demo crisis's own reports and the demo banks' matches are in; the surge
    # day waits for its replay.
    producers = set(Signal.objects.values_list("producer", flat=True))
    assert producers == {"demo", "watchfloor-matcher"}
