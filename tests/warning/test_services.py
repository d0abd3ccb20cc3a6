"""Official alerts in: signals through the intake, threads, markets, trust, the rule, the
crisis proposals, the API and ``watchfloor ingest``."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

pytest.importorskip("lxml")

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core.errors import PermissionDenied
from watchfloor.crises.models import Crisis, WatchlistEntry
from watchfloor.escalations.models import Escalation
from watchfloor.signals import backlog
from watchfloor.signals.models import Cluster, RuleFiring, Signal
from watchfloor.warning import proposals, services
from watchfloor.warning.cap import CapRefused
from watchfloor.warning.models import CrisisProposal, ReceivedAlert

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
DEFAULTS = Path(__file__).parents[2] / "src" / "watchfloor" / "defaults"
PTWC = "http://newwcatwc.arh.noaa.gov/tsuPortal/"  # trusted in the default cap_senders.yaml
TONGA_CIRCLE = "-21.2,-175.2 50"
GEOCODE = "<geocode><valueName>{}</valueName><value>{}</value></geocode>"


@pytest.fixture(autouse=True)
def default_files(monkeypatch):
    monkeypatch.setenv("WATCHFLOOR_SIGNAL_RULES", str(DEFAULTS / "signal_rules.yaml"))
    monkeypatch.setenv("WATCHFLOOR_CAP_SENDERS", str(DEFAULTS / "cap_senders.yaml"))


def cap_alert(
    identifier: str,
    *,
    sender: str = PTWC,
    msg_type: str = "Alert",
    references: str = "",
    sent: str = "2026-11-24T00:10:00+00:00",
    severity: str = "Extreme",
    urgency: str = "Immediate",
    event: str = "Tsunami Warning",
    area: str = f"<circle>{TONGA_CIRCLE}</circle>",
    infos: int = 1,
) -> bytes:
    refs = f"<references>{references}</references>" if references else ""
    info = f"""<info><category>Geo</category><event>{event}</event>
      <urgency>{urgency}</urgency><severity>{severity}</severity><certainty>Observed</certainty>
      <expires>2026-11-24T06:00:00+00:00</expires>
      <headline>{event} for Tonga {identifier}</headline>
      <description>A tsunami was generated. Move to higher ground ({identifier}).</description>
      <area><areaDesc>Tongatapu</areaDesc>{area}</area></info>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier><sender>{sender}</sender><sent>{sent}</sent>
  <status>Actual</status><msgType>{msg_type}</msgType><scope>Public</scope>{refs}
  {info * infos}
