"""Teams, rotations and who is on call: the handoff arithmetic across zones and daylight
saving, overrides, the rota file and its errors, the on-call page and API, and the
iCalendar export read back with the same parser calendar clients use."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, time, timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core.management import CommandError, call_command
from django.test import Client
from icalendar import Calendar

from tests.api.conftest import ApiCaller
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, NotFound, PermissionDenied
from watchfloor.people import selectors
from watchfloor.people.api_tokens import create_api_token
from watchfloor.people.models import RotaOverride, Rotation, Team, User
from watchfloor.people.oncall import on_call, on_call_now
from watchfloor.people.rota_changes import cancel_rota_override, create_rota_override, load_rotas
from watchfloor.people.rotafile import RotaFileError, default_rota_file
from watchfloor.people.rotas import (
    OverridePlan,
    RotaPlan,
    ShiftPlan,
    duty_at,
    is_working_time,
    segments,
)

TOKYO, LONDON, NEW_YORK = "Asia/Tokyo", "Europe/London", "America/New_York"
NINE = time(9, 0)
MONDAY = date(2026, 1, 5)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))


def follow_the_sun(**overrides) -> RotaPlan[str]:
    """APAC, EMEA and the Americas each take over at 09:00 in their own zone."""
    values = {
        "key": "legal",
        "start_date": MONDAY,
        "shifts": (
            ShiftPlan("APAC", TOKYO, NINE, ("aki", "ben")),
            ShiftPlan("EMEA", LONDON, NINE, ("cat",)),
            ShiftPlan("Americas", NEW_YORK, NINE, ("dan", "eve")),
        ),
    }
    values.update(overrides)
    return RotaPlan(**values)


def shift_lengths(plan: RotaPlan[str], day: date) -> dict[str, timedelta]:
    """How long each shift that starts on ``day`` (UTC) lasts."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    found = {}
    for segment in segments(plan, start, start + timedelta(days=2)):
        if segment.starts_at.date() == day and segment.starts_at > start:
            found.setdefault(segment.duty.shift.label, segment.ends_at - segment.starts_at)
    return found


# ---------------------------------------------------------------- follow the sun


def test_each_region_takes_over_at_nine_in_its_own_zone_in_winter():
    plan = follow_the_sun()
    # Wednesday 14 January 2026: Tokyo +9, London +0, New York -5.
    assert duty_at(plan, utc(2026, 1, 14, 0, 0)).shift.label == "APAC"
    assert duty_at(plan, utc(2026, 1, 14, 8, 59)).shift.label == "APAC"
    assert duty_at(plan, utc(2026, 1, 14, 9, 0)).shift.label == "EMEA"
    assert duty_at(plan, utc(2026, 1, 14, 13, 59)).shift.label == "EMEA"
    assert duty_at(plan, utc(2026, 1, 14, 14, 0)).shift.label == "Americas"
    assert duty_at(plan, utc(2026, 1, 14, 23, 59)).shift.label == "Americas"
    assert shift_lengths(plan, date(2026, 1, 14)) == {
        "EMEA": timedelta(hours=5),
        "Americas": timedelta(hours=10),
    }


def test_the_americas_take_over_an_hour_earlier_once_new_york_springs_forward():
    plan = follow_the_sun()
    # New York moved its clocks on Sunday 8 March 2026; London not until 29 March.
    assert duty_at(plan, utc(2026, 3, 9, 13, 0)).shift.label == "Americas"
    assert duty_at(plan, utc(2026, 3, 9, 12, 59)).shift.label == "EMEA"
    # So for three weeks EMEA's day is an hour shorter: 09:00 to 13:00 UTC.
    assert shift_lengths(plan, date(2026, 3, 20))["EMEA"] == timedelta(hours=4)


def test_london_takes_over_an_hour_earlier_in_utc_across_its_spring_change():
    plan = follow_the_sun()
    saturday, sunday = date(2026, 3, 28), date(2026, 3, 29)
    before = [
        s
        for s in segments(plan, utc(2026, 3, 28), utc(2026, 3, 30))
        if s.duty.shift.label == "EMEA"
    ]
    assert [s.starts_at for s in before] == [utc(2026, 3, 28, 9), utc(2026, 3, 29, 8)]
    # 09:00 by London's clock both days.
    assert [s.starts_at.astimezone(ZoneInfo(LONDON)).time() for s in before] == [NINE, NINE]
    assert shift_lengths(plan, saturday)["EMEA"] == timedelta(hours=4)
    assert shift_lengths(plan, sunday)["EMEA"] == timedelta(hours=5)
    # Tokyo has no daylight saving: APAC hands over at 00:00 UTC all year.
    assert duty_at(plan, utc(2026, 3, 29, 0, 0)).shift.label == "APAC"


