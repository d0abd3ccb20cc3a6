"""Regression tests for the defects a first user met (issue 12), one or more per defect,
each named after the defect's number in the issue."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.urls import reverse

from watchfloor.escalations import decisions
from watchfloor.escalations.inputs import StatutoryTriggerInput

pytestmark = pytest.mark.django_db


def _new_escalation_form(**overrides) -> dict:
    """The new-escalation form as a person fills it, rubric left "not assessed"."""
    data = {
        "type": "regulator_notice",
        "title": "Removal request under the Information Distribution Platform Act",
        "summary": "A person asks us to remove posts that name them.",
        "markets": ["JP"],
        "languages": "ja",
        "subjects": "",
        "source_kind": "regulator",
        "source_team": "",
        "source_detail": "",
        "statutory_rule": "",
        "statutory_received_at": "",
        "statutory_time_zone": "Asia/Tokyo",
        "statutory_due_at": "",
        "notice_reference": "",
        "policy": "",
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------- 1. statutory floor


def test_defect_01_statutory_trigger_raises_the_floor(make_escalation, frozen_clock):
    """A regulator notice with its statutory rule set and the rubric not assessed is no
    longer SEV4: the statutory trigger fires the floor by itself."""
    escalation = make_escalation(
        type_code="regulator_notice",
        markets=["JP"],
        languages=["ja"],
        rubric_answers={},
        statutory_triggers=[
            StatutoryTriggerInput(
                rule="jp-idpa-removal-request", received_at=frozen_clock - timedelta(hours=1)
            )
        ],
    )
    assert escalation.severity == 2
    fired = [floor["code"] for floor in escalation.severity_explanation["floors"]]
    assert fired == ["statutory_clock"]
    assert "raises it to SEV2" in escalation.severity_explanation["summary"]


def test_defect_01_statutory_rule_own_floor_applies(make_escalation, frozen_clock):
    """India's 3-hour removal order carries its own floor (SEV1) on top of the SEV2 one."""
    escalation = make_escalation(
        type_code="government_legal_demand",
        markets=["IN"],
        languages=["hi"],
        rubric_answers={},
        statutory_triggers=[
            StatutoryTriggerInput(
                rule="in-itrules-3-1-d", received_at=frozen_clock - timedelta(minutes=10)
            )
        ],
    )
    assert escalation.severity == 1
    floors = {floor["code"]: floor for floor in escalation.severity_explanation["floors"]}
    assert set(floors) == {"statutory_clock", "in-itrules-3-1-d"}
    assert floors["in-itrules-3-1-d"]["min_severity"] == 1
    assert "3 hour" in floors["in-itrules-3-1-d"]["reason"]
    acknowledge = escalation.clocks.get(kind="acknowledge")
    assert acknowledge.due_at - acknowledge.starts_at == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("type_code", "severity"),
    [("imminent_threat_to_life", 0), ("self_harm_imminent_risk", 1)],
)
def test_defect_01_floor_rules_do_not_hang_on_an_unrelated_answer(
    make_escalation, type_code, severity
):
    """Every floor rule was checked: a type that already says "imminent" fires its floor
    without the imminence answer (left "not assessed" these were SEV4)."""
    escalation = make_escalation(type_code=type_code, markets=["JP"], rubric_answers={})
    assert escalation.severity == severity


def test_defect_01_preview_counts_the_statutory_rule(analyst_client, api_as, analyst):
    page = analyst_client.post(
        reverse("escalation-preview"),
        _new_escalation_form(statutory_rule="jp-idpa-removal-request"),
    )
    assert page.status_code == 200
    assert "statutory_clock" in page.content.decode()
    assert "SEV2" in page.content.decode()

    response = api_as(analyst).post(
        "/severity/preview",
        {"type": "regulator_notice", "rubric_answers": {}, "statutory_rules": ["in-itrules-3-1-d"]},
    )
    assert response.status_code == 200, response.content
    assert response.json()["severity"] == 1
    assert {f["code"] for f in response.json()["floors"]} == {"statutory_clock", "in-itrules-3-1-d"}


# ---------------------------------------------------------------- 2. one acknowledge

SEV2_ANSWERS = {
    "harm": "moderate",
    "imminence": "likely",
    "reach": "significant",
    "vulnerability": "some",
}


def _engagements(escalation):
    from watchfloor.notify.models import Engagement

    return list(Engagement.objects.filter(escalation=escalation).order_by("started_at", "pk"))


def _acknowledge_clock(escalation):
    return escalation.clocks.get(kind="acknowledge")


