"""How each crisis event reads: a summary line and a body, from the event's data.

Pure functions over the audit data, importing nothing from the web layer, so the
escalation timeline can word the crisis events that carry its escalation's id with
:data:`ESCALATION_TIMELINE_DESCRIBERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from watchfloor.audit.events import AuditAction
from watchfloor.crises.models import Level


def _level(value: Any) -> str:
    try:
        return Level(value).label
    except ValueError:
        return str(value or "")


def _declared(data: dict[str, Any]) -> tuple[str, str]:
    parts = [f"at {_level(data.get('level'))}"]
    if data.get("declared_from"):
        parts.append(f"from {data['declared_from']}")
    if data.get("markets"):
        parts.append(f"markets {', '.join(data['markets'])}")
    if data.get("commander"):
        parts.append(f"commander {data['commander']}")
    if data.get("restricted"):
        parts.append("restricted")
    return " · ".join(parts), str(data.get("reason", ""))


def _level_changed(data: dict[str, Any]) -> tuple[str, str]:
    body = str(data.get("reason", ""))
    if data.get("unmet"):
        body += "\nCriteria not met: " + "; ".join(str(u) for u in data["unmet"])
    return f"{_level(data.get('from'))} → {_level(data.get('to'))}", body


def _role_assigned(data: dict[str, Any]) -> tuple[str, str]:
    label = data.get("role_label") or data.get("role", "")
    return f"{label}: {data.get('from') or 'open'} → {data.get('to')}", str(data.get("note", ""))


def _role_released(data: dict[str, Any]) -> tuple[str, str]:
    label = data.get("role_label") or data.get("role", "")
    return f"{label}: {data.get('from')} → open", str(data.get("note", ""))


def _note(data: dict[str, Any]) -> tuple[str, str]:
    kind = "War-room decision" if data.get("kind") == "decision" else ""
    pinned = "pinned as a key fact" if data.get("pinned") else ""
    return " · ".join(p for p in (kind, pinned) if p), str(data.get("body", ""))


def _fact(data: dict[str, Any]) -> tuple[str, str]:
    return "", str(data.get("body", ""))


def _linked(data: dict[str, Any]) -> tuple[str, str]:
    return f"{data.get('escalation', '')} linked", str(data.get("reason", ""))


def _unlinked(data: dict[str, Any]) -> tuple[str, str]:
    return f"{data.get('escalation', '')} unlinked", str(data.get("reason", ""))


def _access(data: dict[str, Any]) -> tuple[str, str]:
    after = data.get("after") or {}
    listed = ", ".join(after.get("access_list") or []) or "nobody"
    state = "restricted" if after.get("restricted") else "not restricted"
    return f"{state} · access list: {listed}", ""


def _updated(data: dict[str, Any]) -> tuple[str, str]:
    after = data.get("after") or {}
    return f"changed: {', '.join(sorted(after)) or 'nothing'}", ""


def _sitrep(data: dict[str, Any]) -> tuple[str, str]:
    summary = (
        f"{data.get('audience_name') or data.get('audience', '')} sitrep {data.get('number', '')} "
        f"({data.get('language', '')})"
    )
    if data.get("late"):
        summary += " — sent late"
    # The shared text, then the sections the reader may see (the timeline has already
    # left out the others: see crises.timeline).
    sections = [
        str(section.get("body", ""))
        for section in data.get("sections") or []
        if isinstance(section, dict)
    ]
    body = "\n".join(t for t in (str(data.get("subject", "")), str(data.get("body", ""))) if t)
    body = "\n\n".join(t for t in (body, *sections) if t)
    return summary, body


def _moment(value: Any) -> str:
    """An ISO time from the log as 'YYYY-MM-DD HH:MM UTC' (as given when it is not one)."""
    try:
        return f"{datetime.fromisoformat(str(value)).astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    except (ValueError, OverflowError):
        return str(value or "")


def _sitrep_reminded(data: dict[str, Any]) -> tuple[str, str]:
    who = data.get("to") or "nobody (no incident commander)"
    state = "overdue since" if data.get("overdue") else "due"
    audience = data.get("audience_name") or "the"
    summary = f"{who}: {audience} sitrep {state} {_moment(data.get('due_at'))}"
    if data.get("suppressed"):
        summary += " — drill, not delivered"
    return summary, ""


def _handoff_confirmed(data: dict[str, Any]) -> tuple[str, str]:
    return (
        f"{str(data.get('from_region', '')).upper()} → {str(data.get('to_region', '')).upper()}: "
        f"{data.get('outgoing')} hands over to {data.get('incoming')}",
        str(data.get("risks", "")),
    )


def _handoff_acknowledged(data: dict[str, Any]) -> tuple[str, str]:
    return (
        f"{data.get('incoming')} took command for {str(data.get('to_region', '')).upper()}",
        str(data.get("note", "")),
    )


def _review_updated(data: dict[str, Any]) -> tuple[str, str]:
    return f"changed: {', '.join(sorted(data.get('changed') or {})).replace('_', ' ')}", ""


def _root_cause(data: dict[str, Any]) -> tuple[str, str]:
    return str(data.get("root_cause", "")), str(data.get("problem", ""))


def _action_item(data: dict[str, Any]) -> tuple[str, str]:
    if "to" in data:
        return f"{data.get('title', '')}: {data.get('from')} → {data.get('to')}", str(
            data.get("note", "")
        )
    return f"{data.get('title', '')} · owner {data.get('owner')} · due {data.get('due_on')}", ""


def _cluster_linked(data: dict[str, Any]) -> tuple[str, str]:
    signals = data.get("signals")
    counted = f" ({signals} signals)" if signals is not None else ""
    return f"{data.get('cluster', '')} linked{counted}", str(data.get("reason", ""))


def _cluster_unlinked(data: dict[str, Any]) -> tuple[str, str]:
    return f"{data.get('cluster', '')} unlinked", str(data.get("reason", ""))


def _watchlist_entry(data: dict[str, Any]) -> tuple[str, str]:
    kind = str(data.get("kind", "")).replace("_", " ")
    language = f" ({data['language']})" if data.get("language") else ""
    return f"{kind}: {data.get('value', '')}{language}", str(
        data.get("note") or data.get("reason") or ""
    )


def _fallback(data: dict[str, Any]) -> tuple[str, str]:
    return "", ""


# Apps above crises add theirs through ``hooks.register_event_describer`` (drills do).
DESCRIBERS: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    AuditAction.CRISIS_DECLARED: _declared,
    AuditAction.CRISIS_LEVEL_CHANGED: _level_changed,
    AuditAction.CRISIS_ROLE_ASSIGNED: _role_assigned,
    AuditAction.CRISIS_ROLE_RELEASED: _role_released,
    AuditAction.CRISIS_NOTE_ADDED: _note,
    AuditAction.CRISIS_FACT_PINNED: _fact,
    AuditAction.CRISIS_FACT_UNPINNED: _fact,
    AuditAction.CRISIS_ESCALATION_LINKED: _linked,
    AuditAction.CRISIS_ESCALATION_UNLINKED: _unlinked,
    AuditAction.CRISIS_ACCESS_CHANGED: _access,
    AuditAction.CRISIS_UPDATED: _updated,
    AuditAction.CRISIS_SITREP_SENT: _sitrep,
    AuditAction.CRISIS_SITREP_REMINDED: _sitrep_reminded,
    AuditAction.CRISIS_HANDOFF_CONFIRMED: _handoff_confirmed,
    AuditAction.CRISIS_HANDOFF_ACKNOWLEDGED: _handoff_acknowledged,
    AuditAction.CRISIS_REVIEW_UPDATED: _review_updated,
    AuditAction.CRISIS_ROOT_CAUSE_ADDED: _root_cause,
    AuditAction.CRISIS_ACTION_ITEM_ADDED: _action_item,
    AuditAction.CRISIS_ACTION_ITEM_CHANGED: _action_item,
    AuditAction.CRISIS_CLUSTER_LINKED: _cluster_linked,
    AuditAction.CRISIS_CLUSTER_UNLINKED: _cluster_unlinked,
    AuditAction.CRISIS_WATCHLIST_ENTRY_ADDED: _watchlist_entry,
    AuditAction.CRISIS_WATCHLIST_ENTRY_REMOVED: _watchlist_entry,
}


def _on_escalation(
    describe: Callable[[dict[str, Any]], tuple[str, str]],
) -> Callable[[dict[str, Any]], tuple[str, str]]:
    def read(data: dict[str, Any]) -> tuple[str, str]:
        summary, body = describe(data)
        return f"{data.get('crisis', '')} · {summary}".strip(" ·"), body

    return read


# How the crisis events that carry an escalation's id (its declaration, level changes and
# links) read on that escalation's own timeline: the crisis reference first. For
# ``escalations.timeline`` to merge into its describers.
ESCALATION_TIMELINE_DESCRIBERS: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    action: _on_escalation(DESCRIBERS[action])
    for action in (
        AuditAction.CRISIS_DECLARED,
        AuditAction.CRISIS_LEVEL_CHANGED,
        AuditAction.CRISIS_ESCALATION_LINKED,
        AuditAction.CRISIS_ESCALATION_UNLINKED,
    )
}


def describe_crisis_event(action: str, data: dict[str, Any]) -> tuple[str, str]:
    return DESCRIBERS.get(action, _fallback)(data)