def test_london_hands_over_an_hour_later_in_utc_after_it_falls_back():
    plan = follow_the_sun()
    # London falls back on 25 October 2026, New York on 1 November.
    assert duty_at(plan, utc(2026, 10, 24, 8, 0)).shift.label == "EMEA"
    assert duty_at(plan, utc(2026, 10, 26, 8, 0)).shift.label == "APAC"
    assert duty_at(plan, utc(2026, 10, 26, 9, 0)).shift.label == "EMEA"
    # The week New York is still on summer time and London is not: EMEA runs 09:00–13:00.
    assert shift_lengths(plan, date(2026, 10, 28)) == {
        "EMEA": timedelta(hours=4),
        "Americas": timedelta(hours=11),
    }


def test_members_take_a_week_each_counted_from_the_start_date():
    plan = follow_the_sun()
    # Week 0 began on Monday 5 January; the week is that of the local start date.
    assert duty_at(plan, utc(2026, 1, 5, 1)).member == "aki"
    assert duty_at(plan, utc(2026, 1, 12, 1)).member == "ben"
    assert duty_at(plan, utc(2026, 1, 19, 1)).member == "aki"
    # Sunday's Americas shift runs into Monday morning UTC and stays in the old week.
    assert duty_at(plan, utc(2026, 1, 11, 23, 0)).member == "dan"
    assert duty_at(plan, utc(2026, 1, 12, 14, 0)).member == "eve"
    assert duty_at(plan, utc(2026, 1, 12, 14, 0)).week == 1


def test_nobody_is_on_call_before_the_rotation_starts():
    plan = follow_the_sun()
    assert duty_at(plan, utc(2026, 1, 4, 23, 59)) is None
    assert duty_at(plan, utc(2026, 1, 5, 0, 0)).member == "aki"


def test_a_shift_that_does_not_start_at_weekends_leaves_them_to_the_shift_before():
    plan = follow_the_sun(
        shifts=(
            ShiftPlan("APAC", TOKYO, NINE, ("aki",)),
            ShiftPlan("EMEA", LONDON, NINE, ("cat",), days=frozenset({1, 2, 3, 4, 5})),
        )
    )
    assert duty_at(plan, utc(2026, 1, 16, 10)).shift.label == "EMEA"  # Friday
    assert duty_at(plan, utc(2026, 1, 17, 10)).shift.label == "APAC"  # Saturday


def test_a_handoff_the_clocks_skip_happens_an_hour_later_by_the_new_clock():
    plan = RotaPlan(
        key="ny",
        start_date=MONDAY,
        shifts=(
            ShiftPlan("night", NEW_YORK, time(2, 30), ("nat",)),
            ShiftPlan("day", NEW_YORK, time(12, 0), ("dee",)),
        ),
    )
    # 02:30 does not exist on 8 March 2026 in New York: read with the winter offset.
    handoffs = [
        s.starts_at
        for s in segments(plan, utc(2026, 3, 8, 0), utc(2026, 3, 8, 12))
        if s.duty.member == "nat"
    ]
    assert handoffs == [utc(2026, 3, 8, 7, 30)]
    assert handoffs[0].astimezone(ZoneInfo(NEW_YORK)).time() == time(3, 30)


def test_a_handoff_in_the_repeated_hour_happens_the_first_time_round():
    plan = RotaPlan(
        key="ny",
        start_date=MONDAY,
        shifts=(
            ShiftPlan("night", NEW_YORK, time(1, 30), ("nat",)),
            ShiftPlan("day", NEW_YORK, time(12, 0), ("dee",)),
        ),
    )
    # 01:30 happens twice on 1 November 2026; the first is 05:30 UTC (summer time).
    assert duty_at(plan, utc(2026, 11, 1, 5, 29)).member == "dee"
    assert duty_at(plan, utc(2026, 11, 1, 5, 30)).member == "nat"


def test_a_weekly_rotation_hands_over_once_a_week_in_local_time_across_dst():
    plan = RotaPlan(
        key="weekly",
        start_date=date(2026, 3, 23),  # a Monday
        shifts=(ShiftPlan("", LONDON, NINE, ("una", "viv")),),
    )
    watches = segments(plan, utc(2026, 3, 23, 9), utc(2026, 4, 13, 8))
    assert [(w.duty.member, w.starts_at) for w in watches] == [
        ("una", utc(2026, 3, 23, 9)),
        ("viv", utc(2026, 3, 30, 8)),  # 09:00 BST
        ("una", utc(2026, 4, 6, 8)),
    ]
    # The week with the clock change is an hour short in real time.
    assert watches[0].ends_at - watches[0].starts_at == timedelta(days=7, hours=-1)
    assert watches[1].ends_at - watches[1].starts_at == timedelta(days=7)


