"""Roles: who may hold each, handovers with notes, and the commander who is never missing."""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core.errors import Conflict, InvalidInput, WatchfloorError
from watchfloor.crises import permissions, selectors, services
from watchfloor.crises.models import Level, RoleAssignment, RoleKind

pytestmark = pytest.mark.usefixtures("frozen_clock")


def current(crisis) -> list[RoleAssignment]:
    return list(RoleAssignment.objects.filter(crisis=crisis, ended_at__isnull=True))


def commanders(crisis) -> list[str]:
    return [a.holder.username for a in current(crisis) if a.role == RoleKind.INCIDENT_COMMANDER]


def test_the_declarer_commands_unless_someone_else_is_named(declare, analyst, other_analyst):
    assert commanders(declare()) == [analyst.username]
    assert commanders(declare(commander=other_analyst)) == [other_analyst.username]


def test_the_commander_at_declaration_must_be_able_to_command(declare, viewer):
    with pytest.raises(InvalidInput) as refused:
        declare(commander=viewer)
    assert refused.value.field == "holder" and "viewer" in refused.value.message


def test_a_handover_is_audited_with_its_note(crisis, analyst, other_analyst):
    services.hand_over_role(
        crisis=crisis,
        role=RoleKind.INCIDENT_COMMANDER,
        to_user=other_analyst,
        actor=analyst,
        note="Ben has the EMEA shift; open asks are in the timeline",
    )
    assert commanders(crisis) == [other_analyst.username]
    event = AuditEvent.objects.filter(action=AuditAction.CRISIS_ROLE_ASSIGNED).last()
    assert event.data == {
        "crisis_id": crisis.pk,
        "crisis": crisis.reference,
        "role": "incident_commander",
        "role_label": "Incident commander",
        "market": "",
        "from": analyst.username,
        "to": other_analyst.username,
        "note": "Ben has the EMEA shift; open asks are in the timeline",
    }
    history = list(RoleAssignment.objects.filter(crisis=crisis).order_by("pk"))
    assert [a.holder for a in history] == [analyst, other_analyst]
    assert history[0].ended_at is not None and history[0].ended_by == analyst
    assert history[1].note.startswith("Ben has the EMEA shift")


def test_handing_over_command_needs_a_successor(crisis, analyst):
    with pytest.raises(InvalidInput) as refused:
        services.hand_over_role(
            crisis=crisis, role=RoleKind.INCIDENT_COMMANDER, to_user=None, actor=analyst
        )
    assert "successor" in refused.value.message
    with pytest.raises(Conflict) as refused:
        services.release_role(crisis=crisis, role=RoleKind.INCIDENT_COMMANDER, actor=analyst)
    assert "cannot be left empty" in refused.value.message
    assert commanders(crisis) == [analyst.username]


def test_a_role_cannot_be_handed_to_its_holder(crisis, analyst):
    with pytest.raises(Conflict):
        services.hand_over_role(
            crisis=crisis, role=RoleKind.INCIDENT_COMMANDER, to_user=analyst, actor=analyst
        )


def test_other_roles_can_be_left_open(crisis, analyst, other_analyst):
    services.hand_over_role(crisis=crisis, role="scribe", to_user=other_analyst, actor=analyst)
    services.release_role(crisis=crisis, role="scribe", actor=analyst, note="end of shift")
    assert [a.role for a in current(crisis)] == ["incident_commander"]
    with pytest.raises(Conflict):
        services.release_role(crisis=crisis, role="scribe", actor=analyst)


def test_regional_leads_cover_one_of_the_crisis_markets(crisis, analyst, other_analyst):
    with pytest.raises(InvalidInput) as refused:
        services.hand_over_role(
            crisis=crisis, role="regional_lead", to_user=other_analyst, actor=analyst
        )
    assert refused.value.field == "market"
    with pytest.raises(InvalidInput) as refused:
        services.hand_over_role(
            crisis=crisis, role="regional_lead", to_user=other_analyst, actor=analyst, market="KR"
        )
    assert "not one of CR-" in refused.value.message
    lead_jp = services.hand_over_role(
        crisis=crisis, role="regional_lead", to_user=other_analyst, actor=analyst, market="jp"
    )
    assert lead_jp.market_code == "JP" and lead_jp.role_label == "Regional lead (JP)"
    slots = selectors.role_slots(market_codes=["JP", "KR"], current=current(crisis))
    assert [(s.label, s.holder) for s in slots if s.role == "regional_lead"] == [
        ("Regional lead (JP)", other_analyst),
        ("Regional lead (KR)", None),
    ]
    # Every role is shown, held or open.
    assert len(slots) == len(RoleKind.values) + 1


