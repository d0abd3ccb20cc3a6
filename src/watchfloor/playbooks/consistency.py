"""What must hold between a playbook or template file and everything it names.

The second of the two layers described in :mod:`watchfloor.playbooks.schema`: the
shapes there are well-formed; :func:`playbook_problems` and :func:`template_problems`
check the logic against what exists elsewhere. Roles, teams, templates, escalation types
and statutory rules that are named must exist; step dependencies must not form a cycle;
every step must be able to run for some escalation the playbook applies to; a step that
serves a statutory deadline must fall due before it; every language of a template must
use the English body's variables. The checks yield ``(location, message)`` pairs; the
loader adds file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from watchfloor.catalog.schema import Catalog, Location
from watchfloor.playbooks.schedule import Offset
from watchfloor.playbooks.schema import (
    ESCALATION_VARIABLES,
    VARIABLE,
    Assignee,
    PlaybookSpec,
    SeverityRange,
    TemplateSpec,
    severity_level,
)
from watchfloor.severity.rubric import parse_iso_duration

# Anything that looks like a placeholder but is not one (a typo such as "{{ title }" or
# "{{ escalation.title }}") would otherwise go out as literal braces.
_BRACES = re.compile(r"\{\{|\}\}")


@dataclass(frozen=True)
class StatutoryFigure:
    """How long a statutory rule allows, and whether that is the law's figure."""

    rule: str
    limit: timedelta
    is_law: bool


@dataclass(frozen=True)
class References:
    """What playbooks and templates may name, taken from the catalog and the templates."""

    teams: frozenset[str]
    escalation_types: frozenset[str]
    markets: frozenset[str]
    mildest_severity: int
    statutory_rules: dict[str, StatutoryFigure | None] = field(default_factory=dict)
    templates: frozenset[str] = frozenset()

    @classmethod
    def from_catalog(cls, catalog: Catalog, *, templates: Iterable[str] = ()) -> References:
        rules: dict[str, StatutoryFigure | None] = {}
        for rule in catalog.statutory_rules.rules:
            if rule.deadline:
                rules[rule.id] = StatutoryFigure(rule.id, parse_iso_duration(rule.deadline), True)
            elif rule.internal_target:
                rules[rule.id] = StatutoryFigure(
                    rule.id, parse_iso_duration(rule.internal_target), False
                )
            else:
                rules[rule.id] = None
        return cls(
            teams=frozenset(team.code for team in catalog.teams.teams),
            escalation_types=frozenset(t.code for t in catalog.escalation_types.escalation_types),
            markets=frozenset(market.code for market in catalog.markets.markets),
            mildest_severity=catalog.rubric.mildest_level,
            statutory_rules=rules,
            templates=frozenset(templates),
        )


def _listing(values: Iterable[str]) -> str:
    return ", ".join(sorted(values)) or "(none)"


def _unknown_codes(
    location: Location, codes: list[str], known: frozenset[str], what: str, where: str
) -> Iterator[tuple[Location, str]]:
    for index, code in enumerate(codes):
        if code not in known:
            yield (
                (*location, index),
                f"unknown {what} '{code}'; use one of {where}: {_listing(known)}",
            )


def _duplicates(entries: list[tuple[Location, str]], what: str) -> Iterator[tuple[Location, str]]:
    seen: dict[str, Location] = {}
    for location, code in entries:
        if code in seen:
            yield location, f"{what} '{code}' is used twice (also at {_path(seen[code])})"
        else:
            seen[code] = location


def _path(location: Location) -> str:
    from watchfloor.catalog.schema import format_location

    return format_location(location)


def _severity_problems(
    location: Location, spec: SeverityRange, mildest: int
) -> Iterator[tuple[Location, str]]:
    for key in ("severity_at_least", "severity_at_most"):
        value = getattr(spec, key)
        if value and severity_level(value) > mildest:
            yield (
                (*location, key),
                f"there is no {value}; the rubric's severities are SEV0 to SEV{mildest}",
            )


def _assignee_problems(
    location: Location, assignee: Assignee, roles: set[str], refs: References
) -> Iterator[tuple[Location, str]]:
    if assignee.role is not None and assignee.role not in roles:
        yield (
            (*location, "role"),
            f"unknown role '{assignee.role}'; add it under roles or use one of {_listing(roles)}",
        )
    if assignee.team is not None and assignee.team not in refs.teams:
        yield (
            (*location, "team"),
            f"unknown team '{assignee.team}'; use one of the catalog's teams: "
            f"{_listing(refs.teams)}",
        )


