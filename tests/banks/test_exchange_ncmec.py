"""NCMEC's hash sharing API as an exchange: a real HTTP server on 127.0.0.1 speaking
its XML as python-threatexchange's client calls it (``/v2/entries`` by time window,
paged by ``paging/next``, basic auth, feedback PUTs and reasons), fetched from the
checkpoint, deleted entries withdrawn, refused credentials, a failing server, opinions
sent back."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import pytest
from django.core.management import call_command

from tests.banks.local_http import JsonHandler, serving
from tests.banks.test_services import BASE, near
from watchfloor.audit.selectors import verify_chain
from watchfloor.banks import services
from watchfloor.banks.exchange_feedback import record_opinion, send_feedback
from watchfloor.banks.exchanges import WITHDRAWN, create_exchange, fetch_exchange
from watchfloor.banks.models import BankEntry, Exchange, ExchangeFeedback
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput

CREDENTIALS = "esp-user:esp-password"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def stamp(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime(STAMP)


def seconds(text: str) -> int:
    return int(datetime.strptime(text, STAMP).replace(tzinfo=UTC).timestamp())


@dataclass
class Entry:
    member: int
    id: str
    ts: int
    pdq: str = ""
    md5: str = ""
    kind: str = "image"
    deleted: bool = False

    def xml(self) -> str:
        tag = f"deleted{self.kind.title()}" if self.deleted else self.kind
        prints = "".join(
            f"<{name}>{value}</{name}>" for name, value in (("pdq", self.pdq), ("md5", self.md5))
            if value and not self.deleted
        )  # fmt: skip
        return (
            f"<{tag}><id>{self.id}</id><member id='{self.member}'>ESP {self.member}</member>"
            f"<classification>A1</classification><fingerprints>{prints}</fingerprints></{tag}>"
        )


@dataclass
class NCMEC:
    """Entries answered by time window (``from`` ≤ ts ≤ ``to``), ``page_size`` at a time."""

    entries: list[Entry] = field(default_factory=list)
    page_size: int = 2
    windows: list[tuple[int, int]] = field(default_factory=list)
    feedback: list[tuple[str, str]] = field(default_factory=list)
    fail_with: int = 0
    failed: int = 0
    url: str = ""


@pytest.fixture
def ncmec(settings, monkeypatch) -> Iterator[NCMEC]:
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    monkeypatch.setenv("NCMEC_CREDENTIALS", CREDENTIALS)
    state = NCMEC()
    expected = "Basic " + base64.b64encode(CREDENTIALS.encode()).decode()

    class Handler(JsonHandler):
        def _xml(self, status: int, body: str) -> None:
            data = f"<?xml version='1.0'?>{body}".encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == expected:
                return True
            self._xml(401, "<error>unauthorised</error>")
            return False

        def do_GET(self) -> None:
            path, query = self.path_and_query()
            if not self._authorised():
                return None
            if state.fail_with:
                state.failed += 1
                return self._xml(state.fail_with, "<error>down</error>")
            if path.endswith("/feedback/PDQ/reasons"):
                return self._xml(
                    200,
                    "<feedbackReasons><availableFeedbackReasons>"
                    "<reason guid='g-not-csam' name='Not CSAM'/>"
                    "</availableFeedbackReasons></feedbackReasons>",
                )
            start, end = seconds(query["from"]), seconds(query["to"])
            state.windows.append((start, end))
            inside = [e for e in state.entries if start <= e.ts <= end]
            offset = int(query.get("start", 0))
            page = inside[offset : offset + state.page_size]
            body = ""
            for kind in ("image", "video"):
                of_kind = [e for e in page if e.kind == kind]
                if of_kind:
                    top = stamp(max(e.ts for e in of_kind))
                    body += f"<{kind}s count='{len(of_kind)}' maxTimestamp='{top}'>"
                    body += "".join(e.xml() for e in of_kind) + f"</{kind}s>"
            if offset + state.page_size < len(inside):
                more = {
                    "from": query["from"],
                    "to": query["to"],
                    "start": offset + state.page_size,
                    "size": state.page_size,
                    "max": len(inside),
                }
                next_page = escape(f"/v2/entries?{urlencode(more)}")
                body += f"<paging><next>{next_page}</next></paging>"
            return self._xml(200, f"<queryResult xmlns='urn:x'>{body}</queryResult>")

        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            if not self._authorised():
                return None
            vote = "negative g-not-csam" if "g-not-csam" in body else "affirmative"
            state.feedback.append((self.path, vote))
            return self._xml(200, "<ok/>")

    with serving(Handler) as url:
        state.url = url
        yield state


def ncmec_exchange(ncmec: NCMEC, analyst) -> Exchange:
    bank = services.create_bank(name="ncmec", signal_type="pdq", actor=analyst)
    return create_exchange(
        name="ncmec",
        kind="ncmec",
        bank=bank,
        actor=analyst,
        location=ncmec.url,
        credentials_env="NCMEC_CREDENTIALS",
    )


def recent(hours: int) -> int:
    return int(clock.now().timestamp()) - hours * 3600


def test_a_fetch_takes_every_entry_and_withdraws_deleted_ones(ncmec, analyst):
    first, second, third = BASE, near(BASE, 40), near(BASE, 40, start=100)
    ncmec.entries = [
        Entry(42, "e1", recent(50), pdq=first, md5=MD5),
        Entry(42, "e2", recent(40), pdq=second),
        Entry(7, "e3", recent(30), pdq=third),
        Entry(7, "e4", recent(20), pdq=first),  # the same hash from another member
        Entry(7, "v1", recent(10), md5=MD5, kind="video"),
        Entry(9, "e5", recent(5), pdq="zz"),
    ]
    exchange = ncmec_exchange(ncmec, analyst)
    result = fetch_exchange(exchange=exchange, actor=None)
    assert (result.added, result.error, result.finished) == (3, "", True)
    assert {(kind, reason.split(":")[0]) for kind, _, reason in result.skipped} == {
        ("video_md5", "bank 'ncmec' holds pdq"),
        ("pdq", "not a valid pdq signal"),
    }
    entries = BankEntry.objects.filter(bank__name="ncmec")
    assert {e.value for e in entries} == {first, second, third}
    exchange.refresh_from_db()
    assert exchange.checkpoint["get_entries_max_ts"] >= recent(0) - 10
    assert exchange.checkpoint["paging_info"] is None

    # The next fetch starts where the last one ended. Entry e1 deleted: its hash is still
    # held by e4; e2 deleted: nothing holds its hash any more.
    since = recent(3)
    exchange.checkpoint = {"get_entries_max_ts": since, "paging_info": None}
    exchange.save(update_fields=["checkpoint"])
    ncmec.windows.clear()
    ncmec.entries = [
        Entry(42, "e1", recent(2), deleted=True),
        Entry(42, "e2", recent(2), deleted=True),
    ]
    again = fetch_exchange(exchange=exchange, actor=None)
    assert ncmec.windows[0][0] == since
    assert (again.added, again.withdrawn, again.error) == (0, 1, "")
    assert entries.get(value=second).disabled_reason == f"{WITHDRAWN} ncmec"
    assert entries.get(value=first).disabled_at is None
    assert verify_chain().ok


def test_refused_credentials_are_named(ncmec, analyst, monkeypatch):
    exchange = ncmec_exchange(ncmec, analyst)
    monkeypatch.setenv("NCMEC_CREDENTIALS", "esp-user:wrong")
    result = fetch_exchange(exchange=exchange, actor=None)
    assert "HTTP 401" in result.error and "check the user:password in NCMEC_CREDENTIALS" in (
        result.error
    )
    assert "wrong" not in result.error
    monkeypatch.delenv("NCMEC_CREDENTIALS")
    missing = fetch_exchange(exchange=exchange, actor=None)
    assert "environment variable 'NCMEC_CREDENTIALS' is not set" in missing.error
    monkeypatch.setenv("NCMEC_CREDENTIALS", "no-password")
    assert "'user:password'" in fetch_exchange(exchange=exchange, actor=None).error


def test_a_server_error_is_recorded_and_changes_nothing(ncmec, analyst):
    ncmec.entries = [Entry(42, "e1", recent(5), pdq=BASE)]
    ncmec.fail_with = 500
    exchange = ncmec_exchange(ncmec, analyst)
    result = fetch_exchange(exchange=exchange, actor=None)
    assert "too many 500 error responses" in result.error
    assert ncmec.failed == 3  # asked twice more before giving up
    exchange.refresh_from_db()
    assert exchange.checkpoint is None and exchange.last_error == result.error
    assert not BankEntry.objects.exists()


def test_opinions_are_sent_as_feedback_on_each_entry_holding_the_value(ncmec, analyst, lead):
    ncmec.entries = [
        Entry(42, "e1", recent(50), pdq=BASE),
        Entry(7, "e4", recent(20), pdq=BASE),
        Entry(7, "e5", recent(10), pdq=near(BASE, 40)),
    ]
    exchange = ncmec_exchange(ncmec, analyst)
    fetch_exchange(exchange=exchange, actor=None)
    shared, other = BankEntry.objects.filter(bank__name="ncmec").order_by("value")
    if shared.value != BASE:
        shared, other = other, shared
    record_opinion(entry=shared, opinion="confirmed", actor=lead)
    record_opinion(entry=other, opinion="false_positive", actor=lead)
    assert send_feedback(exchange=exchange)["sent"] == 2
    assert sorted(ncmec.feedback) == [
        ("/v2/entries/42/e1/PDQ/feedback", "affirmative"),
        ("/v2/entries/7/e4/PDQ/feedback", "affirmative"),
        ("/v2/entries/7/e5/PDQ/feedback", "negative g-not-csam"),
    ]
    assert set(ExchangeFeedback.objects.values_list("state", flat=True)) == {"sent"}


def test_ncmec_settings_are_validated_and_the_command_adds_one(ncmec, analyst, capsys):
    bank = services.create_bank(name="b", signal_type="pdq", actor=analyst)
    with pytest.raises(InvalidInput, match="NCMEC needs credentials"):
        create_exchange(name="n", kind="ncmec", bank=bank, actor=analyst)
    ncmec.entries = [Entry(42, "e1", recent(5), pdq=BASE)]
    call_command(
        "banks", "add-exchange", "n", "--kind", "ncmec", "--bank", "b",
        "--credentials-env", "NCMEC_CREDENTIALS", "--location", ncmec.url,
    )  # fmt: skip
    call_command("banks", "fetch", "n")
    assert "1 added" in capsys.readouterr().out
