"""Triage queue and list API at 10,000, 100,000 and 1,000,000 escalations, on SQLite
and PostgreSQL.

    python bench/queue.py [--sizes 10000,100000,1000000] [--backends sqlite,postgres]
                          [--requests 40] [--figures REGEX] [--save FILE]

Each backend runs in its own process with its own fresh database, which grows through the
sizes (seeded with bulk inserts: executemany on SQLite, COPY on PostgreSQL), each figure
measured at each size. The seed has a deadline on every open escalation, statutory clocks
on a fifth, and restricts one in twenty (the measuring analyst is on the access list of
some). Each figure's p95 is printed per size, beside its target (p95 < 150 ms at the
largest size) and the flatness check: the largest size's p95 no more than twice the
smallest's. On PostgreSQL each figure is measured with JIT compilation on (the server's
default) and off (as Watchfloor's connections set it), in the same run.

Timings are in-process (Django test client): view, queries and rendering, not the
network. The load average is printed at each size: on a shared machine, compare figures
within one run.

A figure is one row of FIGURES: a name, a URL, and whether it is asked through the API.
``--figures`` measures only the figures whose name matches a regular expression (to
compare two versions of the code, figure by figure, several times on a shared machine);
``--save`` writes every figure's p95 and median, per backend and size, to a JSON file.
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
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import timedelta

TARGET_P95_MS = 150.0
FLAT_RATIO = 2.0  # the largest size's p95 no more than this times the smallest's
# Its own database name per person running it (BENCH_PG_DATABASE): a shared machine may
# run two benchmarks at once.
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "watchfloor_bench")
PG_URL = f"postgres://postgres@127.0.0.1:5432/{PG_DATABASE}"

# (name, path, through the API): market and policy are filled in from the seed.
FIGURES = (
    ("queue page", "/", False),
    ("queue page, by deadline", "/?sort=deadline", False),
    ("queue page, severity filter", "/?severity=2", False),
    ("queue page, status filter", "/?status=investigating", False),
    ("queue page, market filter", "/?market={market}", False),
    ("queue page, policy filter", "/?policy={policy}", False),
    ("queue page, only mine", "/?mine=on", False),
    ("queue page, owner filter", "/?owner={other}", False),
    ("queue page, drills shown", "/?drills=include", False),
    ("queue page, closed included", "/?status=all", False),
    ("queue page, text search", "/?q=typhoon", False),
    ("queue page, Japanese text search", "/?q=義援金詐欺", False),
    # The header's search across every kind (docs/search.md).
    ("header search, words", "/search?q=scam+typhoon", False),
    ("header search, Japanese", "/search?q=義援金詐欺", False),
    ("header search, 2 characters", "/search?q=台風", False),
    ("search API, words", "/api/v1/search?q=scam+typhoon", True),
    ("list API, text search", "/api/v1/escalations?q=typhoon", True),
    ("list API", "/api/v1/escalations", True),
    ("list API, by deadline", "/api/v1/escalations?sort=deadline", True),
    ("list API, severity filter", "/api/v1/escalations?severity=1&severity=2", True),
    ("list API, market filter", "/api/v1/escalations?market={market}", True),
)

# Hours to the nearest deadline by severity (the seed's stand-in for the rubric's clocks).
DUE_HOURS = {0: 1, 1: 4, 2: 24, 3: 72, 4: 168}


def insert_rows(table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Many rows at once: COPY on PostgreSQL, executemany elsewhere."""
    from django.db import connection

    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            # Table and column names are the bench's own constants, never input.
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
            cursor.executemany(insert, rows)


def prepare() -> dict:
    """The catalog, the measuring analyst (with an API token) and twenty colleagues."""
    from watchfloor.catalog.selectors import active_catalog_version
    from watchfloor.catalog.services import load_catalog
    from watchfloor.escalations.models import EscalationType
    from watchfloor.markets.models import Market, StatutoryRule
    from watchfloor.people.api_tokens import create_api_token
    from watchfloor.people.models import Team, User
    from watchfloor.people.services import create_user
    from watchfloor.policy.models import Policy

    analyst = User.objects.filter(username="bench-analyst").first()
    if analyst is None:  # a fresh database (a kept one, --seeded, has them already)
        load_catalog(actor=None)
        team = Team.objects.get(code="site_policy")
        analyst = create_user(
            username="bench-analyst",
            password=None,
            role="analyst",
            actor=None,
            team=team,
            time_zone="Asia/Tokyo",
        )
        for n in range(20):
            create_user(username=f"bench-{n}", password=None, role="analyst", actor=None, team=team)
    others = list(User.objects.filter(username__startswith="bench-").exclude(pk=analyst.pk))
    others.sort(key=lambda user: int(user.username.removeprefix("bench-")))
    _, token = create_api_token(user=analyst, name="bench", scopes=["read", "write"], actor=None)
    markets = list(Market.objects.filter(time_zones__isnull=False).values_list("pk", "code"))
    policies = list(Policy.objects.values_list("pk", "code"))
    return {
        "token": token,
        "username": analyst.username,
        "analyst": analyst.pk,
        "others": [user.pk for user in others],
        "other": others[0].username,
        "catalog_version": active_catalog_version().pk,
        "types": list(EscalationType.objects.values_list("pk", flat=True)),
        "markets": markets,
        "market": markets[0][1],
        "policies": policies,
        "policy": policies[0][1],
        "rules": list(
            StatutoryRule.objects.filter(deadline__isnull=False).values_list(
                "pk", "code", "instrument", "deadline"
            )
        ),
    }


