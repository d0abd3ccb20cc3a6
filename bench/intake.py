"""Signal intake end to end, on SQLite and PostgreSQL.

    python bench/intake.py [--signals 100000] [--stories 3000] [--backends sqlite,postgres]
                           [--batch-size 2000] [--baseline-signals 3000] [--workers N]
                           [--without-workers] [--paced 1000,2000]

A surge is generated first (the same file for every backend), ending as the run starts
so the surge checks see it as current: a few thousand distinct
items with Zipf-distributed popularity; most signals are reports of the same post,
the rest re-uploads (new post, PDQ hash within distance 31 of the original, new MD5),
shares of the same link with other tracking parameters, and near-identical texts in
Japanese, Chinese, Thai, Korean, English, Indonesian, Vietnamese and Spanish; a third
of the signals carry no language, 1% are re-sent (duplicates) and 0.2% are invalid.

Then, per backend, each run on a fresh database:

* ``watchfloor ingest FILE`` in a subprocess: sustained signals/s (wall time of the
  whole command, start-up included), time per batch to commit (every signal of a
  batch is acknowledged and clustered when it commits, and batches are of equal size,
  so the p50/p99 over batches are those over signals), CPU time, peak memory (max
  RSS from ``wait4``), and the writer's time per batch in each tenth of the run (the
  command's summary prints it): the last tenth's median within 10% of the first's is
  the target, storing should not grow with what is already stored.
* ``POST /api/v1/signals:batch`` in-process (Django test client, bearer token), the
  same signals in batches: signals/s and p50/p99 of the request time over signals.
* Both twice: with no worker running (the intake alone: the reactions — surge checks,
  auto-escalation rules, crisis watchlists — are queued in each batch's transaction
  and wait), and with ``watchfloor worker`` running them beside the intake on the same
  cores, as in use: one worker on SQLite (they would all queue on its one writer), two
  on PostgreSQL (issue 16's setting; ``--workers`` to choose). With workers: the time
  from a batch's commit to the end of its
  reactions (p50/p99, from the worker's task results; the target is p99 < 2 s), how
  long after the last batch
  the worker had caught up, and the surge alerts and rule firings it produced.
* With ``--paced RATES``: the batch API again, workers beside it, sending the signals at
  each fixed rate instead of as fast as it answers, as producers on the day would: the
  rates at which the reactions keep within their 2 s.
* On SQLite, beside every `watchfloor ingest` run, a process that opens a write
  transaction every 0.1 s, as a web request that writes (an analyst's decision, a note)
  would: how long it waited for the one write lock, p50 / p99 / max.
* The baseline, in the same run and on a fresh database of its own: one ORM ``save()``
  per signal with a naive per-signal cluster lookup (subject, then URL, then MD5 key; no
  near-duplicate matching, no counts beyond the signal count), on the first
  ``--baseline-signals``.

Each figure is printed beside its target and its ratio to the baseline.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Keep this folder off the import path: bench/queue.py would shadow the standard
# library's `queue`, which the thread pools underneath Django import.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import hashlib
import json
import os
import random
import re
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta

TARGET_CLI_PER_SECOND = 5_000  # SQLite
TARGET_API_PER_SECOND = 2_000
TARGET_P99_SECONDS = 2.0
TARGET_REACTED_P99_SECONDS = 2.0  # from a batch's commit to its reactions done
TARGET_LAST_TENTH_GROWTH = 0.10  # the last tenth's batches against the first's
# Its own database name per person running it (BENCH_PG_DATABASE), as in bench/queue.py:
# a shared machine may run two benchmarks at once.
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "watchfloor_bench_intake")
PG_URL = f"postgres://postgres@127.0.0.1:5432/{PG_DATABASE}"
SURGE_LENGTH = timedelta(hours=3)

# ---------------------------------------------------------------------------
# The surge

PHRASES = {
    "ja": [
        "台風の被災者支援を装った詐欺アカウントです",
        "DMで振込先を送ってきます",
        "この投稿は偽の募金を呼びかけています",
        "公式アカウントになりすましています",
        "リンク先でパスワードを入力させようとしています",
        "拡散しないでください",
        "地震の後に偽の情報が広がっています",
    ],
    "zh": [
        "这是假冒救灾机构的诈骗账号",
        "他们在私信里要求转账",
        "请不要点击这个链接",
        "这个视频含有暴力内容",
        "有人在散布地震的谣言",
        "冒充官方客服骗取密码",
    ],
    "th": [
        "บัญชีนี้หลอกลวงให้โอนเงินช่วยเหลือผู้ประสบภัย",
        "อย่ากดลิงก์นี้",
        "มีการปลอมเป็นเจ้าหน้าที่ธนาคาร",
        "ข่าวปลอมเรื่องแผ่นดินไหวกำลังแพร่กระจาย",
        "โปรดรายงานบัญชีนี้",
    ],
    "ko": [
        "이 계정은 재난 구호를 사칭한 사기입니다",
        "링크를 누르지 마세요",
        "은행 직원을 사칭하고 있습니다",
        "지진에 대한 허위 정보가 퍼지고 있습니다",
    ],
    "en": [
        "This account is posing as a relief charity and asking for donations",
        "Do not click the link, it steals your password",
        "Fake giveaway from an impersonated bank account",
        "The video shows the attack and is being reshared",
        "False claims about the earthquake are spreading fast",
        "They ask for payment through gift cards",
    ],
    "id": [
        "Akun ini menipu dengan mengatasnamakan bantuan bencana",
        "Jangan klik tautan ini karena mencuri kata sandi",
        "Mereka meminta transfer uang lewat pesan pribadi",
        "Berita bohong tentang gempa sedang menyebar",
    ],
    "vi": [
        "Tài khoản này giả mạo tổ chức cứu trợ để lừa tiền",
        "Đừng bấm vào đường link này",
        "Họ yêu cầu chuyển khoản qua tin nhắn",
        "Tin giả về động đất đang lan truyền",
    ],
    "es": [
        "Esta cuenta se hace pasar por una organización benéfica",
        "No hagas clic en el enlace porque roba contraseñas",
        "Piden transferencias por mensaje privado",
        "Se difunden rumores falsos sobre el terremoto",
    ],
}
# Characters that make each item's text its own (names, places, amounts).
FILLERS = {
    "ja": "山田佐藤鈴木高橋田中渡辺伊藤中村小林加藤吉田山本東京大阪福岡札幌仙台名古屋横浜",
    "zh": "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗北京上海广州深圳成都",
    "th": "สมชายสมหญิงกรุงเทพเชียงใหม่ภูเก็ตขอนแก่นหาดใหญ่",
    "ko": "김이박최정강조윤장임서울부산대구인천광주대전",
    "en": [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
    ],
    "id": [
        "jakarta",
        "surabaya",
        "bandung",
        "medan",
        "semarang",
        "makassar",
        "budi",
        "siti",
        "agus",
        "dewi",
    ],
    "vi": [
        "hà",
        "nội",
        "sài",
        "gòn",
        "đà",
        "nẵng",
        "huế",
        "cần",
        "thơ",
        "nguyễn",
        "trần",
        "lê",
        "phạm",
        "hoàng",
    ],
    "es": [
        "madrid",
        "lima",
        "bogotá",
        "quito",
        "santiago",
        "juan",
        "maría",
        "carlos",
        "lucía",
        "pedro",
    ],
}
MARKETS = {
    "ja": "JP",
    "zh": "TW",
    "th": "TH",
    "ko": "KR",
    "en": "PH",
    "id": "ID",
    "vi": "VN",
    "es": "US",
}
POLICIES = ["scams_fraud", "impersonation", "phishing_malware", "crisis_misinformation", None]
# Most of a surge is user reports; trusted sources (which open escalations directly) are
# a sliver of it, as on a real day.
SOURCES = {
    "user_report": 80.0,
    "detector": 8.0,
    "hash_match": 6.0,
    "trusted_flagger": 4.0,
    "partner_referral": 1.0,
    "law_enforcement": 0.5,
    "regulator": 0.5,
}
HOSTS = ["example.com", "news.example.org", "relief-help.example.net", "bit.ly"]


def _story_text(rng: random.Random, lang: str) -> str:
    phrases = rng.sample(PHRASES[lang], k=min(3, len(PHRASES[lang])))
    filler = FILLERS[lang]
    if isinstance(filler, list):
        unique = " ".join(rng.choices(filler, k=6)) + f" {rng.randint(1000, 99999)}"
    else:
        unique = "".join(rng.choices(filler, k=14)) + str(rng.randint(100, 9999))
    separator = "" if lang in ("ja", "zh", "th") else ". "
    return separator.join([*phrases[:2], unique, phrases[2]])


def _variant_text(rng: random.Random, text: str) -> str:
    edits = [
        lambda t: t + f" @user{rng.randint(1, 99999)}",
        lambda t: t + " 🙏🙏",
        lambda t: "RT @watch" + str(rng.randint(1, 999)) + ": " + t,
        lambda t: t + f" https://t.co/{rng.randint(10**6, 10**7)}",
        lambda t: t.replace(t[len(t) // 2], "!", 1),
    ]
    return rng.choice(edits)(text)


def generate(
    path: Path, *, signals: int, stories: int, end: datetime, seed: int = 7
) -> dict[str, int]:
    """Write the surge, ending at ``end``, as JSON Lines; returns what it holds. It ends
    when the run starts, so the surge checks see it as current, as on the day."""
    from watchfloor.signals.media import pdq_to_hex, pdq_variant

    rng = random.Random(seed)
    languages = list(PHRASES)
    items = []
    for number in range(stories):
        lang = rng.choice(languages)
        host = rng.choice(HOSTS)
        has_media = rng.random() < 0.45
        items.append(
            {
                "lang": lang,
                "text": _story_text(rng, lang),
                "url": f"https://{host}/{'p' if host != 'bit.ly' else ''}{number:06d}x"
                if rng.random() < 0.6
                else None,
                "pdq": rng.randbytes(32) if has_media else None,
                "md5": hashlib.md5(rng.randbytes(8)).hexdigest() if has_media else None,  # noqa: S324
                "market": MARKETS[lang],
                "policy": rng.choice(POLICIES),
                "posts": 1,
            }
        )
    # Zipf popularity: weight 1/rank^1.1.
    weights = [1 / (rank**1.1) for rank in range(1, stories + 1)]
    picks = rng.choices(range(stories), weights=weights, k=signals)
    span = SURGE_LENGTH.total_seconds()
    surge_start = end - SURGE_LENGTH
    source_names, source_weights = list(SOURCES), list(SOURCES.values())
    sent: list[str] = []
    counts = {"lines": 0, "invalid": 0, "resent": 0, "without_language": 0}
    with path.open("w", encoding="utf-8") as out:
        for position, story_number in enumerate(picks):
            story = items[story_number]
            # The surge accelerates: arrival times follow the square root of position.
            offset = span * (position / signals) ** 0.5
            received_at = surge_start + timedelta(seconds=offset + rng.random())
            roll = rng.random()
            post = 0
            text = story["text"]
            url = story["url"]
            pdq, md5 = story["pdq"], story["md5"]
            if roll < 0.55:
                pass  # another report of the same post
            elif roll < 0.75 and pdq is not None:
                story["posts"] += 1  # a re-upload: new post, re-encoded media
                post = story["posts"]
                pdq = pdq_variant(pdq, rng.randint(0, 31), seed=rng.randint(0, 2**31))
                md5 = hashlib.md5(rng.randbytes(8)).hexdigest()  # noqa: S324
            else:
                story["posts"] += 1  # a repost with an edited text or a shared link
                post = story["posts"]
                text = _variant_text(rng, text)
                pdq = md5 = None
                if url and not url.startswith("https://bit.ly"):
                    url = f"{url}?utm_source=share&fbclid={rng.randint(1, 10**9)}"
            signal = {
                "id": f"sig-{position:08d}",
                "received_at": received_at.isoformat().replace("+00:00", "Z"),
                "source": rng.choices(source_names, source_weights)[0],
                "subject": {"kind": "post", "ref": f"post:{story_number}-{post}"},
                "text": text,
                "market": story["market"],
                "reporter": f"user:{int(rng.paretovariate(1.2) * 1000)}",
                "reach": {
                    "impressions": rng.randint(0, 50_000),
                    "followers": rng.randint(0, 200_000),
                    "shares": rng.randint(0, 500),
                },
            }
            if url:
                signal["url"] = url
            if pdq is not None:
                signal["media"] = {"pdq": pdq_to_hex(pdq), "pdq_quality": 90, "md5": md5}
            if story["policy"]:
                signal["policy_hint"] = story["policy"]
            if rng.random() < 0.67:
                signal["language"] = story["lang"]
            else:
                counts["without_language"] += 1
            line = json.dumps(signal, ensure_ascii=False)
            if rng.random() < 0.002:
                line = line[: len(line) // 2]  # a truncated line
                counts["invalid"] += 1
            out.write(line + "\n")
            counts["lines"] += 1
            sent.append(line)
            if rng.random() < 0.01 and len(sent) > 100:
                out.write(rng.choice(sent[-100:]) + "\n")  # re-sent by the producer
                counts["lines"] += 1
                counts["resent"] += 1
    return counts


# ---------------------------------------------------------------------------
# Measuring (each run on a fresh database; the API and the baseline in a child)


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _weighted_percentiles(batches: list[tuple[int, float]]) -> tuple[float, float]:
    """p50 and p99 over signals of the time of the batch each signal was in."""
    per_signal = sorted(seconds for size, seconds in batches for _ in range(size))
    if not per_signal:
        return 0.0, 0.0
    return statistics.median(per_signal), _percentile(per_signal, 0.99)


def _environment(backend: str, data_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env["WATCHFLOOR_DATA_DIR"] = data_dir
    env["WATCHFLOOR_TESTING"] = "1"
    env.pop("DATABASE_URL", None)
    if backend == "postgres":
        env["DATABASE_URL"] = PG_URL
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _fresh_database(backend: str, env: dict[str, str]) -> None:
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
                f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)",
                "-c",
                f"CREATE DATABASE {PG_DATABASE}",
            ],
            check=True,
        )
    else:
        for name in ("watchfloor.sqlite3", "watchfloor.sqlite3-wal", "watchfloor.sqlite3-shm"):
            (Path(env["WATCHFLOOR_DATA_DIR"]) / name).unlink(missing_ok=True)
    for command in (["migrate", "-v0"], ["config", "load"]):
        subprocess.run(
            [sys.executable, "-m", "watchfloor.cli", *command],
            env=env,
            check=True,
            capture_output=True,
        )


class Workers:
    """``count`` `watchfloor worker` processes for the length of a measurement: they run
    the reactions (surge checks, rules, watchlists) as the batches commit, on the same
    two cores as the intake, sharing the backlog (on PostgreSQL each claims rows the
    others have not locked)."""

    def __init__(self, env: dict[str, str], count: int) -> None:
        self.env = env
        self.count = count
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> Workers:
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "watchfloor.cli", "worker", "--interval", "0.2"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(self.count)
        ]
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)


# A web request that writes (an analyst's decision, a note) while the intake runs: on
# SQLite it waits for the one write lock. Every PROBE_EVERY seconds this process opens a
# write transaction and notes how long BEGIN waited, until the stop file appears.
PROBE_EVERY = 0.1
_LOCK_PROBE = (
    "import json, os, sys, time, django\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'watchfloor.settings')\n"
    "django.setup()\n"
    "from django.db import transaction\n"
    "stop, every, waits = sys.argv[1], float(sys.argv[2]), []\n"
    "while not os.path.exists(stop):\n"
    "    started = time.perf_counter()\n"
    "    with transaction.atomic():\n"
    "        waits.append(time.perf_counter() - started)\n"
    "    time.sleep(every)\n"
    "print(json.dumps(waits))\n"
)


class LockProbe:
    """A process writing as a web request would, beside the intake, on SQLite only (on
    PostgreSQL a transaction waits only for the rows it writes)."""

    def __init__(self, backend: str, env: dict[str, str], work: Path) -> None:
        self.active = backend == "sqlite"
        self.env = env
        self.stop = work / "probe.stop"
        self.waits: list[float] = []

    def __enter__(self) -> LockProbe:
        if self.active:
            self.stop.unlink(missing_ok=True)
            self.process = subprocess.Popen(
                [sys.executable, "-c", _LOCK_PROBE, str(self.stop), str(PROBE_EVERY)],
                env=self.env,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self

    def finish(self) -> None:
        if not self.active:
            return
        self.stop.touch()
        output, _ = self.process.communicate(timeout=60)
        self.waits = sorted(json.loads(output.strip().splitlines()[-1]))

    def __exit__(self, *exc: object) -> None:
        if self.active and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def figures(self) -> dict | None:
        if not self.waits:
            return None
        return {
            "p50": statistics.median(self.waits),
            "p99": _percentile(self.waits, 0.99),
            "max": self.waits[-1],
            "count": len(self.waits),
        }


_BACKLOG_STATE = (
    "import os, json, django\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'watchfloor.settings')\n"
    "django.setup()\n"
    "from django_tasks_db.models import DBTaskResult\n"
    "from watchfloor.signals.models import ReactionBacklog, RuleFiring, SurgeAlert\n"
    "from watchfloor.signals.tasks import react_to_signals\n"
    "done = DBTaskResult.objects.filter(task_path=react_to_signals.module_path,\n"
    "                                   status='SUCCESSFUL')\n"
    "lags = [lag for r in done for lag in (r.return_value or {}).get('lag_seconds', [])]\n"
    "print(json.dumps({'waiting': ReactionBacklog.objects.count(), 'lags': lags,\n"
    "    'surges': SurgeAlert.objects.count(), 'firings': RuleFiring.objects.count()}))\n"
)


def _backlog_state(env: dict[str, str]) -> dict:
    output = subprocess.run(
        [sys.executable, "-c", _BACKLOG_STATE], env=env, capture_output=True, text=True
    )
    if output.returncode != 0:
        raise SystemExit(f"reading the reactions backlog failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def _catch_up(env: dict[str, str], finished: float, timeout: float = 900.0) -> dict:
    """Wait for the worker to empty the backlog; the reaction figures once it has."""
    while True:
        state = _backlog_state(env)
        if state["waiting"] == 0 or time.perf_counter() - finished > timeout:
            break
        time.sleep(0.5)
    lags = sorted(state["lags"])
    return {
        "catch_up": time.perf_counter() - finished,
        "left": state["waiting"],
        "lag_p50": statistics.median(lags) if lags else 0.0,
        "lag_p99": _percentile(lags, 0.99) if lags else 0.0,
        "surges": state["surges"],
        "firings": state["firings"],
    }


def measure_cli(
    backend: str, env: dict[str, str], path: Path, batch_size: int, *, workers: int
) -> dict:
    """`watchfloor ingest FILE` in a subprocess on a fresh database, with ``workers``
    workers (or none) running the reactions beside it."""
    _fresh_database(backend, env)
    out_path, err_path = path.with_suffix(".out"), path.with_suffix(".err")
    with (
        Workers(env, workers) if workers else _Nothing(),
        LockProbe(backend, env, path.parent) as probe,
        out_path.open("w") as out,
        err_path.open("w") as err,
    ):
        started = time.perf_counter()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "watchfloor.cli",
                "ingest",
                str(path),
                "--batch-size",
                str(batch_size),
            ],
            env=env,
            stdout=out,
            stderr=err,
        )
        # wait4 gives this child's resource usage (its peak RSS, or its helper's if larger).
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        probe.finish()
        reactions = _catch_up(env, time.perf_counter()) if workers else None
    process.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    if process.returncode not in (0, 1):  # 1: some lines were rejected, as planned
        raise SystemExit(f"[{backend}] watchfloor ingest failed:\n{stderr[-3000:]}")
    found = re.search(r"([\d,]+) accepted, ([\d,]+) duplicates, ([\d,]+) rejected", stdout)
    timing = re.search(r"to commit \(validate … store\): p50 ([\d.]+) s, p99 ([\d.]+) s", stdout)
    if not found or not timing:
        raise SystemExit(f"[{backend}] unexpected output from watchfloor ingest:\n{stdout}")
    accepted, duplicates, rejected = (int(value.replace(",", "")) for value in found.groups())
    tenths = re.search(r"store per batch by tenth of the run, median ms: ([\d ]+) \(", stdout)
    commit_p50, commit_p99 = (float(value) for value in timing.groups())
    return {
        "seconds": seconds,
        "signals": accepted + duplicates + rejected,
        "accepted": accepted,
        "duplicates": duplicates,
        "rejected": rejected,
        "commit_p50": commit_p50,
        "commit_p99": commit_p99,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "reactions": reactions,
        "lock_wait": probe.figures(),
        "store_tenths_ms": [int(v) for v in tenths.group(1).split()] if tenths else None,
    }


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _records(path: str, limit: int | None = None) -> list:
    """The file's lines as the API is sent them (the first ``limit``, parsed only those)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines()[:limit]:
        try:
            records.append(json.loads(line))
        except ValueError:
            records.append(line)  # sent as a string: rejected as bad_type
    return records


