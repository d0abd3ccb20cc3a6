"""Language of a signal's text, when the producer did not say.

lingua-language-detector ships its models, so nothing is downloaded at run time.
The detector only chooses among a configured set of languages (``DEFAULT_LANGUAGES``
covers the APAC-first markets plus the main world languages): a text in another
language gets the nearest configured one (Italian tweets came out as Spanish,
English or Portuguese), so a team working other markets adds theirs.

Accuracy against speed, measured on this machine with the 19 default languages.
On CrisisLexT26 tweets (mostly English and Spanish; the reference is lingua's
high-accuracy mode over all 75 languages where it is confident), per text:

=================  ===================  ===================
tweet length       high accuracy        low accuracy
=================  ===================  ===================
10-40 characters   100 %, 95 µs         94.5 %, 26 µs
40-80              100 %, 140 µs        96.4 %, 43 µs
80-120             100 %, 215 µs        98.0 %, 63 µs
120-400            100 %, 287 µs        99.5 %, 82 µs
=================  ===================  ===================

(The reference is the high-accuracy model itself, so its 100 % says only that
restricting the languages changes nothing; the low-accuracy column is the
informative one.) On 57 short posts of our own in the 19 languages (three each,
20 to 50 characters), high accuracy got 57 and low accuracy 55: it took
Indonesian for Malay twice. Cost grows with length in both modes.

So the default ``mode="auto"`` uses high accuracy below ``LOW_ACCURACY_FROM``
(120 characters: lingua documents that low accuracy loses little above that
length, and the table agrees) and low accuracy from there, and reads at most
``MAX_DETECTION_CHARS`` (300): a short post costs 50-200 µs, a 200-character text
about 130 µs. The high-accuracy models take
~350 MB for the 19 languages; they load on first use of each language, or all at
once (1.4 s) with ``preload=True``, which suits a long-running worker.
``detect_many`` uses lingua's parallel batch call: with the second core idle it
halved the cost per text (25 µs instead of 54 µs for short posts, 67 µs instead of
140 µs at 200 characters); with both cores busy it gained nothing.

A short text (under ``LOW_ACCURACY_FROM`` characters) whose script tells its
language is not given to lingua: kana with Han is Japanese, Hangul Korean (its
consonant-only letters ``ㅋㅋ``, ``ㅉㅉ`` included), Thai script Thai, when those
letters are at least half of the text's (``signals.scripts.script_language``, and
only among the configured languages). Lingua reads a text of Han characters alone
as Chinese, which a Japanese post in kanji (``地震速報``) is not: with kana it
is Japanese; with none, Han alone cannot tell, and the signal's market breaks the tie
(``han_tie_break``): a kanji-only post in a market whose languages include Japanese and
not Chinese is Japanese (unless it uses a simplified form Japanese does not write), and
the other way round; otherwise lingua's guess stands.

Too little text gives a guess, not a detection: after URLs, mentions and hashtags
are removed, ``detect`` returns None below ``MIN_LETTER_WEIGHT`` (five letters, a
Han, kana or Hangul character counting as two).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

from watchfloor.signals.scripts import CJK_LETTER, is_han_without_kana, script_language

__all__ = [
    "DEFAULT_LANGUAGES",
    "LOW_ACCURACY_FROM",
    "MAX_DETECTION_CHARS",
    "MIN_LETTER_WEIGHT",
    "LanguageDetector",
    "get_language_detector",
    "han_tie_break",
    "supported_languages",
]

DEFAULT_LANGUAGES: tuple[str, ...] = (
    "en",
    "ja",
    "ko",
    "zh",
    "th",
    "vi",
    "id",
    "ms",
    "tl",
    "hi",
    "bn",
    "ta",
    "ur",
    "ar",
    "es",
    "fr",
    "de",
    "ru",
    "pt",
)
MIN_LETTER_WEIGHT = 5
LOW_ACCURACY_FROM = 120
MAX_DETECTION_CHARS = 300
_MODES = ("auto", "high", "low")

# Addresses, handles and hashtags are mostly Latin whatever the language of the post.
_NOT_PROSE = re.compile(r"(?:https?://|www\.)\S+|[@#][\w.]+")


def supported_languages() -> frozenset[str]:
    """The ISO 639-1 codes lingua can detect."""
    return frozenset(language.iso_code_639_1.name.lower() for language in Language.all())


def _bcp47(language: Language) -> str:
    return language.iso_code_639_1.name.lower()


def _is_dense(character: str) -> bool:
    return CJK_LETTER.match(character) is not None


def _has_enough_letters(text: str) -> bool:
    weight = 0
    for character in text:
        if character.isalpha():
            weight += 2 if _is_dense(character) else 1
            if weight >= MIN_LETTER_WEIGHT:
                return True
    return False


class LanguageDetector:
    """Detects the language of texts among ``codes`` (ISO 639-1, at least two).

    ``mode`` is "auto" (high accuracy for short texts, low for long ones), "high"
    or "low". Build it once and share it (``get_language_detector``): it is
    thread-safe and its language models are loaded once per process.
    """

    def __init__(
        self,
        codes: Sequence[str] = DEFAULT_LANGUAGES,
        *,
        mode: str = "auto",
        preload: bool = False,
    ) -> None:
        normalised = sorted({code.strip().lower() for code in codes})
        unsupported = [code for code in normalised if code not in supported_languages()]
        if unsupported:
            raise ValueError(
                f"lingua cannot detect {', '.join(unsupported)}: use ISO 639-1 codes from "
                f"{', '.join(sorted(supported_languages()))}"
            )
        if len(normalised) < 2:
            raise ValueError(
                f"a language detector needs at least two languages to choose from; got {normalised}"
            )
        if mode not in _MODES:
            raise ValueError(f"mode is {mode!r}: use one of {', '.join(_MODES)}")
        self.codes: tuple[str, ...] = tuple(normalised)
        self.mode = mode
        isos = [IsoCode639_1.from_str(code) for code in normalised]
        self._high = self._low = None
        if mode in ("auto", "high"):
            builder = LanguageDetectorBuilder.from_iso_codes_639_1(*isos)
            if preload:
                builder = builder.with_preloaded_language_models()
            self._high = builder.build()
        if mode in ("auto", "low"):
            builder = LanguageDetectorBuilder.from_iso_codes_639_1(*isos).with_low_accuracy_mode()
            if preload:
                builder = builder.with_preloaded_language_models()
            self._low = builder.build()

    def detect(self, text: str | None) -> str | None:
        """The BCP 47 code (``ja``, ``zh``, ``th``...) of the text's language, or None
        when there is too little text or lingua cannot tell."""
        prose = _prose(text)
        if prose is None:
            return None
        by_script = self._by_script(prose)
        if by_script is not None:
            return by_script
        language = self._detector_for(prose).detect_language_of(prose)
        return _bcp47(language) if language is not None else None

    def detect_many(self, texts: Iterable[str | None]) -> list[str | None]:
        """``detect`` for many texts, through lingua's parallel batch call."""
        prose = [_prose(text) for text in texts]
        results: list[str | None] = [None] * len(prose)
        groups: dict[int, tuple[Any, list[int]]] = {}
        for index, value in enumerate(prose):
            if value is not None and (by_script := self._by_script(value)) is not None:
                results[index] = by_script
            elif value is not None:
                detector = self._detector_for(value)
                groups.setdefault(id(detector), (detector, []))[1].append(index)
        for detector, positions in groups.values():
            detected = detector.detect_languages_in_parallel_of([prose[i] for i in positions])
            for index, language in zip(positions, detected, strict=True):
                results[index] = _bcp47(language) if language is not None else None
        return results

    def _by_script(self, prose: str) -> str | None:
        """A short text's language when its script alone tells (kana, Hangul, Thai)."""
        if len(prose) >= LOW_ACCURACY_FROM:
            return None
        language = script_language(prose)
        return language if language in self.codes else None

    def _detector_for(self, prose: str) -> Any:
        if self._high is None or (self._low is not None and len(prose) >= LOW_ACCURACY_FROM):
            return self._low
        return self._high


