"""`watchfloor evidence add|list|verify|purge|package`: run by an operator, as the system."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from watchfloor.core.errors import WatchfloorError
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.selectors import escalation_id_of
from watchfloor.evidence import media, packages, retention, services
from watchfloor.evidence.models import Category, EvidenceItem
from watchfloor.people.models import User
from watchfloor.people.selectors import get_team


def _escalation(reference: str) -> Escalation:
    pk = escalation_id_of(reference) or (int(reference) if reference.isdigit() else None)
    escalation = Escalation.objects.filter(pk=pk).first() if pk else None
    if escalation is None:
        raise CommandError(f"no escalation {reference!r} (give it as WF-12)")
    return escalation


def _line(item: EvidenceItem) -> str:
    quality = f" (quality {item.pdq_quality})" if item.pdq_quality is not None else ""
    flags = [f for f, on in (("legal hold", item.legal_hold), ("purged", item.purged_at)) if on]
    return (
        f"{item.reference}  WF-{item.escalation_id}  {item.kind}  {item.category}  "
        f"sha256={item.sha256 or '-'}  md5={item.md5 or '-'}  pdq={item.pdq or '-'}{quality}  "
        f"{item.original_name or item.content_id or item.url}"
        + (f"  [{', '.join(flags)}]" if flags else "")
    )


class Command(PreparesDatabase, BaseCommand):
    help = "Add, list, verify, purge and package evidence."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="add a file to an escalation; prints its hashes")
        add.add_argument("file")
        add.add_argument("--escalation", required=True, help="WF-n")
        add.add_argument("--category", choices=Category.values, default=Category.GENERAL)
        add.add_argument("--description", default="")
        listing = actions.add_parser("list", help="one line per item")
        listing.add_argument("--escalation", help="WF-n")
        verify = actions.add_parser("verify", help="re-hash stored files; non-zero when any differ")
        verify.add_argument("--escalation", help="WF-n")
        purge = actions.add_parser("purge", help="delete expired evidence that is not on hold")
        purge.add_argument("--dry-run", action="store_true", help="list what would be deleted")
        package = actions.add_parser("package", help="write an evidence package (ZIP)")
        package.add_argument("--escalation", required=True, help="WF-n")
        package.add_argument("--items", required=True, help="EV-1,EV-2 (or 'all')")
        package.add_argument("--zone", default="UTC", help="the requester's time zone")
        package.add_argument("--out", required=True, help="where to write the ZIP")
        training = actions.add_parser("training", help="record graphic-content training")
        training.add_argument("username")
        training.add_argument("--trained", choices=["yes", "no"], required=True)
        care = actions.add_parser("care", help="tell a team's lead when someone needs a break")
        care.add_argument("team", help="team code")
        care.add_argument("--tell-lead", choices=["on", "off"], required=True)

    def handle(self, *args, **options) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except WatchfloorError as error:
            where = f" ({error.field})" if error.field else ""
            raise CommandError(f"{error.message}{where}") from error

    def _add(self, options) -> None:
        path = Path(options["file"])
        try:
            stream = path.open("rb")
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from error
        with stream:
            item = services.add_evidence_file(
                escalation=_escalation(options["escalation"]),
                actor=None,
                chunks=media.file_chunks(stream),
                name=path.name,
                declared_type=mimetypes.guess_type(path.name)[0],
                category=options["category"],
                description=options["description"],
            )
        self.stdout.write(_line(item))

    def _list(self, options) -> None:
        items = EvidenceItem.objects.order_by("pk")
        if options["escalation"]:
            items = items.filter(escalation=_escalation(options["escalation"]))
        for item in items.iterator(chunk_size=1000):
            self.stdout.write(_line(item))

    def _verify(self, options) -> None:
        escalation = _escalation(options["escalation"]) if options["escalation"] else None
        checked, problems = retention.verify_stored(
            escalation_id=escalation.pk if escalation else None
        )
        for problem in problems:
            self.stderr.write(f"{problem.item.reference}: {problem.name} is {problem.what}")
        if problems:
            raise CommandError(f"{len(problems)} of {checked} stored files changed or missing")
        self.stdout.write(f"evidence intact: {checked} stored files match their SHA-256")

    def _purge(self, options) -> None:
        done = retention.purge_expired(actor=None, dry_run=options["dry_run"])
        verb = "would delete" if options["dry_run"] else "deleted"
        for expired in done:
            self.stdout.write(
                f"{verb} {expired.item.reference} ({expired.item.category}, kept "
                f"{expired.retention_days} days, expired {expired.expired_on:%Y-%m-%d})"
            )
        self.stderr.write(f"{len(done)} item(s) {verb}")

    def _training(self, options) -> None:
        person = User.objects.filter(username=options["username"]).first()
        if person is None:
            raise CommandError(f"no person {options['username']!r}")
        trained = options["trained"] == "yes"
        services.set_graphic_content_training(person=person, trained=trained, actor=None)
        self.stdout.write(
            f"{person.username}: graphic-content training {'recorded' if trained else 'removed'}"
        )

    def _care(self, options) -> None:
        team = get_team(options["team"])
        policy = services.set_team_care_policy(
            team=team, tell_lead=options["tell_lead"] == "on", actor=None
        )
        self.stdout.write(
            f"{team.code}: lead told on breaks: {'on' if policy.tell_lead else 'off'}"
        )

    def _package(self, options) -> None:
        escalation = _escalation(options["escalation"])
        items = EvidenceItem.objects.filter(escalation=escalation).order_by("pk")
        if options["items"] != "all":
            wanted = [ref.strip().removeprefix("EV-") for ref in options["items"].split(",")]
            if not all(ref.isdigit() for ref in wanted):
                raise CommandError("--items: give references such as EV-1,EV-2")
            items = items.filter(pk__in=[int(ref) for ref in wanted])
            if items.count() != len(set(wanted)):
                raise CommandError(f"--items: some are not evidence of {escalation.reference}")
        built = packages.build_package(
            escalation=escalation,
            items=list(items),
            actor=None,
            requester_zone=options["zone"],
        )
        Path(options["out"]).write_bytes(built.content)
        self.stdout.write(f"{options['out']}  sha256={built.record.sha256}")
