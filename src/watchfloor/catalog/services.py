"""Applying a catalog to the database: the one way configuration becomes rows.

The catalog owns the reference data of several apps (policies, markets, teams,
escalation types), so this is the single writer of those rows; everything else reads
them. Rows are matched by code and never deleted: escalations and decisions keep
pointing at them, and a type or policy dropped from the files still describes past work.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.catalog.loader import LoadedCatalog, read_catalog
from watchfloor.catalog.models import CatalogVersion
from watchfloor.catalog.schema import Catalog
from watchfloor.core import clock
from watchfloor.escalations.models import EscalationType
from watchfloor.markets.models import Market, StatutoryRule
from watchfloor.people.models import Team
from watchfloor.policy.models import EnforcementAction, Policy, PolicyArea, PolicyVersion
from watchfloor.severity.rubric import parse_iso_duration

if TYPE_CHECKING:
    from datetime import timedelta

    from watchfloor.people.models import User


def load_catalog(*, directory: Path | None = None, actor: User | None = None) -> CatalogVersion:
    """Validate the catalog in ``directory`` and make it the active one.

    ``directory`` defaults to ``settings.WATCHFLOOR_CATALOG_DIR``. Raises
    ``CatalogError`` (nothing is written) when the files have problems. Loading files
    already loaded creates no new version and changes no rows; it reactivates that
    version and is still audited, as someone chose to load it.
    """
    source = Path(directory) if directory is not None else Path(settings.WATCHFLOOR_CATALOG_DIR)
    # Read and validate before the transaction opens: no lock is held during file I/O.
    loaded = read_catalog(source)
    with transaction.atomic():
        changes = _apply_reference_data(loaded.catalog)
        version, is_new = _version_for(loaded, actor=actor)
        previously_active = list(
            CatalogVersion.objects.filter(is_active=True)
            .exclude(pk=version.pk)
            .values_list("pk", flat=True)
        )
        CatalogVersion.objects.filter(pk__in=previously_active).update(is_active=False)
        if not version.is_active:
            version.is_active = True
            version.save(update_fields=["is_active"])
        record_event(
            action=AuditAction.CATALOG_LOADED,
            actor=actor,
            target=version,
            data={
                "label": version.label,
                "digest": loaded.digest,
                "source": str(loaded.directory),
                "new_version": is_new,
                "previously_active": previously_active,
                "counts": loaded.catalog.counts(),
                "changes": {kind: asdict(tally) for kind, tally in changes.items()},
            },
        )
    return version


def _version_for(loaded: LoadedCatalog, *, actor: User | None) -> tuple[CatalogVersion, bool]:
    existing = CatalogVersion.objects.filter(digest=loaded.digest).first()
    if existing is not None:
        return existing, False
    catalog = loaded.catalog
    version = CatalogVersion.objects.create(
        digest=loaded.digest,
        label=f"{catalog.label} {catalog.version}",
        source=str(loaded.directory)[:500],
        loaded_at=clock.now(),
        loaded_by=actor,
        content=catalog.model_dump(mode="json"),
        is_active=False,
    )
    return version, True


@dataclass
class _Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Rows in the database that the catalog no longer lists; kept, never deleted.
    not_in_catalog: int = 0


class _Upserter:
    """Creates or updates the rows of one model by key, writing only what changed."""

    def __init__(self, model: type[models.Model], rows: dict[Any, models.Model]):
        self.model = model
        self.rows = rows
        self.seen: set[Any] = set()
        self.tally = _Tally()

    @classmethod
    def by_code(cls, model: type[models.Model]) -> _Upserter:
        return cls(model, {row.code: row for row in model.objects.all()})

    def upsert(self, key: Any, values: dict[str, Any]) -> models.Model:
        self.seen.add(key)
        row = self.rows.get(key)
        if row is None:
            row = self.model.objects.create(**values)
            self.rows[key] = row
            self.tally.created += 1
            return row
        changed = [name for name, value in values.items() if getattr(row, name) != value]
        if changed:
            for name in changed:
                setattr(row, name, values[name])
            row.save(update_fields=changed)
            self.tally.updated += 1
        else:
            self.tally.unchanged += 1
        return row

    def done(self) -> _Tally:
        self.tally.not_in_catalog = len(set(self.rows) - self.seen)
        return self.tally


def _duration(text: str | None) -> timedelta | None:
    return parse_iso_duration(text) if text is not None else None


def _apply_reference_data(catalog: Catalog) -> dict[str, _Tally]:
    areas = _Upserter.by_code(PolicyArea)
    policies = _Upserter.by_code(Policy)
    policy_versions = _Upserter(
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

    actions = _Upserter.by_code(EnforcementAction)
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

    teams = _Upserter.by_code(Team)
    for team in catalog.teams.teams:
        teams.upsert(
            team.code,
            {
                "code": team.code,
                "name": team.name,
                "kind": team.kind,
                "description": team.description,
            },
        )

    markets = _Upserter.by_code(Market)
    for market in catalog.markets.markets:
        markets.upsert(
            market.code,
            {
                "code": market.code,
                "name": market.name,
                "time_zones": list(market.time_zones),
                "languages": list(market.languages),
                "regulators": list(market.regulators),
            },
        )

    rules = _Upserter.by_code(StatutoryRule)
    for rule in catalog.statutory_rules.rules:
        rules.upsert(
            rule.id,
            {
                "code": rule.id,
                "jurisdiction": rule.jurisdiction,
                "market_id": markets.rows[rule.jurisdiction].pk,
                "instrument": rule.instrument,
                "trigger": rule.trigger,
                "action": rule.action,
                "deadline_kind": rule.deadline_kind,
                "deadline": _duration(rule.deadline),
                "previous_deadline": _duration(rule.previously),
                "effective_from": rule.effective_from,
                "internal_target": _duration(rule.internal_target),
                "needs_verification": rule.verify,
                "min_severity": rule.min_severity,
                "note": rule.note,
                "sources": list(rule.sources),
            },
        )

    escalation_types = _Upserter.by_code(EscalationType)
    for position, escalation_type in enumerate(catalog.escalation_types.escalation_types):
        default_policy = escalation_type.default_policy
        escalation_types.upsert(
            escalation_type.code,
            {
                "code": escalation_type.code,
                "name": escalation_type.name,
                "description": escalation_type.description,
                "default_policy_id": policies.rows[default_policy].pk if default_policy else None,
                "position": position,
            },
        )

    return {
        "policy_areas": areas.done(),
        "policies": policies.done(),
        "policy_versions": policy_versions.done(),
        "enforcement_actions": actions.done(),
        "teams": teams.done(),
        "markets": markets.done(),
        "statutory_rules": rules.done(),
        "escalation_types": escalation_types.done(),
    }
