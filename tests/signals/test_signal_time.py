"""Signal time, not wall time: ``watchfloor ingest --react`` on a file of past signals
behaves as if it were live, and ``watchfloor surges backtest`` replays files through the
detector without the database."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from watchfloor.signals.backtest import Onset, backtest, read_onsets
from watchfloor.signals.models import SurgeAlert

ONSET = datetime(2012, 9, 5, 14, 42, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def past_day(*, market: str = "JP") -> list[dict]:
    """Six quiet hours (one report every 30 minutes), then 80 reports in ten minutes from
    the onset, then an hour and a half of quiet with a report every 20 minutes."""
    times = [ONSET - timedelta(hours=6) + n * timedelta(minutes=30) for n in range(12)]
    times += [ONSET + timedelta(seconds=7 * n) for n in range(80)]
    times += [ONSET + timedelta(minutes=20 * n) for n in range(1, 6)]
    return [
        {
            "id": f"past-{n}",
            "received_at": stamp(at),
            "source": "user_report",
            "subject": {"kind": "post", "ref": f"post:{n}"},
            "market": market,
            "language": "ja",
        }
        for n, at in enumerate(sorted(times))
    ]


def write_jsonl(path, signals) -> None:
    path.write_text("".join(json.dumps(s) + "\n" for s in signals), encoding="utf-8")


@pytest.mark.django_db
def test_ingest_react_on_a_past_file_raises_and_ends_surges_at_the_signals_time(catalog, tmp_path):
    path = tmp_path / "past.jsonl"
    write_jsonl(path, past_day())
    out = io.StringIO()
    call_command("ingest", str(path), "--react", "--batch-size", "50", stdout=out)

    market = SurgeAlert.objects.get(market="JP", policy="*", language="*")
    # Raised within the onset's bucket, in 2012, not at the wall clock.
    assert ONSET <= market.raised_at <= ONSET + timedelta(minutes=5)
    assert market.window == timedelta(minutes=5)
    # Ended once the quiet period had passed, on the signals' clock too.
    assert market.ended_at is not None
    assert timedelta(minutes=30) <= market.ended_at - market.raised_at <= timedelta(hours=1)
    assert "on the signals' time" in out.getvalue()
    assert SurgeAlert.objects.filter(ended_at__isnull=True).count() == 0


def test_backtest_finds_the_onset_without_the_database(tmp_path):
    path = tmp_path / "past.jsonl"
    write_jsonl(path, past_day(market="PH"))
    result = backtest([path], onsets=[Onset("PH", ONSET)])

    assert result.signals == 97
    assert result.before_onset("PH") == []
    first = result.first_after(Onset("PH", ONSET))
    assert first is not None
    assert first.raised_at - ONSET <= timedelta(minutes=5)
    assert first.explanation.startswith("PH: ")
    assert "series rising, led by PH" in first.explanation
    assert first.ended_at is not None


def test_the_backtest_command_prints_delays_and_writes_a_csv(tmp_path):
    path = tmp_path / "past.jsonl"
    write_jsonl(path, [*past_day(market="PH"), {"id": "broken"}])
    onsets = tmp_path / "onsets.csv"
    onsets.write_text(f"market,onset\nPH,{stamp(ONSET)}\n", encoding="utf-8")
    alerts = tmp_path / "alerts.csv"
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "surges",
        "backtest",
        str(path),
        "--onsets",
        str(onsets),
        "--csv",
        str(alerts),
        stdout=out,
        stderr=err,
    )

    printed = out.getvalue()
    assert "97 signals, 1 rejected" in printed
    assert "onset PH 2012-09-05 14:42Z: first alert +" in printed
    assert "0 alert(s) before it" in printed
    assert "line 98" in err.getvalue()
    rows = list(csv.DictReader(alerts.open(encoding="utf-8")))
    assert rows[0]["market"] == "PH"
    assert rows[0]["before_onset"] == "False"
    assert float(rows[0]["ratio"]) >= 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("market,onset\nPH,yesterday\n", "not an ISO 8601 time"),
        ("PH,2012-09-05T14:42:00\n", "has no offset"),
        ("PH\n", "expected market,onset"),
        ("PH,1850-01-01T00:00:00Z\n", "outside the dates accepted"),
    ],
)
def test_a_bad_onsets_file_names_its_line(tmp_path, content, message):
    onsets = tmp_path / "onsets.csv"
    onsets.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_onsets(onsets)
    signals = tmp_path / "s.jsonl"
    write_jsonl(signals, past_day())
    with pytest.raises(CommandError, match="line"):
        call_command("surges", "backtest", str(signals), "--onsets", str(onsets))
