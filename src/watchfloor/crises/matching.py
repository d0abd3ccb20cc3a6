"""Watchlist matching: how an entry and a signal are normalised and compared.

Pure functions and one compiled matcher, no database: ``crises.watchlists`` stores the
entries, keeps the matcher per process and flags the signals.

What is compared, kind by kind (``normalise_entry`` gives the entry's side, the matcher
the signal's side, and both go through the same functions):

- **Terms** are matched in the signal's text after ``signals.text.normalise_text``
  (NFKC, so full-width ``ＳＣＡＭ`` and half-width ``ｻｷﾞ`` fold to ``scam`` and ``サギ``;
  case folding; URLs and @mentions removed; punctuation and symbols turned into spaces),
  then with the diacritics of Latin letters removed (``Café`` = ``cafe``, ``İ`` = ``i``).
  Other scripts keep their marks: a Devanagari matra, a Thai vowel or a Cyrillic ``й`` is
  part of the letter, not an accent.
  - Vietnamese (an entry tagged ``vi``) keeps its diacritics, because they are tones and
    vowels that tell words apart (``lừa đảo``, to swindle; stripped it is ``lua dao``,
    which also spells other words). A Vietnamese entry written with diacritics matches
    text written with the same ones; written without any (as people do to get past
    filters), it matches the words with or without them. The normalised form alone tells
    which: one that still carries Latin diacritics is matched against the text with its
    diacritics kept.
  - Scripts written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar) and Korean
    (whose particles attach to the noun: ``사기를``, ``사기꾼``; consonant-only letters
    such as ``ㅉㅉ`` included) match as substrings.
  - Katakana is folded to hiragana and the spaces between Han, kana or Hangul letters
    are dropped (``signals.scripts``): ``バカ`` = ``ばか``, ``쓰 레 기`` = ``쓰레기``.
  - A term's variants (other spellings: ``馬鹿`` for ``バカ``) match as the term.
  - Every other term (Latin, Cyrillic, Greek, Devanagari, Arabic...) matches whole words:
    ``scam`` does not match ``scampi``. A word boundary is a space or the edge of a run of
    unspaced script, so ``paypay`` matches ``PayPayで送金``.
  One Aho-Corasick automaton (pyahocorasick) holds every term of every active crisis, so
  hundreds of terms cost one pass over each text.
- **Hashtags** are compared without ``#``, NFKC and case folded (diacritics count, as on
  the platforms), against the hashtags in the text and the subject of a ``hashtag`` signal.
- **Accounts** are compared without a leading ``@``, NFKC and case folded, against the
  subject of an ``account`` signal (with and without a ``prefix:``, so ``relief_ph``
  matches ``acct:relief_ph``) and the @mentions in the text.
- **URLs** are compared after ``signals.urls.normalise_url`` (tracking parameters,
  fragments, case and encoding differences removed), against the signal's URL, the
  subject of a ``url`` signal and the links in its text.
- **Domains** match that host and every subdomain of it, in the same places as URLs.
- **Media hashes**: 32 hex digits are an MD5, 64 an SHA-256 or a PDQ hash (both are
  tried unless the value says ``md5:``, ``sha256:`` or ``pdq:``). A PDQ hash matches an
  equal hash, or one within the clustering distance (``WATCHFLOOR_PDQ_MAX_DISTANCE``,
  31 bits) when the signal's hash is of useful quality.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

import ahocorasick
import numpy as np

from watchfloor.core.errors import InvalidInput
from watchfloor.crises.models import WatchlistKind
from watchfloor.signals.media import DEFAULT_MAX_DISTANCE, PDQ_BYTES, is_useful_quality
from watchfloor.signals.scripts import UNSPACED, close_cjk_spaces, fold_kana
from watchfloor.signals.text import normalise_text
from watchfloor.signals.urls import normalise_url

__all__ = [
    "VALUE_MAX",
    "CompiledEntry",
    "SignalFacts",
    "WatchlistMatcher",
    "is_vietnamese",
    "normalise_entry",
    "normalise_term",
]

VALUE_MAX = 500

# ---------------------------------------------------------------- normalisation

# Latin letters that carry their stroke or slash in the letter itself (no decomposition),
# folded as readers fold them.
_LATIN_FOLD = str.maketrans({"đ": "d", "ł": "l", "ø": "o", "ħ": "h", "ı": "i", "ŧ": "t"})
_LATIN_LETTER = "a-z\u00c0-\u024f\u1e00-\u1eff"
# Combining diacritics on a Latin base, after NFD. Marks on any other script stay.
_LATIN_MARKS = re.compile(
    f"(?<=[{_LATIN_LETTER}])[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+"
)
_NEEDS_STRIPPING = re.compile(f"[\u00c0-\u024f\u1e00-\u1eff]|[{_LATIN_LETTER}][\u0300-\u036f]")
_HASHTAG = re.compile(r"#([^\s!-/:-@\[-^`{-~、。，．！？「」『』（）【】・]+)")
_MENTION = re.compile(r"@([\w.]+)")
_LINK = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[^\s<>\"'「」『』（）【】]+")
_LINK_TRAILER = ".,;:!?)]}"
_HEX = re.compile(r"[0-9a-f]+")
_DOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_HASH_PREFIXES = {"md5": 32, "sha256": 64, "pdq": 64}
VIETNAMESE = "vi"


def _strip_latin_marks(text: str) -> str:
    """``text`` without the diacritics of its Latin letters (the others keep theirs)."""
    if text.isascii() or _NEEDS_STRIPPING.search(text) is None:
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", _LATIN_MARKS.sub("", decomposed)).translate(_LATIN_FOLD)


def _has_latin_marks(normalised: str) -> bool:
    return _strip_latin_marks(normalised) != normalised


def is_vietnamese(language: str) -> bool:
    return language.split("-", 1)[0].lower() == VIETNAMESE


def _east_asian_fold(normalised: str) -> str:
    """Katakana as hiragana, and no spaces between Han, kana or Hangul letters
    (``signals.scripts``). Idempotent, so a stored form can be folded again."""
    if normalised.isascii():
        return normalised
    return close_cjk_spaces(fold_kana(normalised))


def normalise_term(value: str, *, keep_diacritics: bool = False) -> str:
    """A term (or a text) as term matching compares it: ``signals.text.normalise_text``,
    katakana folded to hiragana and the spaces between East Asian letters dropped, then
    without Latin diacritics unless ``keep_diacritics`` (Vietnamese)."""
    folded = _east_asian_fold(normalise_text(value))
    return folded if keep_diacritics else _strip_latin_marks(folded)


def _fold(value: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def _normalise_hashtag(value: str) -> str:
    return _fold(value).strip().lstrip("#").strip()


def _normalise_account(value: str) -> str:
    return _fold(value).strip().lstrip("@").strip()


def _account_candidates(reference: str) -> set[str]:
    """A subject reference as an account: as given, and without a ``kind:`` prefix."""
    folded = _normalise_account(reference)
    found = {folded}
    prefix, colon, rest = folded.partition(":")
    if colon and rest and prefix.isascii() and prefix.replace("_", "").isalnum():
        found.add(rest.lstrip("@"))
    return found


def _normalise_domain(value: str) -> str | None:
    candidate = _fold(value).strip().removeprefix("*.").strip(".")
    if not candidate or "/" in candidate or ":" in candidate or "@" in candidate:
        return None
    url = normalise_url(f"http://{candidate}/")
    host = urlsplit(url).hostname if url else None
    if not host or "." not in host:
        return None
    if not all(_DOMAIN_LABEL.fullmatch(label) for label in host.split(".")):
        return None
    return host


def _normalise_media_hash(value: str) -> str | None:
    compact = "".join(value.split()).lower()
    algorithm, colon, digits = compact.partition(":")
    if not colon:
        algorithm, digits = "", compact
    if not _HEX.fullmatch(digits or "-"):
        return None
    if algorithm:
        if _HASH_PREFIXES.get(algorithm) != len(digits):
            return None
        return f"{algorithm}:{digits}"
    if len(digits) == 32:
        return f"md5:{digits}"
    if len(digits) == 64:
        return f"sha256-or-pdq:{digits}"
    return None


def normalise_entry(*, kind: str, value: str, language: str = "") -> str:
    """What matching compares for an entry, or an ``InvalidInput`` on ``value`` that says
    what to give instead."""
    if kind == WatchlistKind.TERM:
        normalised = normalise_term(value, keep_diacritics=is_vietnamese(language))
        if not normalised:
            raise InvalidInput(
                f"'{value}' has no letters or digits once URLs, @mentions and punctuation are "
                "set aside; watch a link as a URL, an @account as an account",
                field="value",
            )
    elif kind == WatchlistKind.HASHTAG:
        normalised = _normalise_hashtag(value)
        if not normalised or _HASHTAG.fullmatch(f"#{normalised}") is None:
            raise InvalidInput(
                f"'{value}' is not a hashtag: give one word such as #台風10号 or typhoonrelief "
                "(no spaces or punctuation)",
                field="value",
            )
    elif kind == WatchlistKind.ACCOUNT:
        normalised = _normalise_account(value)
        if not normalised or any(ch.isspace() for ch in normalised):
            raise InvalidInput(
                f"'{value}' is not an account: give a handle such as @relief_ph or the "
                "platform's reference such as acct:relief_ph (no spaces)",
                field="value",
            )
    elif kind == WatchlistKind.URL:
        normalised = normalise_url(value.strip()) or ""
        if not normalised:
            raise InvalidInput(
                f"'{value}' is not an http(s) URL: give a full link such as "
                "https://example.com/donate, or watch a whole site as a domain",
                field="value",
            )
    elif kind == WatchlistKind.DOMAIN:
        normalised = _normalise_domain(value) or ""
        if not normalised:
            raise InvalidInput(
                f"'{value}' is not a domain: give a host name such as example.com or 例え.jp "
                "(no scheme or path; it matches its subdomains too)",
                field="value",
            )
    elif kind == WatchlistKind.MEDIA_HASH:
        normalised = _normalise_media_hash(value) or ""
        if not normalised:
            raise InvalidInput(
                f"'{value}' is not a media hash: give 32 hex digits (MD5) or 64 (PDQ or "
                "SHA-256), optionally as md5:…, sha256:… or pdq:…",
                field="value",
            )
    else:
        raise InvalidInput(
            f"unknown kind '{kind}'; use one of {', '.join(WatchlistKind.values)}", field="kind"
        )
    if len(normalised) > VALUE_MAX:
        raise InvalidInput(
            f"'{value[:40]}…' is {len(normalised)} characters once normalised; the limit is "
            f"{VALUE_MAX}",
            field="value",
        )
    return normalised


# ---------------------------------------------------------------- the matcher


@dataclass(frozen=True, slots=True)
class SignalFacts:
    """What a signal is matched on."""

    text: str = ""
    url_normalised: str = ""
    subject_kind: str = ""
    subject_ref: str = ""
    media_pdq: bytes | None = None
    media_pdq_quality: int | None = None
    media_md5: str = ""
    media_sha256: str = ""


@dataclass(frozen=True, slots=True)
class CompiledEntry:
    entry_id: int
    crisis_id: int
    kind: str
    normalised: str
    # Other spellings of a term (``バカ`` for ``馬鹿``), normalised: each matches as the term.
    variants: tuple[str, ...] = ()


_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint16)


@lru_cache(maxsize=4096)
def _unspaced(character: str) -> bool:
    return UNSPACED.match(character) is not None


def _is_word_character(character: str) -> bool:
    """A character that continues a word of a spaced script (a boundary is anything else)."""
    return character != " " and not _unspaced(character)


def _links(text: str) -> list[str]:
    if "://" not in text:
        return []
    found = []
    for raw in _LINK.findall(text):
        normalised = normalise_url(raw.rstrip(_LINK_TRAILER))
        if normalised:
            found.append(normalised)
    return found


def _host(normalised_url: str) -> str:
    try:
        return urlsplit(normalised_url).hostname or ""
    except ValueError:
        return ""


def _automaton(terms: dict[str, list[int]]) -> ahocorasick.Automaton | None:
    if not terms:
        return None
    automaton = ahocorasick.Automaton()
    for term, entry_ids in terms.items():
        # Terms in a script without spaces (or Hangul) match anywhere; others whole words.
        bounded = not any(_unspaced(character) for character in term)
        automaton.add_word(term, (len(term), bounded, tuple(entry_ids)))
    automaton.make_automaton()
    return automaton


def _scan(automaton: ahocorasick.Automaton | None, text: str, found: set[int]) -> None:
    if automaton is None or not text:
        return
    for end, (length, bounded, entry_ids) in automaton.iter(text):
        if bounded:
            start = end - length + 1
            if start > 0 and _is_word_character(text[start - 1]):
                continue
            if end + 1 < len(text) and _is_word_character(text[end + 1]):
                continue
        found.update(entry_ids)


@dataclass
class WatchlistMatcher:
    """Every active entry of every active crisis, compiled for one pass per signal."""

    entries: dict[int, CompiledEntry]
    max_distance: int = DEFAULT_MAX_DISTANCE
    key: tuple = ()
    _folded: ahocorasick.Automaton | None = field(default=None, repr=False)
    _accented: ahocorasick.Automaton | None = field(default=None, repr=False)
    _hashtags: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _accounts: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _urls: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _domains: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _md5: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _sha256: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _pdq: np.ndarray | None = field(default=None, repr=False)
    _pdq_entries: list[tuple[int, ...]] = field(default_factory=list, repr=False)

    @classmethod
    def compile(
        cls,
        entries: Iterable[CompiledEntry],
        *,
        max_distance: int = DEFAULT_MAX_DISTANCE,
        key: tuple = (),
    ) -> WatchlistMatcher:
        entries = list(entries)
        folded: dict[str, list[int]] = defaultdict(list)
        accented: dict[str, list[int]] = defaultdict(list)
        by_kind: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        pdq: dict[bytes, list[int]] = defaultdict(list)
        for entry in entries:
            value = entry.normalised
            if entry.kind == WatchlistKind.TERM:
                # Folded again: entries stored before a fold was added still match.
                for spelling in {_east_asian_fold(term) for term in (value, *entry.variants)}:
                    automaton = accented if _has_latin_marks(spelling) else folded
                    automaton[spelling].append(entry.entry_id)
            elif entry.kind == WatchlistKind.MEDIA_HASH:
                algorithm, _, digits = value.partition(":")
                if algorithm in ("md5", "sha256", "sha256-or-pdq"):
                    by_kind["md5" if algorithm == "md5" else "sha256"][digits].append(
                        entry.entry_id
                    )
                if algorithm in ("pdq", "sha256-or-pdq"):
                    pdq[bytes.fromhex(digits)].append(entry.entry_id)
            else:
                by_kind[entry.kind][value].append(entry.entry_id)
        matcher = cls(
            entries={entry.entry_id: entry for entry in entries},
            max_distance=max_distance,
            key=key,
            _folded=_automaton(folded),
            _accented=_automaton(accented),
            _hashtags=dict(by_kind[WatchlistKind.HASHTAG]),
            _accounts=dict(by_kind[WatchlistKind.ACCOUNT]),
            _urls=dict(by_kind[WatchlistKind.URL]),
            _domains=dict(by_kind[WatchlistKind.DOMAIN]),
            _md5=dict(by_kind["md5"]),
            _sha256=dict(by_kind["sha256"]),
        )
        if pdq:
            hashes = list(pdq)
            matcher._pdq = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, PDQ_BYTES)
            matcher._pdq_entries = [tuple(pdq[h]) for h in hashes]
        return matcher

    def __bool__(self) -> bool:
        return bool(self.entries)

    @property
    def reads_text(self) -> bool:
        return any(
            (
                self._folded is not None,
                self._accented is not None,
                self._hashtags,
                self._accounts,
                self._urls,
                self._domains,
            )
        )

    def match(self, signal: SignalFacts) -> set[int]:
        """The ids of the entries ``signal`` matches."""
        found: set[int] = set()
        text = signal.text or ""
        if text and (self._folded is not None or self._accented is not None):
            base = _east_asian_fold(normalise_text(text))
            _scan(self._folded, _strip_latin_marks(base), found)
            if self._accented is not None and not base.isascii():
                _scan(self._accented, base, found)
        if self._hashtags:
            tags = set()
            if "#" in text or "＃" in text:
                tags = {_normalise_hashtag(t) for t in _HASHTAG.findall(_fold(text))}
            if signal.subject_kind == "hashtag":
                tags.add(_normalise_hashtag(signal.subject_ref))
            for tag in tags:
                found.update(self._hashtags.get(tag, ()))
        if self._accounts:
            names = set()
            if "@" in text or "＠" in text:
                names = {name.rstrip(".") for name in _MENTION.findall(_fold(text))}
            if signal.subject_kind == "account":
                names |= _account_candidates(signal.subject_ref)
            for name in names:
                found.update(self._accounts.get(name, ()))
        if self._urls or self._domains:
            links = set(_links(text))
            if signal.url_normalised:
                links.add(signal.url_normalised)
            if signal.subject_kind == "url":
                subject = normalise_url(signal.subject_ref)
                if subject:
                    links.add(subject)
            for link in links:
                found.update(self._urls.get(link, ()))
                if self._domains:
                    labels = _host(link).split(".")
                    for index in range(len(labels) - 1):
                        found.update(self._domains.get(".".join(labels[index:]), ()))
        if signal.media_md5:
            found.update(self._md5.get(signal.media_md5, ()))
        if signal.media_sha256:
            found.update(self._sha256.get(signal.media_sha256, ()))
        if signal.media_pdq is not None and self._pdq is not None:
            found.update(self._pdq_matches(bytes(signal.media_pdq), signal.media_pdq_quality))
        return found

    def _pdq_matches(self, pdq: bytes, quality: int | None) -> set[int]:
        if len(pdq) != PDQ_BYTES or self._pdq is None:
            return set()
        query = np.frombuffer(pdq, dtype=np.uint8)
        distances = _POPCOUNT[np.bitwise_xor(self._pdq, query)].sum(axis=1)
        # A featureless image's hash is near many others: only an equal hash counts then.
        limit = self.max_distance if is_useful_quality(quality) else 0
        found: set[int] = set()
        for row in np.flatnonzero(distances <= limit).tolist():
            found.update(self._pdq_entries[row])
        return found