</alert>""".encode()


def receive(raw: bytes, actor=None):
    receipt = services.receive_cap_document(raw=raw, actor=actor)
    backlog.drain(worker="test")
    return receipt


# ---------------------------------------------------------------- signals


def test_one_signal_per_info_carrying_the_alert(catalog, frozen_clock):
    receipt = receive(cap_alert("TO-1", infos=2))

    (outcome,) = receipt.alerts
    assert (outcome.status, outcome.trusted, outcome.markets) == ("accepted", True, ["TO"])
    signals = list(Signal.objects.order_by("pk"))
    assert [s.pk for s in signals] == outcome.signal_ids and len(signals) == 2
    signal = signals[0]
    assert (signal.source, signal.subject_kind, signal.subject_ref, signal.market) == (
        "external_alert",
        "alert",
        f"{PTWC},TO-1",
        "TO",
    )
    alert = signal.attributes["alert"]
    assert alert["sender"] == PTWC and alert["event"] == "Tsunami Warning"
    assert (alert["urgency"], alert["severity"], alert["certainty"]) == (
        "Immediate",
        "Extreme",
        "Observed",
    )
    assert alert["areas"] == ["Tongatapu"] and alert["markets_from"] == "area"
    assert alert["expires"] == "2026-11-24T06:00:00+00:00"
    assert signal.text.startswith("Tsunami Warning for Tonga TO-1")
    row = ReceivedAlert.objects.get()
    assert (row.thread, row.trusted, row.signal_ids) == (f"{PTWC},TO-1", True, outcome.signal_ids)
    assert AuditEvent.objects.filter(action=AuditAction.WARNING_ALERTS_RECEIVED).count() == 1


def test_the_same_alert_twice_is_one_alert(catalog, frozen_clock):
    receive(cap_alert("TO-1"))
    again = receive(cap_alert("TO-1"))
    assert [a.status for a in again.alerts] == ["duplicate"]
    assert Signal.objects.count() == 1 and ReceivedAlert.objects.count() == 1


def test_iso_8859_1_sample_is_stored_in_unicode(catalog, frozen_clock):
    receive((DATA / "earthquake-iso8859-1.cap").read_bytes())
    assert "Usulután" in Signal.objects.get().text


def test_a_refused_document_stores_nothing(catalog, frozen_clock):
    with pytest.raises(CapRefused):
        receive((DATA / "xee.cap").read_bytes())
    assert not Signal.objects.exists() and not ReceivedAlert.objects.exists()


# ---------------------------------------------------------------- threads


def test_update_and_cancel_join_the_thread_of_the_alert_they_reference(catalog, frozen_clock):
    first = receive(cap_alert("TO-1", sent="2026-11-24T00:10:00+00:00")).alerts[0]
    update = receive(
        cap_alert(
            "TO-2",
            msg_type="Update",
            references=f"{PTWC},TO-1,2026-11-24T00:10:00+00:00",
            sent="2026-11-24T00:20:00+00:00",
        )
    ).alerts[0]
    # The cancel names only the update: it still reaches the first alert's thread.
    cancel = receive(
        cap_alert(
            "TO-3",
            msg_type="Cancel",
            references=f"{PTWC},TO-2,2026-11-24T00:20:00+00:00",
            sent="2026-11-24T00:25:00+00:00",
        )
    ).alerts[0]

    assert first.thread == update.thread == cancel.thread == f"{PTWC},TO-1"
    assert first.cluster_id == update.cluster_id == cancel.cluster_id
    assert Cluster.objects.count() == 1


def test_an_update_in_the_same_feed_as_its_alert_is_threaded(catalog, frozen_clock):
    def entry(raw: bytes, number: int) -> str:
        body = raw.decode().split("?>", 1)[1]
        return (
            f"<entry><id>e{number}</id><updated>2026-11-24T00:30:00Z</updated>"
            f'<title>t</title><content type="text/xml">{body}</content></entry>'
        )

    # Newest first, as feeds list them.
    feed = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><id>f</id><title>PTWC</title>'
        "<updated>2026-11-24T00:30:00Z</updated>"
        + entry(
            cap_alert(
                "TO-2",
                msg_type="Update",
                references=f"{PTWC},TO-1,2026-11-24T00:10:00+00:00",
                sent="2026-11-24T00:20:00+00:00",
            ),
            2,
        )
        + entry(cap_alert("TO-1"), 1)
        + "</feed>"
    ).encode()

    receipt = receive(feed)

    assert [a.identifier for a in receipt.alerts] == ["TO-2", "TO-1"]
    assert {a.thread for a in receipt.alerts} == {f"{PTWC},TO-1"}
    assert Cluster.objects.count() == 1


# ---------------------------------------------------------------- markets


@pytest.mark.parametrize(
    ("area", "markets", "how"),
    [
        (
            "<geocode><valueName>ISO 3166-1</valueName><value>JP</value></geocode>",
            ["JP"],
            "geocode",
        ),
        (
            "<geocode><valueName>ISO 3166-2</valueName><value>AU_SA</value></geocode>",
            ["AU"],
            "geocode",
        ),
        # A polygon around Upolu (Samoa).
        (
            "<polygon>-13.9,-172.1 -13.9,-171.4 -13.7,-171.4 -13.7,-172.1 -13.9,-172.1</polygon>",
            ["WS"],
            "area",
        ),
        # A circle around Fiji's Lau group, across the 180th meridian.
        ("<circle>-17.5,179.9 80</circle>", ["FJ"], "area"),
        ("", ["US"], "sender"),
    ],
)
def test_areas_map_to_markets(catalog, frozen_clock, area, markets, how):
    outcome = receive(cap_alert("A-1", area=area)).alerts[0]
    assert outcome.markets == markets
    assert Signal.objects.get().attributes["alert"]["markets_from"] == how


def test_the_usgs_sample_is_located_in_tonga_by_its_circle(catalog, frozen_clock):
    outcome = receive((DATA / "earthquake.cap").read_bytes()).alerts[0]
    assert outcome.markets == ["TO"]


# ---------------------------------------------------------------- trust, the rule, proposals


def test_a_trusted_extreme_immediate_alert_opens_an_escalation_and_proposes_a_crisis(
    catalog, frozen_clock
):
    receive(cap_alert("TO-1"))

    firing = RuleFiring.objects.get()
    assert (firing.rule_code, firing.outcome) == ("official-disaster-warning", "opened")
    escalation = firing.escalation
    assert escalation.type.code == "natural_disaster"
    assert [m.code for m in escalation.markets.all()] == ["TO"]
    assert "trusted sender" in escalation.summary
    proposal = CrisisProposal.objects.get()
    assert (proposal.kind, proposal.state, proposal.escalation) == ("declare", "open", escalation)
    assert proposal.markets == ["TO"] and proposal.languages == ["to", "en"]
    values = {(e["value"], e["language"]) for e in proposal.watchlist}
    assert {("tsunami", "en"), ("peau kula", "to")} <= values


def test_an_untrusted_senders_alert_is_stored_but_never_escalated(catalog, frozen_clock):
    receive(cap_alert("X-1", sender="someone@example.org"))

    signal = Signal.objects.get()
    assert signal.attributes["alert"]["trusted"] is False
    assert not Escalation.objects.exists() and not CrisisProposal.objects.exists()


def test_no_rule_acts_on_untrusted_alerts_even_one_without_an_alert_condition(
    catalog, frozen_clock, tmp_path, monkeypatch
):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: '1'\nrules:\n  - code: any-alert\n    name: Any official alert\n"
        "    when: {source: [external_alert]}\n    escalate: {type: natural_disaster}\n"
    )
    monkeypatch.setenv("WATCHFLOOR_SIGNAL_RULES", str(rules))
    receive(cap_alert("X-1", sender="someone@example.org"))
    assert not Escalation.objects.exists()
    receive(cap_alert("TO-1"))
    assert Escalation.objects.count() == 1


@pytest.mark.parametrize(
    ("severity", "urgency"), [("Moderate", "Immediate"), ("Extreme", "Future"), ("Minor", "Past")]
)
def test_lesser_alerts_open_nothing(catalog, frozen_clock, severity, urgency):
    receive(cap_alert("TO-1", severity=severity, urgency=urgency))
    assert not Escalation.objects.exists()


def test_a_cancel_withdraws_the_open_proposal_and_proposes_stand_down(catalog, frozen_clock):
    receive(cap_alert("TO-1"))
    receive(
        cap_alert(
            "TO-9",
            msg_type="Cancel",
            references=f"{PTWC},TO-1,2026-11-24T00:10:00+00:00",
            sent="2026-11-24T00:40:00+00:00",
        )
    )

    declare = CrisisProposal.objects.get(kind="declare")
    stand_down = CrisisProposal.objects.get(kind="stand_down")
    assert declare.state == "withdrawn"
    assert (stand_down.state, stand_down.escalation_id) == ("open", declare.escalation_id)
    assert "cancelled the alert" in stand_down.reason


def test_accepting_the_proposal_declares_the_crisis_with_its_watchlist(catalog, frozen_clock, lead):
    receive(cap_alert("TO-1"))
    proposal = CrisisProposal.objects.get()

    proposals.accept_proposal(proposal=proposal, actor=lead)

    crisis = Crisis.objects.get()
    assert crisis.declared_from_id == proposal.escalation_id
    assert [m.code for m in crisis.markets.all()] == ["TO"]
    terms = set(WatchlistEntry.objects.filter(crisis=crisis).values_list("value", "language"))
    assert ("peau kula", "to") in terms
    proposal.refresh_from_db()
    assert (proposal.state, proposal.crisis, proposal.decided_by) == ("accepted", crisis, lead)
    with pytest.raises(Exception, match="already accepted"):
        proposals.dismiss_proposal(proposal=proposal, actor=lead)


def test_a_cancel_after_the_crisis_was_declared_proposes_standing_it_down(
    catalog, frozen_clock, lead
):
    receive(cap_alert("TO-1"))
    proposals.accept_proposal(proposal=CrisisProposal.objects.get(), actor=lead)
    receive(
        cap_alert(
            "TO-9",
            msg_type="Cancel",
            references=f"{PTWC},TO-1,2026-11-24T00:10:00+00:00",
            sent="2026-11-24T00:40:00+00:00",
        )
    )
    stand_down = CrisisProposal.objects.get(kind="stand_down")
    crisis = Crisis.objects.get()
    assert stand_down.crisis == crisis

    proposals.accept_proposal(proposal=stand_down, actor=lead)

    crisis.refresh_from_db()
    assert crisis.level == "stand_down"
    assert AuditEvent.objects.filter(action=AuditAction.WARNING_PROPOSAL_ACCEPTED).count() == 2


def test_a_viewer_may_not_decide_and_a_hidden_proposal_is_not_found(
    catalog, frozen_clock, viewer, lead
):
    receive(cap_alert("TO-1"))
    proposal = CrisisProposal.objects.get()
    with pytest.raises(PermissionDenied):
        proposals.accept_proposal(proposal=proposal, actor=viewer)
    client = Client()
    client.force_login(lead)
    assert (
        client.post("/warning/proposals/999999/decide", {"decision": "accept"}).status_code == 404
    )
    response = client.post(f"/warning/proposals/{proposal.pk}/decide", {"decision": "dismiss"})
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert (proposal.state, proposal.decided_by) == ("dismissed", lead)


def test_the_escalation_page_shows_the_proposal(catalog, frozen_clock, lead):
    receive(cap_alert("TO-1"))
    escalation = Escalation.objects.get()
    client = Client()
    client.force_login(lead)
    page = client.get(f"/escalations/{escalation.pk}/").content.decode()
    assert 'data-testid="crisis-proposal"' in page and "Declare this crisis" in page


def test_the_crises_page_lists_open_proposals_the_viewer_may_see(
    catalog, frozen_clock, lead, analyst
):
    from watchfloor.escalations.services import set_access

    receive(cap_alert("TO-1"))
    escalation = Escalation.objects.get()
    client = Client()
    client.force_login(analyst)
    page = client.get("/crises/").content.decode()
    assert 'data-testid="proposed-crisis"' in page and "Tsunami Warning (TO)" in page

    set_access(
        escalation=escalation,
        actor=lead,
        is_restricted=True,
        access_usernames=[lead.username],
        shared_with_team_codes=[],
        expected_version=escalation.access_version,
    )
    assert "Tsunami Warning (TO)" not in client.get("/crises/").content.decode()


def test_the_panel_costs_two_queries_with_proposals(
    catalog, frozen_clock, lead, django_assert_num_queries
):
    from watchfloor.warning.selectors import escalation_warning_panel

    receive(cap_alert("TO-1"))
    receive(
        cap_alert(
            "TO-9",
            msg_type="Cancel",
            references=f"{PTWC},TO-1,2026-11-24T00:10:00+00:00",
            sent="2026-11-24T00:40:00+00:00",
        )
    )
    escalation = Escalation.objects.get()
    with django_assert_num_queries(2):
        panel = escalation_warning_panel(escalation=escalation, viewer=lead, now=frozen_clock)
    assert [p.kind for p in panel.proposals] == ["stand_down", "declare"]
    assert [a.msg_type for a in panel.alerts] == ["Alert", "Cancel"]


# ---------------------------------------------------------------- API


@pytest.fixture
def post_as():
    from watchfloor.people.api_tokens import create_api_token

    def make(user, scopes=("ingest",)):
        _, secret = create_api_token(user=user, name="cap", scopes=list(scopes), actor=None)
        client = Client()

        def post(raw: bytes, content_type: str = "application/cap+xml"):
            return client.post(
                "/api/v1/alerts:cap",
                data=raw,
                content_type=content_type,
                headers={"Authorization": f"Bearer {secret}"},
            )

        return post

    return make


def test_the_api_takes_an_alert(catalog, frozen_clock, analyst, post_as):
    response = post_as(analyst)(cap_alert("TO-1"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["document"], body["accepted"], body["refused"]) == ("alert", 1, 0)
    assert body["alerts"][0]["markets"] == ["TO"] and body["alerts"][0]["trusted"] is True


def test_the_api_needs_the_ingest_scope_and_a_token(catalog, analyst, post_as):
    assert post_as(analyst, scopes=("read",))(cap_alert("TO-1")).status_code == 403
    anonymous = Client().post(
        "/api/v1/alerts:cap", data=cap_alert("TO-1"), content_type="application/cap+xml"
    )
    assert anonymous.status_code == 401
    assert set(anonymous.json()) == {"code", "message", "field"}


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("xee.cap", 400, "xml_entities_refused"),
        ("invalid.cap", 400, "invalid_cap"),
        ("invalid_element.atom", 400, "invalid_feed"),
    ],
)
def test_the_api_refuses_with_the_error_shape(catalog, analyst, post_as, name, status, code):
    response = post_as(analyst)((DATA / name).read_bytes())
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"code", "message", "field"} and body["code"] == code
    assert body["message"].startswith("line ")


def test_the_api_bounds_the_body(catalog, analyst, post_as, settings):
    settings.WATCHFLOOR_CAP_MAX_BYTES = 1000
    response = post_as(analyst)(cap_alert("TO-1") + b" " * 2000)
    assert response.status_code == 413
    assert response.json()["code"] == "document_too_large"


def test_the_api_reports_a_feeds_refused_alert(catalog, frozen_clock, analyst, post_as):
    response = post_as(analyst)(
        (DATA / "weather_invalid.atom").read_bytes(), "application/atom+xml"
    )
    body = response.json()
    assert (response.status_code, body["accepted"], body["refused"]) == (200, 0, 1)
    assert body["refused_alerts"][0]["line"] == 28


# ---------------------------------------------------------------- CLI


def test_ingest_recognises_cap_by_content_beside_json_lines(
    catalog, frozen_clock, tmp_path, capsys
):
    alert = tmp_path / "warning.xml"
    alert.write_bytes(cap_alert("TO-1"))
    lines = tmp_path / "reports.jsonl"
    lines.write_text(
        '{"id": "r1", "received_at": "2026-11-24T00:20:00Z", "source": "user_report",'
        ' "subject": {"kind": "post", "ref": "p1"}, "text": "the sea went out"}\n'
    )

    call_command("ingest", str(alert), str(lines), "--single-process")

    out = capsys.readouterr().out
    assert "warning.xml (CAP): alert: 1 alert accepted" in out
    assert Signal.objects.filter(source="external_alert").count() == 1
    assert Signal.objects.filter(source="user_report").count() == 1


def test_ingest_refuses_the_xxe_sample_naming_the_problem_and_reads_the_rest(
    catalog, frozen_clock, capsys
):
    with pytest.raises(CommandError, match="1 document was refused"):
        call_command("ingest", str(DATA / "xee.cap"), str(DATA / "wcatwc-warning.cap"))
    err = capsys.readouterr().err
    assert "xee.cap:3: [xml_entities_refused]" in err and "XXE" in err
    assert Signal.objects.get().attributes["alert"]["identifier"] == "PAAQ-2-lqw6d6"