def seed(info: dict, *, start: int, count: int, rng) -> None:
    """Escalations ``start`` … ``start + count - 1`` (ids ``start + 1`` on), with their
    markets, clocks and access lists, in bulk: the bench needs volume, not audit events."""
    from django.db import connection, transaction

    from watchfloor.core import clock
    from watchfloor.escalations.models import Escalation, Status

    dt = connection.ops.adapt_datetimefield_value
    now = clock.now()
    statuses = [s for s in Status.values if s != Status.CLOSED] + [Status.CLOSED] * 3
    owners = [None, info["analyst"], *info["others"]]
    columns = [
        "id",
        "type_id",
        "title",
        "summary",
        "status",
        "is_open",
        "policy_id",
        "languages",
        "source_kind",
        "source_detail",
        "severity",
        "computed_severity",
        "rubric_answers",
        "severity_explanation",
        "severity_override_reason",
        "catalog_version_id",
        "owner_id",
        "created_by_id",
        "is_high_visibility",
        "is_drill",
        "is_restricted",
        "access_version",
        "opened_at",
        "created_at",
        "updated_at",
        "next_due_at",
        "next_due_label",
        "queue_due_at",
    ]
    no_deadline = Escalation._meta.get_field("queue_due_at").get_default()
    batch = 20_000
    for first in range(start, start + count, batch):
        escalations, markets, clocks, access = [], [], [], []
        for pk in range(first + 1, min(first + batch, start + count) + 1):
            opened = now - timedelta(minutes=rng.randint(1, 60 * 24 * 20))
            severity = rng.choices((0, 1, 2, 3, 4), weights=(1, 4, 20, 40, 35))[0]
            status = rng.choice(statuses)
            is_open = status != Status.CLOSED
            restricted = rng.random() < 0.05
            due = opened + timedelta(hours=DUE_HOURS[severity])
            roll = rng.random()
            # A tenth hold an English phrase and a twentieth a Japanese one, for the text
            # searches.
            title = f"Bench escalation {pk}" + (
                " scam wave typhoon" if roll < 0.1 else " 台風の義援金詐欺" if roll < 0.15 else ""
            )
            escalations.append(
                (
                    pk,
                    rng.choice(info["types"]),
                    title,
                    "Synthetic escalation for the queue benchmark.",
                    status,
                    is_open,
                    rng.choice(info["policies"])[0],
                    '["en", "ja"]',
                    "user_report",
                    "",
                    severity,
                    severity,
                    "{}",
                    "{}",
                    "",
                    info["catalog_version"],
                    rng.choice(owners),
                    info["analyst"],
                    False,
                    rng.random() < 0.01,  # a drill now and then
                    restricted,
                    1,
                    dt(opened),
                    dt(opened),
                    dt(opened),
                    dt(due) if is_open else None,
                    "Resolve" if is_open else "",
                    dt(due if is_open else no_deadline),
                )
            )
            markets.append((pk, rng.choice(info["markets"])[0]))
            clocks.append((pk, "resolve", "Resolve", dt(opened), dt(due), None, "", ""))
            if rng.random() < 0.2 and info["rules"]:
                rule_pk, code, instrument, deadline = rng.choice(info["rules"])
                clocks.append(
                    (
                        pk,
                        "statutory",
                        f"Statutory: {code}",
                        dt(opened),
                        dt(opened + deadline),
                        rule_pk,
                        instrument,
                        "",
                    )
                )
            if restricted:
                # The measuring analyst is on one restricted escalation's list in ten.
                user = info["analyst"] if rng.random() < 0.1 else rng.choice(info["others"])
                access.append((pk, user))
        with transaction.atomic():
            insert_rows(Escalation._meta.db_table, tuple(columns), escalations)
            insert_rows(
                Escalation.markets.through._meta.db_table, ("escalation_id", "market_id"), markets
            )
            insert_rows(
                "escalations_clock",
                (
                    "escalation_id",
                    "kind",
                    "label",
                    "starts_at",
                    "due_at",
                    "statutory_rule_id",
                    "basis",
                    "notice_reference",
                ),
                clocks,
            )
            insert_rows(
                Escalation.access_list.through._meta.db_table, ("escalation_id", "user_id"), access
            )
    # Bulk rows skip the services, which keep the text index in step: build it in one go.
    from watchfloor.escalations.text_index import ESCALATION_TEXT

    ESCALATION_TEXT.rebuild()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('escalations_escalation', 'id'), "
                "(SELECT max(id) FROM escalations_escalation))"
            )
            cursor.execute("ANALYZE")
        else:
            cursor.execute("ANALYZE")


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


