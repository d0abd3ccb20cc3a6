"""The signal contract: what is accepted, in what canonical form, and why a signal is
rejected; files (JSON Lines, CSV, gzip) with line numbers; agreement with the JSON Schema."""

from __future__ import annotations

import copy
import gzip
import io
import json
import math
import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchfloor.signals import contract

try:
    import jsonschema_rs
except ImportError:  # pragma: no cover - schemathesis brings it
    jsonschema_rs = None
from watchfloor.signals.contract import (
    Reason,
    SignalFileError,
    SignalInput,
    SignalRejected,
    load_signal_file,
    parse_csv,
    parse_jsonl_lines,
    parse_signal,
    parse_signals,
    reading,
)
from watchfloor.signals.contract.signal import TOP_LEVEL_FIELDS

PDQ = "d8f8f0cce0f4a84f0e370a22028f67f0b36e2ed596623e1d33e6b39c4e9c9b22"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "signals.md"


def minimal() -> dict[str, Any]:
    return {
        "id": "rpt-0001",
        "received_at": "2026-11-24T09:30:00+09:00",
        "source": "user_report",
        "subject": {"kind": "post", "ref": "post:1234567890"},
    }


def full() -> dict[str, Any]:
    return {
        **minimal(),
        "text": "台風の義援金を装った詐欺アカウントです。振り込まないでください。",
        "url": "https://example.com/post/1?utm_source=share",
        "media": {"pdq": PDQ.upper(), "pdq_quality": 92, "md5": "A" * 32, "sha256": "b" * 64},
        "market": "JP",
        "language": "ja",
        "policy_hint": "scams_fraud",
        "reach": {"impressions": 120000, "followers": 5300, "shares": 410},
        "reporter": "user:98765",
        "attributes": {"app": "ios", "report_reason": ["scam", "impersonation"]},
    }


def rejection(data: Any) -> SignalRejected:
    with pytest.raises(SignalRejected) as caught:
        parse_signal(data)
    return caught.value


# ---------------------------------------------------------------------------
# Accepted signals


def test_a_full_signal_is_parsed_into_canonical_form():
    signal = parse_signal(full())

    assert signal.id == "rpt-0001"
    assert signal.received_at == datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
    assert signal.received_at.utcoffset().total_seconds() == 0
    assert (signal.source, signal.subject_kind, signal.subject_ref) == (
        "user_report",
        "post",
        "post:1234567890",
    )
    assert signal.media_pdq == bytes.fromhex(PDQ)
    assert signal.media_pdq_hex == PDQ
    assert signal.media_pdq_quality == 92
    assert signal.media_md5 == "a" * 32
    assert signal.media_sha256 == "b" * 64
    assert (signal.reach_impressions, signal.reach_followers, signal.reach_shares) == (
        120000,
        5300,
        410,
    )
    assert signal.attributes == {"app": "ios", "report_reason": ["scam", "impersonation"]}


def test_a_minimal_signal_leaves_every_optional_field_empty():
    signal = parse_signal(minimal())

    assert signal.text is None and signal.url is None and signal.media_pdq is None
    assert signal.market is None and signal.language is None and signal.reach_shares is None
    assert signal.attributes == {}


def test_null_optional_fields_mean_absent():
    data = minimal() | {
        "text": None,
        "media": None,
        "reach": {"impressions": None, "shares": 3},
        "attributes": None,
    }

    signal = parse_signal(data)

    assert signal.text is None and signal.media_pdq is None
    assert (signal.reach_impressions, signal.reach_shares) == (None, 3)


def test_signal_input_is_immutable():
    signal = parse_signal(minimal())
    with pytest.raises(AttributeError):
        signal.id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("ja", "ja"),
        ("ZH-hant-tw", "zh-Hant-TW"),
        ("en-us", "en-US"),
        ("es-419", "es-419"),
        ("sl-rozaj", "sl-rozaj"),
    ],
)
def test_language_tags_are_stored_in_canonical_case(given, stored):
    assert parse_signal(minimal() | {"language": given}).language == stored