@pytest.mark.parametrize("how", ["status", "ownership", "decision"])
def test_defect_02_triaging_owning_or_acting_acknowledges_the_page(
    how, make_escalation, analyst, lead, frozen_clock
):
    from watchfloor.core import clock
    from watchfloor.escalations import services

    escalation = make_escalation(rubric_answers=SEV2_ANSWERS)
    assert escalation.severity == 2
    [engagement] = _engagements(escalation)
    assert engagement.status == "active"

    clock.advance(timedelta(minutes=12))
    if how == "status":
        services.transition_escalation(escalation=escalation, to_status="triaged", actor=analyst)
    elif how == "ownership":
        services.assign_escalation(escalation=escalation, owner=analyst, actor=analyst)
    else:
        decisions.record_decision(
            escalation=escalation,
            actor=analyst,
            policy_code="scams_fraud",
            action_code="remove_content",
            scope="The posts listed",
            rationale="Impersonates a charity.",
        )

    [engagement] = _engagements(escalation)
    assert engagement.status == "acknowledged"
    assert engagement.acknowledged_via == how
    assert engagement.acknowledged_by == analyst
    assert engagement.next_stage_at is None
    # One acknowledgement: the SLA clock of the same name is met at the same moment.
    assert _acknowledge_clock(escalation).met_at == frozen_clock + timedelta(minutes=12)


def test_defect_02_the_button_acknowledges_the_clock_too(make_escalation, analyst_client):
    escalation = make_escalation(rubric_answers=SEV2_ANSWERS)
    response = analyst_client.post(reverse("notify-acknowledge", args=[escalation.pk]))
    assert response.status_code == 302
    assert _engagements(escalation)[0].status == "acknowledged"
    assert _acknowledge_clock(escalation).met_at is not None
    assert escalation.__class__.objects.get(pk=escalation.pk).next_due_label == "First action"


def test_defect_02_paging_stops_at_decided_and_stays_stopped(
    make_escalation, analyst, lead, admin_user, frozen_clock
):
    from watchfloor.escalations import services, severity_changes

    escalation = make_escalation(rubric_answers=SEV2_ANSWERS)
    services.transition_escalation(escalation=escalation, to_status="investigating", actor=analyst)
    decisions.record_decision(
        escalation=escalation,
        actor=analyst,
        policy_code="scams_fraud",
        action_code="remove_content",
        scope="The posts listed",
        rationale="Impersonates a charity.",
    )
    # Raised after the decision: a graver rule pages again…
    services.override_severity(escalation=escalation, severity=0, reason="spreading", actor=lead)
    assert _engagements(escalation)[-1].status == "active"
    # …until the escalation is decided: then the pager stops, with the reason.
    services.transition_escalation(escalation=escalation, to_status="decided", actor=analyst)
    stopped = _engagements(escalation)[-1]
    assert stopped.status == "ended"
    assert stopped.end_reason == "the escalation was decided"
    assert not stopped.notifications.filter(status__in=["pending", "retrying"]).exists()
    # A decided escalation is not paged again, whatever its severity does.
    count = len(_engagements(escalation))
    services.override_severity(escalation=escalation, severity=1, reason="calmer", actor=lead)
    # Lowering a SEV0 takes a second person.
    severity_changes.approve_downgrade(
        downgrade=severity_changes.pending_downgrade(escalation), actor=admin_user
    )
    services.transition_escalation(escalation=escalation, to_status="actioned", actor=analyst)
    assert len(_engagements(escalation)) == count
    assert all(e.status != "active" for e in _engagements(escalation))


def test_defect_02_page_shows_the_pager_once_at_the_top(
    make_escalation, analyst, analyst_client, frozen_clock
):
    from watchfloor.escalations import services

    escalation = make_escalation(rubric_answers=SEV2_ANSWERS)
    url = reverse("escalation-detail", args=[escalation.pk])
    page = analyst_client.get(url).content.decode()
    assert page.lower().count("waiting for acknowledgement") == 1
    assert page.count(">Acknowledge</button>") == 1
    # At the top: before the clocks and the notifications history.
    assert page.index("waiting for acknowledgement") < page.index('id="clocks-heading"')
    assert page.index("waiting for acknowledgement") < page.index('id="notifications-heading"')

    services.transition_escalation(escalation=escalation, to_status="investigating", actor=analyst)
    decisions.record_decision(
        escalation=escalation,
        actor=analyst,
        policy_code="scams_fraud",
        action_code="remove_content",
        scope="The posts listed",
        rationale="Impersonates a charity.",
    )
    services.transition_escalation(escalation=escalation, to_status="decided", actor=analyst)
    services.transition_escalation(escalation=escalation, to_status="actioned", actor=analyst)
    page = analyst_client.get(url).content.decode()
    assert "waiting for acknowledgement" not in page.lower()
    assert "notified in" not in page
    assert ">Acknowledge</button>" not in page
    assert "Paging acknowledged" in page
    assert "by changing its status" in page


