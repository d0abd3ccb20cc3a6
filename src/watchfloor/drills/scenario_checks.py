"""What must hold in a drill scenario beyond each value's shape, in two layers: the file
on its own (offsets within the duration, unique inject ids, references between injects,
responses and the cast), and the file against the catalog and playbook library in force
(escalation types, markets, statutory rules, policies, teams, playbook steps). Each
problem is a path inside the file and a message; ``scenario_files`` adds the file and
the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta

from watchfloor.catalog.schema import Location
from watchfloor.drills.scenarios import DEFAULT_SOURCES, DEFAULT_TYPES, TO_IS_CAST, Scenario


def scenario_problems(spec: Scenario) -> Iterator[tuple[Location, str]]:
    """What must hold across a scenario, beyond each value's shape."""
    length = spec.length
    if length <= timedelta(0):
        yield ("duration",), 'a drill lasts longer than nothing; give it, e.g. "+6h"'
    ids: dict[str, int] = {}
    for index, inject in enumerate(spec.injects):
        if inject.offset > length:
            yield (
                ("injects", index, "at"),
                f"{inject.at} is after the drill ends ({spec.duration}); lengthen duration",
            )
        if inject.id is None:
            continue
        if inject.id in ids:
            yield ("injects", index, "id"), f"inject id '{inject.id}' is given twice"
        else:
            ids[inject.id] = index
    escalation_ids = {i.id: i for i in spec.injects if i.id and i.creates_escalation}
    commander = spec.cast.get(spec.crisis.commander)
    if commander is None:
        yield ("crisis", "commander"), _unknown_cast(spec, spec.crisis.commander)
    elif commander.role not in ("lead", "admin"):
        yield (
            ("crisis", "commander"),
            f"'{spec.crisis.commander}' is a{'n' if commander.role[0] in 'aeiou' else ''} "
            f"{commander.role}; a drill is started and commanded by a lead or an admin",
        )
    if spec.crisis.opens_with is not None:
        opening = escalation_ids.get(spec.crisis.opens_with)
        if opening is None:
            yield (
                ("crisis", "opens_with"),
                f"'{spec.crisis.opens_with}' is not the id of an escalation, regulator_notice "
                "or media_inquiry inject",
            )
        elif opening.offset != timedelta(0):
            yield (
                ("crisis", "opens_with"),
                f"the crisis opens at the start, but '{opening.id}' comes at {opening.at}; "
                'move it to "+0m"',
            )
    for index, inject in enumerate(spec.injects):
        if inject.ask is not None:
            target = escalation_ids.get(inject.ask.escalation)
            if target is None:
                yield (
                    ("injects", index, "ask", "escalation"),
                    f"'{inject.ask.escalation}' is not the id of an inject that opens an "
                    "escalation",
                )
            elif target.offset > inject.offset:
                yield (
                    ("injects", index, "ask", "escalation"),
                    f"'{target.id}' arrives at {target.at}, after this message ({inject.at})",
                )
    asks = {i.id: i for i in spec.injects if i.id and i.ask is not None}
    for index, response in enumerate(spec.responses):
        where = ("responses", index)
        if response.offset > length:
            yield (*where, "at"), f"{response.at} is after the drill ends ({spec.duration})"
        if response.actor not in spec.cast:
            yield (*where, "as"), _unknown_cast(spec, response.actor)
        if response.approve_as is not None and response.approve_as not in spec.cast:
            yield (*where, "approve_as"), _unknown_cast(spec, response.approve_as)
        if response.do in TO_IS_CAST and response.to and response.to not in spec.cast:
            yield (*where, "to"), _unknown_cast(spec, response.to)
        if response.escalation is not None:
            target = escalation_ids.get(response.escalation)
            if target is None:
                yield (
                    (*where, "escalation"),
                    f"'{response.escalation}' is not the id of an inject that opens an "
                    "escalation; use one of " + (", ".join(sorted(escalation_ids)) or "(none)"),
                )
            elif target.offset > response.offset:
                yield (
                    (*where, "at"),
                    f"'{target.id}' arrives at {target.at}; a response at {response.at} "
                    "would come before it",
                )
        if response.do == "answer_partner_request" and response.inject is not None:
            message = asks.get(response.inject)
            if message is None:
                yield (
                    (*where, "inject"),
                    f"'{response.inject}' is not a partner_message inject with an ask",
                )
            elif message.offset > response.offset:
                yield (*where, "at"), f"'{message.id}' arrives at {message.at}, after {response.at}"
    for index, key in enumerate(spec.expect.on_time):
        prefix = key.split(":", 1)[0]
        if ":" not in key or (prefix != "sitrep" and prefix not in escalation_ids):
            yield (
                ("expect", "on_time", index),
                f"'{key}' is not an item key; write <inject id>:<step id>, "
                "<inject id>:acknowledge, <inject id>:first_action, <inject id>:statutory "
                "or sitrep:<number>",
            )


