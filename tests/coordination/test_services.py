"""Asking a partner team, answering, withdrawing and chasing: what each action checks,
what it writes, and what it records on the escalation's timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.coordination.models import PartnerRequest, RequestStatus
from watchfloor.coordination.services import (
    answer_partner_request,
    chase_overdue_requests,
    clean_attachments,
    resolve_due_at,
    withdraw_partner_request,
)
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, PermissionDenied
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.services import set_access, transition_escalation


def events(action, escalation=None):
    found = AuditEvent.objects.filter(action=action)
    if escalation is not None:
        found = found.filter(escalation_id=escalation.pk)
    return list(found)


# ---------------------------------------------------------------- asking


def test_asking_shares_the_escalation_with_the_team_and_records_both(escalation, ask, analyst):
    assert not escalation.shared_with_teams.exists()
    request = ask(escalation)

    assert request.status == RequestStatus.OPEN
    assert request.due_at == clock.now() + timedelta(hours=4)
    assert request.shared_escalation is True
    assert list(escalation.shared_with_teams.values_list("code", flat=True)) == ["legal"]
    [shared] = events(AuditAction.PARTNER_REQUEST_SHARED, escalation)
    assert shared.data["before"] == [] and shared.data["after"] == ["legal"]
    [sent] = events(AuditAction.PARTNER_REQUEST_SENT, escalation)
    assert sent.actor == analyst
    assert sent.data["team"] == "legal" and sent.data["kind"] == "legal_review"
    assert sent.data["question"].startswith("Is the notice valid")
    assert sent.data["shared_escalation"] is True


def test_asking_a_team_that_already_sees_the_escalation_shares_nothing_new(
    make_escalation, ask, frozen_clock
):
    escalation = make_escalation(shared_with_team_codes=["legal"])
    request = ask(escalation)
    assert request.shared_escalation is False
    assert events(AuditAction.PARTNER_REQUEST_SHARED, escalation) == []


def test_without_a_team_the_usual_team_for_the_kind_is_asked(escalation, ask):
    assert ask(escalation, team_code="", kind="holding_statement").team.code == "communications"
    assert ask(escalation, team_code="", kind="law_enforcement_referral").team.code == (
        "law_enforcement_response"
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"team_code": "lawyers"}, "team"),
        ({"team_code": "site_policy"}, "team"),
        ({"kind": "pep_talk"}, "kind"),
        ({"question": "   "}, "question"),
        ({"question": "x" * 5001}, "question"),
        ({"due_within": timedelta(0)}, "due_within"),
        ({"due_within": timedelta(days=91)}, "due_within"),
        ({"due_within": None}, "due_at"),
        ({"due_at": datetime(2026, 11, 25, 9, tzinfo=UTC)}, "due_at"),  # and due_within
        ({"due_within": None, "due_at": datetime(2026, 11, 24, 0, 0, tzinfo=UTC)}, "due_at"),
        ({"due_within": None, "due_at": datetime(2026, 11, 25, 9)}, "due_at"),
    ],
)
def test_a_request_says_what_is_wrong_with_it(escalation, ask, changes, field):
    with pytest.raises(InvalidInput) as caught:
        ask(escalation, **changes)
    assert caught.value.field == field
    assert not PartnerRequest.objects.exists()
    assert not escalation.shared_with_teams.exists()


def test_only_site_policy_asks(escalation, ask, viewer, legal_partner):
    for person in (viewer, legal_partner):
        with pytest.raises(PermissionDenied):
            ask(escalation, actor=person)


def test_a_closed_escalation_is_reopened_before_asking(escalation, ask, analyst):
    transition_escalation(escalation=escalation, to_status="closed", actor=analyst, reason="dup")
    with pytest.raises(Conflict, match="closed"):
        ask(escalation)


def test_a_restricted_escalation_is_asked_about_only_when_the_team_can_read_it(
    make_escalation, ask, lead, legal_partner, frozen_clock
):
    restricted = make_escalation(is_restricted=True, actor=lead)
    with pytest.raises(Conflict, match="restricted") as caught:
        ask(restricted, actor=lead)
    assert caught.value.field == "team"
    set_access(
        escalation=restricted,
        expected_version=Escalation.objects.get(pk=restricted.pk).access_version,
        actor=lead,
        is_restricted=True,
        access_usernames=[lead.username, legal_partner.username],
        shared_with_team_codes=[],
    )
    request = ask(restricted, actor=lead)
    # Sharing for the request never widens the access list.
    assert set(restricted.access_list.values_list("username", flat=True)) == {
        lead.username,
        legal_partner.username,
    }
    assert request.shared_escalation


# ---------------------------------------------------------------- due times across zones


def test_a_span_is_real_elapsed_time_across_a_daylight_saving_change():
    # 24 hours from noon on the Saturday before London springs forward is 13:00 BST.
    now = datetime(2026, 3, 28, 12, tzinfo=UTC)
    due = resolve_due_at(now=now, due_within=timedelta(hours=24))
    assert due == datetime(2026, 3, 29, 12, tzinfo=UTC)
    assert due.astimezone(ZoneInfo("Europe/London")).hour == 13


def test_a_due_time_in_any_zone_is_the_same_instant(escalation, ask):
    tokyo = datetime(2026, 11, 24, 18, tzinfo=ZoneInfo("Asia/Tokyo"))
    new_york = datetime(2026, 11, 24, 4, tzinfo=ZoneInfo("America/New_York"))
    first = ask(escalation, due_within=None, due_at=tokyo)
    second = ask(escalation, due_within=None, due_at=new_york)
    assert first.due_at == second.due_at == datetime(2026, 11, 24, 9, tzinfo=UTC)


# ---------------------------------------------------------------- answering


def test_the_team_answers_with_text_and_attachments(escalation, ask, legal_partner):
    request = ask(escalation)
    answered = answer_partner_request(
        partner_request=request,
        actor=legal_partner,
        outcome="advise",
        answer="Valid. Act on 12; posts 7 and 9 are news reporting.",
        attachments=[
            "https://legal.example/memos/4411",
            "LEGAL-2026-0142",
            "https://legal.example/memos/4411",
        ],
    )
    assert answered.status == RequestStatus.ANSWERED and answered.outcome == "advise"
    assert answered.attachments == [
        {"kind": "url", "reference": "https://legal.example/memos/4411"},
        {"kind": "document", "reference": "LEGAL-2026-0142"},
    ]
    [event] = events(AuditAction.PARTNER_REQUEST_ANSWERED, escalation)
    assert event.actor == legal_partner
    assert event.data["outcome"] == "advise" and event.data["late"] is False
    assert event.data["answer"].startswith("Valid.")


def test_an_answer_after_the_deadline_is_marked_late(escalation, ask, legal_partner):
    request = ask(escalation)
    clock.advance(timedelta(hours=5))
    answer_partner_request(partner_request=request, actor=legal_partner, outcome="approve")
    assert events(AuditAction.PARTNER_REQUEST_ANSWERED)[0].data["late"] is True


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("ftp://files.example/memo.pdf", "neither an http\\(s\\) URL nor a document id"),
        ("javascript:alert(1)", "neither an http\\(s\\) URL nor a document id"),
        ("https://lee:secret@legal.example/memo", "user name or password"),
        ("https://", "no host"),
        ("memo 4411", "contains spaces"),
        ("", "empty"),
        ("https://legal.example/" + "a" * 2000, "limit is 2000"),
    ],
)
def test_attachments_are_links_or_document_ids(reference, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        clean_attachments(["LEGAL-1", reference])
    assert caught.value.field == "attachments[1]"


def test_at_most_twenty_attachments():
    with pytest.raises(InvalidInput) as caught:
        clean_attachments([f"DOC-{n}" for n in range(21)])
    assert caught.value.field == "attachments"


def test_advice_and_declines_say_why(escalation, ask, legal_partner):
    request = ask(escalation)
    for outcome in ("advise", "decline"):
        with pytest.raises(InvalidInput) as caught:
            answer_partner_request(partner_request=request, actor=legal_partner, outcome=outcome)
        assert caught.value.field == "answer"
    with pytest.raises(InvalidInput) as caught:
        answer_partner_request(partner_request=request, actor=legal_partner, outcome="maybe")
    assert caught.value.field == "outcome"


def test_only_the_team_asked_answers_and_only_once(
    escalation, ask, legal_partner, comms_partner, analyst, admin_user, make_user
):
    request = ask(escalation)
    legal_viewer = make_user("vic.legal", "viewer", "legal")
    for person in (comms_partner, analyst, legal_viewer):
        with pytest.raises(PermissionDenied):
            answer_partner_request(partner_request=request, actor=person, outcome="approve")
    answer_partner_request(partner_request=request, actor=legal_partner, outcome="approve")
    with pytest.raises(Conflict, match="answered"):
        answer_partner_request(
            partner_request=request, actor=legal_partner, outcome="decline", answer="no"
        )
    # An administrator may answer for a team (e.g. an answer given by phone).
    other = ask(escalation)
    answer_partner_request(partner_request=other, actor=admin_user, outcome="approve")


def test_a_withdrawn_request_cannot_be_answered(escalation, ask, analyst, legal_partner):
    request = ask(escalation)
    with pytest.raises(InvalidInput):
        withdraw_partner_request(partner_request=request, actor=analyst, reason="")
    with pytest.raises(PermissionDenied):
        withdraw_partner_request(partner_request=request, actor=legal_partner, reason="no")
    withdraw_partner_request(partner_request=request, actor=analyst, reason="Resolved by policy.")
    with pytest.raises(Conflict):
        answer_partner_request(partner_request=request, actor=legal_partner, outcome="approve")
    [event] = events(AuditAction.PARTNER_REQUEST_WITHDRAWN, escalation)
    assert event.data["reason"] == "Resolved by policy."


# ---------------------------------------------------------------- chasing


def test_overdue_requests_are_chased_at_most_once_per_interval(escalation, ask, analyst):
    request = ask(escalation)  # due in 4 h
    start = clock.now()
    assert chase_overdue_requests(now=start + timedelta(hours=3)) == []

    [chase] = chase_overdue_requests(now=start + timedelta(hours=5))
    assert (chase.partner_request.pk, chase.number) == (request.pk, 1)
    assert chase.overdue_by == timedelta(hours=1)
    assert chase_overdue_requests(now=start + timedelta(hours=8)) == []  # within 4 h
    [again] = chase_overdue_requests(now=start + timedelta(hours=9))
    assert again.number == 2
    request.refresh_from_db()
    assert (request.chase_count, request.last_chased_at) == (2, start + timedelta(hours=9))

    chased = events(AuditAction.PARTNER_REQUEST_CHASED, escalation)
    assert [e.data["chase"] for e in chased] == [1, 2]
    assert chased[0].data["overdue_minutes"] == 60
    assert chased[0].actor is None


def test_the_chase_interval_is_configurable(escalation, ask, settings):
    ask(escalation)
    start = clock.now()
    settings.WATCHFLOOR_PARTNER_REQUEST_CHASE_INTERVAL = timedelta(minutes=30)
    assert len(chase_overdue_requests(now=start + timedelta(hours=5))) == 1
    assert len(chase_overdue_requests(now=start + timedelta(hours=5, minutes=30))) == 1
    assert (
        len(
            chase_overdue_requests(
                now=start + timedelta(hours=5, minutes=45), interval=timedelta(hours=1)
            )
        )
        == 0
    )


def test_answered_withdrawn_and_closed_are_not_chased(
    escalation, make_escalation, ask, analyst, legal_partner
):
    answer_partner_request(partner_request=ask(escalation), actor=legal_partner, outcome="approve")
    withdraw_partner_request(partner_request=ask(escalation), actor=analyst, reason="not needed")
    other = make_escalation()
    ask(other)
    transition_escalation(escalation=other, to_status="closed", actor=analyst, reason="done")
    assert chase_overdue_requests(now=clock.now() + timedelta(days=1)) == []


def test_a_chase_names_who_is_on_call_for_the_team_in_the_escalation_market(
    escalation, ask, make_user, tmp_path
):
    from watchfloor.people.rota_changes import load_rotas

    make_user("sam.legal", "partner", "legal", time_zone="Australia/Sydney")
    rota = tmp_path / "rotations.yaml"
    rota.write_text(
        "teams:\n"
        "  - code: legal\n"
        "    time_zone: Australia/Sydney\n"
        "    regions: [{code: anz, name: Australia and New Zealand, markets: [AU, NZ]}]\n"
        "rotations:\n"
        "  - {code: legal-anz, name: Legal ANZ, team: legal, region: anz, kind: weekly,\n"
        "     start_date: 2026-01-05, time_zone: Australia/Sydney, handoff: '09:00',\n"
        "     members: [sam.legal]}\n",
        encoding="utf-8",
    )
    load_rotas(path=rota, actor=None)
    ask(escalation)
    [chase] = chase_overdue_requests(now=clock.now() + timedelta(hours=5))
    assert [person.username for person in chase.on_call] == ["sam.legal"]
    assert events(AuditAction.PARTNER_REQUEST_CHASED)[0].data["on_call"] == ["sam.legal"]


def test_chasing_needs_an_aware_time(escalation):
    with pytest.raises(InvalidInput):
        chase_overdue_requests(now=datetime(2026, 11, 24, 12))


def test_a_request_the_team_can_no_longer_read_is_not_chased(escalation, ask, lead):
    ask(escalation)
    set_access(
        escalation=escalation,
        expected_version=Escalation.objects.get(pk=escalation.pk).access_version,
        actor=lead,
        is_restricted=False,
        access_usernames=[],
        shared_with_team_codes=[],
    )
    assert chase_overdue_requests(now=clock.now() + timedelta(hours=5)) == []