def child_baseline(path: str, baseline_signals: int) -> None:
    """In a fresh database: the baseline on the first ``baseline_signals`` lines. Prints
    one JSON line."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchfloor.settings")
    django.setup()
    print(json.dumps(baseline(_records(path, baseline_signals))))


def child_api(path: str, batch_size: int, pace: float = 0.0) -> None:
    """In a fresh database: the batch API through the test client, as fast as it answers
    or, with ``pace``, sending that many signals a second (a batch when its signals are
    due). Prints one JSON line."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchfloor.settings")
    django.setup()
    from django.test import Client

    from watchfloor.bootstrap.server import prepare_to_serve
    from watchfloor.people.api_tokens import create_api_token
    from watchfloor.people.models import Team
    from watchfloor.people.services import create_user

    user = create_user(
        username="bench-intake",
        password=None,
        role="analyst",
        actor=None,
        team=Team.objects.get(code="site_policy"),
    )
    _, token = create_api_token(user=user, name="bench", scopes=["ingest"], actor=None)
    records = _records(path)
    bodies = [
        (
            len(records[start : start + batch_size]),
            json.dumps(records[start : start + batch_size], ensure_ascii=False).encode(),
        )
        for start in range(0, len(records), batch_size)
    ]
    # As `watchfloor serve` does before it serves: the URLs' modules and the hooks loaded,
    # the heap settled (the first batch would otherwise pay seconds of imports).
    prepare_to_serve()
    client = Client()
    headers = {"Authorization": f"Bearer {token}"}
    batches = []
    started = time.perf_counter()
    sent = 0
    for size, body in bodies:
        if pace:
            time.sleep(max(0.0, started + sent / pace - time.perf_counter()))
        sent += size
        request_started = time.perf_counter()
        response = client.post(
            "/api/v1/signals:batch", data=body, content_type="application/json", headers=headers
        )
        if response.status_code != 200:
            raise SystemExit(f"API answered {response.status_code}: {response.content[:500]!r}")
        batches.append((size, time.perf_counter() - request_started))
    seconds = time.perf_counter() - started
    p50, p99 = _weighted_percentiles(batches)
    print(json.dumps({"seconds": seconds, "signals": len(records), "p50": p50, "p99": p99}))


