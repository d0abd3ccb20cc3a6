"""Safe viewing: blurred by default, timed and audited reveals, category rules, need to know."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from tests.evidence.conftest import image_bytes
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.errors import NotFound, PermissionDenied
from watchfloor.evidence import selectors, services
from watchfloor.evidence.models import Reveal


def _is_gray(content: bytes) -> bool:
    image = Image.open(io.BytesIO(content)).convert("RGB")
    red, green, blue = image.split()
    return red.tobytes() == green.tobytes() == blue.tobytes()


def test_the_escalation_page_shows_only_blurred_grayscale_previews(client, analyst, add_image):
    item = add_image(image_bytes(seed=2))
    client.force_login(analyst)
    page = client.get(reverse("escalation-detail", args=[item.escalation_id]))
    html = page.content.decode()
    assert reverse("evidence-preview", args=[item.pk]) in html
    assert "evidence/revealed/" not in html
    preview = client.get(reverse("evidence-preview", args=[item.pk]))
    assert preview.status_code == 200 and preview["Content-Type"] == "image/jpeg"
    assert preview["Cache-Control"] == "private, no-store"
    assert _is_gray(preview.content)
    assert preview.content != services.store.read_stored(item.thumbnail_file)


def test_a_reveal_is_timed_audited_and_served_only_while_it_lasts(
    client, analyst, add_image, frozen_clock
):
    item = add_image()
    outcome = services.reveal_evidence(item=item, actor=analyst, seconds=30)
    event = AuditEvent.objects.get(action="evidence.revealed")
    assert event.actor_id == analyst.pk and event.escalation_id == item.escalation_id
    assert event.data["item"] == item.reference and event.data["seconds"] == 30
    assert outcome.reveal.ends_at == clock.now() + timedelta(seconds=30)
    url = reverse("evidence-revealed", args=[selectors.reveal_token(outcome.reveal)])
    client.force_login(analyst)
    shown = client.get(url)
    assert shown.status_code == 200
    body = b"".join(shown.streaming_content)
    assert body == services.store.read_stored(item.display_file)
    clock.advance(timedelta(seconds=31))
    assert client.get(url).status_code == 404


def test_someone_elses_reveal_link_is_not_found(client, analyst, other_analyst, add_image):
    item = add_image()
    outcome = services.reveal_evidence(item=item, actor=analyst)
    client.force_login(other_analyst)
    url = reverse("evidence-revealed", args=[selectors.reveal_token(outcome.reveal)])
    assert client.get(url).status_code == 404
    assert client.get(url[:-3] + "abc").status_code == 404


def test_reveal_seconds_are_bounded(analyst, add_image):
    item = add_image()
    with pytest.raises(services.InvalidInput) as refused:
        services.reveal_evidence(item=item, actor=analyst, seconds=3600)
    assert refused.value.field == "seconds"


def test_csam_is_never_revealed_previewed_or_served_and_the_refusal_says_why(
    client, analyst, admin_user, add_image
):
    item = add_image(category="child_sexual_exploitation")
    for person in (analyst, admin_user):
        with pytest.raises(PermissionDenied) as refused:
            services.reveal_evidence(item=item, actor=person)
        assert "never displayed or downloaded by anyone" in refused.value.message
        client.force_login(person)
        preview = client.get(reverse("evidence-preview", args=[item.pk]))
        assert preview.status_code == 403
        assert "only its hashes and metadata" in preview.content.decode()
        detail = client.get(reverse("evidence-detail", args=[item.pk]))
        assert detail.status_code == 200 and "evidence/revealed/" not in detail.content.decode()
    assert not Reveal.objects.exists()
    assert AuditEvent.objects.filter(action="evidence.reveal_refused").count() == 2


def test_graphic_violence_needs_the_training_flag(analyst, lead, add_image):
    item = add_image(category="graphic_violence")
    with pytest.raises(PermissionDenied, match="training"):
        services.reveal_evidence(item=item, actor=analyst)
    with pytest.raises(PermissionDenied):
        services.set_graphic_content_training(person=analyst, trained=True, actor=analyst)
    services.set_graphic_content_training(person=analyst, trained=True, actor=lead)
    assert services.reveal_evidence(item=item, actor=analyst).reveal.seconds == 30
    assert AuditEvent.objects.filter(action="evidence.training_changed").exists()


def test_preferences_are_per_person_versioned_and_never_fully_clear(
    client, analyst, other_analyst, add_image
):
    item = add_image()
    preference = services.change_preferences(
        person=analyst,
        actor=analyst,
        blur_radius=30,
        grayscale=False,
        always_ask=True,
        reveal_seconds=60,
        version=1,
    )
    assert preference.version == 2
    assert services.preference_of(other_analyst).blur_radius == 12
    with pytest.raises(services.Conflict):
        services.change_preferences(
            person=analyst,
            actor=analyst,
            blur_radius=20,
            grayscale=True,
            always_ask=False,
            reveal_seconds=30,
            version=1,
        )
    with pytest.raises(services.InvalidInput) as refused:
        services.change_preferences(
            person=analyst,
            actor=analyst,
            blur_radius=0,
            grayscale=False,
            always_ask=False,
            reveal_seconds=30,
            version=2,
        )
    assert refused.value.field == "blur_radius"
    with pytest.raises(PermissionDenied):
        services.change_preferences(
            person=analyst,
            actor=other_analyst,
            blur_radius=20,
            grayscale=True,
            always_ask=False,
            reveal_seconds=30,
            version=2,
        )
    client.force_login(analyst)
    colour = client.get(reverse("evidence-preview", args=[item.pk]))
    assert not _is_gray(colour.content)
    assert services.reveal_evidence(item=item, actor=analyst).reveal.seconds == 60


def test_evidence_of_a_restricted_escalation_is_not_found_for_others(
    client, analyst, other_analyst, legal_partner, make_escalation
):
    restricted = make_escalation(is_restricted=True, access_usernames=[analyst.username])
    item = services.add_evidence_file(
        escalation=restricted, actor=analyst, chunks=[image_bytes()], name="a.png"
    )
    for outsider in (other_analyst, legal_partner):
        with pytest.raises(NotFound):
            selectors.access_evidence(actor=outsider, evidence_id=item.pk)
        assert not selectors.evidence_list(viewer=outsider).exists()
        client.force_login(outsider)
        for name in ("evidence-detail", "evidence-preview"):
            assert client.get(reverse(name, args=[item.pk])).status_code == 404
        assert client.post(reverse("evidence-reveal", args=[item.pk])).status_code == 404
    assert selectors.access_evidence(actor=analyst, evidence_id=item.pk) == item


def test_the_reveal_is_on_the_timeline_and_item_views_only_in_custody(client, analyst, add_image):
    item = add_image()
    client.force_login(analyst)
    response = client.post(reverse("evidence-reveal", args=[item.pk]))
    assert response.status_code == 302
    detail = client.get(response["Location"])
    assert "evidence/revealed/" in detail.content.decode()
    page = client.get(reverse("escalation-detail", args=[item.escalation_id])).content.decode()
    assert "Evidence revealed" in page and "Evidence details viewed" not in page
    assert "Evidence details viewed" in detail.content.decode()


def test_the_panel_and_the_list_page_cost_the_same_queries_for_3_or_60_items(
    client, analyst, add_image, escalation
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from watchfloor.evidence.models import EvidenceItem
    from watchfloor.evidence.selectors import PANEL_ITEMS

    template = add_image()
    client.force_login(analyst)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    def grow_to(count: int) -> None:
        have = EvidenceItem.objects.count()
        for n in range(count - have):
            row = EvidenceItem.objects.get(pk=template.pk)
            row.pk = None
            row.original_name = f"copy-{n}.png"
            row.save()

    page = reverse("escalation-detail", args=[escalation.pk])
    listing = reverse("evidence-list", args=["escalation", escalation.pk])
    grow_to(3)
    few = (queries(page), queries(listing))
    grow_to(60)
    assert (queries(page), queries(listing)) == few
    html = client.get(page).content.decode()
    assert html.count('class="evidence-item"') == PANEL_ITEMS
    assert "All 60 evidence items" in html


def test_the_upload_form_refuses_bad_files_with_the_reason(client, analyst, viewer, escalation):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from watchfloor.evidence.models import EvidenceItem

    client.force_login(analyst)
    url = reverse("evidence-upload", args=["escalation", escalation.pk])
    bad = SimpleUploadedFile("report.pdf", image_bytes(), content_type="application/pdf")
    page = client.post(url, {"file": bad, "category": "general"}, follow=True)
    assert "Evidence not added: the file says it is application/pdf" in page.content.decode()
    good = SimpleUploadedFile("shot.png", image_bytes(), content_type="image/png")
    page = client.post(url, {"file": good, "category": "self_harm"}, follow=True)
    assert EvidenceItem.objects.get().category == "self_harm"
    client.force_login(viewer)
    again = SimpleUploadedFile("shot2.png", image_bytes(seed=4), content_type="image/png")
    page = client.post(url, {"file": again}, follow=True)
    assert "Evidence not added: only analysts" in page.content.decode()
    assert EvidenceItem.objects.count() == 1


def test_legal_hold_from_the_item_page(client, analyst, lead, add_image):
    item = add_image()
    client.force_login(analyst)
    url = reverse("evidence-hold", args=[item.pk])
    client.post(url, {"hold": "on", "reason": "preservation letter", "version": 1})
    item.refresh_from_db()
    assert item.legal_hold and item.hold_reason == "preservation letter"
    page = client.post(url, {"hold": "off", "reason": "done", "version": item.version}, follow=True)
    assert "only leads and admins lift legal holds" in page.content.decode()
    client.force_login(lead)
    client.post(url, {"hold": "off", "reason": "case closed", "version": item.version})
    item.refresh_from_db()
    assert not item.legal_hold


def test_a_reveal_link_stops_working_when_its_owner_loses_access(
    analyst, other_analyst, lead, make_escalation
):
    from watchfloor.escalations.services import set_access

    escalation = make_escalation()
    item = services.add_evidence_file(
        escalation=escalation, actor=analyst, chunks=[image_bytes()], name="a.png"
    )
    outcome = services.reveal_evidence(item=item, actor=other_analyst)
    url = reverse("evidence-revealed", args=[selectors.reveal_token(outcome.reveal)])
    assert Client().get(url).status_code == 200
    set_access(
        escalation=escalation,
        actor=lead,
        is_restricted=True,
        access_usernames=[analyst.username],
        shared_with_team_codes=[],
        expected_version=escalation.access_version,
    )
    assert Client().get(url).status_code == 404


def test_an_oversized_upload_is_not_read_to_the_end(client, analyst, escalation, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from watchfloor.evidence.models import EvidenceItem

    settings.WATCHFLOOR_EVIDENCE_MAX_BYTES = dict.fromkeys(
        settings.WATCHFLOOR_EVIDENCE_MAX_BYTES, 200000
    )
    client.force_login(analyst)
    big = SimpleUploadedFile("big.png", image_bytes() + b"\0" * 400_000, content_type="image/png")
    url = reverse("evidence-upload", args=["escalation", escalation.pk])
    page = client.post(url, {"file": big}, follow=True)
    assert "Evidence not added: the file is larger than the 0.2 MB" in page.content.decode()
    assert not EvidenceItem.objects.exists()