def _prose(text: str | None) -> str | None:
    """The part of a text worth reading for its language, or None if too little."""
    if not text:
        return None
    text = text[: MAX_DETECTION_CHARS * 2]
    if "http" in text or "www." in text or "@" in text or "#" in text:
        text = _NOT_PROSE.sub(" ", text)
    text = " ".join(text.split())[:MAX_DETECTION_CHARS]
    return text if _has_enough_letters(text) else None


_HAN_LANGUAGES = frozenset({"ja", "zh"})


def han_tie_break(detected: str | None, text: str, market_languages: Iterable[str]) -> str | None:
    """``detected`` for a text written in Han alone, corrected by its market's languages.

    Han without kana is Chinese or Japanese, and lingua reads it as Chinese. When the
    market speaks exactly one of the two (Japan: ja, Taiwan: zh-Hant) that one is meant;
    when it speaks both or neither, the detection stands. Tags are compared on their
    primary language (``zh-Hant`` is ``zh``).
    """
    if detected not in _HAN_LANGUAGES or not is_han_without_kana(text):
        return detected
    spoken = {tag.split("-")[0].lower() for tag in market_languages} & _HAN_LANGUAGES
    if len(spoken) != 1:
        return detected
    (meant,) = spoken
    return meant if meant == "zh" or _written_in_japanese_kanji(text) else detected


def _written_in_japanese_kanji(text: str) -> bool:
    """Whether every character is one Japanese writing has (the Windows Japanese code
    page, JIS X 0208 and its extensions). A simplified form (这, 发, 骗) is not, so a
    Chinese post in a Japanese market stays Chinese."""
    try:
        text.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=8)
def get_language_detector(
    codes: tuple[str, ...] = DEFAULT_LANGUAGES, *, mode: str = "auto"
) -> LanguageDetector:
    """The process-wide detector for a set of languages (built on first call)."""
    return LanguageDetector(codes, mode=mode)