def find_cycle(dependencies: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a path (``[a, b, a]``), or None. Unknown names are ignored."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in dependencies.get(node, []):
            if nxt not in dependencies:
                continue
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in dependencies:
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def _base_offset(spec: PlaybookSpec, index: int) -> tuple[str, list[tuple[int, Offset]]] | None:
    """Follow ``previous_step`` anchors back to a fixed anchor: (anchor, signed offsets)."""
    offsets: list[tuple[int, Offset]] = []
    while True:
        due = spec.steps[index].due
        if due is None:
            return None
        offsets.append((due.sign, due.offset))
        if due.from_ != "previous_step":
            return due.from_, offsets
        if index == 0:
            return None
        index -= 1


def playbook_problems(spec: PlaybookSpec, refs: References) -> Iterator[tuple[Location, str]]:
    """Everything about ``spec`` that is well-formed but wrong, with where it is."""
    applies = spec.applies_to
    yield from _unknown_codes(
        ("applies_to", "escalation_types"),
        applies.escalation_types,
        refs.escalation_types,
        "escalation type",
        "the catalog's types",
    )
    yield from _unknown_codes(
        ("applies_to", "markets"), applies.markets, refs.markets, "market", "the catalog's markets"
    )
    yield from _severity_problems(("applies_to",), applies, refs.mildest_severity)
    yield from _duplicates(
        [(("roles", i, "code"), r.code) for i, r in enumerate(spec.roles)], "role"
    )
    yield from _duplicates(
        [(("steps", i, "id"), s.id) for i, s in enumerate(spec.steps)], "step id"
    )

    roles = {role.code for role in spec.roles}
    step_ids = {step.id for step in spec.steps}
    applicable_levels = set(applies.levels(refs.mildest_severity))
    for i, step in enumerate(spec.steps):
        here: Location = ("steps", i)
        yield from _assignee_problems((*here, "owner"), step.owner, roles, refs)
        if step.approval is not None:
            yield from _assignee_problems((*here, "approval"), step.approval, roles, refs)
        for j, notification in enumerate(step.notify):
            yield from _assignee_problems((*here, "notify", j), notification, roles, refs)
        yield from _unknown_codes(
            (*here, "templates"), step.templates, refs.templates, "template", "the templates"
        )
        yield from _duplicates(
            [((*here, "checklist", j, "id"), c.id) for j, c in enumerate(step.checklist)],
            "checklist item",
        )
        yield from _duplicates(
            [
                ((*here, "requires", "evidence", j, "id"), e.id)
                for j, e in enumerate(step.requires.evidence)
            ],
            "evidence item",
        )
        for j, dependency in enumerate(step.after):
            if dependency == step.id:
                yield (*here, "after", j), f"step '{step.id}' cannot wait for itself"
            elif dependency not in step_ids:
                yield (
                    (*here, "after", j),
                    f"unknown step '{dependency}'; the steps are {_listing(step_ids)}",
                )
        if step.serves and step.serves != "statutory" and step.serves not in refs.statutory_rules:
            yield (
                (*here, "serves"),
                f"unknown statutory rule '{step.serves}'; use 'statutory' or a rule id from "
                "statutory_rules.yaml",
            )
        yield from _due_problems(spec, i, refs)
        if step.when is not None:
            yield from _condition_problems(spec, i, applicable_levels, refs)

    dependencies = {step.id: list(step.after) for step in spec.steps}
    cycle = find_cycle(dependencies)
    if cycle:
        first = next(i for i, step in enumerate(spec.steps) if step.id == cycle[0])
        yield (
            ("steps", first, "after"),
            f"steps wait for each other in a cycle: {' → '.join(cycle)}; none of them could "
            "ever start",
        )


def _condition_problems(
    spec: PlaybookSpec, index: int, applicable_levels: set[int], refs: References
) -> Iterator[tuple[Location, str]]:
    step = spec.steps[index]
    when = step.when
    assert when is not None
    here: Location = ("steps", index, "when")
    yield from _unknown_codes(
        (*here, "types"),
        when.types,
        refs.escalation_types,
        "escalation type",
        "the catalog's types",
    )
    yield from _unknown_codes(
        (*here, "markets"), when.markets, refs.markets, "market", "the catalog's markets"
    )
    yield from _severity_problems(here, when, refs.mildest_severity)
    unreachable = f"step '{step.id}' is unreachable:"
    applies = spec.applies_to
    if (
        when.types
        and applies.escalation_types
        and not set(when.types) & set(applies.escalation_types)
    ):
        yield (
            (*here, "types"),
            f"{unreachable} the playbook only applies to {_listing(applies.escalation_types)}",
        )
    if when.severity_at_least or when.severity_at_most:
        levels = set(when.levels(refs.mildest_severity))
        if not levels & applicable_levels:
            yield (
                here,
                f"{unreachable} its severities never meet the playbook's "
                f"(SEV{min(applicable_levels)}–SEV{max(applicable_levels)})",
            )
    # An escalation may span markets, so disjoint lists only prove a step unreachable when
    # the playbook itself applies in a single market.
    if len(applies.markets) == 1 and when.markets and applies.markets[0] not in when.markets:
        yield (
            (*here, "markets"),
            f"{unreachable} the playbook only applies in {applies.markets[0]}",
        )
    due = step.due
    if (
        when.has_statutory_clock is False
        and due is not None
        and due.from_ == "statutory"
        and due.otherwise is None
    ):
        yield (
            (*here, "has_statutory_clock"),
            f"step '{step.id}' only runs without a statutory clock, but its due time counts "
            "from the statutory deadline; anchor it elsewhere",
        )


def _due_problems(
    spec: PlaybookSpec, index: int, refs: References
) -> Iterator[tuple[Location, str]]:
    step = spec.steps[index]
    here: Location = ("steps", index, "due")
    if step.due is None:
        if step.serves:
            yield (
                ("steps", index, "serves"),
                f"step '{step.id}' serves a statutory deadline but has no due time; give it one "
                "before the deadline",
            )
        return
    if step.due.from_ == "previous_step" and index == 0:
        yield (*here, "from"), "the first step has no previous step to count from"
        return
    for key, due in (("due", step.due), ("otherwise", step.due.otherwise)):
        if due is not None and key == "otherwise" and due.from_ == "previous_step" and index == 0:
            yield (*here, "otherwise", "from"), "the first step has no previous step to count from"
    if not step.serves:
        return
    base = _base_offset(spec, index)
    if base is None:
        return
    anchor, offsets = base
    # Statically known only when nothing between is counted in business time.
    if anchor == "statutory":
        total = timedelta()
        for sign, offset in offsets:
            total += sign * offset.longest()
        if total > timedelta():
            yield (
                here,
                f"step '{step.id}' serves the statutory deadline but falls due "
                f"{_span(total)} after it; count back with 'before', e.g. before: PT1H",
            )
        return
    if anchor != "opened" or step.serves == "statutory":
        return
    figure = refs.statutory_rules.get(step.serves)
    if figure is None:
        return
    # The worst case: each business-time offset at its longest (started on a Friday evening).
    total = timedelta()
    for sign, offset in offsets:
        total += sign * (offset.longest() if sign > 0 else offset.shortest())
    if total > figure.limit:
        basis = "the law allows" if figure.is_law else "the internal target for this rule is"
        yield (
            here,
            f"step '{step.id}' serves {figure.rule}, for which {basis} {_span(figure.limit)}, "
            f"but can fall due {_span(total)} after the escalation opened; bring it forward "
            f"or count back from the deadline (from: statutory, before: …)",
        )


def _span(delta: timedelta) -> str:
    from watchfloor.severity.rubric import describe_duration

    return describe_duration(delta)


def template_problems(spec: TemplateSpec) -> Iterator[tuple[Location, str]]:
    known = spec.variables
    yield from _duplicates(
        [(("inputs", i, "name"), item.name) for i, item in enumerate(spec.inputs)], "input"
    )
    for i, item in enumerate(spec.inputs):
        if item.name in ESCALATION_VARIABLES:
            yield (
                ("inputs", i, "name"),
                f"'{item.name}' is already filled from the escalation; choose another name",
            )
    for language, body in spec.bodies.items():
        for part in ("subject", "body"):
            text = getattr(body, part)
            for name in unknown_variables(text, known):
                yield (
                    ("bodies", language, part),
                    f"unknown variable '{{{{ {name} }}}}'; use one of {_listing(known)}, or "
                    "declare it under inputs",
                )
            if _BRACES.search(VARIABLE.sub("", text)):
                yield (
                    ("bodies", language, part),
                    "'{{' or '}}' that is not a variable: write variables as {{ name }}",
                )
    yield from variable_parity(
        {language: (body.subject, body.body) for language, body in spec.bodies.items()}
    )


def variables_in(text: str) -> set[str]:
    return {match.group("name") for match in VARIABLE.finditer(text)}


def variable_parity(bodies: dict[str, tuple[str, str]]) -> Iterator[tuple[Location, str]]:
    """Each language's subject and body use the very variables of the English ones: a
    translation that drops ``{{ deadline }}`` or invents ``{{ dedline }}`` would send a
    text that says less than the English, or a blank. ``bodies``: language → (subject,
    body)."""
    english = bodies.get("en")
    if english is None:
        return
    for language, texts in bodies.items():
        if language == "en":
            continue
        for part, text, reference in zip(("subject", "body"), texts, english, strict=True):
            used, expected = variables_in(text), variables_in(reference)
            missing, extra = sorted(expected - used), sorted(used - expected)
            if missing or extra:
                said = []
                if missing:
                    said.append("lacks " + ", ".join(f"{{{{ {n} }}}}" for n in missing))
                if extra:
                    said.append("adds " + ", ".join(f"{{{{ {n} }}}}" for n in extra))
                yield (
                    ("bodies", language, part),
                    f"the '{language}' {part} {' and '.join(said)}: every language must use "
                    f"the variables of the English {part}",
                )


def unknown_variables(text: str, known: set[str]) -> list[str]:
    names = []
    for match in VARIABLE.finditer(text):
        name = match.group("name")
        if name not in known and name not in names:
            names.append(name)
    return names
