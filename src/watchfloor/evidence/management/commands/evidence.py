"""`watchfloor evidence add|list|verify|purge|package|training|care`: run by an operator, as
the system. Evidence is added to an escalation (``--escalation WF-n``), a signals cluster
(``--cluster C-n``) or a crisis (``--crisis CR-n``)."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any, TypedDict, TypeVar

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Model

from watchfloor.coordination.models import PartnerRequest
from watchfloor.core.errors import WatchfloorError
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.crises.models import Crisis
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.selectors import escalation_id_of
from watchfloor.evidence import media, packages, retention, services
from watchfloor.evidence.models import Category, EvidenceItem
from watchfloor.people.models import User
from watchfloor.people.selectors import get_team
from watchfloor.signals.models import Cluster


def _escalation(reference: str) -> Escalation:
    pk = escalation_id_of(reference) or (int(reference) if reference.isdigit() else None)
    escalation = Escalation.objects.filter(pk=pk).first() if pk else None
    if escalation is None:
        raise CommandError(f"no escalation {reference!r} (give it as WF-12)")
    return escalation


M = TypeVar("M", bound=Model)


class TargetArguments(TypedDict, total=False):
    escalation: Escalation
    cluster: Cluster
    crisis: Crisis


def _target(options: dict[str, Any]) -> TargetArguments:
    """``--escalation WF-n``, ``--cluster C-n`` or ``--crisis CR-n`` as service arguments
    (``{}`` when none is given)."""
    if options.get("escalation"):
        return {"escalation": _escalation(options["escalation"])}
    cluster = _numbered(options, "cluster", Cluster, "C-")
    if cluster is not None:
        return {"cluster": cluster}
    crisis = _numbered(options, "crisis", Crisis, "CR-")
    if crisis is not None:
        return {"crisis": crisis}
    return {}


def _numbered(options: dict[str, Any], kind: str, model: type[M], prefix: str) -> M | None:
    given = options.get(kind)
    if not given:
        return None
    ref = str(given).upper().removeprefix(prefix)
    found = model._default_manager.filter(pk=int(ref)).first() if ref.isdigit() else None
    if found is None:
        raise CommandError(f"no {kind} {given!r} (give it as {prefix}12 or 12)")
    return found


def _reference(of: TargetArguments) -> str:
    if "escalation" in of:
        return of["escalation"].reference
    if "crisis" in of:
        return of["crisis"].reference
    return f"C-{of['cluster'].pk}" if "cluster" in of else ""


def _target_arguments(parser, *, required: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--escalation", help="WF-n")
    group.add_argument("--cluster", help="a signals cluster: C-n or n")
    group.add_argument("--crisis", help="a crisis: CR-n or n")


def _line(item: EvidenceItem) -> str:
    quality = f" (quality {item.pdq_quality})" if item.pdq_quality is not None else ""
    flags = [f for f, on in (("legal hold", item.legal_hold), ("purged", item.purged_at)) if on]
    return (
        f"{item.reference}  {item.target_reference}  {item.kind}  {item.category}  "
        f"sha256={item.sha256 or '-'}  md5={item.md5 or '-'}  pdq={item.pdq or '-'}{quality}  "
        f"{item.original_name or item.content_id or item.url}"
        + (f"  [{', '.join(flags)}]" if flags else "")
    )


class Command(PreparesDatabase, BaseCommand):
    help = "Add, list, verify, purge and package evidence."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser(
            "add", help="add a file to an escalation, cluster or crisis; prints its hashes"
        )
        add.add_argument("file")
        _target_arguments(add, required=True)
        add.add_argument("--category", choices=Category.values, default=Category.GENERAL)
        add.add_argument("--description", default="")
        listing = actions.add_parser("list", help="one line per item")
        _target_arguments(listing, required=False)
        verify = actions.add_parser("verify", help="re-hash stored files; non-zero when any differ")
        verify.add_argument("--escalation", help="WF-n")
        purge = actions.add_parser("purge", help="delete expired evidence that is not on hold")
        purge.add_argument("--dry-run", action="store_true", help="list what would be deleted")
        package = actions.add_parser("package", help="write an evidence package (ZIP)")
        group = package.add_mutually_exclusive_group(required=True)
        group.add_argument("--escalation", help="WF-n")
        group.add_argument("--crisis", help="a crisis: CR-n or n")
        package.add_argument("--items", required=True, help="EV-1,EV-2 (or 'all')")
        package.add_argument("--zone", default="UTC", help="the requester's time zone")
        package.add_argument("--out", required=True, help="where to write the ZIP")
        package.add_argument(
            "--request", help="the partner request that asked for it (PR-n): listed on its page"
        )
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
                **_target(options),
                actor=None,
                chunks=media.file_chunks(stream),
                name=path.name,
                declared_type=mimetypes.guess_type(path.name)[0],
                category=options["category"],
                description=options["description"],
            )
        self.stdout.write(_line(item))

    def _list(self, options) -> None:
        items = EvidenceItem.objects.filter(**_target(options)).order_by("pk")
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
        of = _target(options)
        if "cluster" in of:
            raise CommandError("a package is built from an escalation's or a crisis's evidence")
        items = EvidenceItem.objects.filter(**of).order_by("pk")
        if options["items"] != "all":
            wanted = [ref.strip().removeprefix("EV-") for ref in options["items"].split(",")]
            if not all(ref.isdigit() for ref in wanted):
                raise CommandError("--items: give references such as EV-1,EV-2")
            items = items.filter(pk__in=[int(ref) for ref in wanted])
            if items.count() != len(set(wanted)):
                raise CommandError(f"--items: some are not evidence of {_reference(of)}")
        asked_by = _numbered(options, "request", PartnerRequest, "PR-")
        built = packages.build_package(
            escalation=of.get("escalation"),
            crisis=of.get("crisis"),
            items=list(items),
            actor=None,
            requester_zone=options["zone"],
            partner_request=asked_by,
        )
        Path(options["out"]).write_bytes(built.content)
        asked = f"  for {asked_by.reference}" if asked_by is not None else ""
        self.stdout.write(
            f"{options['out']}  {built.record.reference}  sha256={built.record.sha256}{asked}"
        )
