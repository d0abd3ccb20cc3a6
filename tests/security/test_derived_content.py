"""Need to know in derived content (issue 11, findings 1–3).

Canary strings are planted in a restricted escalation (its title, a note, its playbook
steps, a link reason) and in a restricted crisis (its title and the person commanding
it). A lead on both access lists then works the way a crisis lead does: declares a crisis
that takes in the restricted case, sends the leadership and partner sitreps from the
pre-draft, confirms the follow-the-sun handoff and stands the crisis down; the sitrep
reminder for the restricted crisis goes out.

Then every demo role reads everything derived from that work — sitreps, the handoff, the
review (page and Markdown), the timelines (war room page, live fragment, crisis and
escalation API), the delivery log — and a reader outside the access lists must find no
canary at all, while the listed lead and the admin find every one (so the canaries are
really there to be found).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from tests.escalations.conftest import SEVERITY_ANSWERS
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput
from watchfloor.crises import reminders, selectors, services
from watchfloor.crises.models import Level, SitrepReminder
from watchfloor.escalations import decisions
from watchfloor.escalations import services as escalation_services
from watchfloor.notify import selectors as selectors_notify
from watchfloor.notify.selectors import DeliveryFilters
from watchfloor.people.api_tokens import create_api_token
from watchfloor.playbooks.library import load_playbooks
from watchfloor.playbooks.models import PlaybookRun
from watchfloor.playbooks.services import start_playbook_run

pytestmark = pytest.mark.usefixtures("frozen_clock")

CANARY_TITLE = "Kestrel canary: shelter worker address posted"
CANARY_NOTE = "Kestrel canary note: the worker lives above the clinic"
CANARY_LINK_REASON = "Kestrel canary link: same poster as the shelter case"
CANARY_CRISIS = "Kestrel canary restricted crisis"
CANARY_COMMANDER = "Kestrel Canary-Commander"
DOXXING_TYPE = "Doxxing of an at-risk person"

# Who may see what: the restricted escalation and the restricted crisis list only the lead.
ROLES = ("viewer", "analyst_not_listed", "partner", "lead_not_listed", "lead_listed", "admin")
LISTED = {"lead_listed", "admin"}


@dataclass
class World:
    users: dict
    ordinary: object
    secret: object
    crisis: object
    restricted_crisis: object
    sitreps: list = field(default_factory=list)
    step_titles: list[str] = field(default_factory=list)

    def canaries(self) -> dict[str, re.Pattern[str]]:
        """What a reader outside the access lists must never read, as patterns."""
        plain = {
            "title": CANARY_TITLE,
            "note": CANARY_NOTE,
            "link reason": CANARY_LINK_REASON,
            "restricted crisis": CANARY_CRISIS,
            "its commander": CANARY_COMMANDER,
            "type": DOXXING_TYPE,
            **{f"step {title}": title for title in self.step_titles},
        }
        patterns = {name: re.compile(re.escape(text), re.I) for name, text in plain.items()}
        patterns["reference"] = re.compile(rf"\bWF-{self.secret.pk}\b")
        patterns["restricted crisis reference"] = re.compile(rf"\bCR-{self.restricted_crisis.pk}\b")
        return patterns


@pytest.fixture
def world(
    make_user, analyst, other_analyst, lead, viewer, admin_user, legal_partner, make_escalation
) -> World:
    load_playbooks(actor=None)  # the doxxing case runs its playbook from the start
    lead_not_listed = make_user("lena.lead", "lead", "site_policy")
    commander = make_user("kestrel.commander", "analyst", "site_policy")
    commander.first_name, commander.last_name = "Kestrel", "Canary-Commander"
    commander.email = "kestrel@example.org"
    commander.save(update_fields=["first_name", "last_name", "email"])
    ordinary = make_escalation(
        actor=other_analyst,
        type_code="government_legal_demand",
        title="Court order to remove a shelter's posts",
        markets=["JP"],
        languages=["ja"],
        rubric_answers=SEVERITY_ANSWERS[3],
        shared_with_team_codes=["legal"],
    )
    secret = make_escalation(
        actor=lead,
        type_code="doxxing_at_risk_person",
        title=CANARY_TITLE,
        markets=["JP"],
        languages=["ja"],
        rubric_answers=SEVERITY_ANSWERS[1],
        is_restricted=True,
        access_usernames=[lead.username],
        shared_with_team_codes=["legal"],
    )
    escalation_services.add_note(escalation=secret, body=CANARY_NOTE, actor=lead)
    escalation_services.link_escalations(
        escalation=ordinary, other=secret, actor=lead, reason=CANARY_LINK_REASON
    )
    decisions.record_decision(
        escalation=secret,
        actor=lead,
        policy_code="private_information",
        action_code="remove_content",
        scope="The posts with the address",
        rationale="Exposes an at-risk person's home.",
    )
    run = PlaybookRun.objects.filter(escalation=secret).first() or start_playbook_run(
        escalation=secret, playbook_code="doxxing_at_risk_person", actor=lead
    )
    step_titles = [step.title for step in run.steps.all()]

    crisis = services.declare_crisis(
        actor=lead,
        title="Shelter doxxing wave",
        declared_from=ordinary,
        escalations=[secret],
        commander=lead,
    )
    restricted_crisis = services.declare_crisis(
        actor=lead,
        title=CANARY_CRISIS,
        level=Level.CRISIS_PROTOCOL,
        commander=commander,
        is_restricted=True,
        access_usernames=[lead.username],
    )
    users = {
        "viewer": viewer,
        "analyst_not_listed": analyst,
        "partner": legal_partner,
        "lead_not_listed": lead_not_listed,
        "lead_listed": lead,
        "admin": admin_user,
    }
    return World(
        users=users,
        ordinary=ordinary,
        secret=secret,
        crisis=crisis,
        restricted_crisis=restricted_crisis,
        step_titles=step_titles,
    )


def _api(user) -> tuple[Client, dict]:
    _, secret = create_api_token(user=user, name="derived", actor=None, scopes=["read", "write"])
    return Client(), {"Authorization": f"Bearer {secret}"}


def _browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _send_sitreps_from_the_draft(world: World) -> None:
    """The listed lead sends the leadership and partner sitreps as pre-drafted."""
    api, headers = _api(world.users["lead_listed"])
    for audience in ("leadership", "partners"):
        response = api.post(
            f"/api/v1/crises/{world.crisis.pk}/sitreps",
            {"audience": audience, "language": "en"},
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 201, response.content
        world.sitreps.append(response.json()["id"])


def _confirm_handoff(world: World) -> None:
    services.confirm_handoff(
        crisis=world.crisis,
        actor=world.users["lead_listed"],
        incoming_commander=world.users["analyst_not_listed"],
    )


def _remind_the_restricted_crisis_commander(world: World) -> None:
    # Due within the hour at the crisis-protocol level: reminded five minutes before, while
    # the handoff confirmed above is still the one in play (waiting to be acknowledged).
    due = world.restricted_crisis.next_sitrep_due_at
    clock.freeze(due - timedelta(minutes=5))
    made = reminders.remind_commanders(now=clock.now())
    assert any(r.crisis_id == world.restricted_crisis.pk and r.notification for r in made)


def _stand_down(world: World) -> None:
    services.change_level(
        crisis=world.crisis,
        to_level=Level.STAND_DOWN,
        actor=world.users["lead_listed"],
        reason="Posts removed; the shelter case continues on its own.",
        confirmed_criteria=["comms_agree", "regions_agree"],
    )


def _everything_derived(world: World, user) -> dict[str, str]:
    """Every derived page and answer ``user`` may open, by name; refused ones are left out
    (the matrix in tests/crises/test_visibility.py checks the refusals themselves)."""
    browser = _browser(user)
    api, headers = _api(user)
    crisis = world.crisis.pk
    read: dict[str, str] = {}

    def keep(name: str, response) -> None:
        if response.status_code == 200:
            body = response.content if hasattr(response, "content") else b""
            read[name] = body.decode()

    for page in (
        "crisis-detail",
        "crisis-live",
        "crisis-handoff",
        "crisis-review",
        "crisis-review-md",
    ):
        keep(page, browser.get(reverse(page, args=[crisis])))
    for sitrep_id in world.sitreps:
        keep(
            f"sitrep {sitrep_id}",
            browser.get(reverse("crisis-sitrep-detail", args=[crisis, sitrep_id])),
        )
    keep("crises list", browser.get(reverse("crises")))
    keep("escalation page", browser.get(reverse("escalation-detail", args=[world.ordinary.pk])))
    keep("deliveries", browser.get(reverse("notify-deliveries")))
    keep("api crisis", api.get(f"/api/v1/crises/{crisis}", headers=headers))
    keep("api crises", api.get("/api/v1/crises", headers=headers))
    keep(
        "api crisis timeline",
        api.get(f"/api/v1/crises/{crisis}/timeline", {"limit": 500}, headers=headers),
    )
    keep(
        "api escalation timeline",
        api.get(f"/api/v1/escalations/{world.ordinary.pk}/timeline", headers=headers),
    )
    keep("api escalation", api.get(f"/api/v1/escalations/{world.ordinary.pk}", headers=headers))
    return read


_PICKERS = re.compile(r"<select\b.*?</select>", re.S)
# A field's help text: "A reference such as WF-12." is an example, the same for everyone;
# it read as a leak whenever the restricted escalation happened to be number 12 (its
# number depends on which transactional tests ran before on the worker).
_HELP_TEXTS = re.compile(r'<p class="help"[^>]*>.*?</p>', re.S)


def _leaks(world: World, read: dict[str, str]) -> list[tuple[str, str]]:
    """(page, canary) for each canary found. The user pickers of forms are left out: they
    list every account (the directory), which says nothing about who commands what; so
    are the fields' help texts, which are fixed examples."""
    return [
        (page, name)
        for page, text in read.items()
        for name, pattern in world.canaries().items()
        if pattern.search(_HELP_TEXTS.sub("", _PICKERS.sub("", text)))
    ]


