"""Need to know for partner requests: a partner sees only the requests to their own team
on escalations shared with it — in the inbox, on the request page, in the API and in
every count — and a request is never more visible than its escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.coordination.conftest import signed_in
from watchfloor.coordination.selectors import (
    InboxCounts,
    InboxFilters,
    access_partner_request,
    inbox,
    inbox_counts,
    requests_visible_to,
)
from watchfloor.core import clock
from watchfloor.core.errors import NotFound
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.services import set_access


@pytest.fixture
def asked(escalation, make_escalation, ask, frozen_clock):
    """One request to Legal and one to Communications on the same escalation, and one to
    Legal on another escalation."""
    other = make_escalation(title="Second notice", markets=["NZ"])
    return {
        "legal": ask(escalation),
        "comms": ask(escalation, team_code="communications", kind="holding_statement"),
        "legal_other": ask(other),
    }


def test_a_partner_sees_only_their_own_teams_requests(asked, legal_partner, comms_partner):
    assert set(requests_visible_to(legal_partner)) == {asked["legal"], asked["legal_other"]}
    assert set(requests_visible_to(comms_partner)) == {asked["comms"]}
    with pytest.raises(NotFound):
        access_partner_request(actor=legal_partner, request_id=asked["comms"].pk)
    # Missing and hidden look the same.
    with pytest.raises(NotFound) as missing:
        access_partner_request(actor=legal_partner, request_id=999_999)
    with pytest.raises(NotFound) as hidden:
        access_partner_request(actor=legal_partner, request_id=asked["comms"].pk)
    assert missing.value.field == hidden.value.field == "request_id"


def test_site_policy_and_viewers_see_every_request_on_escalations_they_see(asked, analyst, viewer):
    assert requests_visible_to(analyst).count() == 3
    assert requests_visible_to(viewer).count() == 3


def test_counts_and_the_inbox_hold_only_what_the_partner_may_see(
    asked, legal_partner, comms_partner
):
    clock.advance(timedelta(hours=5))
    assert inbox_counts(user=legal_partner, now=clock.now()) == InboxCounts(open=2, overdue=2)
    assert inbox_counts(user=comms_partner, now=clock.now()).open == 1
    listed = list(inbox(user=legal_partner, filters=InboxFilters(), now=clock.now()))
    assert set(listed) == {asked["legal"], asked["legal_other"]}


def test_unsharing_the_escalation_takes_its_requests_out_of_the_inbox(
    asked, escalation, lead, legal_partner
):
    set_access(
        escalation=escalation,
        expected_version=Escalation.objects.get(pk=escalation.pk).access_version,
        actor=lead,
        is_restricted=False,
        access_usernames=[],
        shared_with_team_codes=["communications"],
    )
    assert set(requests_visible_to(legal_partner)) == {asked["legal_other"]}


def test_restricting_an_escalation_hides_its_requests_from_those_not_on_the_list(
    asked, escalation, lead, legal_partner, viewer, analyst
):
    set_access(
        escalation=escalation,
        expected_version=Escalation.objects.get(pk=escalation.pk).access_version,
        actor=lead,
        is_restricted=True,
        access_usernames=[analyst.username],
        shared_with_team_codes=["legal", "communications"],
    )
    assert set(requests_visible_to(legal_partner)) == {asked["legal_other"]}
    assert set(requests_visible_to(viewer)) == {asked["legal_other"]}
    assert requests_visible_to(analyst).count() == 3


def test_the_inbox_page_request_page_and_api_agree(asked, legal_partner, api_as):
    client = signed_in(legal_partner)
    page = client.get("/inbox/").content.decode()
    assert asked["legal"].reference in page and asked["legal_other"].reference in page
    assert asked["comms"].reference not in page
    assert "<strong>2</strong> awaiting an answer" in page
    assert client.get(f"/inbox/{asked['comms'].pk}/").status_code == 404
    assert client.get(f"/inbox/{asked['legal'].pk}/").status_code == 200

    caller = api_as(legal_partner)
    body = caller.get("/partner-requests").json()
    assert body["count"] == 2 and {item["id"] for item in body["items"]} == {
        asked["legal"].pk,
        asked["legal_other"].pk,
    }
    assert caller.get(f"/partner-requests/{asked['comms'].pk}").status_code == 404
    assert caller.get("/partner-requests", {"team": "communications"}).json()["count"] == 0


def test_a_partner_on_the_escalation_page_sees_only_their_teams_requests(
    asked, escalation, legal_partner
):
    html = (
        signed_in(legal_partner)
        .get(f"/escalations/{escalation.pk}/partner-requests/")
        .content.decode()
    )
    assert asked["legal"].reference in html
    assert asked["comms"].reference not in html
    assert "Ask a partner" not in html


def test_reading_a_request_about_a_restricted_escalation_is_recorded(
    make_escalation, ask, lead, legal_partner, api_as
):
    from watchfloor.audit.events import AuditAction
    from watchfloor.audit.models import AuditEvent

    restricted = make_escalation(
        is_restricted=True, actor=lead, access_usernames=[legal_partner.username]
    )
    request = ask(restricted, actor=lead)
    assert signed_in(legal_partner).get(f"/inbox/{request.pk}/").status_code == 200
    assert api_as(legal_partner).get(f"/partner-requests/{request.pk}").status_code == 200
    views = AuditEvent.objects.filter(
        action=AuditAction.ESCALATION_VIEWED, escalation_id=restricted.pk
    )
    assert sorted(event.data["channel"] for event in views) == ["api", "web"]
