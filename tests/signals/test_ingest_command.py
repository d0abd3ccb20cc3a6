"""``watchfloor ingest FILE...``: files of every format, rejections with their lines, the
--errors file, re-runs, the summary and the progress bar."""

from __future__ import annotations

import gc
import gzip
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.signals.test_intake import make_signal
from watchfloor.audit.models import AuditEvent
from watchfloor.signals.models import Cluster, Signal

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str, int]:
    """Runs the command; returns stdout, stderr and the exit status."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("ingest", *args, stdout=out, stderr=err)
    except CommandError as error:
        err.write(f"CommandError: {error}\n")
        return out.getvalue(), err.getvalue(), error.returncode
    return out.getvalue(), err.getvalue(), 0


def jsonl(*signals: dict) -> bytes:
    return b"".join(json.dumps(s, ensure_ascii=False).encode() + b"\n" for s in signals)


def test_a_file_with_every_kind_of_bad_line_keeps_the_good_ones(catalog, tmp_path):
    good = jsonl(make_signal("ok-1", text="Fake relief page asking for donations by transfer"))
    lines = [
        good,  # 1
        b'{"id": "broken", "received_at": \n',  # 2 malformed JSON
        jsonl(make_signal("no-subject", subject=None)),  # 3 missing field
        jsonl(make_signal("bad-source", source="gossip")),  # 4 unknown source
        jsonl(make_signal("bad-time", received_at="2026-11-24 09:30")),  # 5 bad timestamp
        jsonl(make_signal("bad-pdq", media={"pdq": "zz" * 32})),  # 6 invalid PDQ
        jsonl(make_signal("long", text="長" * 20_001)),  # 7 oversize text
        b'{"id": "latin-1", "received_at": "2026-11-24T00:30:00Z", "source": "user_report", '
        b'"subject": {"kind": "post", "ref": "caf\xe9"}}\n',  # 8 not UTF-8
        jsonl(make_signal("market", market="XX")),  # 9 unknown market
        jsonl(make_signal("policy", policy_hint="made_up")),  # 10 unknown policy
        b"\n",  # 11 blank: skipped
        jsonl(make_signal("ok-2")),  # 12
    ]
    path = tmp_path / "reports.jsonl"
    path.write_bytes(b"".join(lines))
    errors = tmp_path / "errors.jsonl"
    out, err, status = run(str(path), "--errors", str(errors), "--batch-size", "4")
    assert status == 1
    assert "Ingested: 2 accepted, 0 duplicates, 9 rejected" in out
    assert "rejected by reason:" in out and "unknown_market 1" in out
    assert "3 batches committed" in out
    rejected = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [(r["line"], r["reason"], r["field"]) for r in rejected] == [
        (2, "malformed_json", ""),
        (3, "missing_field", "subject"),
        (4, "unknown_source", "source"),
        (5, "bad_timestamp", "received_at"),
        (6, "invalid_pdq", "media.pdq"),
        (7, "too_long", "text"),
        (8, "bad_encoding", "subject.ref"),
        (9, "unknown_market", "market"),
        (10, "unknown_policy", "policy_hint"),
    ]
    assert all(r["file"] == str(path) and r["message"] for r in rejected)
    assert f"{path}:4: [unknown_source] source 'gossip'" in err
    assert "9 signals were rejected" in err
    assert set(Signal.objects.values_list("external_id", flat=True)) == {"s-ok-1", "s-ok-2"}


def test_running_again_stores_nothing_twice(catalog, tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_bytes(jsonl(*(make_signal(n) for n in range(5))))
    assert run(str(path))[2] == 0
    out, _, status = run(str(path))
    assert status == 0
    assert "0 accepted, 5 duplicates, 0 rejected" in out
    assert Signal.objects.count() == 5
    # The second run changed nothing, so it wrote no audit event.
    assert AuditEvent.objects.filter(action="signals.ingested").count() == 1


def test_the_collector_is_set_back_as_it_was_however_the_run_ends(catalog, tmp_path):
    """The command collects garbage rarely while it runs (a bulk setting), and only then."""
    before = gc.get_threshold()
    path = tmp_path / "batch.jsonl"
    path.write_bytes(jsonl(make_signal(1), make_signal(2)))
    assert run(str(path))[2] == 0
    assert gc.get_threshold() == before
    path.write_bytes(b"not json\n")
    assert run(str(path))[2] == 1  # rejected lines end the run with an error
    assert gc.get_threshold() == before


def test_the_producer_scopes_the_ids(catalog, tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_bytes(jsonl(make_signal(1)))
    run(str(path), "--producer", "partner-feed")
    run(str(path))
    assert sorted(Signal.objects.values_list("producer", flat=True)) == ["cli", "partner-feed"]


def test_csv_and_gzipped_files_are_read(catalog, tmp_path):
    csv_path = tmp_path / "referrals.csv"
    csv_path.write_text(
        "id,received_at,source,subject.kind,subject.ref,text,url,market,reach.impressions\n"
        'c-1,2026-11-24T09:30:12+09:00,partner_referral,url,https://bit.ly/3xY,"Phishing, '
        'reported by support",https://bit.ly/3xY,JP,1200\n'
        "c-2,2026-11-24T09:31:00+09:00,user_report,post,post:9,,https://bit.ly/3xY,JP,oops\n",
        encoding="utf-8",
    )
    gz_path = tmp_path / "hits.jsonl.gz"
    gz_path.write_bytes(gzip.compress(jsonl(make_signal("g-1"), make_signal("g-2"))))
    out, err, status = run(str(csv_path), str(gz_path))
    assert status == 1
    assert "3 accepted, 0 duplicates, 1 rejected" in out
    assert f"{csv_path}:3: [bad_type]" in err  # reach.impressions is not a number
    assert Cluster.objects.get(subject_ref="https://bit.ly/3xY").signal_count == 1


def test_a_file_that_cannot_be_read_is_refused_before_anything_is_stored(catalog, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(jsonl(make_signal(1)))
    _, err, status = run(str(good), str(tmp_path / "missing.jsonl"))
    assert status == 1 and "missing.jsonl: no such file" in err
    wrong = tmp_path / "notes.txt"
    wrong.write_text("hello")
    _, err, status = run(str(wrong))
    assert status == 1 and "is not a signal file" in err
    assert not Signal.objects.exists()


def test_the_batch_size_is_checked(catalog, tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_bytes(jsonl(make_signal(1)))
    _, err, status = run(str(path), "--batch-size", "10001")
    assert status == 1 and "--batch-size is 10001" in err


def test_the_progress_bar_shows_only_when_asked_or_on_a_terminal(catalog, tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_bytes(jsonl(*(make_signal(n) for n in range(3))))
    _, err, _ = run(str(path))
    assert "\r" not in err
    _, err, _ = run(str(path), "--progress")
    assert "\rbatch.jsonl [" in err and "100% line 3/3" in err and "signals/s" in err


def test_only_the_first_rejections_are_printed(catalog, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"nope\n" * 25)
    _, err, status = run(str(path))
    assert status == 1
    assert err.count("[malformed_json]") == 20
    assert "... and 5 more rejections" in err
    assert "(list them all with --errors FILE)" in err


def test_a_path_with_an_unusual_name_is_reported_as_given(catalog, tmp_path):
    folder = tmp_path / "東京 reports"
    folder.mkdir()
    path = folder / "day 1.jsonl"
    path.write_bytes(jsonl(make_signal(1, source="x")))
    errors = tmp_path / "e.jsonl"
    run(str(path), "--errors", str(errors))
    assert json.loads(errors.read_text(encoding="utf-8"))["file"] == str(Path(path))


@pytest.mark.django_db(transaction=True)
def test_react_runs_the_reactions_of_every_stored_batch_at_the_end(catalog, tmp_path):
    """A regulator's notice opens an escalation through the trusted-source rule."""
    from watchfloor.escalations.models import Escalation
    from watchfloor.signals.models import ReactionBacklog, RuleFiring

    path = tmp_path / "notices.jsonl"
    path.write_bytes(
        jsonl(
            *(
                make_signal(n, source="regulator", market="AU", text=f"Removal notice {n}")
                for n in range(3)
            )
        )
    )
    # Real commits (transaction=True), as in use.
    out, err, status = run(str(path), "--batch-size", "1", "--react")
    assert status == 0, err
    assert "reactions run here" in out
    firings = RuleFiring.objects.filter(rule_code="trusted-source-direct")
    assert firings.count() == Cluster.objects.count() == 3
    assert Escalation.objects.count() >= 1
    assert not ReactionBacklog.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_summary_gives_the_store_time_of_each_tenth_of_a_long_run(catalog, tmp_path):
    """Whether storing grows with what is already stored, read from the run itself."""
    path = tmp_path / "reports.jsonl"
    path.write_bytes(jsonl(*(make_signal(n, text=f"Report {n}") for n in range(12))))
    out, err, status = run(str(path), "--batch-size", "1", "--single-process")
    assert status == 0, err
    line = next(li for li in out.splitlines() if "store per batch by tenth" in li)
    figures, growth = line.split(": ", 1)[1].split(" (")
    assert len(figures.split()) == 10 and all(f.isdigit() for f in figures.split())
    assert growth.startswith("the last tenth ") and growth.endswith("% on the first)")


