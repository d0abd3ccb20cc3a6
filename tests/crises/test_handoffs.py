"""Follow-the-sun handoffs: when each region takes over (in its own wall time, across
daylight-saving changes), the packet, and the confirm → acknowledge exchange."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.conftest import DEFAULT_NOW
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, PermissionDenied
from watchfloor.crises import selectors, services
from watchfloor.crises.config import Region, crisis_config
from watchfloor.crises.models import Handoff, Level
from watchfloor.crises.shifts import local_handoff, next_handoff_time, previous_handoff_time


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def regions():
    return crisis_config().settings.handoffs.regions


@pytest.mark.parametrize(
    ("now", "at", "handover"),
    [
        # Winter: Singapore 09:00 = 01:00 UTC, London 09:00 GMT, New York 09:00 EST.
        (utc(2026, 1, 15, 0, 30), utc(2026, 1, 15, 1, 0), "americas→apac"),
        (utc(2026, 1, 15, 2, 0), utc(2026, 1, 15, 9, 0), "apac→emea"),
        (utc(2026, 1, 15, 10, 0), utc(2026, 1, 15, 14, 0), "emea→americas"),
        (utc(2026, 1, 15, 15, 0), utc(2026, 1, 16, 1, 0), "americas→apac"),
        # New York has sprung forward (8 March), London not yet (29 March).
        (utc(2026, 3, 20, 2, 0), utc(2026, 3, 20, 9, 0), "apac→emea"),
        (utc(2026, 3, 20, 10, 0), utc(2026, 3, 20, 13, 0), "emea→americas"),
        # The morning London springs forward: 09:00 BST is 08:00 UTC.
        (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 0), "americas→apac"),
        (utc(2026, 3, 29, 2, 0), utc(2026, 3, 29, 8, 0), "apac→emea"),
        # Summer.
        (utc(2026, 7, 1, 2, 0), utc(2026, 7, 1, 8, 0), "apac→emea"),
        (utc(2026, 7, 1, 9, 0), utc(2026, 7, 1, 13, 0), "emea→americas"),
        # London has fallen back (25 October), New York not yet (1 November).
        (utc(2026, 10, 28, 2, 0), utc(2026, 10, 28, 9, 0), "apac→emea"),
        (utc(2026, 10, 28, 10, 0), utc(2026, 10, 28, 13, 0), "emea→americas"),
        # Exactly at a handoff, the next one is the following region's.
        (utc(2026, 11, 24, 1, 0), utc(2026, 11, 24, 9, 0), "apac→emea"),
    ],
)
def test_the_next_handoff_in_each_regions_wall_time(regions, now, at, handover):
    handoff = next_handoff_time(regions, now)
    assert handoff.at == at
    assert f"{handoff.from_region.code}→{handoff.to_region.code}" == handover
    assert handoff.local_at.hour == 9 and handoff.local_at.minute == 0


def test_a_shift_is_an_hour_shorter_when_its_region_springs_forward(regions):
    apac = next_handoff_time(regions, utc(2026, 3, 29, 0, 0))
    emea = next_handoff_time(regions, apac.at)
    americas = next_handoff_time(regions, emea.at)
    back_to_apac = next_handoff_time(regions, americas.at)
    assert [h.to_region.code for h in (apac, emea, americas, back_to_apac)] == [
        "apac",
        "emea",
        "americas",
        "apac",
    ]
    assert emea.at - apac.at == timedelta(hours=7)  # APAC's shift that day
    assert americas.at - emea.at == timedelta(hours=5)
    assert back_to_apac.at - americas.at == timedelta(hours=12)


def test_local_times_the_clocks_skip_or_repeat():
    early = Region(
        code="ny_night", name="NY night", time_zone="America/New_York", handoff_at="02:30"
    )
    # 8 March 2026: 02:00–03:00 does not exist in New York; 02:30 reads as 03:30 EDT.
    assert local_handoff(early, date(2026, 3, 8)) == utc(2026, 3, 8, 7, 30)
    late = Region(code="ny_late", name="NY late", time_zone="America/New_York", handoff_at="01:30")
    # 1 November 2026: 01:30 happens twice; the first (EDT) is taken.
    assert local_handoff(late, date(2026, 11, 1)) == utc(2026, 11, 1, 5, 30)


def test_previous_and_next_agree(regions):
    now = utc(2026, 3, 29, 5, 0)
    before, after = previous_handoff_time(regions, now), next_handoff_time(regions, now)
    assert before.at == utc(2026, 3, 29, 1, 0) and after.at == utc(2026, 3, 29, 8, 0)
    assert before.to_region == after.from_region


# ---------------------------------------------------------------- per crisis


@pytest.mark.usefixtures("frozen_clock")
def test_next_handoff_of_a_crisis_follows_the_injected_clock(crisis, analyst):
    handoff = services.next_handoff(crisis)
    assert handoff.at == utc(2026, 11, 24, 1, 0) and handoff.to_region.code == "apac"
    clock.advance(timedelta(hours=1))
    assert services.next_handoff(crisis).at == utc(2026, 11, 24, 9, 0)
    assert services.next_handoff(crisis, utc(2026, 11, 24, 10, 0)).at == utc(2026, 11, 24, 14, 0)
    for level in (Level.STAND_DOWN, Level.CLOSED):
        crisis = services.change_level(crisis=crisis, to_level=level, actor=analyst, reason="done")
    assert services.next_handoff(crisis) is None


@pytest.mark.usefixtures("frozen_clock")
def test_the_handoff_just_past_stays_in_play_until_acknowledged(crisis, analyst, other_analyst):
    config = crisis_config()

    def in_play():
        return selectors.handoff_in_play(
            crisis, clock.now(), config=config, recorded=list(Handoff.objects.filter(crisis=crisis))
        )

    assert in_play().at == utc(2026, 11, 24, 1, 0)
    clock.advance(timedelta(hours=1))  # 01:30 UTC, half an hour after APAC took over
    assert in_play().at == utc(2026, 11, 24, 1, 0)
    handoff = services.confirm_handoff(
        crisis=crisis, actor=analyst, incoming_commander=other_analyst
    )
    assert in_play().at == utc(2026, 11, 24, 1, 0)
    services.acknowledge_handoff(handoff=handoff, actor=other_analyst)
    assert in_play().at == utc(2026, 11, 24, 9, 0)


@pytest.mark.usefixtures("frozen_clock")
def test_a_handoff_before_the_declaration_is_not_the_crisis_own(declare):
    clock.advance(timedelta(hours=1))  # declared at 01:30 UTC, after APAC's 01:00 handoff
    crisis = declare()
    assert selectors.handoff_in_play(
        crisis, clock.now(), config=crisis_config(), recorded=[]
    ).at == utc(2026, 11, 24, 9, 0)


@pytest.mark.usefixtures("frozen_clock")
def test_confirm_then_acknowledge_hands_command_over(crisis, analyst, other_analyst, escalation):
    from watchfloor.escalations.decisions import record_decision

    record_decision(
        escalation=escalation,
        actor=analyst,
        policy_code="violent_extremism",
        action_code="remove_content",
        scope="Copies of the stream",
        rationale="Perpetrator-produced attack footage.",
    )
    handoff = services.confirm_handoff(
        crisis=crisis,
        actor=analyst,
        incoming_commander=other_analyst,
        risks="Copycat accounts expected after the evening news.",
        handoff_at=utc(2026, 11, 24, 1, 0),
    )
    packet = handoff.packet
    assert (packet["from_region"], packet["to_region"]) == ("americas", "apac")
    assert packet["handoff_at"] == "2026-11-24T01:00:00+00:00"
    assert packet["shift_ends_at"] == "2026-11-24T09:00:00+00:00"
    assert packet["owners_changing"] == [
        {"role": "Incident commander", "from": "aiko.analyst", "to": "ben.analyst"}
    ]
    assert [d["escalation"] for d in packet["open_decisions"]] == [escalation.reference]
    # The next shift's deadlines: the sitrep (04:30 UTC) and the shift's end.
    assert [d["label"] for d in packet["deadlines"]] == ["Sitrep due", "Handoff APAC → EMEA"]
    assert any("Roles open: Deputy commander" in risk["text"] for risk in packet["risks"])
    assert packet["risks_noted"] == "Copycat accounts expected after the evening news."
    assert packet["state"]["level"] == "Incident"

    assert selectors.commander_of(crisis) == analyst  # not until acknowledged
    with pytest.raises(PermissionDenied):
        services.acknowledge_handoff(handoff=handoff, actor=analyst)
    services.acknowledge_handoff(handoff=handoff, actor=other_analyst, note="Got it.")
    assert selectors.commander_of(crisis) == other_analyst
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.ACKNOWLEDGED and handoff.acknowledged_at == DEFAULT_NOW

    actions = list(
        AuditEvent.objects.filter(action__startswith="crisis.handoff").values_list(
            "action", flat=True
        )
    )
    assert actions == [
        AuditAction.CRISIS_HANDOFF_CONFIRMED,
        AuditAction.CRISIS_HANDOFF_ACKNOWLEDGED,
    ]
    handover = AuditEvent.objects.filter(action=AuditAction.CRISIS_ROLE_ASSIGNED).last()
    assert handover.data["to"] == other_analyst.username
    assert handover.data["note"] == "follow-the-sun handoff americas → apac: Got it."
    with pytest.raises(Conflict):
        services.acknowledge_handoff(handoff=handoff, actor=other_analyst)


@pytest.mark.usefixtures("frozen_clock")
def test_only_the_outgoing_commander_confirms_and_only_once(crisis, analyst, other_analyst, lead):
    with pytest.raises(PermissionDenied):
        services.confirm_handoff(crisis=crisis, actor=lead, incoming_commander=other_analyst)
    with pytest.raises(Conflict) as stale:
        services.confirm_handoff(
            crisis=crisis,
            actor=analyst,
            incoming_commander=other_analyst,
            handoff_at=utc(2026, 11, 24, 9, 0),
        )
    assert "reload" in stale.value.message
    services.confirm_handoff(crisis=crisis, actor=analyst, incoming_commander=other_analyst)
    with pytest.raises(Conflict):
        services.confirm_handoff(crisis=crisis, actor=analyst, incoming_commander=lead)


@pytest.mark.usefixtures("frozen_clock")
def test_handing_over_to_oneself_keeps_command(crisis, analyst):
    handoff = services.confirm_handoff(crisis=crisis, actor=analyst, incoming_commander=analyst)
    assert handoff.packet["owners_changing"] == []
    services.acknowledge_handoff(handoff=handoff, actor=analyst)
    assert selectors.commander_of(crisis) == analyst
    assert not AuditEvent.objects.filter(
        action=AuditAction.CRISIS_ROLE_ASSIGNED, data__note__startswith="follow-the-sun"
    ).exists()