def _do_everything(world: World) -> None:
    _send_sitreps_from_the_draft(world)
    _confirm_handoff(world)
    _stand_down(world)
    _remind_the_restricted_crisis_commander(world)


@pytest.mark.parametrize("role", ROLES)
def test_no_canary_reaches_a_reader_outside_the_access_lists(world, role):
    _do_everything(world)
    read = _everything_derived(world, world.users[role])
    assert "crisis-detail" in read  # every role may open the crisis itself
    leaks = _leaks(world, read)
    if role in LISTED:
        found = {name for _, name in leaks}
        # Each canary is there to be found by the people who may read it.
        assert found >= {"title", "reference", "link reason", "type"}, found
        if role == "lead_listed" or role == "admin":
            assert {"restricted crisis", "its commander"} <= found, found
    else:
        assert leaks == [], leaks


# ---------------------------------------------------------------- finding 3: timelines


def _timeline_api(user, escalation) -> list[dict]:
    api, headers = _api(user)
    response = api.get(f"/api/v1/escalations/{escalation.pk}/timeline", headers=headers)
    assert response.status_code == 200
    return response.json()


def test_an_escalation_timeline_names_no_escalation_hidden_from_its_reader(world):
    viewer, lead = world.users["viewer"], world.users["lead_listed"]
    secret_ref = world.secret.reference

    seen = _timeline_api(viewer, world.ordinary)
    assert "escalation.linked" not in {entry["action"] for entry in seen}
    declared = next(e for e in seen if e["action"] == "crisis.declared")
    assert declared["data"]["escalations"] == [world.ordinary.reference]
    assert secret_ref not in str(seen) and CANARY_LINK_REASON not in str(seen)
    page = _browser(viewer).get(reverse("escalation-detail", args=[world.ordinary.pk]))
    assert CANARY_LINK_REASON not in page.content.decode()

    # The lead on the access list reads the same timeline whole.
    whole = _timeline_api(lead, world.ordinary)
    linked = next(e for e in whole if e["action"] == "escalation.linked")
    assert linked["data"] == {"with": secret_ref, "reason": CANARY_LINK_REASON}
    declared = next(e for e in whole if e["action"] == "crisis.declared")
    assert declared["data"]["escalations"] == [world.ordinary.reference, secret_ref]


