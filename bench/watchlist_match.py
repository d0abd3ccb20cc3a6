"""Watchlist term matching per signal, with the East Asian folds and variants.

    python bench/watchlist_match.py [--texts 20000] [--terms 300] [--repeat 3]

Builds one matcher over ``--terms`` terms (a third Japanese, a third Korean, a third
English, each Japanese and Korean term with two variants, the shipped starter list's
spellings among them) and matches ``--texts`` synthetic posts (seeded: Japanese, Korean
and English sentences of 20 to 140 characters, some spaced out letter by letter, some in
katakana, some half-width). Prints microseconds per text, best of ``--repeat`` runs,
beside the target and the baseline measured in the same run: the same matcher and texts
with the folds turned off (katakana kept apart, spaces between East Asian letters kept),
that is, matching as it was before them. Pure Python and one core; no database.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

TARGET_RATIO = 1.5  # the folds may cost at most half again the matching before them

JAPANESE = [
    "台風10号の義援金詐欺に注意してください",
    "お前はバカだと言われた",
    "このアカウントは偽物です、送金しないで",
    "地震の被害状況をまとめました",
    "ＰａｙＰａｙで送金してと言われた",
    "ｻｷﾞのｱｶｳﾝﾄです",
    "もうしねよ",
    "避難所の情報を共有します",
]
KOREAN = [
    "이 계정은 사기를 치고 있어요",
    "쓰 레 기 같은 말만 한다",
    "진짜ㅉㅉ 한심하다",
    "기부금을 가로챈 사기꾼입니다",
    "대피소 정보를 공유합니다",
    "ㅅㅂ 이게 뭐야",
]
ENGLISH = [
    "Fake relief page asking for donations after the typhoon",
    "It's a SCAM! Don't send money to this account",
    "Evacuation centres are open in the north of the city",
    "Please stop sharing this video, it shows the attack",
]


def _terms(count: int, rng: random.Random) -> list[tuple[str, list[str]]]:
    starters = [
        ("バカ", ["馬鹿", "ばか"]),
        ("しね", ["死ね", "氏ね"]),
        ("쓰레기", ["ㅆㄹㄱ", "쓰레귀"]),
        ("시발", ["ㅅㅂ", "씨발"]),
        ("詐欺", ["サギ", "さぎ"]),
        ("scam", []),
    ]
    kana = "アイウエオカキクケコサシスセソタチツテトナニヌネノ"
    hangul = "가나다라마바사아자차카타파하"
    terms = list(starters)
    while len(terms) < count:
        kind = len(terms) % 3
        if kind == 0:
            word = "".join(rng.choice(kana) for _ in range(rng.randint(2, 4)))
            terms.append((word, [word + "ー", "漢" + word]))
        elif kind == 1:
            word = "".join(rng.choice(hangul) for _ in range(rng.randint(2, 3)))
            terms.append((word, [word + "ㅋ", "ㄱ" + word]))
        else:
            terms.append((f"term{len(terms)}", []))
    return terms[:count]


def _texts(count: int, rng: random.Random) -> list[str]:
    texts = []
    for _ in range(count):
        pool = rng.choice((JAPANESE, KOREAN, ENGLISH))
        text = " ".join(rng.choice(pool) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.1:
            text = " ".join(text)  # spaced out letter by letter
        texts.append(text[:280])
    return texts


def _time(matcher, facts, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for fact in facts:
            matcher.match(fact)
        best = min(best, time.perf_counter() - started)
    return best / len(facts) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--terms", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchfloor.settings")
    import django

    django.setup()
    from watchfloor.crises import matching
    from watchfloor.crises.matching import (
        CompiledEntry,
        SignalFacts,
        WatchlistMatcher,
        normalise_term,
    )

    rng = random.Random(13)
    terms = _terms(args.terms, rng)
    texts = _texts(args.texts, rng)
    facts = [SignalFacts(text=text) for text in texts]

    def compile_all() -> WatchlistMatcher:
        return WatchlistMatcher.compile(
            CompiledEntry(
                index,
                1,
                "term",
                normalise_term(value),
                tuple(normalise_term(variant) for variant in variants),
            )
            for index, (value, variants) in enumerate(terms, start=1)
        )

    folded = compile_all()
    folded_hits = sum(bool(folded.match(fact)) for fact in facts)
    folded_cost = _time(folded, facts, args.repeat)

    fold = matching._east_asian_fold
    matching._east_asian_fold = lambda text: text  # matching as before the folds
    try:
        plain = compile_all()
        plain_hits = sum(bool(plain.match(fact)) for fact in facts)
        plain_cost = _time(plain, facts, args.repeat)
    finally:
        matching._east_asian_fold = fold

    ratio = folded_cost / plain_cost
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{len(texts):,} texts, {len(terms)} terms with variants; load average {load}")
    print(f"{'':34}{'µs/text':>10}{'matched':>10}")
    print(f"{'with the folds':34}{folded_cost:>10.1f}{folded_hits:>10,}")
    print(f"{'baseline: without them':34}{plain_cost:>10.1f}{plain_hits:>10,}")
    verdict = "ok" if ratio <= TARGET_RATIO else "MISSED"
    print(f"cost ratio {ratio:.2f} (target ≤ {TARGET_RATIO}) {verdict}")


if __name__ == "__main__":
    main()
