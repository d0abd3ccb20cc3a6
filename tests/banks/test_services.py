"""Banks end to end on a real database: need-to-know, allow banks, disabling, the API, CSV."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import call_command

from watchfloor.banks import services
from watchfloor.banks.index import hash_to_hex, parse_pdq_hex
from watchfloor.banks.matcher import PDQ_MATCHER, Query, match
from watchfloor.banks.models import Bank, EntrySource
from watchfloor.banks.selectors import access_bank, banks_visible_to
from watchfloor.core.errors import NotFound
from watchfloor.people.api_tokens import create_api_token

pytestmark = pytest.mark.django_db

BASE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def near(value: str, distance: int, start: int = 0) -> str:
    words = parse_pdq_hex(value)
    for bit in range(start, start + distance):
        words[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
    return hash_to_hex(words)


def bank_with(name: str, *values: str, actor=None, **options) -> Bank:
    bank = services.create_bank(name=name, signal_type="pdq", actor=actor, **options)
    services.add_entries(
        bank=bank,
        entries=[services.NewEntry(signal_type="pdq", value=v) for v in values],
        source=EntrySource.MANUAL,
        actor=actor,
    )
    return bank


def test_matches_within_the_bank_threshold_with_distances(analyst):
    bank_with("livestream", BASE, near(BASE, 40, start=100), actor=analyst)
    bank_with("tight", near(BASE, 20, start=200), actor=analyst, threshold=10)
    [result] = match(queries=[Query("pdq", near(BASE, 31))], banks=Bank.objects.all())
    assert [(m.bank, m.distance) for m in result.matches] == [("livestream", 31)]
    [exact] = match(queries=[Query("pdq", BASE)], banks=Bank.objects.all())
    assert [(m.bank, m.distance) for m in exact.matches] == [("livestream", 0)]


def test_restricted_bank_is_hidden_from_others(analyst, other_analyst, lead):
    bank_with("ncii", BASE, actor=lead, is_restricted=True)
    assert list(banks_visible_to(analyst)) == []
    with pytest.raises(NotFound, match="no bank named 'ncii'"):
        access_bank(analyst, "ncii")
    [hidden] = match(queries=[Query("pdq", BASE)], banks=banks_visible_to(analyst))
    assert hidden.matches == []
    services.change_bank(bank=Bank.objects.get(name="ncii"), actor=lead, grant_access_to=[analyst])
    [seen] = match(queries=[Query("pdq", BASE)], banks=banks_visible_to(analyst))
    assert [m.bank for m in seen.matches] == ["ncii"]
    assert list(banks_visible_to(other_analyst)) == []


def test_allow_bank_suppresses_matches(analyst):
    bank_with("terror", BASE, actor=analyst)
    bank_with("logos", near(BASE, 3), actor=analyst, is_allow_bank=True)
    [result] = match(queries=[Query("pdq", BASE)], banks=Bank.objects.all())
    assert result.matches == []
    assert [(m.bank, m.distance) for m in result.suppressed_by] == [("logos", 3)]


def test_added_and_disabled_entries_take_effect_on_the_next_lookup(analyst):
    bank = bank_with("wave", actor=analyst)
    assert match(queries=[Query("pdq", BASE)], banks=Bank.objects.all())[0].matches == []
    [entry] = services.add_entries(
        bank=bank,
        entries=[services.NewEntry(signal_type="pdq", value=BASE)],
        source=EntrySource.API,
        actor=analyst,
    )
    assert [
        m.entry_id for m in match(queries=[Query("pdq", BASE)], banks=Bank.objects.all())[0].matches
    ] == [entry.pk]
    services.disable_entry(entry=entry, reason="false positive: a stock photo", actor=analyst)
    assert match(queries=[Query("pdq", BASE)], banks=Bank.objects.all())[0].matches == []
    services.enable_entry(entry=entry, actor=analyst)
    assert len(match(queries=[Query("pdq", BASE)], banks=Bank.objects.all())[0].matches) == 1
    entry.refresh_from_db()
    assert entry.disabled_at is None  # never deleted


def test_a_fresh_process_rebuilds_from_the_database(analyst):
    bank_with("wave", BASE, actor=analyst)
    match(queries=[Query("pdq", BASE)], banks=Bank.objects.all())
    PDQ_MATCHER.reset()  # another process starting
    assert len(match(queries=[Query("pdq", BASE)], banks=Bank.objects.all())[0].matches) == 1


def test_api_answers_each_item_and_needs_the_matcher_scope(client, analyst):
    bank_with("livestream", BASE, actor=analyst)
    _, secret = create_api_token(
        user=analyst, name="upload pipeline", scopes=["matcher"], actor=None
    )
    _, reader = create_api_token(user=analyst, name="reader", scopes=["read"], actor=None)
    body = {
        "queries": [
            {"value": near(BASE, 5)},
            {"value": BASE[:-1]},
            {"value": "zz" + BASE[2:]},
            {"signal_type": "vpdq", "value": BASE},
            {"signal_type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"},
        ]
    }
    response = client.post(
        "/api/v1/match",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(m["bank"], m["distance"]) for m in results[0]["matches"]] == [("livestream", 5)]
    assert "got 63" in results[1]["error"]["message"]
    assert results[1]["error"]["field"] == "queries.1.value"
    assert "0-9 and a-f" in results[2]["error"]["message"]
    assert results[3]["error"]["field"] == "queries.3.signal_type"
    assert results[4]["error"] is None and results[4]["matches"] == []
    unknown = client.post(
        "/api/v1/match",
        json.dumps({"queries": [{"value": BASE}], "banks": ["nope"]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert unknown.json()["results"][0]["error"]["code"] == "not_found"
    too_many = client.post(
        "/api/v1/match",
        json.dumps({"queries": [{"value": BASE}] * 1001}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert too_many.status_code == 400 and "at most 1000" in too_many.json()["message"]
    refused = client.post(
        "/api/v1/match",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {reader}",
    )
    assert refused.status_code == 403 and refused.json()["code"] == "token_scope"


def test_csv_export_then_import_gives_the_same_bank(analyst, tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text(
        "signal_type,signal_value,labels\n"
        f"pdq,{BASE.upper()},violent_extremism livestream\n"
        f"pdq,{near(BASE, 33, start=100)},violent_extremism\n"
    )
    call_command("banks", "import", "attack-2026", str(source))
    call_command("banks", "export", "attack-2026")
    exported = capsys.readouterr().out
    copy = tmp_path / "out.csv"
    copy.write_text(exported)
    call_command("banks", "import", "attack-copy", str(copy))
    call_command("banks", "export", "attack-copy")
    assert capsys.readouterr().out == exported
    assert f"pdq,{BASE},livestream violent_extremism" in exported
    call_command("match", near(BASE, 2), "--bank", "attack-2026")
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    assert [(m["bank"], m["distance"]) for m in line["matches"]] == [("attack-2026", 2)]
