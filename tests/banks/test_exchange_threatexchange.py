"""Meta's ThreatExchange as an exchange: a real HTTP server on 127.0.0.1 speaking the
Graph API as python-threatexchange's client calls it (a privacy group's
``threat_updates`` paged by ``paging.next``, descriptor search, reactions), fetched from
the checkpoint, withdrawals, a refused token, an unknown group, a failing server, and
opinions sent back as reactions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.management import call_command

from tests.banks.local_http import JsonHandler, serving
from tests.banks.test_services import BASE, near
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.selectors import verify_chain
from watchfloor.banks import services
from watchfloor.banks.exchange_apis import exchange_api
from watchfloor.banks.exchange_feedback import record_opinion, send_feedback
from watchfloor.banks.exchanges import WITHDRAWN, create_exchange, fetch_exchange
from watchfloor.banks.models import BankEntry, Exchange, ExchangeFeedback
from watchfloor.banks.pytx import pytx_signal_types
from watchfloor.core.errors import InvalidInput

APP_ID = "1234567890"
SECRET = "s3cret-app-secret-0123456789"
TOKEN = f"{APP_ID}|{SECRET}"
GROUP = 303
PARTNER_APP = "5550001111"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def descriptor_id(value: str) -> str:
    return str(int(hashlib.sha256(value.encode()).hexdigest()[:12], 16))


def update(value: str, time: int, *, kind="HASH_PDQ", deleted=False, tags=("csam",)) -> dict:
    """One ``threat_updates`` record, as the Graph API sends it with the fields the
    package asks for."""
    return {
        "id": str(int(descriptor_id(value)) + 1),
        "indicator": value,
        "type": kind,
        "last_updated": time,
        "should_delete": deleted,
        "descriptors": {
            "data": [
                {
                    "id": descriptor_id(value),
                    "owner": {"id": PARTNER_APP},
                    "status": "MALICIOUS",
                    "tags": list(tags),
                    "reactions": [],
                }
            ]
        },
    }


@dataclass
class Graph:
    """A privacy group's updates, answered ``page_size`` at a time from ``start_time``
    (inclusive) with an ``after`` cursor in ``paging.next``; descriptors searched by
    text; reactions recorded."""

    updates: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    reactions: list[tuple[str, str]] = field(default_factory=list)
    fail_with: int = 0
    refuse_reactions: bool = False
    next_host: str = ""
    url: str = ""


@pytest.fixture
def graph(settings, monkeypatch) -> Iterator[Graph]:
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    monkeypatch.setenv("TX_TOKEN", TOKEN)
    state = Graph()

    class Handler(JsonHandler):
        def _error(self, status: int, kind: str, code: int, message: str) -> None:
            self.answer(status, {"error": {"message": message, "type": kind, "code": code}})

        def _query(self) -> tuple[str, dict[str, str]]:
            path, query = self.path_and_query()
            state.requests.append((path, query))
            return path, query

        def do_GET(self) -> None:
            path, query = self._query()
            if query.get("access_token") != TOKEN:
                return self._error(400, "OAuthException", 190, "Invalid OAuth access token.")
            if state.fail_with:
                return self._error(state.fail_with, "OAuthException", 2, "Service unavailable")
            if path == "/threat_descriptors":
                found = [
                    {"id": u["descriptors"]["data"][0]["id"], "raw_indicator": u["indicator"],
                     "type": u["type"]}
                    for u in state.updates
                    if u["indicator"] == query.get("text")
                ]  # fmt: skip
                return self.answer(200, {"data": found, "paging": {}})
            if path != f"/{GROUP}/threat_updates/":
                group = path.strip("/").split("/")[0]
                return self._error(
                    400,
                    "GraphMethodException",
                    100,
                    f"Unsupported get request. Object with ID '{group}' does not exist",
                )
            start = int(query.get("start_time", 0))
            since = [u for u in state.updates if u["last_updated"] >= start]
            offset = int(query.get("after", 0))
            page = since[offset : offset + state.page_size]
            paging = {}
            if offset + state.page_size < len(since):
                after = {"access_token": TOKEN, "after": offset + state.page_size}
                host = state.next_host or state.url
                paging["next"] = (
                    f"{host}/{GROUP}/threat_updates/?{urlencode(after)}&start_time={start}"
                )
            return self.answer(200, {"data": page, "paging": paging})

        def do_POST(self) -> None:
            path, query = self._query()
            if query.get("access_token") != TOKEN:
                return self._error(400, "OAuthException", 190, "Invalid OAuth access token.")
            if state.refuse_reactions:
                return self._error(400, "OAuthException", 200, "Permissions error")
            state.reactions.append((path.strip("/"), query["reactions"]))
            return self.answer(200, {"success": True})

    with serving(Handler) as url:
        state.url = url
        yield state


def tx_exchange(graph: Graph, analyst, *, group: int = GROUP) -> Exchange:
    bank = services.create_bank(name="tx", signal_type="pdq", actor=analyst, is_restricted=True)
    return create_exchange(
        name="threatexchange",
        kind="threatexchange",
        bank=bank,
        actor=analyst,
        location=graph.url,
        credentials_env="TX_TOKEN",
        privacy_group=group,
    )


def updates_asked(graph: Graph) -> list[dict[str, str]]:
    return [query for path, query in graph.requests if path.endswith("/threat_updates/")]


def test_a_fetch_walks_every_page_and_the_next_resumes_from_the_checkpoint(graph, analyst):
    first, second, third = BASE, near(BASE, 40), near(BASE, 40, start=100)
    graph.updates = [
        update(first, 100),
        update(second, 110),
        update("0123", 115, kind="HASH_TMK"),
        update(MD5, 118, kind="HASH_MD5", tags=("photo",)),  # not a video's: left out
        update(third, 120),
    ]
    exchange = tx_exchange(graph, analyst)

    result = fetch_exchange(exchange=exchange, actor=None)
    assert (result.deltas, result.added, result.error) == (3, 3, "")
    assert [(kind, reason) for kind, _, reason in result.skipped] == [
        ("HASH_TMK", "bank 'tx' holds pdq")
    ]
    entries = BankEntry.objects.filter(bank__name="tx")
    assert {e.value for e in entries} == {first, second, third}
    assert all("exchange:threatexchange" in e.labels for e in entries)
    exchange.refresh_from_db()
    assert exchange.checkpoint["update_time"] == 120
    asked = updates_asked(graph)
    assert "start_time" not in asked[0] and [q.get("after") for q in asked] == [None, "2", "4"]
    assert asked[0]["fields"].startswith("id,indicator,type,last_updated,should_delete,")
    assert "descriptors{id,reactions,owner{id},tags,status}" in asked[0]["fields"]

    # The next fetch asks from the checkpoint; a deleted indicator is withdrawn.
    graph.requests.clear()
    graph.updates = [update(third, 120), update(first, 130, deleted=True)]
    again = fetch_exchange(exchange=exchange, actor=None)
    assert (again.added, again.withdrawn, again.unchanged) == (0, 1, 1)
    assert updates_asked(graph)[0]["start_time"] == "120"
    assert entries.get(value=first).disabled_reason == f"{WITHDRAWN} threatexchange"

    # Shared again later: enabled again.
    graph.updates = [update(first, 140)]
    assert fetch_exchange(exchange=exchange, actor=None).enabled_again == 1
    assert verify_chain().ok


def test_an_indicator_whose_descriptors_are_all_gone_is_withdrawn(graph, analyst):
    graph.updates = [update(BASE, 100)]
    exchange = tx_exchange(graph, analyst)
    fetch_exchange(exchange=exchange, actor=None)
    expired = update(BASE, 150)
    expired["descriptors"] = {"data": []}  # expired, or no longer visible to this app
    graph.updates = [expired]
    assert fetch_exchange(exchange=exchange, actor=None).withdrawn == 1


def test_a_fetch_cut_off_resumes_after_the_last_page_applied(graph, analyst):
    graph.updates = [update(near(BASE, 40, start=s), 100 + s) for s in range(0, 60, 10)]
    exchange = tx_exchange(graph, analyst)
    cut = fetch_exchange(exchange=exchange, actor=None, max_deltas=1)
    assert (cut.added, cut.finished) == (2, False)
    rest = fetch_exchange(exchange=exchange, actor=None)
    assert (rest.added, rest.finished, rest.error) == (4, True, "")
    assert BankEntry.objects.filter(bank__name="tx").count() == 6


def test_an_empty_page_moves_the_checkpoint_where_the_package_stops(graph, analyst):
    graph.updates = [update(BASE, 100)]
    exchange = tx_exchange(graph, analyst)
    fetch_exchange(exchange=exchange, actor=None)
    exchange.refresh_from_db()
    first_fetch_time = exchange.checkpoint["last_fetch_time"]
    graph.updates = []  # nothing new since the checkpoint

    # python-threatexchange 1.2.17's own fetch_iter asserts on the empty page.
    api = exchange_api(exchange)
    with pytest.raises(AssertionError, match="empty update"):
        list(api.fetch_iter(pytx_signal_types(), None))

    quiet = fetch_exchange(exchange=exchange, actor=None)
    assert (quiet.deltas, quiet.added, quiet.error) == (1, 0, "")
    exchange.refresh_from_db()
    assert exchange.checkpoint["update_time"] == 100
    assert exchange.checkpoint["last_fetch_time"] >= first_fetch_time


def test_a_refused_token_is_explained_without_the_token(graph, analyst, monkeypatch):
    exchange = tx_exchange(graph, analyst)
    monkeypatch.setenv("TX_TOKEN", f"{APP_ID}|another-secret-0123456789")
    result = fetch_exchange(exchange=exchange, actor=None)
    assert "Invalid OAuth access token" in result.error
    assert "check the token in TX_TOKEN" in result.error
    assert "another-secret" not in result.error and SECRET not in result.error
    exchange.refresh_from_db()
    assert exchange.last_error == result.error and exchange.checkpoint is None
    event = AuditEvent.objects.filter(action=AuditAction.BANK_EXCHANGE_FETCHED).last()
    assert event.data["error"] == result.error


def test_an_unknown_privacy_group_is_named(graph, analyst):
    exchange = tx_exchange(graph, analyst, group=404)
    result = fetch_exchange(exchange=exchange, actor=None)
    assert "privacy group 404" in result.error
    assert "Object with ID '404' does not exist" in result.error
    assert "a privacy group this app is a member of" in result.error


def test_a_server_error_is_recorded_and_changes_nothing(graph, analyst):
    exchange = tx_exchange(graph, analyst)
    graph.updates = [update(BASE, 100)]
    graph.fail_with = 503
    result = fetch_exchange(exchange=exchange, actor=None)
    assert "HTTP 503" in result.error and "Service unavailable" in result.error
    assert len(updates_asked(graph)) == 3  # asked again twice before giving up
    assert SECRET not in result.error and result.added == 0
    exchange.refresh_from_db()
    assert exchange.checkpoint is None and exchange.last_error == result.error


def test_a_next_page_at_another_address_is_not_followed(graph, analyst):
    graph.updates = [update(near(BASE, 40, start=s), 100 + s) for s in range(0, 40, 10)]
    graph.next_host = "http://127.0.0.2:9"
    exchange = tx_exchange(graph, analyst)
    result = fetch_exchange(exchange=exchange, actor=None)
    assert (result.added, result.deltas) == (2, 1)
    assert "next page at another address (127.0.0.2:9)" in result.error


def test_a_missing_or_malformed_token_is_named(graph, analyst, monkeypatch):
    exchange = tx_exchange(graph, analyst)
    monkeypatch.delenv("TX_TOKEN")
    assert (
        "environment variable 'TX_TOKEN' is not set"
        in fetch_exchange(exchange=exchange, actor=None).error
    )
    monkeypatch.setenv("TX_TOKEN", "not-a-token")
    assert "APP_ID|SECRET" in fetch_exchange(exchange=exchange, actor=None).error
    assert graph.requests == []


def test_threatexchange_settings_are_validated(graph, analyst):
    bank = services.create_bank(name="b", signal_type="pdq", actor=analyst)
    with pytest.raises(InvalidInput, match="fetches one privacy group") as missing:
        create_exchange(
            name="t", kind="threatexchange", bank=bank, actor=analyst, credentials_env="TX_TOKEN"
        )
    assert missing.value.field == "privacy_group"
    with pytest.raises(InvalidInput, match="needs credentials"):
        create_exchange(name="t", kind="threatexchange", bank=bank, actor=analyst, privacy_group=1)
    with pytest.raises(InvalidInput, match="only a ThreatExchange exchange"):
        create_exchange(
            name="s",
            kind="stopncii",
            bank=bank,
            actor=analyst,
            credentials_env="K",
            privacy_group=1,
        )
    with pytest.raises(InvalidInput, match="got -5"):
        create_exchange(
            name="t",
            kind="threatexchange",
            bank=bank,
            actor=analyst,
            credentials_env="TX_TOKEN",
            privacy_group=-5,
        )


def test_opinions_are_sent_as_reactions_on_the_descriptors(graph, analyst, lead):
    graph.updates = [update(BASE, 100), update(near(BASE, 40), 110)]
    exchange = tx_exchange(graph, analyst)
    fetch_exchange(exchange=exchange, actor=None)
    wrong, right = BankEntry.objects.filter(bank__name="tx").order_by("id")
    record_opinion(entry=wrong, opinion="false_positive", actor=lead, note="a stock photo")
    record_opinion(entry=right, opinion="confirmed", actor=lead)

    assert send_feedback(exchange=exchange)["sent"] == 2
    assert graph.reactions == [
        (descriptor_id(wrong.value), "DISAGREE_WITH_TAGS"),
        (descriptor_id(right.value), "HELPFUL"),
    ]
    searched = [q for path, q in graph.requests if path == "/threat_descriptors"]
    assert [(q["text"], q["privacy_groups"], q["strict_text"]) for q in searched] == [
        (wrong.value, str(GROUP), "true"),
        (right.value, str(GROUP), "true"),
    ]


def test_a_refused_reaction_is_kept_and_tried_again(graph, analyst):
    graph.updates = [update(BASE, 100)]
    exchange = tx_exchange(graph, analyst)
    fetch_exchange(exchange=exchange, actor=None)
    record_opinion(entry=BankEntry.objects.get(), opinion="confirmed", actor=analyst)
    graph.refuse_reactions = True
    assert send_feedback(exchange=exchange)["failed"] == 1
    detail = ExchangeFeedback.objects.get().detail
    assert "refused the HELPFUL reaction" in detail and "Permissions error" in detail
    graph.refuse_reactions = False
    graph.updates = []  # deleted on ThreatExchange since: nothing left to react to
    assert send_feedback(exchange=exchange)["failed"] == 1
    assert "no descriptor of this pdq" in ExchangeFeedback.objects.get().detail
    graph.updates = [update(BASE, 100)]
    assert send_feedback(exchange=exchange)["sent"] == 1


def test_the_command_adds_a_threatexchange_privacy_group(graph, analyst, capsys):
    services.create_bank(name="tx", signal_type="pdq", actor=analyst)
    graph.updates = [update(BASE, 100)]
    call_command(
        "banks", "add-exchange", "te", "--kind", "threatexchange", "--bank", "tx",
        "--credentials-env", "TX_TOKEN", "--privacy-group", str(GROUP),
        "--location", graph.url,
    )  # fmt: skip
    call_command("banks", "fetch", "te")
    assert "1 added" in capsys.readouterr().out
    call_command("banks", "exchanges")
    listed = json.loads(capsys.readouterr().out)
    assert (listed["kind"], listed["privacy_group"], listed["last_error"]) == (
        "threatexchange",
        GROUP,
        "",
    )
