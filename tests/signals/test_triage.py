"""The triage score: informative reports first, in several languages, with the reasons
in words; the shipped weights checked; stored by the reactions pass; the orders of the
clusters page and the war room."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.signals import reactions
from watchfloor.signals.models import Cluster
from watchfloor.signals.triage import (
    CUES,
    FEATURE_LABELS,
    WEIGHTS_PATH,
    TriageWeightsError,
    load_weights,
    score_text,
    shipped_weights,
    triage_cluster,
)

from .factories import add_signals, make_cluster

# (informative, not informative) pairs: an eyewitness account or a request for help
# against a prayer, a joke or a bare retweet of one, in the markets' languages.
PAIRS = {
    "en": (
        "We are trapped on the roof of our house, water rising, please send help",
        "Praying for everyone affected, God bless",
    ),
    "ja": (
        "揺れた！家が倒壊して閉じ込められています。助けてください",
        "被災地の皆さんの無事を祈ります。ご冥福をお祈りします",
    ),
    "ko": (
        "방금 흔들렸어요. 건물이 붕괴해서 사람들이 갇혀 있어요, 도와주세요",
        "RT @friend: 희생자들의 명복을 빕니다. 기도합니다",
    ),
    "zh": (
        "刚才我家摇晃得很厉害，楼房倒塌，有人被困，急需救援",
        "为灾区祈福，保佑大家平安",
    ),
    "th": (
        "บ้านฉันน้ำท่วมสูง มีคนติดอยู่บนหลังคา ช่วยด้วย ต้องการเรือกู้ภัย",
        "ขอให้ปลอดภัยทุกคน อธิษฐานให้ผู้ประสบภัย",
    ),
    "id": (
        "Tolong! Rumah saya roboh, 3 orang terjebak, butuh bantuan tim SAR",
        "Semoga semua selamat, mari berdoa untuk saudara kita wkwk",
    ),
    "hi": (
        "मेरे घर के पास इमारत ढह गई, लोग फंसे हैं, मदद चाहिए, 5 घायल",
        "सभी के लिए प्रार्थना, भगवान सबकी रक्षा करे",
    ),
}


def test_the_shipped_weights_load_and_keep_each_cue_to_its_meaning():
    weights = load_weights(WEIGHTS_PATH)
    assert set(weights.cues) == set(CUES)
    for name, cue in CUES.items():
        assert cue.sign * weights.cues[name] >= 0, name
    assert weights.buckets >= 16
    assert weights.about["command"] == "python bench/train_triage.py"


@pytest.mark.parametrize("language", sorted(PAIRS))
def test_eyewitness_and_help_score_above_prayers_jokes_and_retweets(language):
    informative, not_informative = PAIRS[language]
    high, low = score_text(informative), score_text(not_informative)
    assert high.score > low.score, (language, high, low)
    assert high.score > 0.5 > low.score, (language, high.score, low.score)


def test_the_explanation_names_the_features_in_words():
    found = score_text("Please help, we are trapped, 3 people killed and 12 injured")
    labels = [label for label, _ in found.reasons()]
    assert {"request for help", "casualty figures"} <= set(labels)
    assert all(label in FEATURE_LABELS.values() for label in labels)
    assert all(part > 0 for _, part in found.reasons())

    prayer = score_text("RT @someone: praying for everyone, RIP lol")
    words = [c.words for c in prayer.explanation()]
    assert "prayers or condolences −" in words
    assert "joke or laughter −" in words or "bare retweet −" in words


def test_an_official_or_trusted_source_and_media_raise_a_cluster():
    text = "Road closed near the station"
    plain = triage_cluster(text=text, sources={"user_report": 3})
    official = triage_cluster(text=text, sources={"user_report": 3, "government": 1})
    verified = triage_cluster(text=text, sources={"user_report": 1}, verified=True)
    with_media = triage_cluster(text=text, sources={"user_report": 1}, has_media=True)
    assert official.score > plain.score
    assert verified.score == official.score
    assert with_media.score >= plain.score
    assert "official or trusted source" in [label for label, _ in official.reasons()]


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(max_size=200),
    name=st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True),
    official=st.booleans(),
)
def test_the_score_is_a_probability_and_a_bare_retweet_prefix_never_raises_it(text, name, official):
    plain = triage_cluster(text=text, sources={"government": 1} if official else {})
    retweeted = triage_cluster(
        text=f"RT @{name}: {text}", sources={"government": 1} if official else {}
    )
    assert 0.0 <= plain.score <= 1.0
    assert 0.0 <= retweeted.score <= 1.0
    assert retweeted.score <= plain.score + 1e-12


# ---------------------------------------------------------------- a corrupt file


def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / "weights.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _shipped() -> dict:
    return json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))


def test_a_truncated_file_is_refused_with_its_path(tmp_path):
    path = _write(tmp_path, WEIGHTS_PATH.read_text(encoding="utf-8")[:200])
    with pytest.raises(TriageWeightsError, match=re.escape(str(path)) + ".*not valid JSON"):
        load_weights(path)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(TriageWeightsError, match="cannot read"):
        load_weights(tmp_path / "nowhere.json")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="other/9"), "format must be"),
        (lambda d: d["cues"].pop("prayer"), r"missing: prayer"),
        (lambda d: d["cues"].update(unheard=1.0), r"unknown: unheard"),
        (lambda d: d["cues"].update(prayer=0.5), "may only lower"),
        (lambda d: d["cues"].update(help_request=-0.5), "may only raise"),
        (lambda d: d["cues"].update(damage="high"), r"cues\.damage must be a finite number"),
        (lambda d: d.update(bias=None), "bias must be a finite number"),
        (lambda d: d["ngrams"]["weights"].__setitem__(7, "x"), r"ngrams\.weights\[7\]"),
        (lambda d: d["ngrams"].update(weights=[0.0] * 3), "has 3 values"),
        (lambda d: d["ngrams"].update(sizes=[1]), "ngrams.sizes must be"),
    ],
)
def test_a_corrupt_file_gives_a_clear_error(tmp_path, change, message):
    data = _shipped()
    change(data)
    with pytest.raises(TriageWeightsError, match=message):
        load_weights(_write(tmp_path, data))


# ---------------------------------------------------------------- stored by the reactions


@pytest.mark.django_db
def test_the_reactions_pass_stores_the_score_and_its_reasons(frozen_clock):
    help_cluster = make_cluster()
    add_signals(
        help_cluster,
        at=frozen_clock,
        text="Please help, we are trapped in the building, 2 dead",
        language="en",
    )
    prayer_cluster = make_cluster()
    add_signals(prayer_cluster, at=frozen_clock, text="Praying for all, RIP", language="en")
    Cluster.objects.filter(pk=help_cluster.pk).update(
        representative_text="Please help, we are trapped in the building, 2 dead"
    )
    Cluster.objects.filter(pk=prayer_cluster.pk).update(representative_text="Praying for all, RIP")

    reactions.refresh_triage([help_cluster.pk, prayer_cluster.pk])

    help_cluster.refresh_from_db()
    prayer_cluster.refresh_from_db()
    assert help_cluster.triage_score > prayer_cluster.triage_score
    assert "request for help" in [label for label, _ in help_cluster.triage_reasons]
    prayer = shipped_weights().cues["prayer"]
    assert ["prayers or condolences", pytest.approx(prayer, abs=0.01)] in [
        [label, part] for label, part in prayer_cluster.triage_reasons
    ]


@pytest.mark.django_db
def test_a_trusted_source_joining_a_cluster_raises_its_stored_score(frozen_clock):
    cluster = make_cluster(representative_text="Road closed near the station")
    add_signals(cluster, at=frozen_clock, text="Road closed near the station")
    reactions.refresh_triage([cluster.pk])
    cluster.refresh_from_db()
    before = cluster.triage_score
    add_signals(cluster, at=frozen_clock, text="Road closed near the station", source="government")
    reactions.refresh_triage([cluster.pk])
    cluster.refresh_from_db()
    assert cluster.triage_score > before


@pytest.mark.django_db
def test_a_verified_reporter_counts_as_a_trusted_source(frozen_clock):
    text = "Road closed near the station"
    plain, verified = make_cluster(representative_text=text), make_cluster(representative_text=text)
    add_signals(plain, at=frozen_clock, text=text, attributes={"verified": False})
    add_signals(verified, at=frozen_clock, text=text, attributes={"verified": True})
    reactions.refresh_triage([plain.pk, verified.pk])
    plain.refresh_from_db()
    verified.refresh_from_db()
    assert verified.triage_score > plain.triage_score
    assert "official or trusted source" in [label for label, _ in verified.triage_reasons]


@pytest.mark.django_db
def test_the_periodic_check_scores_clusters_stored_before_the_score(frozen_clock):
    cluster = make_cluster(representative_text="Bridge collapsed, 4 injured")
    assert cluster.triage_score is None
    reactions.check_all(now=frozen_clock)
    cluster.refresh_from_db()
    assert cluster.triage_score is not None


# ---------------------------------------------------------------- the clusters page


def _listed(response) -> list[int]:
    body = response.content.decode().split("<tbody>", 1)[-1]
    return [int(pk) for pk in re.findall(r'<span class="reference">C-(\d+) ·', body)]


@pytest.mark.django_db
def test_the_clusters_page_puts_the_most_informative_first_and_says_why(
    analyst, catalog, frozen_clock, monkeypatch
):
    monkeypatch.setenv("WATCHFLOOR_SIGNAL_RULES", "/nonexistent/signal_rules.yaml")
    fast_prayer = make_cluster(velocity_1h=90, representative_text="Praying for everyone, RIP")
    slow_help = make_cluster(
        velocity_1h=2, representative_text="We are trapped, please send help, 3 injured"
    )
    unscored = make_cluster(velocity_1h=50, representative_text="Not scored yet")
    reactions.refresh_triage([fast_prayer.pk, slow_help.pk])
    client = Client()
    client.force_login(analyst)

    response = client.get(reverse("clusters"))
    assert _listed(response) == [slow_help.pk, fast_prayer.pk, unscored.pk]
    page = response.content.decode()
    assert "% informative</strong> · why: " in page
    assert "request for help +" in page
    assert "prayers or condolences −" in page
    assert "Not scored yet" in page

    fastest = client.get(reverse("clusters"), {"sort": "fastest"})
    assert _listed(fastest) == [fast_prayer.pk, unscored.pk, slow_help.pk]
    assert "Fastest first" in fastest.content.decode()
