"""Crisis levels: the table, its guards, and what each change writes to the log."""

from __future__ import annotations

import pytest

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core.errors import Conflict, InvalidInput, PermissionDenied
from watchfloor.crises import services
from watchfloor.crises.models import (
    DECLARABLE_LEVELS,
    LEVEL_TRANSITIONS,
    Crisis,
    Level,
    Review,
)

pytestmark = pytest.mark.usefixtures("frozen_clock")

# How to reach each level from a crisis declared at incident, through the table.
PATHS: dict[str, list[str]] = {
    Level.MONITORING: [Level.MONITORING],
    Level.INCIDENT: [],
    Level.CRISIS_PROTOCOL: [Level.CRISIS_PROTOCOL],
    Level.STAND_DOWN: [Level.STAND_DOWN],
    Level.CLOSED: [Level.STAND_DOWN, Level.CLOSED],
}
CONFIRMED = ["comms_agree", "regions_agree"]


def move(crisis, to_level, actor, reason="because the situation changed", **extra):
    return services.change_level(
        crisis=crisis, to_level=to_level, actor=actor, reason=reason, **extra
    )


def at_level(declare, analyst, level):
    crisis = declare()
    for step in PATHS[level]:
        crisis = move(crisis, step, analyst)
    assert crisis.level == level
    return crisis


def test_every_level_has_a_row_and_closed_is_final():
    assert set(LEVEL_TRANSITIONS) == set(Level.values)
    assert LEVEL_TRANSITIONS[Level.CLOSED] == frozenset()
    # Closed is reached from stand-down only.
    assert [level for level, targets in LEVEL_TRANSITIONS.items() if Level.CLOSED in targets] == [
        Level.STAND_DOWN
    ]
    assert Level.CLOSED not in DECLARABLE_LEVELS and Level.STAND_DOWN not in DECLARABLE_LEVELS


@pytest.mark.parametrize("start", Level.values)
@pytest.mark.parametrize("target", Level.values)
def test_the_table_decides_every_move(declare, analyst, start, target):
    crisis = at_level(declare, analyst, start)
    if target in LEVEL_TRANSITIONS[start]:
        moved = move(crisis, target, analyst)
        assert moved.level == target
        assert moved.is_active == (target != Level.CLOSED)
    else:
        with pytest.raises(Conflict) as refused:
            move(crisis, target, analyst)
        assert refused.value.field == "to_level"
        assert Crisis.objects.get(pk=crisis.pk).level == start


def test_a_refused_move_says_where_the_crisis_can_go(crisis, analyst):
    with pytest.raises(Conflict) as refused:
        move(crisis, Level.CLOSED, analyst)
    assert "stand it down first" in refused.value.message
    assert "Monitoring, Crisis protocol active, Stand-down" in refused.value.message


def test_every_change_needs_a_reason_and_records_it(crisis, analyst):
    with pytest.raises(InvalidInput) as refused:
        move(crisis, Level.CRISIS_PROTOCOL, analyst, reason="  ")
    assert refused.value.field == "reason"
    move(crisis, Level.CRISIS_PROTOCOL, analyst, reason="Attack content on three platforms")
    event = AuditEvent.objects.filter(action=AuditAction.CRISIS_LEVEL_CHANGED).get()
    assert event.data["from"] == "incident" and event.data["to"] == "crisis_protocol"
    assert event.data["reason"] == "Attack content on three platforms"
    assert event.data["crisis_id"] == crisis.pk
    # Declared from an (unrestricted) escalation: the change reads on its timeline too.
    assert event.escalation_id == crisis.declared_from_id


