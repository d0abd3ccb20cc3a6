"""Pre-drafting a sitrep from what changed since the last one to the same audience.

The draft fills the audience's template (``sitreps/<audience>.yaml``) in the chosen
language with the record: counts, level changes, new escalations, decisions, open asks,
next steps and key facts. How much it says depends on the audience's ``detail``:

- ``full`` (leadership): everything the drafter may see, with case titles and names;
- ``partner``: escalations by reference and type only (no titles, which may name
  people), nothing from restricted escalations;
- ``public``: nothing about individual cases — only the markets and the kinds of
  action taken.

A sitrep is read by everyone who may open the crisis (the leadership one by everyone but
partners), not only by its author. So the shared text — the template filled in — is
composed from what every one of its readers may see: the crisis itself and its
unrestricted escalations, counted among those only. What the author knows of a
restricted escalation goes into a section of its own (:class:`DraftSection`), one per
escalation, kept apart when sent (``SitrepSection``) and shown only to readers who may see
that escalation; the others are not told it exists. The draft says so before it is sent
(:attr:`SitrepDraft.warnings`).

The person sending it edits the draft; what is recorded is what they send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from watchfloor.audit.events import AuditAction
from watchfloor.core.errors import InvalidInput
from watchfloor.core.languages import preferred_language
from watchfloor.crises import selectors
from watchfloor.crises.config import Audience, CrisisConfig, SitrepTemplate, crisis_config
from watchfloor.crises.models import Crisis, CrisisEscalation, CrisisNote, Level, Sitrep
from watchfloor.escalations.models import Clock, Decision
from watchfloor.playbooks.rendering import fill_variables

if TYPE_CHECKING:
    from watchfloor.markets.models import Market
    from watchfloor.people.models import User


@dataclass(frozen=True)
class DraftSection:
    """What the sitrep says about one restricted escalation: for its readers only."""

    escalation_id: int
    reference: str
    body: str


@dataclass(frozen=True)
class SitrepDraft:
    audience: Audience
    language: str
    languages: tuple[str, ...]
    number: int
    subject: str
    body: str
    covers_from: datetime
    template_digest: str
    sections: tuple[DraftSection, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the author should know before sending: who will not read what."""
        count = len(self.sections)
        if not count:
            return ()
        if count == 1:
            return (
                "1 section concerns a restricted escalation: readers outside its access list "
                "will not see it.",
            )
        return (
            f"{count} sections concern restricted escalations: readers outside their access "
            "lists will not see them.",
        )


def crisis_primary_market(crisis: Crisis) -> Market | None:
    """The crisis's primary market: the escalation's it was declared from, when that is
    one of the crisis's markets (an Osaka attack with copies reachable in Australia is in
    Tokyo time, not in the alphabetically first market's); else its first market by code."""
    markets = list(crisis.markets.all())
    origin = crisis.declared_from if crisis.declared_from_id else None
    origin_market_id = origin.primary_market_id if origin is not None else None
    primary = next((m for m in markets if m.pk == origin_market_id), None)
    return primary or (markets[0] if markets else None)


def crisis_zone(crisis: Crisis) -> ZoneInfo:
    """The zone of the crisis's primary market (UTC without one): the one its texts and
    the war room's market times use."""
    primary = crisis_primary_market(crisis)
    return ZoneInfo(primary.primary_time_zone) if primary else ZoneInfo("UTC")


def default_sitrep_language(*, crisis: Crisis, audience: Audience, template: SitrepTemplate) -> str:
    """The language a sitrep is drafted in unless the author picks another: the first the
    template has of the audience's own languages (crisis.yaml); for a partner or public
    audience, then the crisis's languages and its primary market's (Legal and Public
    Policy in Seoul, the public in Korea, read Korean); English otherwise."""
    wanted = list(audience.languages)
    if audience.detail in ("partner", "public"):
        primary = crisis_primary_market(crisis)
        wanted += list(crisis.languages or [])
        wanted += list(primary.languages or []) if primary is not None else []
    return preferred_language(wanted, template.bodies)