def test_a_merge_into_a_hidden_escalation_reads_as_a_merge_without_where_to(world, make_escalation):
    viewer, lead = world.users["viewer"], world.users["lead_listed"]
    duplicate = make_escalation(actor=lead, title="Repost of the shelter address")
    escalation_services.merge_escalation(
        duplicate=duplicate, into=world.secret, actor=lead, reason=CANARY_LINK_REASON
    )
    merged = next(e for e in _timeline_api(viewer, duplicate) if e["action"] == "escalation.merged")
    assert merged["data"] == {"from_status": "new"}
    page = _browser(viewer).get(reverse("escalation-detail", args=[duplicate.pk])).content.decode()
    assert "Merged into another escalation" in page
    assert world.secret.reference not in page and CANARY_TITLE not in page
    assert "merged (was New)" in page
    whole = next(e for e in _timeline_api(lead, duplicate) if e["action"] == "escalation.merged")
    assert whole["data"]["into"] == world.secret.reference


def test_a_crisis_restricted_later_leaves_the_timelines_of_its_escalations(world):
    viewer, lead = world.users["viewer"], world.users["lead_listed"]
    assert any(e["action"].startswith("crisis.") for e in _timeline_api(viewer, world.ordinary))
    services.set_crisis_access(
        crisis=world.crisis, actor=lead, is_restricted=True, access_usernames=[]
    )
    assert not any(e["action"].startswith("crisis.") for e in _timeline_api(viewer, world.ordinary))
    assert any(e["action"].startswith("crisis.") for e in _timeline_api(lead, world.ordinary))