def test_standing_down_with_criteria_unmet_needs_a_reason(crisis, analyst):
    # The escalation is still new: the first criterion is not met.
    with pytest.raises(InvalidInput) as refused:
        services.change_level(
            crisis=crisis, to_level=Level.STAND_DOWN, actor=analyst, confirmed_criteria=CONFIRMED
        )
    assert refused.value.field == "reason"
    assert "Every linked escalation is decided, actioned or closed" in refused.value.message
    moved = services.change_level(
        crisis=crisis,
        to_level=Level.STAND_DOWN,
        actor=analyst,
        reason="Re-uploads have stopped; the case carries on as SEV1",
        confirmed_criteria=CONFIRMED,
    )
    assert moved.level == Level.STAND_DOWN and moved.stood_down_at is not None
    event = AuditEvent.objects.filter(action=AuditAction.CRISIS_LEVEL_CHANGED).get()
    assert event.data["unmet"] == ["Every linked escalation is decided, actioned or closed"]
    criteria = {c["code"]: c for c in event.data["criteria"]}
    assert criteria["escalations_settled"]["met"] is False
    # Blocker by blocker, with the escalation each names, so readers see only theirs.
    assert criteria["escalations_settled"]["blockers"] == [
        {"escalation_id": crisis.declared_from_id, "text": f"WF-{crisis.declared_from_id} is new"}
    ]
    assert criteria["comms_agree"] == {
        "code": "comms_agree",
        "label": "Communications agree the public line can stand down",
        "met": True,
        "how": "confirmed",
        "blockers": [],
    }


def test_unconfirmed_criteria_count_as_unmet(declare, settled_escalation, analyst):
    crisis = declare(declared_from=settled_escalation)
    with pytest.raises(InvalidInput) as refused:
        services.change_level(crisis=crisis, to_level=Level.STAND_DOWN, actor=analyst)
    assert "Communications agree" in refused.value.message
    assert "Every linked escalation" not in refused.value.message


def test_standing_down_with_every_criterion_met_needs_no_reason(
    declare, settled_escalation, analyst
):
    crisis = declare(declared_from=settled_escalation)
    moved = services.change_level(
        crisis=crisis, to_level=Level.STAND_DOWN, actor=analyst, confirmed_criteria=CONFIRMED
    )
    assert moved.level == Level.STAND_DOWN
    event = AuditEvent.objects.filter(action=AuditAction.CRISIS_LEVEL_CHANGED).get()
    assert event.data["reason"] == "all stand-down criteria met" and event.data["unmet"] == []
    # The post-incident review opens, pre-filled, at the stand-down.
    assert Review.objects.filter(crisis=crisis).exists()


def test_an_unknown_criterion_is_named(crisis, analyst):
    with pytest.raises(InvalidInput) as refused:
        services.change_level(
            crisis=crisis,
            to_level=Level.STAND_DOWN,
            actor=analyst,
            reason="ok",
            confirmed_criteria=["moon_is_full"],
        )
    assert "moon_is_full" in refused.value.message


def test_a_flare_up_goes_back_up_from_stand_down(crisis, analyst):
    crisis = move(crisis, Level.STAND_DOWN, analyst)
    crisis = move(crisis, Level.CRISIS_PROTOCOL, analyst, reason="New copies in Korea")
    assert crisis.level == Level.CRISIS_PROTOCOL and crisis.stood_down_at is None


def test_a_closed_crisis_stays_closed(declare, analyst):
    crisis = at_level(declare, analyst, Level.CLOSED)
    assert crisis.closed_at is not None and not crisis.is_active
    assert crisis.next_sitrep_due_at is None
    with pytest.raises(Conflict) as refused:
        move(crisis, Level.INCIDENT, analyst)
    assert "declare a new crisis" in refused.value.message


def test_who_may_change_the_level(crisis, other_analyst, lead, viewer, analyst):
    # The declarer commands; another analyst does not, a lead does.
    with pytest.raises(PermissionDenied):
        move(crisis, Level.CRISIS_PROTOCOL, other_analyst)
    with pytest.raises(PermissionDenied):
        move(crisis, Level.CRISIS_PROTOCOL, viewer)
    assert move(crisis, Level.CRISIS_PROTOCOL, lead).level == Level.CRISIS_PROTOCOL
    services.hand_over_role(
        crisis=crisis, role="deputy", to_user=other_analyst, actor=analyst, note="covering nights"
    )
    assert move(crisis, Level.INCIDENT, other_analyst).level == Level.INCIDENT


