""" "Needs me": what waits on the signed-in person, kind by kind, with need to know applied
to the rows and to the header's count alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.crises.conftest import signed_in
from tests.escalations.conftest import SEVERITY_ANSWERS
from watchfloor.core import clock
from watchfloor.crises.needs_me import NeedKind, needs_me, needs_me_count
from watchfloor.escalations.decisions import record_decision
from watchfloor.escalations.severity_changes import propose_downgrade

pytestmark = pytest.mark.usefixtures("frozen_clock")


def kinds(user) -> list[str]:
    return [row.kind for row in needs_me(user)]


def propose_removal(escalation, actor):
    return record_decision(
        escalation=escalation,
        actor=actor,
        policy_code="violent_extremism",
        action_code="remove_content",
        scope="The re-uploads listed",
        rationale="Footage of the attack.",
    )


@pytest.fixture
def sev1(make_escalation):
    return make_escalation(
        title="Livestreamed attack in Osaka", markets=["JP"], rubric_answers=SEVERITY_ANSWERS[1]
    )


def test_a_decision_awaiting_approval_waits_on_a_lead_not_on_its_proposer(
    sev1, analyst, other_analyst, lead
):
    decision = propose_removal(sev1, analyst)
    assert decision.state == "pending_approval"

    rows = needs_me(lead)
    assert [row.kind for row in rows] == [NeedKind.APPROVAL]
    assert rows[0].reference == sev1.reference
    assert rows[0].link.startswith(reverse("escalation-detail", args=[sev1.pk]))
    assert "second person must approve" in rows[0].why
    assert rows[0].due_at == sev1.next_due_at
    assert rows[0].due_what == "the escalation's next clock"
    assert NeedKind.APPROVAL not in kinds(analyst)  # their own proposal
    assert NeedKind.APPROVAL not in kinds(other_analyst)  # an analyst may not approve


def test_a_severity_downgrade_of_a_sev1_waits_on_a_second_lead(sev1, lead, make_user):
    second_lead = make_user("lars.lead", "lead", "site_policy")
    propose_downgrade(escalation=sev1, severity=3, reason="Not spreading.", actor=lead)

    assert kinds(second_lead) == [NeedKind.DOWNGRADE]
    assert NeedKind.DOWNGRADE not in kinds(lead)


def test_a_restricted_escalation_the_person_is_not_on_is_not_counted(
    make_escalation, analyst, lead, admin_user
):
    hidden = make_escalation(
        title="Restricted matter",
        rubric_answers=SEVERITY_ANSWERS[1],
        is_restricted=True,
        access_usernames=[analyst.username],
    )
    propose_removal(hidden, analyst)

    assert needs_me(lead) == [] and needs_me_count(lead) == 0
    assert kinds(admin_user) == [NeedKind.APPROVAL] and needs_me_count(admin_user) == 1


def test_my_overdue_and_due_soon_playbook_steps(escalation, analyst, other_analyst):
    """A step is the holder's of its role in the run; nobody holding it, the owner's."""
    from watchfloor.escalations.services import assign_escalation
    from watchfloor.playbooks.library import load_playbooks
    from watchfloor.playbooks.services import assign_run_role, on_escalation_changed

    load_playbooks(actor=None)
    on_escalation_changed(escalation=escalation, actor=analyst)
    run = escalation.playbook_runs.get()
    assign_escalation(escalation=escalation, owner=other_analyst, actor=analyst)
    assign_run_role(run=run, role="hash_analyst", user=analyst, actor=analyst)

    owner_steps = [row for row in needs_me(other_analyst) if row.kind == NeedKind.STEP]
    # Nobody holds the commander's role: its steps due within the hour (00:45, 01:30) are
    # the owner's; the communications team's step (01:30) and later ones are not.
    assert [row.title.split(" (")[0] for row in owner_steps] == [
        "Confirm the content and stop any livestream",
        "Send sitreps on the severity's cadence",
    ]
    assert not any(row.is_overdue for row in owner_steps)
    holder_steps = [row for row in needs_me(analyst) if row.kind == NeedKind.STEP]
    assert len(holder_steps) == 1 and "you are its hash analyst" in holder_steps[0].why

    clock.advance(timedelta(minutes=20))  # 00:50: the confirmation step is overdue
    owner_steps = [row for row in needs_me(other_analyst) if row.kind == NeedKind.STEP]
    assert owner_steps[0].is_overdue and owner_steps[0].why.startswith("overdue")


def test_a_confirmed_handoff_waits_on_the_incoming_commander(crisis, analyst, other_analyst):
    from watchfloor.crises import services

    clock.advance(timedelta(hours=1))  # just after APAC takes over at 01:00 UTC
    services.confirm_handoff(crisis=crisis, actor=analyst, incoming_commander=other_analyst)

    rows = [row for row in needs_me(other_analyst) if row.kind == NeedKind.HANDOFF]
    assert [row.title for row in rows] == [f"Acknowledge the handoff: {crisis.title}"]
    assert rows[0].link == reverse("crisis-handoff", args=[crisis.pk])


def test_the_commander_is_asked_to_confirm_the_coming_handoff_and_send_the_sitrep(crisis, analyst):
    from watchfloor.crises.config import crisis_config

    window = crisis_config().settings.sitreps.due_soon_window
    clock.advance(timedelta(minutes=30) - window)  # APAC takes over at 01:00 UTC
    handoffs = [row for row in needs_me(analyst) if row.kind == NeedKind.HANDOFF]
    assert [row.title for row in handoffs] == [f"Confirm the handoff to APAC: {crisis.title}"]
    assert handoffs[0].why == "you are the outgoing incident commander"

    clock.advance(crisis.next_sitrep_due_at - clock.now() + timedelta(minutes=1))

    rows = needs_me(analyst)
    sitreps = [row for row in rows if row.kind == NeedKind.SITREP]
    assert len(sitreps) == 1 and sitreps[0].is_overdue
    assert sitreps[0].link == reverse("crisis-sitrep", args=[crisis.pk])
    assert needs_me_count(analyst) == len(rows)


def test_my_overdue_partner_requests(sev1, analyst, lead):
    from watchfloor.coordination.services import send_partner_request

    request = send_partner_request(
        escalation=sev1,
        actor=analyst,
        team_code="legal",
        kind="legal_review",
        question="May we share the footage hashes with the GIFCT?",
        due_within=timedelta(hours=2),
    )
    assert NeedKind.PARTNER_REQUEST not in kinds(analyst)  # not yet overdue
    clock.advance(timedelta(hours=3))

    rows = [row for row in needs_me(analyst) if row.kind == NeedKind.PARTNER_REQUEST]
    assert [row.reference for row in rows] == [request.reference]
    assert NeedKind.PARTNER_REQUEST not in kinds(lead)  # someone else asked


def test_a_page_nobody_acknowledged_waits_on_whoever_was_paged(sev1, analyst, lead, other_analyst):
    from watchfloor.notify.models import Engagement, Notification

    # Filing the SEV1 paged the on-call analyst; a later stage tells the lead.
    engagement = Engagement.objects.get(escalation=sev1, status="active")
    Notification.objects.create(
        engagement=engagement,
        escalation=sev1,
        target="user: lina.lead",
        reason="on call",
        recipient=lead,
        max_attempts=3,
        created_at=clock.now(),
    )
    assert [row.kind for row in needs_me(lead) if row.kind == NeedKind.PAGE] == [NeedKind.PAGE]
    assert NeedKind.PAGE in kinds(analyst)
    page = next(row for row in needs_me(lead) if row.kind == NeedKind.PAGE)
    assert page.due_at == engagement.next_stage_at and page.due_what == "the next stage is told"
    assert NeedKind.PAGE not in kinds(other_analyst)

    Engagement.objects.filter(pk=engagement.pk).update(status="acknowledged")
    assert NeedKind.PAGE not in kinds(lead)


def test_the_count_is_one_query_and_agrees_with_the_page(
    sev1, analyst, lead, django_assert_num_queries
):
    propose_removal(sev1, analyst)
    with django_assert_num_queries(1):
        count = needs_me_count(lead)
    assert count == len(needs_me(lead)) == 1


def test_the_page_lists_the_rows_and_the_header_counts_them(sev1, analyst, lead):
    propose_removal(sev1, analyst)
    client = signed_in(lead)

    page = client.get(reverse("needs-me")).content.decode()
    assert sev1.reference in page and "Decision to approve" in page
    queue = client.get(reverse("queue")).content.decode()
    assert "data-needs-me-count>1<" in queue


def test_nothing_waiting_says_so(viewer):
    page = signed_in(viewer).get(reverse("needs-me")).content.decode()
    assert "Nothing waits on you right now." in page


def test_a_handoff_of_a_restricted_crisis_the_person_is_not_on_never_shows(
    crisis, analyst, other_analyst
):
    from watchfloor.crises import services
    from watchfloor.crises.models import Crisis

    clock.advance(timedelta(hours=1))
    services.confirm_handoff(crisis=crisis, actor=analyst, incoming_commander=other_analyst)
    assert needs_me_count(other_analyst) == 1
    # Restricted since, with only the analyst on its access list.
    Crisis.objects.filter(pk=crisis.pk).update(is_restricted=True)
    crisis.access_list.set([analyst])

    assert needs_me(other_analyst) == [] and needs_me_count(other_analyst) == 0


def test_the_commanders_count_costs_three_queries(crisis, analyst, django_assert_num_queries):
    clock.advance(crisis.next_sitrep_due_at - clock.now() + timedelta(minutes=1))
    # The counts, the crises the analyst commands, and their handoffs.
    with django_assert_num_queries(3):
        count = needs_me_count(analyst)
    assert count == len(needs_me(analyst)) >= 1


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cases=st.lists(
        st.tuples(
            st.booleans(),  # restricted
            st.booleans(),  # the lead is on its access list
            st.booleans(),  # the lead proposed it (else a second lead did)
            st.booleans(),  # a severity downgrade (else a decision)
        ),
        max_size=4,
    )
)
def test_the_count_is_the_visible_proposals_of_others(make_escalation, lead, make_user, cases):
    """For any mix of proposals on open and restricted escalations, a lead's count is the
    ones they may see and did not make, and it agrees with the page's rows."""
    from django.db import transaction

    with transaction.atomic():
        second_lead = make_user("lars.lead", "lead", "site_policy")
        expected = 0
        for restricted, lead_on_list, by_lead, downgrade in cases:
            escalation = make_escalation(
                rubric_answers=SEVERITY_ANSWERS[1],
                is_restricted=restricted,
                access_usernames=[second_lead.username] + ([lead.username] if lead_on_list else []),
            )
            proposer = lead if by_lead else second_lead
            if downgrade:
                propose_downgrade(escalation=escalation, severity=3, reason="Calm.", actor=proposer)
            else:
                propose_removal(escalation, proposer)
            expected += (not restricted or lead_on_list) and not by_lead
        rows = needs_me(lead)
        assert needs_me_count(lead) == len(rows)
        # (A proposed downgrade also pages the leads: that page is a row of its own.)
        proposals = [row for row in rows if row.kind in (NeedKind.APPROVAL, NeedKind.DOWNGRADE)]
        assert len(proposals) == expected, (cases, rows)
        transaction.set_rollback(True)
