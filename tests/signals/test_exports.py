"""Exports of clusters and surge alerts: they parse back, carry signal ids, and are safe
to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.spreadsheet import spreadsheet_safe
from watchfloor.signals import reactions, services
from watchfloor.signals.exports import parse_since
from watchfloor.signals.selectors import bucket_end

from .factories import add_signals, make_cluster, steady_then_burst

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def without_rules(monkeypatch):
    monkeypatch.setenv("WATCHFLOOR_SIGNAL_RULES", "/nonexistent/signal_rules.yaml")


def _run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def two_clusters(catalog, frozen_clock):
    three_days_ago = frozen_clock - timedelta(days=3)
    old = make_cluster(first_seen_at=three_days_ago, last_seen_at=three_days_ago)
    add_signals(
        old,
        at=frozen_clock - timedelta(days=3),
        count=2,
        market="AU",
        language="en",
        text="old news",
    )
    hostile = make_cluster(subject_kind="url", subject_ref="https://x.test/a")
    signals = add_signals(
        hostile,
        at=frozen_clock - timedelta(minutes=5),
        count=3,
        market="JP",
        language="ja",
        text='=HYPERLINK("http://evil.test","click")',
        url="https://x.test/a",
        matched_by="url",
    )
    add_signals(
        hostile, at=frozen_clock, market="TH", language="th", text="ข้อความ", matched_by="url"
    )
    return old, hostile, signals


def test_clusters_export_as_json_lines_parses_back_with_signal_ids(two_clusters):
    old, hostile, signals = two_clusters
    out, err = _run("clusters", "export")
    records = [json.loads(line) for line in out.splitlines()]

    assert [r["id"] for r in records] == [old.pk, hostile.pk]
    record = records[1]
    assert record["key_kind"] == "url"
    assert record["joined_by"] == {"url": 3, "new": 1}
    assert record["representative"] == '=HYPERLINK("http://evil.test","click")'
    assert record["representative_url"] == "https://x.test/a"
    assert (record["signal_count"], record["reporter_count"]) == (4, 4)
    assert record["markets"] == {"JP": 3, "TH": 1}
    assert record["languages"] == {"ja": 3, "th": 1}
    assert record["first_seen_at"].endswith("Z")
    ids = [(s["producer"], s["id"]) for s in record["signal_ids"]]
    assert ids[:3] == [(s.producer, s.external_id) for s in signals]
    assert len(ids) == 4
    assert "exported 2 clusters (jsonl)" in err
    event = AuditEvent.objects.get(action=AuditAction.SIGNALS_CLUSTERS_EXPORTED)
    assert event.data == {"rows": 2, "format": "jsonl", "since": None, "output": None}


def test_clusters_export_since_a_time(two_clusters, frozen_clock):
    _, hostile, _ = two_clusters
    out, _ = _run("clusters", "export", "--since", "24h")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [hostile.pk]
    out, _ = _run("clusters", "export", "--since", "2026-11-20T00:00:00+09:00")
    assert len(out.splitlines()) == 2
    with pytest.raises(CommandError, match="needs its UTC offset"):
        _run("clusters", "export", "--since", "2026-11-20T00:00")


def test_clusters_export_as_csv_is_formula_safe_and_parses_back(two_clusters, tmp_path):
    old, hostile, signals = two_clusters
    target = tmp_path / "clusters.csv"
    _run("clusters", "export", "--format", "csv", "--output", str(target))

    assert target.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads CJK as UTF-8
    with target.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(r["id"]) for r in rows] == [old.pk, hostile.pk]
    row = rows[1]
    assert row["representative"] == "'" + '=HYPERLINK("http://evil.test","click")'
    assert json.loads(row["markets"]) == {"JP": 3, "TH": 1}
    signal_ids = json.loads(row["signal_ids"])
    assert signal_ids[0] == {"producer": signals[0].producer, "id": signals[0].external_id}
    assert len(signal_ids) == 4
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value


def test_restricted_escalations_are_not_named_in_exports(
    catalog, frozen_clock, other_analyst, make_escalation
):
    secret = make_escalation(actor=other_analyst, is_restricted=True)
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock)
    services.attach_cluster(cluster=cluster, escalation_id=secret.pk, actor=other_analyst)
    out, _ = _run("clusters", "export")
    assert json.loads(out)["escalation"] == "restricted"
    assert secret.reference not in out


def test_surges_export_says_what_when_and_against_which_baseline(catalog, frozen_clock):
    cluster = make_cluster()
    steady_then_burst(cluster, end=bucket_end(frozen_clock))
    reactions.after_ingest(
        cluster_ids=[cluster.pk], series_keys=[("JP", "scams_fraud", "ja")], actor=None
    )
    clock.advance(timedelta(minutes=40))
    reactions.check_all()

    out, err = _run("surges", "export")
    records = list(map(json.loads, out.splitlines()))
    record = next(r for r in records if r["subject"] == "cluster")
    assert record["what"] == f"cluster C-{cluster.pk}"
    assert record["cluster_id"] == cluster.pk
    assert record["started_at"] == "2026-11-24T00:30:00Z"
    assert record["raised_at"] == "2026-11-24T00:30:00Z"
    assert record["ended_at"] == "2026-11-24T01:10:00Z"
    assert record["baseline_rate_per_hour"] == 24.0
    assert record["current_rate_per_hour"] == 480.0
    assert (record["window_minutes"], record["baseline_window_minutes"]) == (5, 360)
    assert record["explanation"].startswith("40 signals in 5 min")
    series = next(r for r in records if r["policy"] == "scams_fraud")
    assert (series["market"], series["policy"], series["language"]) == ("JP", "scams_fraud", "*")
    assert series["what"] == "JP × scams fraud"
    assert "exported 4 surge alerts (jsonl)" in err

    csv_out, _ = _run("surges", "export", "--format", "csv", "--since", "2026-11-24")
    assert csv_out.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(csv_out.removeprefix("\ufeff"))))
    assert {r["subject"] for r in rows} == {"cluster", "series"}
    assert AuditEvent.objects.filter(action=AuditAction.SIGNALS_SURGES_EXPORTED).count() == 2


def test_surges_check_command(catalog, frozen_clock):
    out, _ = _run("surges", "check")
    assert out.strip() == "0 surge alert(s) ended, 0 cluster(s) woke, 0 rule firing(s)"


def test_spreadsheet_safety_and_since_parsing():
    for cell in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1"):
        assert spreadsheet_safe(cell).startswith("'")
    assert spreadsheet_safe("plain") == "plain"
    now = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
    assert parse_since("90m", now=now) == now - timedelta(minutes=90)
    assert parse_since("PT6H", now=now) == now - timedelta(hours=6)
    assert parse_since("2026-11-23", now=now) == datetime(2026, 11, 23, tzinfo=UTC)
    with pytest.raises(ValueError, match="is not a time"):
        parse_since("yesterday", now=now)
