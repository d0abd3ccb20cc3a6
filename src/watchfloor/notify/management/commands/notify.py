from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from watchfloor.core.preparation import PreparesDatabase
from watchfloor.notify import conf
from watchfloor.notify.policy import Known, PolicyFileError, read_policies, reference_problems
from watchfloor.notify.recipients import reachability_problems


class Command(PreparesDatabase, BaseCommand):
    help = (
        "Escalation policies. `notify check [FILE]` validates the policy file (default: the "
        "one in force), checks every team, person and channel it names, and flags on-call "
        "and other people it could page who cannot be reached (no email address)."
    )

    def needs_database(self, options):
        return not options.get("offline")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="validate a policy file")
        check.add_argument("file", nargs="?", type=Path, default=None)
        check.add_argument(
            "--offline",
            action="store_true",
            help="check the file alone, not the names in it against the database",
        )

    def handle(self, *args, action: str, **options):
        if action == "check":
            self._check(options["file"], offline=options["offline"])

    def _check(self, path: Path | None, *, offline: bool) -> None:
        path = path or conf.policy_file()
        try:
            loaded = read_policies(path)
        except PolicyFileError as error:
            raise CommandError(error.message) from None
        problems = [] if offline else reference_problems(loaded, _known())
        if not offline and not problems:
            # Names that resolve, to people a page would not reach (no email address).
            problems = reachability_problems(loaded)
        if problems:
            raise CommandError(
                f"{path} has {len(problems)} problem{'s' if len(problems) != 1 else ''}:\n"
                + "\n".join(str(p) for p in problems)
            )
        rules = loaded.policies.rules
        self.stdout.write(
            f"{path}: {len(rules)} rule{'s' if len(rules) != 1 else ''}, valid "
            f"(version {loaded.policies.version}, digest {loaded.digest[:12]})"
        )
        for rule in rules:
            stages = "; ".join(
                f"{stage.after}: {', '.join(t.label for t in stage.notify)}"
                for stage in rule.stages
            )
            self.stdout.write(f"  {rule.code} ({', '.join(rule.when.severities)}): {stages}")


def _known() -> Known:
    from watchfloor.escalations.models import EscalationType
    from watchfloor.markets.models import Market
    from watchfloor.notify.models import Channel
    from watchfloor.people.models import Team, User

    return Known(
        teams=frozenset(Team.objects.values_list("code", flat=True)),
        escalation_types=frozenset(EscalationType.objects.values_list("code", flat=True)),
        markets=frozenset(Market.objects.values_list("code", flat=True)),
        usernames=frozenset(User.objects.filter(is_active=True).values_list("username", flat=True)),
        channels=frozenset(Channel.objects.filter(is_active=True).values_list("code", flat=True)),
    )
