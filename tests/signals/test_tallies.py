"""Clusters' market and language tallies summed by the database: the same sums as adding
the tallies up one cluster at a time, over only the clusters asked for, and a tally that
is not a JSON object counted as nothing rather than failing the sum."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.signals.factories import make_cluster
from watchfloor.signals.models import Cluster
from watchfloor.signals.tallies import summed_tallies

pytestmark = pytest.mark.django_db

tallies = st.dictionaries(
    st.sampled_from(["JP", "KR", "TW", "PH", "日本", "x'y"]), st.integers(0, 10**9), max_size=4
)


def test_only_the_clusters_asked_for_are_summed():
    first = make_cluster(markets={"JP": 3, "KR": 1}, languages={"ja": 4})
    make_cluster(markets={"JP": 100}, languages={"ko": 100})
    second = make_cluster(markets={"JP": 2, "PH": 5}, languages={"ja": 2, "tl": 5})
    summed = summed_tallies(Cluster.objects.filter(pk__in=[first.pk, second.pk]))
    assert summed == {
        "markets": {"JP": 5, "KR": 1, "PH": 5},
        "languages": {"ja": 6, "tl": 5},
    }


def test_no_clusters_and_tallies_that_are_not_objects_sum_to_nothing():
    assert summed_tallies(Cluster.objects.none()) == {"markets": {}, "languages": {}}
    make_cluster(markets=[], languages=[1, 2])
    make_cluster(markets="JP", languages={"ja": 1})
    assert summed_tallies(Cluster.objects.all()) == {"markets": {}, "languages": {"ja": 1}}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(tallies, tallies), min_size=1, max_size=6))
def test_the_sums_equal_adding_each_cluster_in_turn(rows):
    Cluster.objects.all().delete()
    for markets, languages in rows:
        make_cluster(markets=markets, languages=languages)
    expected: dict[str, Counter[str]] = {"markets": Counter(), "languages": Counter()}
    for markets, languages in rows:
        expected["markets"].update(markets)
        expected["languages"].update(languages)
    # A value tallied at zero is still listed, as it is when added up in Python.
    assert summed_tallies(Cluster.objects.all()) == {
        name: dict(counts) for name, counts in expected.items()
    }