def _unknown_cast(spec: Scenario, name: str) -> str:
    return f"'{name}' is not in the cast; use one of {', '.join(sorted(spec.cast))}"


# ---------------------------------------------------------------- checks against the catalog


def catalog_problems(spec: Scenario) -> Iterator[tuple[Location, str]]:
    """What the scenario names must exist in the catalog and the playbook library in force.
    Needs the database; call only once a catalog is active."""
    from watchfloor.coordination.models import RequestKind
    from watchfloor.crises.config import crisis_config
    from watchfloor.crises.models import RoleKind
    from watchfloor.escalations.models import EscalationType, SourceKind, Status, Subject
    from watchfloor.markets.models import Market, StatutoryRule
    from watchfloor.people.models import Team
    from watchfloor.playbooks.selectors import active_playbooks
    from watchfloor.policy.models import EnforcementAction, Policy

    types = set(EscalationType.objects.values_list("code", flat=True))
    markets = set(Market.objects.values_list("code", flat=True))
    rules = set(StatutoryRule.objects.values_list("code", flat=True))
    policies = set(Policy.objects.values_list("code", flat=True))
    actions = set(EnforcementAction.objects.values_list("code", flat=True))
    teams = dict(Team.objects.values_list("code", "kind"))
    partner_teams = {code for code, kind in teams.items() if kind == Team.Kind.PARTNER}
    playbooks = active_playbooks()
    codes = [(p.code, s) for p, s in playbooks]

    def market_problems(codes: Iterable[str], where: Location) -> Iterator[tuple[Location, str]]:
        for i, code in enumerate(codes):
            if code not in markets:
                yield (*where, i), f"unknown market '{code}'"

    yield from market_problems(spec.markets, ("markets",))
    for name, member in spec.cast.items():
        if member.team is not None and member.team not in teams:
            yield ("cast", name, "team"), f"unknown team '{member.team}'"
    steps_by_inject: dict[str, set[str]] = {}
    roles_by_inject: dict[str, set[str]] = {}
    for index, inject in enumerate(spec.injects):
        where: Location = ("injects", index)
        if inject.escalation is not None:
            esc = inject.escalation
            type_code = esc.type or DEFAULT_TYPES.get(inject.kind)
            if type_code is None:
                yield (*where, "escalation", "type"), "say which escalation type it is"
            elif type_code not in types:
                yield (*where, "escalation", "type"), f"unknown escalation type '{type_code}'"
            yield from market_problems(esc.markets, (*where, "escalation", "markets"))
            source = esc.source or DEFAULT_SOURCES.get(inject.kind, "internal")
            if source not in SourceKind.values:
                yield (
                    (*where, "escalation", "source"),
                    f"unknown source '{source}'; use one of {', '.join(SourceKind.values)}",
                )
            for i, team in enumerate(esc.shared_with):
                if team not in partner_teams:
                    yield (*where, "escalation", "shared_with", i), f"unknown partner team '{team}'"
            for i, subject in enumerate(esc.subjects):
                if subject.kind not in Subject.Kind.values:
                    yield (
                        (*where, "escalation", "subjects", i, "kind"),
                        f"unknown subject kind '{subject.kind}'; use one of "
                        + ", ".join(Subject.Kind.values),
                    )
            if inject.id and type_code:
                fitting = [
                    s
                    for _, s in playbooks
                    if not s.applies_to.escalation_types
                    or type_code in s.applies_to.escalation_types
                ]
                steps_by_inject[inject.id] = {st.id for s in fitting for st in s.steps}
                roles_by_inject[inject.id] = {r.code for s in fitting for r in s.roles}
        if inject.notice is not None and inject.notice.rule not in rules:
            yield (*where, "notice", "rule"), f"unknown statutory rule '{inject.notice.rule}'"
        if inject.signals is not None:
            if inject.signals.market not in markets:
                yield (*where, "signals", "market"), f"unknown market '{inject.signals.market}'"
            if inject.signals.policy not in policies:
                yield (*where, "signals", "policy"), f"unknown policy '{inject.signals.policy}'"
        if inject.ask is not None:
            if inject.ask.team not in partner_teams:
                yield (*where, "ask", "team"), f"unknown partner team '{inject.ask.team}'"
            if inject.ask.kind not in RequestKind.values:
                yield (
                    (*where, "ask", "kind"),
                    f"unknown request kind '{inject.ask.kind}'; use one of "
                    + ", ".join(RequestKind.values),
                )
    audiences = {a.code for a in crisis_config().settings.sitreps.audiences}
    for index, response in enumerate(spec.responses):
        where = ("responses", index)
        known_steps = steps_by_inject.get(response.escalation or "", set())
        if response.step and response.escalation and response.step not in known_steps:
            yield (
                (*where, "step"),
                f"no playbook for '{response.escalation}' has a step '{response.step}'; "
                "its steps are " + (", ".join(sorted(known_steps)) or "(none)"),
            )
        if response.do == "assign_playbook_role" and response.role not in roles_by_inject.get(
            response.escalation or "", set()
        ):
            yield (
                (*where, "role"),
                f"no playbook for '{response.escalation}' has a role '{response.role}'",
            )
        if response.playbook is not None and response.playbook not in {c for c, _ in codes}:
            yield (*where, "playbook"), f"no active playbook '{response.playbook}'"
        if response.do == "hand_over_role" and response.role not in RoleKind.values:
            yield (
                (*where, "role"),
                f"unknown crisis role '{response.role}'; use one of {', '.join(RoleKind.values)}",
            )
        if response.do == "transition" and response.to not in Status.values:
            yield (
                (*where, "to"),
                f"unknown status '{response.to}'; use one of {', '.join(Status.values)}",
            )
        if response.do == "change_level" and response.to not in (
            "monitoring",
            "incident",
            "crisis_protocol",
            "stand_down",
        ):
            yield (*where, "to"), f"unknown level '{response.to}'"
        if response.do == "send_sitrep" and response.audience not in audiences:
            yield (
                (*where, "audience"),
                f"unknown audience '{response.audience}'; use one of "
                + ", ".join(sorted(audiences)),
            )
        if response.decision is not None:
            if response.decision.policy not in policies:
                yield (*where, "decision", "policy"), f"unknown policy '{response.decision.policy}'"
            if response.decision.action not in actions:
                yield (
                    (*where, "decision", "action"),
                    f"unknown enforcement action '{response.decision.action}'",
                )
    for index, key in enumerate(spec.expect.on_time):
        prefix, _, item = key.partition(":")
        if prefix in steps_by_inject and item not in (
            steps_by_inject[prefix] | {"acknowledge", "first_action", "statutory"}
        ):
            yield ("expect", "on_time", index), f"'{key}': '{item}' is no step or clock of {prefix}"