def set_jit(on: bool) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SET jit = {'on' if on else 'off'}")


def explain(user) -> None:
    """The plans of the default queue's two queries (the capped count and the first page)
    and of the market filter's count, as the database will run them (stderr)."""
    from watchfloor.escalations.selectors import QueueFilters, triage_queue
    from watchfloor.web.pagination import COUNT_CAP

    for label, filters in (
        ("default queue", QueueFilters()),
        ("market filter", QueueFilters(market=user.bench_market)),
    ):
        queue = triage_queue(user=user, filters=filters)
        count = queue.order_by().values("pk")[: COUNT_CAP + 1]
        for what, query in (("capped count", count), ("first page", queue[:50])):
            sys.stderr.write(f"--- {label}, {what}\n{query.explain()}\n")


def child(sizes: list[int], requests: int, *, plans: bool = False, figures: str = "") -> None:
    import random

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchfloor.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User

    call_command("migrate", verbosity=0)
    info = prepare()
    client = Client()
    client.force_login(User.objects.get(username=info["username"]))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {info['token']}"}
    # A kept database (--seeded) holds some already: seed only the rest.
    seeded = Escalation.objects.count()
    rng = random.Random(42 + seeded)
    results = []
    for size in sizes:
        started = time.perf_counter()
        if size > seeded:
            seed(info, start=seeded, count=size - seeded, rng=rng)
            seeded = size
        at_size = {
            "size": size,
            "seed_seconds": time.perf_counter() - started,
            "load": os.getloadavg()[0],
            "figures": {},
        }
        jit_passes = (False, True) if connection.vendor == "postgresql" else (None,)
        for name, path, through_api in FIGURES if requests else ():
            if figures and not re.search(figures, name):
                continue
            url = path.format(**info)
            for jit in jit_passes:
                if jit is not None:
                    set_jit(jit)
                key = name if not jit else f"{name} [JIT on]"
                at_size["figures"][key] = measure(
                    client, url, requests, **(auth if through_api else {})
                )
        if connection.vendor == "postgresql":
            set_jit(False)
        at_size["load_after"] = os.getloadavg()[0]
        results.append(at_size)
        print(json.dumps(at_size), flush=True)
    if plans:
        user = User.objects.get(username=info["username"])
        user.bench_market = info["market"]
        explain(user)


def _psql(*commands: str) -> None:
    arguments = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-q"]
    for command in commands:
        arguments += ["-c", command]
    subprocess.run(arguments, check=True)


def _pg_database_exists(name: str) -> bool:
    # The name is the bench's own (BENCH_PG_DATABASE and a size), never a request's input.
    found = subprocess.run(
        [
            "psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{name}'",  # noqa: S608
        ],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return found.stdout.strip() == "1"


def _measure_in_child(
    env: dict, sizes: list[int], requests: int, *, plans: bool, figures: str
) -> list[dict]:
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--sizes",
            ",".join(map(str, sizes)),
            "--requests",
            str(requests),
            *(["--explain"] if plans else []),
            *(["--figures", figures] if figures else []),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=None if plans else subprocess.PIPE,
        text=True,
    )
    if output.returncode != 0:
        raise SystemExit(f"the measuring process failed:\n{(output.stderr or '')[-4000:]}")
    return [json.loads(line) for line in output.stdout.strip().splitlines() if line.startswith("{")]