# ---------------------------------------------------------------- overrides (pure)


def test_an_override_for_one_member_applies_only_to_their_shifts():
    cover = OverridePlan("zed", utc(2026, 1, 14), utc(2026, 1, 15), replaces="cat", reason="leave")
    plan = follow_the_sun(overrides=(cover,))
    emea = duty_at(plan, utc(2026, 1, 14, 10))
    assert (emea.member, emea.scheduled, emea.override) == ("zed", "cat", cover)
    assert duty_at(plan, utc(2026, 1, 14, 2)).member == "ben"  # APAC, week 1
    assert duty_at(plan, utc(2026, 1, 15, 10)).member == "cat"


def test_an_override_for_everyone_takes_every_shift_and_the_latest_wins():
    first = OverridePlan("zed", utc(2026, 1, 14), utc(2026, 1, 16), key=1)
    second = OverridePlan("yan", utc(2026, 1, 15), utc(2026, 1, 15, 12), key=2)
    plan = follow_the_sun(overrides=(first, second))
    assert {duty_at(plan, utc(2026, 1, 14, h)).member for h in (2, 10, 20)} == {"zed"}
    assert duty_at(plan, utc(2026, 1, 15, 6)).member == "yan"
    assert duty_at(plan, utc(2026, 1, 15, 12)).member == "zed"
    cut = [s.starts_at for s in segments(plan, utc(2026, 1, 15), utc(2026, 1, 16))]
    assert utc(2026, 1, 15, 12) in cut


def test_working_hours_can_run_overnight():
    night = {"zone": TOKYO, "starts": time(22), "ends": time(6), "days": [1, 2, 3, 4, 5]}
    assert is_working_time(local(TOKYO, 2026, 1, 16, 23), **night) is True  # Friday night
    assert is_working_time(local(TOKYO, 2026, 1, 17, 3), **night) is True  # ...into Saturday
    assert is_working_time(local(TOKYO, 2026, 1, 17, 23), **night) is False
    assert is_working_time(local(TOKYO, 2026, 1, 16, 12), **night) is False
    assert (
        is_working_time(local(TOKYO, 2026, 1, 16, 12), zone=TOKYO, starts=None, ends=None, days=[])
        is None
    )


# ---------------------------------------------------------------- the rota file


@pytest.fixture
def legal_people(make_user, legal_partner) -> dict[str, User]:
    people = {"lee": legal_partner}
    for name, zone in (("tomo", TOKYO), ("lou", LONDON), ("nia", NEW_YORK), ("kai", TOKYO)):
        people[name] = make_user(f"{name}.legal", "partner", "legal", time_zone=zone)
    people["cora"] = make_user("cora.comms", "partner", "communications")
    return people


ROTA = """\
teams:
  - code: legal
    time_zone: Asia/Singapore
    working_hours: {start: "09:00", end: "18:00"}
    regions:
      - code: japan
        name: Japan
        markets: [JP]
rotations:
  - code: legal-sun
    name: Legal follow the sun
    team: legal
    kind: follow_the_sun
    start_date: 2026-01-05
    shifts:
      - {label: APAC, time_zone: Asia/Tokyo, starts: "09:00", members: [tomo.legal, lee.legal]}
      - {label: EMEA, time_zone: Europe/London, starts: "09:00", members: [lou.legal]}
      - {label: Americas, time_zone: America/New_York, starts: "09:00", members: [nia.legal]}
  - code: legal-japan
    name: Legal Japan
    team: legal
    region: japan
    kind: weekly
    start_date: 2026-01-05
    time_zone: Asia/Tokyo
    handoff: "10:00"
    members: [kai.legal, tomo.legal]
"""


@pytest.fixture
def write_rota(tmp_path):
    def write(text: str) -> Path:
        path = tmp_path / "rotations.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def rota(legal_people, write_rota):
    load_rotas(path=write_rota(ROTA), actor=None)
    return legal_people


def problems_of(path: Path) -> list[str]:
    with pytest.raises(RotaFileError) as caught:
        load_rotas(path=path, actor=None)
    return [str(problem) for problem in caught.value.problems]


