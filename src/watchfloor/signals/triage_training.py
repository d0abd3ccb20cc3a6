"""Fitting the triage score's weights (``signals.triage``) on labelled texts.

A logistic regression fitted with numpy alone (no extra dependency): the mean log-loss
plus an L2 penalty, minimised by full-batch Adam; after every step each cue's weight is
clipped to its allowed sign (``triage.CUES``), so the fit is projected gradient descent
on a convex problem. The hashed n-grams are a sparse matrix (rows of bucket indexes and
values); its products are ``np.add.reduceat`` and ``np.bincount``. Used by
``bench/train_triage.py`` (the shipped weights) and ``bench/early_warning.py`` (one fit
per left-out event).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from watchfloor.signals.triage import (
    CUES,
    FEATURES,
    FIXED_WEIGHTS,
    NGRAM_SIZES,
    WEIGHTS_FORMAT,
    TriageWeights,
    cue_values,
    ngram_buckets,
)

__all__ = [
    "INFORMATIVE",
    "Design",
    "FitSettings",
    "LabelledText",
    "build_design",
    "fit_design",
    "fit_weights",
    "read_crisislex",
    "weights_json",
]

INFORMATIVE = "Related and informative"


@dataclass(frozen=True)
class LabelledText:
    event: str
    tweet_id: int
    text: str
    informative: bool


@dataclass(frozen=True)
class FitSettings:
    buckets: int = 4096
    l2_cues: float = 1e-4
    l2_ngrams: float = 1e-3
    iterations: int = 250
    learning_rate: float = 0.08


def read_crisislex(folder: Path) -> list[LabelledText]:
    """The labelled tweets of every event folder under ``folder`` (CrisisLexT26's
    ``*-tweets_labeled.csv``): informative when labelled "Related and informative";
    "Related - but not informative", "Not related" and "Not applicable" are not."""
    found: list[LabelledText] = []
    for event in sorted(path for path in folder.iterdir() if path.is_dir()):
        for labelled in event.glob("*-tweets_labeled.csv"):
            with labelled.open(newline="", encoding="utf-8") as handle:
                rows = csv.reader(handle)
                next(rows)
                for row in rows:
                    if len(row) < 5:
                        continue
                    found.append(
                        LabelledText(
                            event=event.name,
                            tweet_id=int(row[0].strip().strip('"')),
                            text=row[1],
                            informative=row[4].strip() == INFORMATIVE,
                        )
                    )
    return found


@dataclass
class Design:
    """The features of labelled texts: cue values (rows × features) and the hashed
    n-grams as (row, bucket, value) triples."""

    cues: np.ndarray
    rows: np.ndarray
    indexes: np.ndarray
    values: np.ndarray

    def subset(self, rows: np.ndarray) -> Design:
        renumber = np.full(self.cues.shape[0], -1, dtype=np.int64)
        renumber[rows] = np.arange(rows.size)
        keep = renumber[self.rows] >= 0
        return Design(
            cues=self.cues[rows],
            rows=renumber[self.rows[keep]],
            indexes=self.indexes[keep],
            values=self.values[keep],
        )


def build_design(texts: Sequence[str], buckets: int) -> Design:
    cue_rows = []
    rows, indexes, values = [], [], []
    for row, text in enumerate(texts):
        found = cue_values(text)
        cue_rows.append([found.get(name, 0.0) for name in FEATURES])
        idx, val = ngram_buckets(text, buckets)
        rows.append(np.full(idx.size, row, dtype=np.int64))
        indexes.append(idx)
        values.append(val)
    return Design(
        cues=np.asarray(cue_rows, dtype=np.float64).reshape(len(texts), len(FEATURES)),
        rows=np.concatenate(rows) if rows else np.empty(0, dtype=np.int64),
        indexes=np.concatenate(indexes) if indexes else np.empty(0, dtype=np.int64),
        values=np.concatenate(values) if values else np.empty(0),
    )


def fit_weights(
    texts: Sequence[str], labels: Sequence[bool], settings: FitSettings | None = None
) -> TriageWeights:
    settings = settings or FitSettings()
    return fit_design(build_design(texts, settings.buckets), labels, settings)


def fit_design(
    design: Design, labels: Sequence[bool], settings: FitSettings, rows: np.ndarray | None = None
) -> TriageWeights:
    """Fit on the design's rows (all, or the given row numbers: one design serves every
    leave-one-event-out fold)."""
    if rows is not None:
        design = design.subset(rows)
        labels = [labels[row] for row in rows]
    y = np.asarray(labels, dtype=np.float64)
    n, features = design.cues.shape
    fixed = np.array([name in FIXED_WEIGHTS for name in FEATURES])
    lower = np.array([0.0 if CUES[name].sign > 0 else -np.inf for name in FEATURES])
    upper = np.array([0.0 if CUES[name].sign < 0 else np.inf for name in FEATURES])
    # One vector: bias, cue weights, n-gram weights.
    w = np.zeros(1 + features + settings.buckets)
    w[0] = np.log(max(y.mean(), 1e-6) / max(1 - y.mean(), 1e-6))
    penalty = np.concatenate(
        [[0.0], np.full(features, settings.l2_cues), np.full(settings.buckets, settings.l2_ngrams)]
    )
    first = np.zeros_like(w)
    second = np.zeros_like(w)
    beta1, beta2 = 0.9, 0.999
    for step in range(1, settings.iterations + 1):
        z = w[0] + design.cues @ w[1 : 1 + features]
        z += np.bincount(
            design.rows, weights=design.values * w[1 + features :][design.indexes], minlength=n
        )
        p = 1.0 / (1.0 + np.exp(-z))
        residual = (p - y) / n
        gradient = np.empty_like(w)
        gradient[0] = residual.sum()
        gradient[1 : 1 + features] = design.cues.T @ residual
        gradient[1 + features :] = np.bincount(
            design.indexes,
            weights=design.values * residual[design.rows],
            minlength=settings.buckets,
        )
        gradient += penalty * w
        gradient[1 : 1 + features][fixed] = 0.0
        first = beta1 * first + (1 - beta1) * gradient
        second = beta2 * second + (1 - beta2) * gradient**2
        w -= (
            settings.learning_rate
            * (first / (1 - beta1**step))
            / (np.sqrt(second / (1 - beta2**step)) + 1e-8)
        )
        w[1 : 1 + features] = np.clip(w[1 : 1 + features], lower, upper)
    cues = {name: float(w[1 + i]) for i, name in enumerate(FEATURES)}
    cues.update(FIXED_WEIGHTS)
    return TriageWeights(bias=float(w[0]), cues=cues, ngrams=w[1 + features :].copy(), about={})


def weights_json(weights: TriageWeights, *, about: dict[str, Any]) -> str:
    """The weights file (``triage.load_weights`` reads it), rounded to 4 decimals."""
    data = {
        "format": WEIGHTS_FORMAT,
        "trained": about,
        "bias": round(weights.bias, 4),
        "cues": {name: round(weight, 4) for name, weight in weights.cues.items()},
        "ngrams": {
            "sizes": list(NGRAM_SIZES),
            "weights": [round(float(value), 4) for value in weights.ngrams],
        },
    }
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"
