""" "Bank this" on an evidence item: the item's page links to it, the entry lands in the
chosen visible bank with its source and note, audited; hidden banks and items are 404."""

from __future__ import annotations

import pytest

from tests.banks.test_pages import client_for
from tests.evidence.conftest import image_bytes
from watchfloor.audit.models import AuditEvent
from watchfloor.banks import services
from watchfloor.banks.matcher import Query, match
from watchfloor.banks.models import Bank, BankEntry, EntrySource

pytestmark = pytest.mark.django_db


def test_the_evidence_page_links_to_bank_this_for_those_who_curate(add_image, analyst, viewer):
    item = add_image(image_bytes(seed=4))
    html = client_for(analyst).get(f"/evidence/{item.pk}/").content.decode()
    assert f'href="/evidence/{item.pk}/bank"' in html and "Bank this" in html


def test_bank_this_adds_the_pdq_audited_and_matchable(add_image, analyst, lead):
    item = add_image(image_bytes(seed=4))
    services.create_bank(name="crisis-livestream", signal_type="pdq", actor=lead)
    services.create_bank(name="files", signal_type="sha256", actor=lead)
    client = client_for(analyst)
    form = client.get(f"/evidence/{item.pk}/bank").content.decode()
    assert "crisis-livestream" in form and "files" in form
    answer = client.post(
        f"/evidence/{item.pk}/bank", {"bank": "crisis-livestream", "note": "re-upload"}
    )
    entry = BankEntry.objects.get(bank__name="crisis-livestream")
    assert answer.status_code == 302 and answer["Location"].endswith(f"#entry-{entry.pk}")
    assert (entry.value, entry.source, entry.added_by) == (item.pdq, EntrySource.EVIDENCE, analyst)
    assert entry.note == f"{item.reference} ({item.escalation.reference}): re-upload"
    event = AuditEvent.objects.filter(action="bank.entries_added").latest("sequence")
    assert event.actor == analyst and event.data["source"] == "evidence"
    [result] = match(queries=[Query("pdq", item.pdq)], banks=Bank.objects.all())
    assert [(m.bank, m.distance) for m in result.matches] == [("crisis-livestream", 0)]
    again = client.get(f"/evidence/{item.pk}/bank").content.decode()
    assert "Banked already" in again and f"crisis-livestream #{entry.pk}" in again
    # Banked twice: the same entry, nothing new.
    client.post(f"/evidence/{item.pk}/bank", {"bank": "crisis-livestream"})
    assert BankEntry.objects.filter(bank__name="crisis-livestream").count() == 1
    client.post(f"/evidence/{item.pk}/bank", {"bank": "files"})
    assert BankEntry.objects.get(bank__name="files").value == item.sha256


def test_bank_this_refuses_hidden_banks_and_hidden_items(add_image, analyst, lead):
    item = add_image(image_bytes(seed=6))
    services.create_bank(name="ncii", signal_type="pdq", actor=lead, is_restricted=True)
    client = client_for(analyst)
    assert "ncii" not in client.get(f"/evidence/{item.pk}/bank").content.decode()
    assert client.post(f"/evidence/{item.pk}/bank", {"bank": "ncii"}).status_code == 404
    assert not BankEntry.objects.exists()
    assert client.get("/evidence/999999/bank").status_code == 404


def test_a_low_quality_pdq_is_refused_with_the_way_out(add_image, analyst, lead):
    item = add_image(image_bytes(seed=5))  # PDQ quality 44
    services.create_bank(name="crisis-livestream", signal_type="pdq", actor=lead)
    answer = client_for(analyst).post(f"/evidence/{item.pk}/bank", {"bank": "crisis-livestream"})
    assert answer.status_code == 200
    assert "below 50" in answer.content.decode() and "SHA-256 instead" in answer.content.decode()
    assert not BankEntry.objects.exists()


def test_a_viewer_gets_no_bank_this(add_image, viewer):
    item = add_image(image_bytes(seed=7))
    client = client_for(viewer)
    assert "Bank this" not in client.get(f"/evidence/{item.pk}/").content.decode()
    assert client.get(f"/evidence/{item.pk}/bank").status_code == 403
