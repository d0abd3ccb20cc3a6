"""Need to know: who sees which escalation, in lists, counts, look-ups and the queue.

A restricted escalation is invisible to anyone outside its access list; partner teams
see only what is shared with their team; a hidden escalation looks exactly like a
missing one.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, NotFound
from watchfloor.escalations import services
from watchfloor.escalations.models import Escalation, Note, Status
from watchfloor.escalations.selectors import (
    QueueFilters,
    access_escalation,
    escalation_timeline,
    escalations_visible_to,
    linked_escalations,
    triage_queue,
    visible_through,
)
from watchfloor.people.models import User

KINDS = ("ordinary", "restricted_listed", "restricted_unlisted", "shared_with_legal")

# role → the kinds of escalation that person sees.
WHO_SEES_WHAT = {
    "analyst": {"ordinary", "restricted_listed", "shared_with_legal"},
    "lead": {"ordinary", "restricted_listed", "shared_with_legal"},
    "viewer": {"ordinary", "restricted_listed", "shared_with_legal"},
    "admin": set(KINDS),
    # Partners see only what is shared with their team, and a restricted one only when
    # they are also on its access list.
    "partner_of_shared_team": {"restricted_listed", "shared_with_legal"},
    "partner_of_other_team": set(),
    "partner_without_team": set(),
}


@pytest.fixture
def person(request, make_user, catalog) -> User:
    role = request.param
    if role == "partner_of_shared_team":
        return make_user("lee.legal", "partner", "legal")
    if role == "partner_of_other_team":
        return make_user("cora.comms", "partner", "communications")
    if role == "partner_without_team":
        # A partner whose team was removed keeps the account but loses the team.
        former = make_user("pat.partner", "partner", "customer_service")
        User.objects.filter(pk=former.pk).update(team=None)
        return User.objects.get(pk=former.pk)
    team = "site_policy" if role in ("analyst", "lead") else None
    return make_user(f"someone.{role}", role, team)


@pytest.fixture
def four_escalations(person, admin_user, make_escalation) -> dict[str, object]:
    """One escalation of each kind, filed by an admin, with ``person`` on one access list."""

    def filed(kind: str, **values):
        return make_escalation(actor=admin_user, title=f"{kind} case", **values)

    return {
        "ordinary": filed("ordinary"),
        "restricted_listed": filed(
            "restricted_listed",
            is_restricted=True,
            access_usernames=[person.username],
            shared_with_team_codes=["legal"],
        ),
        "restricted_unlisted": filed(
            "restricted_unlisted", is_restricted=True, shared_with_team_codes=["legal"]
        ),
        "shared_with_legal": filed("shared_with_legal", shared_with_team_codes=["legal"]),
    }


@pytest.mark.parametrize("person", sorted(WHO_SEES_WHAT), indirect=True)
def test_who_sees_what(person, four_escalations, request):
    role = request.node.callspec.params["person"]
    expected = WHO_SEES_WHAT[role]
    visible = escalations_visible_to(person)

    assert {e.title.removesuffix(" case") for e in visible} == expected
    assert visible.count() == len(expected)
    queue = triage_queue(user=person, filters=QueueFilters())
    assert queue.count() == len(expected)
    assert {e.pk for e in queue} == {four_escalations[kind].pk for kind in expected}
    for kind, escalation in four_escalations.items():
        if kind in expected:
            assert access_escalation(actor=person, escalation_id=escalation.pk) == escalation
        else:
            with pytest.raises(NotFound):
                access_escalation(actor=person, escalation_id=escalation.pk)


@pytest.mark.parametrize("person", sorted(WHO_SEES_WHAT), indirect=True)
def test_rows_of_an_escalation_follow_its_need_to_know(
    person, four_escalations, admin_user, request
):
    # visible_through puts the same rule on rows that point at an escalation (the header's
    # "needs me" count reads decisions, steps, requests and pages through it).
    expected = WHO_SEES_WHAT[request.node.callspec.params["person"]]
    for escalation in four_escalations.values():
        Note.objects.create(
            escalation=escalation, author=admin_user, body="a row of it", created_at=clock.now()
        )
    seen = Note.objects.filter(visible_through(person), body="a row of it")

    assert {entry.escalation.title.removesuffix(" case") for entry in seen} == expected


@pytest.mark.parametrize("person", ["viewer"], indirect=True)
def test_searching_the_queue_never_reveals_a_hidden_escalation(person, four_escalations):
    found = triage_queue(user=person, filters=QueueFilters(text="restricted_unlisted"))
    assert found.count() == 0
    assert not found.exists()


def test_a_hidden_escalation_looks_exactly_like_a_missing_one(viewer, admin_user, make_escalation):
    hidden = make_escalation(actor=admin_user, is_restricted=True)
    missing_pk = hidden.pk + 1000

    with pytest.raises(NotFound) as for_hidden:
        access_escalation(actor=viewer, escalation_id=hidden.pk)
    with pytest.raises(NotFound) as for_missing:
        access_escalation(actor=viewer, escalation_id=missing_pk)

    assert for_hidden.value.code == for_missing.value.code == "not_found"
    assert for_hidden.value.field == for_missing.value.field == "escalation_id"
    assert for_hidden.value.message.replace(str(hidden.pk), "N") == (
        for_missing.value.message.replace(str(missing_pk), "N")
    )
    assert for_hidden.value.message == f"no escalation WF-{hidden.pk} that you can see"


@pytest.mark.parametrize("escalation_id", ["WF-12", "", None, "1; DROP TABLE"])
def test_a_malformed_reference_is_simply_not_found(escalation_id, viewer):
    with pytest.raises(NotFound) as missing:
        access_escalation(actor=viewer, escalation_id=escalation_id)
    assert missing.value.field == "escalation_id"


def test_signed_out_and_deactivated_people_see_nothing(make_escalation, viewer):
    make_escalation()
    assert escalations_visible_to(AnonymousUser()).count() == 0
    User.objects.filter(pk=viewer.pk).update(is_active=False)
    assert escalations_visible_to(User.objects.get(pk=viewer.pk)).count() == 0


def test_the_queue_counts_open_escalations_unless_asked_for_closed_ones(
    analyst, make_escalation, walk_to
):
    make_escalation(title="open one")
    walk_to(make_escalation(title="closed one"), Status.CLOSED)

    assert triage_queue(user=analyst, filters=QueueFilters()).count() == 1
    assert triage_queue(user=analyst, filters=QueueFilters(include_closed=True)).count() == 2
    assert triage_queue(user=analyst, filters=QueueFilters(statuses=(Status.CLOSED,))).count() == 1


def test_the_queue_puts_the_most_severe_first_then_the_nearest_deadline(
    analyst, escalation_at, frozen_clock
):
    sev3_early = escalation_at(3, title="SEV3 filed first")
    clock.advance(timedelta(hours=1))
    sev3_later = escalation_at(3, title="SEV3 filed later")
    clock.advance(timedelta(hours=1))
    sev1 = escalation_at(1, title="SEV1 filed last")

    queue = list(triage_queue(user=analyst, filters=QueueFilters()))
    assert queue == [sev1, sev3_early, sev3_later]


def test_losing_access_hides_an_escalation_at_once(viewer, lead, make_escalation):
    escalation = make_escalation()
    assert access_escalation(actor=viewer, escalation_id=escalation.pk) == escalation

    services.set_access(
        escalation=escalation,
        expected_version=Escalation.objects.get(pk=escalation.pk).access_version,
        actor=lead,
        is_restricted=True,
        access_usernames=["aiko.analyst"],
        shared_with_team_codes=[],
    )

    with pytest.raises(NotFound):
        access_escalation(actor=viewer, escalation_id=escalation.pk)
    # The lead who restricted it keeps access.
    assert access_escalation(actor=lead, escalation_id=escalation.pk) == escalation


# ---------------------------------------------------------------- the record of looking


def test_looking_at_a_restricted_escalation_is_recorded(analyst, make_escalation):
    escalation = make_escalation(is_restricted=True)

    services.record_restricted_view(escalation=escalation, actor=analyst, channel="web")

    event = AuditEvent.objects.get(action=AuditAction.ESCALATION_VIEWED)
    assert event.actor == analyst
    assert event.escalation_id == escalation.pk
    assert event.data == {"channel": "web"}
    # The reading timeline stays about the work.
    assert AuditAction.ESCALATION_VIEWED not in {
        entry.action for entry in escalation_timeline(escalation, viewer=analyst)
    }


def test_looking_at_an_ordinary_escalation_is_not_recorded(analyst, make_escalation):
    escalation = make_escalation()
    services.record_restricted_view(escalation=escalation, actor=analyst, channel="api")
    assert not AuditEvent.objects.filter(action=AuditAction.ESCALATION_VIEWED).exists()


# ---------------------------------------------------------------- links and merges


def test_a_linked_escalation_the_viewer_may_not_see_is_not_listed(
    analyst, viewer, admin_user, make_escalation
):
    ordinary = make_escalation(title="Ordinary")
    open_neighbour = make_escalation(title="Open neighbour")
    secret = make_escalation(actor=admin_user, title="Secret", is_restricted=True)
    services.link_escalations(escalation=ordinary, other=open_neighbour, actor=admin_user)
    services.link_escalations(escalation=ordinary, other=secret, actor=admin_user)

    assert list(linked_escalations(escalation=ordinary, user=viewer)) == [open_neighbour]
    assert set(linked_escalations(escalation=ordinary, user=admin_user)) == {
        open_neighbour,
        secret,
    }


def test_a_restricted_escalation_cannot_be_merged_into_an_unrestricted_one(
    analyst, make_escalation
):
    restricted = make_escalation(is_restricted=True)
    ordinary = make_escalation()

    with pytest.raises(Conflict) as refused:
        services.merge_escalation(duplicate=restricted, into=ordinary, actor=analyst)

    assert refused.value.field == "into"
    assert "restrict the target first" in refused.value.message
    restricted.refresh_from_db()
    assert restricted.merged_into is None
    assert restricted.status == Status.NEW


def test_a_restricted_escalation_may_be_merged_into_a_restricted_one(analyst, make_escalation):
    restricted = make_escalation(is_restricted=True)
    also_restricted = make_escalation(is_restricted=True)
    merged = services.merge_escalation(duplicate=restricted, into=also_restricted, actor=analyst)
    assert merged.merged_into == also_restricted
