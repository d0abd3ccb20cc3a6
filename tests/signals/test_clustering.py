"""Clustering: every key kind, the order keys are tried in, the conflict policy, clusters
formed within one batch, multilingual near-duplicates and PDQ distance boundaries."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.signals.test_intake import PDQ, at, ingest, make_signal
from watchfloor.signals import clustering
from watchfloor.signals.clustering import (
    MAX_REPRESENTATIVES,
    ClusterIndexes,
    ClusteringConfig,
    SignalKeys,
)
from watchfloor.signals.media import hamming_distance, pdq_to_hex, pdq_variant
from watchfloor.signals.models import (
    Cluster,
    ClusterKey,
    ClusterMedia,
    ClusterRelation,
    ClusterText,
    Signal,
)

pytestmark = pytest.mark.django_db

SCAM_EN = "This account is posing as a relief charity and asking for donations by bank transfer"


def cluster_of(result, index: int = 0) -> int:
    return result.results[index].cluster_id


def matched_by(external_id: str) -> str:
    return Signal.objects.get(external_id=external_id).matched_by


def media(pdq: bytes, **more) -> dict:
    return {"pdq": pdq_to_hex(pdq), **more}


# ---------------------------------------------------------------- each key


def test_the_same_subject_joins_the_cluster(catalog):
    first = ingest(make_signal(1, subject={"kind": "account", "ref": "acct:relief_ph"}))
    second = ingest(make_signal(2, subject={"kind": "account", "ref": "acct:relief_ph"}))
    third = ingest(make_signal(3, subject={"kind": "post", "ref": "acct:relief_ph"}))
    assert cluster_of(second) == cluster_of(first)
    assert cluster_of(third) != cluster_of(first)  # same ref, another kind of subject
    assert matched_by("s-2") == "subject" and matched_by("s-1") == "new"


def test_the_same_normalised_url_joins_the_cluster(catalog):
    first = ingest(make_signal(1, url="https://example.com/relief/donate?b=2&a=1&utm_source=x"))
    second = ingest(make_signal(2, url="HTTPS://EXAMPLE.com:443/relief/donate/?a=1&b=2#top"))
    shortened = ingest(make_signal(3, url="https://bit.ly/AbC"))
    other_case = ingest(make_signal(4, url="https://bit.ly/abc"))
    assert cluster_of(second) == cluster_of(first)
    assert matched_by("s-2") == "url"
    assert cluster_of(other_case) != cluster_of(shortened)  # a shortener's code is the link


def test_near_identical_media_joins_the_cluster(catalog):
    first = ingest(make_signal(1, media=media(PDQ)))
    second = ingest(make_signal(2, media=media(pdq_variant(PDQ, 20, seed=1))))
    assert cluster_of(second) == cluster_of(first)
    assert matched_by("s-2") == "media"


@pytest.mark.parametrize("field", ["md5", "sha256"])
def test_the_same_file_hash_joins_the_cluster(catalog, field):
    digest = "ab" * (16 if field == "md5" else 32)
    first = ingest(make_signal(1, media={field: digest}))
    second = ingest(make_signal(2, media={field: digest.upper()}))
    assert cluster_of(second) == cluster_of(first)
    assert matched_by("s-2") == "media_hash"
    assert ClusterKey.objects.filter(kind=field, value=digest).exists()


def test_near_identical_text_joins_the_cluster(catalog):
    first = ingest(make_signal(1, text=SCAM_EN))
    second = ingest(make_signal(2, text=f"RT @watchdog: {SCAM_EN}!! https://t.co/x1 🙏"))
    unrelated = ingest(make_signal(3, text="The earthquake shelter at the school is full tonight"))
    assert cluster_of(second) == cluster_of(first)
    assert matched_by("s-2") == "text"
    assert cluster_of(unrelated) != cluster_of(first)


@pytest.mark.parametrize(
    "original, repost",
    [
        (
            "台風10号の被災者支援を装った詐欺アカウントです。DMで振込先を送ってきます。",
            "台風10号の被災者支援を装った詐欺アカウントです！DMで振込先を送ってきます @tokyo_news",
        ),
        (
            "这是假冒救灾机构的诈骗账号，他们在私信里要求转账，请不要点击这个链接",
            "这是假冒救灾机构的诈骗账号，他们在私信里要求转账！请不要点击这个链接 https://t.co/9",
        ),
        (
            "บัญชีนี้หลอกลวงให้โอนเงินช่วยเหลือผู้ประสบภัยน้ำท่วม อย่ากดลิงก์นี้",
            "บัญชีนี้หลอกลวงให้โอนเงินช่วยเหลือผู้ประสบภัยน้ำท่วม!! อย่ากดลิงก์นี้ 🙏",
        ),
    ],
    ids=["japanese", "chinese", "thai"],
)
def test_near_duplicate_texts_in_unspaced_scripts_cluster(catalog, original, repost):
    first = ingest(make_signal(1, text=original))
    second = ingest(make_signal(2, text=repost))
    assert cluster_of(second) == cluster_of(first)


def test_texts_too_short_to_judge_do_not_cluster(catalog):
    first = ingest(make_signal(1, text="詐欺です"))
    second = ingest(make_signal(2, text="詐欺です"))
    assert cluster_of(second) != cluster_of(first)
    assert not ClusterText.objects.exists()


# ---------------------------------------------------------------- PDQ boundaries


def test_pdq_distance_31_matches_and_32_does_not(catalog):
    base = ingest(make_signal("base", media=media(PDQ)))
    at_32 = pdq_variant(PDQ, 32, seed=7)
    at_31 = pdq_variant(PDQ, 31, seed=8)
    assert (hamming_distance(PDQ, at_31), hamming_distance(PDQ, at_32)) == (31, 32)
    assert hamming_distance(at_31, at_32) > 31
    far = ingest(make_signal("32", media=media(at_32)))
    near = ingest(make_signal("31", media=media(at_31)))
    assert cluster_of(far) != cluster_of(base)
    assert cluster_of(near) == cluster_of(base)


def test_the_pdq_distance_is_configurable(catalog, settings):
    settings.WATCHFLOOR_PDQ_MAX_DISTANCE = 10
    base = ingest(make_signal("base", media=media(PDQ)))
    beyond = ingest(make_signal("11", media=media(pdq_variant(PDQ, 11, seed=1))))
    within = ingest(make_signal("10", media=media(pdq_variant(PDQ, 10, seed=2))))
    assert cluster_of(beyond) != cluster_of(base)
    assert cluster_of(within) == cluster_of(base)


def test_pdq_boundaries_hold_within_one_batch_too(catalog):
    result = ingest(
        make_signal("base", media=media(PDQ)),
        make_signal("32", media=media(pdq_variant(PDQ, 32, seed=3))),
        make_signal("31", media=media(pdq_variant(PDQ, 31, seed=4))),
    )
    assert cluster_of(result, 1) != cluster_of(result, 0)
    assert cluster_of(result, 2) == cluster_of(result, 0)


def test_featureless_media_is_not_matched_on_its_pdq(catalog):
    first = ingest(make_signal(1, media=media(PDQ, pdq_quality=40)))
    second = ingest(make_signal(2, media=media(PDQ, pdq_quality=40)))
    assert cluster_of(second) != cluster_of(first)


def test_a_cluster_keeps_its_distinct_hashes_only(catalog):
    result = ingest(make_signal("base", media=media(PDQ)))
    cluster_id = cluster_of(result)
    ingest(make_signal("close", media=media(pdq_variant(PDQ, 8, seed=1))))  # adds nothing
    ingest(make_signal("farther", media=media(pdq_variant(PDQ, 20, seed=1))))  # a new view
    stored = {
        bytes(pdq)
        for pdq in ClusterMedia.objects.filter(cluster_id=cluster_id).values_list("pdq", flat=True)
    }
    assert stored == {PDQ, pdq_variant(PDQ, 20, seed=1)}
    # The stored variant extends the cluster's reach past 31 bits from the original.
    beyond = next(
        variant
        for seed in range(100)
        if hamming_distance(
            variant := pdq_variant(pdq_variant(PDQ, 20, seed=1), 31, seed=seed), PDQ
        )
        > 31
    )
    assert cluster_of(ingest(make_signal("beyond", media=media(beyond)))) == cluster_id


def test_a_cluster_keeps_a_few_representative_texts_not_near_copies(catalog):
    post = {"kind": "post", "ref": "p"}
    ingest(make_signal(1, subject=post, text=SCAM_EN))
    ingest(make_signal(2, subject=post, text=SCAM_EN + "!"))  # a near-copy adds nothing
    assert ClusterText.objects.count() == 1
    different = [
        "A second, completely different text about the same post and its campaign",
        "Yet another way of describing this post, in other words entirely, reported",
        "Third variant: people keep reporting the post with their own wording here",
        "Fourth distinct report text that says something else about the same post",
    ]
    for n, words in enumerate(different, start=3):
        ingest(make_signal(n, subject=post, text=words))
    assert ClusterText.objects.count() == MAX_REPRESENTATIVES


# ---------------------------------------------------------------- order and conflicts


def test_keys_are_tried_in_order_subject_first(catalog):
    by_url = ingest(make_signal("u", url="https://example.com/a"))
    by_subject = ingest(make_signal("s", subject={"kind": "post", "ref": "target"}))
    both = ingest(
        make_signal("both", subject={"kind": "post", "ref": "target"}, url="https://example.com/a")
    )
    assert cluster_of(both) == cluster_of(by_subject)
    assert matched_by("s-both") == "subject"
    relation = ClusterRelation.objects.get()
    assert (relation.cluster_id, relation.related_id, relation.key_kind) == (
        cluster_of(by_subject),
        cluster_of(by_url),
        "url",
    )


def test_url_comes_before_media_and_media_before_text(catalog):
    by_text = ingest(make_signal("t", text=SCAM_EN))
    by_media = ingest(make_signal("m", media=media(PDQ)))
    by_url = ingest(make_signal("u", url="https://example.com/a"))
    everything = ingest(
        make_signal("all", url="https://example.com/a", media=media(PDQ), text=SCAM_EN)
    )
    media_and_text = ingest(make_signal("mt", media=media(PDQ), text=SCAM_EN))
    assert cluster_of(everything) == cluster_of(by_url)
    assert cluster_of(media_and_text) == cluster_of(by_media)
    assert set(ClusterRelation.objects.values_list("cluster_id", "related_id", "key_kind")) == {
        (cluster_of(by_url), cluster_of(by_media), "media"),
        (cluster_of(by_url), cluster_of(by_text), "text"),
        (cluster_of(by_media), cluster_of(by_text), "text"),
    }


def test_a_subject_match_wins_over_text_and_the_clusters_stay_apart(catalog):
    cluster_a = cluster_of(ingest(make_signal("a", subject={"kind": "post", "ref": "A"})))
    cluster_b = cluster_of(ingest(make_signal("b", text=SCAM_EN)))
    for n in range(2):
        joined = ingest(
            make_signal(
                f"both-{n}",
                subject={"kind": "post", "ref": "A"},
                text=SCAM_EN,
                url=f"https://example.com/new/{n}",
            )
        )
        assert cluster_of(joined) == cluster_a
    relation = ClusterRelation.objects.get()
    assert (relation.cluster_id, relation.related_id, relation.key_kind) == (
        cluster_a,
        cluster_b,
        "text",
    )
    assert relation.signal_count == 2
    # Nothing merged: B keeps its one signal, A has three.
    assert Cluster.objects.get(pk=cluster_b).signal_count == 1
    assert Cluster.objects.get(pk=cluster_a).signal_count == 3
    # The keys nobody owned went to the winner; the text stays B's.
    assert ClusterKey.objects.get(value="https://example.com/new/0").cluster_id == cluster_a
    assert list(ClusterText.objects.values_list("cluster_id", flat=True)) == [cluster_b]


def test_a_key_owned_by_another_cluster_is_not_taken_over(catalog):
    cluster_a = cluster_of(ingest(make_signal("a", subject={"kind": "post", "ref": "A"})))
    cluster_b = cluster_of(ingest(make_signal("b", url="https://example.com/b")))
    ingest(make_signal("ab", subject={"kind": "post", "ref": "A"}, url="https://example.com/b"))
    later = ingest(make_signal("later", url="https://example.com/b"))
    assert cluster_of(later) == cluster_b != cluster_a


# ---------------------------------------------------------------- within one batch


def test_signals_of_one_batch_cluster_with_each_other(catalog):
    result = ingest(
        make_signal(1, url="https://example.com/x"),
        make_signal(2, url="https://example.com/x?utm_medium=social"),
        make_signal(3, media=media(PDQ)),
        make_signal(4, media=media(pdq_variant(PDQ, 25, seed=4))),
        make_signal(5, text=SCAM_EN),
        make_signal(6, text=SCAM_EN + " please report"),
        make_signal(7, subject={"kind": "post", "ref": "post:1"}),
    )
    clusters = [item.cluster_id for item in result.results]
    assert clusters[0] == clusters[1] == clusters[6]
    assert clusters[2] == clusters[3]
    assert clusters[4] == clusters[5]
    assert len(set(clusters)) == 3
    assert Cluster.objects.count() == 3
    assert sorted(Cluster.objects.values_list("signal_count", flat=True)) == [2, 2, 3]


def test_a_conflict_within_one_batch_follows_the_same_policy(catalog):
    result = ingest(
        make_signal("a", subject={"kind": "post", "ref": "A"}),
        make_signal("b", text=SCAM_EN),
        make_signal("both", subject={"kind": "post", "ref": "A"}, text=SCAM_EN),
    )
    assert cluster_of(result, 2) == cluster_of(result, 0) != cluster_of(result, 1)
    assert ClusterRelation.objects.get().key_kind == "text"


# ---------------------------------------------------------------- the process's indexes


def test_indexes_pick_up_what_other_processes_stored(catalog):
    ingest(make_signal("warm", media=media(pdq_variant(PDQ, 120, seed=1))))
    # Another worker commits a cluster with this media and text.
    other = Cluster.objects.create(first_seen_at=at(), last_seen_at=at(), updated_at=at())
    ClusterMedia.objects.create(cluster=other, pdq=PDQ)
    from watchfloor.signals.text import minhash, signature_to_bytes

    ClusterText.objects.create(cluster=other, signature=signature_to_bytes(minhash(SCAM_EN)))
    result = ingest(
        make_signal("m", media=media(pdq_variant(PDQ, 5, seed=2))), make_signal("t", text=SCAM_EN)
    )
    assert cluster_of(result, 0) == cluster_of(result, 1) == other.pk


def test_a_stale_index_is_rebuilt_from_the_database(catalog):
    cluster_id = cluster_of(ingest(make_signal(1, media=media(PDQ))))
    with clustering.indexes_in_use(clustering.clustering_config()) as indexes:
        indexes._media_mark = (10**9, cluster_id)  # as if rows were removed underneath
        indexes.pdq.add(10**9, PDQ)  # and a cluster that no longer exists
    again = ingest(make_signal(2, media=media(PDQ)))
    assert cluster_of(again) == cluster_id


def test_assignment_is_pure_given_the_owners_and_indexes():
    indexes = ClusterIndexes(ClusteringConfig())
    indexes.pdq.add(7, PDQ)
    keys = [
        SignalKeys(subject="post:a", url="https://example.com/x"),
        SignalKeys(subject="post:b", pdq=pdq_variant(PDQ, 3, seed=1)),
        SignalKeys(subject="post:c", url="https://example.com/x"),
    ]
    assignment = clustering.assign_clusters(
        keys, owners={("subject", "post:a"): 3}, indexes=indexes
    )
    assert assignment.cluster_ids == [3, 7, 3]
    assert assignment.matched_by == ["subject", "media", "url"]
    assert ("url", "https://example.com/x", 3) in assignment.new_keys
    assert assignment.new_media == []  # within 8 of the stored hash


def test_the_batch_media_search_equals_brute_force():
    generator = random.Random(3)
    base = generator.randbytes(32)
    hashes = [generator.randbytes(32) for _ in range(150)]
    hashes += [pdq_variant(base, distance, seed=distance) for distance in (0, 8, 30, 31, 32, 33)]
    keys = [SignalKeys(subject=f"post:{n}", pdq=pdq) for n, pdq in enumerate([base, *hashes])]
    found = clustering._GivenInBatch(
        clustering.BatchNeighbours(keys, clustering.ClusteringConfig(max_distance=31))
    )
    expected: dict[int, int] = {}
    for number, pdq in enumerate(hashes):
        cluster_id = number % 40  # several hashes per cluster
        found.give_media(pdq, cluster_id)
        distance = hamming_distance(base, pdq)
        if distance <= 31:
            expected[cluster_id] = min(distance, expected.get(cluster_id, 256))
    nearest: dict[int, int] = {}
    for cluster_id, distance in found.media_matches(base):
        nearest[cluster_id] = min(distance, nearest.get(cluster_id, 256))
    assert nearest == expected
    assert sorted(expected.values())[:4] == [0, 8, 30, 31]


# ------------------------------------------- one batch clusters as one signal at a time


def _one_at_a_time(keys: list[SignalKeys], config: ClusteringConfig) -> clustering.Assignment:
    """The reference: each signal assigned alone, against indexes and owners holding
    everything assigned before it (as if each were its own committed batch)."""
    indexes = ClusterIndexes(config)
    owners: dict[tuple[str, str], int] = {}
    result = clustering.Assignment(cluster_ids=[], matched_by=[])
    next_id = 1
    for signal_keys in keys:
        alone = clustering.assign_clusters([signal_keys], owners=owners, indexes=indexes)
        real = {}
        for temporary in alone.founders:
            real[temporary] = next_id
            next_id += 1

        def of(cluster_id: int, real: dict[int, int] = real) -> int:
            return real.get(cluster_id, cluster_id)

        result.cluster_ids.append(of(alone.cluster_ids[0]))
        result.matched_by.append(alone.matched_by[0])
        for kind, value, cluster_id in alone.new_keys:
            owners[(kind, value)] = of(cluster_id)
        for cluster_id, pdq in alone.new_media:
            indexes.pdq.add(of(cluster_id), pdq)
        for cluster_id, signature, figures in alone.new_texts:
            indexes.text.insert((of(cluster_id), figures, len(indexes.text)), signature)
            indexes.representatives[of(cluster_id)] += 1
        for (a, b, kind), n in alone.relations.items():
            result.relations[(of(a), of(b), kind)] += n
    return result


def _as_numbered(assignment: clustering.Assignment) -> tuple[list[int], Counter]:
    """Cluster ids renumbered 1, 2, … in the order the clusters first appear."""
    number: dict[int, int] = {}
    for cluster_id in assignment.cluster_ids:
        number.setdefault(cluster_id, len(number) + 1)
    relations = Counter(
        {(number[a], number[b], kind): n for (a, b, kind), n in assignment.relations.items()}
    )
    return [number[c] for c in assignment.cluster_ids], relations


_BASES = [bytes(random.Random(seed).randbytes(32)) for seed in range(3)]
_TEXTS = [
    "台風の被災者支援を装った詐欺アカウントです。DMで振込先を送ってきます",
    "台風の被災者支援を装った詐欺アカウントです。DMで振込先を送ってきます!!",
    "A fake relief fund asks for transfers by bank, do not send money to it",
    "A fake relief fund asks for transfers by bank, do not send money to them",
    "เพจปลอมอ้างว่าเป็นหน่วยงานช่วยเหลือผู้ประสบภัย ขอให้โอนเงิน",
]


@st.composite
def _signal_keys(draw: st.DrawFn) -> SignalKeys:
    from watchfloor.signals.text import minhash

    pdq = None
    if draw(st.booleans()):
        base = draw(st.sampled_from(_BASES))
        distance = draw(st.sampled_from([0, 5, 9, 20, 31, 32, 40]))
        pdq = pdq_variant(base, distance, seed=draw(st.integers(0, 3)))
    text_value = draw(st.none() | st.sampled_from(_TEXTS))
    return SignalKeys(
        subject=f"post:{draw(st.integers(0, 8))}",
        url=draw(st.none() | st.sampled_from(["https://a.example/1", "https://b.example/2"])),
        pdq=pdq,
        md5=draw(st.none() | st.sampled_from(["0" * 32, "1" * 32])),
        text_signature=minhash(text_value) if text_value else None,
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(_signal_keys(), min_size=1, max_size=25))
def test_one_batch_clusters_as_the_same_signals_one_at_a_time(keys):
    config = ClusteringConfig()
    batch = clustering.assign_clusters(keys, owners={}, indexes=ClusterIndexes(config))
    alone = _one_at_a_time(keys, config)
    assert _as_numbered(batch) == _as_numbered(alone)
    assert batch.matched_by == alone.matched_by


def test_an_assignment_run_again_with_the_same_pairs_starts_afresh():
    """The intake assigns a batch again after rebuilding a stale index; the pairs worked
    out in PREPARE must not remember the first run's clusters."""
    from watchfloor.signals.text import minhash

    keys = [
        SignalKeys(subject="post:a", pdq=PDQ, text_signature=minhash(SCAM_EN)),
        SignalKeys(subject="post:b", pdq=pdq_variant(PDQ, 20, seed=1)),
        SignalKeys(subject="post:c", text_signature=minhash(SCAM_EN + " please report")),
    ]
    config = ClusteringConfig()
    neighbours = clustering.BatchNeighbours(keys, config)
    first = clustering.assign_clusters(
        keys, owners={}, indexes=ClusterIndexes(config), neighbours=neighbours
    )
    again = clustering.assign_clusters(
        keys, owners={}, indexes=ClusterIndexes(config), neighbours=neighbours
    )
    assert first.cluster_ids == again.cluster_ids == [-1, -1, -1]
    assert again.matched_by == ["new", "media", "text"]
