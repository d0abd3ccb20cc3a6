"""Regression tests for the rest of the defects a first user met (issue 12): 3, 6, 10,
11, 12, 15 and 17, each named after the defect's number in the issue."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.escalations.conftest import SEVERITY_ANSWERS
from watchfloor.escalations import decisions

pytestmark = pytest.mark.django_db

STALE = "changed since you opened it — here is what changed"


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert match, f"no hidden {name} on the page"
    return match.group(1)


def _decide(escalation, actor, **extra):

    return decisions.record_decision(
        escalation=escalation,
        actor=actor,
        policy_code="scams_fraud",
        action_code=extra.pop("action_code", "remove_content"),
        scope="The posts listed",
        rationale="Impersonates a charity.",
        **extra,
    )


# ---------------------------------------------------------------- 3. lost updates


@pytest.fixture
def crisis(make_escalation, analyst, frozen_clock):
    from watchfloor.crises.services import declare_crisis

    escalation = make_escalation(
        type_code="violent_attack_content",
        title="Livestreamed attack in Osaka being re-uploaded",
        markets=["JP"],
        languages=["ja"],
        rubric_answers=SEVERITY_ANSWERS[1],
    )
    return declare_crisis(
        actor=analyst, title="Osaka attack video", level="incident", declared_from=escalation
    )


def _details(page: str, **changes) -> dict:
    data = {
        "details-title": "Osaka attack video",
        "details-summary": "",
        "details-markets": ["JP"],
        "details-languages": "ja",
        "details-read_version": _hidden(page, "details-read_version"),
    }
    data.update({f"details-{name}": value for name, value in changes.items()})
    return data


def test_defect_03_crisis_details_from_a_stale_tab_are_refused_with_what_changed(
    crisis, analyst_client
):
    """Two tabs: the title saved in one no longer wipes the summary typed in the other."""
    room = reverse("crisis-detail", args=[crisis.pk])
    details = reverse("crisis-details", args=[crisis.pk])
    first_tab = analyst_client.get(room).content.decode()
    second_tab = analyst_client.get(room).content.decode()

    saved = analyst_client.post(details, _details(first_tab, title="Osaka attack: re-uploads"))
    assert saved.status_code == 302

    stale = analyst_client.post(details, _details(second_tab, summary="Copies on three sites."))
    assert stale.status_code == 409
    page = stale.content.decode()
    assert STALE in page
    assert "Osaka attack: re-uploads" in page  # what changed, named
    crisis.refresh_from_db()
    assert crisis.title == "Osaka attack: re-uploads"
    assert crisis.summary == ""

    # Having seen the change, the same form sent again is a new edit, and is saved.
    again = analyst_client.post(
        details,
        _details(
            page,
            title="Osaka attack: re-uploads",
            summary="Copies on three sites.",
        ),
    )
    assert again.status_code == 302
    crisis.refresh_from_db()
    assert (crisis.title, crisis.summary) == ("Osaka attack: re-uploads", "Copies on three sites.")


def test_defect_03_other_war_room_activity_does_not_make_the_details_stale(
    crisis, analyst_client, analyst
):
    from watchfloor.crises.services import add_crisis_note

    room = reverse("crisis-detail", args=[crisis.pk])
    page = analyst_client.get(room).content.decode()
    add_crisis_note(crisis=crisis, actor=analyst, body="Re-uploads slowing down.")
    response = analyst_client.post(
        reverse("crisis-details", args=[crisis.pk]), _details(page, summary="Contained.")
    )
    assert response.status_code == 302


def test_defect_03_a_stale_owner_assignment_is_refused_by_the_api(
    make_escalation, api_as, analyst, other_analyst, lead
):
    escalation = make_escalation()
    path = f"/escalations/{escalation.pk}"
    mine, theirs = api_as(analyst), api_as(lead)
    version = mine.get(path).json()["version"]
    assert theirs.get(path).json()["version"] == version

    taken = mine.post(f"{path}/assign", {"owner": analyst.username, "read_version": version})
    assert taken.status_code == 200
    stale = theirs.post(
        f"{path}/assign", {"owner": other_analyst.username, "read_version": version}
    )
    assert stale.status_code == 409
    body = stale.json()
    assert set(body) == {"code", "message", "field"}
    assert body["code"] == "stale" and body["field"] == "read_version"
    assert STALE in body["message"] and f"owner set to {analyst.username}" in body["message"]
    escalation.refresh_from_db()
    assert escalation.owner == analyst

    fresh = theirs.get(path).json()["version"]
    moved = theirs.post(f"{path}/assign", {"owner": other_analyst.username, "read_version": fresh})
    assert moved.status_code == 200 and moved.json()["owner"]["username"] == other_analyst.username


def test_defect_03_a_stale_owner_assignment_is_refused_in_the_page(
    make_escalation, analyst_client, lead_client, other_analyst
):
    escalation = make_escalation()
    detail = reverse("escalation-detail", args=[escalation.pk])
    assign = reverse("escalation-assign", args=[escalation.pk])
    first = analyst_client.get(detail).content.decode()
    second = lead_client.get(detail).content.decode()
    analyst_client.post(
        assign,
        {
            "assign-owner": "aiko.analyst",
            "assign-read_version": _hidden(first, "assign-read_version"),
        },
    )
    response = lead_client.post(
        assign,
        {
            "assign-owner": other_analyst.username,
            "assign-read_version": _hidden(second, "assign-read_version"),
        },
    )
    assert response.status_code == 409
    assert STALE in response.content.decode()
    escalation.refresh_from_db()
    assert escalation.owner.username == "aiko.analyst"


def test_defect_03_at_most_one_final_decision_unless_one_supersedes_it(make_escalation, analyst):
    from watchfloor.core.errors import Conflict
    from watchfloor.escalations.models import Decision

    escalation = make_escalation(rubric_answers=SEVERITY_ANSWERS[3])
    first = _decide(escalation, analyst)
    assert first.state == Decision.State.FINAL
    with pytest.raises(Conflict) as refused:
        _decide(escalation, analyst, action_code="reduce_reach")
    assert refused.value.field == "supersedes"
    assert f"#{first.pk}" in refused.value.message

    second = _decide(escalation, analyst, action_code="reduce_reach", supersedes=first.pk)
    first.refresh_from_db()
    assert (first.state, second.state) == (Decision.State.SUPERSEDED, Decision.State.FINAL)
    assert second.supersedes == first
    assert list(escalation.decisions.filter(state="final")) == [second]

    from watchfloor.audit.models import AuditEvent

    superseded = AuditEvent.objects.get(action="decision.superseded", object_id=str(first.pk))
    assert superseded.data["by"] == second.pk
    # Naming a decision that is no longer final is refused too (a stale replacement).
    with pytest.raises(Conflict):
        _decide(escalation, analyst, supersedes=first.pk)


def test_defect_03_two_proposals_cannot_both_be_approved(make_escalation, lead, make_user):
    from watchfloor.core.errors import Conflict

    escalation = make_escalation(rubric_answers=SEVERITY_ANSWERS[1], actor=lead)
    one = _decide(escalation, lead)
    two = _decide(escalation, lead, action_code="reduce_reach")
    approver = make_user("sam.lead", "lead", "site_policy")
    decisions.approve_decision(decision=one, actor=approver)
    with pytest.raises(Conflict):
        decisions.approve_decision(decision=two, actor=approver)
    assert escalation.decisions.filter(state="final").count() == 1


def test_defect_03_a_second_final_decision_from_a_stale_tab_is_refused(
    make_escalation, analyst_client, api_as, analyst
):
    escalation = make_escalation(rubric_answers=SEVERITY_ANSWERS[3])
    detail = reverse("escalation-detail", args=[escalation.pk])
    first_tab = analyst_client.get(detail).content.decode()
    second_tab = analyst_client.get(detail).content.decode()

    def post(page: str, action: str):
        return analyst_client.post(
            reverse("escalation-decide", args=[escalation.pk]),
            {
                "decision-policy": "scams_fraud",
                "decision-policy_version": "",
                "decision-action": action,
                "decision-scope": "The posts listed",
                "decision-rationale": "Impersonates a charity.",
                "decision-supersedes": "",
                "decision-read_version": _hidden(page, "decision-read_version"),
            },
        )

    assert post(first_tab, "remove_content").status_code == 302
    refused = post(second_tab, "reduce_reach")
    assert refused.status_code == 409
    assert STALE in refused.content.decode()
    assert escalation.decisions.count() == 1

    # The API says the same in its JSON error shape.
    response = api_as(analyst).post(
        f"/escalations/{escalation.pk}/decisions",
        {
            "policy": "scams_fraud",
            "action": "reduce_reach",
            "scope": "The posts listed",
            "rationale": "Impersonates a charity.",
        },
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict" and response.json()["field"] == "supersedes"


# ---------------------------------------------------------------- 10. sent once


def _new_escalation_form(page: str, **overrides) -> dict:
    data = {
        "type": "scam_campaign",
        "title": "Typhoon relief donation scam wave",
        "summary": "",
        "markets": ["PH"],
        "languages": "tl, en",
        "subjects": "",
        "source_kind": "internal",
        "source_team": "",
        "source_detail": "",
        "statutory_rule": "",
        "statutory_received_at": "",
        "statutory_time_zone": "Asia/Tokyo",
        "statutory_due_at": "",
        "notice_reference": "",
        "policy": "",
        "form_token": _hidden(page, "form_token"),
    }
    data.update(overrides)
    return data


def test_defect_10_the_same_form_sent_again_files_no_duplicate(analyst_client, frozen_clock):
    from watchfloor.escalations.models import Escalation

    new = reverse("escalation-create")
    page = analyst_client.get(new)
    # The back button asks the server again instead of showing the filled form.
    assert "no-store" in page["Cache-Control"]
    data = _new_escalation_form(page.content.decode())

    first = analyst_client.post(new, data)
    assert first.status_code == 302
    escalation = Escalation.objects.get()
    assert first.url == reverse("escalation-detail", args=[escalation.pk])

    again = analyst_client.post(new, data, follow=True)
    assert Escalation.objects.count() == 1
    assert again.redirect_chain == [(first.url, 302)]
    assert "This form was already sent" in again.content.decode()

    # A fresh form (a new token) files a new escalation.
    fresh = _new_escalation_form(analyst_client.get(new).content.decode())
    assert fresh["form_token"] != data["form_token"]
    assert analyst_client.post(new, fresh).status_code == 302
    assert Escalation.objects.count() == 2


def test_defect_10_a_form_refused_keeps_its_token_until_it_files(analyst_client, frozen_clock):
    from watchfloor.escalations.models import Escalation

    new = reverse("escalation-create")
    data = _new_escalation_form(analyst_client.get(new).content.decode(), title="")
    refused = analyst_client.post(new, data)
    assert refused.status_code == 400
    assert _hidden(refused.content.decode(), "form_token") == data["form_token"]
    data["title"] = "Typhoon relief donation scam wave"
    assert analyst_client.post(new, data).status_code == 302
    assert analyst_client.post(new, data).status_code == 302
    assert Escalation.objects.count() == 1


# ---------------------------------------------------------------- 11. form errors


def _errors_beside(page: str) -> list[str]:
    """The names of the fields shown with an error beside them."""
    return re.findall(r'<div class="field has-error">\s*<label for="id_([a-z_-]+)"', page)


def test_defect_11_every_error_of_the_new_escalation_form_at_once(analyst_client):
    new = reverse("escalation-create")
    page = analyst_client.get(new).content.decode()
    response = analyst_client.post(
        new,
        _new_escalation_form(
            page, type="", title="T" * 201, summary="S" * 20_001, languages="ja, ???"
        ),
    )
    assert response.status_code == 400
    assert response.request["PATH_INFO"] == new
    assert set(_errors_beside(response.content.decode())) >= {
        "type",
        "title",
        "summary",
        "languages",
    }
    assert "&#x27;???&#x27; is not a BCP 47 language tag" in response.content.decode()


def test_defect_11_text_fields_carry_their_limits(make_escalation, analyst_client, crisis, analyst):
    page = analyst_client.get(reverse("escalation-create")).content.decode()
    assert re.search(r'<input type="text" name="title" maxlength="200"', page)
    assert re.search(r'<textarea name="summary"[^>]* maxlength="20000"', page)

    escalation = make_escalation()
    detail = analyst_client.get(reverse("escalation-detail", args=[escalation.pk])).content
    detail = detail.decode()
    for name, limit in (
        ("note-body", 20000),
        ("decision-scope", 5000),
        ("decision-rationale", 20000),
    ):
        assert re.search(rf'<textarea name="{name}"[^>]* maxlength="{limit}"', detail), name

    room = analyst_client.get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    assert re.search(r'<textarea name="details-summary"[^>]* maxlength="20000"', room)
    assert re.search(r'<textarea name="note-body"[^>]* maxlength="20000"', room)


def test_defect_11_a_refused_action_form_is_shown_at_the_escalation_s_own_address(
    make_escalation, analyst_client
):
    escalation = make_escalation()
    detail = reverse("escalation-detail", args=[escalation.pk])
    response = analyst_client.post(
        reverse("escalation-note", args=[escalation.pk]), {"note-body": ""}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert f'data-page-url="{detail}"' in page
    assert "web/page_url" in page
    assert "note-body" in _errors_beside(page)
    # A page shown normally has nothing to put back.
    assert "data-page-url" not in analyst_client.get(detail).content.decode()


# ---------------------------------------------------------------- 6. no dead links


def test_defect_06_a_partner_s_war_room_links_only_what_the_partner_can_open(
    make_escalation, analyst, legal_partner, frozen_clock
):
    from watchfloor.crises import services

    shared = make_escalation(title="Court order", shared_with_team_codes=["legal"])
    crisis = services.declare_crisis(
        actor=analyst, title="Court order wave", level="incident", declared_from=shared
    )
    leadership = services.send_sitrep(
        crisis=crisis,
        audience="leadership",
        language="en",
        subject="Leadership only",
        body="Internal assessment.",
        actor=analyst,
    )
    partners = services.send_sitrep(
        crisis=crisis,
        audience="partners",
        language="en",
        subject="For partner teams",
        body="Legal: please confirm the order's scope.",
        actor=analyst,
    )
    client = Client()
    client.force_login(legal_partner)
    page = client.get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    sitrep = "crisis-sitrep-detail"
    assert reverse(sitrep, args=[crisis.pk, partners.pk]) in page
    assert reverse(sitrep, args=[crisis.pk, leadership.pk]) not in page

    links = {href for href in re.findall(r'href="(/[^"#?]*)', page) if "/static/" not in href}
    dead = {href: client.get(href).status_code for href in links}
    assert {href: status for href, status in dead.items() if status in (403, 404)} == {}


# ---------------------------------------------------------------- 17. links by role


def _nav_links(client) -> set[str]:
    page = client.get(reverse("queue")).content.decode()
    header = page.split('<main id="main"', 1)[0]
    return set(re.findall(r'href="(/[^"#?]*)', header))


def test_defect_17_internal_roles_link_the_partner_inbox_drills_and_api_docs(
    analyst_client, lead_client, viewer
):
    viewer_client = Client()
    viewer_client.force_login(viewer)
    wanted = {reverse("inbox"), reverse("drills"), reverse("api-v1:openapi-view")}
    for client in (analyst_client, lead_client, viewer_client):
        links = _nav_links(client)
        assert wanted <= links
        assert reverse("admin:index") not in links
        # Never a link to what the role cannot open.
        assert {href: client.get(href).status_code for href in wanted} == dict.fromkeys(wanted, 200)


def test_defect_17_an_admin_has_a_link_to_the_admin_site(admin_client_signed_in):
    assert reverse("admin:index") in _nav_links(admin_client_signed_in)
    assert admin_client_signed_in.get(reverse("admin:index")).status_code == 200


def test_defect_17_non_staff_at_the_admin_site_get_a_not_for_your_role_page(
    analyst_client, legal_partner
):
    for client in (analyst_client, Client()):
        if client is not analyst_client:
            client.force_login(legal_partner)
        response = client.get("/admin/", follow=True)
        assert response.status_code == 403
        page = response.content.decode()
        assert "not for your role" in page
        assert 'name="password"' not in page  # no second sign-in offered

    # Someone not signed in still gets the admin site's own (throttled) sign-in.
    anonymous = Client().get("/admin/", follow=True)
    assert anonymous.status_code == 200 and 'name="password"' in anonymous.content.decode()


# ---------------------------------------------------------------- 12. words, not codes


def test_defect_12_statutory_clocks_are_named_in_words(make_escalation, analyst_client):
    from datetime import timedelta

    from watchfloor.core import clock
    from watchfloor.escalations.inputs import StatutoryTriggerInput

    escalation = make_escalation(
        type_code="government_legal_demand",
        markets=["IN"],
        languages=["hi"],
        statutory_triggers=[
            StatutoryTriggerInput(
                rule="in-itrules-3-1-d", received_at=clock.now() - timedelta(minutes=10)
            )
        ],
    )
    statutory = escalation.clocks.get(kind="statutory")
    assert statutory.label == "India: remove or disable access within 3 hours"
    page = analyst_client.get(reverse("escalation-detail", args=[escalation.pk])).content.decode()
    assert "India: remove or disable access within 3 hours" in page
    assert "Statutory: in-itrules-3-1-d" not in page


def test_defect_12_paging_stages_read_at_once_and_after(catalog):
    from watchfloor.audit.events import AuditAction
    from watchfloor.notify.timeline import DESCRIBERS

    _, stages = DESCRIBERS[AuditAction.NOTIFY_POLICY_STARTED](
        {
            "name": "SEV1 paging",
            "severity": "SEV1",
            "stages": [
                {"after": "PT0M", "notify": ["on call: site_policy"]},
                {"after": "PT10M", "notify": ["team: leads"]},
                {"after": "PT2H", "notify": ["channel: crisis-room"]},
            ],
        }
    )
    assert stages == (
        "at once: on call: site_policy; after 10 min: team: leads; "
        "after 2 hours: channel: crisis-room"
    )
    assert "PT" not in stages


def test_defect_12_a_playbook_not_started_says_why_in_words(make_escalation):
    from datetime import UTC, datetime

    from watchfloor.audit.models import AuditEvent
    from watchfloor.escalations.selectors import TimelineEntry
    from watchfloor.escalations.timeline import readable_timeline

    def why(data: dict) -> str:
        entry = TimelineEntry(
            at=datetime.now(tz=UTC),
            actor="system",
            action="playbook.proposed",
            label="Playbooks proposed",
            data=data,
        )
        return readable_timeline([entry])[0].body

    # Events recorded before the reasons were worded read in words too.
    old = why({"proposals": [{"playbook": "scam"}], "why_not_started": "auto_start is off"})
    assert "auto_start" not in old and "not set to start by itself" in old
    escalation = make_escalation(type_code="scam_campaign")
    proposed = AuditEvent.objects.filter(action="playbook.proposed", escalation_id=escalation.pk)
    for event in proposed:
        assert "auto_start" not in event.data.get("why_not_started", "")


def test_defect_12_a_time_is_not_printed_twice_in_the_same_zone():
    from datetime import UTC, datetime

    from django.template import Context, Template
    from django.utils import timezone

    template = Template(
        '{% load watchfloor_ui %}{% local_time due %}{% also_in_zone due zone "owner\'s time" %}'
    )
    due = datetime(2026, 11, 24, 12, 26, tzinfo=UTC)
    with timezone.override("Asia/Tokyo"):
        same = template.render(Context({"due": due, "zone": "Asia/Tokyo"}))
        other = template.render(Context({"due": due, "zone": "Europe/London"}))
    assert same.count("21:26") == 1 and "owner" not in same
    assert "21:26 JST" in other and "12:26 GMT" in other and "(owner's time)" in other


# ---------------------------------------------------------------- 15. lang and dir


def test_defect_15_titles_summaries_and_notes_carry_lang_and_dir(
    make_escalation, analyst_client, analyst
):
    from watchfloor.escalations.services import add_note

    escalation = make_escalation(
        title="颱風賑災詐騙貼文大量出現",
        summary="假冒慈善機構募款。",
        markets=["TW"],
        languages=["zh-Hant", "ja"],
    )
    add_note(escalation=escalation, body="שלום, this note starts right to left", actor=analyst)
    page = analyst_client.get(reverse("escalation-detail", args=[escalation.pk])).content.decode()
    assert '<h1 lang="zh-Hant" dir="auto">颱風賑災詐騙貼文大量出現</h1>' in page
    assert '<p class="summary" lang="zh-Hant" dir="auto">假冒慈善機構募款。</p>' in page
    assert 'lang="he" dir="auto">שלום, this note starts right to left</p>' in page

    queue = analyst_client.get(reverse("queue")).content.decode()
    assert '<bdi lang="zh-Hant" dir="auto">颱風賑災詐騙貼文大量出現</bdi>' in queue


def test_defect_15_the_crisis_title_and_summary_carry_lang_and_dir(crisis, analyst_client):
    from watchfloor.crises.services import update_crisis

    update_crisis(
        crisis=crisis,
        actor=crisis.declared_by,
        title="大阪の襲撃動画",
        summary="再投稿が続いている。",
        markets=["JP"],
        languages=["ja"],
    )
    page = analyst_client.get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    assert '<h1 lang="ja" dir="auto">大阪の襲撃動画</h1>' in page
    assert 'lang="ja" dir="auto">再投稿が続いている。</p>' in page


@pytest.mark.parametrize(
    ("text", "languages", "expected"),
    [
        ("能登半島地震の義援金", ["zh-Hant", "ja"], "ja"),  # kana: Japanese
        ("颱風賑災詐騙", ["ja", "zh-Hant"], "zh-Hant"),  # Han alone: the Chinese named
        ("颱風賑災詐騙", ["ja"], "ja"),
        ("태풍 구호 사기", [], "ko"),
        ("การหลอกลวง", ["th"], "th"),
        ("राहत घोटाला", ["hi", "en"], "hi"),
        ("Typhoon relief scam", ["tl", "en"], ""),  # Latin, several named: the page's
        ("Penipuan bantuan", ["id"], "id"),
    ],
)
def test_defect_15_text_language_follows_the_script(text, languages, expected):
    from watchfloor.web.text_language import text_language

    assert text_language(text, languages) == expected


@pytest.mark.parametrize("languages", [[], ["ja"], ["zh-Hant", "ko"], ["en", "th", "hi"]])
def test_defect_15_the_language_is_one_named_or_a_script_default(languages):
    from hypothesis import given
    from hypothesis import strategies as st

    from watchfloor.web.text_language import _LIKELIEST, text_language

    @given(st.text(max_size=40))
    def check(text):
        tag = text_language(text, languages)
        assert tag == "" or tag in languages or tag in _LIKELIEST.values()

    check()


def test_defect_03_the_page_shows_which_decision_replaced_which(
    make_escalation, analyst, analyst_client
):
    escalation = make_escalation(rubric_answers=SEVERITY_ANSWERS[3])
    first = _decide(escalation, analyst)
    page = analyst_client.get(reverse("escalation-detail", args=[escalation.pk])).content
    page = page.decode()
    # Offered as the one a new decision replaces, and only explicitly.
    assert f'<option value="{first.pk}">Decision #{first.pk}: Remove content</option>' in page
    second = _decide(escalation, analyst, action_code="reduce_reach", supersedes=first.pk)
    page = analyst_client.get(reverse("escalation-detail", args=[escalation.pk])).content
    page = page.decode()
    assert ">Superseded</span>" in page
    assert f"#{second.pk} · replaces #{first.pk}" in page


def test_defect_12_statutory_rules_are_offered_by_name(analyst_client):
    page = analyst_client.get(reverse("escalation-create")).content.decode()
    option = re.search(r'<option value="in-itrules-3-1-d">([^<]*)</option>', page)
    assert option, "the rule is offered"
    assert option.group(1).startswith("India: remove or disable access within 3 hours (IT Rules")
