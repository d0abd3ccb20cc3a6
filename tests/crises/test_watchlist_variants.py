"""Variants of watchlist terms: other spellings given per entry, the shipped starter list
(validated like the other settings files), and signals flagged through the intake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from tests.crises.conftest import signed_in
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core.errors import InvalidInput
from watchfloor.crises.models import WatchlistEntry, WatchlistHit
from watchfloor.crises.variants import (
    PACKAGE_DEFAULTS,
    VARIANTS_FILE,
    TermVariantsError,
    read_term_variants,
    term_variants,
)
from watchfloor.crises.watchlists import add_watchlist_entry, flag_matching_signals, forget_matcher
from watchfloor.signals.intake import ingest_signals

T0 = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
_numbers = count(1)

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture(autouse=True)
def fresh_matcher():
    forget_matcher()
    yield
    forget_matcher()


def ingest(text: str, market: str = "JP") -> int:
    number = next(_numbers)
    signal: dict[str, Any] = {
        "id": f"v-{number}",
        "received_at": (T0 - timedelta(minutes=5)).isoformat(),
        "source": "user_report",
        "subject": {"kind": "post", "ref": f"post:v{number}"},
        "text": text,
        "market": market,
    }
    item = ingest_signals(items=[signal], producer="variant-tests", actor=None).results[0]
    assert item.status == "accepted", item
    return item.signal_id


def matched(text: str, market: str = "JP") -> set[str]:
    signal_id = ingest(text, market)
    flag_matching_signals([signal_id])
    return set(
        WatchlistHit.objects.filter(signal_id=signal_id).values_list("entry__value", flat=True)
    )


def watch(crisis, actor, value: str, **extra: Any) -> WatchlistEntry:
    return add_watchlist_entry(crisis=crisis, kind="term", value=value, actor=actor, **extra)


# ---------------------------------------------------------------- through the intake


def test_japanese_spellings_from_the_starter_list(crisis, analyst):
    baka = watch(crisis, analyst, "バカ", language="ja")
    shine = watch(crisis, analyst, "しね", language="ja")
    assert baka.variants == ["馬鹿"]
    assert shine.variants == ["死ね", "氏ね", "市ね"]
    assert matched("お前はばかだ") == {"バカ"}
    assert matched("お前は馬鹿だ") == {"バカ"}
    assert matched("ﾊﾞｶじゃないの") == {"バカ"}
    assert matched("もう死ね") == {"しね"}
    assert matched("シネ！") == {"しね"}
    assert matched("し ね") == {"しね"}
    assert matched("台風の被害状況") == set()


def test_korean_spellings_from_the_starter_list(crisis, analyst):
    trash = watch(crisis, analyst, "쓰레기", language="ko")
    tsk = watch(crisis, analyst, "ㅉㅉ", language="ko")
    assert trash.variants == ["ㅆㄹㄱ"] and tsk.variants == []
    assert matched("이 사람 쓰 레 기 같은 말만", "KR") == {"쓰레기"}
    assert matched("완전 ㅆㄹㄱ", "KR") == {"쓰레기"}
    assert matched("진짜ㅉㅉ 한심하다", "KR") == {"ㅉㅉ"}
    assert matched("쓰고 레기", "KR") == set()


def test_variants_given_replace_the_starter_list(crisis, analyst):
    entry = watch(crisis, analyst, "バカ", variants=["ﾊﾞｶ", "baka", "ばか", "BAKA"])
    # ﾊﾞｶ and ばか match as バカ already; BAKA as baka.
    assert entry.variants == ["baka"]
    assert matched("馬鹿") == set()
    assert matched("you baka") == {"バカ"}
    none = watch(crisis, analyst, "しね", variants=[])
    assert none.variants == []
    assert matched("死ね") == set()


def test_variants_are_audited(crisis, analyst):
    entry = watch(crisis, analyst, "バカ")
    event = AuditEvent.objects.get(action=AuditAction.CRISIS_WATCHLIST_ENTRY_ADDED)
    assert event.data["entry_id"] == entry.pk and event.data["variants"] == ["馬鹿"]


@pytest.mark.parametrize(
    ("variants", "says"),
    [
        (["ok", "!!"], "variant 2: '!!' has no letters or digits"),
        (["x" * 501], "the limit is 500"),
        ([f"v{n}" for n in range(21)], "at most 20 variants"),
        ("馬鹿", "as a list of spellings"),
        (["ok\x07"], "variants"),
    ],
)
def test_bad_variants_name_their_field(crisis, analyst, variants, says):
    with pytest.raises(InvalidInput, match=says) as error:
        watch(crisis, analyst, "バカ", variants=variants)
    assert error.value.field == "variants"
    assert not WatchlistEntry.objects.exists()


def test_only_terms_have_variants(crisis, analyst):
    with pytest.raises(InvalidInput, match="only a term") as error:
        add_watchlist_entry(
            crisis=crisis, kind="hashtag", value="#台風", actor=analyst, variants=["#typhoon"]
        )
    assert error.value.field == "variants"


def test_the_war_room_form_takes_variants_separated_by_commas(crisis, analyst):
    client = signed_in(analyst)
    response = client.post(
        reverse("crisis-watch", args=[crisis.pk]),
        {"watch-kind": "term", "watch-value": "アホ", "watch-variants": "阿呆、あほう, ahou"},
    )
    assert response.status_code == 302
    assert WatchlistEntry.objects.get().variants == ["阿呆", "あほう", "ahou"]
    page = client.get(reverse("crisis-detail", args=[crisis.pk]))
    assert "阿呆 · あほう · ahou" in page.content.decode()


# ---------------------------------------------------------------- the starter list file


def test_the_shipped_list_is_valid_and_covers_the_measured_cases():
    shipped = read_term_variants(PACKAGE_DEFAULTS / VARIANTS_FILE)
    assert shipped.others("ばか") == ["馬鹿"]
    assert "死ね" in shipped.others("しね")
    assert shipped.others("쓰레기") == ["ㅆㄹㄱ"]
    assert shipped.others("台風") == []


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / VARIANTS_FILE
    path.write_text(text, encoding="utf-8")
    return path


def test_problems_name_the_file_the_line_and_the_path(tmp_path):
    path = write(
        tmp_path,
        "groups:\n"
        "  - spellings: [バカ, 馬鹿]\n"
        "  - spellings: [ばか, あほ]\n"
        "  - spellings: [しね, シネ]\n"
        "  - spellings: [ok, '!!']\n",
    )
    with pytest.raises(TermVariantsError) as error:
        read_term_variants(path)
    said = [str(problem) for problem in error.value.problems]
    assert said[0].startswith("term_variants.yaml:3: groups[1].spellings[0]: 'ばか' is also in")
    assert said[1].startswith("term_variants.yaml:4: groups[2].spellings: these spellings")
    assert said[2].startswith("term_variants.yaml:5: groups[3].spellings[1]: '!!' has no")
    assert len(said) == 3


def test_the_shape_is_checked_first(tmp_path):
    path = write(tmp_path, "groups:\n  - spellings: [one]\n    colour: red\n")
    with pytest.raises(TermVariantsError) as error:
        read_term_variants(path)
    said = [str(problem) for problem in error.value.problems]
    assert any(line.startswith("term_variants.yaml:2: groups[0].spellings") for line in said)
    assert any(line.startswith("term_variants.yaml:3: groups[0].colour") for line in said)


def test_an_unreadable_file_is_one_clear_problem(tmp_path):
    path = write(tmp_path, "groups: [unclosed\n")
    with pytest.raises(TermVariantsError, match=r"term_variants\.yaml"):
        read_term_variants(path)
    with pytest.raises(TermVariantsError, match="cannot be read"):
        read_term_variants(tmp_path / "missing.yaml")


def test_the_catalog_directory_overrides_the_shipped_list(tmp_path, settings, crisis, analyst):
    write(tmp_path, "groups:\n  - spellings: [台風, たいふう]\n")
    settings.WATCHFLOOR_CATALOG_DIR = tmp_path
    assert term_variants().others("台風") == ["たいふう"]
    assert watch(crisis, analyst, "バカ").variants == []
    assert watch(crisis, analyst, "台風").variants == ["たいふう"]
    # A broken file is an error on the entry, not a silent empty list.
    write(tmp_path, "groups:\n  - spellings: [only]\n")
    with pytest.raises(InvalidInput, match=r"term_variants\.yaml:2") as error:
        watch(crisis, analyst, "しね")
    assert error.value.field == "variants"


def test_the_check_command_reports_the_file(tmp_path, capsys):
    call_command("crises", "check")
    assert "groups of term variants are valid" in capsys.readouterr().out
    write(tmp_path, "groups:\n  - spellings: [one]\n")
    with pytest.raises(CommandError, match="term variants"):
        call_command("crises", "check", "--directory", str(tmp_path))
    assert "term_variants.yaml:2" in capsys.readouterr().err
