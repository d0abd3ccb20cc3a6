"""Whether a crisis may stand down: each criterion of the crisis config checked against its
escalations, steps and sitreps as the viewer may see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from watchfloor.coordination.models import PartnerRequest, RequestStatus
from watchfloor.crises.config import CrisisConfig, Criterion
from watchfloor.crises.models import Crisis
from watchfloor.crises.selectors.lists import visible_escalation_ids
from watchfloor.escalations.models import Clock, Decision, Escalation, Status
from watchfloor.playbooks.models import FINISHED_STATES, RunStatus

if TYPE_CHECKING:
    from watchfloor.people.models import User


# Escalation statuses at which an escalation no longer holds a crisis open.
SETTLED_STATUSES = frozenset({Status.DECIDED, Status.ACTIONED, Status.CLOSED})


@dataclass(frozen=True)
class CriterionResult:
    criterion: Criterion
    # True/False when worked out from the record; None when a person must confirm it.
    met: bool | None
    # What holds it up, escalation by escalation: (escalation id, what).
    blockers: tuple[tuple[int, str], ...] = ()

    @property
    def needs_confirmation(self) -> bool:
        return self.met is None

    @property
    def detail(self) -> str:
        return ", ".join(text for _, text in self.blockers)


def stand_down_criteria(
    *, crisis: Crisis, viewer: User, now: datetime, config: CrisisConfig
) -> list[CriterionResult]:
    """Each configured criterion and whether the record meets it, as ``viewer`` may see
    the record: only the linked escalations they may see are counted or named. A
    criterion held up by an escalation hidden from them reads as met to them, since
    "not met, by something you cannot see" would tell them the hidden case is there;
    the people on its access list see it hold the criterion up (see docs/security.md)."""
    ids = sorted(visible_escalation_ids(crisis=crisis, viewer=viewer))
    results = []
    for criterion in config.settings.stand_down.criteria:
        check = criterion.check
        if check == "confirmed":
            results.append(CriterionResult(criterion, None))
            continue
        if check == "linked_escalations_settled":
            blockers = tuple(
                (pk, f"WF-{pk} is {Status(status).label.lower()}")
                for pk, status in Escalation.objects.filter(pk__in=ids)
                .exclude(status__in=SETTLED_STATUSES)
                .order_by("pk")
                .values_list("pk", "status")
            )
        elif check == "no_running_statutory_clocks":
            blockers = tuple(
                (pk, f"{label} on WF-{pk}")
                for pk, label in Clock.objects.filter(
                    escalation_id__in=ids, kind=Clock.Kind.STATUTORY, met_at__isnull=True
                ).values_list("escalation_id", "label")
            )
        elif check == "no_pending_decisions":
            blockers = tuple(
                (pk, f"a decision on WF-{pk} awaits approval")
                for pk in Decision.objects.filter(
                    escalation_id__in=ids, state=Decision.State.PENDING_APPROVAL
                ).values_list("escalation_id", flat=True)
            )
        elif check == "no_open_partner_requests":
            blockers = tuple(
                (pk, f"a request to {team} on WF-{pk} is open")
                for pk, team in PartnerRequest.objects.filter(
                    escalation_id__in=ids, status=RequestStatus.OPEN
                ).values_list("escalation_id", "team__name")
            )
        else:  # no_overdue_playbook_steps
            blockers = tuple(
                (pk, f"'{title}' on WF-{pk}") for pk, title in _overdue_steps(ids, now)
            )
        results.append(CriterionResult(criterion, not blockers, blockers))
    return results


def _overdue_steps(escalation_ids: list[int], now: datetime) -> list[tuple[int, str]]:
    from watchfloor.playbooks.models import RunStep

    return list(
        RunStep.objects.filter(
            run__escalation_id__in=escalation_ids,
            run__status=RunStatus.ACTIVE,
            due_at__lt=now,
        )
        .exclude(state__in=FINISHED_STATES)
        .values_list("run__escalation_id", "title")
    )