def format_moment(moment: datetime | None, zone: ZoneInfo) -> str:
    """'2026-11-24 09:30 JST (00:30 UTC)': a time with its zone, and UTC beside it."""
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    name = local.strftime("%Z")
    name = f"UTC{name}" if name[:1] in "+-" else name
    text = f"{local:%Y-%m-%d %H:%M} {name}"
    if zone.key != "UTC":
        text += f" ({moment.astimezone(UTC):%H:%M} UTC)"
    return text


def _lines(items: list[str], none: str) -> str:
    return "\n".join(f"- {item}" for item in items) if items else none


def draft_sitrep(
    *,
    crisis: Crisis,
    audience: str,
    language: str,
    viewer: User,
    now: datetime,
    config: CrisisConfig | None = None,
) -> SitrepDraft:
    config = config or crisis_config()
    spec = config.settings.audience(audience)
    if spec is None:
        raise InvalidInput(
            f"unknown audience '{audience}'; use one of "
            + ", ".join(a.code for a in config.settings.sitreps.audiences),
            field="audience",
        )
    loaded = config.template(audience)
    template = loaded.spec
    if language not in template.bodies:
        raise InvalidInput(
            f"the {spec.name} sitrep is written in {', '.join(template.bodies)}, not '{language}'",
            field="language",
        )
    previous = Sitrep.objects.filter(crisis=crisis, audience=audience).order_by("-number").first()
    since = previous.sent_at if previous else crisis.declared_at
    number = previous.number + 1 if previous else 1
    values, sections = _values(
        crisis=crisis,
        spec=spec,
        template=template,
        language=language,
        viewer=viewer,
        now=now,
        since=since,
        inclusive=previous is None,
        number=number,
        config=config,
    )
    body = template.bodies[language]
    return SitrepDraft(
        audience=spec,
        language=language,
        languages=tuple(template.bodies),
        number=number,
        subject=fill_variables(body.subject, values, missing=""),
        body=fill_variables(body.body, values, missing=""),
        covers_from=since,
        template_digest=loaded.digest,
        sections=sections,
    )