def _criteria(user, crisis) -> dict[str, dict]:
    api, headers = _api(user)
    detail = api.get(f"/api/v1/crises/{crisis.pk}", headers=headers).json()
    return {c["code"]: c for c in detail["stand_down_criteria"]}


def test_stand_down_criteria_are_worked_out_from_what_the_reader_may_see(world):
    viewer, lead = world.users["viewer"], world.users["lead_listed"]
    escalation_services.transition_escalation(
        escalation=world.ordinary, to_status="closed", actor=lead, reason="Order withdrawn."
    )
    # The restricted case is open and its decision waits for approval: the lead on its
    # access list sees both hold the stand-down up…
    listed = _criteria(lead, world.crisis)
    assert listed["escalations_settled"]["met"] is False
    assert listed["escalations_settled"]["blockers"] == [f"{world.secret.reference} is new"]
    assert listed["approvals_done"]["met"] is False
    # …while to the viewer, for whom the case is not there, nothing holds it up.
    seen = _criteria(viewer, world.crisis)
    assert seen["escalations_settled"] == {
        **listed["escalations_settled"],
        "met": True,
        "blockers": [],
    }
    assert seen["approvals_done"]["met"] is True
    page = _browser(viewer).get(reverse("crisis-detail", args=[world.crisis.pk])).content.decode()
    assert world.secret.reference not in page

    # The lead stands down over it; the record names the case to those who may see it.
    _stand_down(world)
    level_change = next(
        e for e in _timeline_api(viewer, world.ordinary) if e["action"] == "crisis.level_changed"
    )
    assert level_change["data"]["unmet"] == []
    assert world.secret.reference not in str(level_change)
    api, headers = _api(viewer)
    timeline = api.get(f"/api/v1/crises/{world.crisis.pk}/timeline", headers=headers).json()
    stood_down = next(i for i in timeline["items"] if i["action"] == "crisis.level_changed")
    assert "Criteria not met" not in stood_down["body"]
    listed_change = next(
        e for e in _timeline_api(lead, world.ordinary) if e["action"] == "crisis.level_changed"
    )
    assert (
        "Every linked escalation is decided, actioned or closed" in listed_change["data"]["unmet"]
    )
    assert world.secret.reference in str(listed_change["data"]["criteria"])


def test_a_commander_who_may_not_see_a_case_is_not_held_up_by_it(world):
    """The guard works from the actor's view as well: the record of their decision names
    nothing they could not see."""
    lead_not_listed = world.users["lead_not_listed"]
    escalation_services.transition_escalation(
        escalation=world.ordinary,
        to_status="closed",
        actor=world.users["lead_listed"],
        reason="Order withdrawn.",
    )
    moved = services.change_level(
        crisis=world.crisis,
        to_level=Level.STAND_DOWN,
        actor=lead_not_listed,
        confirmed_criteria=["comms_agree", "regions_agree"],
    )
    assert moved.level == Level.STAND_DOWN
    event = selectors.level_history(world.crisis)[-1]
    assert event.data["reason"] == "all stand-down criteria met"
    assert world.secret.reference not in str(event.data)


# ---------------------------------------------------------------- finding 3: deliveries