# ---------------------------------------------------------------- 4. clocks at filing


def test_defect_04_sla_clocks_start_at_filing_statutory_at_receipt(make_escalation, frozen_clock):
    """A notice received two hours before it was filed: the SLA acknowledge clock starts
    when it is filed (not "breached under a minute ago"); the statutory clock from receipt."""
    from watchfloor.escalations.models import Clock

    received = frozen_clock - timedelta(hours=2)
    escalation = make_escalation(
        type_code="regulator_notice",
        markets=["AU"],
        languages=["en"],
        rubric_answers=SEV2_ANSWERS,
        statutory_triggers=[
            StatutoryTriggerInput(rule="au-osa-removal-notice", received_at=received)
        ],
    )
    acknowledge = escalation.clocks.get(kind=Clock.Kind.ACKNOWLEDGE)
    assert acknowledge.starts_at == frozen_clock
    assert acknowledge.due_at == frozen_clock + timedelta(hours=2)
    assert acknowledge.state() == "running"
    statutory = escalation.clocks.get(kind=Clock.Kind.STATUTORY)
    assert statutory.starts_at == received
    assert statutory.due_at == received + timedelta(hours=24)
    assert escalation.opened_at == received  # the matter began when the notice arrived


def test_defect_04_old_receipt_needs_confirmation(make_escalation, frozen_clock, settings):
    from watchfloor.core.errors import InvalidInput
    from watchfloor.escalations.models import Escalation

    def file(received_at, **extra):
        return make_escalation(
            type_code="regulator_notice",
            markets=["JP"],
            rubric_answers={},
            statutory_triggers=[
                StatutoryTriggerInput(
                    rule="jp-idpa-removal-request", received_at=received_at, **extra
                )
            ],
        )

    # 31 days ago: refused until confirmed, naming the field and saying what to do.
    with pytest.raises(InvalidInput) as refused:
        file(frozen_clock - timedelta(days=31))
    assert refused.value.field == "statutory_triggers[0].received_at"
    assert refused.value.code == "confirm_old_receipt"
    assert "31 days ago" in refused.value.message
    assert not Escalation.objects.exists()
    confirmed = file(frozen_clock - timedelta(days=31), confirm_old_receipt=True)
    assert confirmed.clocks.get(kind="statutory").starts_at == frozen_clock - timedelta(days=31)
    # Within the span: no confirmation asked.
    file(frozen_clock - timedelta(days=29))
    # The span is configurable.
    settings.WATCHFLOOR_RECEIPT_CONFIRMATION_AFTER = timedelta(days=7)
    with pytest.raises(InvalidInput):
        file(frozen_clock - timedelta(days=8))


def test_defect_04_year_1999_is_refused_in_the_form_and_the_api(
    analyst_client, api_as, analyst, frozen_clock
):
    from watchfloor.escalations.models import Escalation

    form = _new_escalation_form(
        statutory_rule="jp-idpa-removal-request",
        statutory_received_at="1999-11-24T09:00",
        statutory_time_zone="Asia/Tokyo",
    )
    page = analyst_client.post(reverse("escalation-create"), form)
    assert page.status_code == 400
    assert "outside the dates accepted" in page.content.decode()
    # Even "confirmed", 1999 is outside the calendar Watchfloor accepts.
    page = analyst_client.post(
        reverse("escalation-create"), {**form, "statutory_confirm_old_receipt": "on"}
    )
    assert page.status_code == 400
    assert not Escalation.objects.exists()

    # A plausible but old date: the form asks for the tick box, then files.
    old = {**form, "statutory_received_at": "2026-09-01T09:00"}
    page = analyst_client.post(reverse("escalation-create"), old)
    assert page.status_code == 400
    assert "confirm that the notice was received then" in page.content.decode()
    assert 'name="statutory_confirm_old_receipt"' in page.content.decode()
    page = analyst_client.post(
        reverse("escalation-create"), {**old, "statutory_confirm_old_receipt": "on"}
    )
    assert page.status_code == 302, page.content.decode()[:2000]

    caller = api_as(analyst)
    body = {
        "type": "regulator_notice",
        "title": "Old notice",
        "markets": ["JP"],
        "statutory_triggers": [
            {"rule": "jp-idpa-removal-request", "received_at": "2026-09-01T09:00:00+09:00"}
        ],
    }
    refused = caller.post("/escalations", body)
    assert refused.status_code == 400
    assert refused.json()["code"] == "confirm_old_receipt"
    assert refused.json()["field"] == "statutory_triggers.0.received_at"
    body["statutory_triggers"][0]["confirm_old_receipt"] = True
    assert caller.post("/escalations", body).status_code == 201


