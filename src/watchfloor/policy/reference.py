"""The policy app's section of the catalog: policy areas, policies with their versions,
and enforcement actions (registered with ``catalog.reference`` in ``apps.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchfloor.catalog.reference import Tally, Upserter
from watchfloor.policy.models import EnforcementAction, Policy, PolicyArea, PolicyVersion

if TYPE_CHECKING:
    from watchfloor.catalog.schema import Catalog


def apply_policies(catalog: Catalog) -> dict[str, Tally]:
    areas = Upserter.by_code(PolicyArea)
    policies = Upserter.by_code(Policy)
    policy_versions = Upserter(
        PolicyVersion, {(row.policy_id, row.version): row for row in PolicyVersion.objects.all()}
    )
    for area_spec in catalog.policies.areas:
        area = areas.upsert(area_spec.code, {"code": area_spec.code, "name": area_spec.name})
        for policy_spec in area_spec.policies:
            policy = policies.upsert(
                policy_spec.code,
                {
                    "code": policy_spec.code,
                    "area_id": area.pk,
                    "name": policy_spec.name,
                    "description": policy_spec.description,
                },
            )
            for version_spec in policy_spec.versions:
                policy_versions.upsert(
                    (policy.pk, version_spec.version),
                    {
                        "policy_id": policy.pk,
                        "version": version_spec.version,
                        "effective_from": version_spec.effective_from,
                        "summary": version_spec.summary,
                    },
                )

    actions = Upserter.by_code(EnforcementAction)
    for action in catalog.enforcement_actions.actions:
        actions.upsert(
            action.code,
            {
                "code": action.code,
                "label": action.label,
                "description": action.description,
                "needs_countries": action.needs_countries,
                "position": action.position,
            },
        )
    return {
        "policy_areas": areas.done(),
        "policies": policies.done(),
        "policy_versions": policy_versions.done(),
        "enforcement_actions": actions.done(),
    }
