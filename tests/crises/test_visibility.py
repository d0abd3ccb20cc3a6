"""Need to know, as a matrix: every role against every kind of crisis, through every page
that reads a crisis. Whoever may not see a crisis gets the same answer as for one that
does not exist; inside a crisis they may see, escalations hidden from them stay hidden."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.crises.conftest import signed_in
from watchfloor.crises import selectors, services

pytestmark = pytest.mark.usefixtures("frozen_clock")

KINDS = ("ordinary", "restricted_with_access", "restricted_without_access", "shared_with_legal")
EXPECTED = {
    "analyst": {"ordinary", "restricted_with_access", "shared_with_legal"},
    "lead": {"ordinary", "shared_with_legal"},
    "viewer": {"ordinary", "shared_with_legal"},
    "admin": set(KINDS),
    "legal_partner": {"shared_with_legal"},
    "comms_partner": set(),
}
PAGES = ("crisis-detail", "crisis-live", "crisis-handoff", "crisis-review", "crisis-review-md")


def _normal(response) -> str:
    """The page without the crisis number and the per-render CSRF token."""
    text = re.sub(r"CR-\d+", "CR-N", response.content.decode())
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)


@pytest.fixture
def world(
    analyst, other_analyst, lead, viewer, admin_user, legal_partner, comms_partner, make_escalation
):
    from watchfloor.crises.services import declare_crisis

    def make(title, *, escalation_extra=None, **extra):
        escalation = make_escalation(
            actor=other_analyst, title=f"{title} case", **(escalation_extra or {})
        )
        return declare_crisis(actor=other_analyst, title=title, declared_from=escalation, **extra)

    crises = {
        "ordinary": make("Ordinary crisis"),
        "restricted_with_access": make(
            "Restricted doxxing crisis", is_restricted=True, access_usernames=["aiko.analyst"]
        ),
        "restricted_without_access": make("Restricted NCII crisis", is_restricted=True),
        "shared_with_legal": make(
            "Court order crisis", escalation_extra={"shared_with_team_codes": ["legal"]}
        ),
    }
    users = {
        "analyst": analyst,
        "lead": lead,
        "viewer": viewer,
        "admin": admin_user,
        "legal_partner": legal_partner,
        "comms_partner": comms_partner,
    }
    return users, crises


@pytest.mark.parametrize("role", EXPECTED)
def test_need_to_know_everywhere(world, role):
    users, crises = world
    user = users[role]
    client = signed_in(user)
    expected = EXPECTED[role]

    assert {
        k for k, c in crises.items() if selectors.crises_visible_to(user).filter(pk=c.pk).exists()
    } == expected
    listing = client.get(reverse("crises")).content.decode()
    for kind, crisis in crises.items():
        assert (crisis.title in listing) == (kind in expected), (role, kind)

    missing = {page: client.get(reverse(page, args=[99999])) for page in PAGES}
    for kind, crisis in crises.items():
        for page in PAGES:
            response = client.get(reverse(page, args=[crisis.pk]))
            if kind in expected:
                assert response.status_code == 200, (role, kind, page)
            else:
                assert response.status_code == 404, (role, kind, page)
                # The same page as for a crisis that does not exist, but for the number.
                assert _normal(response) == _normal(missing[page])
        if kind not in expected:
            for name, data in (
                ("crisis-note", {"note-body": "x"}),
                ("crisis-level", {"level-to_level": "monitoring", "level-reason": "x"}),
                ("crisis-sitrep", {"send": "1", "subject": "x", "body": "x"}),
            ):
                assert client.post(reverse(name, args=[crisis.pk]), data).status_code == 404
            escalation = crisis.declared_from
            panel = selectors.crises_for_escalation(escalation=escalation, user=user)
            assert crisis not in panel


def test_escalations_hidden_from_the_reader_stay_hidden_inside_a_crisis(
    crisis, make_escalation, analyst, lead
):
    hidden = make_escalation(title="Victim named in leaked police memo", is_restricted=True)
    services.link_escalation(crisis=crisis, escalation=hidden, actor=analyst, reason="same attack")
    services.add_crisis_note(crisis=crisis, body="Linked the memo case.", actor=analyst)
    for page in ("crisis-detail", "crisis-live", "crisis-review", "crisis-review-md"):
        seen_by_lead = signed_in(lead).get(reverse(page, args=[crisis.pk])).content.decode()
        assert "police memo" not in seen_by_lead and hidden.reference not in seen_by_lead, page
        seen_by_analyst = signed_in(analyst).get(reverse(page, args=[crisis.pk])).content.decode()
        assert hidden.reference in seen_by_analyst, page
    sitrep = signed_in(lead).get(reverse("crisis-sitrep", args=[crisis.pk])).content.decode()
    assert "police memo" not in sitrep and hidden.reference not in sitrep


def test_a_partner_reads_partner_sitreps_but_not_leaderships(
    declare, make_escalation, analyst, legal_partner
):
    shared = make_escalation(title="Court order", shared_with_team_codes=["legal"])
    crisis = declare(declared_from=shared)
    leadership = services.send_sitrep(
        crisis=crisis,
        audience="leadership",
        language="en",
        subject="Leadership only",
        body="Internal assessment: the order may be overbroad.",
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
    client = signed_in(legal_partner)
    page = client.get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    assert "overbroad" not in page and "please confirm the order" in page
    assert (
        client.get(reverse("crisis-sitrep-detail", args=[crisis.pk, leadership.pk])).status_code
        == 404
    )
    assert (
        client.get(reverse("crisis-sitrep-detail", args=[crisis.pk, partners.pk])).status_code
        == 200
    )
    # Partners read and add notes, but do not write sitreps or change the crisis.
    assert client.get(reverse("crisis-sitrep", args=[crisis.pk])).status_code == 403
    response = client.post(
        reverse("crisis-note", args=[crisis.pk]), {"note-body": "Scope confirmed."}
    )
    assert response.status_code == 302
    assert (
        client.post(
            reverse("crisis-level", args=[crisis.pk]),
            {"level-to_level": "monitoring", "level-reason": "x"},
        ).status_code
        == 403
    )


def test_viewing_a_restricted_crisis_is_recorded(declare, analyst):
    from watchfloor.audit.events import AuditAction
    from watchfloor.audit.models import AuditEvent

    crisis = declare(is_restricted=True)
    signed_in(analyst).get(reverse("crisis-detail", args=[crisis.pk]))
    signed_in(analyst).get(reverse("crisis-live", args=[crisis.pk]))  # polling is not a view
    views = AuditEvent.objects.filter(action=AuditAction.CRISIS_VIEWED, data__crisis_id=crisis.pk)
    assert views.count() == 1 and views.get().data["channel"] == "web"
