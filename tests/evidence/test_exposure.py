"""Exposure: counted on the injected clock, a private page, nudges, team totals without ranking."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from tests.evidence.conftest import image_bytes
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.evidence import exposure, services
from watchfloor.evidence.models import TeamCarePolicy


@pytest.fixture
def sensitive_items(add_image):
    return [add_image(image_bytes(seed=n), category="self_harm") for n in range(4)]


def test_exposure_accumulates_per_shift_and_week_on_the_injected_clock(
    analyst, sensitive_items, frozen_clock
):
    for item in sensitive_items[:3]:
        services.reveal_evidence(item=item, actor=analyst, seconds=20)
    now = clock.now()
    mine = exposure.exposure_of(person=analyst, now=now)
    assert (mine.shift.items, mine.shift.seconds) == (3, 60)
    assert mine.shift.by_category == {"self_harm": 3}
    clock.advance(timedelta(hours=10))
    later = exposure.exposure_of(person=analyst, now=clock.now())
    assert (later.shift.items, later.week.items) == (0, 3)
    clock.advance(timedelta(days=7))
    assert exposure.exposure_of(person=analyst, now=clock.now()).week.items == 0


def test_passing_the_threshold_nudges_once_and_tells_the_lead_where_the_team_opted_in(
    analyst, sensitive_items, settings, frozen_clock
):
    settings.WATCHFLOOR_EXPOSURE_NUDGE_ITEMS = 3
    TeamCarePolicy.objects.create(team=analyst.team, tell_lead=True)
    messages = [services.reveal_evidence(item=i, actor=analyst).nudge for i in sensitive_items]
    assert messages[:2] == ["", ""]
    assert "You've viewed 3 sensitive items in 2 hours" in messages[2]
    assert "15-minute break" in messages[2] and "Your lead has been told" in messages[2]
    assert "4 sensitive items" in messages[3]
    nudges = AuditEvent.objects.filter(action="evidence.exposure_nudged")
    assert nudges.count() == 1 and nudges.get().data["lead_told"] is True


def test_general_items_do_not_count_toward_the_nudge(analyst, add_image, settings):
    settings.WATCHFLOOR_EXPOSURE_NUDGE_ITEMS = 1
    item = add_image()
    assert services.reveal_evidence(item=item, actor=analyst).nudge == ""


def test_the_exposure_page_is_private_and_shows_ones_own_figures(
    client, analyst, other_analyst, sensitive_items
):
    services.reveal_evidence(item=sensitive_items[0], actor=analyst)
    client.force_login(other_analyst)
    page = client.get(reverse("evidence-exposure")).content.decode()
    assert 'data-testid="shift-items">0<' in page
    client.force_login(analyst)
    page = client.get(reverse("evidence-exposure")).content.decode()
    assert 'data-testid="shift-items">1<' in page


def test_a_lead_sees_team_totals_and_who_is_over_alphabetically_never_a_ranking(
    client, analyst, other_analyst, lead, sensitive_items, settings
):
    settings.WATCHFLOOR_EXPOSURE_NUDGE_ITEMS = 2
    for item in sensitive_items[:3]:
        services.reveal_evidence(item=item, actor=other_analyst)
    for item in sensitive_items[:2]:
        services.reveal_evidence(item=item, actor=analyst)
    team = exposure.team_exposure(people=analyst.team.members.all(), now=clock.now())
    assert team.shift.items == 5
    assert team.over_threshold == sorted(
        [analyst.display_name, other_analyst.display_name], key=str.casefold
    )
    client.force_login(lead)
    page = client.get(reverse("evidence-team-exposure")).content.decode()
    assert analyst.display_name in page and other_analyst.display_name in page
    client.force_login(analyst)
    assert client.get(reverse("evidence-team-exposure")).status_code == 403


def test_the_war_room_shows_the_teams_exposure_on_the_crisis_evidence(
    client, analyst, lead, make_escalation, frozen_clock
):
    from watchfloor.crises.models import Crisis
    from watchfloor.crises.services import declare_crisis

    escalation = make_escalation()
    hidden = make_escalation(is_restricted=True, access_usernames=[analyst.username])
    crisis = declare_crisis(
        actor=lead,
        title="Relief scam surge",
        level="incident",
        summary="",
        declared_from=escalation,
        markets=["PH"],
        languages=["en"],
        reason="surge",
    )
    from watchfloor.crises.services import link_escalation

    link_escalation(crisis=Crisis.objects.get(pk=crisis.pk), escalation=hidden, actor=analyst)
    for target in (escalation, hidden):
        item = services.add_evidence_file(
            escalation=target, actor=analyst, chunks=[image_bytes(seed=target.pk)], name="a.png"
        )
        services.reveal_evidence(item=item, actor=analyst)
    client.force_login(analyst)
    page = client.get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    assert 'data-testid="crisis-exposure-items">2<' in page
    client.force_login(lead)
    page = client.get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    assert 'data-testid="crisis-exposure-items">1<' in page


def test_training_and_care_policy_from_the_cli(analyst):
    import io

    from django.core.management import call_command

    call_command("evidence", "training", analyst.username, "--trained", "yes", stdout=io.StringIO())
    assert services.preference_of(analyst).graphic_content_trained
    call_command("evidence", "care", analyst.team.code, "--tell-lead", "on", stdout=io.StringIO())
    assert TeamCarePolicy.objects.get(team=analyst.team).tell_lead
    assert AuditEvent.objects.filter(action="evidence.care_policy_changed").exists()