def test_a_partner_holds_only_their_teams_liaison_role_and_only_if_they_see_the_crisis(
    declare, make_escalation, analyst, legal_partner
):
    private = declare(title="Not shared with Legal")
    with pytest.raises(InvalidInput) as refused:
        services.hand_over_role(
            crisis=private, role="legal_liaison", to_user=legal_partner, actor=analyst
        )
    assert "cannot see" in refused.value.message

    shared = make_escalation(title="Court order", shared_with_team_codes=["legal"])
    crisis = declare(declared_from=shared)
    with pytest.raises(InvalidInput) as refused:
        services.hand_over_role(crisis=crisis, role="scribe", to_user=legal_partner, actor=analyst)
    assert "liaison roles only" in refused.value.message
    with pytest.raises(InvalidInput) as refused:
        services.hand_over_role(
            crisis=crisis, role="communications_liaison", to_user=legal_partner, actor=analyst
        )
    assert "is not in the communications team" in refused.value.message
    liaison = services.hand_over_role(
        crisis=crisis, role="legal_liaison", to_user=legal_partner, actor=analyst
    )
    assert liaison.holder == legal_partner


def test_on_a_restricted_crisis_holders_come_from_the_access_list(declare, analyst, other_analyst):
    crisis = declare(is_restricted=True)
    with pytest.raises(InvalidInput) as refused:
        services.hand_over_role(crisis=crisis, role="deputy", to_user=other_analyst, actor=analyst)
    assert "access list" in refused.value.message
    services.set_crisis_access(
        crisis=crisis, actor=analyst, is_restricted=True, access_usernames=[other_analyst.username]
    )
    services.hand_over_role(crisis=crisis, role="deputy", to_user=other_analyst, actor=analyst)
    # Restricting keeps every current holder on the list.
    services.set_crisis_access(
        crisis=crisis, actor=analyst, is_restricted=True, access_usernames=[]
    )
    assert set(crisis.access_list.values_list("username", flat=True)) == {
        analyst.username,
        other_analyst.username,
    }


def test_roles_of_a_closed_crisis_are_kept_as_they_were(crisis, analyst, other_analyst):
    for level in (Level.STAND_DOWN, Level.CLOSED):
        crisis = services.change_level(crisis=crisis, to_level=level, actor=analyst, reason="done")
    with pytest.raises(Conflict):
        services.hand_over_role(crisis=crisis, role="deputy", to_user=other_analyst, actor=analyst)
    assert commanders(crisis) == [analyst.username]


# ---------------------------------------------------------------- the invariant

ROLES = ["incident_commander", "deputy", "scribe", "policy_lead", "regional_lead", "legal_liaison"]
LEVELS = list(Level.values)
operations = st.one_of(
    st.tuples(st.just("hand_over"), st.sampled_from(ROLES), st.integers(0, 5)),
    st.tuples(st.just("release"), st.sampled_from(ROLES), st.just(0)),
    st.tuples(st.just("level"), st.sampled_from(LEVELS), st.just(0)),
)


def test_the_commander_is_never_empty_while_the_crisis_is_active(
    declare, lead, analyst, other_analyst, legal_partner, viewer, make_escalation
):
    shared = make_escalation(title="Shared with Legal", shared_with_team_codes=["legal"])
    people = [analyst, other_analyst, lead, legal_partner, viewer, None]

    @settings(max_examples=60, deadline=None)
    @given(st.lists(operations, max_size=14))
    def run(steps):
        with transaction.atomic():
            crisis = declare(actor=lead, declared_from=shared)
            for kind, target, who in steps:
                market = "JP" if target == "regional_lead" else ""
                try:
                    if kind == "hand_over":
                        services.hand_over_role(
                            crisis=crisis,
                            role=target,
                            to_user=people[who],
                            actor=lead,
                            note="random handover",
                            market=market,
                        )
                    elif kind == "release":
                        services.release_role(crisis=crisis, role=target, actor=lead, market=market)
                    else:
                        crisis = services.change_level(
                            crisis=crisis,
                            to_level=target,
                            actor=lead,
                            reason="random move",
                            confirmed_criteria=["comms_agree", "regions_agree"],
                        )
                except WatchfloorError:
                    pass
                crisis.refresh_from_db()
                held = current(crisis)
                # Exactly one commander, always (closing keeps the last one).
                assert len(commanders(crisis)) == 1
                # One holder per role (per market), and each may see the crisis.
                keys = [(a.role, a.market_code) for a in held]
                assert len(keys) == len(set(keys))
                for assignment in held:
                    assert permissions.may_see(assignment.holder, crisis)
                    assert assignment.holder.role != "viewer"
            # The history is the handovers: every ended holding has a successor or was
            # released on purpose, never the commander's.
            ended = RoleAssignment.objects.filter(crisis=crisis, ended_at__isnull=False)
            for assignment in ended.filter(role=RoleKind.INCIDENT_COMMANDER):
                assert (
                    RoleAssignment.objects.filter(
                        crisis=crisis,
                        role=RoleKind.INCIDENT_COMMANDER,
                        started_at__gte=assignment.ended_at,
                    )
                    .exclude(pk=assignment.pk)
                    .exists()
                )
            transaction.set_rollback(True)

    run()
