"""The triage score: how likely a cluster is to be an informative report in a crisis.

During a crisis the clusters that help most are eyewitness accounts, requests for help,
casualty and damage reports, official warnings and advice, and links to reports, photos
and videos; prayers, jokes and bare retweets help least. The score is a logistic
regression, so every cluster's score is a sum of named parts that can be shown:

* **cues** — hand-made features in words (``CUES``), each a short list of terms in
  English, Japanese, Korean, Chinese, Thai, Indonesian/Malay, Hindi, Vietnamese,
  Filipino, Spanish, Portuguese, Italian and French, matched in the normalised text
  (``text.normalise_text``: NFKC, case-folded, without links, mentions and retweet
  markers); a few read the raw text (a link, a question mark, laughing emoji, a leading
  ``RT @``);
* **wording** — hashed character 2-, 3- and 4-grams of the normalised text (figures
  folded to 0), which carry what the cues do not, in any language; shown as one part;
* **official or trusted source** — the cluster's signals came from a government,
  regulator, law-enforcement, alert, trusted-flagger, partner or media source, or the
  representative's reporter is marked ``attributes.verified``. The labelled tweets carry
  no such metadata, so this weight is fixed (``FIXED_WEIGHTS``), not fitted.

The weights are fitted on the CrisisLexT26 informativeness labels by
``bench/train_triage.py`` (``signals.triage_training``) and shipped as
``triage_weights.json`` next to this module: no pickles, nothing downloaded. A cue's
weight is bounded to its meaning (a request for help never counts against a cluster,
a prayer never for it), so the explanation always reads the way its words say. The text
part ignores retweet markers and mentions, so putting ``RT @someone:`` in front of a
text can only add the "bare retweet" part, whose weight is never positive.

The cues and the n-grams (what the score reads in a text) are ``signals.triage_features``;
this module holds the weights and the score.

docs/signals.md ("Triage score") gives the method, the training command and the
leave-one-event-out results.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from watchfloor.core.errors import WatchfloorError
from watchfloor.signals.triage_features import (
    CUES,
    FEATURE_LABELS,
    FEATURES,
    NGRAM_SIZES,
    TRUSTED_SOURCES,
    cue_values,
    ngram_buckets,
)

__all__ = [
    "CUES",
    "FEATURE_LABELS",
    "FIXED_WEIGHTS",
    "NGRAM_SIZES",
    "TRUSTED_SOURCES",
    "WEIGHTS_FORMAT",
    "WEIGHTS_PATH",
    "Contribution",
    "TriageScore",
    "TriageWeights",
    "TriageWeightsError",
    "cue_values",
    "load_weights",
    "ngram_buckets",
    "score_text",
    "shipped_weights",
    "triage_cluster",
]

WEIGHTS_FORMAT = "watchfloor-triage/1"
WEIGHTS_PATH = Path(__file__).with_name("triage_weights.json")
# Parts smaller than this are not worth a word in the explanation.
EXPLAIN_AT_LEAST = 0.05
EXPLAIN_TOP = 3


class TriageWeightsError(WatchfloorError):
    """The weights file is missing, unreadable or not what the scorer needs."""

    code = "triage_weights_invalid"


# Weights not fitted, with the reason: the labelled tweets carry no source metadata.
FIXED_WEIGHTS: dict[str, float] = {"official_source": 1.0}


# ---------------------------------------------------------------- weights


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (a cache key)
class TriageWeights:
    bias: float
    cues: dict[str, float]
    ngrams: np.ndarray
    about: dict[str, Any]

    @property
    def buckets(self) -> int:
        return int(self.ngrams.size)


def _number(value: Any, where: str, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TriageWeightsError(f"{path}: {where} must be a finite number, not {value!r}")
    return float(value)


def load_weights(path: Path) -> TriageWeights:
    """Read and check a weights file; ``TriageWeightsError`` names the file and what is
    wrong (retrain with ``python bench/train_triage.py`` to write a good one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TriageWeightsError(f"{path}: cannot read the triage weights ({error})") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TriageWeightsError(
            f"{path}: the triage weights are not valid JSON ({error}); retrain with "
            "`python bench/train_triage.py`"
        ) from error
    if not isinstance(data, dict) or data.get("format") != WEIGHTS_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise TriageWeightsError(f"{path}: format must be {WEIGHTS_FORMAT!r}, not {found!r}")
    bias = _number(data.get("bias"), "bias", path)
    cues = data.get("cues")
    if not isinstance(cues, dict):
        raise TriageWeightsError(f"{path}: cues must be an object of feature: weight")
    missing = sorted(set(FEATURES) - set(cues))
    unknown = sorted(set(cues) - set(FEATURES))
    if missing or unknown:
        raise TriageWeightsError(
            f"{path}: cues do not match the scorer's features "
            f"(missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'})"
        )
    weights = {name: _number(cues[name], f"cues.{name}", path) for name in FEATURES}
    for name, weight in weights.items():
        sign = CUES[name].sign
        if sign * weight < 0:
            raise TriageWeightsError(
                f"{path}: cues.{name} is {weight}, but {CUES[name].label!r} may only "
                f"{'raise' if sign > 0 else 'lower'} the score"
            )
    ngrams = data.get("ngrams")
    if not isinstance(ngrams, dict) or not isinstance(ngrams.get("weights"), list):
        raise TriageWeightsError(f"{path}: ngrams.weights must be a list of numbers")
    if list(ngrams.get("sizes", [])) != list(NGRAM_SIZES):
        raise TriageWeightsError(
            f"{path}: ngrams.sizes must be {list(NGRAM_SIZES)}, not {ngrams.get('sizes')!r}"
        )
    values = ngrams["weights"]
    if not 16 <= len(values) <= 1 << 20:
        raise TriageWeightsError(f"{path}: ngrams.weights has {len(values)} values (16 to 2^20)")
    for position, value in enumerate(values):
        _number(value, f"ngrams.weights[{position}]", path)
    trained = data.get("trained")
    about: dict[str, Any] = trained if isinstance(trained, dict) else {}
    return TriageWeights(
        bias=bias, cues=weights, ngrams=np.asarray(values, dtype=np.float64), about=about
    )


@cache
def shipped_weights() -> TriageWeights:
    return load_weights(WEIGHTS_PATH)


# ---------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Contribution:
    feature: str
    label: str
    value: float  # its part of the log-odds

    @property
    def words(self) -> str:
        sign = "+" if self.value >= 0 else "−"
        return f"{self.label} {sign}"


@dataclass(frozen=True)
class TriageScore:
    score: float  # 0..1
    contributions: tuple[Contribution, ...]  # every non-zero part, largest first

    def explanation(self, top: int = EXPLAIN_TOP) -> list[Contribution]:
        return [c for c in self.contributions if abs(c.value) >= EXPLAIN_AT_LEAST][:top]

    def reasons(self) -> list[list[Any]]:
        """The explanation as stored on the cluster: [[label, part], …]."""
        return [[c.label, round(c.value, 2)] for c in self.explanation()]


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@lru_cache(maxsize=8192)
def _text_part(text: str, has_link: bool, has_media: bool, weights: TriageWeights) -> tuple:
    values = cue_values(text, has_link=has_link, has_media=has_media)
    indexes, ngram_values = ngram_buckets(text, weights.buckets)
    wording = float(np.dot(weights.ngrams[indexes], ngram_values)) if indexes.size else 0.0
    return tuple(sorted(values.items())), wording


def score_text(
    text: str,
    *,
    has_link: bool = False,
    has_media: bool = False,
    official_source: bool = False,
    weights: TriageWeights | None = None,
) -> TriageScore:
    weights = weights or shipped_weights()
    values, wording = _text_part(text or "", has_link, has_media, weights)
    parts: dict[str, float] = {"wording": wording}
    for name, value in values:
        if value:
            parts[name] = weights.cues[name] * value
    if official_source:
        parts["official_source"] = weights.cues["official_source"]
    z = weights.bias + sum(parts.values())
    named = [Contribution(name, FEATURE_LABELS[name], part) for name, part in parts.items()]
    contributions = tuple(
        sorted((c for c in named if c.value), key=lambda c: (-abs(c.value), c.feature))
    )
    return TriageScore(score=_sigmoid(z), contributions=contributions)


def triage_cluster(
    *,
    text: str,
    url: str = "",
    sources: Mapping[str, Any] | None = None,
    verified: bool = False,
    has_media: bool = False,
    weights: TriageWeights | None = None,
) -> TriageScore:
    """A cluster's score from its representative text and link, the sources of its
    signals and whether the representative came with media or from a verified reporter."""
    official = verified or bool(TRUSTED_SOURCES.intersection(sources or {}))
    return score_text(
        text,
        has_link=bool(url),
        has_media=has_media,
        official_source=official,
        weights=weights,
    )
