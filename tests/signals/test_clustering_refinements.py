"""Clustering refinements found on real crisis data: figures keep reports apart, a
cluster compares with a few representatives, short texts and links inside a text are
exact keys."""

from __future__ import annotations

import pytest

from tests.signals.test_clustering import cluster_of
from tests.signals.test_intake import ingest, make_signal
from watchfloor.signals.clustering import MAX_REPRESENTATIVES, figures_of
from watchfloor.signals.models import ClusterRelation, ClusterText
from watchfloor.signals.text import links_in, normalise_text

pytestmark = pytest.mark.django_db

BLAST = "{n} killed in the blast at the fertiliser plant near the town, officials say tonight"
BULLETIN = (
    "Tsunami warning No. {n} for the northern coast of the island: all residents move to "
    "higher ground now and stay there"
)
FLOOD = (
    "Flood warning for the river valley tonight: residents of the lower town should move to "
    "higher ground before the evening tide arrives, and keep away from the old bridge"
)
# Similarity (estimated): FLOOD~VARIANT 0.85, VARIANT~VARIANT_OF_VARIANT 0.90, but
# FLOOD~VARIANT_OF_VARIANT 0.78, below the threshold of 0.8.
VARIANT = FLOOD.replace("keep away from the old bridge", "keep clear of the old bridge")
VARIANT_OF_VARIANT = VARIANT.replace("Flood warning for", "Flood alert for")


def test_the_figures_of_a_text():
    assert figures_of(normalise_text("6 killed, 6 hurt")) == "6"
    assert figures_of(normalise_text("Warning No. 17A at 12:30")) == "12 17a 30"
    assert figures_of(normalise_text("no figures here")) == ""
    assert figures_of(normalise_text("死者６人")) == "死者6人"  # full-width digits fold


@pytest.mark.parametrize(
    ("template", "first", "second"), [(BLAST, "6", "33"), (BULLETIN, "6", "17A")]
)
def test_texts_that_differ_in_their_figures_stay_apart_and_related(
    catalog, template, first, second
):
    one = cluster_of(ingest(make_signal("one", text=template.format(n=first))))
    again = cluster_of(ingest(make_signal("again", text=template.format(n=first) + "!")))
    other = cluster_of(ingest(make_signal("other", text=template.format(n=second))))
    assert again == one
    assert other != one
    relation = ClusterRelation.objects.get()
    assert (relation.cluster_id, relation.related_id, relation.key_kind) == (other, one, "text")


def test_a_variant_of_a_variant_joins_through_a_representative(catalog):
    founder = cluster_of(ingest(make_signal("founder", text=FLOOD)))
    assert cluster_of(ingest(make_signal("variant", text=VARIANT))) == founder
    # Too far from the founder alone; close to the variant the cluster kept (and, at 0.898,
    # different enough from it to be kept as well).
    assert cluster_of(ingest(make_signal("further", text=VARIANT_OF_VARIANT))) == founder
    assert ClusterText.objects.filter(cluster_id=founder).count() == 3


def test_the_same_variants_in_one_batch_cluster_the_same_way(catalog):
    result = ingest(
        make_signal("founder", text=FLOOD),
        make_signal("variant", text=VARIANT),
        make_signal("further", text=VARIANT_OF_VARIANT),
    )
    assert len({cluster_of(result, n) for n in range(3)}) == 1


def test_representatives_are_capped(catalog):
    assert MAX_REPRESENTATIVES == 4
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    post = {"kind": "post", "ref": "shared"}
    for n, word in enumerate(words):
        ingest(make_signal(n, subject=post, text=f"{word} " * 6 + f"report number {word}"))
    assert ClusterText.objects.count() == MAX_REPRESENTATIVES


def test_short_texts_are_exact_keys_and_the_shortest_match_nothing(catalog):
    first = cluster_of(ingest(make_signal("p1", text="Pray for Boston!!")))
    assert cluster_of(ingest(make_signal("p2", text="pray for boston"))) == first
    assert cluster_of(ingest(make_signal("p3", text="Pray for Texas"))) != first
    scam = cluster_of(ingest(make_signal("s1", text="scam!!")))
    assert cluster_of(ingest(make_signal("s2", text="scam!!"))) != scam
    fraud = cluster_of(ingest(make_signal("j1", text="詐欺です")))
    assert cluster_of(ingest(make_signal("j2", text="詐欺です"))) != fraud


def test_links_inside_a_text_are_url_keys(catalog):
    assert links_in("see https://t.co/AbC123, and www.example.com/x.") == [
        "https://t.co/AbC123",
        "http://www.example.com/x",
    ]
    first = cluster_of(ingest(make_signal("l1", text="Wow look at this http://t.co/AbC123")))
    other_words = make_signal("l2", text="other words http://t.co/AbC123")
    assert cluster_of(ingest(other_words)) == first
    by_field = make_signal("l3", url="http://t.co/AbC123")
    assert cluster_of(ingest(by_field)) == first
    case_differs = make_signal("l4", text="Wow look at this http://t.co/abc123 now")
    assert cluster_of(ingest(case_differs)) != first  # a shortener's code is case-sensitive


def test_a_link_inside_a_text_long_enough_to_judge_is_not_a_key(catalog):
    """A shared news link under two different reports: the words decide."""
    link = "https://news.example/quake-live"
    first = make_signal("n1", text=f"Buildings down on the main street, people trapped {link}")
    second = make_signal("n2", text=f"My thoughts go out to everyone affected tonight {link}")
    assert cluster_of(ingest(first)) != cluster_of(ingest(second))
