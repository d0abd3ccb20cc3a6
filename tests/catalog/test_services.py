"""Loading a catalog into the database, and reading the one in force."""

from __future__ import annotations

from datetime import timedelta

import pytest

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.selectors import verify_chain
from watchfloor.catalog.loader import CatalogError
from watchfloor.catalog.models import CatalogVersion
from watchfloor.catalog.selectors import active_catalog_version, catalog_for, rubric_for
from watchfloor.catalog.services import load_catalog
from watchfloor.core.errors import NotFound
from watchfloor.escalations.models import EscalationType
from watchfloor.markets.models import Market, StatutoryRule
from watchfloor.people.models import Team
from watchfloor.policy.models import EnforcementAction, Policy, PolicyArea, PolicyVersion

pytestmark = pytest.mark.django_db


def catalog_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=AuditAction.CATALOG_LOADED))


def test_loading_the_default_catalog_creates_every_row_and_one_audited_version(frozen_clock):
    version = load_catalog()

    assert version.is_active
    assert version.loaded_at == frozen_clock
    assert version.label == "Watchfloor default catalog 2026.11"
    assert len(version.digest) == 64
    assert PolicyArea.objects.count() == 2
    assert Policy.objects.count() == 14
    assert PolicyVersion.objects.count() == 16
    assert EnforcementAction.objects.count() == 7
    assert Team.objects.count() == 6
    assert Market.objects.count() == 25
    assert StatutoryRule.objects.count() == 29
    assert EscalationType.objects.count() == 18

    [event] = catalog_events()
    assert event.object_id == str(version.pk)
    assert event.actor is None
    assert event.data["new_version"] is True
    assert event.data["counts"]["statutory_rules"] == 29
    assert event.data["changes"]["policies"] == {
        "created": 14,
        "updated": 0,
        "unchanged": 0,
        "not_in_catalog": 0,
    }
    assert verify_chain().ok


def test_rows_carry_the_catalog_values():
    load_catalog()

    attack = EscalationType.objects.select_related("default_policy").get(
        code="violent_attack_content"
    )
    assert attack.default_policy.code == "violent_extremism"
    assert attack.position == 0
    assert EscalationType.objects.get(code="media_inquiry").default_policy is None

    avm = StatutoryRule.objects.select_related("market").get(code="au-avm")
    assert avm.market.code == "AU"
    assert avm.deadline is None
    assert avm.internal_target == timedelta(hours=1)
    india = StatutoryRule.objects.get(code="in-itrules-3-1-d")
    assert (india.deadline, india.previous_deadline) == (timedelta(hours=3), timedelta(hours=36))
    assert india.needs_verification
    assert india.sources

    assert Market.objects.get(code="ID").time_zones[0] == "Asia/Jakarta"
    assert EnforcementAction.objects.get(code="withhold_in_countries").needs_countries
    assert Team.objects.get(code="legal").kind == Team.Kind.PARTNER
    assert [v.version for v in Policy.objects.get(code="violent_extremism").versions.all()] == [
        "1.1",
        "1.0",
    ]


def test_loading_the_same_files_twice_creates_no_second_version():
    first = load_catalog()
    second = load_catalog()

    assert second.pk == first.pk
    assert CatalogVersion.objects.count() == 1
    assert Policy.objects.count() == 14
    events = catalog_events()
    assert [e.data["new_version"] for e in events] == [True, False]
    assert all(
        tally["created"] == 0 and tally["updated"] == 0
        for tally in events[1].data["changes"].values()
    )


def test_a_changed_catalog_becomes_a_new_active_version_and_keeps_dropped_rows(catalog_dir, edit):
    original = load_catalog()
    edit("teams.yaml", "name: Legal\n", "name: Legal & Compliance\n")
    edit(
        "escalation_types.yaml",
        "  - code: policy_gap\n    name: Policy gap\n"
        "    description: Harmful content or behaviour that no current policy clearly covers.\n",
        "",
    )

    changed = load_catalog(directory=catalog_dir)

    assert changed.pk != original.pk
    assert changed.is_active
    original.refresh_from_db()
    assert not original.is_active
    assert Team.objects.get(code="legal").name == "Legal & Compliance"
    # Escalations may still point at a type the files no longer list.
    assert EscalationType.objects.filter(code="policy_gap").exists()
    event = catalog_events()[-1]
    assert event.data["previously_active"] == [original.pk]
    assert event.data["changes"]["teams"]["updated"] == 1
    assert event.data["changes"]["escalation_types"]["not_in_catalog"] == 1

    # Loading the original files again brings their version back rather than copying it.
    load_catalog()
    assert active_catalog_version().pk == original.pk
    assert CatalogVersion.objects.count() == 2


def test_an_invalid_catalog_writes_nothing(catalog_dir, edit):
    edit("markets.yaml", "time_zones: [Asia/Tokyo]", "time_zones: [Asia/Tokio]")
    with pytest.raises(CatalogError):
        load_catalog(directory=catalog_dir)
    assert not CatalogVersion.objects.exists()
    assert not Market.objects.exists()
    assert not catalog_events()


def test_the_acting_user_is_recorded(django_user_model):
    admin = django_user_model.objects.create(username="ada", role="admin")
    version = load_catalog(actor=admin)
    assert version.loaded_by == admin
    assert catalog_events()[0].actor_label == "ada"


class TestSelectors:
    def test_without_a_catalog_the_error_says_how_to_load_one(self):
        with pytest.raises(NotFound) as caught:
            active_catalog_version()
        assert "watchfloor config load" in caught.value.message

    def test_catalog_and_rubric_of_a_version(self):
        version = load_catalog()
        catalog = catalog_for(version)
        assert catalog.label == "Watchfloor default catalog"
        assert catalog.model_dump(mode="json") == version.content
        rubric = rubric_for(version)
        assert rubric == catalog.rubric
        assert [s.name for s in rubric.severities] == ["SEV0", "SEV1", "SEV2", "SEV3", "SEV4"]

    def test_parsed_once_per_version(self):
        version = load_catalog()
        again = CatalogVersion.objects.get(pk=version.pk)
        assert catalog_for(again) is catalog_for(version)
        assert rubric_for(again) is rubric_for(version)
