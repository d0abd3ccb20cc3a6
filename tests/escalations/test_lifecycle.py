"""The escalation lifecycle: the transition table, its guards, and the audit trail it leaves.

Every (from, to) pair is enumerated: the pairs in ``models.TRANSITIONS`` succeed (given
their guards), every other pair is refused with a message naming both statuses.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.escalations.conftest import assert_next_due_is_earliest_unmet
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.selectors import verify_chain
from watchfloor.core.errors import Conflict, InvalidInput, PermissionDenied
from watchfloor.escalations import decisions, services
from watchfloor.escalations.models import TRANSITIONS, Clock, Escalation, Status

ALLOWED = sorted((source, target) for source, targets in TRANSITIONS.items() for target in targets)
DISALLOWED = sorted(
    (source, target)
    for source in Status.values
    for target in Status.values
    if target not in TRANSITIONS[source]
)
NEEDS_FINAL_DECISION = frozenset({Status.DECIDED, Status.ACTIONED})


def _pair_id(pair: tuple[str, str]) -> str:
    return f"{pair[0]}->{pair[1]}"


def _sequences() -> list[int]:
    return list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))


def _transitioned_events(escalation: Escalation):
    return AuditEvent.objects.filter(
        escalation_id=escalation.pk, action=AuditAction.ESCALATION_TRANSITIONED
    )


def test_the_table_covers_every_status_and_only_known_statuses():
    assert set(TRANSITIONS) == set(Status.values)
    for targets in TRANSITIONS.values():
        assert targets <= set(Status.values)
    assert len(ALLOWED) + len(DISALLOWED) == len(Status.values) ** 2


@pytest.mark.parametrize(("source", "target"), ALLOWED, ids=map(_pair_id, ALLOWED))
def test_each_transition_in_the_table_succeeds_and_writes_one_event(
    source, target, analyst, make_escalation, walk_to, decide, frozen_clock
):
    escalation = walk_to(make_escalation(), source)
    if target in NEEDS_FINAL_DECISION and not escalation.decisions.exists():
        decide(escalation)
    already_transitioned = _transitioned_events(escalation).count()

    moved = services.transition_escalation(
        escalation=escalation,
        to_status=target,
        actor=analyst,
        reason="confirmed by the market lead",
    )

    stored = Escalation.objects.get(pk=escalation.pk)
    assert moved.status == stored.status == target
    assert (stored.closed_at is not None) == (target == Status.CLOSED)
    events = _transitioned_events(escalation)
    assert events.count() == already_transitioned + 1
    event = events.last()
    assert event.actor == analyst
    assert event.data == {"from": source, "to": target, "reason": "confirmed by the market lead"}
    assert verify_chain().ok


@pytest.mark.parametrize(("source", "target"), DISALLOWED, ids=map(_pair_id, DISALLOWED))
def test_each_pair_outside_the_table_is_refused_naming_both_statuses(
    source, target, analyst, make_escalation, walk_to, frozen_clock
):
    # A final decision and a reason are in place, so only the table can refuse.
    escalation = walk_to(make_escalation(), source, with_decision=True)
    before = _sequences()

    with pytest.raises(Conflict) as refused:
        services.transition_escalation(
            escalation=escalation, to_status=target, actor=analyst, reason="trying anyway"
        )

    assert Status(source).label in refused.value.message
    assert Status(target).label in refused.value.message
    assert refused.value.field == "to_status"
    assert Escalation.objects.get(pk=escalation.pk).status == source
    assert _sequences() == before


def test_the_refusal_lists_where_the_escalation_can_go(analyst, make_escalation, frozen_clock):
    escalation = make_escalation()
    with pytest.raises(Conflict) as refused:
        services.transition_escalation(
            escalation=escalation, to_status=Status.ACTIONED, actor=analyst
        )
    assert refused.value.message == (
        "cannot move from New to Actioned; from New it can go to: Triaged, Investigating, Closed"
    )


def test_an_unknown_status_is_invalid_input_naming_the_field(analyst, make_escalation):
    escalation = make_escalation()
    with pytest.raises(InvalidInput) as refused:
        services.transition_escalation(escalation=escalation, to_status="done", actor=analyst)
    assert refused.value.field == "to_status"
    assert "'done'" in refused.value.message


@pytest.mark.parametrize("role_fixture", ["viewer", "legal_partner"])
def test_only_people_who_work_escalations_can_move_them(role_fixture, request, make_escalation):
    escalation = make_escalation(shared_with_team_codes=["legal"])
    with pytest.raises(PermissionDenied):
        services.transition_escalation(
            escalation=escalation,
            to_status=Status.TRIAGED,
            actor=request.getfixturevalue(role_fixture),
        )
    assert Escalation.objects.get(pk=escalation.pk).status == Status.NEW


# ---------------------------------------------------------------- guards


def test_deciding_needs_a_final_decision(analyst, lead, make_escalation, walk_to, decide):
    escalation = walk_to(make_escalation(is_high_visibility=True), Status.INVESTIGATING)

    with pytest.raises(Conflict, match="record a decision"):
        services.transition_escalation(
            escalation=escalation, to_status=Status.DECIDED, actor=analyst
        )

    pending = decide(escalation)
    with pytest.raises(Conflict, match="approved"):
        services.transition_escalation(
            escalation=escalation, to_status=Status.DECIDED, actor=analyst
        )

    decisions.approve_decision(decision=pending, actor=lead)
    decided = services.transition_escalation(
        escalation=escalation, to_status=Status.DECIDED, actor=analyst
    )
    assert decided.status == Status.DECIDED


def test_a_sent_back_decision_does_not_count_as_final(
    analyst, lead, make_escalation, walk_to, decide
):
    escalation = walk_to(make_escalation(is_high_visibility=True), Status.INVESTIGATING)
    decisions.send_back_decision(
        decision=decide(escalation), actor=lead, comment="cite the 2026 policy version"
    )
    with pytest.raises(Conflict):
        services.transition_escalation(
            escalation=escalation, to_status=Status.DECIDED, actor=analyst
        )


@pytest.mark.parametrize("reason", ["", "   "])
def test_closing_without_a_decision_needs_a_reason(reason, analyst, make_escalation):
    escalation = make_escalation()
    with pytest.raises(InvalidInput) as refused:
        services.transition_escalation(
            escalation=escalation, to_status=Status.CLOSED, actor=analyst, reason=reason
        )
    assert refused.value.field == "reason"
    assert Escalation.objects.get(pk=escalation.pk).status == Status.NEW


def test_closing_after_a_final_decision_needs_no_reason(analyst, make_escalation, walk_to):
    escalation = walk_to(make_escalation(), Status.ACTIONED)
    closed = services.transition_escalation(
        escalation=escalation, to_status=Status.CLOSED, actor=analyst
    )
    assert closed.status == Status.CLOSED


def test_reopening_needs_a_reason(analyst, make_escalation, walk_to, frozen_clock):
    escalation = walk_to(make_escalation(), Status.CLOSED)
    with pytest.raises(InvalidInput) as refused:
        services.transition_escalation(
            escalation=escalation, to_status=Status.INVESTIGATING, actor=analyst
        )
    assert refused.value.field == "reason"

    reopened = services.transition_escalation(
        escalation=escalation,
        to_status=Status.INVESTIGATING,
        actor=analyst,
        reason="the account is posting again",
    )
    assert reopened.status == Status.INVESTIGATING
    assert reopened.closed_at is None


@pytest.mark.parametrize("target", Status.values)
def test_a_merged_escalation_cannot_move_at_all(target, analyst, make_escalation):
    duplicate = make_escalation(title="Second report of the donation scam")
    survivor = make_escalation()
    services.merge_escalation(duplicate=duplicate, into=survivor, actor=analyst, reason="same")
    before = _sequences()

    with pytest.raises(Conflict) as refused:
        services.transition_escalation(
            escalation=duplicate, to_status=target, actor=analyst, reason="reopen it"
        )

    assert survivor.reference in refused.value.message
    assert Escalation.objects.get(pk=duplicate.pk).status == Status.CLOSED
    assert _sequences() == before


# ---------------------------------------------------------------- atomicity


def test_a_failure_part_way_through_leaves_neither_change_nor_event(
    analyst, make_escalation, monkeypatch, frozen_clock
):
    escalation = make_escalation()
    before = _sequences()
    write_event = services.record_event

    def write_then_fail(**kwargs):
        write_event(**kwargs)
        raise RuntimeError("connection to the database was lost")

    monkeypatch.setattr(services, "record_event", write_then_fail)
    with pytest.raises(RuntimeError):
        services.transition_escalation(
            escalation=escalation, to_status=Status.TRIAGED, actor=analyst
        )
    monkeypatch.undo()

    stored = Escalation.objects.get(pk=escalation.pk)
    assert stored.status == Status.NEW
    assert stored.clocks.get(kind=Clock.Kind.ACKNOWLEDGE).met_at is None
    assert _sequences() == before
    # The chain carries on from where it was, as if the attempt never happened.
    services.transition_escalation(escalation=escalation, to_status=Status.TRIAGED, actor=analyst)
    assert verify_chain().ok
    assert _transitioned_events(escalation).count() == 1


# ---------------------------------------------------------------- random walks

STEPS = st.lists(
    st.tuples(
        st.sampled_from(Status.values),  # where to try to go
        st.booleans(),  # record a final decision first
        st.booleans(),  # give a reason
    ),
    max_size=12,
)


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_random_walks_follow_the_table_and_keep_the_chain_intact(
    steps, analyst, make_escalation, decide, frozen_clock
):
    escalation = make_escalation(rubric_answers={})  # SEV4: decisions are final at once
    status, has_final_decision, moves = Status.NEW, False, 0
    for target, decide_first, with_reason in steps:
        if decide_first and status != Status.CLOSED:
            decide(escalation)
            has_final_decision = True
        reason = "checked with the market lead" if with_reason else ""
        should_move = (
            target in TRANSITIONS[status]
            and (target not in NEEDS_FINAL_DECISION or has_final_decision)
            and (target != Status.CLOSED or has_final_decision or with_reason)
            and (status != Status.CLOSED or with_reason)
        )
        try:
            services.transition_escalation(
                escalation=escalation, to_status=target, actor=analyst, reason=reason
            )
        except (Conflict, InvalidInput):
            assert not should_move, f"{status} -> {target} was refused"
        else:
            assert should_move, f"{status} -> {target} was allowed"
            status, moves = target, moves + 1
        stored = Escalation.objects.get(pk=escalation.pk)
        assert stored.status == status
        assert stored.status in Status.values
        assert_next_due_is_earliest_unmet(stored)
    assert _transitioned_events(escalation).count() == moves
    assert verify_chain().ok