def baseline(records: list) -> dict:
    """One ORM save() per signal, with a naive per-signal cluster lookup, into a fresh
    database (emptying the API run's instead took the ORM's delete over every stored
    signal, which a million of them take past SQLite's limit on a statement's variables)."""
    from django.db import transaction

    from watchfloor.core import clock
    from watchfloor.signals.contract import SignalRejected, parse_signal
    from watchfloor.signals.models import Cluster, ClusterKey, Signal
    from watchfloor.signals.urls import normalise_url

    started = time.perf_counter()
    for record in records:
        try:
            signal = parse_signal(record)
        except SignalRejected:
            continue
        if Signal.objects.filter(producer="baseline", external_id=signal.id).exists():
            continue
        keys = [("subject", f"{signal.subject_kind}:{signal.subject_ref}")]
        if signal.url and normalise_url(signal.url):
            keys.append(("url", normalise_url(signal.url)))
        if signal.media_md5:
            keys.append(("md5", signal.media_md5))
        cluster = None
        for kind, value in keys:
            key = (
                ClusterKey.objects.filter(kind=kind, value=value).select_related("cluster").first()
            )
            if key is not None:
                cluster = key.cluster
                break
        with transaction.atomic():
            if cluster is None:
                cluster = Cluster(
                    first_seen_at=signal.received_at,
                    last_seen_at=signal.received_at,
                    updated_at=clock.now(),
                )
                cluster.save()
                for kind, value in keys:
                    if not ClusterKey.objects.filter(kind=kind, value=value).exists():
                        ClusterKey(kind=kind, value=value, cluster=cluster).save()
            Signal(
                producer="baseline",
                external_id=signal.id,
                received_at=signal.received_at,
                ingested_at=clock.now(),
                source=signal.source,
                subject_kind=signal.subject_kind,
                subject_ref=signal.subject_ref,
                text=signal.text or "",
                url=signal.url or "",
                media_pdq=signal.media_pdq,
                media_md5=signal.media_md5 or "",
                market=signal.market or "",
                language=signal.language or "",
                policy_hint=signal.policy_hint or "",
                reporter=signal.reporter or "",
                cluster=cluster,
                matched_by="subject",
            ).save()
            cluster.signal_count += 1
            cluster.last_seen_at = max(cluster.last_seen_at, signal.received_at)
            cluster.save(update_fields=["signal_count", "last_seen_at"])
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "signals": len(records)}