# ---------------------------------------------------------------- 5. approving one's own


def test_defect_05_approve_and_send_back_hidden_from_the_proposer(
    make_escalation, lead, lead_client, make_user
):
    from django.test import Client

    escalation = make_escalation(rubric_answers={"harm": "catastrophic"}, actor=lead)
    assert escalation.severity == 1
    decision = decisions.record_decision(
        escalation=escalation,
        actor=lead,
        policy_code="scams_fraud",
        action_code="remove_content",
        scope="The posts listed",
        rationale="Impersonates a charity.",
    )
    assert decision.state == "pending_approval"
    url = reverse("escalation-detail", args=[escalation.pk])

    mine = lead_client.get(url).content.decode()
    assert ">Approve</button>" not in mine
    assert ">Send back</button>" not in mine
    assert reverse("decision-approve", args=[escalation.pk, decision.pk]) not in mine
    assert "a second person must approve" in mine

    second_lead = make_user("sam.lead", "lead", "site_policy")
    other = Client()
    other.force_login(second_lead)
    theirs = other.get(url).content.decode()
    assert ">Approve</button>" in theirs and ">Send back</button>" in theirs
    assert "a second person must approve" not in theirs
    assert decisions.review_refusal(decision=decision, actor=second_lead) == ""


# ---------------------------------------------------------------- 7. surge auto-attach


@pytest.fixture
def default_signal_rules(monkeypatch):
    from tests.signals.test_rules import DEFAULT_RULES

    monkeypatch.setenv("WATCHFLOOR_SIGNAL_RULES", str(DEFAULT_RULES))


def _react(*clusters, series=()):
    from watchfloor.signals import reactions

    return reactions.after_ingest(
        cluster_ids=[c.pk for c in clusters], series_keys=list(series), actor=None
    )


def _earthquake_scam_surge(**cluster_fields):
    from tests.signals.factories import make_cluster, steady_then_burst
    from watchfloor.core import clock
    from watchfloor.signals.selectors import bucket_end

    cluster = make_cluster(**cluster_fields)
    steady_then_burst(
        cluster,
        end=bucket_end(clock.now()),
        market="JP",
        language="ja",
        text="能登半島地震の義援金はこちらへ。公式支援口座です。",
    )
    return cluster


def test_defect_07_a_surge_is_not_attached_on_type_and_market_alone(
    make_escalation, default_signal_rules, frozen_clock
):
    from watchfloor.escalations.models import Escalation, Note
    from watchfloor.signals.models import RuleFiring

    unrelated = make_escalation(
        title="Fake parcel-delivery SMS scam", markets=["JP"], languages=["ja"]
    )
    surge = _earthquake_scam_surge(subject_ref="post:quake-donation-1")
    _react(surge)

    firing = RuleFiring.objects.get(rule_code="scam-wave")
    assert firing.outcome == "opened"
    assert firing.escalation_id != unrelated.pk
    assert f"proposed {unrelated.reference}" in firing.evidence["action"]
    surge.refresh_from_db()
    assert surge.escalation_id == firing.escalation_id
    # Nothing was written on the unrelated escalation; the proposal is on the new one.
    assert not Note.objects.filter(escalation=unrelated).exists()
    proposal = Note.objects.get(escalation=firing.escalation)
    assert proposal.body.startswith(f"Proposed, not attached: {unrelated.reference}")
    assert Escalation.objects.count() == 2


def test_defect_07_a_shared_subject_attaches(make_escalation, default_signal_rules, frozen_clock):
    from watchfloor.escalations.inputs import SubjectInput
    from watchfloor.signals.models import RuleFiring

    same = make_escalation(
        title="Quake donation scam",
        markets=["JP"],
        subjects=[SubjectInput(kind="post", reference="post:quake-donation-1")],
    )
    surge = _earthquake_scam_surge(subject_ref="post:quake-donation-1")
    _react(surge)
    firing = RuleFiring.objects.get(rule_code="scam-wave")
    assert (firing.outcome, firing.escalation_id) == ("attached", same.pk)
    assert "subject or URL is among its subjects" in firing.evidence["action"]