@pytest.mark.parametrize(
    ("timestamp", "utc"),
    [
        ("2026-11-24T00:30:00Z", datetime(2026, 11, 24, 0, 30, tzinfo=UTC)),
        ("2026-11-24t00:30:00z", datetime(2026, 11, 24, 0, 30, tzinfo=UTC)),
        ("2026-11-24T08:00:00.123456789+05:30", datetime(2026, 11, 24, 2, 30, 0, 123456, UTC)),
        ("2026-11-23T20:30:00-04:00", datetime(2026, 11, 24, 0, 30, tzinfo=UTC)),
    ],
)
def test_timestamps_with_any_offset_are_stored_in_utc(timestamp, utc):
    assert parse_signal(minimal() | {"received_at": timestamp}).received_at == utc


def test_integral_floats_count_as_integers_as_in_json_schema():
    signal = parse_signal(minimal() | {"reach": {"impressions": 1e6}})
    assert signal.reach_impressions == 1_000_000
    assert type(signal.reach_impressions) is int


def test_text_of_exactly_the_limit_is_accepted():
    assert len(parse_signal(minimal() | {"text": "あ" * 20_000}).text) == 20_000


def test_every_source_and_subject_kind_is_accepted():
    for source in contract.SOURCES:
        assert parse_signal(minimal() | {"source": source}).source == source
    for kind in contract.SUBJECT_KINDS:
        data = minimal() | {"subject": {"kind": kind, "ref": "r"}}
        assert parse_signal(data).subject_kind == kind


# ---------------------------------------------------------------------------
# Rejected signals: each names its reason and field


