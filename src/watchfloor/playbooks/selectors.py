"""Reads of playbooks and runs.

Runs belong to escalations, so need to know comes from the escalation: views call
``escalations.selectors.access_escalation`` first and pass the escalation here, and
:func:`runs_visible_to` starts from ``escalations_visible_to`` for any list across
escalations. A partner therefore sees only the runs of escalations shared with their team.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from watchfloor.catalog.selectors import rubric_for
from watchfloor.core.errors import NotFound
from watchfloor.core.shared_reads import shared_within
from watchfloor.escalations.models import Clock, Escalation
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.playbooks.models import (
    FINISHED_STATES,
    CommunicationTemplate,
    Playbook,
    PlaybookRun,
    PlaybookVersion,
    RunStatus,
    RunStep,
    TemplateVersion,
)
from watchfloor.playbooks.schema import EscalationFacts, PlaybookSpec, StepSpec, TemplateSpec

if TYPE_CHECKING:
    from watchfloor.people.models import User

# Versions never change once loaded: each is parsed once per process. The digest is
# part of the key so a reused primary key cannot serve another version's content.
_playbook_specs: dict[tuple[int, str], PlaybookSpec] = {}
_template_specs: dict[tuple[int, str], TemplateSpec] = {}


def playbook_spec(version: PlaybookVersion) -> PlaybookSpec:
    key = (version.pk, version.digest)
    spec = _playbook_specs.get(key)
    if spec is None:
        spec = _playbook_specs[key] = PlaybookSpec.model_validate(version.content)
    return spec


def template_spec(version: TemplateVersion) -> TemplateSpec:
    key = (version.pk, version.digest)
    spec = _template_specs.get(key)
    if spec is None:
        spec = _template_specs[key] = TemplateSpec.model_validate(version.content)
    return spec


# A version's file, as stored and as reviewed: read only to parse a version not yet
# parsed by this process (``playbook_spec`` loads it then), not on every proposal.
VERSION_FILE_FIELDS = ("current_version__content", "current_version__source_text")


@shared_within
def active_playbooks() -> list[tuple[Playbook, PlaybookSpec]]:
    playbooks = (
        Playbook.objects.filter(is_active=True)
        .select_related("current_version")
        .defer(*VERSION_FILE_FIELDS)
    )
    return [(playbook, playbook_spec(playbook.current_version)) for playbook in playbooks]


def active_templates() -> dict[str, tuple[CommunicationTemplate, TemplateSpec]]:
    templates = CommunicationTemplate.objects.filter(is_active=True).select_related(
        "current_version"
    )
    return {t.code: (t, template_spec(t.current_version)) for t in templates}


def get_template(code: str) -> tuple[CommunicationTemplate, TemplateSpec]:
    template = (
        CommunicationTemplate.objects.filter(code=code, is_active=True)
        .select_related("current_version")
        .first()
    )
    if template is None:
        raise NotFound(f"no communication template '{code}'", field="template")
    return template, template_spec(template.current_version)


# ---------------------------------------------------------------- facts and proposals


def escalation_facts(
    escalation: Escalation, *, markets: list[str], clocks: list[Clock]
) -> EscalationFacts:
    return EscalationFacts(
        type=escalation.type.code,
        severity=escalation.severity,
        markets=tuple(markets),
        languages=tuple(escalation.languages or ()),
        is_high_visibility=escalation.is_high_visibility,
        is_restricted=escalation.is_restricted,
        has_statutory_clock=any(c.kind == Clock.Kind.STATUTORY for c in clocks),
    )


def current_facts(
    escalation: Escalation,
    *,
    clocks: list[Clock] | None = None,
    markets: list[str] | None = None,
) -> EscalationFacts:
    """Facts read afresh from the database (services, after a change); ``clocks`` and
    ``markets`` (codes) when the caller holds them as they now stand."""
    return escalation_facts(
        escalation,
        markets=list(escalation.markets.values_list("code", flat=True))
        if markets is None
        else markets,
        clocks=list(Clock.objects.filter(escalation=escalation)) if clocks is None else clocks,
    )


def prefetched_facts(escalation: Escalation) -> EscalationFacts:
    """Facts from what ``escalation_detail`` prefetched (no queries of their own)."""
    return escalation_facts(
        escalation,
        markets=[m.code for m in escalation.markets.all()],
        clocks=list(escalation.clocks.all()),
    )


@dataclass(frozen=True)
class Proposal:
    playbook: Playbook
    spec: PlaybookSpec
    rank: int
    type_specific: bool
    severity_levels: int
    market_specific: bool
    reasons: tuple[str, ...]
    active_run_id: int | None = None

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def auto_start(self) -> bool:
        return self.spec.auto_start

    def as_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "playbook": self.code, "why": list(self.reasons)}


def rank_proposals(
    facts: EscalationFacts,
    playbooks: list[tuple[Playbook, PlaybookSpec]],
    *,
    mildest_severity: int,
    active_runs: dict[str, int] | None = None,
) -> list[Proposal]:
    """The playbooks that apply, best first: a playbook written for this type before a
    general one, then the narrowest severity range, then one written for its market."""
    matches = []
    for playbook, spec in playbooks:
        applies = spec.applies_to
        if not applies.matches(facts):
            continue
        levels = applies.levels(mildest_severity)
        reasons = [
            # People read these: the type in words, not its code.
            f"written for {facts.type.replace('_', ' ')}"
            if applies.escalation_types
            else "applies to every type",
            f"covers SEV{levels.start}–SEV{levels.stop - 1}, including SEV{facts.severity}",
        ]
        market_hits = sorted(set(applies.markets) & set(facts.markets))
        reasons.append(
            f"written for {', '.join(market_hits)}" if market_hits else "applies in every market"
        )
        matches.append(
            (
                playbook,
                spec,
                bool(applies.escalation_types),
                len(levels),
                bool(market_hits),
                tuple(reasons),
            )
        )
    matches.sort(key=lambda m: (not m[2], m[3], not m[4], m[1].code))
    active_runs = active_runs or {}
    return [
        Proposal(
            playbook=playbook,
            spec=spec,
            rank=rank,
            type_specific=type_specific,
            severity_levels=width,
            market_specific=market_specific,
            reasons=reasons,
            active_run_id=active_runs.get(spec.code),
        )
        for rank, (playbook, spec, type_specific, width, market_specific, reasons) in enumerate(
            matches, start=1
        )
    ]


def proposals_for(
    escalation: Escalation,
    *,
    facts: EscalationFacts | None = None,
    active_runs: dict[str, int] | None = None,
) -> list[Proposal]:
    """The playbooks that apply, best first; ``active_runs`` (playbook code → run) when
    the caller knows them (none, on an escalation filed in this transaction)."""
    facts = facts or current_facts(escalation)
    active = (
        active_runs
        if active_runs is not None
        else dict(
            PlaybookRun.objects.filter(escalation=escalation, status=RunStatus.ACTIVE).values_list(
                "playbook__code", "pk"
            )
        )
    )
    return rank_proposals(
        facts,
        active_playbooks(),
        mildest_severity=rubric_for(escalation.catalog_version).mildest_level,
        active_runs=active,
    )


# ---------------------------------------------------------------- runs


def runs_visible_to(user: User) -> QuerySet[PlaybookRun]:
    """Runs across escalations, only of escalations ``user`` may see."""
    return PlaybookRun.objects.filter(escalation__in=escalations_visible_to(user)).select_related(
        "version", "escalation"
    )


def runs_for_escalation(escalation: Escalation) -> QuerySet[PlaybookRun]:
    """Every run of a visible escalation (the caller has checked access)."""
    return (
        PlaybookRun.objects.filter(escalation=escalation)
        .select_related("version", "playbook", "started_by")
        .prefetch_related(
            "steps__changed_by",
            "steps__approved_by",
            "role_holders__user",
        )
    )


def get_run(*, escalation: Escalation, run_id: int | str) -> PlaybookRun:
    run = (
        PlaybookRun.objects.filter(escalation=escalation, pk=run_id)
        .select_related("version", "playbook", "escalation")
        .first()
        if str(run_id).isdigit()
        else None
    )
    if run is None:
        raise NotFound(f"no playbook run {run_id} on {escalation.reference}", field="run_id")
    return run


def get_step(*, escalation: Escalation, step_id: int | str) -> RunStep:
    step = (
        RunStep.objects.filter(run__escalation=escalation, pk=step_id)
        .select_related("run__version", "run__escalation__type")
        .first()
        if str(step_id).isdigit()
        else None
    )
    if step is None:
        raise NotFound(f"no playbook step {step_id} on {escalation.reference}", field="step_id")
    return step


def waiting_on(step: RunStep, siblings: list[RunStep], spec: StepSpec) -> list[RunStep]:
    """The steps ``step`` waits for that are not yet done or skipped."""
    by_id = {s.step_id: s for s in siblings}
    return [
        by_id[dependency]
        for dependency in spec.after
        if dependency in by_id and by_id[dependency].state not in FINISHED_STATES
    ]
