"""The web UI as a person uses it: what they see, what they can do, what they are refused."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.escalations import decisions, inputs, services
from watchfloor.escalations.models import Decision, Escalation, Status

pytestmark = pytest.mark.django_db

# Rubric answers that land on each severity with the default catalog.
SEV1 = {"harm": "catastrophic"}  # floor: catastrophic harm is at least SEV1
SEV2 = {"legal_exposure": "statutory_notice"}  # floor: a statutory notice is at least SEV2
SEV3 = {"harm": "moderate", "reach": "significant"}  # 10 + 6 = 16
SEV4: dict[str, str] = {}

# The au-osa-removal-notice rule as its clock names it.
AUSTRALIA_REMOVAL = "Australia: remove the material or cease hosting it within 24 hours"


# ---------------------------------------------------------------- reading pages


def _text(response) -> str:
    return response.content.decode()


def _comparable(response) -> str:
    """The page without its per-response CSRF token."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", _text(response))


def _queue_references(response) -> list[str]:
    body = _text(response).split("<tbody>", 1)[-1]
    return re.findall(r'<span class="reference">(WF-\d+)</span>', body)


def _queue_count(response) -> int:
    match = re.search(r'id="queue-count"><strong>(\d+)</strong>', _text(response))
    assert match, "the queue shows its total"
    return int(match.group(1))


def _field_errors(response, field_id: str) -> str:
    """The error text Django renders next to the field with this id."""
    match = re.search(
        rf'<ul class="errorlist" id="{re.escape(field_id)}_error">(.*?)</ul>', _text(response), re.S
    )
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))) if match else ""


def _clock_row(response, label: str) -> str:
    match = re.search(
        rf"<tr[^>]*>\s*<th scope=\"row\">{re.escape(label)}.*?</tr>", _text(response), re.S
    )
    assert match, f"no clock row '{label}'"
    return html.unescape(match.group(0))


def _detail(escalation) -> str:
    return reverse("escalation-detail", args=[escalation.pk])


def _action(name: str, escalation) -> str:
    return reverse(name, args=[escalation.pk])


# ---------------------------------------------------------------- sign-in and header


