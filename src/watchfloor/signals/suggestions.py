"""What a cluster suggests before anyone has assessed it: the escalation type, the
reach answer and the severity hint.

The cluster page pre-fills its escalation form with them, and the reactions keep each
cluster's severity hint (``Cluster.severity_hint``) up to date from them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchfloor.signals.models import Cluster
from watchfloor.signals.selectors import tally_rows

if TYPE_CHECKING:
    from watchfloor.severity.rubric import Rubric

# The escalation type a cluster suggests when its policy hints name none.
TYPE_FOR_SOURCE = {
    "regulator": "regulator_notice",
    "law_enforcement": "law_enforcement_emergency_request",
    "government": "government_legal_demand",
    "media": "media_inquiry",
    "partner_referral": "vip_partner_escalation",
}


def types_by_policy() -> dict[str, str]:
    """Policy code → the first escalation type that rests on it by default (one query)."""
    from watchfloor.escalations.models import EscalationType

    found: dict[str, str] = {}
    for policy, code in EscalationType.objects.filter(default_policy__isnull=False).values_list(
        "default_policy__code", "code"
    ):
        found.setdefault(policy, code)
    return found


def suggested_type(cluster: Cluster, *, by_policy: dict[str, str]) -> str:
    """The type whose default policy is the cluster's most frequent policy hint, else the
    type its most frequent trusted source calls for, else none."""
    for policy, _ in tally_rows(cluster.policy_hints):
        if policy in by_policy:
            return by_policy[policy]
    for source, _ in tally_rows(cluster.sources):
        if source in TYPE_FOR_SOURCE:
            return TYPE_FOR_SOURCE[source]
    return ""


def suggested_reach(cluster: Cluster) -> str:
    """The rubric's reach answer that the cluster's own figures suggest."""
    impressions = cluster.reach_impressions
    if impressions >= 1_000_000:
        return "mass"
    if impressions >= 100_000 or cluster.velocity_1h >= 500:
        return "viral"
    if impressions >= 1_000 or cluster.signal_count >= 100:
        return "significant"
    if impressions >= 100 or cluster.signal_count >= 10:
        return "limited"
    return "minimal"


def severity_hint(
    cluster: Cluster, *, rubric: Rubric, by_policy: dict[str, str], escalation_severity: int | None
) -> int | None:
    """How severe the cluster looks before anyone has assessed it: what the rubric gives
    the escalation the cluster suggests (its type, with the reach its figures suggest),
    or the severity of the escalation it is attached to if that is higher. None when
    it suggests no type and has no escalation."""
    from watchfloor.severity.rubric import evaluate

    hints = [escalation_severity] if escalation_severity is not None else []
    type_code = suggested_type(cluster, by_policy=by_policy)
    if type_code:
        reach = suggested_reach(cluster)
        factor = next((f for f in rubric.factors if f.code == "reach"), None)
        known = factor is not None and any(o.value == reach for o in factor.options)
        # A catalog without this reach answer still gets the type's floors.
        answers = {"reach": reach} if known else {}
        hints.append(evaluate(rubric, answers=answers, escalation_type=type_code).severity)
    return min(hints) if hints else None