def test_mistakes_in_the_rota_file_are_reported_with_line_and_path(legal_people, write_rota):
    path = write_rota(
        """\
        teams:
          - code: legal
            time_zone: Asia/Singapur
        rotations:
          - code: legal-sun
            name: Legal
            team: legal
            kind: follow_the_sun
            start_date: 2026-01-05
            shifts:
              - {label: APAC, time_zone: Asia/Tokyo, starts: 9:00, members: [tomo.legal]}
              - {label: EMEA, time_zone: Europe/London, starts: "09:00", members: [cora.comms]}
        """
    )
    problems = problems_of(path)
    assert any(
        p.startswith("rotations.yaml:3: teams[0].time_zone:") and "Asia/Singapur" in p
        for p in problems
    ), problems
    assert any(
        p.startswith("rotations.yaml:11: rotations[0].shifts[0].starts:") and '"09:00"' in p
        for p in problems
    ), problems
    assert not Rotation.objects.exists()


def test_references_are_checked_against_teams_markets_and_people(legal_people, write_rota):
    path = write_rota(
        """\
        teams:
          - code: legal
            time_zone: Asia/Singapore
            regions:
              - {code: japan, name: Japan, markets: [JP, XX]}
        rotations:
          - code: legal-sun
            name: Legal
            team: legal
            region: korea
            kind: follow_the_sun
            start_date: 2026-01-05
            shifts:
              - {label: APAC, time_zone: Asia/Tokyo, starts: "09:00", members: [tomo.legal, nobody]}
              - {label: EMEA, time_zone: Europe/London, starts: "09:00", members: [cora.comms]}
          - code: legal-sun
            name: Twice
            team: lawyers
            kind: weekly
            start_date: 2026-01-05
            members: [tomo.legal]
        """
    )
    problems = "\n".join(problems_of(path))
    assert "rotations.yaml:5: teams[0].regions[0].markets[1]: unknown market 'XX'" in problems
    assert "rotations.yaml:10: rotations[0].region: 'korea' is not a region of legal" in problems
    assert "rotations[0].shifts[0].members[1]: no person 'nobody'" in problems
    assert (
        "rotations[0].shifts[1].members[0]: 'cora.comms' is not a member of legal "
        "(their team: communications)" in problems
    )
    assert "rotations.yaml:16: rotations[1].code: rotation 'legal-sun' is given twice" in problems
    assert "rotations[1].team: unknown team 'lawyers'" in problems


def test_each_kind_needs_its_own_fields(legal_people, write_rota):
    path = write_rota(
        """\
        rotations:
          - code: weekly-without-handoff
            name: Weekly
            team: legal
            kind: weekly
            start_date: 2026-01-05
            members: [tomo.legal]
          - code: sun-with-one-shift
            name: Sun
            team: legal
            kind: follow_the_sun
            start_date: 2026-01-05
            time_zone: Asia/Tokyo
            shifts:
              - {label: APAC, time_zone: Asia/Tokyo, starts: "09:00", members: [tomo.legal]}
        """
    )
    problems = "\n".join(problems_of(path))
    assert "rotations[0].time_zone: a weekly rotation needs 'time_zone'" in problems
    assert "rotations[0].handoff: a weekly rotation needs 'handoff'" in problems
    assert "rotations[1].time_zone: 'time_zone' belongs to weekly rotations" in problems
    assert "rotations[1].shifts: a follow-the-sun rotation needs at least two shifts" in problems


def test_the_rotas_command_reports_problems_on_stderr_and_fails(legal_people, write_rota):
    path = write_rota("rotations:\n  - code: Bad Code\n")
    stderr = StringIO()
    with pytest.raises(CommandError, match=r"has \d+ problems?; nothing was loaded"):
        call_command("rotas", "load", str(path), stderr=stderr)
    assert "rotations.yaml:2: rotations[0].code:" in stderr.getvalue()


def test_loading_sets_working_hours_and_regions_and_is_audited(rota, frozen_clock):
    legal = Team.objects.get(code="legal")
    assert (legal.time_zone, legal.working_hours_start, legal.working_hours_end) == (
        "Asia/Singapore",
        time(9),
        time(18),
    )
    assert legal.working_days == [1, 2, 3, 4, 5]
    assert list(legal.regions.values_list("code", "markets")) == [("japan", ["JP"])]
    japan = Rotation.objects.get(code="legal-japan")
    assert (japan.kind, japan.markets, japan.region_code) == ("weekly", ["JP"], "japan")
    event = AuditEvent.objects.get(action=AuditAction.ROTA_LOADED)
    assert event.data["created"] == ["legal-sun", "legal-japan"]


def test_reloading_changes_only_what_changed_and_retires_what_is_gone(rota, write_rota):
    again = load_rotas(path=write_rota(ROTA), actor=None)
    assert (again.created, again.changed, again.unchanged) == ([], [], ["legal-sun", "legal-japan"])
    without_japan = ROTA.split("  - code: legal-japan")[0].replace(
        "lou.legal]", "lou.legal, nia.legal]"
    )
    result = load_rotas(path=write_rota(without_japan), actor=None)
    assert (result.changed, result.retired) == (["legal-sun"], ["legal-japan"])
    assert not Rotation.objects.get(code="legal-japan").is_active
    emea = Rotation.objects.get(code="legal-sun").shifts.get(label="EMEA")
    assert [m.user.username for m in emea.members.all()] == ["lou.legal", "nia.legal"]


