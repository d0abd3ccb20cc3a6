from __future__ import annotations

from pathlib import Path
from typing import Any

from watchfloor.catalog.commands import ConfigFileCommand, catalog_to_check_against
from watchfloor.signals.rules import RuleSet, default_rules_path, read_rules


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


class Command(ConfigFileCommand):
    help = (
        "The auto-escalation rules. `signal_rules validate [FILE]` checks a rules file "
        "against its schema and the catalog and reports each problem with its line; "
        "FILE defaults to the file in force (WATCHFLOOR_SIGNAL_RULES, else "
        "signal_rules.yaml in WATCHFLOOR_CATALOG_DIR). The file is read again whenever it "
        "changes, so there is no load step."
    )

    validate_help = "check a rules file without changing anything"
    load_help = None

    def default_target(self, **options: Any) -> Path:
        return default_rules_path()

    def validate(self, target: Path, **options: Any) -> None:
        ruleset = read_rules(target, catalog=catalog_to_check_against())
        enabled = len(ruleset.rules)
        self.stdout.write(
            f"{target}: the signal rules are valid (version {ruleset.version}, "
            f"{len(ruleset.spec.rules)} rules, {enabled} enabled)"
        )
        for line in describe_rules(ruleset):
            self.stdout.write(line)
