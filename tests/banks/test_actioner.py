"""The actioner against a real HTTP server on 127.0.0.1 that plays the platform
(tests/banks/platform_server.py): it checks the signature as docs/banks.md tells a
platform to, answers as each test scripts it, and calls back (signed) to confirm or
refuse."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from tests.banks.platform_server import Platform
from tests.banks.test_services import BASE, bank_with
from tests.waiting import wait_until
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.banks.actioner import carry_out_decision, request_enforcement, save_connector
from watchfloor.banks.match_work import QueryContext, record_matches
from watchfloor.banks.matcher import Query, match
from watchfloor.banks.models import (
    Bank,
    EnforcementConnector,
    EnforcementRequest,
    FiringOutcome,
    ItemStatus,
    RequestStatus,
    RuleFiring,
)
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, PermissionDenied
from watchfloor.escalations.decisions import record_decision


def final_decision(escalation, analyst, **overrides):
    values = {
        "escalation": escalation,
        "actor": analyst,
        "policy_code": "violent_extremism",
        "action_code": "remove_content",
        "scope": "Every copy of the attack video",
        "rationale": "Perpetrator content of a violent attack.",
    }
    values.update(overrides)
    return record_decision(**values)


def callback(client: Client, platform: Platform, body: dict[str, Any], *, signed: bool = True):
    raw = json.dumps(body).encode()
    headers = {"HTTP_X_WATCHFLOOR_SIGNATURE": platform.signed(raw)} if signed else {}
    return client.post(
        "/api/v1/enforcement/callback/platform", raw, content_type="application/json", **headers
    )


pytestmark = pytest.mark.usefixtures("frozen_clock")


def test_a_request_is_signed_keyed_and_retried_with_backoff(
    make_escalation, analyst, connector, platform, committed, run_due
):
    platform.script = [503]
    escalation = make_escalation(markets=["JP"])
    decision = final_decision(escalation, analyst)
    with committed():
        request = carry_out_decision(
            decision=decision, connector_code="platform", actor=analyst, references=["post:1"]
        )
    [first] = run_due()
    assert first.startswith("send_enforcement_request: retrying at")
    request.refresh_from_db()
    assert request.status == RequestStatus.RETRYING and "HTTP 503" in request.last_error
    assert run_due() == []  # not due yet on the application's clock
    clock.advance(timedelta(minutes=1))
    assert run_due() == ["send_enforcement_request: sent"]
    request.refresh_from_db()
    assert request.status == RequestStatus.SENT and request.attempt_count == 2
    assert [r["verified"] for r in platform.requests] == [True, True]
    keys = {r["headers"]["Idempotency-Key"] for r in platform.requests}
    assert keys == {request.idempotency_key}
    payload = platform.requests[1]["payload"]
    assert payload["action"] == "remove_content" and payload["items"] == ["post:1"]
    assert payload["escalation"] == escalation.reference and payload["attempt"] == 2
    assert list(request.attempts.values_list("outcome", "status_code")) == [
        ("failed", 503),
        ("delivered", 202),
    ]


def test_a_refusing_receiver_fails_the_request_and_the_page_says_why(
    make_escalation, analyst, connector, platform, committed, run_due
):
    platform.script = [400]
    escalation = make_escalation()
    decision = final_decision(escalation, analyst)
    with committed():
        carry_out_decision(
            decision=decision, connector_code="platform", actor=analyst, references=["post:9"]
        )
    run_due()
    request = EnforcementRequest.objects.get()
    assert request.status == RequestStatus.FAILED and request.last_error.startswith("HTTP 400")
    assert AuditEvent.objects.filter(action=AuditAction.BANK_ENFORCEMENT_FAILED).exists()
    client = Client()
    client.force_login(analyst)
    page = client.get(f"/escalations/{escalation.pk}/").content.decode()
    assert "not delivered after 1 attempt: HTTP 400" in page


@pytest.mark.slow
def test_one_decision_on_3000_copies_is_one_request_with_item_results(
    make_escalation, analyst, connector, platform, committed, run_due
):
    escalation = make_escalation(markets=["JP"])
    decision = final_decision(escalation, analyst)
    copies = [f"media:{n}" for n in range(3000)]
    with committed():
        carry_out_decision(
            decision=decision, connector_code="platform", actor=analyst, references=copies
        )
    run_due()
    request = EnforcementRequest.objects.get()
    assert request.item_count == 3000 and request.status == RequestStatus.SENT
    assert len(platform.requests[0]["payload"]["items"]) == 3000
    client = Client()
    body = {
        "idempotency_key": request.idempotency_key,
        "status": "carried_out",
        "carried_out_at": "2026-11-24T09:45:00+09:00",
        "by": "enforcement-ops:kenji",
        "reference": "ENF-7781",
        "items": [
            {"reference": "media:17", "status": "refused", "detail": "already removed"},
            {"reference": "media:2999", "status": "failed", "detail": "not found"},
        ],
    }
    assert callback(client, platform, body, signed=False).status_code == 401
    tampered = json.dumps(body).encode()
    forged = client.post(
        "/api/v1/enforcement/callback/platform",
        tampered + b" ",
        content_type="application/json",
        HTTP_X_WATCHFLOOR_SIGNATURE=platform.signed(tampered),
    )
    assert forged.status_code == 401
    response = callback(client, platform, body)
    assert response.status_code == 200, response.content
    request.refresh_from_db()
    assert request.status == RequestStatus.PARTLY_CARRIED_OUT
    assert request.completed_by == "enforcement-ops:kenji"
    assert request.completed_at.isoformat() == "2026-11-24T00:45:00+00:00"
    statuses = dict(request.items.values_list("reference", "status"))
    assert statuses["media:17"] == ItemStatus.REFUSED and statuses["media:0"] == ItemStatus.DONE
    assert sum(1 for s in statuses.values() if s == ItemStatus.DONE) == 2998
    again = callback(client, platform, {**body, "status": "refused", "items": []})
    assert again.status_code == 200
    request.refresh_from_db()
    assert request.status == RequestStatus.PARTLY_CARRIED_OUT  # the first answer stands
    assert EnforcementRequest.objects.filter(decision=decision).count() == 1
    client.force_login(analyst)
    page = client.get(f"/escalations/{escalation.pk}/").content.decode()
    assert "partly carried out at" in page and "by enforcement-ops:kenji" in page
    assert "2998 done" in page


def test_only_final_decisions_of_people_who_work_escalations(
    make_escalation, analyst, viewer, connector
):
    escalation = make_escalation(is_high_visibility=True)  # a second person approves
    pending = final_decision(escalation, analyst)
    with pytest.raises(Conflict, match="only a final decision"):
        carry_out_decision(decision=pending, connector_code="platform", actor=analyst)
    ordinary = final_decision(make_escalation(), analyst)
    with pytest.raises(PermissionDenied):
        carry_out_decision(decision=ordinary, connector_code="platform", actor=viewer)
    connector.is_active = False
    save_connector(connector=connector, actor=None)
    with pytest.raises(Conflict, match="switched off"):
        carry_out_decision(decision=ordinary, connector_code="platform", actor=analyst)


def test_a_live_rule_requests_enforcement_for_the_matched_item(
    analyst, connector, platform, settings, tmp_path, committed, run_due
):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        'version: "1"\nrules:\n'
        "  - code: take-down\n    name: Remove copies\n    mode: live\n"
        "    when: {banks: [attack]}\n"
        "    enforce: {connector: platform, action: withhold_in_countries, countries: [JP]}\n"
    )
    settings.WATCHFLOOR_BANK_ACTION_RULES = str(rules)
    bank_with("attack", BASE, actor=analyst)
    with committed():
        results = match(queries=[Query("pdq", BASE)], banks=Bank.objects.all())
        record_matches(
            results=results,
            contexts=[QueryContext(market="JP", subject_ref="media:42")],
            actor=None,
        )
    firing = RuleFiring.objects.get()
    assert firing.outcome == FiringOutcome.REQUESTED
    request = firing.enforcement_request
    assert request.countries == ["JP"] and list(
        request.items.values_list("reference", flat=True)
    ) == ["media:42"]
    run_due()
    assert platform.requests[0]["payload"]["rule"] == "take-down"
    connector.is_active = False
    connector.save()
    with committed():
        record_matches(
            results=match(queries=[Query("pdq", BASE)], banks=Bank.objects.all()),
            contexts=[QueryContext(subject_ref="media:43")],
            actor=None,
        )
    failed = RuleFiring.objects.order_by("-id").first()
    assert failed.outcome == FiringOutcome.FAILED and "switched off" in failed.detail
    assert EnforcementRequest.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_platform_calls_back_over_http(live_server, analyst, make_escalation, platform):
    """End to end: Watchfloor sends, the platform answers 202 and then calls the callback
    endpoint of a running Watchfloor, which records the result."""
    from watchfloor.banks.actioner import send_request

    connector = save_connector(
        connector=EnforcementConnector(code="platform", name="Platform", url=platform.url),
        actor=None,
    )
    platform.secret = connector.secret
    platform.callback_base = live_server.url
    platform.verdict = {"status": "refused", "by": "legal-hold", "reason": "court order on hold"}
    escalation = make_escalation()
    decision = final_decision(escalation, analyst)
    request = request_enforcement(
        connector=connector,
        action_code="remove_content",
        references=["post:5"],
        actor=analyst,
        decision=decision,
    )
    assert send_request(request_id=request.pk) == "sent"
    assert platform.called_back.wait(timeout=30), "the platform never called back"
    assert platform.callbacks == [200]
    request = wait_until(
        lambda: EnforcementRequest.objects.filter(
            pk=request.pk, status=RequestStatus.REFUSED
        ).first(),
        timeout=10,
        waiting_for="the refusal to be recorded",
    )
    assert request.refusal_reason == "court order on hold"


def test_the_panel_query_count_does_not_grow_with_the_requests(
    make_escalation, analyst, connector, django_assert_num_queries
):
    from watchfloor.banks.panel import enforcement_panel
    from watchfloor.escalations.selectors import escalation_detail

    escalation = make_escalation()
    decision = final_decision(escalation, analyst)

    def send(count: int) -> None:
        for number in range(count):
            carry_out_decision(
                decision=decision,
                connector_code="platform",
                actor=analyst,
                references=[f"post:{count}-{number}", f"post:{count}-{number}-b"],
            )

    for count in (1, 5):
        send(count)
        loaded = escalation_detail(escalation)
        # The requests, their item counts, the active connectors.
        with django_assert_num_queries(3):
            panel = enforcement_panel(escalation=loaded, viewer=analyst, now=clock.now())
            assert panel.can_send and all(row.item_counts == {"pending": 2} for row in panel.rows)


def test_the_panel_names_the_items_refused_with_the_reason_in_one_query(
    make_escalation, analyst, connector, platform, django_assert_num_queries
):
    from watchfloor.banks.panel import UNDONE_SHOWN, enforcement_panel
    from watchfloor.escalations.selectors import escalation_detail

    escalation = make_escalation()
    decision = final_decision(escalation, analyst)
    client = Client()
    for count in (1, 3):
        for number in range(count):
            references = [f"post:{count}-{number}-{n}" for n in range(UNDONE_SHOWN + 3)]
            request = carry_out_decision(
                decision=decision,
                connector_code="platform",
                actor=analyst,
                references=references,
            )
            refused = [
                {"reference": reference, "status": "refused", "detail": "already removed"}
                for reference in references[1:]
            ]
            answer = {"idempotency_key": request.idempotency_key, "status": "carried_out"}
            assert callback(client, platform, {**answer, "items": refused}).status_code == 200
        loaded = escalation_detail(escalation)
        # The requests, their item counts, the refused items, the active connectors.
        with django_assert_num_queries(4):
            panel = enforcement_panel(escalation=loaded, viewer=analyst, now=clock.now())
        for row in panel.rows:
            assert row.item_counts == {"done": 1, "refused": UNDONE_SHOWN + 2}
            assert len(row.undone) == UNDONE_SHOWN and row.undone_not_shown == 2
            assert {item.request_id for item in row.undone} == {row.request.pk}
    client.force_login(analyst)
    page = client.get(f"/escalations/{escalation.pk}/").content.decode()
    assert "<code>post:1-0-1</code> refused: already removed" in page
    assert "and 2 more" in page


def test_a_request_cut_off_mid_send_is_sent_again_with_its_key(
    make_escalation, analyst, connector, platform, committed, run_due
):
    from watchfloor.banks.actioner import resume_enforcement_requests

    decision = final_decision(make_escalation(), analyst)
    with committed():
        request = carry_out_decision(
            decision=decision, connector_code="platform", actor=analyst, references=["post:1"]
        )
    # The worker died during the first attempt.
    EnforcementRequest.objects.filter(pk=request.pk).update(
        status=RequestStatus.SENDING,
        sending_since=clock.now() - timedelta(minutes=11),
        attempt_count=1,
    )
    assert run_due() == ["send_enforcement_request: nothing to do: sending"]
    with committed():
        assert resume_enforcement_requests() == [request.pk]
    assert run_due() == ["send_enforcement_request: sent"]
    request.refresh_from_db()
    assert request.attempt_count == 2 and request.status == RequestStatus.SENT
    assert platform.requests[0]["headers"]["Idempotency-Key"] == request.idempotency_key


def test_a_malformed_callback_is_refused_with_the_field(
    make_escalation, analyst, connector, platform, committed, run_due
):
    decision = final_decision(make_escalation(), analyst)
    with committed():
        request = carry_out_decision(
            decision=decision, connector_code="platform", actor=analyst, references=["post:1"]
        )
    client = Client()
    bad = callback(client, platform, {"idempotency_key": request.idempotency_key, "status": "ok"})
    assert bad.status_code == 400 and bad.json()["field"] == "status"
    unknown = callback(client, platform, {"idempotency_key": "nope", "status": "refused"})
    assert unknown.status_code == 404
    item = callback(
        client,
        platform,
        {
            "idempotency_key": request.idempotency_key,
            "status": "carried_out",
            "items": [{"reference": "post:1", "status": "maybe"}],
        },
    )
    assert item.status_code == 400 and item.json()["field"] == "items.0"
    request.refresh_from_db()
    assert request.completed_at is None


def test_the_admin_lists_connectors_requests_matches_and_firings(admin_user, connector):
    client = Client()
    client.force_login(admin_user)
    for model in ("enforcementconnector", "enforcementrequest", "match", "rulefiring"):
        response = client.get(f"/admin/banks/{model}/")
        assert response.status_code == 200, model
    added = client.post(
        "/admin/banks/enforcementconnector/add/",
        {
            "code": "second",
            "name": "Second",
            "url": "ftp://x",
            "max_attempts": 3,
            "is_active": "on",
        },
    )
    assert "url" in added.context["adminform"].form.errors
    saved = client.post(
        "/admin/banks/enforcementconnector/add/",
        {
            "code": "second",
            "name": "Second",
            "url": "https://127.0.0.1/wf",  # allow-listed by the connector fixture
            "max_attempts": 3,
        },
    )
    assert saved.status_code == 302
    second = EnforcementConnector.objects.get(code="second")
    assert second.secret.startswith("whsec_") and not second.is_active
    assert AuditEvent.objects.filter(action=AuditAction.BANK_CONNECTOR_SAVED).count() == 2
