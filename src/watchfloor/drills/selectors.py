"""Reading drills: the runs a person may see (need to know, as for their crises), one run
by id, the scenario as it was played, what its injects opened, and its figures."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import QuerySet

from watchfloor.core.errors import NotFound
from watchfloor.crises.selectors import crises_visible_to
from watchfloor.drills.models import DrillInject, DrillRun
from watchfloor.drills.scenarios import Scenario
from watchfloor.escalations.models import Escalation
from watchfloor.people.models import User


def scenario_of(run: DrillRun) -> Scenario:
    """The scenario as it was played (the snapshot, not today's file)."""
    return Scenario.model_validate(run.scenario)


def drills_visible_to(user: User) -> QuerySet[DrillRun]:
    """Drill runs whose crisis ``user`` may see (need to know, as for any crisis)."""
    return (
        DrillRun.objects.filter(crisis__in=crises_visible_to(user))
        .select_related("crisis", "started_by")
        .order_by("-started_at", "-id")
    )


def access_drill(*, actor: User, run_id: int | str) -> DrillRun:
    """The run, or the same NotFound whether it is missing or its crisis is hidden."""
    try:
        pk = int(run_id)
    except (TypeError, ValueError) as exc:
        raise NotFound(f"no drill '{run_id}'", field="drill_id") from exc
    run = drills_visible_to(actor).filter(pk=pk).first()
    if run is None:
        raise NotFound(f"no drill '{run_id}'", field="drill_id")
    return run


def next_inject(run: DrillRun) -> DrillInject | None:
    return run.injects.filter(injected_at__isnull=True).order_by("sequence").first()


def escalation_opened_by(run: DrillRun, inject_id: str) -> Escalation | None:
    """The escalation an inject opened, by the inject's id in the scenario."""
    spec = scenario_of(run)
    sequence = next((i for i, s in enumerate(spec.injects) if s.id == inject_id), None)
    if sequence is None:
        return None
    inject = run.injects.filter(sequence=sequence).first()
    escalation_id = (inject.outcome or {}).get("escalation_id") if inject else None
    return Escalation.objects.filter(pk=escalation_id).first() if escalation_id else None


def drill_escalations(run: DrillRun) -> list[Escalation]:
    """The escalations the drill's injects opened, in the order they arrived."""
    ids = [
        (inject.outcome or {}).get("escalation_id")
        for inject in run.injects.exclude(injected_at__isnull=True).order_by(
            "injected_at", "sequence"
        )
    ]
    ids = [pk for pk in ids if pk]
    found = Escalation.objects.in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


def drill_figures(run: DrillRun) -> dict[str, Any]:
    """What the drill injected: events by kind, and the drill signals by language."""
    by_kind: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    injected = 0
    injects = list(run.injects.all())
    for inject in injects:
        if inject.injected_at is None:
            continue
        injected += 1
        by_kind[inject.kind] += 1
        for language, count in (inject.outcome or {}).get("by_language", {}).items():
            languages[language] += int(count)
    return {
        "injects": len(injects),
        "injected": injected,
        "by_kind": dict(by_kind),
        "signals": sum(languages.values()),
        "signals_by_language": dict(languages.most_common()),
    }


def inject_names(injects: list[DrillInject]) -> dict[str, dict[str, str]]:
    """The names of the markets and policies the injects' outcomes give by code, for the
    drill page to show names rather than codes (two queries)."""
    from watchfloor.markets.models import Market
    from watchfloor.policy.models import Policy

    outcomes = [inject.outcome or {} for inject in injects]
    markets = {o["market"] for o in outcomes if o.get("market")}
    policies = {o["policy"] for o in outcomes if o.get("policy")}
    return {
        "markets": dict(Market.objects.filter(code__in=markets).values_list("code", "name")),
        "policies": dict(Policy.objects.filter(code__in=policies).values_list("code", "name")),
    }
