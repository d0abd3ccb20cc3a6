"""Start-up cost of the `watchfloor` command.

    python bench/startup.py [--runs 7]

Prints the median wall time of `watchfloor --help` (target < 0.3 s) and of
`watchfloor ingest` of ten signals into a prepared SQLite data directory (target < 1 s),
each beside the same-run baselines: the bare interpreter (`python -c pass`) and Django's
own `django-admin --version`. Start-up is mostly imports, so the figures move with the
machine's load: compare within one run and give the load average with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_HELP_S = 0.3
TARGET_INGEST_S = 1.0


def median_seconds(command: list[str], *, env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def ten_signals(path: Path) -> None:
    lines = [
        json.dumps(
            {
                "id": f"startup-{n}",
                "received_at": "2026-11-24T00:00:00Z",
                "source": "user_report",
                "subject": {"kind": "post", "ref": f"post:{n}"},
                "market": "JP",
                "language": "ja",
                "text": f"義援金詐欺のアカウント {n}",
            },
            ensure_ascii=False,
        )
        for n in range(10)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "WATCHFLOOR_DATA_DIR": str(Path(tmp) / "data")}
        env.pop("DATABASE_URL", None)
        signals = Path(tmp) / "ten.jsonl"
        ten_signals(signals)
        # Prepare the data directory once (migrations, catalog): not part of the figure.
        subprocess.run(["watchfloor", "migrate", "-v", "0"], env=env, check=True)
        subprocess.run(
            ["watchfloor", "ingest", str(signals)], env=env, check=True, capture_output=True
        )
        python = median_seconds([sys.executable, "-c", "pass"], env=env, runs=args.runs)
        django_admin = median_seconds(
            [sys.executable, "-m", "django", "--version"], env=env, runs=args.runs
        )
        help_s = median_seconds(["watchfloor", "--help"], env=env, runs=args.runs)
        ingest_s = median_seconds(["watchfloor", "ingest", str(signals)], env=env, runs=args.runs)
    load = os.getloadavg()[0]
    print(f"start-up, median of {args.runs} runs, load average {load:.1f}")
    print(f"  baseline: python -c pass           {python:6.3f} s")
    print(f"  baseline: python -m django --version {django_admin:6.3f} s")
    print(f"  watchfloor --help                  {help_s:6.3f} s   target < {TARGET_HELP_S} s")
    print(f"  watchfloor ingest (10 signals)     {ingest_s:6.3f} s   target < {TARGET_INGEST_S} s")


if __name__ == "__main__":
    main()
