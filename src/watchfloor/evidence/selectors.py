"""Evidence reads. Need to know first: an item is visible exactly when its escalation is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core import signing
from django.db.models import QuerySet

from watchfloor.core.errors import NotFound
from watchfloor.core.roles import can_work_escalations
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.evidence import exposure
from watchfloor.evidence.models import EvidenceItem, Reveal, ViewingPreference
from watchfloor.evidence.permissions import may_see_team_exposure
from watchfloor.evidence.services import preference_of, reveal_refusal

if TYPE_CHECKING:
    from collections.abc import Iterable

    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User

REVEAL_SALT = "watchfloor.evidence.reveal"


def evidence_visible_to(user: User) -> QuerySet[EvidenceItem]:
    return EvidenceItem.objects.filter(escalation__in=escalations_visible_to(user))


def access_evidence(*, actor: User, evidence_id: int | str) -> EvidenceItem:
    """The item, or the same NotFound whether it is missing or its escalation is hidden."""
    try:
        pk = int(str(evidence_id).removeprefix("EV-"))
    except (TypeError, ValueError) as exc:
        raise NotFound(f"no evidence '{evidence_id}'", field="evidence_id") from exc
    item = evidence_visible_to(actor).select_related("escalation", "added_by").filter(pk=pk).first()
    if item is None:
        raise NotFound(f"no evidence EV-{pk} that you can see", field="evidence_id")
    return item


def evidence_list(*, viewer: User, escalation: Escalation | None = None) -> QuerySet[EvidenceItem]:
    items = evidence_visible_to(viewer).select_related("added_by")
    if escalation is not None:
        items = items.filter(escalation=escalation)
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
    escalation: Escalation
    rows: list[PanelRow]
    total: int
    may_add: bool
    preference: ViewingPreference
    exposure: exposure.PersonalExposure


def escalation_evidence_panel(
    *, escalation: Escalation, viewer: User, now: datetime
) -> EvidencePanel:
    """The newest evidence on an escalation's page, as the viewer may see it (a query for
    the items, one for their count, one for the viewer's preferences, three for their
    exposure counter)."""
    preference = preference_of(viewer)
    items = EvidenceItem.objects.filter(escalation=escalation)
    return EvidencePanel(
        escalation=escalation,
        rows=panel_rows(items[:PANEL_ITEMS], escalation=escalation, preference=preference),
        total=items.count(),
        may_add=can_work_escalations(viewer),
        preference=preference,
        exposure=exposure.exposure_of(person=viewer, now=now),
    )


def panel_rows(
    items: Iterable[EvidenceItem], *, escalation: Escalation, preference: ViewingPreference
) -> list[PanelRow]:
    rows = []
    for item in items:
        item.escalation = escalation
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


def crisis_exposure(*, crisis: Any, viewer: User, now: datetime) -> CrisisExposure:
    """The team's reveals of the crisis's evidence since it was declared, counted over the
    escalations the viewer may see (a restricted one adds nothing to others' figures)."""
    visible = list(
        escalations_visible_to(viewer)
        .filter(pk__in=crisis.escalations.values("pk"))
        .values_list("pk", flat=True)
    )
    return CrisisExposure(
        exposure=exposure.exposure_on_escalations(
            escalation_ids=visible, since=crisis.declared_at, now=now
        ),
        since=crisis.declared_at,
        escalations=len(visible),
        may_see_team=may_see_team_exposure(viewer),
    )