def test_defect_07_a_rule_that_says_so_attaches_on_type_and_market(
    make_escalation, monkeypatch, tmp_path, frozen_clock
):
    from watchfloor.signals.models import RuleFiring

    rules = tmp_path / "signal_rules.yaml"
    rules.write_text(
        'version: "t"\n'
        "rules:\n"
        "  - code: scam-wave\n"
        "    name: Scam wave\n"
        "    when: {policy_hint: [scams_fraud], surge: true}\n"
        "    escalate: {type: scam_campaign, attach: same_type_and_market}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("WATCHFLOOR_SIGNAL_RULES", str(rules))
    campaign = make_escalation(title="JP scam campaign", markets=["JP"])
    _react(_earthquake_scam_surge())
    firing = RuleFiring.objects.get(rule_code="scam-wave")
    assert (firing.outcome, firing.escalation_id) == ("attached", campaign.pk)


def test_defect_07_a_series_surge_proposes_instead_of_noting(
    make_escalation, default_signal_rules, frozen_clock
):
    from tests.signals.factories import add_signals, make_cluster
    from watchfloor.escalations.models import Note
    from watchfloor.signals.models import RuleFiring
    from watchfloor.signals.selectors import bucket_end

    unrelated = make_escalation(title="Parcel SMS scam", markets=["JP"], languages=["ja"])
    end = bucket_end(frozen_clock)
    clusters = [make_cluster() for _ in range(6)]
    for cluster in clusters:
        add_signals(cluster, at=end - timedelta(minutes=3), count=5, market="JP", language="ja")
    _react(*clusters, series=[("JP", "scams_fraud", "ja")])
    firing = RuleFiring.objects.get(rule_code="scam-series-surge")
    assert firing.outcome == "opened"
    assert firing.escalation_id != unrelated.pk
    assert not Note.objects.filter(escalation=unrelated).exists()


# ---------------------------------------------------------------- 8. rule outside markets


def test_defect_08_statutory_rule_must_belong_to_the_escalations_markets(
    make_escalation, analyst_client, api_as, analyst, frozen_clock
):
    from watchfloor.core.errors import InvalidInput
    from watchfloor.escalations.models import Escalation

    received = frozen_clock - timedelta(hours=1)
    # The service.
    with pytest.raises(InvalidInput) as refused:
        make_escalation(
            type_code="government_legal_demand",
            markets=["TH"],
            statutory_triggers=[
                StatutoryTriggerInput(rule="in-itrules-3-1-d", received_at=received)
            ],
        )
    assert refused.value.field == "statutory_triggers[0].rule"
    assert "in-itrules-3-1-d is a rule of IN India" in refused.value.message
    assert "TH Thailand" in refused.value.message
    assert not Escalation.objects.exists()

    # The form: the message sits at the statutory rule field.
    page = analyst_client.post(
        reverse("escalation-create"),
        _new_escalation_form(
            type="government_legal_demand",
            markets=["TH"],
            statutory_rule="in-itrules-3-1-d",
            statutory_received_at=received.astimezone().strftime("%Y-%m-%dT%H:%M"),
            statutory_time_zone="UTC",
        ),
    )
    assert page.status_code == 400
    assert "is a rule of IN India" in page.content.decode()
    assert not Escalation.objects.exists()

    # The API.
    response = api_as(analyst).post(
        "/escalations",
        {
            "type": "government_legal_demand",
            "title": "Removal order",
            "markets": ["TH"],
            "statutory_triggers": [
                {"rule": "in-itrules-3-1-d", "received_at": received.isoformat()}
            ],
        },
    )
    assert response.status_code == 400
    assert response.json()["field"] == "statutory_triggers.0.rule"
    assert not Escalation.objects.exists()

    # The rule's own market among others is fine; and Thailand's own rule on Thailand.
    both = make_escalation(
        type_code="government_legal_demand",
        markets=["TH", "IN"],
        statutory_triggers=[StatutoryTriggerInput(rule="in-itrules-3-1-d", received_at=received)],
    )
    assert set(both.markets.values_list("code", flat=True)) == {"TH", "IN"}


def test_defect_08_merging_brings_the_rules_market_along(make_escalation, analyst, frozen_clock):
    from watchfloor.escalations import services

    survivor = make_escalation(markets=["PH"])
    duplicate = make_escalation(
        type_code="regulator_notice",
        markets=["AU"],
        statutory_triggers=[
            StatutoryTriggerInput(
                rule="au-osa-removal-notice", received_at=frozen_clock - timedelta(hours=1)
            )
        ],
    )
    services.merge_escalation(duplicate=duplicate, into=survivor, actor=analyst)
    assert survivor.clocks.filter(statutory_rule__code="au-osa-removal-notice").exists()
    assert set(survivor.markets.values_list("code", flat=True)) == {"PH", "AU"}


# ---------------------------------------------------------------- 13. watchlist matches


def test_defect_13_one_row_per_matched_signal_with_all_its_terms(
    make_escalation, analyst, analyst_client, frozen_clock
):
    from watchfloor.crises.services import declare_crisis
    from watchfloor.crises.watchlists import (
        add_watchlist_entry,
        flag_matching_signals,
        forget_matcher,
        recent_hits,
    )
    from watchfloor.signals.intake import ingest_signals

    forget_matcher()
    crisis = declare_crisis(
        actor=analyst,
        title="Osaka attack video",
        level="incident",
        declared_from=make_escalation(markets=["JP"]),
    )
    handle = "@osaka_attack_footage_mirror_official_2026"
    for kind, value in [
        ("term", "犯行声明"),
        ("hashtag", "#大阪襲撃"),
        ("account", handle),
    ]:
        add_watchlist_entry(crisis=crisis, kind=kind, value=value, actor=analyst)
    result = ingest_signals(
        items=[
            {
                "id": "quake-1",
                "received_at": (frozen_clock - timedelta(minutes=3)).isoformat(),
                "source": "user_report",
                "subject": {"kind": "account", "ref": handle},
                "text": "犯行声明の動画がまた上がっている #大阪襲撃",
                "language": "ja",
                "market": "JP",
            },
            {
                "id": "quake-2",
                "received_at": (frozen_clock - timedelta(minutes=2)).isoformat(),
                "source": "user_report",
                "subject": {"kind": "post", "ref": "post:other"},
                "text": "犯行声明とされる文書",
                "language": "ja",
                "market": "JP",
            },
        ],
        producer="tests",
        actor=None,
    )
    flag_matching_signals([item.signal_id for item in result.results])
    forget_matcher()

    matches = recent_hits(crisis=crisis, viewer=analyst)
    assert len(matches) == 2  # two signals, not four hits
    newest, first = matches
    assert [e.value for e in newest.entries] == ["犯行声明"]
    assert sorted(e.value for e in first.entries) == sorted(["犯行声明", "#大阪襲撃", handle])

    page = analyst_client.get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    section = page[page.index('id="live-watchlist-hits"') :]
    section = section[: section.index("</section>")]
    assert section.count("<tr>") == 1 + 2  # the header and one row per signal
    assert section.count(handle) == 1
    # The handle is set in an element that never breaks mid-word.
    assert f'<code class="watch-term" dir="auto">{handle}</code>' in section
    css = (
        Path(__file__).resolve().parents[2] / "src/watchfloor/crises/static/crises/containment.css"
    ).read_text()
    assert ".watch-term { white-space: nowrap;" in css


# ---------------------------------------------------------------- 14. CSV for Excel


def test_defect_14_queue_csv_starts_with_a_bom_and_stays_formula_safe(
    make_escalation, analyst_client
):
    import csv
    import io

    make_escalation(title="能登半島地震の義援金詐欺", markets=["JP"], languages=["ja"])
    make_escalation(title='=HYPERLINK("http://evil.example","click")')
    body = b"".join(analyst_client.get(reverse("queue-export")).streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    assert body.count(b"\xef\xbb\xbf") == 1
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    titles = {row[1] for row in rows[1:]}
    assert "能登半島地震の義援金詐欺" in titles
    assert '\'=HYPERLINK("http://evil.example","click")' in titles
    assert rows[0][0] == "reference"


def test_defect_14_signal_exports_start_with_a_bom_and_stay_formula_safe(
    catalog, frozen_clock, tmp_path
):
    import csv

    from django.core.management import call_command

    from tests.signals.factories import add_signals, make_cluster

    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock, text='=HYPERLINK("http://evil.test","義援金")')
    for what in ("clusters", "surges"):
        target = tmp_path / f"{what}.csv"
        call_command(what, "export", "--format", "csv", "--output", str(target))
        assert target.read_bytes().startswith(b"\xef\xbb\xbf"), what
    with (tmp_path / "clusters.csv").open(encoding="utf-8-sig", newline="") as stream:
        [row] = list(csv.DictReader(stream))
    assert row["representative"].startswith("'=HYPERLINK")


# ---------------------------------------------------------------- 16. unreachable on call

ROTA_WITHOUT_EMAIL = """\
rotations:
  - code: policy-weekly
    name: Site policy weekly
    team: site_policy
    kind: weekly
    start_date: 2026-01-05
    time_zone: Asia/Tokyo
    handoff: "10:00"
    members: [mio.policy]
"""

POLICY_ON_CALL = """\
version: "t"
rules:
  - code: high
    name: High
    when: {severities: [SEV2]}
    stages:
      - notify:
          - on_call: site_policy
"""


def test_defect_16_unreachable_on_call_people_are_flagged(
    catalog, frozen_clock, tmp_path, analyst_client
):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from watchfloor.people.models import Team
    from watchfloor.people.rota_changes import load_rotas
    from watchfloor.people.services import create_user

    site_policy = Team.objects.get(code="site_policy")
    create_user(
        username="mio.policy",
        password="correct-horse-battery",
        role="analyst",
        actor=None,
        team=site_policy,
        time_zone="Asia/Tokyo",
        email="",
    )
    rota = tmp_path / "rotations.yaml"
    rota.write_text(ROTA_WITHOUT_EMAIL, encoding="utf-8")
    load_rotas(path=rota, actor=None)

    page = analyst_client.get(reverse("oncall"), {"team": "site_policy"}).content.decode()
    assert "mio.policy" in page
    assert "Cannot be paged: no email address on their account" in page

    policy = tmp_path / "escalation_policies.yaml"
    policy.write_text(POLICY_ON_CALL, encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("notify", "check", str(policy))
    message = str(caught.value)
    assert (
        "escalation_policies.yaml:8: rules[0].stages[0].notify[0].on_call: mio.policy "
        "(on the Site policy weekly rotation) cannot be paged: no email address" in message
    )

    # Once the address is there, both are quiet.
    from watchfloor.people.models import User

    User.objects.filter(username="mio.policy").update(email="mio@watchfloor.test")
    page = analyst_client.get(reverse("oncall"), {"team": "site_policy"}).content.decode()
    assert "Cannot be paged" not in page
    call_command("notify", "check", str(policy), stdout=StringIO())


# ---------------------------------------------------------------- 18. a fresh data directory

SRC = Path(__file__).resolve().parents[2] / "src"


def _watchfloor(*args: str, data_dir: Path, database_url: str | None = None):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WATCHFLOOR_TESTING")}
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env["WATCHFLOOR_DATA_DIR"] = str(data_dir)
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "watchfloor.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_defect_18_ingest_on_a_fresh_data_directory_prepares_it(tmp_path):
    signals = tmp_path / "signals.jsonl"
    signals.write_text(
        '{"id": "s1", "received_at": "2026-11-24T00:00:00Z", "source": "user_report", '
        '"subject": {"kind": "post", "ref": "post:1"}, "market": "JP", "language": "ja", '
        '"text": "義援金詐欺のアカウント"}\n',
        encoding="utf-8",
    )
    done = _watchfloor("ingest", str(signals), data_dir=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    assert "OperationalError" not in done.stderr and "Traceback" not in done.stderr
    assert "Preparing the database" in done.stderr
    assert "loaded catalog" in done.stderr  # so JP is a known market
    assert "1 accepted" in done.stdout and "0 rejected" in done.stdout


def test_defect_18_an_unusable_database_stops_with_one_line(tmp_path):
    done = _watchfloor(
        "clusters",
        "export",
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path}/no/such/directory/db.sqlite3",
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("CommandError: the database")
    assert "Check DATABASE_URL or WATCHFLOOR_DATA_DIR" in lines[0]
    assert "Traceback" not in done.stderr


def test_defect_18_playbooks_validate_says_where_it_expected_the_templates(tmp_path):
    import shutil

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from watchfloor.playbooks.loader import default_playbook_dir

    mine = tmp_path / "library" / "mine"
    shutil.copytree(default_playbook_dir(), mine)
    stderr = StringIO()
    with pytest.raises(CommandError, match="has 1 problem"):
        call_command("playbooks", "validate", str(mine), stderr=stderr)
    said = stderr.getvalue()
    assert said.count("\n") == 1, said
    expected = tmp_path / "library" / "comms"
    assert said.startswith(f"{expected}: expected the communication templates here")
    assert f"beside the playbooks directory ({mine})" in said
    assert "--comms DIR" in said
    assert "unknown template" not in said


# ---------------------------------------------------------------- 19. demo and handoffs


def test_defect_19_handoff_history_shows_the_confirmed_time_and_region_names(
    make_escalation, analyst, other_analyst, analyst_client, frozen_clock
):
    from watchfloor.core import clock
    from watchfloor.crises import services

    crisis = services.declare_crisis(
        actor=analyst, title="Osaka attack video", level="incident", declared_from=make_escalation()
    )
    # Americas → APAC is scheduled for 01:00 UTC (10:00 JST); confirmed at 00:30 UTC.
    handoff = services.confirm_handoff(
        crisis=crisis, actor=analyst, incoming_commander=other_analyst
    )
    assert handoff.confirmed_at == frozen_clock
    clock.advance(timedelta(minutes=10))
    services.acknowledge_handoff(handoff=handoff, actor=other_analyst)
    clock.advance(timedelta(hours=5))

    page = analyst_client.get(reverse("crisis-handoff", args=[crisis.pk])).content.decode()
    history = page[page.index("Earlier handoffs") :]
    history = history[: history.index("</ul>")]
    assert "AMERICAS" not in history and "APAC →" not in history
    assert "Americas → APAC: confirmed" in history
    assert "09:30" in history  # confirmed at 00:30 UTC, shown in the viewer's Tokyo time
    assert "10:00" not in history  # not the scheduled shift change
    assert "acknowledged" in history and "09:40" in history


@pytest.mark.slow
def test_defect_19_demo_key_fact_is_locked_after_the_crisis_was_declared(catalog):
    import re
    from zoneinfo import ZoneInfo

    from django.core.management import call_command

    from watchfloor.crises.models import Crisis

    call_command("demo", "--no-serve", stdout=StringIO())
    crisis = Crisis.objects.get()
    fact = crisis.notes.get(is_pinned=True)
    said = re.search(r"locked (\d\d:\d\d) JST", fact.body).group(1)
    tokyo = ZoneInfo("Asia/Tokyo")
    # Some minute between the declaration and the note itself.
    minutes = []
    moment = crisis.declared_at
    while moment <= fact.created_at:
        minutes.append(moment.astimezone(tokyo).strftime("%H:%M"))
        moment += timedelta(minutes=1)
    assert said in minutes, (said, crisis.declared_at.astimezone(tokyo), minutes)


@pytest.mark.slow
def test_defect_18_two_commands_preparing_one_fresh_data_directory_both_succeed(tmp_path):
    """Two workers started together on a new data directory must not both load the
    reference data (the second used to fail on a unique constraint)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WATCHFLOOR_TESTING")}
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env["WATCHFLOOR_DATA_DIR"] = str(tmp_path / "data")
    commands = [
        subprocess.Popen(
            [sys.executable, "-m", "watchfloor.cli", "clusters", "export"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [command.communicate(timeout=600) for command in commands]
    for command, (_, stderr) in zip(commands, outputs, strict=True):
        assert command.returncode == 0, stderr[-2000:]
    said = "".join(stderr for _, stderr in outputs)
    assert said.count("loaded catalog") == 1, said
    assert said.count("loaded playbook library") == 1, said


@pytest.mark.django_db(transaction=True)
def test_defect_18_preparers_running_at_once_load_the_playbook_library_once(catalog):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from watchfloor.core.preparation import ensure_database_ready
    from watchfloor.playbooks.models import Playbook, PlaybookVersion

    assert not Playbook.objects.exists()

    def prepare(_: int) -> str:
        out = StringIO()
        try:
            ensure_database_ready(stdout=out)
        finally:
            connection.close()
        return out.getvalue()

    with ThreadPoolExecutor(max_workers=4) as pool:
        said = list(pool.map(prepare, range(4)))
    assert sum("loaded playbook library" in line for line in said) == 1, said
    # Loaded once: one version of each playbook, not one per preparer.
    assert PlaybookVersion.objects.count() == Playbook.objects.count() > 0


def test_defect_18_a_new_sqlite_database_is_first_opened_under_the_preparation_lock(tmp_path):
    """Opening a connection sets WAL, which on a new file writes its header; two processes
    doing that at once fail one of them with "database is locked" whatever the busy
    timeout. So the preparation lock is held before the first connection is made."""
    import fcntl

    from django.conf import settings
    from django.db.backends.signals import connection_created
    from django.db.backends.sqlite3.base import DatabaseWrapper

    from watchfloor.core.preparation import preparation_lock

    database_file = tmp_path / "new.sqlite3"
    lock_file = tmp_path / "new.sqlite3.prepare-lock"
    database = DatabaseWrapper(
        {
            **settings.DATABASES["default"],
            "NAME": str(database_file),
            "ENGINE": "django.db.backends.sqlite3",
            "OPTIONS": dict(settings.SQLITE_OPTIONS),
        },
        alias="preparation-test",
    )
    lock_held_when_connecting: list[bool] = []

    def note_whether_the_lock_is_held(sender, connection, **kwargs):
        if connection is not database:
            return
        with open(lock_file, "a") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock_held_when_connecting.append(True)
            else:
                fcntl.flock(other, fcntl.LOCK_UN)
                lock_held_when_connecting.append(False)

    connection_created.connect(note_whether_the_lock_is_held)
    try:
        assert not database_file.exists()
        with preparation_lock(database):
            assert database.connection is not None  # connected, so problems surface here
    finally:
        connection_created.disconnect(note_whether_the_lock_is_held)
        database.close()
    assert lock_held_when_connecting == [True]
    assert database_file.exists()


def test_an_embedded_database_connection_runs_as_the_sqlite_decision_says(db):
    """docs/decisions/0001: WAL, synchronous NORMAL, foreign keys on, and one busy timeout
    of 10 s (a pragma used to override the connect-time timeout of 20 s)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the embedded database only")
    with connection.cursor() as cursor:
        settings_in_force = {
            pragma: cursor.execute(f"PRAGMA {pragma}").fetchone()[0]
            for pragma in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert settings_in_force == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        "foreign_keys": 1,
        "busy_timeout": 10_000,
    }
