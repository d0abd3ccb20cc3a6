"""What an evidence item is evidence of: one escalation, one signals cluster or one crisis.

Need to know follows that one thing, through its own app's access function: an item is
visible exactly to those who may see its escalation, its cluster or its crisis, and a
target the caller may not see is the same not-found as a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from django.urls import reverse

from watchfloor.core.errors import InvalidInput, NotFound
from watchfloor.crises.selectors import access_crisis
from watchfloor.escalations.selectors import access_escalation
from watchfloor.signals.selectors import access_cluster

if TYPE_CHECKING:
    from watchfloor.crises.models import Crisis
    from watchfloor.escalations.models import Escalation
    from watchfloor.evidence.models import EvidenceItem
    from watchfloor.people.models import User
    from watchfloor.signals.models import Cluster

TargetKind = Literal["escalation", "cluster", "crisis"]
KINDS: tuple[TargetKind, ...] = ("escalation", "cluster", "crisis")
_PREFIX = {"escalation": "WF-", "cluster": "C-", "crisis": "CR-"}
_PAGE = {"escalation": "escalation-detail", "cluster": "cluster-detail", "crisis": "crisis-detail"}


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    obj: Any  # the Escalation, Cluster or Crisis

    @property
    def pk(self) -> int:
        return int(self.obj.pk)

    @property
    def reference(self) -> str:
        return f"{_PREFIX[self.kind]}{self.pk}"

    @property
    def title(self) -> str:
        if self.kind == "cluster":
            return (self.obj.representative_text or self.obj.subject_ref or "signals cluster")[:80]
        return str(self.obj.title)

    @property
    def fields(self) -> dict[str, Any]:
        """The item's foreign keys: this one set, the other two empty."""
        return {kind: (self.obj if kind == self.kind else None) for kind in KINDS}

    @property
    def page_url(self) -> str:
        return reverse(_PAGE[self.kind], args=[self.pk]) + "#evidence"

    @property
    def upload_url(self) -> str:
        return reverse("evidence-upload", kwargs={"target": self.kind, "target_id": self.pk})

    @property
    def list_url(self) -> str:
        return reverse("evidence-list", kwargs={"target": self.kind, "target_id": self.pk})


def target(
    *,
    escalation: Escalation | None = None,
    cluster: Cluster | None = None,
    crisis: Crisis | None = None,
) -> Target:
    """The one thing given (services take it as ``escalation=``, ``cluster=`` or ``crisis=``)."""
    candidates: list[tuple[TargetKind, Escalation | Cluster | Crisis | None]] = [
        ("escalation", escalation),
        ("cluster", cluster),
        ("crisis", crisis),
    ]
    given = [Target(kind, obj) for kind, obj in candidates if obj is not None]
    if len(given) != 1:
        raise InvalidInput(
            f"evidence belongs to exactly one escalation, cluster or crisis ({len(given)} given)",
            field="target",
        )
    return given[0]


def target_of(item: EvidenceItem) -> Target:
    """The item's target (its row is read once, if it was not selected with the item)."""
    if item.escalation_id is not None:
        return Target("escalation", item.escalation)
    if item.cluster_id is not None:
        return Target("cluster", item.cluster)
    return Target("crisis", item.crisis)


def target_page_url(item: EvidenceItem) -> str:
    """The page of what the item is evidence of, from its ids only (no query)."""
    for kind in KINDS:
        pk = getattr(item, f"{kind}_id")
        if pk is not None:
            return reverse(_PAGE[kind], args=[pk]) + "#evidence"
    raise NotFound(f"{item.reference} is evidence of nothing", field="target")


def access_target(*, actor: User, kind: str, target_id: int | str) -> Target:
    """The escalation, cluster or crisis, through its own app's access function (the same
    NotFound whether it is missing or hidden from ``actor``)."""
    if kind == "escalation":
        return Target("escalation", access_escalation(actor=actor, escalation_id=target_id))
    if kind == "cluster":
        return Target("cluster", access_cluster(actor=actor, cluster_id=target_id))
    if kind == "crisis":
        return Target("crisis", access_crisis(actor=actor, crisis_id=target_id))
    raise NotFound(f"evidence is kept on escalations, clusters and crises, not {kind!r}")
