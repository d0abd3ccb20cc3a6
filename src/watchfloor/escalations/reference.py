"""The escalations app's section of the catalog: escalation types (registered with
``catalog.reference`` in ``apps.py``; policies are written before, by the policy app)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchfloor.catalog.reference import Tally, Upserter
from watchfloor.escalations.models import EscalationType
from watchfloor.policy.models import Policy

if TYPE_CHECKING:
    from watchfloor.catalog.schema import Catalog


def apply_escalation_types(catalog: Catalog) -> dict[str, Tally]:
    policy_ids = dict(Policy.objects.values_list("code", "pk"))
    escalation_types = Upserter.by_code(EscalationType)
    for position, escalation_type in enumerate(catalog.escalation_types.escalation_types):
        default_policy = escalation_type.default_policy
        escalation_types.upsert(
            escalation_type.code,
            {
                "code": escalation_type.code,
                "name": escalation_type.name,
                "description": escalation_type.description,
                "default_policy_id": policy_ids[default_policy] if default_policy else None,
                "position": position,
            },
        )
    return {"escalation_types": escalation_types.done()}
