"""The batch API's cost per signal, this tree against another one, in the same run.

    python bench/intake_before_after.py --before SRC [--signals 5000] [--rounds 3]

``SRC`` is the ``src`` folder of another checkout (e.g. ``git worktree add /tmp/old
COMMIT`` then ``--before /tmp/old/src``). One surge file is generated
(``bench/intake.py``'s generator), then each round posts it through
``POST /api/v1/signals:batch`` in-process (Django test client, batches of 2,000), once
with the other tree and once with this one, each in a fresh SQLite database migrated by
its own code. Each post prints signals/s and the CPU time per signal of the requests
(``time.process_time``: SQLite and the view run in that process, and load on the other
cores moves it far less than wall time). The summary gives both trees' median and best
CPU per signal; compare within a run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import intake as intake_bench  # noqa: E402 (this folder, after the path is set)

# Runs in a child process so each tree is imported alone; prints one JSON line.
POSTER = r"""
import json, os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchfloor.settings")
django.setup()
from django.test import Client
from watchfloor.people.models import Team
from watchfloor.people.services import create_user
try:
    from watchfloor.people.api_tokens import create_api_token
except ImportError:  # trees from before the people app's split
    from watchfloor.people.services import create_api_token
user = create_user(username="bench-intake", password=None, role="analyst", actor=None,
                   team=Team.objects.get(code="site_policy"))
_, token = create_api_token(user=user, name="bench", scopes=["ingest"], actor=None)
records = []
for line in open(sys.argv[1], encoding="utf-8").read().splitlines():
    try:
        records.append(json.loads(line))
    except ValueError:
        records.append(line)
size = 2000
bodies = [json.dumps(records[s:s + size], ensure_ascii=False).encode()
          for s in range(0, len(records), size)]
client = Client()
headers = {"Authorization": f"Bearer {token}"}
cpu, wall = time.process_time(), time.perf_counter()
for body in bodies:
    response = client.post("/api/v1/signals:batch", data=body,
                           content_type="application/json", headers=headers)
    if response.status_code != 200:
        raise SystemExit(f"API answered {response.status_code}: {response.content[:300]!r}")
print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall,
                  "signals": len(records)}))
"""


def post_once(src: Path, surge: Path, poster: Path, data_dir: Path) -> dict:
    env = dict(os.environ, WATCHFLOOR_DATA_DIR=str(data_dir), WATCHFLOOR_TESTING="1")
    env["PYTHONPATH"] = str(src)
    env.pop("DATABASE_URL", None)
    intake_bench._fresh_database("sqlite", env)
    done = subprocess.run(
        [sys.executable, str(poster), str(surge)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"posting with {src} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", type=Path, required=True, help="the other tree's src")
    parser.add_argument("--signals", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "this tree": HERE.parent / "src"}
    cpu_per_signal: dict[str, list[float]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="wf-bench-before-after-") as work:
        surge = Path(work) / "surge.jsonl"
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        intake_bench.generate(surge, signals=args.signals, stories=300, end=end)
        poster = Path(work) / "poster.py"
        poster.write_text(POSTER, encoding="utf-8")
        print(
            f"Batch API, {args.signals:,} signals, batches of 2,000, SQLite, {args.rounds} rounds"
        )
        for round_number in range(1, args.rounds + 1):
            for name, src in trees.items():
                data_dir = Path(work) / f"{round_number}-{name.replace(' ', '-')}"
                data_dir.mkdir()
                load = os.getloadavg()[0]
                measured = post_once(src, surge, poster, data_dir)
                per_signal = measured["cpu"] / measured["signals"] * 1e6
                cpu_per_signal[name].append(per_signal)
                print(
                    f"  round {round_number}, {name:<9}: "
                    f"{measured['signals'] / measured['wall']:>7,.0f} signals/s, "
                    f"{per_signal:>5,.0f} µs CPU a signal (load {load:.1f})",
                    flush=True,
                )
    for name, figures in cpu_per_signal.items():
        print(
            f"{name:<9}: CPU a signal, median {statistics.median(figures):,.0f} µs, "
            f"best {min(figures):,.0f} µs"
        )


if __name__ == "__main__":
    main()
