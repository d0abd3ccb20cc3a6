"""Triage queue and list API at 100,000 escalations, on SQLite and PostgreSQL.

    python bench/queue.py [--escalations 100000] [--backends sqlite,postgres] [--requests 60]

Each backend runs in its own process with its own fresh database. The seed has
statutory clocks on a fifth of the escalations and restricts one in twenty; a tenth of
the titles hold "scam wave typhoon" and a twentieth "台風の義援金詐欺". Each figure is
printed beside its target (p95 < 150 ms) and beside the baselines measured in the same
run: the same requests against a 1,000-escalation database, and, for the text search,
the old LIKE scan of every row (patched in for that figure) at full size. The header's
search (/search, /api/v1/search) is measured on the same database.
Timings are in-process (Django test client): view, queries and rendering, not the
network.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's `queue`; keep its folder off the import
# path so `import queue` (used by the thread pools underneath Django) finds the real one.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from datetime import timedelta

TARGET_P95_MS = 150.0
BASELINE_SIZE = 1_000
# Its own database name per person running it (BENCH_PG_DATABASE): a shared machine may
# run two benchmarks at once.
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "watchfloor_bench")
PG_URL = f"postgres://postgres@127.0.0.1:5432/{PG_DATABASE}"


def seed(count: int) -> dict:
    """Bulk rows straight into the tables (the bench needs volume, not 100,000 audit events)."""
    import random

    from watchfloor.catalog.selectors import active_catalog_version, rubric_for
    from watchfloor.catalog.services import load_catalog
    from watchfloor.core import clock
    from watchfloor.escalations.clocks import sla_due_times
    from watchfloor.escalations.models import Clock, Escalation, EscalationType, Status
    from watchfloor.markets.models import Market, StatutoryRule
    from watchfloor.people.models import Team
    from watchfloor.people.services import create_api_token, create_user
    from watchfloor.policy.models import Policy

    load_catalog(actor=None)
    version = active_catalog_version()
    rubric = rubric_for(version)
    team = Team.objects.get(code="site_policy")
    analyst = create_user(
        username="bench-analyst",
        password=None,
        role="analyst",
        actor=None,
        team=team,
        time_zone="Asia/Tokyo",
    )
    others = [
        create_user(username=f"bench-{n}", password=None, role="analyst", actor=None, team=team)
        for n in range(20)
    ]
    _, token = create_api_token(user=analyst, name="bench", scopes=["read", "write"], actor=None)
    rng = random.Random(42)
    types = list(EscalationType.objects.all())
    policies = list(Policy.objects.all())
    markets = list(Market.objects.filter(time_zones__isnull=False))
    rules = list(StatutoryRule.objects.filter(deadline__isnull=False))
    statuses = [s for s in Status.values if s != Status.CLOSED] + [Status.CLOSED] * 3
    from zoneinfo import ZoneInfo

    now = clock.now()
    through_markets = Escalation.markets.through
    through_access = Escalation.access_list.through
    batch = 5_000
    made = 0
    while made < count:
        size = min(batch, count - made)
        rows = []
        for _ in range(size):
            opened = now - timedelta(minutes=rng.randint(1, 60 * 24 * 20))
            severity = rng.choices([0, 1, 2, 3, 4], weights=[1, 4, 20, 40, 35])[0]
            rows.append(
                Escalation(
                    type=rng.choice(types),
                    title=rng.choices(
                        [
                            f"Bench escalation {made + len(rows)} scam wave typhoon",
                            f"Bench escalation {made + len(rows)} 台風の義援金詐欺",
                            f"Bench escalation {made + len(rows)}",
                        ],
                        weights=[10, 5, 85],
                    )[0],
                    summary="Synthetic escalation for the queue benchmark.",
                    status=(status := rng.choice(statuses)),
                    is_open=status != Status.CLOSED,
                    policy=rng.choice(policies),
                    languages=["en", "ja"],
                    source_kind="user_report",
                    severity=severity,
                    computed_severity=severity,
                    rubric_answers={},
                    severity_explanation={},
                    catalog_version=version,
                    owner=rng.choice([None, analyst, *others]),
                    created_by=analyst,
                    is_restricted=rng.random() < 0.05,
                    opened_at=opened,
                    created_at=opened,
                    updated_at=opened,
                )
            )
        created = Escalation.objects.bulk_create(rows)
        if created[0].pk is None:  # backends that do not return ids
            created = list(Escalation.objects.order_by("-pk")[:size])[::-1]
        clocks, market_links, access = [], [], []
        for escalation in created:
            market = rng.choice(markets)
            market_links.append(through_markets(escalation_id=escalation.pk, market_id=market.pk))
            due = sla_due_times(
                rubric=rubric,
                severity=escalation.severity,
                opened_at=escalation.opened_at,
                zone=ZoneInfo(market.primary_time_zone),
            )
            for kind, (due_at, basis) in due.items():
                clocks.append(
                    Clock(
                        escalation=escalation,
                        kind=kind,
                        label=kind,
                        starts_at=escalation.opened_at,
                        due_at=due_at,
                        basis=basis,
                    )
                )
            if rng.random() < 0.2:
                rule = rng.choice(rules)
                clocks.append(
                    Clock(
                        escalation=escalation,
                        kind="statutory",
                        label=f"Statutory: {rule.code}",
                        starts_at=escalation.opened_at,
                        due_at=escalation.opened_at + rule.deadline,
                        statutory_rule=rule,
                        basis=rule.instrument,
                    )
                )
            if escalation.is_restricted:
                access.append(
                    through_access(escalation_id=escalation.pk, user_id=rng.choice(others).pk)
                )
            if escalation.status != Status.CLOSED:
                mine = [c for c in clocks if c.escalation is escalation]
                nearest = min(mine, key=lambda c: c.due_at)
                escalation.next_due_at, escalation.next_due_label = nearest.due_at, nearest.label
                escalation.queue_due_at = nearest.due_at
        Clock.objects.bulk_create(clocks)
        through_markets.objects.bulk_create(market_links)
        through_access.objects.bulk_create(access)
        Escalation.objects.bulk_update(created, ["next_due_at", "next_due_label", "queue_due_at"])
        made += size
    # Bulk rows skip the services, which keep the text index in step: build it in one go.
    from watchfloor.escalations.text_index import ESCALATION_TEXT

    started = time.perf_counter()
    ESCALATION_TEXT.rebuild()
    index_seconds = time.perf_counter() - started
    return {
        "token": token,
        "username": analyst.username,
        "market": markets[0].code,
        "index_seconds": index_seconds,
        "some_escalation": Escalation.objects.order_by("pk")[count // 2].pk,
    }


def old_like_filter(text: str):
    """The queue's text filter before the index (a LIKE scan of every row), measured in
    the same run as the baseline of the text search."""
    from django.db.models import Q

    return Q(title__icontains=text) | Q(summary__icontains=text)


def measure(client, url: str, requests: int, **headers) -> dict:
    for _ in range(3):  # warm caches and connections
        client.get(url, **headers)
    timings = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url, **headers)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    timings.sort()
    return {
        "median": statistics.median(timings),
        "p95": timings[max(0, round(0.95 * len(timings)) - 1)],
    }


def child(size: int, requests: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchfloor.settings")
    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from watchfloor.people.models import User

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    info = seed(size)
    seed_seconds = time.perf_counter() - started
    client = Client()
    client.force_login(User.objects.get(username=info["username"]))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {info['token']}"}
    results = {
        "seed_seconds": seed_seconds,
        "index_seconds": info["index_seconds"],
        "figures": {},
        "like": {},
    }
    pages = {
        "queue page": ("/", {}),
        "queue page, market filter": (f"/?market={info['market']}", {}),
        "queue page, text search": ("/?q=typhoon", {}),
        # The page above already counts the glance figures; this adds the other order.
        "queue page, by deadline": ("/?sort=deadline", {}),
        "list API": ("/api/v1/escalations", auth),
        "list API, by deadline": ("/api/v1/escalations?sort=deadline", auth),
        "list API, severity filter": ("/api/v1/escalations?severity=1&severity=2", auth),
        "list API, text search": ("/api/v1/escalations?q=typhoon", auth),
        # The header's search (docs/search.md): words, a Japanese phrase, a two-character
        # word (the bounded scan), a reference (an exact lookup).
        "header search, words": ("/search?q=scam+typhoon", {}),
        "header search, Japanese": ("/search?q=義援金詐欺", {}),
        "header search, 2 characters": ("/search?q=台風", {}),
        "header search, WF- reference": (f"/search?q=WF-{info['some_escalation']}", {}),
        "search API, words": ("/api/v1/search?q=scam+typhoon", auth),
    }
    for name, (url, headers) in pages.items():
        results["figures"][name] = measure(client, url, requests, **headers)
    # The same-run baseline of the text search: the old LIKE scan, patched in.
    from watchfloor.escalations import selectors

    indexed = selectors.text_filter
    selectors.text_filter = old_like_filter
    try:
        for name in ("queue page, text search", "list API, text search"):
            url, headers = pages[name]
            results["like"][name] = measure(client, url, requests, **headers)
    finally:
        selectors.text_filter = indexed
    print(json.dumps(results))


def run_backend(backend: str, size: int, requests: int) -> dict:
    env = dict(os.environ)
    env["WATCHFLOOR_TESTING"] = "1"
    env.pop("DATABASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="wf-bench-") as data_dir:
        env["WATCHFLOOR_DATA_DIR"] = data_dir
        if backend == "postgres":
            subprocess.run(
                [
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-q",
                    "-c",
                    f"DROP DATABASE IF EXISTS {PG_DATABASE}",
                    "-c",
                    f"CREATE DATABASE {PG_DATABASE}",
                ],
                check=True,
            )
            env["DATABASE_URL"] = PG_URL
        output = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--escalations",
                str(size),
                "--requests",
                str(requests),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
    if output.returncode != 0:
        raise SystemExit(f"[{backend}] the measuring process failed:\n{output.stderr[-4000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--escalations", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.escalations, args.requests)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    print(
        f"Triage queue benchmark: {args.escalations:,} escalations (baseline {BASELINE_SIZE:,}), "
        f"{args.requests} requests per figure, target p95 < {TARGET_P95_MS:.0f} ms"
    )
    for backend in args.backends.split(","):
        baseline = run_backend(backend, BASELINE_SIZE, args.requests)
        full = run_backend(backend, args.escalations, args.requests)
        print(
            f"\n[{backend}] seeded {args.escalations:,} in {full['seed_seconds']:.0f} s "
            f"(text index built in {full['index_seconds']:.1f} s); "
            f"load average {' '.join(f'{n:.2f}' for n in os.getloadavg())}"
        )
        print(
            f"  {'figure':<30} {'median':>9} {'p95':>9} {'target':>8} "
            f"{'1k-db p95':>10} {'LIKE p95':>9}  verdict"
        )
        for name, figure in full["figures"].items():
            base = baseline["figures"][name]
            like = full["like"].get(name)
            like_shown = f"{like['p95']:>7.1f}ms" if like else f"{'':>9}"
            verdict = "meets target" if figure["p95"] < TARGET_P95_MS else "MISSES target"
            print(
                f"  {name:<30} {figure['median']:>7.1f}ms {figure['p95']:>7.1f}ms "
                f"{TARGET_P95_MS:>6.0f}ms {base['p95']:>8.1f}ms {like_shown}  {verdict}"
            )


if __name__ == "__main__":
    main()