def test_the_default_rota_file_loads_with_its_demo_people(catalog, frozen_clock):
    result = load_rotas(path=default_rota_file(), actor=None, new_people_password="pw-for-demo")
    assert "legal-follow-the-sun" in result.created and "legal-japan" in result.created
    assert User.objects.get(username="haruka.legal").team.code == "legal"
    assert User.objects.get(username="haruka.legal").check_password("pw-for-demo")
    # "Who is on call for Legal in Japan right now?" (Tuesday 09:30 in Tokyo)
    assert [u.username for u in on_call_now("legal", "JP", clock.now())] == ["haruka.legal"]
    assert [u.username for u in on_call_now("legal", "SG", clock.now())] == ["legal"]


def test_the_new_people_of_a_rota_share_one_hash_of_their_one_password(catalog, frozen_clock):
    """Hashed once for all (each hash costs a third of a second by design); each of them
    signs in with it, a wrong password is refused, and each creation is audited."""
    result = load_rotas(path=default_rota_file(), actor=None, new_people_password="pw-for-demo")
    people = list(User.objects.filter(username__in=result.people_created))
    assert len(people) >= 2
    assert len({person.password for person in people}) == 1
    assert identify_hasher(people[0].password)  # a hash, not the password itself
    for person in people:
        assert person.check_password("pw-for-demo")
        assert not person.check_password("pw-for-dem0")
    created = AuditEvent.objects.filter(action=AuditAction.USER_CREATED).values_list(
        "data__username", flat=True
    )
    assert set(result.people_created) <= set(created)


def test_a_rota_without_a_password_for_new_people_gives_them_none_usable(catalog, frozen_clock):
    result = load_rotas(path=default_rota_file(), actor=None)
    person = User.objects.get(username=result.people_created[0])
    assert not person.has_usable_password()


# ---------------------------------------------------------------- on call


def test_on_call_for_a_market_prefers_the_rotation_that_covers_it(rota):
    at = local(TOKYO, 2026, 11, 24, 9, 30)  # Tuesday; week 46 of the rotations
    assert [u.username for u in on_call_now("legal", "JP", at)] == ["kai.legal"]
    assert [u.username for u in on_call_now("legal", "jp", at)] == ["kai.legal"]
    assert [u.username for u in on_call_now("legal", "SG", at)] == ["tomo.legal"]
    assert [u.username for u in on_call_now("legal", None, at)] == ["tomo.legal"]
    # Night in Tokyo, morning in London.
    assert [u.username for u in on_call_now("legal", "JP", local(LONDON, 2026, 11, 24, 10))] == [
        "kai.legal"
    ]
    assert [u.username for u in on_call_now("legal", "DE", local(LONDON, 2026, 11, 24, 10))] == [
        "lou.legal"
    ]


def test_on_call_explains_which_rotations_answered(rota):
    at = local(TOKYO, 2026, 11, 24, 9, 30)
    [japan] = on_call(team_code="legal", market="JP", at=at)
    assert japan.basis == "rotations that cover JP"
    assert japan.entries[0].until == local(TOKYO, 2026, 11, 30, 10)
    assert japan.within_working_hours is False  # 08:30 in Singapore, before Legal starts
    [elsewhere] = on_call(team_code="legal", market="SG", at=at)
    assert elsewhere.basis.startswith("no one covers SG in particular")
    assert elsewhere.entries[0].shift_label == "APAC"
    assert elsewhere.entries[0].since == local(TOKYO, 2026, 11, 24, 9)
    assert elsewhere.entries[0].until == local(LONDON, 2026, 11, 24, 9)


def test_nobody_on_call_is_an_empty_answer_not_an_error(rota):
    assert on_call_now("communications", "JP", utc(2026, 11, 24)) == []
    assert on_call_now("legal", None, utc(2025, 12, 1)) == []


def test_asking_about_an_unknown_team_or_market_or_a_naive_time_is_an_error(rota):
    with pytest.raises(NotFound, match="no team 'lawyers'"):
        on_call_now("lawyers", None, utc(2026, 11, 24))
    with pytest.raises(InvalidInput, match="unknown market 'XX'") as caught:
        on_call_now("legal", "XX", utc(2026, 11, 24))
    assert caught.value.field == "market"
    with pytest.raises(InvalidInput):
        on_call_now("legal", "JP", datetime(2026, 11, 24, 9))


