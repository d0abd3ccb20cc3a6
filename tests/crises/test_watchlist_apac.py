"""Watchlist terms in Japanese and Korean as people write them: katakana and hiragana,
kanji spellings, consonant-only Hangul, and words spaced out letter by letter."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from watchfloor.core.errors import InvalidInput
from watchfloor.crises.matching import (
    CompiledEntry,
    SignalFacts,
    WatchlistMatcher,
    normalise_entry,
    normalise_term,
)
from watchfloor.signals.scripts import close_cjk_spaces, fold_kana


def matcher_of(value: str, *variants: str, language: str = "") -> WatchlistMatcher:
    return WatchlistMatcher.compile(
        [
            CompiledEntry(
                1,
                1,
                "term",
                normalise_entry(kind="term", value=value, language=language),
                tuple(normalise_term(variant) for variant in variants),
            )
        ]
    )


def matches(term: str, text: str, *variants: str) -> bool:
    return bool(matcher_of(term, *variants).match(SignalFacts(text=text)))


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        # Consonant-only Hangul (compatibility jamo) is Korean: a substring, not a word.
        ("ㅉㅉ", "ㅉㅉ 한심하다", True),
        ("ㅉㅉ", "진짜ㅉㅉㅉ", True),
        ("ㅅㅂ", "아ㅅㅂ진짜", True),
        ("ㅉㅉ", "ㅉ 한심하다", False),
        # Spaced out letter by letter, or with dots, it is the same word.
        ("쓰레기", "이 사람 쓰 레 기 같은 말만 한다", True),
        ("쓰레기", "쓰.레.기", True),
        ("쓰 레 기", "완전 쓰레기네", True),
        ("쓰레기", "쓰고 레기", False),
        # Katakana and hiragana are one word; half-width too.
        ("バカ", "ばかじゃないの", True),
        ("ばか", "お前はバカだ", True),
        ("バカ", "ﾊﾞｶ", True),
        ("しね", "もうシネよ", True),
        ("シネ", "しねしね", True),
        ("死ね", "し ね", False),
        # Spaced-out Japanese too.
        ("詐欺", "義援金 詐 欺 に注意", True),
        ("バカ", "バ カ", True),
        # A spaced Latin word next to CJK keeps its boundaries.
        ("paypay", "ＰａｙＰａｙ で送金", True),
        ("pay", "paypay で送金", False),
    ],
)
def test_japanese_and_korean_spellings(term, text, expected):
    assert matches(term, text) is expected


def test_kanji_spellings_match_only_as_variants():
    assert not matches("バカ", "お前は馬鹿だ")
    assert matches("バカ", "お前は馬鹿だ", "馬鹿")
    assert matches("バカ", "ばか", "馬鹿")
    assert matches("しね", "死ね", "死ね", "シネ")
    assert matches("しね", "シネ", "死ね")
    assert not matches("しね", "死んだ", "死ね")


def test_entries_stored_before_the_fold_still_match():
    # An entry normalised before kana folding was added kept its katakana.
    stored = [CompiledEntry(1, 1, "term", "バカ"), CompiledEntry(2, 1, "term", "쓰 레 기")]
    matcher = WatchlistMatcher.compile(stored)
    assert matcher.match(SignalFacts(text="ばか")) == {1}
    assert matcher.match(SignalFacts(text="쓰레기")) == {2}


def test_the_fold_keeps_the_length_and_the_display_form():
    assert fold_kana("カタカナとひらがなとー") == "かたかなとひらがなとー"
    assert normalise_entry(kind="term", value="バカ") == "ばか"
    assert len(fold_kana("ヴァイオリン")) == len("ヴァイオリン")


# ---------------------------------------------------------------- properties

_JAPANESE = (
    "あいうえおかきくけこがぎぐばびぶぱアイウエオカキクケコガギグバビブパヴヵヶヽヾー"
    "ｶﾀｶﾅﾊﾞ漢字詐欺馬鹿死"
)
_KOREAN = "쓰레기사기를한국어ㄱㄴㄷㅅㅂㅉㅋㅎㅏㅓ"
_ANY = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=30,
)
_EAST_ASIAN = st.text(alphabet=_JAPANESE + _KOREAN + " 。、!", min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_ANY, _EAST_ASIAN))
def test_folding_is_idempotent(value):
    assert fold_kana(fold_kana(value)) == fold_kana(value)
    assert close_cjk_spaces(close_cjk_spaces(value)) == close_cjk_spaces(value)
    once = normalise_term(value)
    assert normalise_term(once) == once


@settings(max_examples=300, deadline=None)
@given(st.one_of(_ANY, _EAST_ASIAN))
def test_katakana_and_hiragana_spellings_normalise_alike(value):
    assert normalise_term(value) == normalise_term(fold_kana(value))


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=_JAPANESE + _KOREAN, min_size=1, max_size=12),
    st.sampled_from([" ", "  ", " . ", "・", "\u3000"]),
)
def test_a_term_matches_itself_spaced_out(term, gap):
    try:
        normalise_entry(kind="term", value=term)
    except InvalidInput:
        assume(False)
    assert matches(term, gap.join(term))
    assert matches(term, f"前 {gap.join(term)} 後")
