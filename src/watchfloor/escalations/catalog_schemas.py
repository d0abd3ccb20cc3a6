"""The catalog in force as the API shows it (GET /catalog): escalation types, the rubric's
factors, severities and their SLA targets, floors, policies and their versions,
enforcement actions, teams, markets and statutory rules."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from ninja import Schema
from pydantic import Field

from watchfloor.web.api import UtcTime

if TYPE_CHECKING:
    from watchfloor.catalog.models import CatalogVersion
    from watchfloor.catalog.schema import Catalog


class EscalationTypeOut(Schema):
    code: str
    name: str
    description: str
    default_policy: str | None


class FactorOptionOut(Schema):
    value: str
    label: str
    points: int


class FactorOut(Schema):
    code: str
    label: str
    question: str
    weight: int
    options: list[FactorOptionOut] = Field(description="mildest first")


class SlaTargetsOut(Schema):
    acknowledge: str = Field(description='an ISO 8601 duration, or "N business days"')
    first_action: str
    resolve: str


class SeverityOut(Schema):
    level: int
    name: str
    label: str
    min_score: int
    description: str
    sla: SlaTargetsOut


class FloorRuleOut(Schema):
    code: str
    reason: str
    min_severity: int
    escalation_types: list[str]
    factors_at_least: dict[str, str]
    statutory_trigger: bool = Field(description="fires whenever a statutory rule is set")


class PolicyVersionOut(Schema):
    version: str
    effective_from: date
    summary: str


class PolicyOut(Schema):
    code: str
    name: str
    area: str
    area_name: str
    description: str
    versions: list[PolicyVersionOut]


class EnforcementActionOut(Schema):
    code: str
    label: str
    description: str
    needs_countries: bool


class TeamOut(Schema):
    code: str
    name: str
    kind: str


class MarketOut(Schema):
    code: str
    name: str
    time_zones: list[str]
    languages: list[str]
    regulators: list[str]


class StatutoryRuleOut(Schema):
    code: str
    jurisdiction: str
    instrument: str
    trigger: str
    action: str
    deadline_kind: str = Field(description="fixed, set_by_notice or qualitative")
    deadline: str | None = Field(description="ISO 8601 duration, when the law fixes one")
    internal_target: str | None
    previous_deadline: str | None
    effective_from: date | None
    needs_verification: bool
    min_severity: int | None = Field(description="the rule's own severity floor, if any")
    note: str
    sources: list[str]


class CatalogOut(Schema):
    """The taxonomy, rubric, policies and markets in force: what the codes in requests mean."""

    label: str
    version: str
    digest: str
    loaded_at: UtcTime
    escalation_types: list[EscalationTypeOut]
    factors: list[FactorOut]
    severities: list[SeverityOut]
    floors: list[FloorRuleOut]
    policies: list[PolicyOut]
    enforcement_actions: list[EnforcementActionOut]
    teams: list[TeamOut]
    markets: list[MarketOut]
    statutory_rules: list[StatutoryRuleOut]

    @classmethod
    def build(cls, version: CatalogVersion, catalog: Catalog) -> CatalogOut:
        rubric = catalog.rubric
        return cls(
            label=catalog.label,
            version=catalog.version,
            digest=version.digest,
            loaded_at=version.loaded_at,
            escalation_types=[
                EscalationTypeOut(**t.model_dump())
                for t in catalog.escalation_types.escalation_types
            ],
            factors=[FactorOut(**f.model_dump()) for f in rubric.factors],
            severities=[SeverityOut(**s.model_dump()) for s in rubric.severities],
            floors=[
                FloorRuleOut(
                    code=floor.code,
                    reason=floor.reason,
                    min_severity=floor.min_severity,
                    escalation_types=floor.when.escalation_types,
                    factors_at_least=floor.when.factors_at_least,
                    statutory_trigger=floor.when.statutory_trigger,
                )
                for floor in rubric.floors
            ],
            policies=[
                PolicyOut(
                    code=policy.code,
                    name=policy.name,
                    area=area.code,
                    area_name=area.name,
                    description=policy.description,
                    versions=[PolicyVersionOut(**v.model_dump()) for v in policy.versions],
                )
                for area, policy in catalog.iter_policies()
            ],
            enforcement_actions=[
                EnforcementActionOut(
                    code=a.code,
                    label=a.label,
                    description=a.description,
                    needs_countries=a.needs_countries,
                )
                for a in catalog.enforcement_actions.actions
            ],
            teams=[TeamOut(code=t.code, name=t.name, kind=t.kind) for t in catalog.teams.teams],
            markets=[MarketOut(**m.model_dump()) for m in catalog.markets.markets],
            statutory_rules=[
                StatutoryRuleOut(
                    code=rule.id,
                    jurisdiction=rule.jurisdiction,
                    instrument=rule.instrument,
                    trigger=rule.trigger,
                    action=rule.action,
                    deadline_kind=rule.deadline_kind,
                    deadline=rule.deadline,
                    internal_target=rule.internal_target,
                    previous_deadline=rule.previously,
                    effective_from=rule.effective_from,
                    needs_verification=rule.verify,
                    min_severity=rule.min_severity,
                    note=rule.note,
                    sources=rule.sources,
                )
                for rule in catalog.statutory_rules.rules
            ],
        )