def test_a_deactivated_member_is_never_returned(rota):
    User.objects.filter(username="kai.legal").update(is_active=False)
    at = local(TOKYO, 2026, 11, 24, 9, 30)
    # Legal Japan has nobody active on call, so the rotation for every market answers.
    assert [u.username for u in on_call_now("legal", "JP", at)] == ["tomo.legal"]


# ---------------------------------------------------------------- overrides


def test_a_team_member_can_stand_in_for_another_for_a_period(rota, frozen_clock):
    japan = Rotation.objects.get(code="legal-japan")
    override = create_rota_override(
        rotation=japan,
        user=rota["tomo"],
        replaces=rota["kai"],
        starts_at=local(TOKYO, 2026, 11, 24, 12),
        ends_at=local(TOKYO, 2026, 11, 26, 12),
        reason="Kai at a court hearing",
        actor=rota["kai"],
    )
    assert [u.username for u in on_call_now("legal", "JP", local(TOKYO, 2026, 11, 24, 11))] == [
        "kai.legal"
    ]
    assert [u.username for u in on_call_now("legal", "JP", local(TOKYO, 2026, 11, 25, 9))] == [
        "tomo.legal"
    ]
    [answer] = on_call(team_code="legal", market="JP", at=local(TOKYO, 2026, 11, 25, 9))
    assert answer.entries[0].is_override and answer.entries[0].scheduled == rota["kai"]
    assert answer.entries[0].override_reason == "Kai at a court hearing"
    event = AuditEvent.objects.get(action=AuditAction.ROTA_OVERRIDE_CREATED)
    assert event.data["replaces"] == "kai.legal" and event.actor == rota["kai"]

    cancel_rota_override(override=override, actor=rota["tomo"], reason="hearing moved")
    assert [u.username for u in on_call_now("legal", "JP", local(TOKYO, 2026, 11, 25, 9))] == [
        "kai.legal"
    ]
    assert AuditEvent.objects.filter(action=AuditAction.ROTA_OVERRIDE_CANCELLED).count() == 1


def test_overrides_are_checked(rota, frozen_clock, viewer, analyst, lead):
    japan = Rotation.objects.get(code="legal-japan")
    base = {
        "rotation": japan,
        "user": rota["tomo"],
        "starts_at": local(TOKYO, 2026, 11, 25, 9),
        "ends_at": local(TOKYO, 2026, 11, 26, 9),
        "reason": "swap",
    }
    with pytest.raises(PermissionDenied):
        create_rota_override(**base, actor=viewer)
    with pytest.raises(PermissionDenied):
        create_rota_override(**base, actor=rota["cora"])
    for changes, field in (
        ({"ends_at": local(TOKYO, 2026, 11, 25, 8)}, "ends_at"),
        ({"starts_at": utc(2026, 11, 1), "ends_at": utc(2026, 11, 2)}, "ends_at"),
        ({"ends_at": local(TOKYO, 2027, 6, 1)}, "ends_at"),
        ({"reason": "  "}, "reason"),
        ({"user": rota["cora"]}, "user"),
        ({"replaces": rota["lou"]}, "replaces"),
        ({"starts_at": datetime(2026, 11, 25, 9)}, "starts_at"),
    ):
        with pytest.raises(InvalidInput) as caught:
            create_rota_override(**{**base, **changes}, actor=lead)
        assert caught.value.field == field, changes
    assert not RotaOverride.objects.exists()
    create_rota_override(**base, actor=lead)


# ---------------------------------------------------------------- iCalendar


def read_calendar(content: bytes) -> list[tuple[datetime, datetime, str, str]]:
    calendar = Calendar.from_ical(content)
    return [
        (event.start, event.end, str(event.get("x-watchfloor-username")), str(event.get("summary")))
        for event in calendar.walk("VEVENT")
    ]


