"""Start-up cost of the `watchfloor` command.

    python bench/startup.py [--runs 7] [--before /path/to/other/src]

Prints the median wall time of `watchfloor --help` (target < 0.3 s) and of
`watchfloor ingest` of ten signals into a prepared SQLite data directory (target < 1 s),
each beside the same-run baselines: the bare interpreter (`python -c pass`) and Django's
own `django-admin --version`. Start-up is mostly imports, so the figures move with the
machine's load: compare within one run and give the load average with them.

``--before SRC`` times another checkout's ``src`` (say, main's) in the same run, the two
taking turns, so both columns see the same load.

Python's bytecode is cached under a temporary ``PYTHONPYCACHEPREFIX`` (as an installed
package has its ``.pyc`` files): with ``PYTHONDONTWRITEBYTECODE`` set, every run would
compile the sources again and time the compiler.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_HELP_S = 0.3
TARGET_INGEST_S = 1.0


def seconds(command: list[str], *, env: dict[str, str]) -> tuple[float, float]:
    """Wall time, and the CPU time (user + system) the command used: the second moves far
    less with the machine's load than the first."""
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return wall, cpu


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
    parser.add_argument("--before", type=Path, help="another checkout's src, timed alongside")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        base = {**os.environ, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        base.pop("DATABASE_URL", None)
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        signals = Path(tmp) / "ten.jsonl"
        ten_signals(signals)
        here = Path(__file__).resolve().parents[1] / "src"
        versions = {"this": here, **({"before": args.before.resolve()} if args.before else {})}
        envs = {}
        for name, src in versions.items():
            env = {**base, "WATCHFLOOR_DATA_DIR": str(Path(tmp) / f"data-{name}")}
            env["PYTHONPATH"] = os.pathsep.join(
                [str(src), *filter(None, [os.environ.get("PYTHONPATH")])]
            )
            # Prepare the data directory once (migrations, catalog, bytecode): not timed.
            subprocess.run(["watchfloor", "migrate", "-v", "0"], env=env, check=True)
            for warm in (["--help"], ["ingest", str(signals)]):
                subprocess.run(["watchfloor", *warm], env=env, check=True, capture_output=True)
            envs[name] = env
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -m django --version": [sys.executable, "-m", "django", "--version"],
            "watchfloor --help": ["watchfloor", "--help"],
            "watchfloor ingest (10 signals)": ["watchfloor", "ingest", str(signals)],
        }
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.runs):
            for label, command in commands.items():
                for name, env in envs.items():
                    times.setdefault((label, name), []).append(seconds(command, env=env))
    load_after = os.getloadavg()
    targets = {
        "watchfloor --help": TARGET_HELP_S,
        "watchfloor ingest (10 signals)": TARGET_INGEST_S,
    }
    print(
        f"start-up, median of {args.runs} runs; load average {load_before[0]:.1f} at the start, "
        f"{load_after[0]:.1f} at the end ({os.cpu_count()} CPUs)"
    )
    header = (
        f"  {'median, wall s (CPU s)':32}"
        + "".join(f"{name:>18}" for name in envs)
        + "   target (wall)"
    )
    print(header)
    for label in commands:
        row = ""
        for name in envs:
            wall = statistics.median(wall for wall, _ in times[(label, name)])
            cpu = statistics.median(cpu for _, cpu in times[(label, name)])
            row += f"{wall:9.3f} ({cpu:5.3f})"
        target = f"< {targets[label]} s" if label in targets else "(baseline)"
        print(f"  {label:32}{row}   {target}")


if __name__ == "__main__":
    main()
