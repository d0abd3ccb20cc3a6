"""What making matches into work costs a lookup: the matcher alone beside the matcher
plus recording (Match rows, hash_match signals through the intake, the action rules),
on SQLite in a fresh data directory, in the same run.

    python bench/match_work.py [--entries 10000] [--batches 20] [--batch 100] [--matched 10]

Each batch holds ``--batch`` PDQ queries of which ``--matched`` are near copies (2 bits)
of bank entries, the rest random (as most uploads are). One shadow rule is in force, so
every match is also checked and its firing recorded.

Figures: milliseconds per batch for the matcher alone (the baseline) and with the work,
and the extra time per matched query against its target (under 10 ms: an upload
pipeline's batch of 100 with 10 copies then pays under 0.1 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# bench/queue.py would shadow the standard library's queue module.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

TARGET_MS_PER_MATCH = 10.0
RULES = """\
version: "bench"
rules:
  - code: copies
    name: Copies of the bench bank
    mode: shadow
    when: {banks: [bench]}
    escalate: {type: violent_attack_content}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--matched", type=int, default=10)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wf-bench-") as data_dir:
        os.environ["WATCHFLOOR_DATA_DIR"] = data_dir
        os.environ.pop("DATABASE_URL", None)
        rules = Path(data_dir) / "bank_action_rules.yaml"
        rules.write_text(RULES, encoding="utf-8")
        os.environ["WATCHFLOOR_BANK_ACTION_RULES"] = str(rules)
        run(options)


def run(options: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchfloor.settings")
    import django

    django.setup()
    import numpy as np

    from watchfloor.banks import services
    from watchfloor.banks.index import hash_to_hex
    from watchfloor.banks.match_work import QueryContext, record_matches
    from watchfloor.banks.matcher import Query, match
    from watchfloor.banks.models import Bank, EntrySource, Match
    from watchfloor.core.preparation import prepare_database

    prepare_database()
    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 2**64, size=(options.entries, 4), dtype=np.uint64)
    bank = services.create_bank(name="bench", signal_type="pdq", actor=None)
    services.add_entries(
        bank=bank,
        entries=[services.NewEntry(signal_type="pdq", value=hash_to_hex(h)) for h in hashes],
        source=EntrySource.IMPORT,
        actor=None,
    )

    def batch() -> list[Query]:
        picked = hashes[rng.integers(0, options.entries, size=options.matched)].copy()
        picked[:, 0] ^= np.uint64(0b101)  # 2 bits away
        randoms = rng.integers(0, 2**64, size=(options.batch - options.matched, 4), dtype=np.uint64)
        return [Query("pdq", hash_to_hex(h)) for h in [*picked, *randoms]]

    banks = Bank.objects.all()
    match(queries=batch(), banks=banks)  # build the index once, outside the timings
    alone, with_work = [], []
    for number in range(options.batches):
        queries = batch()
        started = time.perf_counter()
        results = match(queries=queries, banks=banks)
        alone.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        results = match(queries=queries, banks=banks)
        record_matches(
            results=results,
            contexts=[QueryContext(id=f"b{number}-{i}", market="JP") for i in range(len(results))],
            actor=None,
        )
        with_work.append((time.perf_counter() - started) * 1000)
    matched = Match.objects.count() / options.batches
    base, work = statistics.median(alone), statistics.median(with_work)
    per_match = (work - base) / max(matched, 1)
    load = os.getloadavg()[0]
    print(
        f"SQLite, {options.entries:,} entries, batches of {options.batch} "
        f"with {matched:.0f} matched"
    )
    print(f"{'figure':<40} {'measured':>10} {'target':>10} {'baseline':>10}")
    print(f"{'matcher alone, ms per batch (median)':<40} {base:>10.1f} {'':>10} {'':>10}")
    print(f"{'with the work, ms per batch (median)':<40} {work:>10.1f} {'':>10} {base:>10.1f}")
    print(
        f"{'extra ms per matched query':<40} {per_match:>10.2f} "
        f"{'< ' + format(TARGET_MS_PER_MATCH, 'g'):>10} {'':>10}"
    )
    print(f"load average (1 min): {load:.2f}")


if __name__ == "__main__":
    main()
