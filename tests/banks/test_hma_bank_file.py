"""HMA's bank contents as a file (``--format hma``): one ``BankContentResponse`` of HMA's
curation API a line; export then import gives the same bank; bad lines are named by line
and field while the rest are imported."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command

from tests.banks.test_services import BASE, bank_with, near
from watchfloor.banks import services
from watchfloor.banks.hma_bank_file import (
    MAX_LINE_CHARS,
    MAX_LINES,
    NOTE_MAX,
    export_hma_file,
    import_hma_file,
    parse_hma_file,
)
from watchfloor.banks.models import EntrySource
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput

MD5 = "d41d8cd98f00b204e9800998ecf8427e"

pytestmark = pytest.mark.usefixtures("frozen_clock")


def content(**fields) -> str:
    return json.dumps({"signals": {"pdq": BASE}, **fields})


def as_bank(bank):
    """What a round trip must keep: type, state, ratio and each enabled entry's value,
    labels and note."""
    entries = sorted(
        (e.value, tuple(e.labels), e.note) for e in bank.entries.filter(disabled_at__isnull=True)
    )
    return (bank.signal_type, bank.is_enabled, bank.matching_ratio, entries)


def test_a_bank_exported_in_hmas_shape_imports_as_the_same_bank(analyst):
    bank = bank_with("livestream", actor=analyst, matching_ratio=0.5)
    services.add_entries(
        bank=bank,
        entries=[
            services.NewEntry("pdq", BASE, labels=("violent_extremism", "livestream")),
            services.NewEntry("pdq", near(BASE, 20), note="frame 3 of the stream"),
            services.NewEntry("pdq", near(BASE, 40, start=60), note="a broadcaster's logo"),
        ],
        source=EntrySource.MANUAL,
        actor=analyst,
    )
    services.disable_entry(entry=bank.entries.last(), reason="logo", actor=analyst)

    text = export_hma_file(bank=bank, actor=analyst)
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert first["signals"] == {"pdq": BASE} and first["disable_until_ts"] == 0
    assert first["bank"] == {"name": "livestream", "matching_enabled_ratio": 0.5}
    assert first["metadata"] == {"json": {"labels": ["livestream", "violent_extremism"]}}
    assert lines[1]["note"] == "frame 3 of the stream" and "metadata" not in lines[1]

    imported = import_hma_file(bank_name="copy", text=text, actor=analyst)
    assert imported.skipped == []
    assert as_bank(imported.bank) == as_bank(bank)
    assert all(e.source == EntrySource.IMPORT for e in imported.added)
    # Imported twice: the same entries, nothing added.
    assert import_hma_file(bank_name="copy", text=text, actor=analyst).added == []


def test_a_switched_off_bank_travels_as_hmas_ratio_of_zero(analyst):
    bank = bank_with("paused", BASE, actor=analyst)
    services.change_bank(bank=bank, actor=analyst, is_enabled=False)
    text = export_hma_file(bank=bank, actor=analyst)
    assert json.loads(text)["bank"]["matching_enabled_ratio"] == 0.0
    copy = import_hma_file(bank_name="paused-copy", text=text, actor=analyst).bank
    assert as_bank(copy) == as_bank(bank)


def test_hma_contents_with_several_signals_and_text_that_spans_lines(analyst):
    text = "\n".join(
        [
            json.dumps({"signals": {"video_md5": MD5.upper(), "pdq": BASE}}),
            json.dumps({"signals": {"video_md5": "0" * 32}, "note": "second copy"}),
        ]
    )
    imported = import_hma_file(bank_name="videos", text=text, actor=analyst)
    assert imported.bank.signal_type == "md5"
    assert sorted(e.value for e in imported.added) == ["0" * 32, MD5]
    assert imported.skipped == [(1, "signals.pdq: bank 'videos' holds md5 signals")]

    order = "避難指示：全員\n直ちに港へ"
    texts = import_hma_file(
        bank_name="orders", text=json.dumps({"signals": {"raw_text": order}}), actor=analyst
    )
    assert [e.value for e in texts.added] == [order]
    assert json.loads(export_hma_file(bank=texts.bank, actor=analyst)) == {
        "id": texts.added[0].pk,
        "disable_until_ts": 0,
        "original_media_uri": None,
        "bank": {"name": "orders", "matching_enabled_ratio": 1.0},
        "signals": {"raw_text": order},
    }


def test_bad_lines_are_named_by_line_and_field_and_the_rest_imported(analyst):
    later = int((clock.now() + timedelta(days=3)).timestamp())
    earlier = int((clock.now() - timedelta(days=3)).timestamp())
    text = "\n".join(
        [
            content(id=1),  # 1: fine
            "{not json",  # 2
            "[1, 2]",  # 3
            content(signals={"pdq": "zz"}),  # 4
            content(signals={"tmk": "0123"}),  # 5
            content(signals={}),  # 6
            content(note="n" * (NOTE_MAX + 1)),  # 7
            content(metadata={"json": {"labels": ["two words"]}}),  # 8
            content(metadata={"owner": "x"}),  # 9
            content(disable_until_ts=later),  # 10
            content(disable_until_ts=-1),  # 11
            content(bank={"name": "X", "matching_enabled_ratio": 2}),  # 12
            content(colour="red"),  # 13
            "",  # 14: blank, skipped quietly
            "x" * (MAX_LINE_CHARS + 1),  # 15
            content(signals={"pdq": near(BASE, 5)}, disable_until_ts=earlier),  # 16: fine
            "[" * 15_000,  # 17
        ]
    )
    imported = import_hma_file(bank_name="partner", text=text, actor=analyst)
    assert sorted(e.value for e in imported.added) == sorted([BASE, near(BASE, 5)])
    reasons = dict(imported.skipped)
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 17]
    assert reasons[2].startswith("line: not JSON")
    assert reasons[3] == "line: a JSON object, one bank content"
    assert reasons[4].startswith("signals.pdq: not a valid pdq signal")
    assert reasons[5].startswith("signals.tmk: signal type 'tmk' cannot be banked here")
    assert reasons[6].startswith("signals: ")
    assert reasons[7] == f"note: a string of at most {NOTE_MAX} characters"
    assert reasons[8].startswith("metadata.json.labels[0]: ")
    assert reasons[9] == "metadata.owner: not a field of HMA's content metadata"
    assert reasons[10].startswith("disable_until_ts: disabled at the source until 2026-")
    assert reasons[11].startswith("disable_until_ts: a unix time")
    assert reasons[12] == "bank.matching_enabled_ratio: a number from 0 to 1"
    assert reasons[13] == "colour: not a field of an HMA bank content"
    assert reasons[15].startswith("line: longer than")
    assert reasons[17] == "line: nested too deeply"


def test_a_file_past_the_line_bound_is_refused_whole(monkeypatch):
    monkeypatch.setattr("watchfloor.banks.hma_bank_file.MAX_LINES", 2)
    with pytest.raises(InvalidInput, match="line 3 is past it") as refused:
        parse_hma_file("\n".join([content()] * 3))
    assert refused.value.field == "line 3"
    assert MAX_LINES >= 100_000


def test_a_bank_hma_has_no_type_for_is_refused_with_the_formats_that_work(analyst):
    bank = services.create_bank(name="hashes", signal_type="sha256", actor=analyst)
    with pytest.raises(InvalidInput, match="export it as csv or stix"):
        export_hma_file(bank=bank, actor=analyst)


def test_the_command_imports_and_exports_hma_files(tmp_path, capsys, analyst):
    path = tmp_path / "bank.jsonl"
    path.write_text(content() + "\n" + content(signals={"pdq": "zz"}) + "\n", encoding="utf-8")
    call_command("banks", "import", "ATTACK", str(path), "--format", "hma")
    err = capsys.readouterr().err
    assert f"{path}:2: skipped: signals.pdq: not a valid pdq signal" in err
    assert "ATTACK: 1 entries added" in err
    call_command("banks", "export", "ATTACK", "--format", "hma")
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["signals"] == {"pdq": BASE}
