"""Reading CAP documents: the samples of the CAP library (tests/warning/data, Apache-2.0;
schemas © OASIS), safe parsing, schema errors with their line, feeds, size bounds."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("lxml")

from watchfloor.warning.cap import CapRefused, read_cap_document

DATA = Path(__file__).parent / "data"


def read(name: str):
    return read_cap_document((DATA / name).read_bytes())


def test_a_valid_alert_is_read_with_its_infos_and_areas():
    document = read("wcatwc-warning.cap")
    assert document.kind == "alert"
    (alert,) = document.alerts
    assert (alert.version, alert.sender, alert.identifier) == (
        "1.2",
        "http://newwcatwc.arh.noaa.gov/tsuPortal/",
        "PAAQ-2-lqw6d6",
    )
    assert alert.msg_type == "Update"
    assert [(r.sender, r.identifier) for r in alert.references] == [("PAAQ", "PAAQ-1-lqw6d6")]
    (info,) = alert.infos
    assert (info.event, info.urgency, info.severity, info.certainty) == (
        "Tsunami Warning",
        "Immediate",
        "Extreme",
        "Likely",
    )
    assert info.expires is not None and info.expires.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("name", ["xee.cap", "xee.atom"])
def test_external_entities_are_refused_naming_the_problem(name):
    with pytest.raises(CapRefused) as refused:
        read(name)
    assert refused.value.code == "xml_entities_refused"
    assert refused.value.line == 3
    assert "XML external entity (XXE)" in refused.value.message
    assert "DTD" in refused.value.message


def test_an_entity_declared_in_utf16_is_refused_too():
    raw = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "y">]>'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&x;</alert>'
    ).encode("utf-16")
    with pytest.raises(CapRefused) as refused:
        read_cap_document(raw)
    assert refused.value.code == "xml_entities_refused"


def test_an_invalid_alert_is_refused_with_the_schema_error_and_its_line():
    with pytest.raises(CapRefused) as refused:
        read("invalid.cap")
    assert refused.value.code == "invalid_cap"
    assert refused.value.line == 9
    assert refused.value.message.startswith("line 9: not a valid CAP 1.2 alert: Element 'info'")
    assert "scope" in refused.value.message


def test_iso_8859_1_is_decoded_as_declared():
    (alert,) = read("earthquake-iso8859-1.cap").alerts
    assert "Usulután" in alert.infos[0].headline


def test_a_feed_gives_its_inline_alerts():
    document = read("weather.atom")
    assert (document.kind, document.entries, len(document.alerts)) == ("feed", 1, 1)
    assert document.alerts[0].infos[0].event == "Flash Flood Watch"


@pytest.mark.parametrize(
    ("name", "entries", "without_alert"),
    [
        ("empty_weather_index.atom", 0, 0),
        # A CAP alert outside any <entry> is foreign markup, not an entry.
        ("no_entries.atom", 0, 0),
        # An index feed links to its alerts; links are never fetched.
        ("earthquake_index.atom", 1, 1),
    ],
)
def test_a_feed_without_inline_alerts_gives_none(name, entries, without_alert):
    document = read(name)
    assert (document.entries, document.entries_without_alert, document.alerts) == (
        entries,
        without_alert,
        [],
    )
    assert document.problems == []


def test_an_invalid_feed_is_refused_at_its_line():
    with pytest.raises(CapRefused) as refused:
        read("invalid_element.atom")
    assert (refused.value.code, refused.value.line) == ("invalid_feed", 5)
    assert "<foo> is not an element of an Atom feed" in refused.value.message


def test_an_invalid_alert_in_a_feed_is_reported_and_does_not_stop_the_feed():
    document = read("weather_invalid.atom")
    assert document.alerts == []
    (problem,) = document.problems
    assert (problem.index, problem.line, problem.code) == (0, 28, "invalid_cap")
    assert "may not be empty or contain spaces, commas" in problem.message


def test_a_document_past_the_byte_limit_is_refused_unread():
    raw = (DATA / "wcatwc-warning.cap").read_bytes()
    with pytest.raises(CapRefused) as refused:
        read_cap_document(raw, max_bytes=len(raw) - 1)
    assert refused.value.code == "document_too_large"
    assert refused.value.http_status == 413


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"<alert", "malformed_xml"),
        (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.0"/>', "unsupported_cap_version"),
        (b"<html/>", "not_cap"),
    ],
)
def test_what_is_not_cap_is_refused_with_its_reason(raw, code):
    with pytest.raises(CapRefused) as refused:
        read_cap_document(raw)
    assert refused.value.code == code


SAMPLE = (DATA / "wcatwc-warning.cap").read_bytes()


@settings(deadline=None, max_examples=200)
@given(st.binary(max_size=3000) | st.integers(0, len(SAMPLE)).map(lambda n: SAMPLE[:n]))
def test_any_bytes_are_read_or_refused_never_crash(raw):
    try:
        document = read_cap_document(raw)
    except CapRefused as refused:
        assert refused.code and refused.message
    else:
        assert document.kind in {"alert", "feed"}
