""" "Bank this" on a cluster's media and the war room's matches against its crisis banks:
the entries land in the chosen visible bank with source and note, hidden banks stay
hidden, and both readers cost the same queries whatever their size."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from tests.banks.test_pages import client_for
from tests.banks.test_services import BASE, bank_with, near
from watchfloor.banks import services
from watchfloor.banks.cluster_banking import cluster_hashes, crisis_matches
from watchfloor.banks.match_work import QueryContext, record_matches
from watchfloor.banks.matcher import Query, match
from watchfloor.banks.models import Bank, BankEntry, EntrySource
from watchfloor.core import clock
from watchfloor.crises.services.lifecycle import declare_crisis
from watchfloor.signals.intake import ingest_signals
from watchfloor.signals.models import Signal

pytestmark = pytest.mark.usefixtures("frozen_clock")

MD5 = "a" * 32
SHA = "b" * 64


def report(name: str, *, subject: str = "post:attack", **media) -> dict:
    return {
        "id": f"s-{name}",
        "received_at": clock.now().isoformat(),
        "source": "user_report",
        "subject": {"kind": "post", "ref": subject},
        "media": media,
    }


def cluster_of(*reports: dict):
    result = ingest_signals(items=list(reports), producer="tests", actor=None)
    assert result.rejected == 0, result.results
    return Signal.objects.get(external_id=reports[0]["id"]).cluster


def test_bank_this_on_a_cluster_adds_its_media_hashes_audited_and_matchable(analyst, lead, viewer):
    cluster = cluster_of(
        report("1", pdq=BASE, pdq_quality=90, md5=MD5),
        report("2", pdq=BASE, pdq_quality=80),
        report("3", pdq=near(BASE, 3), pdq_quality=30, sha256=SHA),
        report("4", pdq=near(BASE, 80)),  # quality not reported: not refused for it
    )
    hashes = {(h.signal_type, h.value): h for h in cluster_hashes(cluster)}
    assert hashes[("pdq", BASE)].signals == 2 and hashes[("pdq", BASE)].quality == 90
    assert hashes[("pdq", near(BASE, 3))].too_poor
    assert not hashes[("pdq", near(BASE, 80))].too_poor
    assert set(hashes) == {
        ("pdq", BASE),
        ("pdq", near(BASE, 3)),
        ("pdq", near(BASE, 80)),
        ("md5", MD5),
        ("sha256", SHA),
    }
    crisis = declare_crisis(actor=lead, title="Livestreamed attack", markets=["JP"])
    services.create_bank(name="attack", signal_type="pdq", actor=lead, crisis=crisis)
    services.create_bank(name="files", signal_type="md5", actor=lead)
    services.create_bank(name="ncii", signal_type="pdq", actor=lead, is_restricted=True)

    client = client_for(analyst)
    page = client.get(f"/clusters/{cluster.pk}/").content.decode()
    assert f'href="/clusters/{cluster.pk}/bank"' in page
    assert f'href="/clusters/{cluster.pk}/bank"' not in (
        client_for(viewer).get(f"/clusters/{cluster.pk}/").content.decode()
    )
    form = client.get(f"/clusters/{cluster.pk}/bank").content.decode()
    assert "attack" in form and "files" in form and "ncii" not in form
    assert "below 50: not banked" in form

    # Nothing ticked: every hash of the bank's type; the poor PDQ is left out and named.
    answer = client.post(f"/clusters/{cluster.pk}/bank", {"bank": "attack", "note": "stream"})
    assert answer.status_code == 302
    assert answer["Location"] == reverse("bank-detail", args=["attack"])
    assert sorted(
        BankEntry.objects.filter(bank__name="attack").values_list("value", flat=True)
    ) == sorted([BASE, near(BASE, 80)])
    entry = BankEntry.objects.get(bank__name="attack", value=BASE)
    assert (entry.value, entry.source, entry.added_by) == (BASE, EntrySource.SIGNAL, analyst)
    assert entry.note == f"cluster C-{cluster.pk}, 2 signals: stream"
    [result] = match(queries=[Query("pdq", near(BASE, 1))], banks=Bank.objects.all())
    assert [(m.bank, m.distance) for m in result.matches] == [("attack", 1)]
    flash = client.get(reverse("bank-detail", args=["attack"])).content.decode()
    assert "2 hashes added to attack; 1 left out: PDQ quality 30, below 50" in flash

    # One signal's hash, ticked; again: banked already, nothing added twice.
    client.post(f"/clusters/{cluster.pk}/bank", {"bank": "files", "hash": MD5})
    client.post(f"/clusters/{cluster.pk}/bank", {"bank": "files", "hash": MD5})
    assert list(BankEntry.objects.filter(bank__name="files").values_list("value", flat=True)) == [
        MD5
    ]
    assert "Banked already" in client.get(f"/clusters/{cluster.pk}/bank").content.decode()

    # A hash the cluster does not carry, a bank of the wrong type, a hidden bank.
    wrong = client.post(f"/clusters/{cluster.pk}/bank", {"bank": "files", "hash": "c" * 32})
    assert "is not a media hash of cluster" in wrong.content.decode()
    sha_only = client.post(f"/clusters/{cluster.pk}/bank", {"bank": "files", "hash": SHA})
    assert "none of the chosen hashes can go into bank files: a SHA-256" in (
        sha_only.content.decode()
    )
    assert client.post(f"/clusters/{cluster.pk}/bank", {"bank": "ncii"}).status_code == 404
    assert client_for(viewer).get(f"/clusters/{cluster.pk}/bank").status_code == 403
    assert BankEntry.objects.count() == 3


def test_the_cluster_hashes_cost_the_same_queries_whatever_the_cluster_holds(
    analyst, django_assert_num_queries
):
    small = cluster_of(report("1", subject="post:a", pdq=BASE, pdq_quality=90, md5=MD5))
    big = cluster_of(
        *[
            report(str(n), subject="post:b", pdq=near(BASE, 40, start=n), md5=f"{n:032x}")
            for n in range(10, 40)
        ]
    )
    for cluster in (small, big):
        with django_assert_num_queries(3):
            cluster_hashes(cluster)


def lookup(value: str, *, ref: str, market: str = "JP") -> None:
    record_matches(
        results=match(queries=[Query("pdq", value)], banks=Bank.objects.all()),
        contexts=[QueryContext(market=market, subject_ref=ref)],
        actor=None,
    )


def test_the_war_room_shows_matches_against_its_crisis_banks(
    analyst, lead, viewer, django_assert_num_queries
):
    crisis = declare_crisis(actor=lead, title="Livestreamed attack", markets=["JP"])
    bank_with("attack", BASE, actor=lead, crisis=crisis)
    bank_with("attack-ncii", near(BASE, 120), actor=lead, crisis=crisis, is_restricted=True)
    bank_with("elsewhere", near(BASE, 60), actor=lead)
    lookup(BASE, ref="media:old")
    clock.advance(timedelta(days=2))
    lookup(near(BASE, 2), ref="media:copy-1")
    lookup(near(BASE, 120), ref="media:hidden-copy")
    lookup(near(BASE, 60), ref="media:other-crisis")

    page = client_for(analyst).get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    assert "Hash bank matches" in page
    assert 'data-testid="crisis-bank-recent">1</strong> match in the last 24 h, 2 in all' in page
    assert "media:copy-1" in page and "media:old" in page
    assert "attack-ncii" not in page and "media:hidden-copy" not in page
    assert "media:other-crisis" not in page and "C-" in page

    def panel_queries(extra: int) -> None:
        for n in range(extra):
            lookup(near(BASE, 3), ref=f"media:more-{n}")
        with django_assert_num_queries(2):
            panel = crisis_matches(crisis=crisis, viewer=analyst, now=clock.now())
            assert panel is not None and [row.bank.name for row in panel.banks] == ["attack"]
            assert len(panel.recent) == min(2 + extra, 10)

    panel_queries(0)
    panel_queries(12)
    quiet = declare_crisis(actor=lead, title="Another crisis", markets=["JP"])
    assert crisis_matches(crisis=quiet, viewer=analyst, now=clock.now()) is None