def _values(
    *,
    crisis: Crisis,
    spec: Audience,
    template: SitrepTemplate,
    language: str,
    viewer: User,
    now: datetime,
    since: datetime,
    inclusive: bool,
    number: int,
    config: CrisisConfig,
) -> tuple[dict[str, str], tuple[DraftSection, ...]]:
    """The template's values, from what every reader may see, and the sections on the
    restricted escalations the author may see (full detail only)."""
    detail = spec.detail
    zone = crisis_zone(crisis)
    none = template.word(language, "none")

    def level_word(level: str) -> str:
        return template.word(language, f"level.{level}")

    seen_by_author = selectors.visible_links(crisis=crisis, viewer=viewer)
    # Every reader of a crisis may see its unrestricted escalations; a restricted one is
    # for its access list, so it gets a section of its own, and only in full detail.
    links = [link for link in seen_by_author if not link.escalation.is_restricted]
    restricted = (
        [link for link in seen_by_author if link.escalation.is_restricted]
        if detail == "full"
        else []
    )
    shared_ids = {link.escalation_id for link in links}
    current = selectors.current_assignments(crisis)
    slots = selectors.role_slots(
        market_codes=[m.code for m in crisis.markets.all()], current=current
    )
    commander = next((s.holder for s in slots if s.role == "incident_commander"), None)

    def name_of(link: CrisisEscalation) -> str:
        escalation = link.escalation
        if detail == "full":
            return f"{escalation.reference} {escalation.title}"
        return f"{escalation.reference} ({escalation.type.name})"

    # The first sitrep covers the declaration itself; later ones start after the last.
    def in_period(moment: datetime) -> bool:
        return moment >= since if inclusive else moment > since

    after = "created_at__gte" if inclusive else "created_at__gt"
    drafted = [*links, *restricted]
    new_links = [link for link in links if in_period(link.linked_at) and not link.is_origin]
    all_decisions = sorted(
        (
            decision
            for link in drafted
            for decision in link.escalation.decisions.all()
            if in_period(decision.decided_at)
        ),
        key=lambda d: d.decided_at,
    )
    decisions = [d for d in all_decisions if d.escalation_id in shared_ids]
    war_room_decisions = list(
        crisis.notes.filter(kind=CrisisNote.Kind.DECISION, **{after: since}).order_by("created_at")
    )
    entries_in_period = crisis.notes.filter(**{after: since}).count()
    level_changes = [
        event
        for event in selectors.crisis_events(crisis, since=since)
        if event.action == AuditAction.CRISIS_LEVEL_CHANGED
    ]
    statutory = [
        c for link in links for c in link.escalation.clocks.all() if c.kind == Clock.Kind.STATUTORY
    ]
    running = [c for c in statutory if c.met_at is None]
    breached = [c for c in running if c.due_at < now]
    all_pending = selectors.pending_decisions(drafted)
    pending = [d for d in all_pending if d.escalation_id in shared_ids]

    def word(key: str, **values: object) -> str:
        return template.word(language, key, **values)

    counts = [
        word(
            "counts.linked",
            total=len(links),
            open=sum(1 for link in links if link.escalation.is_open),
        ),
        word("counts.new", count=len(new_links)),
        word("counts.decisions", count=len(decisions) + len(war_room_decisions))
        + (word("counts.awaiting", count=len(pending)) if pending else ""),
        word("counts.statutory", count=len(running))
        + (word("counts.breached", count=len(breached)) if breached else ""),
    ]
    if detail == "full":
        counts.append(word("counts.entries", count=entries_in_period))

    # Each line below comes with the escalation it is about (None: the crisis itself), so
    # the shared text takes the shared ones and each section its own.
    all_decision_lines: list[tuple[int | None, str]] = [
        (
            decision.escalation_id,
            f"WF-{decision.escalation_id}: "
            f"{decision.action.label}"
            + (f" in {', '.join(decision.countries)}" if decision.countries else "")
            + f" under {decision.policy_version.policy.name} v{decision.policy_version.version}"
            + f" — {Decision.State(decision.state).label.lower()}",
        )
        for decision in all_decisions
    ]
    all_decision_lines.extend(
        (None, f"{word('war_room')}: {note.body}") for note in war_room_decisions
    )

    all_asks: list[tuple[int | None, str]] = [
        (
            d.escalation_id,
            word("ask.approval", reference=f"WF-{d.escalation_id}", action=d.action.label),
        )
        for d in all_pending
    ]
    drafted_ids = [link.escalation_id for link in drafted]
    requests = selectors.open_partner_requests(viewer=viewer, escalation_ids=drafted_ids, now=now)
    all_asks.extend(
        (
            row.request.escalation_id,
            word(
                "ask.request",
                reference=f"WF-{row.request.escalation_id}",
                team=row.request.team.name,
                kind=row.request.get_kind_display(),
                due=format_moment(row.request.due_at, zone),
            )
            + (word("deadline.breached") if row.is_overdue else ""),
        )
        for row in requests
    )
    all_asks.extend(
        (pk, f"WF-{pk}: {team.replace('_', ' ')} — {title}")
        for pk, title, team in selectors.partner_owned_open_steps(
            viewer=viewer, escalation_ids=drafted_ids
        )
    )

    handoff = selectors.next_handoff(crisis, now, config=config)
    upcoming = [
        d
        for d in selectors.crisis_deadlines(
            crisis=crisis,
            viewer=viewer,
            links=drafted,
            now=now,
            config=config,
            handoff=handoff,
            requests=requests,
        )
        if d.kind not in ("sitrep", "request")
    ]
    all_next_steps: list[tuple[int | None, str]] = [
        (
            d.escalation_id,
            f"{format_moment(d.due_at, zone)}: {d.label} ({d.source})"
            + (word("deadline.breached") if d.is_breached else ""),
        )
        for d in upcoming
    ]

    def shared(lines: list[tuple[int | None, str]]) -> list[str]:
        return [text for pk, text in lines if pk is None or pk in shared_ids]

    def own(lines: list[tuple[int | None, str]], pk: int) -> list[str]:
        return [text for line_pk, text in lines if line_pk == pk]

    def state_line(link: CrisisEscalation) -> str:
        return (
            f"{name_of(link)}: {link.escalation.severity_name}, "
            f"{link.escalation.get_status_display()}"
            + (
                f", owner {link.escalation.owner.display_name}"
                if detail == "full" and link.escalation.owner
                else ""
            )
        )

    decision_lines = shared(all_decision_lines)
    asks = shared(all_asks)
    next_steps = shared(all_next_steps)
    sections = tuple(
        DraftSection(
            escalation_id=link.escalation_id,
            reference=link.escalation.reference,
            body="\n".join(
                [
                    state_line(link)
                    + (
                        word("section.new")
                        if in_period(link.linked_at) and not link.is_origin
                        else ""
                    ),
                    *(
                        f"- {text}"
                        for text in (
                            *own(all_decision_lines, link.escalation_id),
                            *own(all_asks, link.escalation_id),
                            *own(all_next_steps, link.escalation_id),
                        )
                    ),
                ]
            ),
        )
        for link in restricted
    )

    interval = config.settings.sitrep_interval(crisis.level)
    if spec.keeps_cadence:
        next_due = max(now, crisis.level_changed_at) + interval if interval else None
    else:
        next_due = crisis.next_sitrep_due_at

    final_actions: dict[str, set[str]] = {}
    for link in links:
        for decision in link.escalation.decisions.all():
            if decision.state == Decision.State.FINAL:
                final_actions.setdefault(decision.action.label, set()).update(decision.countries)
    actions_taken = [
        f"{label} ({', '.join(sorted(countries))})" if countries else label
        for label, countries in sorted(final_actions.items())
    ]

    values = {
        "reference": crisis.reference,
        "title": crisis.title,
        "summary": crisis.summary,
        "level": level_word(crisis.level),
        "number": str(number),
        "period_start": format_moment(since, zone),
        "sent_at": format_moment(now, zone),
        "markets": ", ".join(m.code for m in crisis.markets.all()),
        "market_names": ", ".join(m.name for m in crisis.markets.all()),
        "commander": commander.display_name if commander else none,
        "roles": _lines(
            [f"{slot.label}: {slot.holder.display_name}" for slot in slots if slot.holder], none
        ),
        "counts": _lines(counts, none),
        "level_changes": _lines(
            [
                f"{format_moment(event.occurred_at, zone)}: "
                f"{level_word(event.data.get('from', ''))} → {level_word(event.data.get('to', ''))}"
                + (f" ({event.data['reason']})" if event.data.get("reason") else "")
                for event in level_changes
            ],
            none,
        ),
        "new_escalations": _lines([name_of(link) for link in new_links], none),
        "escalation_states": _lines([state_line(link) for link in links], none),
        "decisions": _lines(decision_lines, none),
        "actions_taken": _lines(actions_taken, none),
        "open_asks": _lines(asks, none),
        "next_steps": _lines(next_steps, none),
        "key_facts": _lines(
            [note.body for note in selectors.pinned_notes(crisis).order_by("created_at")],
            none,
        ),
        "next_sitrep": format_moment(next_due, zone)
        if next_due
        else template.word(language, "no_sitrep_due"),
    }
    if detail == "public":
        # Nothing about individual cases, people or internal levels leaves the building.
        for name in (
            "title",
            "summary",
            "commander",
            "roles",
            "counts",
            "level_changes",
            "new_escalations",
            "escalation_states",
            "decisions",
            "open_asks",
            "next_steps",
            "key_facts",
            "reference",
            "level",
        ):
            values[name] = ""
    if crisis.level == Level.CLOSED:
        values["next_sitrep"] = template.word(language, "no_sitrep_due")
    return values, sections
