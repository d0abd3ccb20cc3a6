"""The intake service: idempotency, rejections, language, counts, audit, one transaction
per batch, and a fixed number of queries per batch."""

from __future__ import annotations

import hashlib
import pickle
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from watchfloor.audit.models import AuditEvent
from watchfloor.audit.selectors import verify_chain
from watchfloor.core import clock
from watchfloor.core.errors import PermissionDenied
from watchfloor.signals import counting, intake
from watchfloor.signals.contract import SignalRejected
from watchfloor.signals.intake import BatchTooLarge, IntakeBatch, ingest_signals, prepare
from watchfloor.signals.media import pdq_to_hex, pdq_variant
from watchfloor.signals.models import (
    Cluster,
    ClusterBucket,
    ClusterKey,
    ClusterReporter,
    ClusterText,
    SeriesBucket,
    Signal,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
PDQ = bytes.fromhex("d8f8f0cce0f4a84f0e370a22028f67f0b36e2ed596623e1d33e6b39c4e9c9b22")


def at(**delta: float) -> str:
    """An RFC 3339 time ``delta`` after T0 (negative for before)."""
    return (T0 + timedelta(**delta)).isoformat().replace("+00:00", "Z")


def make_signal(name: str | int, **fields: Any) -> dict[str, Any]:
    """A valid signal about its own post; ``field=None`` leaves a field out."""
    signal: dict[str, Any] = {
        "id": f"s-{name}",
        "received_at": at(),
        "source": "user_report",
        "subject": {"kind": "post", "ref": f"post:{name}"},
    }
    signal.update(fields)
    return {key: value for key, value in signal.items() if value is not None}


def ingest(*signals: Any, producer: str = "tests", actor=None, lines=None):
    return ingest_signals(items=list(signals), producer=producer, actor=actor, lines=lines)


# ---------------------------------------------------------------- accepted and stored


def test_a_valid_signal_is_stored_in_canonical_form(catalog):
    result = ingest(
        make_signal(
            1,
            received_at="2026-11-24T09:30:12+09:00",
            text="台風10号の被災者支援を装った詐欺アカウントです。DMで振込先を送ってきます。",
            url="https://Example.com/relief/donate?utm_source=share&fbclid=IwAR0",
            media={"pdq": pdq_to_hex(PDQ).upper(), "pdq_quality": 100, "md5": "A" * 32},
            market="JP",
            policy_hint="scams_fraud",
            reach={"impressions": 48200, "followers": 1200, "shares": 310},
            reporter="user:55120",
            attributes={"app": "ios"},
        )
    )
    assert (result.accepted, result.duplicates, result.rejected) == (1, 0, 0)
    item = result.results[0]
    signal = Signal.objects.get()
    assert (item.status, item.signal_id, item.cluster_id) == (
        "accepted",
        signal.pk,
        signal.cluster_id,
    )
    assert signal.producer == "tests" and signal.external_id == "s-1"
    assert signal.received_at == datetime(2026, 11, 24, 0, 30, 12, tzinfo=UTC)
    assert signal.url_normalised == "https://example.com/relief/donate"
    assert bytes(signal.media_pdq) == PDQ and signal.media_md5 == "a" * 32
    assert (signal.language, signal.language_detected) == ("ja", True)
    assert signal.matched_by == "new"
    assert signal.attributes == {"app": "ios"}
    cluster = Cluster.objects.get()
    assert cluster.representative_id == signal.pk
    assert cluster.representative_url.startswith("https://Example.com/relief/donate")
    assert (cluster.subject_kind, cluster.subject_ref) == ("post", "post:1")


def test_long_references_and_urls_within_the_contract_are_stored(catalog):
    ref = "r" * 4096
    url = "https://example.com/" + "東" * 1300  # percent-encoded, far longer than 4,096
    result = ingest(make_signal(1, subject={"kind": "url", "ref": ref}, url=url))
    assert result.accepted == 1
    signal = Signal.objects.get()
    assert signal.subject_ref == ref
    assert len(signal.url_normalised) > 4096
    # Long key values are stored as a digest; the same reference still clusters.
    assert ingest(make_signal(2, subject={"kind": "url", "ref": ref})).results[0].cluster_id == (
        signal.cluster_id
    )
    assert all(len(value) < 100 for value in ClusterKey.objects.values_list("value", flat=True))


# ---------------------------------------------------------------- idempotency


def test_the_same_id_again_is_a_duplicate_of_the_stored_signal(catalog):
    first = ingest(make_signal(1)).results[0]
    again = ingest(make_signal(1, text="changed text, same id")).results[0]
    assert again.status == "duplicate"
    assert (again.signal_id, again.cluster_id) == (first.signal_id, first.cluster_id)
    assert Signal.objects.count() == 1
    assert Cluster.objects.get().signal_count == 1


def test_the_same_id_twice_in_one_batch_is_stored_once(catalog):
    result = ingest(make_signal(1), make_signal(2), make_signal(1))
    assert [item.status for item in result.results] == ["accepted", "accepted", "duplicate"]
    assert result.results[2].signal_id == result.results[0].signal_id
    assert result.results[2].cluster_id == result.results[0].cluster_id
    assert Signal.objects.count() == 2


def test_ids_are_unique_per_producer(catalog):
    ingest(make_signal(1), producer="detector-a")
    result = ingest(make_signal(1), producer="detector-b")
    assert result.results[0].status == "accepted"
    assert Signal.objects.count() == 2
    # Same subject, so both join one cluster.
    assert Cluster.objects.get().signal_count == 2


# ---------------------------------------------------------------- rejections


def test_rejected_items_name_reason_field_and_line_while_valid_ones_are_stored(catalog):
    items = [
        make_signal("ok-1"),
        make_signal("no-source", source=None),
        make_signal("bad-source", source="rumour_mill"),
        make_signal("bad-time", received_at="24/11/2026 09:30"),
        make_signal("bad-pdq", media={"pdq": "abc"}),
        make_signal("long", text="x" * 20_001),
        make_signal("market", market="ZZ"),
        make_signal("policy", policy_hint="no_such_policy"),
        ["not", "an", "object"],
        SignalRejected("malformed_json", "", "the line is not valid JSON"),
        make_signal("ok-2"),
    ]
    lines = list(range(10, 10 + len(items)))
    result = ingest(*items, lines=lines)
    outcome = [(item.status, item.reason, item.field, item.line) for item in result.results]
    assert outcome == [
        ("accepted", "", "", 10),
        ("rejected", "missing_field", "source", 11),
        ("rejected", "unknown_source", "source", 12),
        ("rejected", "bad_timestamp", "received_at", 13),
        ("rejected", "invalid_pdq", "media.pdq", 14),
        ("rejected", "too_long", "text", 15),
        ("rejected", "unknown_market", "market", 16),
        ("rejected", "unknown_policy", "policy_hint", 17),
        ("rejected", "bad_type", "", 18),
        ("rejected", "malformed_json", "", 19),
        ("accepted", "", "", 20),
    ]
    assert result.rejected_by_reason == {
        "bad_timestamp": 1,
        "bad_type": 1,
        "invalid_pdq": 1,
        "malformed_json": 1,
        "missing_field": 1,
        "too_long": 1,
        "unknown_market": 1,
        "unknown_policy": 1,
        "unknown_source": 1,
    }
    assert "'ZZ'" in result.results[6].message and "JP" in result.results[6].message
    assert "no_such_policy" in result.results[7].message
    assert set(Signal.objects.values_list("external_id", flat=True)) == {"s-ok-1", "s-ok-2"}


def test_a_batch_with_nothing_valid_writes_nothing(catalog):
    result = ingest(make_signal(1, source="nope"))
    assert result.rejected == 1
    assert not Signal.objects.exists() and not Cluster.objects.exists()
    assert not AuditEvent.objects.filter(action="signals.ingested").exists()


def test_more_than_ten_thousand_signals_are_refused_whole(catalog):
    with pytest.raises(BatchTooLarge) as refused:
        ingest(*[make_signal(n) for n in range(intake.MAX_BATCH_SIZE + 1)])
    assert refused.value.http_status == 413
    assert "10,001" in refused.value.message
    assert not Signal.objects.exists()


@pytest.mark.parametrize("role, team", [("viewer", None), ("partner", "legal")])
def test_only_analysts_leads_and_admins_may_ingest(catalog, make_user, role, team):
    with pytest.raises(PermissionDenied):
        ingest(make_signal(1), actor=make_user(f"someone.{role}", role, team))
    assert not Signal.objects.exists()


def test_an_analyst_ingests_as_themselves(catalog, analyst):
    result = ingest(make_signal(1), actor=analyst, producer=analyst.username)
    assert result.accepted == 1
    event = AuditEvent.objects.get(action="signals.ingested")
    assert event.actor_id == analyst.pk


# ---------------------------------------------------------------- language


def test_the_producers_language_is_kept_and_a_missing_one_detected(catalog):
    ingest(
        make_signal(
            "given", text="This is clearly an English sentence about a scam.", language="en-us"
        ),
        make_signal("ja", text="台風の被災者支援を装った詐欺アカウントです。"),
        make_signal("th", text="บัญชีนี้หลอกลวงให้โอนเงินช่วยเหลือผู้ประสบภัยน้ำท่วม"),
        make_signal("short", text="ok!!"),
        make_signal("none"),
    )
    found = {s.external_id: (s.language, s.language_detected) for s in Signal.objects.all()}
    assert found == {
        "s-given": ("en-US", False),
        "s-ja": ("ja", True),
        "s-th": ("th", True),
        "s-short": ("", False),
        "s-none": ("", False),
    }


def test_a_kanji_only_post_takes_the_language_its_market_speaks(catalog):
    ingest(
        make_signal("jp", text="地震速報 震度六強 津波警報発令", market="JP"),
        make_signal("tw", text="地震速報 震度六強 津波警報發佈", market="TW"),
        make_signal("none", text="地震速報 震度六強 津波警報发布"),
    )
    found = {s.external_id: s.language for s in Signal.objects.all()}
    assert found == {"s-jp": "ja", "s-tw": "zh", "s-none": "zh"}


def test_detection_is_restricted_to_the_configured_languages(catalog, settings):
    settings.WATCHFLOOR_SIGNAL_LANGUAGES = ["en", "ja"]
    ingest(make_signal(1, text="Esta cuenta se hace pasar por una organización benéfica"))
    assert Signal.objects.get().language in {"en", "ja"}


# ---------------------------------------------------------------- counts


def test_counts_tallies_and_velocities_are_exact_after_several_batches(catalog):
    post = {"kind": "post", "ref": "post:viral"}
    stack = ExitStack()
    stack.enter_context(clock.frozen_at(T0 + timedelta(minutes=1)))
    ingest(
        make_signal(
            1,
            subject=post,
            received_at=at(minutes=-30),
            market="JP",
            language="ja",
            policy_hint="scams_fraud",
            reporter="u1",
            reach={"impressions": 100, "followers": 10, "shares": 1},
        ),
        make_signal(2, subject=post, received_at=at(minutes=-2), reporter="u2", source="detector"),
    )
    ingest(
        make_signal(
            3,
            subject=post,
            received_at=at(minutes=-90),  # late: becomes the first seen
            market="JP",
            reporter="u1",  # already counted
            reach={"impressions": 50, "followers": 5000},
        ),
        make_signal(4, subject=post, received_at=at(hours=-30), market="PH", language="tl"),
    )
    ingest(
        make_signal(
            5,
            subject=post,
            received_at=at(minutes=1),
            market="JP",
            language="ja",
            policy_hint="scams_fraud",
            reporter="u3",
            reach={"shares": 7},
        )
    )
    cluster = Cluster.objects.get()
    assert cluster.signal_count == 5
    assert cluster.reporter_count == 3
    assert ClusterReporter.objects.filter(cluster=cluster).count() == 3
    assert cluster.first_seen_at == T0 - timedelta(hours=30)
    assert cluster.last_seen_at == T0 + timedelta(minutes=1)
    assert cluster.sources == {"user_report": 4, "detector": 1}
    assert cluster.markets == {"JP": 3, "PH": 1}
    assert cluster.languages == {"ja": 2, "tl": 1}
    assert cluster.policy_hints == {"scams_fraud": 2}
    assert (cluster.reach_impressions, cluster.reach_shares, cluster.max_followers) == (
        150,
        8,
        5000,
    )
    # At the current time (00:31): its bucket is 00:30, which holds the last signal only;
    # the hour holds 00:00 (-30 min) and 00:28 (-2 min) as well; the day everything but
    # the signal 30 hours back.
    assert (cluster.velocity_5m, cluster.velocity_1h, cluster.velocity_24h) == (1, 3, 4)
    stack.close()
    buckets = dict(
        ClusterBucket.objects.filter(cluster=cluster).values_list("bucket_start", "count")
    )
    assert buckets == {
        T0 - timedelta(hours=30): 1,
        T0 - timedelta(minutes=90): 1,
        T0 - timedelta(minutes=30): 1,
        T0 - timedelta(minutes=5): 1,
        T0: 1,
    }
    series = {
        (row.market, row.policy, row.language, row.bucket_start): row.count
        for row in SeriesBucket.objects.all()
    }
    assert series == {
        ("JP", "scams_fraud", "ja", T0 - timedelta(minutes=30)): 1,
        ("", "", "", T0 - timedelta(minutes=5)): 1,
        ("JP", "", "", T0 - timedelta(minutes=90)): 1,
        ("PH", "", "tl", T0 - timedelta(hours=30)): 1,
        ("JP", "scams_fraud", "ja", T0): 1,
    }


def test_a_bucket_receiving_signals_in_two_batches_adds_them_up(catalog):
    post = {"kind": "post", "ref": "post:1"}
    with clock.frozen_at(T0 + timedelta(minutes=4)):
        ingest(make_signal(1, subject=post, market="JP"), make_signal(2, subject=post, market="JP"))
        ingest(make_signal(3, subject=post, market="JP", received_at=at(minutes=4)))
    assert ClusterBucket.objects.get().count == 3
    assert SeriesBucket.objects.get(market="JP").count == 3
    assert Cluster.objects.get().velocity_5m == 3


def test_reach_sums_stop_at_the_largest_storable_number(catalog):
    post = {"kind": "post", "ref": "post:1"}
    huge = {"impressions": 2**63 - 1, "shares": 2**63 - 1, "followers": 2**63 - 1}
    ingest(make_signal(1, subject=post, reach=huge), make_signal(2, subject=post, reach=huge))
    cluster = Cluster.objects.get()
    assert cluster.reach_impressions == cluster.reach_shares == 2**63 - 1


# ---------------------------------------------------------------- audit and transactions


def test_each_batch_writes_one_audit_event_with_its_counts(catalog):
    first = ingest(make_signal(1), make_signal(2), make_signal(3, source="nope"))
    second = ingest(make_signal(2), make_signal(4), make_signal(5, market="ZZ"))
    events = list(AuditEvent.objects.filter(action="signals.ingested").order_by("sequence"))
    assert len(events) == 2
    assert events[0].data == {
        "producer": "tests",
        "accepted": 2,
        "duplicates": 0,
        "rejected": 1,
        "rejected_by_reason": {"unknown_source": 1},
        "first_signal_id": first.first_signal_id,
        "last_signal_id": first.last_signal_id,
        "clusters_created": 2,
        "clusters_touched": 2,
    }
    assert events[1].data["accepted"] == 1 and events[1].data["duplicates"] == 1
    assert events[1].data["first_signal_id"] == second.first_signal_id == second.last_signal_id
    assert events[0].actor_label == "system"
    assert verify_chain().ok


def test_a_failure_while_storing_leaves_nothing_behind(catalog, monkeypatch):
    ingest(make_signal(1, url="https://example.com/a"))
    before = (Signal.objects.count(), Cluster.objects.count(), ClusterKey.objects.count())

    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(counting, "count_signals", broken)
    with pytest.raises(RuntimeError):
        ingest(make_signal(2, url="https://example.com/a"), make_signal(3))
    assert (Signal.objects.count(), Cluster.objects.count(), ClusterKey.objects.count()) == before
    assert Cluster.objects.get().signal_count == 1
    assert AuditEvent.objects.filter(action="signals.ingested").count() == 1
    monkeypatch.undo()
    # The same batch goes through afterwards, as if never sent.
    result = ingest(make_signal(2, url="https://example.com/a"), make_signal(3))
    assert result.accepted == 2


# ---------------------------------------------------------------- the steps, alone


def test_the_pipeline_is_a_declared_list_of_steps():
    assert [step.__name__ for step in intake.PREPARE] == [
        "validate",
        "check_catalog",
        "normalise",
        "detect_language",
        "pair_within_batch",
    ]
    assert [step.__name__ for step in intake.STORE] == [
        "find_duplicates",
        "cluster",
        "store_signals",
        "count",
        "record_ingest",
        "queue_reactions",
    ]


def test_validate_and_normalise_run_alone():
    batch = IntakeBatch.of(
        [
            make_signal(1, url="HTTPS://Example.com:443/a/?utm_campaign=x", text="Too short"),
            make_signal(2, text="A much longer message that is long enough to be compared"),
            make_signal(3, media={"pdq": pdq_to_hex(PDQ), "pdq_quality": 20, "sha256": "F" * 64}),
            {"id": "broken"},
        ],
        producer="tests",
        actor=None,
        lines=[1, 2, 3, 4],
    )
    intake.validate(batch)
    intake.normalise(batch)
    first, second, third, broken = batch.items
    assert first.keys.subject == "post:post:1"
    assert first.keys.url == "https://example.com/a"
    assert first.keys.text_signature is None  # too short to judge
    assert second.keys.text_signature is not None
    assert third.keys.pdq is None  # quality 20: featureless, not matched on
    assert third.keys.sha256 == "f" * 64
    assert broken.rejection.reason_code == "missing_field" and broken.rejection.line == 4


# ---------------------------------------------------------------- queries per batch


def _group_text(prefix: str, group: int) -> str:
    """A text of its own per group: twelve made-up words."""
    return " ".join(
        hashlib.sha256(f"{prefix}/{group}/{n}".encode()).hexdigest()[:7] for n in range(12)
    )


def _mixed_batch(prefix: str, size: int) -> list[dict[str, Any]]:
    """Every kind of write a batch can make, in the same proportions at every size: new
    clusters with every key, reports of the same post, URL shares, file hashes, a repeat
    within the batch, late signals, and a signal linking two clusters."""
    signals = []
    for n in range(size):
        group, kind = divmod(n, 10)
        name = f"{prefix}-{n}"
        post = {"kind": "post", "ref": f"{prefix}-post-{group}"}
        if kind == 0:
            signals.append(
                make_signal(
                    name,
                    subject=post,
                    url=f"https://example.com/{prefix}/{group}",
                    text=_group_text(prefix, group),
                    media={"pdq": pdq_to_hex(pdq_variant(PDQ, 100, seed=n))},
                    market="JP",
                    policy_hint="scams_fraud",
                    reporter=f"user-{n % 7}",
                )
            )
        elif kind in (1, 2):
            signals.append(make_signal(name, subject=post, reporter=f"user-{n % 7}", language="ja"))
        elif kind == 3:
            signals.append(make_signal(name, url=f"https://example.com/{prefix}/{group}?utm_x=1"))
        elif kind == 4:
            signals.append(
                make_signal(
                    name, media={"md5": f"{group:032x}", "sha256": f"{n:064x}"}, market="PH"
                )
            )
        elif kind == 5:
            signals.append(make_signal(f"{prefix}-{n - 1}"))  # a repeat within the batch
        elif kind == 6:
            # Its subject is this group's post, its text another cluster's: a relation.
            other = _group_text(prefix, group - 1) if group else _group_text("warm", 0)
            signals.append(make_signal(name, subject=post, text=other))
        else:
            signals.append(make_signal(name, received_at=at(minutes=-kind * 7), source="detector"))
    return signals


def test_a_batch_takes_the_same_number_of_queries_at_any_size(catalog):
    ingest(*_mixed_batch("warm", 20))  # the indexes are built on first use
    counts = {}
    for size in (50, 500):
        with CaptureQueriesContext(connection) as queries:
            result = ingest(*_mixed_batch(f"n{size}", size))
        assert result.accepted == size - size // 10
        counts[size] = len(queries)
    assert counts[50] == counts[500]
    # Pinned: the catalog; savepoint; duplicates, key owners (one query per kind of key:
    # subject, url, md5, sha256), 2 index syncs, clusters joined; clusters created,
    # signals, keys, media, text, relations; reporters, buckets added to and summed,
    # series added to, cluster counts; 2 for the audit event (the head moved on from
    # where this connection left it, the event; the head is read under its lock only
    # when another writer moved it; 4 before issue 16); the reactions backlog row;
    # release. On PostgreSQL, also the writer lock, and before each of the 16
    # statements that read many values (the lookups and the multi-row writes) the
    # staging table's creation (if missing) and the COPY that fills it.
    postgresql = connection.vendor == "postgresql"
    assert counts[500] == 25 + (1 + 2 * 16 if postgresql else 0)


def test_a_prepared_batch_can_be_stored_by_another_process(catalog):
    """`watchfloor ingest` prepares in a helper process and stores in its own."""
    items = [
        make_signal(1, text="A fake relief fund asks for transfers by bank", language="en"),
        make_signal(2, media={"pdq": pdq_to_hex(PDQ), "md5": "b" * 32}, market="JP"),
        make_signal(3, source="nope"),
    ]
    prepared = intake.prepare_batch(items=items, producer="tests", actor=None, lines=[7, 8, 9])
    copied = pickle.loads(pickle.dumps(prepared))  # noqa: S301 - our own bytes
    result = intake.store_batch(copied)
    assert [(r.status, r.line) for r in result.results] == [
        ("accepted", 7),
        ("accepted", 8),
        ("rejected", 9),
    ]
    stored = Signal.objects.get(external_id="s-2")
    assert (bytes(stored.media_pdq), stored.media_md5, stored.market) == (PDQ, "b" * 32, "JP")
    assert ClusterText.objects.count() == 1
    with pytest.raises(TypeError):
        pickle.dumps(copied)  # a stored batch stays where it is


def test_the_same_text_is_detected_and_hashed_once(catalog, monkeypatch):
    from watchfloor.signals import language

    text = "Cuenta falsa que se hace pasar por una organización benéfica de ayuda"
    detector = language.get_language_detector(language.DEFAULT_LANGUAGES)
    seen: list[list[str]] = []
    original = detector.detect_many

    def counting_detect_many(texts):
        texts = list(texts)
        seen.append(texts)
        return original(texts)

    monkeypatch.setattr(detector, "detect_many", counting_detect_many)
    monkeypatch.setattr(prepare, "_LANGUAGES", prepare.RecentResults(100))
    monkeypatch.setattr(prepare, "_SIGNATURES", prepare.RecentResults(100))
    first = ingest(*[make_signal(n, text=text) for n in range(5)])
    second = ingest(make_signal(9, text=text))
    assert seen == [[text]]
    assert {s.language for s in Signal.objects.all()} == {"es"}
    # One text, so one cluster: reports 1 to 4 and 9 joined the first by text.
    assert {r.cluster_id for r in first.results + second.results} == {first.results[0].cluster_id}
