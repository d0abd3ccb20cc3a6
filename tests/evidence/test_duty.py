"""Graphic-content duty: a rota shift marked for it, who holds it now, and advice (never a
block) to others revealing graphic material."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

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


# ---------------------------------------------------------------- the war room


def _duty_box(page: str) -> str:
    return page.split('data-testid="crisis-graphic-duty">')[1].split("</div>")[0]


def test_the_war_room_shows_who_is_on_graphic_content_duty_beside_the_exposure(
    rota, analyst, other_analyst, lead, crisis
):
    client = Client()
    client.force_login(analyst)
    page = client.get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    assert 'data-testid="crisis-exposure-items"' in page
    box = _duty_box(page)
    assert other_analyst.display_name in box and escape(other_analyst.team.name) in box
    # The night shift's lead and the weekly rotation (not marked) are not on duty.
    assert lead.display_name not in box and analyst.display_name not in box
    # Twelve hours on, the day shift is over: nobody is.
    clock.advance(timedelta(hours=12))
    page = client.get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    assert "Nobody: no rota shift marked" in _duty_box(page)


def test_the_duty_names_are_alphabetical_not_ranked_by_exposure(
    tmp_path, analyst, other_analyst, lead, crisis, add_image
):
    path = tmp_path / "rotations.yaml"
    path.write_text(
        textwrap.dedent(ROTA).replace(
            "    members: [aiko.analyst]\n",
            "    members: [aiko.analyst]\n    graphic_content_duty: true\n",
        ),
        encoding="utf-8",
    )
    load_rotas(path=path, actor=None)
    # Whoever has seen the most is not put first (nor last): names only, in name order.
    for seed in range(3):
        item = add_image(image_bytes(seed=seed + 20), crisis=crisis, escalation=None)
        services.reveal_evidence(item=item, actor=other_analyst)
    client = Client()
    client.force_login(lead)
    box = _duty_box(client.get(reverse("crisis-detail", args=[crisis.pk])).content.decode())
    names = sorted([analyst, other_analyst], key=lambda p: p.display_name.casefold())
    positions = [box.index(p.display_name) for p in names]
    assert positions == sorted(positions)
    assert "3" not in box  # no figure beside a name


def _war_room_queries(client: Client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm the session and caches
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_the_war_room_costs_the_same_with_more_rotations_on_duty_and_more_reveals(
    tmp_path, analyst, other_analyst, lead, crisis, add_image
):
    path = tmp_path / "rotations.yaml"
    path.write_text(textwrap.dedent(ROTA), encoding="utf-8")
    load_rotas(path=path, actor=None)
    client, url = Client(), reverse("crisis-detail", args=[crisis.pk])
    client.force_login(lead)
    before = _war_room_queries(client, url)
    # Every rotation marked, so three people are on duty; and reveals to count.
    path.write_text(
        textwrap.dedent(ROTA)
        .replace("members: [lina.lead]}", "members: [lina.lead], graphic_content_duty: true}")
        .replace(
            "    members: [aiko.analyst]\n",
            "    members: [aiko.analyst]\n    graphic_content_duty: true\n",
        ),
        encoding="utf-8",
    )
    load_rotas(path=path, actor=None)
    for seed in range(3):
        item = add_image(image_bytes(seed=seed + 30), crisis=crisis, escalation=None)
        services.reveal_evidence(item=item, actor=analyst)
    assert _war_room_queries(client, url) == before


def test_the_exposure_box_costs_six_queries(rota, analyst, crisis, django_assert_num_queries):
    from watchfloor.evidence.selectors import crisis_exposure

    # Two for the figures, four for who is on duty (rotations, shifts, members, overrides).
    with django_assert_num_queries(6):
        box = crisis_exposure(crisis=crisis, viewer=analyst, now=clock.now())
    assert [duty.person.username for duty in box.on_duty] == ["ben.analyst"]