def test_the_delivery_log_shows_a_restricted_crisis_reminder_only_to_its_readers(world):
    _remind_the_restricted_crisis_commander(world)
    for role, shown in (("lead_not_listed", False), ("lead_listed", True), ("admin", True)):
        page = _browser(world.users[role]).get(reverse("notify-deliveries"))
        text = page.content.decode()
        assert (CANARY_COMMANDER in text) is shown, role
        assert (world.restricted_crisis.reference in text) is shown, role
        # The counts by status count only what the reader may see.
        assert sum(page.context["counts"].values()) == page.context["page"].paginator.count
    reminder = SitrepReminder.objects.get(crisis=world.restricted_crisis).notification
    shown_to = {
        role: {n.pk for n in selectors_notify.delivery_log(user=user, filters=DeliveryFilters())}
        for role, user in world.users.items()
    }
    assert {role for role, ids in shown_to.items() if reminder.pk in ids} == LISTED


# ---------------------------------------------------------------- finding 2: handoffs


def test_a_handoff_packet_shows_each_reader_only_the_escalations_they_may_see(world):
    _confirm_handoff(world)
    secret_ref = re.compile(rf"\bWF-{world.secret.pk}\b")
    pages = {
        role: _browser(user).get(reverse("crisis-handoff", args=[world.crisis.pk]))
        for role, user in world.users.items()
    }
    for role, page in pages.items():
        assert page.status_code == 200, role
        packet = page.context["packet"]
        text = page.content.decode()
        found = bool(secret_ref.search(text)) or DOXXING_TYPE in text
        found = found or any(title in text for title in world.step_titles)
        assert found is (role in LISTED), role
        # Counted among what the reader may see: the partner sees the court order only.
        assert packet["state"]["escalations_total"] == (2 if role in LISTED else 1), role
    # The incoming commander (an analyst not on the case's list) gets the shared parts,
    # the ordinary case's deadlines among them.
    incoming = pages["analyst_not_listed"].context["packet"]
    assert {d["source"] for d in incoming["deadlines"]} <= {
        world.crisis.reference,
        world.ordinary.reference,
    }
    assert world.ordinary.reference in {d["source"] for d in incoming["deadlines"]}
    assert any(r == f"No owner: {world.ordinary.reference}." for r in incoming["risks"])


def test_a_packet_confirmed_before_the_parts_were_kept_apart_is_read_the_same_way(world):
    """Migration 0005 tags the parts of packets confirmed before, from their text."""
    import importlib

    from django.apps import apps

    from watchfloor.crises.models import Handoff

    _confirm_handoff(world)
    handoff = Handoff.objects.get(crisis=world.crisis)
    secret, ordinary = world.secret.reference, world.ordinary.reference
    handoff.packet = {
        "handoff_at": handoff.packet["handoff_at"],
        "state": {"level": "Incident", "escalations_open": 2, "escalations_total": 2},
        "open_decisions": [{"escalation": secret, "text": "Remove content", "since": None}],
        "open_asks": [{"escalation": ordinary, "text": "Reply", "team": "legal"}],
        "deadlines": [{"due_at": None, "label": "Step: x", "source": secret, "basis": ""}],
        "risks": [
            f"No owner: {ordinary}, {secret}.",
            "Roles open: Scribe.",
            f"Both {ordinary} {secret}",
        ],
    }
    handoff.save(update_fields=["packet"])
    migration = importlib.import_module(
        "watchfloor.crises.migrations.0006_handoff_packets_by_escalation"
    )
    migration.tag_packets(apps, None)
    handoff.refresh_from_db()
    page = _browser(world.users["viewer"]).get(reverse("crisis-handoff", args=[world.crisis.pk]))
    packet = page.context["packet"]
    assert packet["open_decisions"] == []
    assert [a["escalation"] for a in packet["open_asks"]] == [ordinary]
    assert packet["deadlines"] == []
    assert packet["risks"] == [f"No owner: {ordinary}.", "Roles open: Scribe."]
    assert secret not in page.content.decode()


# ---------------------------------------------------------------- finding 1: sitreps


