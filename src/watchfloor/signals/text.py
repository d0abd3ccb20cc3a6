"""Near-identical text: normalisation, character shingles and MinHash.

The same scam message, copypasta or crisis rumour arrives thousands of times with
small edits: another link, a mention, an emoji, full-width instead of half-width
characters. ``normalise_text`` removes those differences; the normalised text,
with its spaces removed, is cut into overlapping character k-grams (shingles), so
the method works the same for scripts written without spaces (Japanese, Chinese,
Thai). Two texts match when the Jaccard similarity of their shingle sets is at
least a threshold (0.8 by default), estimated from MinHash signatures; an
``LSHIndex`` over the signatures (``signals.lsh``) finds the candidates without
comparing a new text with every stored one.

Shingle length. A character of Han, kana or Hangul carries about a syllable or a
short word, a Latin, Cyrillic, Thai, Devanagari or Arabic character much less, so
``shingle_size`` picks k = 3 when most letters of the text are Han, kana or
Hangul and k = 4 otherwise. Measured on the CrisisLexT26 tweets (pairs within
each event): a smaller k joins more rewrites of one headline ("New Mexico,
Colorado fires burn out of control" against "RT @NBCNews: ...wildfires burn...":
0.81 at k = 3, 0.76 at k = 4, 0.71 at k = 5), but k = 3 also joins tweets that
differ in what matters ("sismo de magnitud 7 5 sacude guatemala" against "6 2":
0.80) and makes unrelated 20,000-character texts 0.40 similar (0.17 at k = 4,
0.07 at k = 5); k = 4 is the compromise. For a 50- to 70-character Japanese or
Chinese post, k = 3 keeps a re-post with another link, a mention and one changed
word above 0.8 (0.87 to 0.90), k = 5 barely (0.80 to 0.84). The tests pin these
cases. A text shorter than k is one shingle, so it matches only when identical
after normalisation.

MinHash. Shingles are hashed to 64 bits by a vectorised polynomial hash of their
code points followed by the SplitMix64 finaliser (deterministic across processes,
unlike ``hash()``); each of the ``num_perm`` hash functions is Dietzfelbinger's
multiply-add-shift over the shingle's 32-bit key, a strongly universal family,
computed for all shingles and all functions in two numpy operations and a
minimum. (Exact arithmetic modulo the Mersenne prime 2^61 − 1 needs a dozen
operations on 64-bit halves in numpy and measured 30 times slower.) A signature
is ``num_perm`` 32-bit minima: 512 bytes at the default 128. datasketch is not
used: its ``MinHash.update_batch`` hashes every shingle with SHA-1 in Python, and
for a 200-character text it measured 100 µs against 39 µs here (20 µs per text
in the batch form).
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_NUM_PERM",
    "DEFAULT_THRESHOLD",
    "MinHasher",
    "jaccard",
    "jaccard_estimate",
    "links_in",
    "minhash",
    "minhash_many",
    "normalise_text",
    "seeded_words",
    "shingle_hashes",
    "shingle_size",
    "shingles",
    "signature_from_bytes",
    "signature_to_bytes",
    "text_matches",
]

DEFAULT_THRESHOLD = 0.8
DEFAULT_NUM_PERM = 128
DENSE_SCRIPT_SHINGLE = 3
SPACED_SCRIPT_SHINGLE = 4
# Changing any of these changes every signature: bump the format version with them.
_SIGNATURE_SEED = 0x5741_5443_4846_4C52  # fixed: stored signatures must stay comparable
_SIGNATURE_FORMAT = 1
_SIGNATURE_MAGIC = b"MH"
_HEADER = struct.Struct("<2sBBH")  # magic, format version, reserved, num_perm

_SHIFT_32 = np.uint64(32)
_POLY_BASE = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime, as a multiplier
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)

_URL = re.compile(r"(?:https?://|www\.)\S+")
_RETWEET_MARKER = re.compile(r"(?:^|(?<=\s))(?:rt|via)\s*:?\s*(?=@)")
_MENTION = re.compile(r"@\w+")


class _WordCharacters(dict[int, int | str]):
    """A ``str.translate`` table: letters, marks and digits of any script map to
    themselves, everything else to a space.

    ``\\w`` is letters, digits and "_" but not combining marks, and dropping marks
    would break Thai vowels, Devanagari matras and Arabic harakat; a regex class
    with every mark measured 10 times slower than this table on ASCII text, which
    takes CPython's cached fast path. Entries are filled on first sight.
    """

    _LIMIT = 300_000  # more than every assigned code point: the cache stays bounded

    def __missing__(self, code_point: int) -> int | str:
        character = chr(code_point)
        keep = character.isalnum() or unicodedata.category(character)[0] == "M"
        value: int | str = code_point if keep else " "
        if len(self) < self._LIMIT:
            self[code_point] = value
        return value


_WORD_CHARACTERS = _WordCharacters()
# Filled up front for ASCII, so that ASCII text never calls __missing__.
_WORD_CHARACTERS.update({code: _WordCharacters().__missing__(code) for code in range(128)})


# Han, kana (including the half-width forms NFKC folds) and Hangul.
_DENSE = re.compile(
    "[\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303b\u3040-\u30ff\u3100-\u312f"
    "\u3130-\u318f\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff"
    "\uf900-\ufaff\U00020000-\U0003134f]"
)


def links_in(text: str) -> list[str]:
    """The http(s) links written in a text, in order (``www.`` ones get ``http://``)."""
    found = []
    for match in _URL.finditer(text):
        link = match.group(0).rstrip(".,;:!?)]}>'\"…")
        found.append(link if link.lower().startswith("http") else "http://" + link)
    return found


def normalise_text(text: str) -> str:
    """NFKC (full-width ``ＡＢＣ１２３`` → ``abc123``, half-width kana → kana),
    case-folded, without URLs, mentions and retweet markers, punctuation and
    symbols (emoji included) turned into spaces, white space collapsed. Letters,
    marks and digits of every script are kept.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    if "http" in folded or "www." in folded:
        folded = _URL.sub(" ", folded)
    if "@" in folded:
        if "rt" in folded or "via" in folded:
            folded = _RETWEET_MARKER.sub(" ", folded)
        folded = _MENTION.sub(" ", folded)
    return " ".join(folded.translate(_WORD_CHARACTERS).split())


def shingle_size(normalised: str) -> int:
    """3 for text mostly in Han, kana or Hangul, 4 otherwise (see the module docstring)."""
    letters = len(normalised) - normalised.count(" ")
    if letters == 0:
        return SPACED_SCRIPT_SHINGLE
    dense = len(_DENSE.findall(normalised))
    return DENSE_SCRIPT_SHINGLE if dense * 2 >= letters else SPACED_SCRIPT_SHINGLE


def shingles(text: str, k: int | None = None) -> set[str]:
    """The character k-grams of the normalised text with its spaces removed.

    ``k`` defaults to ``shingle_size`` of the text. A text shorter than k is one
    shingle; an empty one has none.
    """
    normalised = normalise_text(text)
    size = k if k is not None else shingle_size(normalised)
    compact = normalised.replace(" ", "")
    if not compact:
        return set()
    if len(compact) <= size:
        return {compact}
    return {compact[i : i + size] for i in range(len(compact) - size + 1)}


def shingle_hashes(normalised: str, k: int | None = None) -> np.ndarray:
    """64-bit hashes of the shingles of an already normalised text (with repeats).

    The same shingle always gets the same hash, in every process; repeats do not
    change a MinHash, so they are not removed.
    """
    compact = normalised.replace(" ", "")
    if not compact:
        return np.empty(0, dtype=np.uint64)
    size = k if k is not None else shingle_size(normalised)
    code_points = np.frombuffer(compact.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    return _splitmix64(_window_hashes(code_points, min(size, code_points.size)))


def _window_hashes(code_points: np.ndarray, size: int) -> np.ndarray:
    """A polynomial hash of every window of ``size`` code points (the size included)."""
    count = code_points.size - size + 1
    hashes = np.full(count, np.uint64(size), dtype=np.uint64)
    for offset in range(size):
        hashes *= _POLY_BASE
        hashes ^= code_points[offset : offset + count]
    return hashes


def seeded_words(seed: int, count: int) -> np.ndarray:
    """``count`` 64-bit words from SplitMix64, computed here rather than by numpy's
    generators, whose streams may change between numpy versions: stored signatures
    depend on these words."""
    mask = (1 << 64) - 1
    state = seed & mask
    words = []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        word = state
        word = ((word ^ (word >> 30)) * 0xBF58476D1CE4E5B9) & mask
        word = ((word ^ (word >> 27)) * 0x94D049BB133111EB) & mask
        words.append(word ^ (word >> 31))
    return np.array(words, dtype=np.uint64)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    values = values ^ (values >> np.uint64(30))
    values *= _MIX_1
    values ^= values >> np.uint64(27)
    values *= _MIX_2
    values ^= values >> np.uint64(31)
    return values


def jaccard(a: set[str], b: set[str]) -> float:
    """The exact Jaccard similarity of two shingle sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def jaccard_of_texts(a: str, b: str) -> float:
    """The exact Jaccard similarity of two raw texts' shingles (for tests and tuning)."""
    return jaccard(shingles(a), shingles(b))


class MinHasher:
    """MinHash signatures of ``num_perm`` hash functions from a fixed seed.

    Each function is Dietzfelbinger's multiply-add-shift,
    ``h(x) = ((a·x + b) mod 2^64) >> 32`` over the 32-bit key x of a shingle, with
    a and b drawn once from the seed: a strongly universal family into 32 bits.
    Signatures from two hashers are comparable only if both have the same
    ``num_perm`` and seed; the default hasher's are what gets stored.
    """

    # Shingles hashed together in one block; 4,096 measured fastest (1,024: 2× slower).
    _BLOCK = 4096

    def __init__(self, num_perm: int = DEFAULT_NUM_PERM, seed: int = _SIGNATURE_SEED) -> None:
        if not 16 <= num_perm <= 1024:
            raise ValueError(f"num_perm is {num_perm}: use 16 to 1024 (128 is the default)")
        self.num_perm = num_perm
        words = seeded_words(seed, 2 * num_perm)
        self._a_column = words[:num_perm].reshape(num_perm, 1)
        self._b_column = words[num_perm:].reshape(num_perm, 1)

    def signature(self, text: str) -> np.ndarray | None:
        """The signature of a raw text, or None when nothing of it is left to compare."""
        return self.signature_of_normalised(normalise_text(text))

    def signature_of_normalised(self, normalised: str) -> np.ndarray | None:
        hashes = shingle_hashes(normalised)
        if hashes.size == 0:
            return None
        return _high_half(self._hash(hashes).min(axis=1))

    def signatures(self, texts: Iterable[str]) -> list[np.ndarray | None]:
        """``signature`` of many raw texts, equal to it text by text, for less time."""
        return self.signatures_of_normalised([normalise_text(text) for text in texts])

    def signatures_of_normalised(self, normalised: Sequence[str]) -> list[np.ndarray | None]:
        """Texts of one shingle size are hashed as one array, so numpy's per-call cost
        is paid per block of shingles instead of per text."""
        results: list[np.ndarray | None] = [None] * len(normalised)
        by_size: dict[int, list[tuple[int, str]]] = {}
        for index, text in enumerate(normalised):
            compact = text.replace(" ", "")
            if not compact:
                continue
            size = shingle_size(text)
            if len(compact) <= size:  # one shingle: rare, and not worth batching
                results[index] = self.signature_of_normalised(text)
            else:
                by_size.setdefault(size, []).append((index, compact))
        for size, members in by_size.items():
            start = 0
            while start < len(members):
                block: list[tuple[int, Any]] = []
                windows = 0
                while start < len(members) and (not block or windows < self._BLOCK):
                    block.append(members[start])
                    windows += len(members[start][1]) - size + 1
                    start += 1
                for (index, _), signature in zip(
                    block, self._block_signatures([text for _, text in block], size), strict=True
                ):
                    results[index] = signature
        return results

    def _block_signatures(self, compacts: list[str], size: int) -> np.ndarray:
        lengths = np.fromiter((len(text) for text in compacts), dtype=np.int64, count=len(compacts))
        joined = "".join(compacts).encode("utf-32-le")
        code_points = np.frombuffer(joined, dtype=np.uint32).astype(np.uint64)
        hashes = _window_hashes(code_points, size)
        # A window is a shingle of one text when its first and last characters belong
        # to the same text.
        owner = np.repeat(np.arange(len(compacts)), lengths)
        valid = owner[: hashes.size] == owner[size - 1 :]
        hashes = _splitmix64(hashes[valid])
        starts = np.concatenate(([0], np.cumsum(lengths - size + 1)[:-1]))
        minima = np.minimum.reduceat(self._hash(hashes), starts, axis=1)
        return np.ascontiguousarray(_high_half(minima).T)  # one contiguous row per text

    def _hash(self, hashes: np.ndarray) -> np.ndarray:
        """``a·x + b mod 2^64``: one row per hash function, one column per shingle.

        The ``>> 32`` of multiply-add-shift is monotone, so it is applied to the
        minima only (``_high_half``), not to every value; rows are contiguous, so
        the minimum of each row, per text, is a fast contiguous reduction.
        """
        values = self._a_column * (hashes >> _SHIFT_32)  # wraps mod 2^64, as intended
        values += self._b_column
        return values


def _high_half(values: np.ndarray) -> np.ndarray:
    return (values >> _SHIFT_32).astype(np.uint32)


@lru_cache(maxsize=4)
def _hasher(num_perm: int) -> MinHasher:
    return MinHasher(num_perm)


def minhash(text: str, num_perm: int = DEFAULT_NUM_PERM) -> np.ndarray | None:
    """The MinHash signature of a raw text with the default hasher (None if empty)."""
    return _hasher(num_perm).signature(text)


def minhash_many(texts: Iterable[str], num_perm: int = DEFAULT_NUM_PERM) -> list[np.ndarray | None]:
    """``minhash`` of many texts at once, for a fraction of the per-text cost."""
    return _hasher(num_perm).signatures(texts)


def jaccard_estimate(a: np.ndarray, b: np.ndarray) -> float:
    """The fraction of equal minima: an unbiased estimate of the Jaccard similarity."""
    if a.shape != b.shape:
        raise ValueError(
            f"signatures of {a.shape[0]} and {b.shape[0]} hash functions cannot be compared"
        )
    return float(np.count_nonzero(a == b)) / a.shape[0]


def text_matches(a: np.ndarray, b: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """Whether two signatures are near-identical texts: estimated Jaccard ≥ threshold."""
    return jaccard_estimate(a, b) >= threshold


def signature_to_bytes(signature: np.ndarray) -> bytes:
    """A storable form: a 6-byte header (format, num_perm) then little-endian uint32s."""
    values = np.asarray(signature, dtype="<u4")
    header = _HEADER.pack(_SIGNATURE_MAGIC, _SIGNATURE_FORMAT, 0, values.shape[0])
    return header + values.tobytes()


def signature_from_bytes(data: bytes) -> np.ndarray:
    """The signature stored by ``signature_to_bytes``; ValueError if it is not one."""
    if len(data) < _HEADER.size:
        raise ValueError("too short to be a MinHash signature")
    magic, version, _, num_perm = _HEADER.unpack_from(data)
    if magic != _SIGNATURE_MAGIC:
        raise ValueError("not a MinHash signature (wrong magic bytes)")
    if version != _SIGNATURE_FORMAT:
        raise ValueError(
            f"MinHash signature format {version} is not {_SIGNATURE_FORMAT}: "
            "recompute it from the text"
        )
    body = data[_HEADER.size :]
    if len(body) != num_perm * 4:
        raise ValueError(
            f"MinHash signature body has {len(body)} bytes; {num_perm} values need {num_perm * 4}"
        )
    return np.frombuffer(body, dtype="<u4").astype(np.uint32)
