"""Fit the triage score's weights on the CrisisLexT26 informativeness labels, print the
leave-one-event-out evaluation, and write the shipped weights file.

    python bench/train_triage.py [--data ../shared/data/crisislex] [--out FILE] [--loo]

Labels: "Related and informative" is informative; "Related - but not informative",
"Not related" and "Not applicable" are not (18,236 tweets of 17 events).

Evaluation (``--loo``; ``bench/early_warning.py`` gives the evaluation on clusters over
time, which is the one that counts): for each event, the weights are fitted on the
other 16 events and the left-out event's tweets are scored; printed per event: the
area under the ROC curve, the informative share of its 20 and 100 highest-scored
tweets, and its base rate (the informative share of all its labelled tweets). Nothing
is tuned per event: the settings (``triage_training.FitSettings``) are the same for
every fold and for the shipped fit.

The shipped file (``src/watchfloor/signals/triage_weights.json``) is then fitted on all
17 events.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import os
import statistics
import time

import numpy as np


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """The probability that an informative tweet outscores an uninformative one (ties
    count half)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size)
    sorted_scores = scores[order]
    # Average ranks over ties.
    start = 0
    for end in range(1, scores.size + 1):
        if end == scores.size or sorted_scores[end] != sorted_scores[start]:
            ranks[order[start:end]] = (start + end + 1) / 2
            start = end
    positives = labels.sum()
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data" / "crisislex"
    if not default_data.is_dir():
        default_data = Path("/work/shared/data/crisislex")
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument(
        "--out", type=Path, default=root / "src" / "watchfloor" / "signals" / "triage_weights.json"
    )
    parser.add_argument("--loo", action="store_true", help="leave-one-event-out evaluation")
    args = parser.parse_args()
    sys.path.insert(0, str(root / "src"))

    from watchfloor.signals.triage import load_weights, score_text
    from watchfloor.signals.triage_training import (
        FitSettings,
        build_design,
        fit_design,
        read_crisislex,
        weights_json,
    )

    settings = FitSettings()
    data = read_crisislex(args.data)
    texts = [item.text for item in data]
    labels = [item.informative for item in data]
    events = sorted({item.event for item in data})
    started = time.perf_counter()
    design = build_design(texts, settings.buckets)
    print(
        f"{len(data):,} labelled tweets of {len(events)} events; features built in "
        f"{time.perf_counter() - started:.1f} s. Load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores. Settings: {settings}."
    )
    if args.loo:
        print("\nLeave one event out (fitted on the other 16):")
        print(f"  {'event':34} {'tweets':>6} {'base':>5} {'top 20':>6} {'top 100':>7} {'AUC':>5}")
        gains20, gains100, aucs = [], [], []
        for event in events:
            held = np.array([i for i, item in enumerate(data) if item.event == event])
            train = np.array([i for i, item in enumerate(data) if item.event != event])
            weights = fit_design(design, labels, settings, rows=train)
            scores = np.array([score_text(texts[i], weights=weights).score for i in held])
            truth = np.array([labels[i] for i in held])
            order = np.argsort(-scores, kind="mergesort")
            base = truth.mean()
            top20, top100 = truth[order[:20]].mean(), truth[order[:100]].mean()
            auc = roc_auc(scores, truth)
            gains20.append(top20 - base)
            gains100.append(top100 - base)
            aucs.append(auc)
            print(
                f"  {event:34} {held.size:>6} {base:>5.2f} {top20:>6.2f} {top100:>7.2f} {auc:>5.3f}"
            )
        print(
            f"  median: top 20 {statistics.median(gains20):+.2f} over base, top 100 "
            f"{statistics.median(gains100):+.2f}, AUC {statistics.median(aucs):.3f} "
            f"(worst {min(aucs):.3f})"
        )
    started = time.perf_counter()
    weights = fit_design(design, labels, settings)
    about = {
        "data": "CrisisLexT26 informativeness labels, 17 events",
        "tweets": len(data),
        "command": "python bench/train_triage.py",
        "settings": {
            "buckets": settings.buckets,
            "l2_cues": settings.l2_cues,
            "l2_ngrams": settings.l2_ngrams,
            "iterations": settings.iterations,
            "learning_rate": settings.learning_rate,
        },
    }
    args.out.write_text(weights_json(weights, about=about), encoding="utf-8")
    load_weights(args.out)  # the file written is one the scorer accepts
    print(
        f"\nFitted on all {len(events)} events in {time.perf_counter() - started:.1f} s; "
        f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)."
    )
    print("  bias", round(weights.bias, 3))
    for name, weight in sorted(weights.cues.items(), key=lambda pair: -pair[1]):
        print(f"  {name:18} {weight:+.3f}")


if __name__ == "__main__":
    main()