def with_value(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    data = copy.deepcopy(base if base is not None else full())
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
    return data


def without(path: str) -> dict[str, Any]:
    data = copy.deepcopy(full())
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target[part]
    del target[last]
    return data


REJECTIONS: list[tuple[str, dict[str, Any], str, str]] = [
    ("missing id", without("id"), "missing_field", "id"),
    ("null id", with_value("id", None), "missing_field", "id"),
    ("missing received_at", without("received_at"), "missing_field", "received_at"),
    ("missing source", without("source"), "missing_field", "source"),
    ("missing subject", without("subject"), "missing_field", "subject"),
    ("missing subject.kind", without("subject.kind"), "missing_field", "subject.kind"),
    ("missing subject.ref", without("subject.ref"), "missing_field", "subject.ref"),
    ("unknown field", with_value("priority", "high"), "unknown_field", "priority"),
    ("unknown subject field", with_value("subject.owner", "x"), "unknown_field", "subject.owner"),
    ("unknown media field", with_value("media.phash", "x"), "unknown_field", "media.phash"),
    ("unknown reach field", with_value("reach.likes", 3), "unknown_field", "reach.likes"),
    ("unknown source", with_value("source", "userreport"), "unknown_source", "source"),
    ("source not a string", with_value("source", 3), "bad_type", "source"),
    ("unknown subject kind", with_value("subject.kind", "tweet"), "invalid_value", "subject.kind"),
    ("subject not an object", with_value("subject", "post:1"), "bad_type", "subject"),
    ("empty id", with_value("id", ""), "invalid_value", "id"),
    ("id with a space at the end", with_value("id", "rpt-1 "), "invalid_value", "id"),
    ("id with a newline", with_value("id", "rpt\n1"), "invalid_value", "id"),
    ("id too long", with_value("id", "x" * 201), "too_long", "id"),
    ("id a number", with_value("id", 12345), "bad_type", "id"),
    ("empty subject ref", with_value("subject.ref", ""), "invalid_value", "subject.ref"),
    ("date only", with_value("received_at", "2026-11-24"), "bad_timestamp", "received_at"),
    ("no offset", with_value("received_at", "2026-11-24T09:30:00"), "bad_timestamp", "received_at"),
    ("no seconds", with_value("received_at", "2026-11-24T09:30Z"), "bad_timestamp", "received_at"),
    (
        "space for T",
        with_value("received_at", "2026-11-24 09:30:00Z"),
        "bad_timestamp",
        "received_at",
    ),
    (
        "day 30 of February",
        with_value("received_at", "2026-02-30T00:00:00Z"),
        "bad_timestamp",
        "received_at",
    ),
    (
        "leap second",
        with_value("received_at", "2026-12-31T23:59:60Z"),
        "bad_timestamp",
        "received_at",
    ),
    ("hour 24", with_value("received_at", "2026-11-24T24:00:00Z"), "bad_timestamp", "received_at"),
    ("epoch seconds", with_value("received_at", 1764000000), "bad_type", "received_at"),
    ("text too long", with_value("text", "x" * 20_001), "too_long", "text"),
    ("text with NUL", with_value("text", "abc\x00def"), "invalid_value", "text"),
    ("text with a lone surrogate", with_value("text", "abc\ud800"), "bad_encoding", "text"),
    ("text an array", with_value("text", ["a"]), "bad_type", "text"),
    ("url without scheme", with_value("url", "example.com/x"), "invalid_value", "url"),
    ("ftp url", with_value("url", "ftp://example.com/x"), "invalid_value", "url"),
    ("url with a space", with_value("url", "https://example.com/a b"), "invalid_value", "url"),
    ("url too long", with_value("url", "https://e.com/" + "a" * 4096), "too_long", "url"),
    ("pdq 63 digits", with_value("media.pdq", PDQ[:-1]), "invalid_pdq", "media.pdq"),
    ("pdq not hex", with_value("media.pdq", "z" * 64), "invalid_pdq", "media.pdq"),
    ("pdq a number", with_value("media.pdq", 12), "bad_type", "media.pdq"),
    ("pdq quality 101", with_value("media.pdq_quality", 101), "invalid_value", "media.pdq_quality"),
    ("pdq quality true", with_value("media.pdq_quality", True), "bad_type", "media.pdq_quality"),
    ("pdq quality 1.5", with_value("media.pdq_quality", 1.5), "bad_type", "media.pdq_quality"),
    (
        "pdq quality without pdq",
        with_value("media", {"pdq_quality": 90, "md5": "a" * 32}),
        "invalid_value",
        "media.pdq_quality",
    ),
    ("md5 too short", with_value("media.md5", "a" * 31), "invalid_value", "media.md5"),
    ("sha256 not hex", with_value("media.sha256", "g" * 64), "invalid_value", "media.sha256"),
    ("media without a hash", with_value("media", {}), "invalid_value", "media"),
    ("media a string", with_value("media", PDQ), "bad_type", "media"),
    ("market in lower case", with_value("market", "jp"), "invalid_value", "market"),
    ("market of three letters", with_value("market", "JPN"), "invalid_value", "market"),
    ("language a name", with_value("language", "Japanese"), "invalid_value", "language"),
    ("language with underscore", with_value("language", "zh_TW"), "invalid_value", "language"),
    ("policy hint in capitals", with_value("policy_hint", "Scams"), "invalid_value", "policy_hint"),
    ("negative reach", with_value("reach.impressions", -1), "invalid_value", "reach.impressions"),
    ("reach as text", with_value("reach.followers", "12k"), "bad_type", "reach.followers"),
    ("reach too large", with_value("reach.shares", 2**63), "invalid_value", "reach.shares"),
    ("reach a list", with_value("reach", [1, 2]), "bad_type", "reach"),
    ("empty reporter", with_value("reporter", ""), "invalid_value", "reporter"),
    ("attributes a list", with_value("attributes", ["a"]), "bad_type", "attributes"),
    (
        "NUL in attributes",
        with_value("attributes", {"a": {"b": "x\x00"}}),
        "invalid_value",
        "attributes.a.b",
    ),
    (
        "NaN in attributes",
        with_value("attributes", {"score": math.nan}),
        "invalid_value",
        "attributes.score",
    ),
]


@pytest.mark.parametrize(
    ("data", "reason", "field"),
    [case[1:] for case in REJECTIONS],
    ids=[case[0] for case in REJECTIONS],
)
def test_each_defect_is_rejected_with_its_reason_and_field(data, reason, field):
    rejected = rejection(data)

    assert rejected.reason_code == reason
    assert rejected.field == field
    assert field.split(".")[-1] in rejected.message or rejected.field == ""


def test_a_non_object_is_rejected_as_a_whole():
    rejected = rejection(["not", "a", "signal"])
    assert (rejected.reason_code, rejected.field) == ("bad_type", "")


def test_a_misspelt_field_is_pointed_out():
    data = minimal()
    data["recieved_at"] = data.pop("received_at")

    rejected = rejection(data)

    assert rejected.reason_code == Reason.MISSING_FIELD
    assert "'recieved_at'" in rejected.message


def test_an_unknown_field_suggests_the_known_one():
    rejected = rejection(minimal() | {"polciy_hint": "scams_fraud"})
    assert "did you mean 'policy_hint'" in rejected.message
    assert "attributes" in rejected.message


def test_messages_name_the_value_and_the_fix():
    rejected = rejection(minimal() | {"source": "userreport"})
    assert "'userreport'" in rejected.message
    assert "user_report" in rejected.message


def test_attributes_nested_too_deep_are_rejected():
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(20):
        node["a"] = {}
        node = node["a"]
    rejected = rejection(minimal() | {"attributes": deep})
    assert rejected.reason_code == "invalid_value"
    assert rejected.field.startswith("attributes.a.a")


def test_a_rejection_reads_as_an_api_error():
    rejected = rejection(minimal() | {"market": "jp"})

    assert rejected.as_dict() == {
        "code": "invalid_value",
        "message": rejected.message,
        "field": "market",
    }
    assert rejected.at_line(7).as_dict()["line"] == 7
    assert str(rejected.at_line(7)).startswith("line 7: market")


def test_a_batch_keeps_the_valid_signals_around_a_bad_one():
    results = parse_signals([minimal(), minimal() | {"source": "rumour"}, full()])

    assert isinstance(results[0], SignalInput)
    assert isinstance(results[1], SignalRejected) and results[1].reason_code == "unknown_source"
    assert isinstance(results[2], SignalInput)


@given(
    st.dictionaries(
        st.sampled_from([*TOP_LEVEL_FIELDS, "other"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
            lambda children: (
                st.lists(children, max_size=3)
                | st.dictionaries(st.text(max_size=8), children, max_size=3)
            ),
            max_leaves=8,
        ),
    )
)
def test_any_json_like_value_is_accepted_or_rejected_never_crashes(data):
    try:
        parse_signal(data)
    except SignalRejected as rejected:
        assert rejected.reason_code in set(Reason)


# ---------------------------------------------------------------------------
# JSON Lines


def jsonl(*lines: str | bytes) -> io.BytesIO:
    return io.BytesIO(
        b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)
    )


def test_jsonl_lines_are_numbered_and_bad_lines_do_not_stop_the_file():
    good = json.dumps(minimal())
    stream = jsonl(
        good,
        "",
        "   ",
        '{"id": "x", ',
        "[1, 2]",
        b'{"id": "x", "text": "caf\xe9"}',
        '{"id": "a", "id": "b"}',
        '{"reach": {"impressions": NaN}}',
        json.dumps(full(), ensure_ascii=False),
    )

    records = list(parse_jsonl_lines(stream))

    assert [line for line, _ in records] == [1, 4, 5, 6, 7, 8, 9]
    assert records[0][1] == minimal()
    outcomes = {line: result for line, result in records if isinstance(result, SignalRejected)}
    assert outcomes[4].reason_code == "malformed_json" and outcomes[4].line == 4
    assert outcomes[5].reason_code == "bad_type"
    assert (outcomes[6].reason_code, outcomes[6].field) == ("bad_encoding", "text")
    assert "UTF-8" in outcomes[6].message
    assert outcomes[7].reason_code == "malformed_json" and "twice" in outcomes[7].message
    assert outcomes[8].reason_code == "malformed_json" and "NaN" in outcomes[8].message
    assert parse_signal(records[-1][1]).text == full()["text"]


def test_deferred_lines_decode_to_the_same_records(monkeypatch):
    """`watchfloor ingest` helpers read lines undecoded and decode only their own."""
    monkeypatch.setattr(reading, "MAX_LINE_BYTES", 4096)
    lines = (
        b"\xef\xbb\xbf" + json.dumps(minimal()).encode(),
        "",
        '{"id": "x", ',
        b'{"id": "x", "text": "caf\xe9"}',
        '{"text": "' + "x" * 5000 + '"}',
        json.dumps(full(), ensure_ascii=False),
    )
    raw = jsonl(*lines).getvalue()
    deferred = list(parse_jsonl_lines(io.BytesIO(raw), defer_json=True))
    assert any(type(record) is bytes for _, record in deferred)
    decoded = [(line, contract.parse_deferred(line, record)) for line, record in deferred]
    assert decoded == list(parse_jsonl_lines(io.BytesIO(raw)))


def test_jsonl_bad_bytes_outside_a_string_are_reported_for_the_line():
    ((line, rejected),) = parse_jsonl_lines(jsonl(b'{"id": \xff}'))
    assert (line, rejected.reason_code, rejected.field) == (1, "bad_encoding", "")


def test_jsonl_gzip_is_recognised_by_its_magic_bytes():
    raw = jsonl(json.dumps(minimal()), "{bad").getvalue()

    records = list(parse_jsonl_lines(io.BytesIO(gzip.compress(raw))))

    assert records[0] == (1, minimal())
    assert records[1][1].reason_code == "malformed_json"


def test_a_truncated_gzip_keeps_the_lines_before_and_reports_the_break():
    raw = b"".join(json.dumps(minimal() | {"id": f"r{i}"}).encode() + b"\n" for i in range(500))
    truncated = gzip.compress(raw)[:-200]

    records = list(parse_jsonl_lines(io.BytesIO(truncated)))

    *good, (line, last) = records
    assert all(isinstance(result, dict) for _, result in good)
    assert last.reason_code == "bad_encoding" and "gzip" in last.message
    assert line == len(good) + 1


def test_a_byte_order_mark_on_the_first_line_is_ignored():
    records = list(parse_jsonl_lines(io.BytesIO(b"\xef\xbb\xbf" + json.dumps(minimal()).encode())))
    assert records == [(1, minimal())]


def test_an_over_long_line_is_skipped_unread_and_the_next_one_read(monkeypatch):
    monkeypatch.setattr(reading, "MAX_LINE_BYTES", 64)
    stream = jsonl('{"text": "' + "x" * 500 + '"}', json.dumps({"id": "ok"}))

    records = list(parse_jsonl_lines(stream))

    assert records[0][0] == 1 and records[0][1].reason_code == "too_long"
    assert records[1] == (2, {"id": "ok"})


def test_text_streams_and_line_iterables_are_read_too():
    line = json.dumps(minimal(), ensure_ascii=False)
    assert list(parse_jsonl_lines(io.StringIO(line + "\n"))) == [(1, minimal())]
    assert list(parse_jsonl_lines([line.encode(), b"\n", line])) == [(1, minimal()), (3, minimal())]


# ---------------------------------------------------------------------------
# CSV


CSV_TEXT = (
    "id,received_at,source,subject.kind,subject.ref,text,media.pdq,media.pdq_quality,"
    "reach.impressions,market,attributes.app\n"
    f"r1,2026-11-24T09:30:00+09:00,user_report,post,p1,hello,{PDQ},90,1200,JP,ios\n"
    "\n"
    'r2,2026-11-24T09:31:00+09:00,detector,post,p2,"two\nlines, one cell",,,,,\n'
    "r3,2026-11-24T09:32:00+09:00,user_report,post,p3,too,many,cells,here,,,,,\n"
    "r4,2026-11-24T09:33:00+09:00,user_report,post,p4,,,,12k,,\n"
)


def test_csv_dotted_columns_become_nested_fields_with_integers():
    records = list(parse_csv(io.BytesIO(CSV_TEXT.encode())))

    line, first = records[0]
    assert line == 2
    assert first == {
        "id": "r1",
        "received_at": "2026-11-24T09:30:00+09:00",
        "source": "user_report",
        "subject": {"kind": "post", "ref": "p1"},
        "text": "hello",
        "media": {"pdq": PDQ, "pdq_quality": 90},
        "reach": {"impressions": 1200},
        "market": "JP",
        "attributes": {"app": "ios"},
    }
    signal = parse_signal(first)
    assert signal.media_pdq_quality == 90 and signal.attributes == {"app": "ios"}


def test_csv_line_numbers_are_file_lines():
    records = dict(parse_csv(io.BytesIO(CSV_TEXT.encode())))

    assert set(records) == {2, 4, 6, 7}
    assert records[4]["text"] == "two\nlines, one cell"
    assert "media" not in records[4]
    assert records[6].reason_code == "malformed_csv" and records[6].line == 6
    rejected = rejection(records[7])
    assert (rejected.reason_code, rejected.field) == ("bad_type", "reach.impressions")


def test_csv_non_utf8_cells_are_rejected_naming_the_column():
    raw = b"id,received_at,source,subject.kind,subject.ref,text\nr1,x,y,post,p1,caf\xe9\n"
    ((line, rejected),) = parse_csv(io.BytesIO(raw))
    assert (line, rejected.reason_code, rejected.field) == (2, "bad_encoding", "text")


@pytest.mark.parametrize(
    ("header", "reason", "field"),
    [
        ("id,received_at,priority", "unknown_field", "priority"),
        ("id,subject.owner", "unknown_field", "subject.owner"),
        ("id,id", "malformed_csv", "id"),
        ("id,,source", "malformed_csv", ""),
        ("id,attributes.a,attributes.a.b", "malformed_csv", "attributes.a"),
    ],
)
def test_a_bad_csv_header_rejects_the_file_at_line_1(header, reason, field):
    records = list(parse_csv(io.BytesIO(f"{header}\nr1,a,b\n".encode())))
    assert len(records) == 1
    line, rejected = records[0]
    assert (line, rejected.reason_code, rejected.field) == (1, reason, field)


def test_csv_with_a_bom_gzip_and_a_text_stream():
    raw = "\ufeff" + CSV_TEXT
    from_gzip = list(parse_csv(io.BytesIO(gzip.compress(raw.encode()))))
    from_text = list(parse_csv(io.StringIO(raw)))
    assert from_gzip[0][1]["id"] == "r1"
    assert [line for line, _ in from_gzip] == [line for line, _ in from_text] == [2, 4, 6, 7]


def test_parse_csv_leaves_the_callers_stream_open():
    stream = io.BytesIO(CSV_TEXT.encode())
    list(parse_csv(stream))
    assert not stream.closed


# ---------------------------------------------------------------------------
# Files


@pytest.mark.parametrize("name", ["s.jsonl", "s.jsonl.gz", "s.json.gz", "S.JSONL"])
def test_json_lines_files_are_loaded_by_suffix(tmp_path, name):
    raw = (json.dumps(minimal()) + "\n").encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    assert list(load_signal_file(path)) == [(1, minimal())]


@pytest.mark.parametrize("name", ["s.csv", "s.csv.gz"])
def test_csv_files_are_loaded_by_suffix(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(
        gzip.compress(CSV_TEXT.encode()) if name.endswith(".gz") else CSV_TEXT.encode()
    )
    assert [line for line, _ in load_signal_file(path)] == [2, 4, 6, 7]


def test_an_unknown_suffix_is_refused_before_reading(tmp_path):
    with pytest.raises(SignalFileError, match=r"\.jsonl"):
        load_signal_file(tmp_path / "signals.xml")


# ---------------------------------------------------------------------------
# The JSON Schema says the same as parse_signal

SCHEMA = json.loads(
    resources.files("watchfloor.signals").joinpath("schema/signal.schema.json").read_text()
)
# jsonschema_rs comes with schemathesis (a test dependency); the jsonschema package is
# not installed, and nothing is added for this.
SCHEMA_VALIDATOR = (
    jsonschema_rs.validator_for(SCHEMA, validate_formats=True) if jsonschema_rs else None
)
needs_schema_validator = pytest.mark.skipif(
    jsonschema_rs is None, reason="jsonschema_rs (installed with schemathesis) is absent"
)
# What a JSON Schema cannot say; parse_signal rejects these alone.
BEYOND_THE_SCHEMA = {
    "text with a lone surrogate",
    "NUL in attributes",
    "NaN in attributes",
    "reach too large",  # 2**63 cannot reach the Rust validator
}


@needs_schema_validator
def test_the_schema_is_draft_2020_12_and_lists_the_contracts_fields():
    jsonschema_rs.meta.validate(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(SCHEMA["properties"]) == TOP_LEVEL_FIELDS
    assert SCHEMA["properties"]["source"]["enum"] == list(contract.SOURCES)
    kinds = SCHEMA["properties"]["subject"]["properties"]["kind"]["enum"]
    assert kinds == list(contract.SUBJECT_KINDS)


def contract_accepts(data: Any) -> bool:
    try:
        parse_signal(data)
    except SignalRejected:
        return False
    return True


@pytest.mark.parametrize(
    "data",
    [minimal(), full()] + [case[1] for case in REJECTIONS if case[0] not in BEYOND_THE_SCHEMA],
    ids=["minimal", "full"] + [case[0] for case in REJECTIONS if case[0] not in BEYOND_THE_SCHEMA],
)
@needs_schema_validator
def test_schema_and_contract_agree_on_each_example(data):
    assert SCHEMA_VALIDATOR.is_valid(data) == contract_accepts(data)


MUTATIONS = st.sampled_from(
    [
        "id",
        "received_at",
        "source",
        "subject.kind",
        "subject.ref",
        "text",
        "url",
        "media.pdq",
        "media.pdq_quality",
        "media.md5",
        "market",
        "language",
        "policy_hint",
        "reach.impressions",
        "reporter",
        "attributes",
        "extra",
    ]
)
VALUES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-5, max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
    | st.sampled_from(
        [
            "",
            " x",
            "JP",
            "jp",
            "zh-hant",
            "a" * 32,
            "A" * 64,
            PDQ,
            "https://x.jp/a",
            "2026-11-24T00:30:00Z",
            "2026-11-24T00:30:00",
            "post",
            "detector",
            "scams_fraud",
        ]
    )
    | st.dictionaries(st.sampled_from(["kind", "ref", "pdq", "md5", "a"]), st.text(max_size=3))
)


@needs_schema_validator
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(MUTATIONS, VALUES), max_size=3), st.booleans())
def test_schema_and_contract_agree_on_mutated_signals(mutations, start_full):
    data = full() if start_full else minimal()
    for path, value in mutations:
        data = with_value(path, value, data)
    assert SCHEMA_VALIDATOR.is_valid(data) == contract_accepts(data), data


