from __future__ import annotations

from pathlib import Path
from typing import Any

from watchfloor.catalog.commands import ConfigFileCommand, catalog_to_check_against
from watchfloor.warning.senders import SENDERS, read_senders
from watchfloor.warning.terms import HAZARD_TERMS


class Command(ConfigFileCommand):
    help = (
        "The organisation's trusted senders of official alerts (CAP). `cap_senders validate "
        "[FILE]` checks a senders file against its schema and the catalog, and the hazard "
        "terms file beside it, reporting each problem with its line; FILE defaults to the "
        "file in force (WATCHFLOOR_CAP_SENDERS, else cap_senders.yaml in "
        "WATCHFLOOR_CATALOG_DIR). The file is read again whenever it changes."
    )
    validate_help = "check a trusted senders file without changing anything"
    load_help = None

    def default_target(self, **options: Any) -> Path:
        return SENDERS.default_path()

    def validate(self, target: Path, **options: Any) -> None:
        senders = read_senders(target, catalog=catalog_to_check_against())
        self.stdout.write(
            f"{target}: the trusted CAP senders are valid ({len(senders.spec.senders)} senders)"
        )
        for trusted in senders.spec.senders:
            self.stdout.write(f"  {trusted.sender} ({trusted.name}, {trusted.country or '-'})")
        terms = HAZARD_TERMS.read(None, catalog=None)
        self.stdout.write(
            f"{HAZARD_TERMS.default_path()}: the hazard terms are valid "
            f"({len(terms.spec.hazards)} hazards)"
        )
