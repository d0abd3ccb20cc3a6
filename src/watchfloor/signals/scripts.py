"""Which writing system a character or a short text is in, and the folds that make
East Asian spellings of one word compare equal.

Used by watchlist matching (``crises.matching``) and by language detection
(``signals.language``). Everything here works on code points, in one pass, with no
data files.

- **Hangul** includes the syllables and both sets of jamo. Consonant-only letters such
  as ``ㅉㅉ`` (tsk tsk) or ``ㅅㅂ`` are typed as *compatibility* jamo (U+3130–U+318F),
  which NFKC turns into *conjoining* jamo (U+1100–U+11FF): both ranges are Korean.
- **Kana** folding maps katakana to hiragana (``バカ`` and ``ばか`` are one word written
  two ways), letter for letter, so a position in the folded text is the same position in
  the text before folding. The long-vowel mark ``ー`` and the katakana-only letters
  ``ヷヸヹヺ`` stay as they are.
- **Spaces between CJK letters** (Han, kana, Hangul) are dropped for matching: Japanese
  and Chinese put none there, and Korean spaced out letter by letter (``쓰 레 기``) is a
  way to slip a word past a filter.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "CJK_LETTER",
    "HANGUL",
    "KANA",
    "UNSPACED",
    "close_cjk_spaces",
    "fold_kana",
    "script_language",
]

_HAN_RANGES = (
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303b\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\U00020000-\U0003134f"
)
_KANA_RANGES = "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HANGUL_RANGES = "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7ff\uffa0-\uffdc"
_BOPOMOFO_RANGES = "\u3100-\u312f\u31a0-\u31bf"
_THAI_RANGES = "\u0e00-\u0e7f"
# Lao, Myanmar and Khmer: also written without spaces between words.
_OTHER_UNSPACED_RANGES = "\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff"

HANGUL = re.compile(f"[{_HANGUL_RANGES}]")
KANA = re.compile(f"[{_KANA_RANGES}]")
HAN = re.compile(f"[{_HAN_RANGES}]")
THAI = re.compile(f"[{_THAI_RANGES}]")
CJK_LETTER = re.compile(f"[{_HAN_RANGES}{_KANA_RANGES}{_HANGUL_RANGES}{_BOPOMOFO_RANGES}]")
# Scripts written without spaces between words, and Hangul (whose particles attach to the
# noun): watchlist terms in them match as substrings.
UNSPACED = re.compile(
    f"[{_HAN_RANGES}{_KANA_RANGES}{_HANGUL_RANGES}{_BOPOMOFO_RANGES}{_THAI_RANGES}"
    f"{_OTHER_UNSPACED_RANGES}]"
)

# Katakana ァ..ヶ are hiragana ぁ..ゖ plus 0x60; the iteration marks ヽヾ are ゝゞ plus 0x60.
_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)}
_KATAKANA_TO_HIRAGANA.update({0x30FD: 0x309D, 0x30FE: 0x309E})
_HAS_KATAKANA = re.compile("[\u30a1-\u30f6\u30fd\u30fe]")
_SPACE_BETWEEN_CJK = re.compile(
    f"(?<=[{_HAN_RANGES}{_KANA_RANGES}{_HANGUL_RANGES}{_BOPOMOFO_RANGES}])\\s+"
    f"(?=[{_HAN_RANGES}{_KANA_RANGES}{_HANGUL_RANGES}{_BOPOMOFO_RANGES}])"
)


def fold_kana(text: str) -> str:
    """``text`` with its katakana written as hiragana (same length, idempotent)."""
    if text.isascii() or _HAS_KATAKANA.search(text) is None:
        return text
    return text.translate(_KATAKANA_TO_HIRAGANA)


def close_cjk_spaces(text: str) -> str:
    """``text`` without the white space between two Han, kana or Hangul letters, then
    composed again (NFC): ``ㄱ ㅏ`` closed up is ``가``, as ``ㄱㅏ`` is after NFKC."""
    if text.isascii():
        return text
    closed, count = _SPACE_BETWEEN_CJK.subn("", text)
    return unicodedata.normalize("NFC", closed) if count else text


def script_language(text: str) -> str | None:
    """The language a short text's script alone tells, or None when it does not.

    Kana is written only in Japanese, Hangul only in Korean, the Thai script (almost)
    only in Thai. The script decides when its letters are at least half of the text's
    letters (for Japanese: kana and Han together, with at least one kana). Han alone is
    Chinese or Japanese, and Latin or Cyrillic letters are many languages: None then.
    """
    letters = kana = han = hangul = thai = 0
    for character in text:
        if not character.isalpha():
            continue
        letters += 1
        if KANA.match(character):
            kana += 1
        elif HAN.match(character):
            han += 1
        elif HANGUL.match(character):
            hangul += 1
        elif THAI.match(character):
            thai += 1
    if letters == 0:
        return None
    if kana and (kana + han) * 2 >= letters:
        return "ja"
    if hangul * 2 >= letters:
        return "ko"
    if thai * 2 >= letters:
        return "th"
    return None


def is_han_without_kana(text: str) -> bool:
    """Whether the text's letters are mostly Han with no kana or Hangul: written that way
    it may be Chinese or Japanese (``地震速報``, ``津波警報発令``), and its script cannot
    tell which."""
    letters = han = 0
    for character in text:
        if not character.isalpha():
            continue
        if KANA.match(character) or HANGUL.match(character):
            return False
        letters += 1
        if HAN.match(character):
            han += 1
    return letters > 0 and han * 2 >= letters