def test_declaring_needs_a_declarable_level_a_title_and_a_role_that_may(declare, viewer):
    with pytest.raises(InvalidInput) as refused:
        declare(level="stand_down")
    assert refused.value.field == "level"
    with pytest.raises(InvalidInput) as refused:
        declare(title=" ")
    assert refused.value.field == "title"
    with pytest.raises(PermissionDenied):
        services.declare_crisis(actor=viewer, title="Seen from the sidelines")


def test_declaring_from_an_escalation_links_it_and_takes_its_scope(crisis, escalation, analyst):
    assert crisis.declared_from == escalation
    link = crisis.links.get()
    assert link.escalation == escalation and link.is_origin
    assert [m.code for m in crisis.markets.all()] == ["JP"]
    assert crisis.languages == ["ja"]
    event = AuditEvent.objects.filter(action=AuditAction.CRISIS_DECLARED).get()
    assert event.escalation_id == escalation.pk
    assert event.data["crisis_id"] == crisis.pk
    assert event.data["declared_from"] == escalation.reference
    assert event.data["commander"] == analyst.username


def test_a_restricted_crisis_never_writes_to_an_escalations_timeline(declare, analyst):
    crisis = declare(is_restricted=True)
    move(crisis, Level.CRISIS_PROTOCOL, analyst)
    events = AuditEvent.objects.filter(action__startswith="crisis.")
    assert events.count() >= 3
    assert all(event.escalation_id is None for event in events)
    assert all(event.data["crisis_id"] == crisis.pk for event in events)


def test_every_crisis_write_is_audited_with_the_crisis_id(crisis, analyst, other_analyst):
    before = AuditEvent.objects.count()
    note = services.add_crisis_note(crisis=crisis, body="Stream removed", actor=analyst)
    services.set_fact_pinned(note=note, pinned=True, actor=analyst)
    services.hand_over_role(crisis=crisis, role="scribe", to_user=other_analyst, actor=analyst)
    services.release_role(crisis=crisis, role="scribe", actor=analyst, note="shift ended")
    services.update_crisis(
        crisis=crisis,
        actor=analyst,
        title="Osaka attack video (JP, KR)",
        summary="",
        markets=["JP", "KR"],
        languages=["ja", "ko"],
    )
    services.set_crisis_access(
        crisis=crisis, actor=analyst, is_restricted=True, access_usernames=[]
    )
    written = list(AuditEvent.objects.filter(sequence__gt=before).order_by("sequence"))
    assert [e.action for e in written] == [
        "crisis.note_added",
        "crisis.fact_pinned",
        "crisis.role_assigned",
        "crisis.role_released",
        "crisis.updated",
        "crisis.access_changed",
    ]
    assert all(e.data["crisis_id"] == crisis.pk for e in written)
    updated = written[4].data
    assert updated["before"]["markets"] == ["JP"] and updated["after"]["markets"] == ["JP", "KR"]
    assert "summary" not in updated["after"]


def test_declaring_from_an_escalation_pages_its_people(declare, escalation, analyst):
    from watchfloor.notify.models import Engagement

    with patch_notify() as calls:
        declare()
        declare(declared_from=None, title="From scratch")
    assert calls == [(escalation.pk, "created", analyst.username)]
    # Through the real engine: the escalation's policy runs once, whatever the repeats.
    declare(title="Second crisis on the same escalation")
    declare(title="Third")
    assert Engagement.objects.filter(escalation=escalation, status="active").count() <= 1


def patch_notify():
    from contextlib import contextmanager
    from unittest import mock

    @contextmanager
    def recording():
        calls: list[tuple[int, str, str]] = []

        def record(*, escalation, event, actor):
            calls.append((escalation.pk, event, actor.username))

        with mock.patch("watchfloor.crises.services.common.notify_escalation_event", record):
            yield calls

    return recording()