def test_a_rotation_exported_as_icalendar_reads_back_as_its_schedule(rota, analyst):
    client = Client()
    client.force_login(analyst)
    response = client.get("/oncall/legal-sun.ics", {"from": "2026-03-27", "weeks": "1"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert 'filename="legal-sun.ics"' in response["Content-Disposition"]
    events = read_calendar(response.content)

    rotation = selectors.get_rotation("legal-sun", window=(utc(2026, 3, 27), utc(2026, 4, 3)))
    expected = segments(selectors.rotation_plan(rotation), utc(2026, 3, 27), utc(2026, 4, 3))
    assert [(start, end, user) for start, end, user, _ in events] == [
        (s.starts_at, s.ends_at, s.duty.member.username) for s in expected
    ]
    emea = [(start, summary) for start, _, user, summary in events if user == "lou.legal"]
    # 09:00 London every day: 09:00 UTC before the change on 29 March, 08:00 UTC after.
    assert [start.astimezone(ZoneInfo(LONDON)).time() for start, _ in emea] == [NINE] * len(emea)
    assert utc(2026, 3, 28, 9) in [start for start, _ in emea]
    assert utc(2026, 3, 29, 8) in [start for start, _ in emea]
    assert emea[0][1] == "Legal on call (EMEA): lou.legal"
    assert AuditEvent.objects.get(action=AuditAction.ROTA_EXPORTED).data["channel"] == "web"


def test_the_export_command_writes_the_same_calendar_with_overrides(rota, tmp_path, frozen_clock):
    japan = Rotation.objects.get(code="legal-japan")
    create_rota_override(
        rotation=japan,
        user=rota["tomo"],
        starts_at=local(TOKYO, 2026, 11, 27, 10),
        ends_at=local(TOKYO, 2026, 11, 28, 10),
        reason="cover",
        actor=rota["kai"],
    )
    output = tmp_path / "japan.ics"
    call_command(
        "oncall", "export", "legal-japan", "--from", "2026-11-23", "--weeks", "2", "-o", str(output)
    )
    events = read_calendar(output.read_bytes())
    assert [(start.astimezone(ZoneInfo(TOKYO)), user) for start, _, user, _ in events] == [
        (local(TOKYO, 2026, 11, 23, 9), "tomo.legal"),  # the window opens in last week's watch
        (local(TOKYO, 2026, 11, 23, 10), "kai.legal"),  # Monday's handoff
        (local(TOKYO, 2026, 11, 27, 10), "tomo.legal"),  # the override
        (local(TOKYO, 2026, 11, 28, 10), "kai.legal"),
        (local(TOKYO, 2026, 11, 30, 10), "tomo.legal"),
    ]
    calendar = Calendar.from_ical(output.read_bytes())
    override = next(e for e in calendar.walk("VEVENT") if "instead of" in str(e.get("description")))
    assert "cover" in str(override.get("description"))


def test_an_unknown_rotation_or_a_bad_window_is_refused(rota, analyst):
    client = Client()
    client.force_login(analyst)
    assert client.get("/oncall/no-such-rota.ics").status_code == 404
    assert client.get("/oncall/legal-sun.ics", {"weeks": "500"}).status_code == 400
    assert client.get("/oncall/legal-sun.ics", {"from": "yesterday"}).status_code == 400
    with pytest.raises(CommandError, match="no rotation 'nope'"):
        call_command("oncall", "export", "nope")


# ---------------------------------------------------------------- page and API


@pytest.fixture
def api_as(catalog):
    """``api_as(user)``: calls the API with a fresh token of ``user``."""

    def make(user: User) -> ApiCaller:
        _, secret = create_api_token(user=user, name="tests", scopes=["read", "write"], actor=None)
        return ApiCaller(client=Client(), token=secret, user=user)

    return make


def test_the_on_call_page_answers_for_legal_in_japan_with_local_times(
    rota, analyst, frozen_clock, django_assert_max_num_queries
):
    client = Client()
    client.force_login(analyst)
    with django_assert_max_num_queries(20):
        response = client.get("/oncall/", {"team": "legal", "market": "JP"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "kai.legal" in html and "Legal Japan" in html
    assert "rotations that cover JP" in html.lower() or "Rotations that cover JP" in html
    # Kai works in Tokyo: 09:30 there (frozen now is 00:30 UTC).
    assert "Tue 24 Nov 09:30 JST" in html
    assert "tomo.legal" not in html.split("Rotations</h2>")[0]


def test_the_on_call_page_costs_the_same_with_more_rotations(
    rota, analyst, write_rota, frozen_clock, django_assert_num_queries
):
    client = Client()
    client.force_login(analyst)
    client.get("/oncall/")  # warm the session and content types
    with django_assert_num_queries(12 + 1):  # and the header's "Needs me" count
        client.get("/oncall/")
    more = ROTA + ROTA.split("rotations:\n", 1)[1].replace("code: legal-", "code: more-legal-")
    load_rotas(path=write_rota(more), actor=None)
    assert Rotation.objects.filter(is_active=True).count() == 4
    with django_assert_num_queries(12 + 1):  # and the header's "Needs me" count
        client.get("/oncall/")


def test_the_on_call_api_answers_the_same_question(
    rota, api_as, analyst, legal_partner, frozen_clock
):
    response = api_as(analyst).get("/oncall", {"team": "legal", "market": "JP"})
    assert response.status_code == 200, response.content
    body = response.json()
    [team] = body["teams"]
    assert team["team"] == "legal" and team["basis"] == "rotations that cover JP"
    [person] = team["people"]
    assert person["username"] == "kai.legal"
    assert person["local_time"] == "2026-11-24T09:30+09:00"
    assert person["rotation"] == "legal-japan" and person["covers"] == ["JP"]
    # A partner may ask too (whom to call is not need-to-know).
    assert api_as(legal_partner).get("/oncall", {"team": "legal"}).status_code == 200


def test_the_on_call_api_names_the_field_at_fault(rota, api_as, analyst):
    caller = api_as(analyst)
    bad_market = caller.get("/oncall", {"team": "legal", "market": "XX"})
    assert (bad_market.status_code, bad_market.json()["field"]) == (400, "market")
    bad_team = caller.get("/oncall", {"team": "lawyers"})
    assert (bad_team.status_code, bad_team.json()["field"]) == (404, "team")
    naive = caller.get("/oncall", {"team": "legal", "at": "2026-11-24T09:00:00"})
    assert (naive.status_code, naive.json()["field"]) == (422, "at")


def test_overrides_through_the_api(rota, api_as, frozen_clock):
    caller = api_as(rota["kai"])
    created = caller.post(
        "/rotations/legal-japan/overrides",
        {
            "user": "tomo.legal",
            "replaces": "kai.legal",
            "starts_at": "2026-11-25T09:00:00+09:00",
            "ends_at": "2026-11-26T09:00:00+09:00",
            "reason": "swap",
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["replaces"]["username"] == "kai.legal"
    other_team = api_as(rota["cora"]).post(
        f"/rotations/legal-japan/overrides/{created.json()['id']}/cancel"
    )
    assert other_team.status_code == 403
    cancelled = caller.post(f"/rotations/legal-japan/overrides/{created.json()['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["cancelled_at"]
    rotations = caller.get("/rotations", {"team": "legal"}).json()
    assert [r["code"] for r in rotations] == ["legal-japan", "legal-sun"]


def test_the_commands_validate_and_answer_in_a_terminal(rota, write_rota):
    out = StringIO()
    call_command("rotas", "validate", str(write_rota(ROTA)), stdout=out)
    assert "valid — 2 rotation(s)" in out.getvalue()
    assert "legal-sun: legal, follow the sun, 3 shift(s)" in out.getvalue()
    out = StringIO()
    call_command(
        "oncall",
        "now",
        "--team",
        "legal",
        "--market",
        "JP",
        "--at",
        "2026-11-24T09:30+09:00",
        stdout=out,
    )
    assert "Legal (rotations that cover JP):" in out.getvalue()
    assert "kai.legal" in out.getvalue() and "Tue 09:30 Asia/Tokyo" in out.getvalue()
    with pytest.raises(CommandError, match="needs its offset"):
        call_command("oncall", "now", "--at", "2026-11-24T09:30")


def test_a_lead_adds_and_cancels_an_override_on_the_rotation_page(
    rota, lead, analyst, frozen_clock
):
    client = Client()
    client.force_login(lead)
    page = client.get("/oncall/rotations/legal-japan/").content.decode()
    assert "Add an override" in page
    # The watch on now shows when it really began (Monday 10:00 in Tokyo).
    assert "Mon 23 Nov 09:00 UTC+08" in page.split("The next 7 days")[1]
    form = {
        "override-user": "tomo.legal",
        "override-replaces": "kai.legal",
        "override-starts_at": "2026-11-25T09:00",
        "override-ends_at": "2026-11-25T08:00",
        "override-time_zone": "Asia/Tokyo",
        "override-reason": "swap",
    }
    refused = client.post("/oncall/rotations/legal-japan/overrides", form)
    assert refused.status_code == 400
    assert "the override must end after it starts" in refused.content.decode()
    added = client.post(
        "/oncall/rotations/legal-japan/overrides", {**form, "override-ends_at": "2026-11-26T09:00"}
    )
    assert added.status_code == 302
    override = RotaOverride.objects.get()
    assert override.starts_at == local(TOKYO, 2026, 11, 25, 9)
    page = client.get("/oncall/rotations/legal-japan/").content.decode()
    assert "instead of kai.legal: swap" in page
    # Site policy analysts may look but not change another team's rota.
    other = Client()
    other.force_login(analyst)
    assert "Add an override" not in other.get("/oncall/rotations/legal-japan/").content.decode()
    assert (
        other.post(f"/oncall/rotations/legal-japan/overrides/{override.pk}/cancel").status_code
        == 403
    )
    override.refresh_from_db()
    assert override.cancelled_at is None
    client.post(f"/oncall/rotations/legal-japan/overrides/{override.pk}/cancel")
    override.refresh_from_db()
    assert override.cancelled_by == lead
