"""`watchfloor bank_rules validate [FILE]`: check the bank action rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from watchfloor.banks.rules import ActionRuleSet, default_rules_path, read_rules
from watchfloor.catalog.commands import ConfigFileCommand, catalog_to_check_against


def describe_rules(ruleset: ActionRuleSet) -> list[str]:
    lines = []
    for rule in ruleset.spec.rules:
        state = "" if rule.enabled else " (disabled)"
        sample = f", {rule.review_sample_rate:.0%} reviewed" if rule.review_sample_rate else ""
        lines.append(f"  {rule.code}: {rule.mode} → {rule.action}{sample}{state}")
    return lines


class Command(ConfigFileCommand):
    help = (
        "The bank action rules. `bank_rules validate [FILE]` checks a rules file against "
        "its schema and the catalog and reports each problem with its line; FILE defaults "
        "to the file in force (WATCHFLOOR_BANK_ACTION_RULES, else bank_action_rules.yaml in "
        "WATCHFLOOR_CATALOG_DIR). The file is read again whenever it changes, so there is "
        "no load step."
    )

    validate_help = "check a rules file without changing anything"
    load_help = None

    def default_target(self, **options: Any) -> Path:
        return default_rules_path()

    def validate(self, target: Path, **options: Any) -> None:
        ruleset = read_rules(target, catalog=catalog_to_check_against())
        self.stdout.write(
            f"{target}: the bank action rules are valid (version {ruleset.version}, "
            f"{len(ruleset.spec.rules)} rules, {len(ruleset.rules)} enabled)"
        )
        for line in describe_rules(ruleset):
            self.stdout.write(line)
