from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from watchfloor.catalog.loader import CatalogError, read_catalog
from watchfloor.catalog.selectors import active_catalog_version, catalog_for
from watchfloor.core.errors import NotFound
from watchfloor.signals.rules import RuleSet, SignalRulesError, default_rules_path, read_rules


def describe_rules(ruleset: RuleSet) -> list[str]:
    lines = []
    for rule in ruleset.spec.rules:
        when = rule.when
        subject = "series surge" if rule.on_series else "cluster"
        attach = "open" if rule.escalate.attach == "never" else "attach or open"
        state = "" if rule.enabled else " (disabled)"
        lines.append(
            f"  {rule.code}: {subject} → {attach} {rule.escalate.type}"
            f"{' (surging)' if when.surge and not rule.on_series else ''}{state}"
        )
    return lines


class Command(BaseCommand):
    help = (
        "The auto-escalation rules. `signal_rules validate [FILE]` checks a rules file "
        "against its schema and the catalog and reports each problem with its line; "
        "FILE defaults to the file in force (WATCHFLOOR_SIGNAL_RULES, else "
        "signal_rules.yaml in WATCHFLOOR_CATALOG_DIR). The file is read again whenever it "
        "changes, so there is no load step."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        validate = sub.add_parser("validate", help="check a rules file without changing anything")
        validate.add_argument("file", nargs="?", type=Path, default=None)

    def handle(self, *args, subcommand: str, file: Path | None, **options):
        path = file or default_rules_path()
        try:
            ruleset = read_rules(path, catalog=self._catalog())
        except SignalRulesError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            count = len(exc.problems)
            raise CommandError(
                f"the signal rules in {path} have {count} problem{'s' if count != 1 else ''}; "
                "fix them and validate again"
            ) from exc
        enabled = len(ruleset.rules)
        self.stdout.write(
            f"{path}: the signal rules are valid (version {ruleset.version}, "
            f"{len(ruleset.spec.rules)} rules, {enabled} enabled)"
        )
        for line in describe_rules(ruleset):
            self.stdout.write(line)

    def _catalog(self):
        """Rules name escalation types, rubric answers, policies and markets: checked
        against the active catalog, else the catalog files, so validation works before
        any database exists."""
        try:
            return catalog_for(active_catalog_version())
        except (NotFound, DatabaseError):
            try:
                return read_catalog(Path(settings.WATCHFLOOR_CATALOG_DIR)).catalog
            except CatalogError as exc:
                raise CommandError(
                    "the catalog has problems; run `watchfloor config validate` first"
                ) from exc
