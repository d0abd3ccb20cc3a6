"""Evidence reads. Need to know first: an item is visible exactly when its escalation, its
signals cluster or its crisis is (each through its own app's visibility selector)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core import signing
from django.db.models import Count, Q, QuerySet

from watchfloor.coordination.models import RequestKind
from watchfloor.core.errors import NotFound
from watchfloor.core.roles import can_work_escalations
from watchfloor.crises.selectors import crises_visible_to
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.evidence import exposure
from watchfloor.evidence.models import EvidenceItem, EvidencePackage, Reveal, ViewingPreference
from watchfloor.evidence.packages import unavailable_reason
from watchfloor.evidence.permissions import (
    may_download_package,
    may_record_training,
    may_see_team_exposure,
)
from watchfloor.evidence.services import preference_of, reveal_refusal
from watchfloor.evidence.targets import Target
from watchfloor.people.oncall import GraphicContentDuty, graphic_content_duty_everywhere
from watchfloor.signals.selectors import clusters_visible_to

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from watchfloor.coordination.models import PartnerRequest
    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User

REVEAL_SALT = "watchfloor.evidence.reveal"


def evidence_visible_to(user: User) -> QuerySet[EvidenceItem]:
    return EvidenceItem.objects.filter(
        Q(escalation__in=escalations_visible_to(user))
        | Q(cluster__in=clusters_visible_to(user))
        | Q(crisis__in=crises_visible_to(user))
    )


def access_evidence(*, actor: User, evidence_id: int | str) -> EvidenceItem:
    """The item, or the same NotFound whether it is missing or what it is evidence of
    (its escalation, cluster or crisis) is hidden."""
    try:
        pk = int(str(evidence_id).removeprefix("EV-"))
    except (TypeError, ValueError) as exc:
        raise NotFound(f"no evidence '{evidence_id}'", field="evidence_id") from exc
    item = (
        evidence_visible_to(actor)
        .select_related("escalation", "cluster", "crisis", "added_by")
        .filter(pk=pk)
        .first()
    )
    if item is None:
        raise NotFound(f"no evidence EV-{pk} that you can see", field="evidence_id")
    return item


def evidence_list(
    *, viewer: User, escalation: Escalation | None = None, of: Target | None = None
) -> QuerySet[EvidenceItem]:
    """The items the viewer may see, of one escalation, cluster or crisis if given."""
    items = evidence_visible_to(viewer).select_related("added_by")
    if escalation is not None:
        of = Target("escalation", escalation)
    if of is not None:
        items = items.filter(**{of.kind: of.obj})
    return items


@dataclass(frozen=True)
class PanelRow:
    item: EvidenceItem
    refusal: str


# The escalation page shows the newest items; the rest are on the evidence list pages.
PANEL_ITEMS = 50
LIST_PAGE_ITEMS = 100


@dataclass(frozen=True)
class EvidencePanel:
    of: Target
    rows: list[PanelRow]
    total: int
    may_add: bool
    preference: ViewingPreference
    exposure: exposure.PersonalExposure
    # Advice when someone on graphic-content duty could look instead (see duty_advice).
    duty_advice: str = ""


def evidence_panel(*, of: Target, viewer: User, now: datetime) -> EvidencePanel:
    """The newest evidence on an escalation's, a cluster's or a crisis's page, as the viewer
    may see it: a query for the items, one for their count, one for the viewer's
    preferences, three for their exposure counter, whatever the number of items. The page
    reached ``of`` through its access function, so the viewer may see its evidence."""
    preference = preference_of(viewer)
    items = EvidenceItem.objects.filter(**{of.kind: of.obj})
    rows = panel_rows(items[:PANEL_ITEMS], of=of, preference=preference)
    graphic = any(row.item.needs_training for row in rows)
    return EvidencePanel(
        of=of,
        rows=rows,
        total=items.count(),
        may_add=can_work_escalations(viewer),
        preference=preference,
        exposure=exposure.exposure_of(person=viewer, now=now),
        # Read (four queries) only when the panel shows graphic items.
        duty_advice=exposure.duty_advice(person=viewer, now=now) if graphic else "",
    )


def escalation_evidence_panel(
    *, escalation: Escalation, viewer: User, now: datetime
) -> EvidencePanel:
    return evidence_panel(of=Target("escalation", escalation), viewer=viewer, now=now)


def cluster_evidence_panel(*, cluster: Any, viewer: User, now: datetime) -> EvidencePanel:
    return evidence_panel(of=Target("cluster", cluster), viewer=viewer, now=now)


def crisis_evidence_panel(*, crisis: Any, viewer: User, now: datetime) -> EvidencePanel:
    return evidence_panel(of=Target("crisis", crisis), viewer=viewer, now=now)


def panel_rows(
    items: Iterable[EvidenceItem], *, of: Target, preference: ViewingPreference
) -> list[PanelRow]:
    rows = []
    for item in items:
        setattr(item, of.kind, of.obj)
        # The same rules as a reveal, with the preference already read.
        refusal = reveal_refusal(item=item, viewer=preference.person, preference=preference)
        rows.append(PanelRow(item=item, refusal=refusal))
    return rows


def reveal_token(reveal: Reveal) -> str:
    return signing.dumps({"reveal": reveal.pk}, salt=REVEAL_SALT)


def reveal_for_token(*, token: str, now: datetime) -> Reveal:
    """The reveal a signed URL names, while it lasts; NotFound otherwise (expired too)."""
    try:
        payload = signing.loads(token, salt=REVEAL_SALT)
    except signing.BadSignature as error:
        raise NotFound("this reveal link is not valid", field="token") from error
    reveal_id = payload.get("reveal") if isinstance(payload, dict) else None
    reveal = (
        Reveal.objects.select_related("item", "person").filter(pk=reveal_id).first()
        if isinstance(reveal_id, int)
        else None
    )
    if reveal is None or now >= reveal.ends_at:
        raise NotFound("this reveal has ended; reveal the item again to see it", field="token")
    return reveal


@dataclass(frozen=True)
class CrisisExposure:
    exposure: exposure.Exposure
    since: datetime
    escalations: int
    # Only a lead of a team may open the team page: nobody else is linked to it.
    may_see_team: bool = False
    # Who holds a graphic-content duty shift now, in any team's rota: names beside the
    # figures, alphabetical, never ranked or given figures of their own.
    on_duty: list[GraphicContentDuty] = field(default_factory=list)


def crisis_exposure(*, crisis: Any, viewer: User, now: datetime) -> CrisisExposure:
    """The team's reveals of the crisis's evidence since it was declared: the crisis's own
    items, its linked clusters' items when the viewer may see clusters, and the items of
    its escalations the viewer may see (a restricted one adds nothing to others' figures).
    The viewer is in the war room, so may see the crisis. Two queries for the figures and
    four for who is on graphic-content duty, whatever the number of items, reveals or
    rotations."""
    visible = list(
        escalations_visible_to(viewer)
        .filter(pk__in=crisis.escalations.values("pk"))
        .values_list("pk", flat=True)
    )
    clusters = clusters_visible_to(viewer).filter(crisis_links__crisis=crisis)
    return CrisisExposure(
        exposure=exposure.exposure_on(
            items=Q(escalation_id__in=visible) | Q(crisis=crisis) | Q(cluster__in=clusters),
            since=crisis.declared_at,
            now=now,
        ),
        since=crisis.declared_at,
        escalations=len(visible),
        may_see_team=may_see_team_exposure(viewer),
        on_duty=graphic_content_duty_everywhere(at=now),
    )


@dataclass(frozen=True)
class TrainingRow:
    person: User
    trained: bool
    version: int
    may_change: bool


def training_rows(*, people: list[User], viewer: User) -> list[TrainingRow]:
    """Who in the team has had graphic-content training (one query for all of them), in
    the order given, and whether the viewer may change it."""
    preferences = {
        p.person_id: p for p in ViewingPreference.objects.filter(person__in=[p.pk for p in people])
    }
    rows = []
    for person in people:
        preference = preferences.get(person.pk)
        rows.append(
            TrainingRow(
                person=person,
                trained=bool(preference and preference.graphic_content_trained),
                version=preference.version if preference else 1,
                may_change=may_record_training(viewer, person),
            )
        )
    return rows


# ---------------------------------------------------------------- packages


def packages_visible_to(user: User) -> QuerySet[EvidencePackage]:
    """Packages of the escalations and crises the user may see (need to know first)."""
    return EvidencePackage.objects.filter(
        Q(escalation__in=escalations_visible_to(user)) | Q(crisis__in=crises_visible_to(user))
    )


def access_package(*, actor: User, package_id: int | str) -> EvidencePackage:
    """The package, or the same NotFound whether it is missing or what it is of is hidden."""
    try:
        pk = int(str(package_id).removeprefix("PKG-"))
    except (TypeError, ValueError) as exc:
        raise NotFound(f"no evidence package '{package_id}'", field="package_id") from exc
    package = (
        packages_visible_to(actor)
        .select_related("partner_request__team", "built_by")
        .prefetch_related("items")
        .filter(pk=pk)
        .first()
    )
    if package is None:
        raise NotFound(f"no evidence package PKG-{pk} that you can see", field="package_id")
    return package


MANIFEST_HIDES_ESCALATIONS = "its manifest carries escalations you may not see"


def _escalations_named(package: EvidencePackage) -> set[int]:
    """The escalations whose decisions the package's manifest carries (a crisis package:
    those its builder could see, which may be more than a later reader can)."""
    manifest = package.manifest or {}
    entries = [manifest.get("escalation") or {}]
    entries += (manifest.get("crisis") or {}).get("escalations", [])
    references = (str(entry.get("reference", "")) for entry in entries)
    return {int(ref[3:]) for ref in references if ref.startswith("WF-") and ref[3:].isdigit()}


def _hidden_escalations(packages: Sequence[EvidencePackage], viewer: User) -> set[int]:
    named = set().union(*(_escalations_named(p) for p in packages)) if packages else set()
    if not named:
        return set()
    visible = escalations_visible_to(viewer).filter(pk__in=named).values_list("pk", flat=True)
    return named - set(visible)


def download_refusal(
    *, package: EvidencePackage, viewer: User, purged_items: int, hidden: set[int]
) -> str:
    """Why the viewer cannot download the package ("" when they can)."""
    if not may_download_package(viewer, package):
        asked = package.partner_request
        team = f" and {asked.team.name}" if asked is not None else ""
        return f"only analysts, leads, admins{team} may download it"
    if _escalations_named(package) & hidden:
        return MANIFEST_HIDES_ESCALATIONS
    return unavailable_reason(package, purged_items=purged_items)


def manifest_hides_escalations(*, package: EvidencePackage, viewer: User) -> bool:
    """Whether the package's manifest carries escalations the viewer may not see (a crisis
    package built by someone who could see more): then it is not theirs to download."""
    return bool(_hidden_escalations([package], viewer))


@dataclass(frozen=True)
class PackageRow:
    package: EvidencePackage
    item_count: int
    download_refusal: str


@dataclass(frozen=True)
class RequestPackages:
    partner_request: PartnerRequest
    rows: list[PackageRow]
    # On a law-enforcement referral with none, analysts, leads and admins are told how to
    # build one for it.
    may_build: bool


def request_packages(
    *, partner_request: PartnerRequest, viewer: User, now: datetime
) -> RequestPackages:
    """The evidence packages attached to a partner request, as the viewer may see them: a
    crisis package only to those who may see the crisis. One query, and one more for the
    escalations the manifests name when there are packages, however many. The viewer
    reached the request through ``access_partner_request``."""
    packages = list(
        packages_visible_to(viewer)
        .filter(partner_request=partner_request)
        .select_related("built_by")
        .annotate(
            item_count=Count("items", distinct=True),
            purged_items=Count("items", filter=Q(items__purged_at__isnull=False), distinct=True),
        )
        .order_by("-built_at", "-pk")
    )
    hidden = _hidden_escalations(packages, viewer)
    rows = []
    for package in packages:
        package.partner_request = partner_request
        rows.append(
            PackageRow(
                package=package,
                item_count=package.item_count,
                download_refusal=download_refusal(
                    package=package,
                    viewer=viewer,
                    purged_items=package.purged_items,
                    hidden=hidden,
                ),
            )
        )
    return RequestPackages(
        partner_request=partner_request,
        rows=rows,
        may_build=can_work_escalations(viewer)
        and partner_request.kind == RequestKind.LAW_ENFORCEMENT_REFERRAL,
    )