def measure_api(
    backend: str,
    env: dict[str, str],
    path: Path,
    batch_size: int,
    *,
    workers: int,
    baseline_signals: int = 0,
    pace: float = 0.0,
) -> dict:
    _fresh_database(backend, env)
    command = [
        sys.executable,
        __file__,
        "--child-api",
        str(path),
        "--batch-size",
        str(batch_size),
        "--pace",
        str(pace),
    ]
    with Workers(env, workers) if workers else _Nothing():
        measured = {"api": _child_output(backend, "API", command, env)}
        if workers:
            measured["api"]["reactions"] = _catch_up(env, time.perf_counter())
    if baseline_signals:
        _fresh_database(backend, env)
        command = [
            sys.executable,
            __file__,
            "--child-baseline",
            str(path),
            "--baseline-signals",
            str(baseline_signals),
        ]
        measured["baseline"] = _child_output(backend, "baseline", command, env)
    return measured


def _child_output(backend: str, what: str, command: list[str], env: dict[str, str]) -> dict:
    output = subprocess.run(command, env=env, capture_output=True, text=True)
    if output.returncode != 0:
        raise SystemExit(f"[{backend}] the {what} measurement failed:\n{output.stderr[-4000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def _verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def _growth_rows(cli: dict) -> list[tuple[str, str, str, str, str]]:
    """The writer's time per batch in the first and last tenth of the run (from the
    command's own summary) and every tenth: whether storing grows with what is stored."""
    tenths = cli.get("store_tenths_ms")
    if not tenths:
        return []
    growth = tenths[-1] / tenths[0] - 1 if tenths[0] else 0.0
    return [
        (
            "  store per batch, first / last tenth of the run (median)",
            f"{tenths[0]}/{tenths[-1]} ms",
            f"≤ +{TARGET_LAST_TENTH_GROWTH:.0%}",
            "",
            f"{growth:+.0%} " + _verdict(growth <= TARGET_LAST_TENTH_GROWTH),
        ),
        # In the last column, the only one without a width: ten figures do not fit the others.
        ("  store per batch by tenth, ms", "", "", "", " ".join(map(str, tenths))),
    ]


def _print_rows(rows: list[tuple[str, str, str, str, str]]) -> None:
    for name, measured, target, ratio, verdict in rows:
        print(f"  {name:<58} {measured:>12} {target:>10} {ratio:>11}  {verdict}")


def _lock_wait_rows(cli: dict) -> list[tuple[str, str, str, str, str]]:
    waited = cli.get("lock_wait")
    if not waited:
        return []
    return [
        (
            "  a web request's write: wait for the lock, p50 / p99 / max",
            f"{waited['p50'] * 1000:.0f}/{waited['p99'] * 1000:.0f}/{waited['max'] * 1000:.0f} ms",
            "",
            "",
            f"{waited['count']} writes",
        )
    ]


def report(backend: str, runs: dict[str, dict], base: dict, *, workers: int) -> None:
    base_rate = base["signals"] / base["seconds"]
    cli = runs["cli"]
    print(
        f"\n[{backend}] {cli['signals']:,} lines: {cli['accepted']:,} accepted, "
        f"{cli['duplicates']:,} duplicates, {cli['rejected']:,} rejected"
    )
    print(f"  {'figure':<58} {'measured':>12} {'target':>10} {'× baseline':>11}  verdict")
    rows: list[tuple[str, str, str, str, str]] = []
    beside = f"{workers} worker{'s' if workers > 1 else ''} reacting beside it"
    for mode, label in (("", "no worker"), ("+worker", beside)):
        if f"cli{mode}" not in runs:  # --without-workers
            continue
        cli = runs[f"cli{mode}"]
        api = runs[f"api{mode}"]
        cli_rate = cli["signals"] / cli["seconds"]
        api_rate = api["signals"] / api["seconds"]
        cli_target = TARGET_CLI_PER_SECOND if backend == "sqlite" else None
        rows += [
            (
                f"watchfloor ingest, signals/s ({label})",
                f"{cli_rate:,.0f}",
                f"≥ {cli_target:,}" if cli_target else "",
                f"{cli_rate / base_rate:.1f}",
                _verdict(cli_rate >= cli_target) if cli_target else "",
            ),
            (
                "  batch to commit (acknowledged, clustered), p50 / p99",
                f"{cli['commit_p50']:.2f}/{cli['commit_p99']:.2f} s",
                f"p99 < {TARGET_P99_SECONDS:.0f} s",
                "",
                _verdict(cli["commit_p99"] < TARGET_P99_SECONDS),
            ),
            (
                "  CPU time per signal, ingest processes",
                f"{cli['cpu_seconds'] / cli['signals'] * 1e6:,.0f} µs",
                "",
                "",
                "",
            ),
            ("  peak memory, max RSS", f"{cli['peak_rss_mb']:,.0f} MB", "", "", ""),
            *_growth_rows(cli),
            *_lock_wait_rows(cli),
            (
                f"batch API, signals/s ({label})",
                f"{api_rate:,.0f}",
                f"≥ {TARGET_API_PER_SECOND:,}",
                f"{api_rate / base_rate:.1f}",
                _verdict(api_rate >= TARGET_API_PER_SECOND),
            ),
            (
                "  request to commit, p50 / p99",
                f"{api['p50']:.2f}/{api['p99']:.2f} s",
                f"p99 < {TARGET_P99_SECONDS:.0f} s",
                "",
                _verdict(api["p99"] < TARGET_P99_SECONDS),
            ),
        ]
        for way, run in (("ingest", cli), ("API", api)):
            reacted = run.get("reactions")
            if not reacted:
                continue
            rows += [
                (
                    f"  {way}: commit to reactions done, p50 / p99",
                    f"{reacted['lag_p50']:.2f}/{reacted['lag_p99']:.2f} s",
                    f"p99 < {TARGET_REACTED_P99_SECONDS:.0f} s",
                    "",
                    _verdict(reacted["lag_p99"] < TARGET_REACTED_P99_SECONDS),
                ),
                (
                    f"  {way}: worker caught up after the last batch",
                    f"{reacted['catch_up']:.1f} s",
                    "",
                    "",
                    "" if not reacted["left"] else f"{reacted['left']} batches LEFT",
                ),
                (
                    f"  {way}: surge alerts raised / rule firings",
                    f"{reacted['surges']:,}/{reacted['firings']:,}",
                    "",
                    "",
                    "",
                ),
            ]
    rows.append(
        (
            f"baseline: save() per signal, first {base['signals']:,}",
            f"{base_rate:,.0f}/s",
            "",
            "1.0",
            "",
        )
    )
    _print_rows(rows)


def report_paced(paced: dict[float, dict], *, workers: int) -> None:
    """The batch API at fixed rates, workers beside it: do the reactions keep up?"""
    if not paced:
        return
    print(f"  batch API at a fixed rate, {workers} worker{'s' if workers > 1 else ''} beside it:")
    for rate, run in paced.items():
        reacted = run["reactions"]
        sent = run["signals"] / run["seconds"]
        rows = [
            (
                f"  {rate:,.0f}/s (sent {sent:,.0f}/s): commit to reactions done, p50/p99",
                f"{reacted['lag_p50']:.2f}/{reacted['lag_p99']:.2f} s",
                f"p99 < {TARGET_REACTED_P99_SECONDS:.0f} s",
                "",
                _verdict(reacted["lag_p99"] < TARGET_REACTED_P99_SECONDS),
            ),
            (
                "    request to commit, p50 / p99",
                f"{run['p50']:.2f}/{run['p99']:.2f} s",
                f"p99 < {TARGET_P99_SECONDS:.0f} s",
                "",
                _verdict(run["p99"] < TARGET_P99_SECONDS),
            ),
            (
                "    surge alerts raised / rule firings",
                f"{reacted['surges']:,}/{reacted['firings']:,}",
                "",
                "",
                "",
            ),
        ]
        _print_rows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--signals", type=int, default=100_000)
    parser.add_argument("--stories", type=int, default=3_000)
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument("--baseline-signals", type=int, default=3_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="workers beside the intake in the legs with workers (default: 1 on SQLite, "
        "whose one writer they would queue on, 2 on PostgreSQL)",
    )
    parser.add_argument(
        "--without-workers",
        action="store_true",
        help="only the legs with no worker: at a million signals the legs with workers "
        "wait for every reaction to finish, which can take longer than the intake itself",
    )
    parser.add_argument(
        "--paced",
        default="",
        metavar="RATES",
        help="also send the batch API the signals at each of these rates (signals/s, "
        "comma-separated), workers beside it: the rates at which the reactions keep up",
    )
    parser.add_argument("--pace", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--child-api", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--child-baseline", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_api:
        child_api(args.child_api, args.batch_size, args.pace)
        return
    if args.child_baseline:
        child_baseline(args.child_baseline, args.baseline_signals)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    with tempfile.TemporaryDirectory(prefix="wf-bench-intake-") as work:
        path = Path(work) / "surge.jsonl"
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        counts = generate(path, signals=args.signals, stories=args.stories, end=end)
        print(
            f"Signal intake benchmark on {os.cpu_count()} cores: {counts['lines']:,} lines "
            f"({args.stories:,} items, Zipf popularity; {counts['without_language']:,} without "
            f"language, {counts['resent']:,} re-sent, {counts['invalid']:,} invalid), "
            f"batches of {args.batch_size:,}; baseline on the first {args.baseline_signals:,}. "
            "The surge ends as the run starts. The reactions (surge checks, rules, watchlists) "
            "run on `watchfloor worker`: each figure without a worker, then with workers "
            "beside the intake on the same cores (--workers; one on SQLite, two on "
            "PostgreSQL)."
        )
        for backend in args.backends.split(","):
            data_dir = Path(work) / backend
            data_dir.mkdir()
            env = _environment(backend, str(data_dir))
            workers = args.workers or (1 if backend == "sqlite" else 2)
            runs = {"cli": measure_cli(backend, env, path, args.batch_size, workers=0)}
            if not args.without_workers:
                runs["cli+worker"] = measure_cli(
                    backend, env, path, args.batch_size, workers=workers
                )
            measured = measure_api(
                backend,
                env,
                path,
                args.batch_size,
                workers=0,
                baseline_signals=args.baseline_signals,
            )
            runs["api"] = measured["api"]
            if not args.without_workers:
                runs["api+worker"] = measure_api(
                    backend, env, path, args.batch_size, workers=workers
                )["api"]
            paced = {
                rate: measure_api(backend, env, path, args.batch_size, workers=workers, pace=rate)[
                    "api"
                ]
                for rate in (float(r) for r in args.paced.split(",") if r.strip())
            }
            report(backend, runs, measured["baseline"], workers=workers)
            report_paced(paced, workers=workers)


if __name__ == "__main__":
    main()
