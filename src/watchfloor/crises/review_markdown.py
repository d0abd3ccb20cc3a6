"""A post-incident review as Markdown, for the export: the facts of
:func:`watchfloor.crises.review.review_facts` (already built for their reader) and what the
team wrote, as headings, lists and tables. Values in lists and tables are put on one
line and a table cell's pipes escaped, so people's text cannot break the structure."""

from __future__ import annotations

from watchfloor.crises.models import ActionItem, Level
from watchfloor.crises.review import ReviewFacts
from watchfloor.escalations.models import Decision


def _cell(text: object) -> str:
    """A value in a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text or "").split()).replace("|", "\\|") or "—"


def _line(text: object) -> str:
    return " ".join(str(text or "").split())


def _block(text: str) -> str:
    return text.strip() if text and text.strip() else "_Not written yet._"


def _volume_markdown(facts: ReviewFacts) -> list[str]:
    volume = facts.volume
    if volume is None:
        return []
    out = [
        "",
        "## Signal volume",
        "",
        f"{volume.signals_total:,} signals in {volume.clusters} clusters; "
        f"{volume.signals_in_window:,} new and {volume.matches_in_window:,} watchlist matches "
        f"from {facts.when(volume.start)} to {facts.when(volume.end)}"
        + (
            f"; the busiest hour from {facts.when(volume.peak_hour.start)} "
            f"({volume.peak_hour.signals:,})."
            if volume.peak_hour
            else "."
        ),
    ]
    busy = [hour for hour in volume.hours if hour.signals or hour.matches]
    if busy:
        out += ["", "| Hour from | New signals | Watchlist matches |", "| --- | --- | --- |"]
        out += [f"| {facts.when(h.start)} | {h.signals:,} | {h.matches:,} |" for h in busy]
    return out


def review_markdown(facts: ReviewFacts) -> str:
    crisis, review = facts.crisis, facts.review
    when = facts.when
    out: list[str] = [
        f"# Post-incident review: {crisis.reference} {_line(crisis.title)}",
        "",
        f"- Level: {Level(crisis.level).label}",
        f"- Declared: {when(crisis.declared_at)} by {crisis.declared_by.display_name}",
        f"- Markets: {', '.join(m.code for m in crisis.markets.all()) or '—'}",
        f"- Escalations: {', '.join(link.escalation.reference for link in facts.links) or '—'}",
        f"- Exported: {when(facts.now)}",
        "",
        "## Summary",
        "",
        _block(review.summary if review else crisis.summary),
        "",
        "## Key times",
        "",
        "| Moment | Time | From |",
        "| --- | --- | --- |",
    ]
    out += [f"| {k.label} | {_cell(when(k.at))} | {_cell(k.source)} |" for k in facts.key_times]
    out += ["", "## Durations", "", "| Measure | Duration | From → to |", "| --- | --- | --- |"]
    out += [f"| {s.label} | {s.text} | {s.start} → {s.end} |" for s in facts.spans]
    out += _volume_markdown(facts)
    out += ["", "## Statutory clocks", "", f"Outcome: {facts.statutory_summary}.", ""]
    if facts.statutory:
        out += ["| Escalation | Clock | Due | Met | Outcome |", "| --- | --- | --- | --- | --- |"]
        out += [
            f"| {o.escalation} | {_cell(o.label)} | {_cell(when(o.due_at))} | "
            f"{_cell(when(o.met_at))} | {o.outcome} |"
            for o in facts.statutory
        ]
        out.append("")
    out += ["## Response-time clocks", "", f"Outcome: {facts.response_summary}.", ""]
    if facts.response_clocks:
        out += ["| Escalation | Clock | Due | Met | Outcome |", "| --- | --- | --- | --- | --- |"]
        out += [
            f"| {o.escalation} | {_cell(o.label)} | {_cell(when(o.due_at))} | "
            f"{_cell(when(o.met_at))} | {o.outcome} |"
            for o in facts.response_clocks
        ]
        out.append("")
    out += [
        "## Sitreps",
        "",
        f"{len(facts.sitreps)} sent; {len(facts.record_sitreps)} of record, "
        f"{facts.late_sitreps} late.",
        "",
    ]
    if facts.sitreps:
        out += ["| Audience | No. | Language | Sent | On time |", "| --- | --- | --- | --- | --- |"]
        out += [
            f"| {s.audience} | {s.number} | {s.language} | {_cell(when(s.sent_at))} | "
            f"{'late' if s.is_late else 'yes' if s.was_due_at else '—'} |"
            for s in facts.sitreps
        ]
        out.append("")
    out += ["## Level history", ""]
    out += [
        f"- {when(step.at)}: {Level(step.from_level).label} → {Level(step.to_level).label} "
        f"({step.actor}){': ' + _line(step.reason) if step.reason else ''}"
        + (f" — criteria not met: {'; '.join(step.unmet)}" if step.unmet else "")
        for step in facts.levels
    ] or ["_No level changes._"]
    out += ["", "## Decisions", ""]
    decision_lines = [
        f"- {when(d.decided_at)}: {d.escalation.reference} {d.action.label}"
        + (f" in {', '.join(d.countries)}" if d.countries else "")
        + f" under {d.policy_version.policy.name} v{d.policy_version.version} "
        f"({Decision.State(d.state).label.lower()}, {d.decided_by.display_name})"
        f" — {_line(d.rationale)}"
        for d in facts.decisions
    ]
    decision_lines += [
        f"- {when(note.created_at)}: war room ({note.author.display_name}) — {_line(note.body)}"
        for note in facts.war_room_decisions
    ]
    out += decision_lines or ["_No decisions._"]
    out += [
        "",
        "## What went well",
        "",
        _block(review.went_well if review else ""),
        "",
        "## What did not go well",
        "",
        _block(review.went_badly if review else ""),
        "",
        "## Root causes (five whys)",
        "",
    ]
    if facts.root_causes:
        for index, cause in enumerate(facts.root_causes, start=1):
            out += [f"### {index}. {_line(cause.problem)}", ""]
            out += [f"{n}. Why? {_line(why)}" for n, why in enumerate(cause.whys, start=1)]
            out += ["", f"**Root cause:** {_line(cause.root_cause)}", ""]
    else:
        out += ["_None recorded yet._", ""]
    out += [
        "## Contributing factors",
        "",
        _block(review.contributing_factors if review else ""),
        "",
        "## Action items",
        "",
    ]
    if facts.action_items:
        out += ["| Action | Owner | Due | Status |", "| --- | --- | --- | --- |"]
        out += [
            f"| {_cell(item.title)} | {_cell(item.owner.display_name)} | "
            f"{item.due_on.isoformat()} | {ActionItem.Status(item.status).label}"
            + (f": {_cell(item.status_note)}" if item.status_note else "")
            + " |"
            for item in facts.action_items
        ]
    else:
        out.append("_None yet._")
    out += ["", "## Roles", ""]
    out += [
        f"- {a.role_label}: {a.holder.display_name}, {when(a.started_at)} – "
        f"{when(a.ended_at) if a.ended_at else 'now'}" + (f" ({_line(a.note)})" if a.note else "")
        for a in facts.roles
    ] or ["_None._"]
    out += ["", "## Timeline", ""]
    for line in facts.timeline:
        text = f"- {when(line.at)} · {line.source} · **{line.label}** · {line.actor}"
        if line.summary:
            text += f" — {_line(line.summary)}"
        out.append(text)
        if line.body:
            out += [f"  > {_line(part)}" for part in line.body.splitlines() if part.strip()]
    out.append("")
    return "\n".join(out)