def test_the_draft_keeps_a_restricted_case_in_its_own_section_and_says_so(world):
    lead = world.users["lead_listed"]
    api, headers = _api(lead)
    draft = api.get(
        f"/api/v1/crises/{world.crisis.pk}/sitreps/draft",
        {"audience": "leadership", "language": "en"},
        headers=headers,
    ).json()
    leaks = [
        name for name, p in world.canaries().items() if p.search(draft["subject"] + draft["body"])
    ]
    assert leaks == []
    assert [s["escalation_id"] for s in draft["sections"]] == [world.secret.pk]
    assert CANARY_TITLE in draft["sections"][0]["body"]
    assert draft["warnings"] == [
        "1 section concerns a restricted escalation: readers outside its access list will not "
        "see it."
    ]
    page = _browser(lead).get(
        reverse("crisis-sitrep", args=[world.crisis.pk]), {"audience": "leadership"}
    )
    text = page.content.decode()
    assert "1 section concerns a restricted escalation" in text
    assert f"Section on {world.secret.reference} (restricted)" in text
    # Someone who may not see the case drafts without it, and without a warning.
    other, other_headers = _api(world.users["analyst_not_listed"])
    theirs = other.get(
        f"/api/v1/crises/{world.crisis.pk}/sitreps/draft",
        {"audience": "leadership"},
        headers=other_headers,
    ).json()
    assert theirs["sections"] == [] and theirs["warnings"] == []


def test_a_sent_sitrep_shows_its_section_only_to_those_who_may_see_the_case(world):
    _send_sitreps_from_the_draft(world)
    leadership = world.sitreps[0]
    for role, user in world.users.items():
        page = _browser(user).get(
            reverse("crisis-sitrep-detail", args=[world.crisis.pk, leadership])
        )
        if role == "partner":  # partners read the partner and public sitreps only
            assert page.status_code == 404
            continue
        text = page.content.decode()
        assert (CANARY_TITLE in text) is (role in LISTED), role
        assert "Shelter doxxing wave" in text  # the shared text, for everyone
        # Nothing marks where a hidden section was.
        assert ("sitrep-section" in text) is (role in LISTED), role


def test_the_shared_text_may_not_name_a_restricted_case(world):
    lead = world.users["lead_listed"]
    for body in (
        f"Update: {world.secret.reference} is being removed.",
        f"Update: {CANARY_TITLE.upper()} is being removed.",
    ):
        with pytest.raises(InvalidInput) as refused:
            services.send_sitrep(
                crisis=world.crisis,
                audience="leadership",
                language="en",
                subject="Update",
                body=body,
                actor=lead,
            )
        assert refused.value.field == "body"
        assert "put what concerns it in its own section" in refused.value.message
    # The same words in the case's own section are fine; in another's, refused.
    sitrep = services.send_sitrep(
        crisis=world.crisis,
        audience="leadership",
        language="en",
        subject="Update",
        body="Removals continue.",
        sections=[(world.secret.pk, f"{world.secret.reference}: address posts removed.")],
        actor=lead,
    )
    assert [s.escalation_id for s in sitrep.sections.all()] == [world.secret.pk]
    with pytest.raises(InvalidInput) as refused:
        services.send_sitrep(
            crisis=world.crisis,
            audience="leadership",
            language="en",
            subject="Update",
            body="Removals continue.",
            sections=[(world.ordinary.pk, f"Same poster as {world.secret.reference}.")],
            actor=lead,
        )
    assert refused.value.field == "sections[0].body"
    # Someone who may not see the case is not told it is restricted: no refusal for them.
    services.send_sitrep(
        crisis=world.crisis,
        audience="leadership",
        language="en",
        subject="Update",
        body=f"Asked about {world.secret.reference}.",
        actor=world.users["analyst_not_listed"],
    )


def test_a_section_must_be_about_a_case_of_the_crisis_that_the_author_may_see(world):
    with pytest.raises(InvalidInput) as refused:
        services.send_sitrep(
            crisis=world.crisis,
            audience="leadership",
            language="en",
            subject="Update",
            body="Removals continue.",
            sections=[(world.secret.pk, "Something.")],
            actor=world.users["analyst_not_listed"],
        )
    assert refused.value.field == "sections[0].escalation"
    with pytest.raises(InvalidInput) as refused:
        services.send_sitrep(
            crisis=world.crisis,
            audience="external",
            language="en",
            subject="Update",
            body="We are removing the posts.",
            sections=[(world.ordinary.pk, "Something.")],
            actor=world.users["lead_listed"],
        )
    assert refused.value.field == "sections[0]"