def test_pages_need_sign_in(client):
    response = client.get(reverse("queue"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_sign_in_then_the_header_says_who_role_and_zone(client, analyst):
    response = client.post(
        reverse("login"),
        {"username": "aiko.analyst", "password": "correct-horse-battery"},
        follow=True,
    )
    page = _text(response)
    assert response.redirect_chain[-1][0] == reverse("queue")
    assert "Signed in as <strong>aiko.analyst</strong>" in page
    assert "Analyst" in page
    assert "Asia/Tokyo" in page


def test_wrong_password_is_refused_on_the_sign_in_page(client, analyst):
    response = client.post(reverse("login"), {"username": "aiko.analyst", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in _text(response)


def test_sign_out_is_a_post(analyst_client):
    assert analyst_client.get(reverse("logout")).status_code == 405
    response = analyst_client.post(reverse("logout"))
    assert response.status_code == 302
    assert analyst_client.get(reverse("queue")).status_code == 302


# ---------------------------------------------------------------- queue


def test_queue_is_most_severe_first_then_nearest_deadline(
    analyst_client, make_escalation, frozen_clock
):
    low = make_escalation(title="Low", rubric_answers=SEV4)
    moderate = make_escalation(title="Moderate", rubric_answers=SEV3)
    critical = make_escalation(title="Critical", rubric_answers=SEV1)
    clock.advance(timedelta(minutes=10))
    # Same severity, filed later but with a statutory notice due sooner than the SLA.
    high_later = make_escalation(title="High, filed first", rubric_answers=SEV2)
    high_sooner = make_escalation(
        title="High, notice due soon",
        rubric_answers=SEV2,
        markets=["SG"],
        statutory_triggers=[
            inputs.StatutoryTriggerInput(
                rule="sg-osma-direction",
                received_at=clock.now(),
                due_at=clock.now() + timedelta(minutes=30),
            )
        ],
    )

    response = analyst_client.get(reverse("queue"))

    assert _queue_references(response) == [
        e.reference for e in (critical, high_sooner, high_later, moderate, low)
    ]
    assert _queue_count(response) == 5


def test_queue_rows_show_the_next_clock_as_a_countdown(
    analyst_client, make_escalation, frozen_clock
):
    escalation = make_escalation(rubric_answers=SEV2)  # acknowledge within 2 hours
    clock.advance(timedelta(minutes=48))

    page = _text(analyst_client.get(reverse("queue")))

    due = (frozen_clock + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # On hover: the deadline in the viewer's zone, the market's (Manila) and UTC.
    assert (
        f'<span class="countdown" data-due="{due}" title="due Tue 24 Nov 11:30 JST · '
        'Tue 24 Nov 10:30 PST market time · 2026-11-24 02:30 UTC">in 1 h 12 min</span>'
    ) in page
    assert escalation.next_due_label == "Acknowledge"
    # The viewer is in Tokyo: 02:30 UTC is 11:30 JST; UTC on hover.
    assert (
        f'<time datetime="{due}" title="2026-11-24 02:30 UTC">Tue 24 Nov 11:30 JST</time>'
    ) in page

    clock.advance(timedelta(hours=1, minutes=37))
    page = _text(analyst_client.get(reverse("queue")))
    assert f'<span class="countdown is-breached" data-due="{due}" title="due ' in page
    assert '02:30 UTC">breached 25 min ago</span>' in page
    assert 'class="is-breached"' in page


def test_queue_filters(analyst_client, analyst, other_analyst, make_escalation, frozen_clock):
    scam = make_escalation(title="Donation scam", markets=["PH"], rubric_answers=SEV3)
    notice = make_escalation(
        type_code="regulator_notice",
        title="Regulator notice",
        summary="eSafety wants the posts gone",
        markets=["AU"],
        rubric_answers=SEV2,
        policy_code="violent_extremism",
    )
    media = make_escalation(
        type_code="media_inquiry", title="Reporter question", markets=["JP"], rubric_answers=SEV4
    )
    services.assign_escalation(escalation=scam, owner=analyst, actor=analyst)
    services.assign_escalation(escalation=media, owner=other_analyst, actor=analyst)
    services.transition_escalation(escalation=media, to_status=Status.TRIAGED, actor=analyst)
    services.transition_escalation(
        escalation=notice, to_status=Status.CLOSED, actor=analyst, reason="duplicate"
    )

    def shown(**params) -> list[str]:
        response = analyst_client.get(reverse("queue"), params)
        assert response.status_code == 200
        references = _queue_references(response)
        assert _queue_count(response) == len(references)
        return sorted(references)

    assert shown() == sorted([scam.reference, media.reference])  # closed ones left out
    assert shown(status="all") == sorted([scam.reference, notice.reference, media.reference])
    assert shown(status="triaged") == [media.reference]
    assert shown(status="closed") == [notice.reference]
    assert shown(severity="3") == [scam.reference]
    assert shown(status="all", severity="2") == [notice.reference]
    assert shown(market="JP") == [media.reference]
    assert shown(status="all", policy="violent_extremism") == [notice.reference]
    assert shown(mine="on") == [scam.reference]
    assert shown(owner="ben.analyst") == [media.reference]
    assert shown(q="reporter") == [media.reference]
    assert shown(status="all", q="esafety") == [notice.reference]


def test_a_bad_filter_value_is_reported_and_the_rest_still_apply(
    analyst_client, make_escalation, frozen_clock
):
    make_escalation(markets=["PH"])
    response = analyst_client.get(reverse("queue"), {"market": "XX", "severity": "3"})
    assert "Select a valid choice" in _field_errors(response, "id_market")
    assert _queue_count(response) == 1


def test_queue_pages_by_fifty_and_counts_them_all(analyst_client, make_escalation, frozen_clock):
    for number in range(51):
        make_escalation(title=f"Case {number}", rubric_answers=SEV4)

    first = analyst_client.get(reverse("queue"), {"severity": "4"})
    second = analyst_client.get(reverse("queue"), {"severity": "4", "page": "2"})

    assert len(_queue_references(first)) == 50
    assert len(_queue_references(second)) == 1
    assert _queue_count(first) == _queue_count(second) == 51
    assert "?severity=4&amp;page=2" in _text(first)


def test_queue_query_count_does_not_grow_with_the_queue(
    analyst_client, analyst, make_escalation, django_assert_num_queries, frozen_clock
):
    def fill(count: int) -> None:
        for number in range(count):
            escalation = make_escalation(
                title=f"Case {number}", markets=["PH", "JP"], rubric_answers=SEV3
            )
            services.assign_escalation(escalation=escalation, owner=analyst, actor=analyst)

    fill(5)
    # 12 for the queue (2 of them the page's capped count and the strip's three in one,
    # 1 the mark for "new since you loaded"), 1 for the header's "Needs me" count.
    with django_assert_num_queries(12 + 1):
        assert len(_queue_references(analyst_client.get(reverse("queue")))) == 5
    fill(25)
    with django_assert_num_queries(12 + 1):
        assert len(_queue_references(analyst_client.get(reverse("queue")))) == 30


# ---------------------------------------------------------------- new escalation


def _new_escalation(**overrides) -> dict:
    data = {
        "type": "scam_campaign",
        "title": "Typhoon relief donation scam wave",
        "summary": "Accounts posing as relief charities collect donations.",
        "markets": ["PH"],
        "languages": "tl, en",
        "subjects": "account: @relief_fund_ph\n\nurl: https://example.org/donate",
        "source_kind": "user_report",
        "source_team": "",
        "source_detail": "",
        "factor_harm": "moderate",
        "factor_reach": "significant",
        "statutory_rule": "",
        "statutory_received_at": "",
        "statutory_time_zone": "Asia/Tokyo",
        "statutory_due_at": "",
        "notice_reference": "",
        "policy": "",
    }
    data.update(overrides)
    return data


def test_new_escalation_form_offers_the_rubric_and_the_viewers_zone(analyst_client):
    page = _text(analyst_client.get(reverse("escalation-create")))
    assert '<label for="id_factor_harm">Harm</label>' in page
    assert "How serious is the worst harm this could cause to people?" in page
    assert '<option value="catastrophic">Catastrophic (loss of life, mass harm)</option>' in page
    assert '<option value="Asia/Tokyo" selected>Asia/Tokyo</option>' in page
    assert 'value="au-osa-removal-notice"' in page


def test_create_via_the_form(analyst_client, frozen_clock):
    response = analyst_client.post(reverse("escalation-create"), _new_escalation())

    escalation = Escalation.objects.get()
    assert response.status_code == 302
    assert response.url == _detail(escalation)
    assert escalation.title == "Typhoon relief donation scam wave"
    assert escalation.languages == ["tl", "en"]
    assert [m.code for m in escalation.markets.all()] == ["PH"]
    assert [(s.kind, s.reference) for s in escalation.subjects.all()] == [
        ("account", "@relief_fund_ph"),
        ("url", "https://example.org/donate"),
    ]
    assert escalation.severity == 3
    page = _text(analyst_client.get(response.url))
    assert f"{escalation.reference} created as SEV3." in page


def test_create_with_a_statutory_notice_received_three_hours_ago(analyst_client, frozen_clock):
    # An eSafety removal notice (24 hours, fixed by law) received at 08:30 Sydney time,
    # three hours ago; entered in Sydney time by an analyst who sits in Tokyo.
    received = (frozen_clock - timedelta(hours=3)).astimezone(ZoneInfo("Australia/Sydney"))
    response = analyst_client.post(
        reverse("escalation-create"),
        _new_escalation(
            type="regulator_notice",
            markets=[],
            factor_legal_exposure="statutory_notice",
            statutory_rule="au-osa-removal-notice",
            statutory_received_at=received.strftime("%Y-%m-%dT%H:%M"),
            statutory_time_zone="Australia/Sydney",
            notice_reference="eSafety RN-2026-0412",
        ),
    )

    assert response.status_code == 302, _text(response)
    escalation = Escalation.objects.get()
    statutory = escalation.clocks.get(kind="statutory")
    assert statutory.due_at == frozen_clock + timedelta(hours=21)
    assert statutory.notice_reference == "eSafety RN-2026-0412"
    assert [m.code for m in escalation.markets.all()] == ["AU"]

    row = _clock_row(analyst_client.get(response.url), AUSTRALIA_REMOVAL)
    assert "in 21 h" in row
    assert "Online Safety Act 2021" in row
    # Due 21:30 UTC: 06:30 the next morning in Tokyo, 08:30 in Sydney (AEDT).
    assert "Wed 25 Nov 06:30 JST" in row
    assert "Wed 25 Nov 08:30 AEDT" in row
    assert "Running" in row


def test_a_rule_set_by_the_notice_needs_its_due_time(analyst_client, frozen_clock):
    response = analyst_client.post(
        reverse("escalation-create"),
        _new_escalation(
            markets=["SG"],
            statutory_rule="sg-osma-direction",
            statutory_received_at="2026-11-24T08:00",
            statutory_time_zone="Asia/Singapore",
        ),
    )
    assert response.status_code == 400
    assert "enter the due time it states" in _field_errors(response, "id_statutory_due_at")
    assert Escalation.objects.count() == 0


def test_a_local_time_skipped_by_daylight_saving_is_refused(analyst_client, frozen_clock):
    response = analyst_client.post(
        reverse("escalation-create"),
        _new_escalation(
            statutory_rule="au-osa-removal-notice",
            statutory_received_at="2026-10-04T02:30",
            statutory_time_zone="Australia/Sydney",
        ),
    )
    assert "does not exist in Australia/Sydney" in _field_errors(
        response, "id_statutory_received_at"
    )


def test_a_missing_title_is_shown_at_the_title(analyst_client):
    response = analyst_client.post(reverse("escalation-create"), _new_escalation(title=""))
    assert response.status_code == 400
    assert "This field is required." in _field_errors(response, "id_title")
    assert 'aria-invalid="true"' in _text(response)
    # The rest of what was typed is kept.
    assert "Accounts posing as relief charities collect donations." in _text(response)
    assert Escalation.objects.count() == 0


def test_a_bad_subject_line_is_named_by_its_line(analyst_client):
    response = analyst_client.post(
        reverse("escalation-create"),
        _new_escalation(subjects="account: @ok\nnot a subject line\nhandle: @x"),
    )
    errors = _field_errors(response, "id_subjects")
    assert "line 2: 'not a subject line' is not 'kind: reference'" in errors
    assert "line 3: unknown kind 'handle'; use one of account, post, url, media" in errors
    assert "not a subject line" in _text(response)


def test_a_service_error_about_a_subject_names_its_line(analyst_client):
    response = analyst_client.post(
        reverse("escalation-create"),
        _new_escalation(subjects="\naccount: @ok\n\npost: " + "x" * 2001),
    )
    assert response.status_code == 400
    assert "line 4: subjects[1].reference is 2001 characters long" in _field_errors(
        response, "id_subjects"
    )


def test_an_unknown_language_tag_is_shown_at_languages_with_the_input_kept(analyst_client):
    response = analyst_client.post(
        reverse("escalation-create"), _new_escalation(languages="ja, xx_1")
    )
    assert response.status_code == 400
    assert "'xx_1' is not a BCP 47 language tag" in _field_errors(response, "id_languages")
    assert 'value="ja, xx_1"' in _text(response)
    assert 'value="Typhoon relief donation scam wave"' in _text(response)
    assert Escalation.objects.count() == 0


def test_preview_explains_the_severity_without_saving(analyst_client):
    response = analyst_client.post(
        reverse("escalation-preview"),
        _new_escalation(
            type="violent_attack_content",
            title="",  # unfinished fields do not stop a preview
            factor_harm="catastrophic",
            factor_imminence="ongoing",
        ),
    )
    page = html.unescape(_text(response))
    assert response.status_code == 200
    assert "Preview: what the rubric says" in page
    # 30 (harm) + 20 (imminence) + 6 (reach, from the rest of the form) = 56.
    assert (
        "Score 56 of 101 falls in the SEV1 band; floor rule 'livestreamed_attack' raises it" in page
    )
    assert "Attack content that is live or still unfolding is always a crisis." in page
    assert "5 × 6" in page
    assert _field_errors(response, "id_title") == ""
    assert Escalation.objects.count() == 0


def test_viewers_cannot_open_or_post_the_new_escalation_form(viewer_client):
    assert viewer_client.get(reverse("escalation-create")).status_code == 403
    response = viewer_client.post(reverse("escalation-create"), _new_escalation())
    assert response.status_code == 403
    assert "your role cannot create escalations" in _text(response)
    assert viewer_client.post(reverse("escalation-preview"), _new_escalation()).status_code == 403
    assert Escalation.objects.count() == 0
    assert "New escalation" not in _text(viewer_client.get(reverse("queue")))


# ---------------------------------------------------------------- detail


def test_detail_shows_clocks_explanation_subjects_and_timeline(
    analyst_client, make_escalation, frozen_clock
):
    escalation = make_escalation(
        subjects=[inputs.SubjectInput("account", "@relief_fund_ph")], rubric_answers=SEV3
    )
    page = html.unescape(_text(analyst_client.get(_detail(escalation))))

    assert f"{escalation.reference} · Scam campaign" in page
    assert '<span class="sev sev-3">SEV3 <span class="sev-label">Moderate</span></span>' in page
    assert "Score 16 of 101 falls in the SEV3 band." in page
    assert "5 × 2" in page and "3 × 2" in page
    assert "(not assessed; counted as the mildest)" in page
    assert "Rubric version 2026.11" in page
    assert "@relief_fund_ph" in page
    # Due in the viewer's time (Tokyo), the Manila time beside it, UTC on hover.
    assert "(your time, PH time where it differs)" in page
    assert 'PST</time> <span class="muted">(market time)</span>' in page
    assert "Escalation created" in page
    assert "SEV3 · scam campaign · markets PH · languages tl, en" in page


def test_transition_via_post(analyst_client, make_escalation, frozen_clock):
    escalation = make_escalation()
    response = analyst_client.post(
        _action("escalation-transition", escalation),
        {"transition-to_status": "triaged", "transition-reason": "looks real"},
    )
    assert response.status_code == 302
    escalation.refresh_from_db()
    assert escalation.status == Status.TRIAGED

    page = html.unescape(_text(analyst_client.get(_detail(escalation))))
    assert "moved to Triaged" in page
    assert "New → Triaged" in page
    assert "looks real" in page
    # Only the moves allowed from Triaged are offered.
    offered = re.search(r'name="transition-to_status".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="(\w*)"', offered) == [
        "",
        "investigating",
        "awaiting_partner",
        "closed",
    ]


def test_an_invalid_transition_is_refused_with_the_reason(
    analyst_client, make_escalation, frozen_clock
):
    escalation = make_escalation()
    response = analyst_client.post(
        _action("escalation-transition", escalation),
        {"transition-to_status": "decided", "transition-reason": ""},
    )
    assert response.status_code == 409
    assert (
        "cannot move from New to Decided; from New it can go to: Triaged, Investigating, Closed"
        in _field_errors(response, "id_transition-to_status")
    )
    escalation.refresh_from_db()
    assert escalation.status == Status.NEW


def test_deciding_needs_a_final_decision_first(analyst_client, make_escalation, frozen_clock):
    escalation = make_escalation()
    analyst_client.post(
        _action("escalation-transition", escalation), {"transition-to_status": "investigating"}
    )
    response = analyst_client.post(
        _action("escalation-transition", escalation), {"transition-to_status": "decided"}
    )
    assert response.status_code == 409
    assert "record a decision" in _field_errors(response, "id_transition-to_status")


def _decide(client, escalation, **overrides):
    data = {
        "decision-policy": "scams_fraud",
        "decision-policy_version": "",
        "decision-action": "remove_content",
        "decision-scope": "The 14 accounts and their posts",
        "decision-rationale": "Fraudulent charity solicitation.",
    }
    data.update(overrides)
    return client.post(_action("escalation-decide", escalation), data)


def test_decision_then_approval_by_a_lead_then_decided(
    analyst_client, lead_client, make_escalation, frozen_clock
):
    escalation = make_escalation(rubric_answers=SEV1)  # SEV1 decisions need approval
    analyst_client.post(
        _action("escalation-transition", escalation), {"transition-to_status": "investigating"}
    )

    assert _decide(analyst_client, escalation).status_code == 302
    decision = escalation.decisions.get()
    assert decision.state == Decision.State.PENDING_APPROVAL
    analyst_page = _text(analyst_client.get(_detail(escalation)))
    assert "Awaiting approval" in analyst_page
    assert "Approve" not in analyst_page  # analysts cannot approve

    lead_page = _text(lead_client.get(_detail(escalation)))
    assert reverse("decision-approve", args=[escalation.pk, decision.pk]) in lead_page
    response = lead_client.post(
        reverse("decision-approve", args=[escalation.pk, decision.pk]),
        {f"review-{decision.pk}-comment": "Agreed."},
    )
    assert response.status_code == 302
    decision.refresh_from_db()
    assert decision.state == Decision.State.FINAL
    assert decision.reviewed_by.username == "lina.lead"

    response = analyst_client.post(
        _action("escalation-transition", escalation), {"transition-to_status": "decided"}
    )
    assert response.status_code == 302
    page = html.unescape(_text(analyst_client.get(_detail(escalation))))
    assert "approved by lina.lead" in page
    assert "remove content under scams_fraud v1.0 — awaiting approval" in page
    assert "decision approved (recorded by aiko.analyst)" in page
    assert "Investigating → Decided" in page


def test_a_lead_cannot_approve_their_own_decision(lead_client, make_escalation, frozen_clock):
    escalation = make_escalation(rubric_answers=SEV1)
    _decide(lead_client, escalation)
    decision = escalation.decisions.get()
    response = lead_client.post(
        reverse("decision-approve", args=[escalation.pk, decision.pk]),
        {f"review-{decision.pk}-comment": ""},
    )
    assert response.status_code == 403
    assert "a second person must approve" in _text(response)


def test_sending_a_decision_back_needs_a_comment(
    analyst_client, lead_client, make_escalation, frozen_clock
):
    escalation = make_escalation(rubric_answers=SEV1)
    _decide(analyst_client, escalation)
    decision = escalation.decisions.get()
    url = reverse("decision-send-back", args=[escalation.pk, decision.pk])

    response = lead_client.post(url, {f"review-{decision.pk}-comment": ""})
    assert response.status_code == 400
    assert "comment is required" in _field_errors(response, f"id_review-{decision.pk}-comment")

    assert lead_client.post(url, {f"review-{decision.pk}-comment": "Cite 1.1"}).status_code == 302
    decision.refresh_from_db()
    assert decision.state == Decision.State.SENT_BACK


def test_withholding_needs_countries(analyst_client, make_escalation, frozen_clock):
    escalation = make_escalation()
    response = _decide(analyst_client, escalation, **{"decision-action": "withhold_in_countries"})
    assert response.status_code == 400
    assert "needs the countries it applies in" in _field_errors(response, "id_decision-countries")
    assert 'value="The 14 accounts and their posts"' not in _text(response)  # a textarea
    assert "The 14 accounts and their posts" in _text(response)

    response = _decide(
        analyst_client,
        escalation,
        **{"decision-action": "withhold_in_countries", "decision-countries": ["PH", "SG"]},
    )
    assert response.status_code == 302
    assert escalation.decisions.get().countries == ["PH", "SG"]


def test_note_assign_link_and_merge(
    analyst_client, analyst, other_analyst, make_escalation, frozen_clock
):
    escalation = make_escalation()
    other = make_escalation(title="Same scam, other accounts")

    analyst_client.post(_action("escalation-note", escalation), {"note-body": "Called Legal."})
    analyst_client.post(_action("escalation-assign", escalation), {"assign-owner": "ben.analyst"})
    analyst_client.post(
        _action("escalation-link", escalation),
        {"link-other": other.reference, "link-reason": "same actors"},
    )
    page = html.unescape(_text(analyst_client.get(_detail(escalation))))
    assert "Called Legal." in page
    assert "unassigned → ben.analyst" in page
    assert f"linked with {other.reference}" in page
    assert f"{other.reference} Same scam, other accounts" in page

    response = analyst_client.post(
        _action("escalation-merge", other), {"merge-into": str(escalation.pk)}
    )
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.merged_into_id == escalation.pk
    page = html.unescape(_text(analyst_client.get(_detail(other))))
    assert "Merged into" in page
    assert f"{escalation.reference} {escalation.title}</a>: work it there." in page
    assert "transition-to_status" not in page  # work it on the other one


def test_linking_to_a_missing_escalation_is_shown_at_the_field(
    analyst_client, make_escalation, frozen_clock
):
    escalation = make_escalation()
    response = analyst_client.post(
        _action("escalation-link", escalation), {"link-other": "WF-99999"}
    )
    assert response.status_code == 400
    assert "no escalation WF-99999 that you can see" in _field_errors(response, "id_link-other")
    assert 'value="WF-99999"' in _text(response)


def test_a_lead_overrides_severity_and_the_header_says_so(
    lead_client, analyst_client, make_escalation, frozen_clock
):
    escalation = make_escalation(rubric_answers=SEV3)
    assert "override-severity" not in _text(analyst_client.get(_detail(escalation)))
    response = analyst_client.post(
        _action("escalation-override", escalation),
        {"override-severity": "1", "override-reason": "x"},
    )
    assert response.status_code == 403

    response = lead_client.post(
        _action("escalation-override", escalation),
        {"override-severity": "1", "override-reason": "Spreading to a second market"},
    )
    assert response.status_code == 302
    page = html.unescape(_text(lead_client.get(_detail(escalation))))
    assert "Overridden from SEV3 by lina.lead: Spreading to a second market" in page
    assert "SEV3 → SEV1 (the rubric said SEV3)" in page


def test_viewers_get_403_on_every_post(viewer_client, make_escalation, frozen_clock):
    escalation = make_escalation()
    page = _text(viewer_client.get(_detail(escalation)))
    assert '<form method="post" action="/escalations/' not in page
    for name, data in [
        ("escalation-transition", {"transition-to_status": "triaged"}),
        ("escalation-note", {"note-body": "hello"}),
        ("escalation-assign", {"assign-owner": ""}),
        ("escalation-decide", {}),
        ("escalation-link", {}),
        ("escalation-merge", {}),
        ("escalation-override", {}),
        ("escalation-access", {}),
    ]:
        assert viewer_client.post(_action(name, escalation), data).status_code == 403, name
    escalation.refresh_from_db()
    assert escalation.status == Status.NEW
    assert escalation.notes.count() == 0


def test_posts_need_the_csrf_token(analyst, make_escalation, frozen_clock):
    escalation = make_escalation()
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)
    response = client.post(
        _action("escalation-transition", escalation), {"transition-to_status": "triaged"}
    )
    assert response.status_code == 403
    escalation.refresh_from_db()
    assert escalation.status == Status.NEW


# ---------------------------------------------------------------- need to know


def test_restricted_escalation_is_404_to_outsiders_like_a_missing_one(
    other_analyst_client, make_escalation, frozen_clock
):
    restricted = make_escalation(title="Minister's account", is_restricted=True)
    missing_id = restricted.pk + 1000

    hidden = other_analyst_client.get(reverse("escalation-detail", args=[restricted.pk]))
    missing = other_analyst_client.get(reverse("escalation-detail", args=[missing_id]))

    assert hidden.status_code == missing.status_code == 404
    assert _comparable(hidden).replace(restricted.reference, "WF-N") == _comparable(
        missing
    ).replace(f"WF-{missing_id}", "WF-N")
    assert "Minister" not in _text(hidden)
    post = other_analyst_client.post(_action("escalation-note", restricted), {"note-body": "peek"})
    assert post.status_code == 404
    queue = other_analyst_client.get(reverse("queue"), {"status": "all"})
    assert restricted.reference not in _queue_references(queue)
    assert _queue_count(queue) == 0


def test_restricted_escalation_is_visible_to_its_access_list_and_each_view_is_audited(
    lead_client, lead, make_escalation, frozen_clock
):
    restricted = make_escalation(is_restricted=True, access_usernames=["lina.lead"])
    response = lead_client.get(_detail(restricted))
    lead_client.get(_detail(restricted))

    assert response.status_code == 200
    views = AuditEvent.objects.filter(
        action=AuditAction.ESCALATION_VIEWED, escalation_id=restricted.pk, actor=lead
    )
    assert views.count() == 2
    assert views.first().data == {"channel": "web"}
    assert "Restricted" in _text(response)


def test_partners_see_only_what_is_shared_with_their_team(
    legal_client, make_escalation, frozen_clock
):
    shared = make_escalation(title="Shared with Legal", shared_with_team_codes=["legal"])
    private = make_escalation(title="Internal only")

    queue = legal_client.get(reverse("queue"))
    assert _queue_references(queue) == [shared.reference]
    assert _queue_count(queue) == 1
    assert legal_client.get(_detail(private)).status_code == 404
    page = _text(legal_client.get(_detail(shared)))
    assert 'name="note-body"' in page
    assert 'name="transition-to_status"' not in page
    assert (
        legal_client.post(_action("escalation-note", shared), {"note-body": "Legal: fine"})
    ).status_code == 302
    assert (
        legal_client.post(
            _action("escalation-transition", shared), {"transition-to_status": "triaged"}
        )
    ).status_code == 403


def test_a_lead_restricts_an_escalation_from_the_page(
    lead_client, other_analyst_client, make_escalation, frozen_clock
):
    escalation = make_escalation()
    response = lead_client.post(
        _action("escalation-access", escalation),
        {
            "access-expected_version": escalation.access_version,
            "access-is_restricted": "on",
            "access-access_list": ["aiko.analyst"],
        },
    )
    assert response.status_code == 302
    assert other_analyst_client.get(_detail(escalation)).status_code == 404
    page = html.unescape(_text(lead_client.get(_detail(escalation))))
    assert "restricted · access list: aiko.analyst, lina.lead · shared with: none" in page


# ---------------------------------------------------------------- query counts


def test_detail_query_count_does_not_grow_with_the_escalation(
    analyst_client, analyst, lead, make_escalation, django_assert_num_queries, frozen_clock
):
    # High visibility: every decision waits for a lead, so reviewed decisions are present.
    escalation = make_escalation(is_high_visibility=True, markets=["PH"])

    def add_work(count: int) -> None:
        from watchfloor.escalations.editing import final_decision_id

        for number in range(count):
            services.add_note(escalation=escalation, body=f"note {number}", actor=analyst)
            decision = decisions.record_decision(
                escalation=escalation,
                actor=analyst,
                policy_code="scams_fraud",
                action_code="remove_content",
                scope=f"batch {number}",
                rationale="fraud",
                supersedes=final_decision_id(escalation),
            )
            decisions.approve_decision(decision=decision, actor=lead)
            services.link_escalations(
                escalation=escalation, other=make_escalation(title=f"Other {number}"), actor=analyst
            )

    # 28 for the escalation itself (its severity downgrades and the version it is read at
    # included) and 18 for the panels of the other apps (playbooks, partner requests,
    # notifications, crises, enforcement, evidence and the viewer's exposure, official
    # alerts); each panel's own count with content is pinned in that app's tests; 1 for
    # the header's "Needs me" count.
    add_work(1)
    with django_assert_num_queries(46 + 1):
        assert analyst_client.get(_detail(escalation)).status_code == 200
    add_work(5)
    with django_assert_num_queries(46 + 1):
        assert analyst_client.get(_detail(escalation)).status_code == 200
