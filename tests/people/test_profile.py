"""The profile page: a person sets their own time zone and languages. Validated against
zoneinfo and the catalog's languages, refused when stale, audited."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.people.profile import catalog_languages, update_profile, zone_options

pytestmark = pytest.mark.usefixtures("frozen_clock")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_profile_page_offers_the_common_apac_zones_first_and_every_other(analyst):
    page = signed_in(analyst).get(reverse("account-profile"))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'list="time-zone-options"' in html
    assert html.index('value="Asia/Tokyo"') < html.index('value="Africa/Abidjan"')
    assert zone_options()[:2] == ["Asia/Tokyo", "Asia/Seoul"]
    assert 'value="Asia/Tokyo"' in html, "the field shows the zone the person has"
    assert "<code>zh-Hant</code>" in html, "the catalog's languages are listed"


def test_saving_a_zone_and_languages_changes_the_times_and_is_audited(analyst):
    client = signed_in(analyst)
    response = client.post(
        reverse("account-profile"),
        {"time_zone": "Asia/Seoul", "languages": "ko, EN", "expected_version": 1},
    )
    assert response.status_code == 302
    analyst.refresh_from_db()
    assert analyst.time_zone == "Asia/Seoul"
    assert analyst.languages == ["ko", "en"], "kept in the catalog's spelling"
    assert analyst.profile_version == 2
    event = AuditEvent.objects.get(action=AuditAction.USER_PROFILE_CHANGED)
    assert event.actor_id == analyst.pk
    assert event.data["from"] == {"time_zone": "Asia/Tokyo", "languages": []}
    assert event.data["to"] == {"time_zone": "Asia/Seoul", "languages": ["ko", "en"]}
    assert "Asia/Seoul" in client.get(reverse("queue")).content.decode(), "the header pill"


@pytest.mark.parametrize(
    ("zone", "languages", "field", "words"),
    [
        ("Asia/Tokio", "ja", "time_zone", "'Asia/Tokio' is not an IANA time zone"),
        ("../../etc/passwd", "ja", "time_zone", "is not an IANA time zone"),
        ("Asia/Tokyo", "klingon", "languages", "'klingon' is not a BCP 47 language tag"),
        ("Asia/Tokyo", "ja, xx", "languages", "'xx' is not a language of the catalog"),
    ],
)
def test_a_bad_zone_or_language_is_refused_beside_its_field(analyst, zone, languages, field, words):
    response = signed_in(analyst).post(
        reverse("account-profile"),
        {"time_zone": zone, "languages": languages, "expected_version": 1},
    )
    assert response.status_code == 400
    assert words in " ".join(response.context["form"].errors[field])
    analyst.refresh_from_db()
    assert analyst.time_zone == "Asia/Tokyo" and analyst.profile_version == 1
    assert not AuditEvent.objects.filter(action=AuditAction.USER_PROFILE_CHANGED).exists()


def test_a_second_tab_opened_before_the_first_saved_is_refused_with_what_changed(analyst):
    first, second = signed_in(analyst), signed_in(analyst)
    first.post(
        reverse("account-profile"),
        {"time_zone": "Asia/Seoul", "languages": "ko", "expected_version": 1},
    )
    stale = second.post(
        reverse("account-profile"),
        {"time_zone": "Asia/Taipei", "languages": "zh-Hant", "expected_version": 1},
    )
    assert stale.status_code == 409
    html = stale.content.decode()
    assert "changed since you opened it" in html
    assert "time zone Asia/Seoul, languages ko" in html
    analyst.refresh_from_db()
    assert analyst.time_zone == "Asia/Seoul"
    assert AuditEvent.objects.filter(action=AuditAction.USER_PROFILE_CHANGED).count() == 1


def test_a_form_without_its_version_is_refused(analyst):
    response = signed_in(analyst).post(
        reverse("account-profile"), {"time_zone": "Asia/Seoul", "languages": ""}
    )
    assert response.status_code == 400
    analyst.refresh_from_db()
    assert analyst.time_zone == "Asia/Tokyo"


def test_nobody_edits_someone_elses_profile_and_nothing_changed_writes_nothing(
    analyst, other_analyst
):
    with pytest.raises(InvalidInput):
        update_profile(
            user=analyst, time_zone="UTC", languages=[], actor=other_analyst, expected_version=1
        )
    same = update_profile(
        user=analyst, time_zone="Asia/Tokyo", languages=[], actor=analyst, expected_version=1
    )
    assert same.profile_version == 1
    assert not AuditEvent.objects.filter(action=AuditAction.USER_PROFILE_CHANGED).exists()
    with pytest.raises(Conflict):
        update_profile(
            user=analyst, time_zone="UTC", languages=[], actor=analyst, expected_version=7
        )


def test_the_catalog_languages_are_those_of_the_markets_english_first(catalog):
    languages = catalog_languages()
    assert languages[0] == "en"
    assert {"ja", "ko", "zh-Hant", "zh-Hans", "id", "th", "hi"} <= set(languages)
    assert len(languages) == len(set(languages))


def test_a_person_who_is_not_signed_in_is_sent_to_sign_in(catalog):
    assert Client().get(reverse("account-profile")).status_code == 302
