from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from watchfloor.catalog.commands import ConfigFileCommand
from watchfloor.catalog.loader import read_catalog
from watchfloor.catalog.schema import Catalog
from watchfloor.catalog.selectors import catalog_for
from watchfloor.catalog.services import load_catalog
from watchfloor.core.preparation import PreparesDatabase

_COUNT_LABELS = {
    "policy_areas": ("policy area", "policy areas"),
    "policies": ("policy", "policies"),
    "policy_versions": ("policy version", "policy versions"),
    "escalation_types": ("escalation type", "escalation types"),
    "severities": ("severity", "severities"),
    "factors": ("rubric factor", "rubric factors"),
    "floor_rules": ("floor rule", "floor rules"),
    "enforcement_actions": ("enforcement action", "enforcement actions"),
    "teams": ("team", "teams"),
    "markets": ("market", "markets"),
    "statutory_rules": ("statutory rule", "statutory rules"),
}


def describe_counts(catalog: Catalog) -> str:
    parts = []
    for key, count in catalog.counts().items():
        singular, plural = _COUNT_LABELS.get(key, (key, key))
        parts.append(f"{count} {singular if count == 1 else plural}")
    return ", ".join(parts)


class Command(PreparesDatabase, ConfigFileCommand):
    help = (
        "The configuration catalog. `config validate [DIR]` checks the files and reports "
        "each problem with its file and line; `config load [DIR]` applies them and makes "
        "them the active catalog. DIR defaults to WATCHFLOOR_CATALOG_DIR (the built-in defaults)."
    )
    target_name = "directory"
    target_help = "the catalog directory (default: WATCHFLOOR_CATALOG_DIR)"
    validate_help = "check the catalog files without changing anything"
    load_help = "validate the catalog files, then load them as the active catalog"

    prepares_reference_data = False  # it loads a catalog of its own

    def needs_database(self, options: dict[str, Any]) -> bool:
        return options.get("subcommand") == "load"

    def default_target(self, **options: Any) -> Path:
        return Path(settings.WATCHFLOOR_CATALOG_DIR)

    def validate(self, target: Path, **options: Any) -> None:
        loaded = read_catalog(target)
        catalog = loaded.catalog
        self.stdout.write(
            f"{loaded.directory}: catalog '{catalog.label}' {catalog.version} is valid "
            f"(digest {loaded.digest[:12]})"
        )
        self.stdout.write(f"  {describe_counts(catalog)}")

    def load(self, target: Path, **options: Any) -> None:
        version = load_catalog(directory=target, actor=None)
        self.stdout.write(
            f"catalog '{version.label}' (digest {version.digest[:12]}) is now active: "
            f"version #{version.pk}, first loaded {version.loaded_at:%Y-%m-%d %H:%M} UTC"
        )
        self.stdout.write(f"  {describe_counts(catalog_for(version))}")