def doc_examples(language: str) -> list[str]:
    pattern = re.compile(rf"```{language}\n(.*?)```", re.DOTALL)
    return pattern.findall(DOCS.read_text(encoding="utf-8"))


def test_the_json_lines_examples_in_the_docs_are_valid_signals():
    blocks = doc_examples("jsonl")
    assert blocks, "docs/signals.md has no ```jsonl example"
    for block in blocks:
        for line, record in parse_jsonl_lines(io.BytesIO(block.encode())):
            assert isinstance(record, dict), (line, record)
            if SCHEMA_VALIDATOR is not None:
                SCHEMA_VALIDATOR.validate(record)
            parse_signal(record)


def test_the_csv_examples_in_the_docs_are_valid_signals():
    blocks = doc_examples("csv")
    assert blocks, "docs/signals.md has no ```csv example"
    for block in blocks:
        for line, record in parse_csv(io.BytesIO(block.encode())):
            assert isinstance(record, dict), (line, record)
            if SCHEMA_VALIDATOR is not None:
                SCHEMA_VALIDATOR.validate(record)
            parse_signal(record)


def test_the_rejection_reasons_in_the_docs_are_the_contracts():
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOCS.read_text(encoding="utf-8"), re.M))
    assert {str(reason) for reason in Reason} <= documented
