"""STIX 2.1 bundles for URL, domain and hash banks: exports that validate against the
OASIS JSON schemas, round trips that give the same bank, imports that skip what they
cannot use and say why."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest
from django.core.management import call_command

from watchfloor.banks import services
from watchfloor.banks.models import Bank, EntrySource
from watchfloor.banks.stix import export_stix, import_stix, pattern_for, values_of_pattern
from watchfloor.core.errors import InvalidInput

SCHEMAS = Path("/work/shared/data/stix21/schemas")
EXAMPLES = Path("/work/shared/data/stix21/examples")

pytestmark = [
    pytest.mark.usefixtures("frozen_clock"),
    pytest.mark.skipif(not SCHEMAS.exists(), reason="the shared STIX 2.1 schemas are absent"),
]


@pytest.fixture(scope="module")
def bundle_schema():
    def retrieve(uri: str):
        return json.loads((SCHEMAS / uri.split("/schemas/", 1)[1]).read_text(encoding="utf-8"))

    schema = json.loads((SCHEMAS / "common/bundle.json").read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema, retriever=retrieve)


def bank_of(name: str, signal_type: str, *values: str, labels=("phishing",), actor=None) -> Bank:
    bank = services.create_bank(name=name, signal_type=signal_type, actor=actor)
    services.add_entries(
        bank=bank,
        entries=[
            services.NewEntry(signal_type=signal_type, value=v, labels=labels, note="from a CERT")
            for v in values
        ],
        source=EntrySource.MANUAL,
        actor=actor,
    )
    return bank


VALUES = {
    "url": ["https://relief-typhoon.example/donate?id=1", "http://x.example/it's"],
    "domain": ["gcash-relief.example", "bdo-verify.example"],
    "md5": ["d41d8cd98f00b204e9800998ecf8427e"],
    "sha256": ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
}


@pytest.mark.parametrize("signal_type", sorted(VALUES))
def test_export_validates_and_round_trips(analyst, bundle_schema, signal_type):
    bank = bank_of("source", signal_type, *VALUES[signal_type], actor=analyst)
    text = export_stix(bank=bank, actor=analyst)
    bundle = json.loads(text)
    errors = [error.message[:200] for error in bundle_schema.iter_errors(bundle)]
    assert errors == []
    assert {o["type"] for o in bundle["objects"]} == {"identity", "indicator"}
    imported = import_stix(bank_name="copy", text=text, actor=analyst)
    assert imported.skipped == []
    copy = imported.bank
    assert copy.signal_type == signal_type
    original = sorted(bank.entries.values_list("value", "labels"))
    assert sorted(copy.entries.values_list("value", "labels")) == original


def test_patterns_escape_and_read_back_quotes():
    pattern = pattern_for("url", "http://x.example/it's\\here")
    assert pattern == "[url:value = 'http://x.example/it\\'s\\\\here']"
    assert values_of_pattern(pattern) == [("url", "http://x.example/it's\\here")]
    both = "[file:hashes.MD5 = 'aa' OR file:hashes.'SHA-256' = 'bb'] OR [file:hashes.MD5 = 'cc']"
    assert [kind.value for kind, _ in values_of_pattern(both)] == ["md5", "sha256", "md5"]


def test_an_import_skips_what_it_cannot_use_and_keeps_the_rest(analyst):
    bank_of("hashes", "md5", actor=analyst)
    good = "d41d8cd98f00b204e9800998ecf8427e"
    objects = [
        {
            "type": "identity",
            "spec_version": "2.1",
            "id": "identity--6c4f1b26-6f5f-4b5d-9f1e-0c6b8a0d1a11",
            "created": "2026-01-01T00:00:00Z",
            "modified": "2026-01-01T00:00:00Z",
            "name": "CERT",
        },
        _indicator("1", f"[file:hashes.MD5 = '{good}']", labels=["scam"]),
        _indicator("2", f"[file:hashes.MD5 = '{good[::-1]}' AND file:size = 10]"),
        _indicator("3", "[ipv4-addr:value = '198.51.100.1']"),
        _indicator("4", "[file:hashes.MD5 = 'not-a-hash']"),
        _indicator("5", "[url:value = 'https://a.example/']"),
        _indicator(
            "6",
            "[file:hashes.MD5 = ",
        ),
        _indicator("7", f"[file:hashes.MD5 = '{good[::-1]}']", revoked=True),
        {"type": "indicator", "id": "indicator--00000000-0000-4000-8000-000000000008"},
    ]
    text = json.dumps(
        {"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": objects}
    )
    result = import_stix(bank_name="hashes", text=text, actor=analyst)
    assert [e.value for e in result.added] == [good]
    assert result.added[0].labels == ["scam"] and "STIX indicator--" in result.added[0].note
    reasons = dict(result.skipped)
    assert "only '=' comparisons" in reasons[_id("2")]
    assert "ipv4-addr:value is not a URL" in reasons[_id("3")]
    assert "not a valid MD5 hash" in reasons[_id("4")]
    assert "the bank holds md5" in reasons[_id("5")]
    assert _id("6") in reasons and reasons[_id("7")] == "revoked"
    assert _id("8") in reasons  # missing its required properties
    assert len(reasons) == 7


def _id(number: str) -> str:
    return f"indicator--00000000-0000-4000-8000-00000000000{number}"


def _indicator(number: str, pattern: str, **extra) -> dict:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": _id(number),
        "created": "2026-01-01T00:00:00Z",
        "modified": "2026-01-01T00:00:00Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        **extra,
    }


def test_the_oasis_apt1_report_gives_its_domains_and_hashes(analyst):
    text = (EXAMPLES / "threat-reports/apt1.json").read_text(encoding="utf-8")
    services.create_bank(name="apt1-domains", signal_type="domain", actor=analyst)
    domains = import_stix(bank_name="apt1-domains", text=text, actor=analyst)
    assert {e.value for e in domains.added} == {"hugesoft.org", "arrowservice.net", "msnhome.org"}
    services.create_bank(name="apt1-md5", signal_type="md5", actor=analyst)
    hashes = import_stix(bank_name="apt1-md5", text=text, actor=analyst)
    assert len(hashes.added) == 3  # written file:hashes.md5 in the report
    assert all(reason for _, reason in hashes.skipped)  # IPs, certificates: each said why


def test_refusals(analyst):
    bank_of("photos", "pdq", actor=analyst, labels=())
    with pytest.raises(InvalidInput, match="STIX bundles carry URL, domain"):
        export_stix(bank=Bank.objects.get(name="photos"), actor=analyst)
    with pytest.raises(InvalidInput, match="one bundle"):
        import_stix(bank_name="x", text="[]", actor=analyst)
    with pytest.raises(InvalidInput, match="has no entries to say its signal type"):
        import_stix(bank_name="new", text='{"type": "bundle", "objects": []}', actor=analyst)


def test_the_cli_round_trip(analyst, tmp_path, capsys):
    bank_of("phish", "domain", *VALUES["domain"], actor=analyst)
    call_command("banks", "export", "phish", "--format", "stix")
    path = tmp_path / "phish.json"
    path.write_text(capsys.readouterr().out, encoding="utf-8")
    call_command("banks", "import", "phish-copy", str(path), "--format", "stix")
    assert "phish-copy: 2 entries added" in capsys.readouterr().err
    assert set(Bank.objects.get(name="phish-copy").entries.values_list("value", flat=True)) == set(
        VALUES["domain"]
    )
