"""Escalation services: filing, severity and its override, ownership, notes, links, merges
and access. Each is one audited action; a refused one changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.selectors import verify_chain
from watchfloor.catalog.selectors import active_catalog_version
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, PermissionDenied
from watchfloor.escalations import filing, services
from watchfloor.escalations.inputs import StatutoryTriggerInput, SubjectInput
from watchfloor.escalations.models import Clock, Escalation, Link, Note, Status, Subject
from watchfloor.escalations.selectors import escalation_timeline

HOUR = timedelta(hours=1)


def _events(action: str, escalation: Escalation | None = None):
    events = AuditEvent.objects.filter(action=action)
    if escalation is not None:
        events = events.filter(escalation_id=escalation.pk)
    return events.order_by("sequence")


# ---------------------------------------------------------------- filing


def test_filing_computes_and_explains_the_severity(analyst, make_escalation, frozen_clock):
    escalation = make_escalation(rubric_answers={"harm": "moderate", "reach": "significant"})

    assert escalation.severity == escalation.computed_severity == 3
    assert escalation.severity_name == "SEV3"
    assert escalation.rubric_answers == {"harm": "moderate", "reach": "significant"}
    explanation = escalation.severity_explanation
    assert explanation["severity"] == 3
    assert explanation["summary"].startswith("Score 16 of ")
    by_factor = {c["factor"]: c for c in explanation["contributions"]}
    assert set(by_factor) == {
        "harm",
        "imminence",
        "reach",
        "vulnerability",
        "subject_profile",
        "legal_exposure",
        "public_attention",
    }
    assert by_factor["harm"]["answer"] == "moderate"
    assert by_factor["harm"]["answered"] is True
    # An unanswered factor counts as its mildest answer, and says it was not answered.
    assert by_factor["imminence"]["answer"] == "none"
    assert by_factor["imminence"]["answered"] is False
    assert escalation.catalog_version == active_catalog_version()


def test_a_floor_rule_raises_the_severity_and_says_why(make_escalation):
    escalation = make_escalation(type_code="child_safety", rubric_answers={"harm": "low"})
    assert escalation.severity == 1
    assert "child_safety" in escalation.severity_explanation["summary"]
    assert [f["code"] for f in escalation.severity_explanation["floors"]] == ["child_safety"]


def test_filing_records_what_was_filed(analyst, make_escalation, frozen_clock):
    escalation = make_escalation(
        markets=["ph", "JP", "PH"],
        languages=["tl", "en", "tl"],
        subjects=[SubjectInput(kind="account", reference=" @relief_fund_ph ")],
    )

    assert escalation.status == Status.NEW
    assert escalation.created_by == analyst
    assert escalation.created_at == escalation.opened_at == escalation.updated_at == frozen_clock
    assert set(escalation.markets.values_list("code", flat=True)) == {"PH", "JP"}
    assert escalation.languages == ["tl", "en"]
    assert escalation.policy.code == "scams_fraud"  # the type's default policy
    assert list(escalation.subjects.values_list("kind", "reference")) == [
        ("account", "@relief_fund_ph")
    ]
    event = _events(AuditAction.ESCALATION_CREATED, escalation).get()
    assert event.actor == analyst
    assert event.object_type == "escalations.escalation"
    assert event.data["type"] == "scam_campaign"
    assert event.data["severity"] == "SEV3"
    assert event.data["markets"] == ["PH", "JP"]
    assert event.data["restricted"] is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type_code": "alien_invasion"}, "type"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"markets": ["JP", "ZZ"]}, "markets[1]"),
        ({"languages": ["ja", "japanese!"]}, "languages[1]"),
        ({"source_kind": "carrier_pigeon"}, "source_kind"),
        ({"source_kind": "partner_team"}, "source_team"),
        ({"source_team_code": "nobody"}, "source_team"),
        ({"rubric_answers": {"harm": "apocalyptic"}}, "rubric_answers.harm"),
        ({"rubric_answers": {"vibes": "bad"}}, "rubric_answers.vibes"),
        ({"subjects": [SubjectInput(kind="hologram", reference="x")]}, "subjects[0].kind"),
        ({"subjects": [SubjectInput(kind="url", reference=" ")]}, "subjects[0].reference"),
        ({"policy_code": "jaywalking"}, "policy"),
        ({"access_usernames": ["ghost"]}, "access_list[0]"),
        ({"shared_with_team_codes": ["site_policy"]}, "shared_with_teams[0]"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    overrides, field, make_escalation
):
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput) as refused:
        make_escalation(**overrides)
    assert refused.value.field == field
    assert not Escalation.objects.exists()
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("role_fixture", ["viewer", "legal_partner"])
def test_only_people_who_work_escalations_file_them(role_fixture, request, make_escalation):
    with pytest.raises(PermissionDenied):
        make_escalation(actor=request.getfixturevalue(role_fixture))
    assert not Escalation.objects.exists()


def test_whoever_files_a_restricted_escalation_keeps_access(analyst, lead, make_escalation):
    escalation = make_escalation(is_restricted=True, access_usernames=[lead.username])
    assert set(escalation.access_list.all()) == {analyst, lead}


def test_a_failure_while_filing_leaves_no_trace(make_escalation, monkeypatch, frozen_clock):
    before = AuditEvent.objects.count()

    def fail(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(filing, "record_event", fail)
    with pytest.raises(RuntimeError):
        make_escalation(subjects=[SubjectInput(kind="url", reference="https://relief.example")])

    assert not Escalation.objects.exists()
    assert not Clock.objects.exists()
    assert not Subject.objects.exists()
    assert AuditEvent.objects.count() == before


# ---------------------------------------------------------------- severity override


def test_a_lead_overrides_severity_with_a_reason(lead, escalation_at, frozen_clock):
    escalation = escalation_at(3, markets=["JP"])

    services.override_severity(
        escalation=escalation, severity=1, reason="Named in national news tonight", actor=lead
    )

    stored = Escalation.objects.get(pk=escalation.pk)
    assert stored.severity == 1
    assert stored.computed_severity == 3  # the rubric's verdict is kept beside it
    assert stored.severity_override_reason == "Named in national news tonight"
    assert stored.severity_overridden_by == lead
    event = _events(AuditAction.ESCALATION_SEVERITY_OVERRIDDEN, escalation).get()
    assert event.actor == lead
    assert event.data == {
        "from": "SEV3",
        "to": "SEV1",
        "computed": "SEV3",
        "reason": "Named in national news tonight",
    }


def test_an_admin_may_override_severity(admin_user, escalation_at):
    escalation = escalation_at(3)
    services.override_severity(escalation=escalation, severity=2, reason="VIP", actor=admin_user)
    assert Escalation.objects.get(pk=escalation.pk).severity == 2


@pytest.mark.parametrize("role_fixture", ["analyst", "viewer", "legal_partner"])
def test_only_a_lead_or_admin_may_override_severity(role_fixture, request, escalation_at):
    escalation = escalation_at(3)
    with pytest.raises(PermissionDenied):
        services.override_severity(
            escalation=escalation,
            severity=1,
            reason="feels worse",
            actor=request.getfixturevalue(role_fixture),
        )
    assert Escalation.objects.get(pk=escalation.pk).severity == 3


@pytest.mark.parametrize(
    ("severity", "reason", "field"),
    [(1, "", "reason"), (1, "   ", "reason"), (7, "very bad", "severity"), (-1, "x", "severity")],
)
def test_an_override_needs_a_real_severity_and_a_reason(
    severity, reason, field, lead, escalation_at
):
    escalation = escalation_at(3)
    with pytest.raises(InvalidInput) as refused:
        services.override_severity(
            escalation=escalation, severity=severity, reason=reason, actor=lead
        )
    assert refused.value.field == field
    assert Escalation.objects.get(pk=escalation.pk).severity == 3
    assert not _events(AuditAction.ESCALATION_SEVERITY_OVERRIDDEN).exists()


def test_an_override_moves_the_unmet_clocks_and_the_next_deadline(
    analyst, lead, escalation_at, frozen_clock
):
    escalation = escalation_at(3, markets=["JP"])
    clock.advance(HOUR)
    services.transition_escalation(escalation=escalation, to_status=Status.TRIAGED, actor=analyst)
    acknowledged_at = frozen_clock + HOUR

    services.override_severity(escalation=escalation, severity=1, reason="VIP target", actor=lead)

    clocks = {c.kind: c for c in Escalation.objects.get(pk=escalation.pk).clocks.all()}
    opened = escalation.opened_at
    # A met clock keeps its history; the running ones take SEV1's targets from opening.
    assert clocks[Clock.Kind.ACKNOWLEDGE].met_at == acknowledged_at
    assert clocks[Clock.Kind.ACKNOWLEDGE].due_at == opened + timedelta(days=1)
    assert clocks[Clock.Kind.FIRST_ACTION].due_at == opened + 4 * HOUR
    assert clocks[Clock.Kind.RESOLVE].due_at == opened + timedelta(days=3)
    assert clocks[Clock.Kind.FIRST_ACTION].basis == "SEV1 target: 4 hours"
    stored = Escalation.objects.get(pk=escalation.pk)
    assert stored.next_due_at == opened + 4 * HOUR
    assert stored.next_due_label == "First action"


# ---------------------------------------------------------------- ownership and notes


def test_assigning_an_owner_is_audited(analyst, other_analyst, make_escalation):
    escalation = make_escalation()
    services.assign_escalation(escalation=escalation, owner=other_analyst, actor=analyst)
    services.assign_escalation(escalation=escalation, owner=None, actor=analyst)

    assert Escalation.objects.get(pk=escalation.pk).owner is None
    assert [e.data for e in _events(AuditAction.ESCALATION_ASSIGNED, escalation)] == [
        {"from": None, "to": other_analyst.username},
        {"from": other_analyst.username, "to": None},
    ]


@pytest.mark.parametrize("owner_fixture", ["viewer", "legal_partner"])
def test_only_someone_who_works_escalations_can_own_one(
    owner_fixture, request, analyst, make_escalation
):
    owner = request.getfixturevalue(owner_fixture)
    with pytest.raises(InvalidInput) as refused:
        services.assign_escalation(escalation=make_escalation(), owner=owner, actor=analyst)
    assert refused.value.field == "owner"
    assert owner.username in refused.value.message


def test_a_restricted_escalation_is_owned_only_by_someone_on_its_list(
    analyst, other_analyst, make_escalation
):
    escalation = make_escalation(is_restricted=True)
    with pytest.raises(InvalidInput) as refused:
        services.assign_escalation(escalation=escalation, owner=other_analyst, actor=analyst)
    assert "access list" in refused.value.message


def test_partners_add_notes_and_viewers_do_not(legal_partner, viewer, make_escalation):
    escalation = make_escalation(shared_with_team_codes=["legal"])

    note = services.add_note(
        escalation=escalation, body="Legal: the notice is valid.", actor=legal_partner
    )

    assert list(Note.objects.filter(escalation=escalation)) == [note]
    event = _events(AuditAction.ESCALATION_NOTE_ADDED, escalation).get()
    assert event.actor == legal_partner
    assert event.data == {"body": "Legal: the notice is valid."}
    with pytest.raises(PermissionDenied):
        services.add_note(escalation=escalation, body="me too", actor=viewer)
    with pytest.raises(InvalidInput) as refused:
        services.add_note(escalation=escalation, body="  ", actor=legal_partner)
    assert refused.value.field == "body"


# ---------------------------------------------------------------- links and merges


def test_linking_is_symmetric_and_recorded_on_both_sides(analyst, make_escalation):
    first, second = make_escalation(), make_escalation(title="Same scammers, new domain")

    link = services.link_escalations(
        escalation=second, other=first, actor=analyst, reason="same payment accounts"
    )

    assert (link.from_escalation, link.to_escalation) == (first, second)
    events = _events(AuditAction.ESCALATION_LINKED)
    assert {(e.escalation_id, e.data["with"]) for e in events} == {
        (second.pk, first.reference),
        (first.pk, second.reference),
    }
    assert {e.actor for e in events} == {analyst}


def test_an_escalation_cannot_be_linked_to_itself(analyst, make_escalation):
    escalation = make_escalation()
    with pytest.raises(InvalidInput) as refused:
        services.link_escalations(escalation=escalation, other=escalation, actor=analyst)
    assert refused.value.field == "other"


def test_two_escalations_are_linked_once_whichever_way_round(analyst, make_escalation):
    first, second = make_escalation(), make_escalation()
    services.link_escalations(escalation=first, other=second, actor=analyst)
    with pytest.raises(Conflict, match="already linked"):
        services.link_escalations(escalation=second, other=first, actor=analyst)
    assert Link.objects.count() == 1


def test_merging_closes_the_duplicate_and_records_both_sides(analyst, make_escalation):
    survivor = make_escalation()
    duplicate = make_escalation(title="Duplicate report")

    services.merge_escalation(
        duplicate=duplicate, into=survivor, actor=analyst, reason="same campaign"
    )

    stored = Escalation.objects.get(pk=duplicate.pk)
    assert stored.merged_into == survivor
    assert stored.status == Status.CLOSED
    assert Link.objects.filter(from_escalation=survivor, to_escalation=duplicate).exists()
    merged = _events(AuditAction.ESCALATION_MERGED, duplicate).get()
    assert merged.data == {
        "into": survivor.reference,
        "from_status": "new",
        "reason": "same campaign",
    }
    absorbed = _events(AuditAction.ESCALATION_ABSORBED, survivor).get()
    assert absorbed.data == {"duplicate": duplicate.reference, "reason": "same campaign"}
    assert merged.actor == absorbed.actor == analyst


def test_merge_refusals(analyst, make_escalation):
    first, second, third = make_escalation(), make_escalation(), make_escalation()
    with pytest.raises(InvalidInput):
        services.merge_escalation(duplicate=first, into=first, actor=analyst)
    services.merge_escalation(duplicate=first, into=second, actor=analyst)
    first.refresh_from_db()
    with pytest.raises(Conflict, match="already merged"):
        services.merge_escalation(duplicate=first, into=third, actor=analyst)
    with pytest.raises(Conflict, match=f"merge into that|{second.reference}"):
        services.merge_escalation(duplicate=third, into=first, actor=analyst)


# ---------------------------------------------------------------- access


def test_a_lead_restricts_an_escalation_and_the_change_is_audited(lead, analyst, make_escalation):
    escalation = make_escalation(shared_with_team_codes=["legal"])

    services.set_access(
        escalation=escalation,
        expected_version=Escalation.objects.get(pk=escalation.pk).access_version,
        actor=lead,
        is_restricted=True,
        access_usernames=[analyst.username],
        shared_with_team_codes=[],
    )

    stored = Escalation.objects.get(pk=escalation.pk)
    assert stored.is_restricted
    assert set(stored.access_list.all()) == {analyst, lead}
    assert not stored.shared_with_teams.exists()
    event = _events(AuditAction.ESCALATION_ACCESS_CHANGED, escalation).get()
    assert event.actor == lead
    assert event.data == {
        "before": {"restricted": False, "access_list": [], "teams": ["legal"]},
        "after": {
            "restricted": True,
            "access_list": sorted([analyst.username, lead.username]),
            "teams": [],
        },
        "version": 2,
    }


def test_an_analyst_cannot_change_who_sees_an_escalation(analyst, make_escalation):
    escalation = make_escalation()
    with pytest.raises(PermissionDenied):
        services.set_access(
            escalation=escalation,
            expected_version=Escalation.objects.get(pk=escalation.pk).access_version,
            actor=analyst,
            is_restricted=True,
            access_usernames=[],
            shared_with_team_codes=[],
        )
    assert not Escalation.objects.get(pk=escalation.pk).is_restricted


# ---------------------------------------------------------------- the timeline


def test_a_days_work_reads_back_as_a_timeline(analyst, lead, make_escalation, decide, frozen_clock):
    escalation = make_escalation(
        type_code="regulator_notice",
        markets=["AU"],
        statutory_triggers=[
            StatutoryTriggerInput(rule="au-osa-removal-notice", received_at=frozen_clock - HOUR)
        ],
    )
    clock.advance(HOUR)
    services.assign_escalation(escalation=escalation, owner=analyst, actor=lead)
    services.transition_escalation(
        escalation=escalation, to_status=Status.INVESTIGATING, actor=analyst
    )
    services.add_note(escalation=escalation, body="Posts confirmed", actor=analyst)
    decide(escalation)
    services.transition_escalation(escalation=escalation, to_status=Status.DECIDED, actor=analyst)

    entries = escalation_timeline(escalation, viewer=analyst)

    assert [entry.action for entry in entries] == [
        AuditAction.ESCALATION_CREATED,
        # The notice makes it SEV2 at least, so the on-call people are paged.
        AuditAction.NOTIFY_POLICY_STARTED,
        AuditAction.NOTIFY_STAGE_REACHED,
        AuditAction.ESCALATION_ASSIGNED,
        # Taking ownership acknowledges it: the SLA clock and the page, once.
        AuditAction.ESCALATION_CLOCK_MET,
        AuditAction.NOTIFY_ACKNOWLEDGED,
        AuditAction.ESCALATION_TRANSITIONED,
        AuditAction.ESCALATION_NOTE_ADDED,
        AuditAction.ESCALATION_CLOCK_MET,  # first action
        AuditAction.DECISION_RECORDED,
        AuditAction.ESCALATION_TRANSITIONED,
    ]
    assert [entry.actor for entry in entries] == [
        *[analyst.username] * 3,
        *[lead.username] * 3,
        *[analyst.username] * 5,
    ]
    assert entries[0].at == frozen_clock
    assert entries[-1].label == "Status changed"
    assert verify_chain().ok


def test_an_escalation_input_from_fields_names_an_unknown_or_missing_field():
    from watchfloor.escalations.inputs import EscalationInput

    with pytest.raises(InvalidInput) as unknown:
        EscalationInput.from_fields({"type_code": "scam_campaign", "title": "x", "market": "JP"})
    assert unknown.value.field == "market"
    assert "markets" in unknown.value.message
    with pytest.raises(InvalidInput) as missing:
        EscalationInput.from_fields({"type_code": "scam_campaign"})
    assert missing.value.field == "title"
    made = EscalationInput.from_fields({"type_code": "scam_campaign", "title": "x"})
    assert made == EscalationInput(type_code="scam_campaign", title="x")