def test_a_short_run_gives_no_tenths():
    from watchfloor.signals.intake.files import IngestSummary

    summary = IngestSummary()
    summary.store_seconds = [0.1] * 9
    assert summary.store_by_tenth() is None


def test_each_tenth_is_the_median_of_its_own_batches_in_order():
    from watchfloor.signals.intake.files import IngestSummary

    summary = IngestSummary()
    # 25 batches: tenths of 2 or 3 (the first [0, 1], the last [22, 23, 24]), each slower.
    summary.store_seconds = [float(n) for n in range(25)]
    tenths = summary.store_by_tenth()
    assert tenths is not None and len(tenths) == 10
    assert tenths == sorted(tenths) and tenths[0] == 0.5 and tenths[-1] == 23.0


@pytest.mark.django_db(transaction=True)
def test_without_react_the_reactions_wait_for_the_worker(catalog, tmp_path):
    from django_tasks_db.models import DBTaskResult

    from watchfloor.signals.models import ReactionBacklog, RuleFiring
    from watchfloor.signals.tasks import react_to_signals

    path = tmp_path / "notices.jsonl"
    path.write_bytes(jsonl(*(make_signal(n, source="regulator", market="AU") for n in range(3))))
    out, err, status = run(str(path), "--batch-size", "1")
    assert status == 0, err
    assert "queued for the worker: 3 signals in 3 batches" in out
    assert ReactionBacklog.objects.count() == 3
    assert not RuleFiring.objects.exists()
    # One task for the burst, however many batches committed before the worker took it.
    waiting = DBTaskResult.objects.filter(task_path=react_to_signals.module_path)
    assert waiting.count() == 1
    # The worker runs it: every batch's reactions, once.
    done = react_to_signals.call()
    assert (done["rows"], done["signals"], done["fired"]) == (3, 3, 3)
    assert len(done["lag_seconds"]) == 3
    assert RuleFiring.objects.filter(rule_code="trusted-source-direct").count() == 3
    assert not ReactionBacklog.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_helpers_leave_alone_a_connection_they_inherited(catalog, tmp_path, monkeypatch):
    """While an asyncio loop is marked as running in a thread (a synchronous Playwright
    session does that), Django keeps the thread's connections in a second store, so the
    one opened before is not closed before the helpers fork. They inherit it, and closing
    it there ended the parent's session on PostgreSQL ("server closed the connection")."""
    import asyncio

    from django.db import connection, connections

    from watchfloor.signals.intake import files as ingest_files

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setattr(ingest_files, "preparing_helpers", lambda: 2)
    path = tmp_path / "reports.jsonl"
    path.write_bytes(jsonl(*(make_signal(f"inherited-{n}") for n in range(4))))
    kept = connections["default"]
    kept.ensure_connection()
    loop = asyncio.new_event_loop()
    asyncio._set_running_loop(loop)
    try:
        assert connections["default"] is not kept  # the second store
        _, err, status = run(str(path), "--batch-size", "1")
    finally:
        asyncio._set_running_loop(None)
        loop.close()
    assert status == 0, err
    assert connections["default"] is kept
    with connection.cursor() as cursor:  # the parent's session is still there
        cursor.execute("SELECT COUNT(*) FROM signals_signal")
        assert cursor.fetchone() == (4,)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("helpers", [1, 2, 3])
def test_batches_prepared_by_several_helpers_are_stored_in_file_order(
    catalog, tmp_path, monkeypatch, helpers
):
    """Helper k prepares batches k, k+n, …; the command takes them in turn, so the
    batches (and their rejected lines) come out in file order, across files too."""
    from watchfloor.signals.intake import files as ingest_files

    monkeypatch.setattr(ingest_files, "preparing_helpers", lambda: helpers)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(jsonl(*(make_signal(f"a{n}") for n in range(7))) + b"{broken\n")
    second.write_bytes(b"{broken\n" + jsonl(*(make_signal(f"b{n}") for n in range(4))))
    errors = tmp_path / "errors.jsonl"
    out, _, status = run(str(first), str(second), "--batch-size", "2", "--errors", str(errors))
    assert status == 1  # two lines were rejected
    assert "11 accepted, 0 duplicates, 2 rejected" in out
    stored = list(Signal.objects.order_by("pk").values_list("external_id", flat=True))
    assert stored == [*(f"s-a{n}" for n in range(7)), *(f"s-b{n}" for n in range(4))]
    rejected = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [(Path(r["file"]).name, r["line"]) for r in rejected] == [("a.jsonl", 8), ("b.jsonl", 1)]
