"""The demo's crisis: built through the real services, so every part of the war room has
something real to show."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from watchfloor.audit.selectors import verify_chain
from watchfloor.crises.models import (
    Crisis,
    CrisisCluster,
    Level,
    RoleKind,
    Sitrep,
    WatchlistEntry,
    WatchlistHit,
)
from watchfloor.signals.models import ReactionBacklog

pytestmark = [pytest.mark.django_db, pytest.mark.slow]  # builds the demo day


def test_the_demo_runs_a_crisis_with_every_part_of_the_war_room_filled(catalog):
    out = io.StringIO()
    call_command("demo", "--no-serve", stdout=out)
    crisis = Crisis.objects.get()
    assert crisis.level == Level.CRISIS_PROTOCOL and not crisis.is_drill
    assert crisis.declared_from.subjects.filter(reference="@demo_city_official").exists()
    holders = {
        a.role: a.holder.username for a in crisis.role_assignments.filter(ended_at__isnull=True)
    }
    assert holders == {
        RoleKind.INCIDENT_COMMANDER: "lead",
        RoleKind.SCRIBE: "analyst2",
        RoleKind.POLICY_LEAD: "analyst",
        RoleKind.COMMUNICATIONS_LIAISON: "comms",
    }
    assert WatchlistEntry.objects.filter(crisis=crisis).count() == 4
    # The reports went through the intake and the worker's reactions: flagged and linked.
    assert WatchlistHit.objects.filter(crisis=crisis).exists()
    assert CrisisCluster.objects.filter(crisis=crisis).count() == 1
    assert not ReactionBacklog.objects.exists()
    assert crisis.notes.filter(is_pinned=True).count() == 1
    assert Sitrep.objects.filter(crisis=crisis, audience="leadership").count() == 1
    assert "A crisis is running" in out.getvalue()
    assert verify_chain().ok
    # Evidence: the team's exposure beside who is on graphic-content duty, and a package
    # built for the law-enforcement referral on the hijacked account.
    from watchfloor.core import clock
    from watchfloor.evidence.models import EvidencePackage
    from watchfloor.evidence.selectors import crisis_exposure
    from watchfloor.people.models import User

    exposure = crisis_exposure(
        crisis=crisis, viewer=User.objects.get(username="analyst"), now=clock.now()
    )
    assert exposure.exposure.items > 0 and exposure.on_duty
    package = EvidencePackage.objects.get()
    assert package.partner_request.kind == "law_enforcement_referral"
    assert package.escalation_id == crisis.declared_from_id and package.items.count() == 2

    # Running the demo again reuses what is there.
    call_command("demo", "--no-serve", stdout=io.StringIO())
    assert Crisis.objects.count() == 1