def _kept_database(backend: str, seeded: Path, size: int, env: dict) -> None:
    """Point ``env`` at the kept database of ``size`` escalations, made (when missing) as a
    copy of the largest kept smaller one, which the child then seeds up to ``size``."""
    data_dir = seeded / f"{backend}-{size}"
    env["WATCHFLOOR_DATA_DIR"] = str(data_dir)
    base = next(
        (
            n
            for n in reversed(_kept_sizes(seeded, backend, size))
            if (seeded / f"{backend}-{n}").exists()
            and (backend != "postgres" or _pg_database_exists(f"{PG_DATABASE}_{n}"))
        ),
        None,
    )
    if backend == "postgres":
        name = f"{PG_DATABASE}_{size}"
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
        if not _pg_database_exists(name):
            template = f" TEMPLATE {PG_DATABASE}_{base}" if base else ""
            _psql(f"CREATE DATABASE {name}{template}")
    if not data_dir.exists():
        if base is not None:
            shutil.copytree(seeded / f"{backend}-{base}", data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)


def run_backend(
    backend: str,
    sizes: list[int],
    requests: int,
    *,
    plans: bool,
    figures: str = "",
    seeded: Path | None = None,
) -> list[dict]:
    env = dict(os.environ)
    env["WATCHFLOOR_TESTING"] = "1"
    env.pop("DATABASE_URL", None)
    if seeded is not None:
        # One kept database per size, each measured in its own process: seeded once,
        # reused by the next run (and migrated forward by the code it measures).
        results = []
        for size in sizes:
            _kept_database(backend, seeded, size, env)
            results += _measure_in_child(
                env, [size], requests, plans=plans and size == sizes[-1], figures=figures
            )
        return results
    with tempfile.TemporaryDirectory(prefix="wf-bench-") as data_dir:
        env["WATCHFLOOR_DATA_DIR"] = data_dir
        if backend == "postgres":
            _psql(
                f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)",
                f"CREATE DATABASE {PG_DATABASE}",
            )
            env["DATABASE_URL"] = PG_URL
        return _measure_in_child(env, sizes, requests, plans=plans, figures=figures)


def _kept_sizes(seeded: Path, backend: str, below: int) -> list[int]:
    """The sizes already kept in ``seeded`` for ``backend`` below ``below``, smallest first."""
    sizes = []
    for path in seeded.glob(f"{backend}-*"):
        size = path.name.removeprefix(f"{backend}-")
        if size.isdigit() and int(size) < below:
            sizes.append(int(size))
    return sorted(sizes)


def report(backend: str, results: list[dict]) -> None:
    sizes = [f"{r['size']:,}" for r in results]
    print(f"\n[{backend}]")
    for r in results:
        print(
            f"  {r['size']:>9,} escalations: seeded in {r['seed_seconds']:.0f} s, "
            f"load average {r['load']:.1f} → {r['load_after']:.1f}"
        )
    print(
        f"  {'p95, ms':<40}"
        + "".join(f"{size:>11}" for size in sizes)
        + f"   target < {TARGET_P95_MS:.0f} ms   largest ≤ {FLAT_RATIO:.0f}× smallest"
    )
    for name in results[0]["figures"]:
        p95s = [r["figures"][name]["p95"] for r in results]
        meets = "meets" if p95s[-1] < TARGET_P95_MS else "MISSES"
        ratio = p95s[-1] / p95s[0] if p95s[0] else float("inf")
        flat = "flat" if ratio <= FLAT_RATIO else "GROWS"
        print(
            f"  {name:<40}"
            + "".join(f"{p95:>11.1f}" for p95 in p95s)
            + f"   {meets:<17}   {ratio:.1f}× {flat}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--explain", action="store_true", help="print the queue's query plans at the largest size"
    )
    parser.add_argument(
        "--figures", default="", help="only the figures whose name matches this regular expression"
    )
    parser.add_argument("--save", default="", help="write every p95 and median to this JSON file")
    parser.add_argument(
        "--seeded",
        default="",
        help="keep each size's seeded database in this folder and reuse it in later runs",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    if args.child:
        child(sizes, args.requests, plans=args.explain, figures=args.figures)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    print(
        f"Triage queue benchmark: {', '.join(f'{s:,}' for s in sizes)} escalations, "
        f"{args.requests} requests per figure, target p95 < {TARGET_P95_MS:.0f} ms; "
        f"load average {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)"
    )
    saved = {}
    for backend in args.backends.split(","):
        saved[backend] = run_backend(
            backend,
            sizes,
            args.requests,
            plans=args.explain,
            figures=args.figures,
            seeded=Path(args.seeded).resolve() if args.seeded else None,
        )
        report(backend, saved[backend])
    if args.save:
        Path(args.save).write_text(json.dumps(saved, indent=1))
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
