"""The crisis pages as people use them: declaring from an escalation, working the war room,
the fragment it refreshes from, and the query counts that keep them fast."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.crises.conftest import signed_in
from watchfloor.core import clock
from watchfloor.crises import selectors, services
from watchfloor.crises.models import Crisis, CrisisNote, Level, RoleKind

pytestmark = pytest.mark.usefixtures("frozen_clock")


def test_declaring_from_an_escalation_prefills_the_form(escalation, analyst):
    client = signed_in(analyst)
    page = client.get(reverse("crisis-declare") + f"?escalation={escalation.pk}")
    assert page.status_code == 200
    form = page.context["form"]
    assert form.initial["title"] == escalation.title
    assert form.initial["markets"] == ["JP"] and form.initial["languages"] == "ja"
    assert f'name="declared_from" value="{escalation.pk}"' in page.content.decode()

    response = client.post(
        reverse("crisis-declare"),
        {
            "declared_from": escalation.pk,
            "title": "Osaka attack video",
            "level": "crisis_protocol",
            "commander": analyst.username,
            "escalations": "",
            "reason": "SEV1 attack content spreading",
        },
    )
    crisis = Crisis.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("crisis-detail", args=[crisis.pk])
    assert crisis.declared_from == escalation and crisis.level == Level.CRISIS_PROTOCOL
    assert [m.code for m in crisis.markets.all()] == ["JP"]


def test_declaring_shows_problems_at_their_field(escalation, analyst):
    response = signed_in(analyst).post(
        reverse("crisis-declare"),
        {"title": "x", "level": "incident", "commander": analyst.username, "escalations": "WF-999"},
    )
    assert response.status_code == 400
    assert "no escalation WF-999 that you can see" in str(
        response.context["form"].errors["escalations"]
    )
    response = signed_in(analyst).post(
        reverse("crisis-declare"),
        {"title": "x", "level": "incident", "commander": analyst.username, "languages": "日本語"},
    )
    assert response.status_code == 400
    assert "BCP 47" in str(response.context["form"].errors["languages"])
    assert not Crisis.objects.exists()


def test_declaring_from_a_hidden_escalation_is_as_from_a_missing_one(
    make_escalation, analyst, lead
):
    hidden = make_escalation(title="Restricted", is_restricted=True)
    response = signed_in(lead).get(reverse("crisis-declare") + f"?escalation={hidden.pk}")
    assert response.status_code == 404


def test_the_war_room_shows_every_section(crisis, analyst, other_analyst):
    services.add_crisis_note(
        crisis=crisis, body="Original stream removed.", actor=analyst, pinned=True
    )
    services.add_crisis_note(
        crisis=crisis, body="Brief the minister's office at 11:00.", actor=analyst, kind="decision"
    )
    services.hand_over_role(crisis=crisis, role="scribe", to_user=other_analyst, actor=analyst)
    html = signed_in(analyst).get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    for section in (
        "live-status",
        "live-facts",
        "live-deadlines",
        "live-roles",
        "live-escalations",
        "live-requests",
        "live-decisions",
        "live-timeline",
    ):
        assert f'id="{section}" data-live' in html, section
    assert "Original stream removed." in html and "Brief the minister&#x27;s office" in html
    assert "in 4 h" in html  # the incident-level sitrep countdown
    assert f'data-live-url="/crises/{crisis.pk}/live"' in html
    assert "crises/war_room.js" in html and "<script>" not in html  # no inline scripts
    for form in ('id="add-entry"', "Hand over a role", "Change the level", "Link an escalation"):
        assert form in html


def test_the_fragment_carries_the_live_sections_only(crisis, analyst):
    response = signed_in(analyst).get(reverse("crisis-live", args=[crisis.pk]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    # with clusters, containment, the watchlist and the act bar (its sitrep countdown)
    assert html.count("data-live") == 13
    assert 'id="live-act-bar" data-live' in html
    assert "<html" not in html and "Hand over a role" not in html


def test_overdue_sitrep_stands_out(crisis, analyst):
    clock.advance(timedelta(hours=4, minutes=5))
    html = signed_in(analyst).get(reverse("crisis-live", args=[crisis.pk])).content.decode()
    assert "sitrep-overdue" in html and "Overdue" in html and "breached 5 min ago" in html
    listing = signed_in(analyst).get(reverse("crises")).content.decode()
    assert "sitrep-overdue" in listing


def test_the_timeline_pins_through_one_form(crisis, analyst, viewer):
    """Every "Pin as key fact" button names its note in ``formaction`` and submits the
    timeline's one form (one CSRF token for a hundred entries); a pinned entry has none,
    and a reader who may not work the crisis sees neither."""
    for body in ("Copycat accounts in Korea.", "Mirror sites taken down."):
        services.add_crisis_note(crisis=crisis, body=body, actor=analyst)
    services.add_crisis_note(crisis=crisis, body="Hash shared.", actor=analyst, pinned=True)
    html = signed_in(analyst).get(reverse("crisis-live", args=[crisis.pk])).content.decode()
    timeline = html[html.index('id="live-timeline"') :]
    timeline = timeline[: timeline.index("</section>")]
    assert timeline.count("<form") == 1 and 'id="timeline-pin"' in timeline
    assert timeline.count("csrfmiddlewaretoken") == 1
    unpinned = CrisisNote.objects.filter(is_pinned=False)
    assert timeline.count('form="timeline-pin"') == unpinned.count() == 2
    for note in unpinned:
        assert f'formaction="{reverse("crisis-pin", args=[crisis.pk, note.pk])}"' in timeline
    response = signed_in(viewer).get(reverse("crisis-live", args=[crisis.pk]))
    assert response.status_code == 200 and "Mirror sites taken down." in response.text
    assert "timeline-pin" not in response.text


def test_war_room_actions_come_back_with_their_outcome(crisis, analyst, other_analyst):
    client = signed_in(analyst)
    url = reverse("crisis-detail", args=[crisis.pk])
    response = client.post(
        reverse("crisis-note", args=[crisis.pk]),
        {"note-body": "Copycat accounts in Korea.", "note-kind": "note"},
    )
    assert response.status_code == 302 and response["Location"].startswith(url)
    note = CrisisNote.objects.get()
    response = client.post(reverse("crisis-pin", args=[crisis.pk, note.pk]), {"pinned": "1"})
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.is_pinned

    response = client.post(
        reverse("crisis-role", args=[crisis.pk]),
        {
            "role-expected_version": crisis.__class__.objects.get(pk=crisis.pk).access_version,
            "role-role": RoleKind.INCIDENT_COMMANDER,
            "role-holder": other_analyst.username,
            "role-note": "Over to Ben",
        },
    )
    assert response.status_code == 302
    assert selectors.commander_of(crisis) == other_analyst
    # Aiko no longer commands: the level form is refused.
    response = client.post(
        reverse("crisis-level", args=[crisis.pk]),
        {"level-to_level": "monitoring", "level-reason": "quiet"},
    )
    assert response.status_code == 403


def test_a_refused_stand_down_keeps_the_input_and_says_why(crisis, analyst):
    response = signed_in(analyst).post(
        reverse("crisis-level", args=[crisis.pk]), {"level-to_level": "stand_down"}
    )
    assert response.status_code == 400
    form = response.context["forms"]["level"]
    assert "stand-down criteria are not all met" in str(form.errors["reason"])
    assert response.context["bound_form"] == "level"
    crisis.refresh_from_db()
    assert crisis.level == Level.INCIDENT


def test_linking_and_unlinking_from_the_war_room(crisis, make_escalation, analyst):
    other = make_escalation(title="Second upload wave")
    client = signed_in(analyst)
    response = client.post(
        reverse("crisis-link", args=[crisis.pk]),
        {"link-escalation": other.reference, "link-reason": "same video"},
    )
    assert response.status_code == 302 and crisis.links.count() == 2
    response = client.post(
        reverse("crisis-unlink", args=[crisis.pk, other.pk]), {"unlink-reason": "different video"}
    )
    assert response.status_code == 302 and crisis.links.count() == 1
    response = client.post(
        reverse("crisis-unlink", args=[crisis.pk, crisis.declared_from_id]),
        {"unlink-reason": "x"},
        follow=True,
    )
    assert "it stays linked" in response.content.decode()


def test_sending_a_sitrep_from_its_page(crisis, analyst):
    client = signed_in(analyst)
    page = client.get(reverse("crisis-sitrep", args=[crisis.pk]) + "?audience=partners&language=ja")
    assert page.status_code == 200
    draft = page.context["draft"]
    assert draft.audience.code == "partners" and draft.language == "ja"
    response = client.post(
        reverse("crisis-sitrep", args=[crisis.pk]),
        {
            "send": "1",
            "audience": "partners",
            "language": "ja",
            "subject": draft.subject,
            "body": draft.body + "\n追記：法務の確認待ち。",
        },
    )
    assert response.status_code == 302
    sitrep = crisis.sitreps.get()
    assert sitrep.body.endswith("追記：法務の確認待ち。") and sitrep.language == "ja"
    detail = client.get(reverse("crisis-sitrep-detail", args=[crisis.pk, sitrep.pk]))
    assert "法務の確認待ち" in detail.content.decode()
    # An unknown language falls back to English, saying so.
    page = client.get(reverse("crisis-sitrep", args=[crisis.pk]) + "?language=fr")
    assert page.context["draft"].language == "en"


def test_the_handoff_page_confirm_and_acknowledge(crisis, analyst, other_analyst):
    client = signed_in(analyst)
    page = client.get(reverse("crisis-handoff", args=[crisis.pk]))
    assert page.status_code == 200 and page.context["form"] is not None
    assert "Americas → APAC" in page.content.decode()
    response = client.post(
        reverse("crisis-handoff", args=[crisis.pk]),
        {
            "incoming": other_analyst.username,
            "risks": "Watch for copycats.",
            "handoff_at": page.context["in_play"].at.isoformat(),
        },
    )
    assert response.status_code == 302
    handoff = crisis.handoffs.get()
    ben = signed_in(other_analyst)
    page = ben.get(reverse("crisis-handoff", args=[crisis.pk]))
    assert page.context["ack_form"] is not None and "Watch for copycats." in page.content.decode()
    ben.post(
        reverse("crisis-handoff-acknowledge", args=[crisis.pk, handoff.pk]), {"ack-note": "ok"}
    )
    assert selectors.commander_of(crisis) == other_analyst


def test_the_review_page_takes_the_teams_part_after_stand_down(crisis, analyst, other_analyst):
    client = signed_in(analyst)
    page = client.get(reverse("crisis-review", args=[crisis.pk]))
    assert page.context["forms"] == {}
    assert "opens when the crisis stands down" in page.content.decode()
    services.change_level(crisis=crisis, to_level=Level.STAND_DOWN, actor=analyst, reason="quiet")
    response = client.post(
        reverse("crisis-review-update", args=[crisis.pk, "cause"]),
        {
            "cause-problem": "Copies spread for an hour",
            "cause-why_0": "The hash was not shared",
            "cause-why_1": "",
            "cause-root_cause": "No standing hash-sharing agreement",
        },
    )
    assert response.status_code == 302
    response = client.post(
        reverse("crisis-review-update", args=[crisis.pk, "item"]),
        {
            "item-title": "Sign the hash-sharing MoU",
            "item-owner": other_analyst.username,
            "item-due_on": "2026-12-15",
        },
    )
    assert response.status_code == 302
    item = crisis.review.action_items.get()
    response = client.post(
        reverse("crisis-action-item-status", args=[crisis.pk, item.pk]),
        {f"item-{item.pk}-status": "done", f"item-{item.pk}-note": ""},
    )
    item.refresh_from_db()
    assert item.status == "done"
    html = client.get(reverse("crisis-review", args=[crisis.pk])).content.decode()
    assert "No standing hash-sharing agreement" in html and "Sign the hash-sharing MoU" in html


def test_the_escalation_page_panel(crisis, escalation, make_escalation, analyst, viewer):
    def panel(target, user) -> str:
        request = RequestFactory().get("/")
        request.user = user
        return render_to_string(
            "crises/_escalation_panel.html",
            {"crisis_panel": selectors.escalation_crisis_panel(escalation=target, viewer=user)},
            request=request,
        )

    html = panel(escalation, analyst)
    assert crisis.reference in html and "Declare a crisis" not in html  # already in one
    loose = make_escalation(title="Not in a crisis")
    html = panel(loose, analyst)
    assert "Not part of a crisis." in html
    assert f"/crises/new?escalation={loose.pk}" in html
    assert "Declare a crisis" not in panel(loose, viewer)


def test_open_partner_requests_show_in_the_war_room_the_sitrep_and_the_criteria(
    crisis, escalation, analyst, legal_partner
):
    from watchfloor.coordination.services import send_partner_request

    asked = send_partner_request(
        escalation=escalation,
        actor=analyst,
        team_code="legal",
        kind="legal_review",
        question="May we share the stream hash with industry partners?",
        due_within=timedelta(hours=2),
    )
    html = signed_in(analyst).get(reverse("crisis-live", args=[crisis.pk])).content.decode()
    assert asked.reference in html and "May we share the stream hash" in html
    assert "Legal: Legal review" in html  # among the deadlines
    draft = signed_in(analyst).get(reverse("crisis-sitrep", args=[crisis.pk])).context["draft"]
    assert f"{escalation.reference}: Legal, Legal review, due 2026-11-24 11:30 JST" in draft.body
    room = selectors.war_room(crisis=crisis, viewer=analyst, now=clock.now(), with_criteria=True)
    answered = next(r for r in room.criteria if r.criterion.code == "partners_answered")
    assert answered.met is False and "a request to Legal" in answered.detail
    # The partner sees the request of their own team, in the crisis their escalation is in.
    partner_view = signed_in(legal_partner).get(reverse("crisis-live", args=[crisis.pk]))
    assert partner_view.status_code == 200 and asked.reference in partner_view.content.decode()


@pytest.mark.parametrize("extra", [0, 3])
def test_query_counts_do_not_grow_with_the_crises(
    declare, make_escalation, analyst, extra, django_assert_num_queries
):
    crisis = declare()
    for index in range(extra):
        other = declare(title=f"Crisis {index}", declared_from=make_escalation(title=f"E{index}"))
        services.add_crisis_note(crisis=crisis, body=f"note {index}", actor=analyst, pinned=True)
        services.link_escalation(crisis=crisis, escalation=other.declared_from, actor=analyst)
    client = signed_in(analyst)
    client.get(reverse("crises"))  # warm the session and the config
    with django_assert_num_queries(LIST_QUERIES):
        assert client.get(reverse("crises")).status_code == 200
    with django_assert_num_queries(LIVE_QUERIES):
        assert client.get(reverse("crisis-live", args=[crisis.pk])).status_code == 200
    client.get(reverse("crisis-detail", args=[crisis.pk]))  # warm the per-process caches
    with django_assert_num_queries(PAGE_QUERIES):
        assert client.get(reverse("crisis-detail", args=[crisis.pk])).status_code == 200


def _templates_rendered(client, url: str) -> Counter[str]:
    rendered: Counter[str] = Counter()

    def count(sender, template, **kwargs):
        rendered[template.origin.template_name] += 1

    template_rendered.connect(count)
    try:
        assert client.get(url).status_code == 200
    finally:
        template_rendered.disconnect(count)
    return rendered


def test_the_war_room_renders_as_much_for_a_large_team_as_for_a_small_one(
    crisis, analyst, make_user
):
    """The people lists (hand a role to, the access list) render their options in place:
    an include per option made each view cost a fifth of a millisecond per person."""
    client = signed_in(analyst)
    url = reverse("crisis-detail", args=[crisis.pk])
    small_team = _templates_rendered(client, url)
    for index in range(20):
        make_user(f"person{index:02d}", "analyst")
    large_team = _templates_rendered(client, url)
    assert large_team == small_team
    with CaptureQueriesContext(connection) as page_view:
        page = client.get(url).content.decode()
    assert page.count('<option value="person') == 2 * 20  # both lists hold everyone
    directory_reads = [
        query["sql"]
        for query in page_view.captured_queries
        if 'FROM "people_user" WHERE "people_user"."is_active"' in query["sql"]
    ]
    assert len(directory_reads) == 1  # shared by the two lists


# 6 for the list, 1 for the crises proposed from official alerts (warning app), and 3
# for the header's "Needs me" count: its one query, then (the viewer commands the
# crises) the commanded crises and their handoffs.
LIST_QUERIES = 10
# 18 (key facts and decisions apart: the log shows the latest only), and 7 for the linked
# clusters, containment and the watchlist.
LIVE_QUERIES = 25
# The live sections, the stand-down criteria, the action forms (the people directory read
# once for the two that list everyone), the panels other apps add (evidence, exposure,
# hash-bank matches) and the header's "Needs me" count.
PAGE_QUERIES = 49


def test_the_decision_log_shows_the_latest_and_says_how_many(crisis, analyst, monkeypatch):
    from watchfloor.crises.selectors import room as war_room_selectors

    monkeypatch.setattr(war_room_selectors, "DECISION_LOG_LIMIT", 3)
    for number in range(5):
        services.add_crisis_note(
            crisis=crisis, body=f"Decision {number}", actor=analyst, kind="decision"
        )
    page = signed_in(analyst).get(reverse("crisis-live", args=[crisis.pk])).content.decode()
    log = page[page.index('id="live-decisions"') :]
    log = log[: log.index("</section>")]
    assert "the latest 3 of 5" in log
    assert "Decision 4" in log and "Decision 2" in log and "Decision 1" not in log
