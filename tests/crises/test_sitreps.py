"""Sitreps: the cadence each level sets, reminders on the injected clock, drafts that say
what changed for each audience, and the record of what was sent."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import DEFAULT_NOW
from tests.escalations.conftest import SEVERITY_ANSWERS
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.crises import selectors, services
from watchfloor.crises.cadence import SitrepState
from watchfloor.crises.config import crisis_config
from watchfloor.crises.drafting import draft_sitrep
from watchfloor.crises.models import Level, SentRecordError, Sitrep

pytestmark = pytest.mark.usefixtures("frozen_clock")
HOUR = timedelta(hours=1)


def send(crisis, actor, audience="leadership", language="en", body="All quiet."):
    return services.send_sitrep(
        crisis=crisis,
        audience=audience,
        language=language,
        subject=f"Sitrep {audience}",
        body=body,
        actor=actor,
    )


def reminder_state(crisis):
    reminders = {r.crisis.pk: r.clock.state for r in selectors.sitrep_reminders(now=clock.now())}
    return reminders.get(crisis.pk)


@pytest.mark.parametrize(
    ("level", "every"),
    [("monitoring", timedelta(days=1)), ("incident", 4 * HOUR), ("crisis_protocol", HOUR)],
)
def test_the_level_sets_when_the_first_sitrep_is_due(declare, level, every):
    crisis = declare(level=level)
    assert crisis.next_sitrep_due_at == DEFAULT_NOW + every


def test_raising_the_level_brings_the_next_sitrep_forward(crisis, analyst):
    assert crisis.next_sitrep_due_at == DEFAULT_NOW + 4 * HOUR
    clock.advance(timedelta(minutes=30))
    crisis = services.change_level(
        crisis=crisis, to_level=Level.CRISIS_PROTOCOL, actor=analyst, reason="spreading"
    )
    assert crisis.next_sitrep_due_at == DEFAULT_NOW + timedelta(minutes=90)
    clock.advance(HOUR)
    send(crisis, analyst)
    crisis.refresh_from_db()
    assert crisis.next_sitrep_due_at == DEFAULT_NOW + timedelta(minutes=150)
    # Lowering it again: one (longer) interval from the change.
    clock.advance(timedelta(minutes=10))
    crisis = services.change_level(
        crisis=crisis, to_level=Level.MONITORING, actor=analyst, reason="contained"
    )
    assert crisis.next_sitrep_due_at == clock.now() + timedelta(days=1)


def test_only_the_sitrep_of_record_keeps_the_cadence(crisis, analyst):
    clock.advance(HOUR)
    send(crisis, analyst, audience="partners")
    send(crisis, analyst, audience="external")
    crisis.refresh_from_db()
    assert crisis.next_sitrep_due_at == DEFAULT_NOW + 4 * HOUR
    send(crisis, analyst)
    crisis.refresh_from_db()
    assert crisis.next_sitrep_due_at == DEFAULT_NOW + 5 * HOUR


def test_reminders_come_due_soon_then_overdue_and_a_late_sitrep_is_marked(crisis, analyst):
    assert reminder_state(crisis) is None
    clock.advance(4 * HOUR - timedelta(minutes=20))
    assert reminder_state(crisis) is None
    clock.advance(timedelta(minutes=6))
    assert reminder_state(crisis) == SitrepState.DUE_SOON
    clock.advance(timedelta(minutes=15))
    assert reminder_state(crisis) == SitrepState.OVERDUE
    sitrep = send(crisis, analyst)
    assert sitrep.was_due_at == DEFAULT_NOW + 4 * HOUR and sitrep.is_late
    event = AuditEvent.objects.filter(action=AuditAction.CRISIS_SITREP_SENT).get()
    assert event.data["late"] is True and event.data["number"] == 1
    crisis.refresh_from_db()
    assert reminder_state(crisis) is None
    assert selectors.sitrep_clock(crisis, now=clock.now(), config=crisis_config()).state == (
        SitrepState.SCHEDULED
    )


def test_stand_down_slows_the_cadence_and_closing_stops_it(crisis, analyst):
    clock.advance(HOUR)
    crisis = services.change_level(
        crisis=crisis, to_level=Level.STAND_DOWN, actor=analyst, reason="quiet"
    )
    assert crisis.next_sitrep_due_at == clock.now() + timedelta(days=1)
    crisis = services.change_level(
        crisis=crisis, to_level=Level.CLOSED, actor=analyst, reason="done"
    )
    assert crisis.next_sitrep_due_at is None
    assert reminder_state(crisis) is None
    with pytest.raises(Conflict):
        send(crisis, analyst)


def test_each_audience_counts_its_own_sitreps_and_each_is_kept_as_sent(crisis, analyst):
    first = send(crisis, analyst, body="First.")
    clock.advance(HOUR)
    second = send(crisis, analyst, body="Second.")
    partners = send(crisis, analyst, audience="partners", language="ja", body="パートナー向け")
    assert [first.number, second.number, partners.number] == [1, 2, 1]
    assert second.covers_from == first.sent_at and first.covers_from == crisis.declared_at
    assert partners.language == "ja" and partners.template_code == "partners"
    assert len(partners.template_digest) == 64
    second.body = "Rewritten"
    with pytest.raises(SentRecordError):
        second.save()
    assert Sitrep.objects.get(pk=second.pk).body == "Second."


def test_a_sitrep_needs_a_known_audience_and_language(crisis, analyst):
    with pytest.raises(InvalidInput) as refused:
        send(crisis, analyst, audience="press")
    assert (
        refused.value.field == "audience"
        and "leadership, partners, external" in refused.value.message
    )
    with pytest.raises(InvalidInput) as refused:
        send(crisis, analyst, language="fr")
    assert refused.value.field == "language" and "en, ja" in refused.value.message
    with pytest.raises(InvalidInput) as refused:
        send(crisis, analyst, body="  ")
    assert refused.value.field == "body"


# ---------------------------------------------------------------- drafts


@pytest.fixture
def busy_crisis(crisis, analyst, make_escalation, escalation):
    """A crisis with a decision, a pinned fact, a restricted escalation and a new link."""
    from watchfloor.escalations.decisions import record_decision

    record_decision(
        escalation=escalation,
        actor=analyst,
        policy_code="violent_extremism",
        action_code="remove_content",
        scope="Copies of the stream",
        rationale="Perpetrator-produced attack footage.",
    )
    services.add_crisis_note(
        crisis=crisis, body="Stream hash shared with industry partners.", actor=analyst, pinned=True
    )
    hidden = make_escalation(
        title="Victim named in leaked police memo",
        is_restricted=True,
        markets=["JP"],
        rubric_answers=SEVERITY_ANSWERS[2],
    )
    clock.advance(timedelta(minutes=20))
    services.link_escalation(crisis=crisis, escalation=hidden, actor=analyst, reason="same attack")
    services.change_level(
        crisis=crisis, to_level=Level.CRISIS_PROTOCOL, actor=analyst, reason="copies spreading"
    )
    clock.advance(timedelta(minutes=20))
    crisis.refresh_from_db()
    return crisis, hidden


def draft(crisis, viewer, audience="leadership", language="en"):
    return draft_sitrep(
        crisis=crisis, audience=audience, language=language, viewer=viewer, now=clock.now()
    )


def test_the_leadership_draft_says_what_changed_in_full(busy_crisis, analyst, escalation):
    crisis, hidden = busy_crisis
    text = draft(crisis, analyst)
    assert (
        text.subject == f"[Crisis protocol active] {crisis.reference} sitrep 1: Osaka attack video"
    )
    body = text.body
    assert "- Stream hash shared with industry partners." in body
    # The shared text counts and names what every reader may see: not the restricted case…
    assert "Linked escalations: 1 (1 open)" in body
    assert "Escalations linked this period: 0" in body
    assert "Incident → Crisis protocol active (copies spreading)" in body
    assert hidden.reference not in body and "police memo" not in body
    # …which the author, on its access list, finds in a section of its own, for its readers.
    assert [(s.escalation_id, s.body) for s in text.sections] == [
        (
            hidden.pk,
            f"{hidden.reference} Victim named in leaked police memo: SEV2, New"
            " (linked this period)",
        )
    ]
    assert text.warnings == (
        "1 section concerns a restricted escalation: readers outside its access list will not "
        "see it.",
    )
    assert f"{escalation.reference}: Remove content under" in body
    assert "awaits a second person's approval" in body  # SEV1 decisions need approval
    assert "Incident commander: aiko.analyst" in body
    assert "Next sitrep: 2026-11-24 11:10 JST (02:10 UTC)" in body  # an hour from now


def test_a_reader_without_access_gets_no_restricted_case_in_any_draft(busy_crisis, lead):
    crisis, hidden = busy_crisis
    for audience in ("leadership", "partners", "external"):
        body = draft(crisis, lead, audience=audience).body
        assert hidden.reference not in body and "police memo" not in body
    assert "Linked escalations: 1 (1 open)" in draft(crisis, lead).body


def test_the_partner_draft_leaves_out_titles_and_restricted_cases(busy_crisis, analyst, escalation):
    crisis, hidden = busy_crisis
    body = draft(crisis, analyst, audience="partners").body
    assert hidden.reference not in body and "police memo" not in body
    assert "Livestreamed attack in Osaka" not in body  # no case titles
    assert f"{escalation.reference}: Remove content" in body
    assert "War-room entries" not in body


def test_the_public_draft_says_nothing_about_cases(busy_crisis, analyst, escalation):
    crisis, _ = busy_crisis
    text = draft(crisis, analyst, audience="external")
    assert text.subject == "Update on our response (Japan)"
    for internal in (crisis.reference, escalation.reference, "Crisis protocol", "aiko", "Osaka"):
        assert internal not in text.body, internal
    # Nothing final yet (the decision awaits approval): the plain line stands in.
    assert "We are reviewing reported content" in text.body


def test_drafts_come_in_japanese(busy_crisis, analyst):
    crisis, _ = busy_crisis
    text = draft(crisis, analyst, language="ja")
    assert text.subject.startswith("【危機対応プロトコル発動中】")
    assert "関連エスカレーション：1件（未完了 1件）" in text.body
    assert text.sections[0].body.endswith("（この期間に関連付け）")
    assert "インシデント → 危機対応プロトコル発動中" in text.body
    assert "次回の報告：2026-11-24 11:10 JST (02:10 UTC)" in text.body
    assert "二人目の承認待ち" in text.body


def test_the_next_draft_covers_only_what_came_after_the_last_sitrep(busy_crisis, analyst):
    crisis, _ = busy_crisis
    send(crisis, analyst)
    clock.advance(timedelta(minutes=5))
    text = draft(crisis, analyst)
    assert text.number == 2
    assert "Escalations linked this period: 0" in text.body
    assert "Decisions this period: 0" in text.body
    assert "Level changes:\nNone" in text.body
    # Key facts are standing: they head every sitrep.
    assert "Stream hash shared with industry partners." in text.body
