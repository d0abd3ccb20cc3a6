"""Graphic-content duty: a rota shift marked for it, who holds it now, and advice (never a
block) to others revealing graphic material."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from tests.evidence.conftest import image_bytes
from watchfloor.core import clock
from watchfloor.core.errors import PermissionDenied
from watchfloor.evidence import exposure, services
from watchfloor.people.models import RotationShift
from watchfloor.people.oncall import graphic_content_duty_now
from watchfloor.people.rota_changes import load_rotas

pytestmark = pytest.mark.usefixtures("frozen_clock")

# The frozen clock stands at 00:30 UTC: the day shift (00:00–12:00 UTC) is on.
ROTA = """\
rotations:
  - code: site-graphic
    name: Site policy graphic duty
    team: site_policy
    kind: follow_the_sun
    start_date: 2026-01-05
    shifts:
      - {label: Day, time_zone: UTC, starts: "00:00", members: [ben.analyst],
         graphic_content_duty: true}
      - {label: Night, time_zone: UTC, starts: "12:00", members: [lina.lead]}
  - code: site-weekly
    name: Site policy weekly
    team: site_policy
    kind: weekly
    start_date: 2026-01-05
    time_zone: UTC
    handoff: "00:00"
    members: [aiko.analyst]
"""


@pytest.fixture
def rota(tmp_path, analyst, other_analyst, lead):
    path = tmp_path / "rotations.yaml"
    path.write_text(textwrap.dedent(ROTA), encoding="utf-8")
    load_rotas(path=path, actor=None)


@pytest.fixture
def graphic_item(add_image):
    return add_image(image_bytes(seed=11), category="graphic_violence")


def _trained(*people):
    for person in people:
        services.set_graphic_content_training(person=person, trained=True, actor=None)


def test_the_rota_marks_shifts_and_says_who_is_on_duty_now(rota, analyst, other_analyst):
    flagged = RotationShift.objects.filter(graphic_content_duty=True)
    assert [shift.label for shift in flagged] == ["Day"]
    assert graphic_content_duty_now(team=analyst.team, at=clock.now()) == [other_analyst]
    assert exposure.on_duty_now(person=analyst, now=clock.now()) == [other_analyst]
    clock.advance(timedelta(hours=12))
    assert graphic_content_duty_now(team=analyst.team, at=clock.now()) == []


def test_a_weekly_rotation_can_be_on_duty_as_a_whole(tmp_path, analyst, other_analyst, lead):
    path = tmp_path / "rotations.yaml"
    path.write_text(
        textwrap.dedent(ROTA).replace(
            "    members: [aiko.analyst]\n",
            ("    members: [aiko.analyst]\n    graphic_content_duty: true\n"),
        ),
        encoding="utf-8",
    )
    load_rotas(path=path, actor=None)
    on_duty = graphic_content_duty_now(team=analyst.team, at=clock.now())
    assert on_duty == sorted([analyst, other_analyst], key=lambda p: p.display_name.casefold())


def test_someone_off_duty_is_advised_not_blocked(rota, analyst, other_analyst, graphic_item):
    _trained(analyst, other_analyst)
    outcome = services.reveal_evidence(item=graphic_item, actor=analyst)
    assert outcome.reveal.pk is not None
    assert outcome.advice.startswith(f"{other_analyst.display_name} is on graphic-content duty")
    # The person on duty is not told to leave it to themselves.
    assert services.reveal_evidence(item=graphic_item, actor=other_analyst).advice == ""


def test_general_items_get_no_duty_advice(rota, analyst, add_image):
    assert services.reveal_evidence(item=add_image(), actor=analyst).advice == ""


def test_an_untrained_refusal_names_who_is_on_duty(rota, analyst, other_analyst, graphic_item):
    with pytest.raises(PermissionDenied) as refused:
        services.reveal_evidence(item=graphic_item, actor=analyst)
    assert "training flag" in refused.value.message
    assert f"{other_analyst.display_name} is on graphic-content duty now" in refused.value.message


def test_the_nudge_names_who_is_on_duty(rota, analyst, other_analyst, add_image, settings):
    settings.WATCHFLOOR_EXPOSURE_NUDGE_ITEMS = 2
    items = [add_image(image_bytes(seed=n), category="self_harm") for n in range(2)]
    nudges = [services.reveal_evidence(item=item, actor=analyst).nudge for item in items]
    assert "take a 15-minute break" in nudges[1]
    assert f"{other_analyst.display_name} is on graphic-content duty now" in nudges[1]


def test_the_panel_and_the_team_page_show_the_duty(
    rota, analyst, other_analyst, lead, graphic_item, escalation
):
    client = Client()
    client.force_login(analyst)
    page = client.get(reverse("escalation-detail", args=[escalation.pk])).content.decode()
    assert 'data-testid="duty-advice"' in page and other_analyst.display_name in page
    client.force_login(other_analyst)
    page = client.get(reverse("escalation-detail", args=[escalation.pk])).content.decode()
    assert 'data-testid="duty-advice"' not in page
    client.force_login(lead)
    team_page = client.get(reverse("evidence-team-exposure")).content.decode()
    on_duty = team_page.split('data-testid="on-duty">')[1].split("</ul>")[0]
    assert other_analyst.display_name in on_duty and analyst.display_name not in on_duty
