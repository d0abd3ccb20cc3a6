"""Exchanges and python-threatexchange's formats: signal files in and out, fetches from a
real HTTP server on 127.0.0.1 that speaks StopNCII's FetchHashes and SubmitFeedback,
resumed from the checkpoint, withdrawals, opinions sent back, and the schedule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tests.banks.local_http import JsonHandler, serving
from tests.banks.test_services import BASE, bank_with, near
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.selectors import verify_chain
from watchfloor.banks import services
from watchfloor.banks.exchange_feedback import record_opinion, send_feedback
from watchfloor.banks.exchanges import (
    WITHDRAWN,
    create_exchange,
    exchanges_due,
    fetch_exchange,
)
from watchfloor.banks.matcher import Query, match
from watchfloor.banks.models import (
    Bank,
    BankEntry,
    EntrySource,
    Exchange,
    ExchangeFeedback,
)
from watchfloor.banks.pytx import export_signal_file, import_signal_file, parse_signal_file
from watchfloor.banks.tasks import fetch_due_exchanges
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput

MD5 = "d41d8cd98f00b204e9800998ecf8427e"


# ---------------------------------------------------------------- signal files


def test_a_bank_exported_as_a_signal_file_imports_as_the_same_bank(analyst):
    bank = bank_with("livestream", BASE, near(BASE, 40, start=10), near(BASE, 40, start=60))
    services.disable_entry(entry=bank.entries.last(), reason="logo", actor=analyst)
    text = export_signal_file(bank=bank, actor=analyst)
    assert text.splitlines() == [f"pdq {BASE}", f"pdq {near(BASE, 40, start=10)}"]

    imported = import_signal_file(bank_name="copy", text=text, actor=analyst)
    assert imported.skipped == []
    assert imported.bank.signal_type == "pdq"
    assert sorted(e.value for e in imported.bank.entries.all()) == sorted(
        e.value for e in bank.entries.filter(disabled_at__isnull=True)
    )
    assert AuditEvent.objects.filter(action=AuditAction.BANK_EXPORTED).count() == 1
    assert verify_chain().ok


def test_bad_lines_are_named_and_the_rest_imported(analyst):
    text = "\n".join(
        [
            "# shared by a partner",
            f"pdq {BASE}",
            "pdq not-a-hash",
            "tmk 0123",
            "pdq",
            f"video_md5 {MD5}",
            "",
            f"PDQ {near(BASE, 3)}",
        ]
    )
    imported = import_signal_file(bank_name="mixed", text=text, actor=analyst)
    assert [entry.value for entry in imported.added] == [BASE]
    reasons = dict(imported.skipped)
    assert set(reasons) == {3, 4, 5, 6, 8}
    assert "not a valid pdq signal" in reasons[3]
    assert "'tmk' cannot be banked here" in reasons[4]
    assert "expected '<signal type> <value>'" in reasons[5]
    assert "bank 'mixed' holds pdq" in reasons[6]
    assert "'PDQ' cannot be banked" in reasons[8]


def test_video_md5_and_text_banks_speak_python_threatexchange_types(analyst):
    entries, skipped = parse_signal_file(f"video_md5 {MD5.upper()}\nraw_text 偽の避難指示\n")
    assert skipped == []
    assert [(line, e.signal_type, e.value) for line, e in entries] == [
        (1, "md5", MD5),
        (2, "text", "偽の避難指示"),
    ]
    md5_bank = services.create_bank(name="videos", signal_type="md5", actor=analyst)
    services.add_entries(
        bank=md5_bank,
        entries=[services.NewEntry(signal_type="md5", value=MD5)],
        source=EntrySource.MANUAL,
        actor=analyst,
    )
    assert export_signal_file(bank=md5_bank, actor=analyst) == f"video_md5 {MD5}\n"


def test_a_bank_without_a_python_threatexchange_type_is_refused_with_the_formats_that_work(
    analyst,
):
    bank = services.create_bank(name="hashes", signal_type="sha256", actor=analyst)
    with pytest.raises(InvalidInput, match="export it as csv or stix"):
        export_signal_file(bank=bank, actor=analyst)


def test_the_command_imports_and_exports_signal_files(tmp_path, capsys, analyst):
    path = tmp_path / "signals.txt"
    path.write_text(f"pdq {BASE}\npdq zz\n", encoding="utf-8")
    call_command("banks", "import", "shared", str(path), "--format", "pytx")
    err = capsys.readouterr().err
    assert f"{path}:2: skipped" in err and "shared: 1 entries added" in err
    call_command("banks", "export", "shared", "--format", "pytx")
    assert capsys.readouterr().out == f"pdq {BASE}\n"


# ---------------------------------------------------------------- a StopNCII server


@dataclass
class StopNCII:
    """FetchHashes pages by startTimestamp then nextPageToken; SubmitFeedback recorded.
    Requests without the keys are answered 401, as the service does."""

    pages: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    fetches: list[dict[str, str]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    fail_fetch: bool = False
    url: str = ""

    def page(self, start: int, token: str, records, *, next_token=None, next_set=0) -> None:
        self.pages[start, token] = {
            "count": len(records),
            "nextPageToken": next_token,
            "nextSetTimestamp": next_set,
            "hasMoreRecords": next_token is not None,
            "hashRecords": records,
        }


def record(value: str, status: str = "Active", kind: str = "ImagePDQ") -> dict[str, Any]:
    return {
        "lastModtimestamp": 50,
        "signalType": kind,
        "hashValue": value,
        "hashStatus": status,
        "caseNumbers": {"case-1": status},
        "CSPFeedbacks": [],
    }


@pytest.fixture
def stopncii(settings, monkeypatch) -> Iterator[StopNCII]:
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    monkeypatch.setenv("STOPNCII_KEYS", "fetch-key,subscription-key,feedback-key")
    state = StopNCII()

    class Handler(JsonHandler):
        def _authorised(self, key: str) -> bool:
            return (
                self.headers.get("x-functions-key") == key
                and self.headers.get("Ocp-Apim-Subscription-Key") == "subscription-key"
            )

        def do_GET(self) -> None:
            path, query = self.path_and_query()
            if path != "/v1/FetchHashes" or not self._authorised("fetch-key"):
                return self.answer(401, {"error": "unauthorised"})
            state.fetches.append(query)
            if state.fail_fetch:
                return self.answer(400, {"error": "bad request"})
            key = (int(query["startTimestamp"]), query.get("nextPageToken", ""))
            return self.answer(200, state.pages.get(key) or _empty(key[0]))

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            if self.path != "/v1/SubmitFeedback" or not self._authorised("feedback-key"):
                return self.answer(401, {"error": "unauthorised"})
            state.feedback.extend(body["hashFeedbacks"])
            return self.answer(200, {})

    with serving(Handler) as url:
        state.url = f"{url}/v1"
        yield state


def _empty(start: int) -> dict[str, Any]:
    return {
        "count": 0,
        "nextPageToken": None,
        "nextSetTimestamp": start,
        "hasMoreRecords": False,
        "hashRecords": [],
    }


def ncii_exchange(stopncii: StopNCII, analyst) -> Exchange:
    bank = services.create_bank(name="ncii", signal_type="pdq", actor=analyst, is_restricted=True)
    return create_exchange(
        name="stopncii",
        kind="stopncii",
        bank=bank,
        actor=analyst,
        location=stopncii.url,
        credentials_env="STOPNCII_KEYS",
    )


def test_a_fetch_walks_every_page_and_the_next_resumes_from_the_checkpoint(stopncii, analyst):
    first, second, third = BASE, near(BASE, 40, start=0), near(BASE, 40, start=100)
    stopncii.page(10, "", [record(first), record(second)], next_token="p2", next_set=100)
    stopncii.page(
        10, "p2", [record(third), record("zz"), record(MD5, kind="VideoMD5")], next_set=200
    )
    exchange = ncii_exchange(stopncii, analyst)

    result = fetch_exchange(exchange=exchange, actor=None)
    assert (result.deltas, result.added, result.error) == (2, 3, "")
    assert [(kind, reason.split(":")[0]) for kind, _, reason in result.skipped] == [
        ("pdq", "not a valid pdq signal"),
        ("video_md5", "bank 'ncii' holds pdq"),
    ]
    entries = BankEntry.objects.filter(bank__name="ncii")
    assert {e.value for e in entries} == {first, second, third}
    assert {(e.source, e.exchange_id) for e in entries} == {("exchange", exchange.pk)}
    assert all("exchange:stopncii" in e.labels for e in entries)
    exchange.refresh_from_db()
    assert exchange.checkpoint["update_time"] == 200

    # The next fetch asks only for what changed since the checkpoint.
    stopncii.page(200, "", [record(first, status="Withdrawn")], next_set=300)
    again = fetch_exchange(exchange=exchange, actor=None)
    assert (again.added, again.withdrawn) == (0, 1)
    assert [fetch["startTimestamp"] for fetch in stopncii.fetches] == ["10", "10", "200"]
    withdrawn = entries.get(value=first)
    assert withdrawn.disabled_reason == f"{WITHDRAWN} stopncii"
    [found] = match(queries=[Query("pdq", first)], banks=Bank.objects.all())
    assert [m.entry_id for m in found.matches] == []  # withdrawn entries stop matching

    # Sent again later: enabled again, since nobody here disabled it.
    stopncii.page(300, "", [record(first)], next_set=400)
    assert fetch_exchange(exchange=exchange, actor=None).enabled_again == 1
    assert entries.get(value=first).disabled_at is None
    assert verify_chain().ok


def test_a_fetch_cut_off_keeps_what_it_applied_and_resumes_after_it(stopncii, analyst):
    stopncii.page(10, "", [record(BASE)], next_token="p2", next_set=100)
    stopncii.page(10, "p2", [record(near(BASE, 40))], next_set=200)
    exchange = ncii_exchange(stopncii, analyst)
    cut = fetch_exchange(exchange=exchange, actor=None, max_deltas=1)
    assert (cut.added, cut.finished) == (1, False)
    exchange.refresh_from_db()
    assert exchange.checkpoint["update_time"] == 100
    stopncii.page(100, "", [record(near(BASE, 40))], next_set=200)
    rest = fetch_exchange(exchange=exchange, actor=None)
    assert (rest.added, rest.finished) == (1, True)
    assert BankEntry.objects.filter(bank__name="ncii").count() == 2


def test_an_exchange_that_fails_is_recorded_and_changes_nothing(stopncii, analyst):
    exchange = ncii_exchange(stopncii, analyst)
    stopncii.fail_fetch = True
    result = fetch_exchange(exchange=exchange, actor=None)
    assert "HTTPError" in result.error and result.added == 0
    exchange.refresh_from_db()
    assert exchange.last_error == result.error and exchange.checkpoint is None
    event = AuditEvent.objects.filter(action=AuditAction.BANK_EXCHANGE_FETCHED).last()
    assert event.data["error"] == result.error


def test_missing_credentials_are_named(stopncii, analyst, monkeypatch):
    exchange = ncii_exchange(stopncii, analyst)
    monkeypatch.delenv("STOPNCII_KEYS")
    result = fetch_exchange(exchange=exchange, actor=None)
    assert "environment variable 'STOPNCII_KEYS' is not set" in result.error


def test_a_false_positive_disables_the_entry_and_is_sent_back(stopncii, analyst, lead):
    stopncii.page(10, "", [record(BASE), record(near(BASE, 40))], next_set=100)
    exchange = ncii_exchange(stopncii, analyst)
    fetch_exchange(exchange=exchange, actor=None)
    wrong, right = BankEntry.objects.filter(bank__name="ncii").order_by("id")

    record_opinion(entry=wrong, opinion="false_positive", actor=lead, note="a stock photo")
    record_opinion(entry=right, opinion="confirmed", actor=lead)
    wrong.refresh_from_db()
    assert wrong.disabled_reason == "false positive after review: a stock photo"

    assert send_feedback(exchange=exchange)["sent"] == 2
    assert [(f["hashValue"], f["feedbackValue"]) for f in stopncii.feedback] == [
        (wrong.value, "NotBlocked"),
        (right.value, "Blocked"),
    ]
    assert set(ExchangeFeedback.objects.values_list("state", flat=True)) == {"sent"}
    # Withdrawn and sent again by the exchange: a false positive stays disabled.
    stopncii.page(100, "", [record(wrong.value)], next_set=200)
    assert fetch_exchange(exchange=exchange, actor=None).enabled_again == 0
    wrong.refresh_from_db()
    assert wrong.disabled_at is not None


def test_opinions_that_cannot_be_sent_are_kept_and_tried_again(stopncii, analyst, monkeypatch):
    stopncii.page(10, "", [record(BASE)], next_set=100)
    exchange = ncii_exchange(stopncii, analyst)
    fetch_exchange(exchange=exchange, actor=None)
    monkeypatch.setenv("STOPNCII_KEYS", "fetch-key,subscription-key")
    record_opinion(entry=BankEntry.objects.get(), opinion="confirmed", actor=analyst)
    assert send_feedback(exchange=exchange)["failed"] == 1
    assert "no feedback key" in ExchangeFeedback.objects.get().detail
    monkeypatch.setenv("STOPNCII_KEYS", "fetch-key,subscription-key,feedback-key")
    assert send_feedback(exchange=exchange)["sent"] == 1


def test_only_exchange_entries_take_an_opinion(analyst):
    bank = bank_with("manual", BASE)
    with pytest.raises(InvalidInput, match="only entries fetched from an exchange"):
        record_opinion(entry=bank.entries.get(), opinion="confirmed", actor=analyst)


# ---------------------------------------------------------------- file exchanges, schedule


def test_a_file_exchange_takes_the_file_and_keeps_a_positive_opinion_in_it(tmp_path, analyst):
    path = tmp_path / "partner.txt"
    path.write_text(f"pdq {BASE}\nvideo_md5 {MD5}\n", encoding="utf-8")
    bank = services.create_bank(name="partner", signal_type="pdq", actor=analyst)
    exchange = create_exchange(
        name="partner-file", kind="file", bank=bank, actor=analyst, location=str(path)
    )
    result = fetch_exchange(exchange=exchange, actor=None)
    assert (result.added, len(result.skipped)) == (1, 1)
    entry = BankEntry.objects.get(bank=bank)
    record_opinion(entry=entry, opinion="confirmed", actor=analyst)
    record_opinion(entry=entry, opinion="false_positive", actor=analyst)
    assert send_feedback(exchange=exchange) == {
        "pending": 0,
        "sent": 1,
        "unsupported": 1,
        "failed": 0,
    }
    assert path.read_text(encoding="utf-8").splitlines()[-1] == f"pdq {BASE}"


def test_exchange_settings_are_validated(tmp_path, analyst, settings):
    bank = bank_with("b", BASE)
    with pytest.raises(InvalidInput, match="absolute path"):
        create_exchange(name="f", kind="file", bank=bank, actor=analyst, location="rel.txt")
    with pytest.raises(InvalidInput, match="unknown exchange kind"):
        create_exchange(name="f", kind="ftp", bank=bank, actor=analyst)
    with pytest.raises(InvalidInput, match="needs credentials"):
        create_exchange(name="s", kind="stopncii", bank=bank, actor=analyst)
    with pytest.raises(InvalidInput, match="fetch every"):
        create_exchange(
            name="f",
            kind="file",
            bank=bank,
            actor=analyst,
            location=str(tmp_path / "x"),
            fetch_every=timedelta(seconds=10),
        )
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = []
    with pytest.raises(InvalidInput, match="a loopback address") as refused:
        create_exchange(
            name="s",
            kind="stopncii",
            bank=bank,
            actor=analyst,
            location="http://127.0.0.1:9/v1",
            credentials_env="X",
        )
    assert refused.value.field == "location"
    create_exchange(name="ok", kind="file", bank=bank, actor=analyst, location=str(tmp_path / "x"))
    with pytest.raises(Conflict):
        create_exchange(
            name="ok", kind="file", bank=bank, actor=analyst, location=str(tmp_path / "x")
        )


def test_the_schedule_queues_each_due_exchange_once(
    tmp_path, analyst, django_capture_on_commit_callbacks
):
    path = tmp_path / "partner.txt"
    path.write_text(f"pdq {BASE}\n", encoding="utf-8")
    exchange = create_exchange(
        name="partner", kind="file", bank=bank_with("p"), actor=analyst, location=str(path)
    )
    assert exchanges_due(now=clock.now()) == [exchange]
    with django_capture_on_commit_callbacks() as callbacks:
        assert fetch_due_exchanges() == 1
        assert fetch_due_exchanges() == 0  # queued, not yet run: not queued again
    assert len(callbacks) == 1
    fetch_exchange(exchange=exchange, actor=None)
    assert exchanges_due(now=clock.now()) == []
    assert exchanges_due(now=clock.now() + timedelta(hours=1)) == [exchange]


def test_the_command_adds_lists_and_fetches_exchanges(tmp_path, capsys, analyst):
    path = tmp_path / "partner.txt"
    path.write_text(f"pdq {BASE}\n", encoding="utf-8")
    bank_with("partner")
    call_command(
        "banks", "add-exchange", "partner", "--kind", "file", "--bank", "partner",
        "--location", str(path), "--every", "30",
    )  # fmt: skip
    call_command("banks", "fetch", "partner")
    assert "1 added" in capsys.readouterr().out
    call_command("banks", "exchanges")
    [line] = capsys.readouterr().out.splitlines()
    listed = json.loads(line)
    assert (listed["exchange"], listed["fetch_every_minutes"], listed["last_error"]) == (
        "partner",
        30,
        "",
    )
    with pytest.raises(CommandError, match="no exchange named 'nope'"):
        call_command("banks", "fetch", "nope")


# ---------------------------------------------------------------- the bank's page


def file_exchange_with(tmp_path, analyst, *values: str) -> Exchange:
    path = tmp_path / "partner.txt"
    path.write_text("".join(f"pdq {value}\n" for value in values), encoding="utf-8")
    bank = services.create_bank(name="partner", signal_type="pdq", actor=analyst)
    exchange = create_exchange(
        name="partner-file", kind="file", bank=bank, actor=analyst, location=str(path)
    )
    fetch_exchange(exchange=exchange, actor=None)
    return exchange


def test_the_bank_page_shows_its_exchanges_and_takes_opinions(tmp_path, analyst, viewer):
    file_exchange_with(tmp_path, analyst, BASE)
    entry = BankEntry.objects.get()
    client = Client()
    client.force_login(analyst)
    html = client.get("/banks/partner/").content.decode()
    assert "partner-file" in html and "every 60 min" in html and "False positive" in html

    answer = client.post(
        f"/banks/partner/entries/{entry.pk}/opinion",
        {"opinion": "false_positive", "note": "a logo"},
    )
    assert answer.status_code == 302
    feedback = ExchangeFeedback.objects.get()
    assert (feedback.opinion, feedback.note, feedback.recorded_by) == (
        "false_positive",
        "a logo",
        analyst,
    )
    entry.refresh_from_db()
    assert entry.disabled_at is not None

    watcher = Client()
    watcher.force_login(viewer)
    assert 'value="false_positive"' not in watcher.get("/banks/partner/").content.decode()
    refused = watcher.post(f"/banks/partner/entries/{entry.pk}/opinion", {"opinion": "confirmed"})
    assert refused.status_code == 403


def test_the_bank_page_costs_the_same_queries_for_one_exchange_entry_or_many(tmp_path, analyst):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    file_exchange_with(tmp_path, analyst, BASE)
    client = Client()
    client.force_login(analyst)
    with CaptureQueriesContext(connection) as one:
        client.get("/banks/partner/")
    many = [near(BASE, 40, start=start) for start in range(0, 200, 10)]
    (tmp_path / "partner.txt").write_text(
        "".join(f"pdq {value}\n" for value in many), encoding="utf-8"
    )
    fetch_exchange(exchange=Exchange.objects.get(), actor=None)
    assert BankEntry.objects.count() == 21
    with CaptureQueriesContext(connection) as twenty:
        client.get("/banks/partner/")
    assert len(twenty.captured_queries) == len(one.captured_queries)
