"""Evidence upload and hashing throughput, and the escalation page with 500 evidence items.

    python bench/evidence.py [--images 1000] [--items 500] [--requests 40]

Makes ``--images`` synthetic pictures of 1-5 MB (noise, stored as uncompressed PNG so the
size is what it says), then:

- hashes them with the system's ``sha256sum``: the baseline, in MB/s;
- adds each as evidence through the service (stream, type check, SHA-256, MD5, PDQ, the
  display copy and the thumbnail, storage, audit): images per second and MB/s, beside the
  baseline;
- times the escalation page with ``--items`` evidence items on it (target p95 < 200 ms),
  beside the same page with none.

Runs in a fresh data directory (SQLite, or PostgreSQL when DATABASE_URL is set).
Timings are in-process (Django test client), not the network.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py is named like the standard library's `queue`; keep this folder off the
# import path so `import queue` finds the real one.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

TARGET_PAGE_P95_MS = 200.0


def make_images(folder: Path, count: int) -> list[Path]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    paths = []
    for n in range(count):
        megabytes = 1 + (n % 5)  # 1, 2, 3, 4, 5 MB in turn
        side = int((megabytes * 1024 * 1024 / 3) ** 0.5)
        pixels = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
        path = folder / f"bench-{n:05d}.png"
        Image.fromarray(pixels).save(path, format="PNG", compress_level=0)
        paths.append(path)
    return paths


def sha256sum_seconds(paths: list[Path]) -> float | None:
    tool = shutil.which("sha256sum")
    if tool is None:
        return None
    started = time.perf_counter()
    subprocess.run([tool, *map(str, paths)], check=True, capture_output=True)
    return time.perf_counter() - started


def page_p95(client, url: str, requests: int) -> tuple[float, float]:
    for _ in range(3):
        client.get(url)
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    timings.sort()
    return statistics.median(timings), timings[max(0, round(0.95 * len(timings)) - 1)]


def run(images: int, items: int, requests: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchfloor.settings")
    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from watchfloor.catalog.services import load_catalog
    from watchfloor.core import clock
    from watchfloor.escalations.filing import create_escalation
    from watchfloor.escalations.inputs import EscalationInput
    from watchfloor.evidence import media
    from watchfloor.evidence.models import EvidenceItem
    from watchfloor.evidence.services import add_evidence_file
    from watchfloor.people.models import Team
    from watchfloor.people.services import create_user

    call_command("migrate", verbosity=0)
    load_catalog(actor=None)
    analyst = create_user(
        username="bench-analyst",
        password=None,
        role="analyst",
        actor=None,
        team=Team.objects.get(code="site_policy"),
    )

    def escalation(title: str):
        return create_escalation(
            actor=analyst,
            details=EscalationInput(
                type_code="scam_campaign",
                title=title,
                summary="Synthetic escalation for the evidence benchmark.",
                markets=["PH"],
                languages=["en"],
                source_kind="user_report",
                rubric_answers={"harm": "moderate"},
            ),
        )

    uploads = escalation("Upload throughput")
    with tempfile.TemporaryDirectory(prefix="wf-bench-images-") as folder:
        started = time.perf_counter()
        paths = make_images(Path(folder), images)
        total_mb = sum(p.stat().st_size for p in paths) / (1024 * 1024)
        print(f"made {images} images, {total_mb:.0f} MB, in {time.perf_counter() - started:.1f} s")
        baseline = sha256sum_seconds(paths)
        started = time.perf_counter()
        for path in paths:
            with path.open("rb") as stream:
                add_evidence_file(
                    escalation=uploads,
                    actor=analyst,
                    chunks=media.file_chunks(stream),
                    name=path.name,
                )
        seconds = time.perf_counter() - started
    print(f"\n  {'figure':<34} {'value':>12} {'baseline (sha256sum)':>22}")
    # The baseline column: the same files through sha256sum, in the same units.
    no_tool = f"{'(no sha256sum)':>22}"
    base_images = f"{images / baseline:>15.1f} img/s" if baseline else no_tool
    base_mb = f"{total_mb / baseline:>16.1f} MB/s" if baseline else no_tool
    print(f"  {'upload and hash, images/s':<34} {images / seconds:>12.1f} {base_images}")
    print(f"  {'upload and hash, MB/s':<34} {total_mb / seconds:>12.1f} {base_mb}")

    # The page: one escalation with ``items`` items (rows copied from the uploads, so every
    # one has a thumbnail), and one with none.
    crowded = escalation("Page with many evidence items")
    empty = escalation("Page without evidence")
    template = EvidenceItem.objects.filter(escalation=uploads).first()
    assert template is not None
    rows = []
    for n in range(items):
        row = EvidenceItem.objects.get(pk=template.pk)
        row.pk = None
        row.escalation = crowded
        row.original_name = f"item-{n}.png"
        row.added_at = clock.now()
        rows.append(row)
    EvidenceItem.objects.bulk_create(rows)
    client = Client()
    client.force_login(analyst)
    median, p95 = page_p95(client, f"/escalations/{crowded.pk}/", requests)
    base_median, base_p95 = page_p95(client, f"/escalations/{empty.pk}/", requests)
    verdict = "meets target" if p95 < TARGET_PAGE_P95_MS else "MISSES target"
    print(
        f"  {f'escalation page, {items} items, p95':<34} {p95:>10.1f}ms "
        f"{'(target < 200 ms; no items: ' + f'{base_p95:.1f} ms)':>22}  {verdict}"
    )
    print(f"  {'  median':<34} {median:>10.1f}ms {f'(no items: {base_median:.1f} ms)':>22}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    with tempfile.TemporaryDirectory(prefix="wf-bench-") as data_dir:
        os.environ["WATCHFLOOR_DATA_DIR"] = data_dir
        os.environ["WATCHFLOOR_TESTING"] = "1"
        print(
            f"Evidence benchmark: {args.images} images of 1-5 MB, the escalation page with "
            f"{args.items} items, {args.requests} requests; load average "
            + " ".join(f"{load:.2f}" for load in os.getloadavg())
        )
        run(args.images, args.items, args.requests)


if __name__ == "__main__":
    main()
