"""The notify audit events in words, for the escalation timeline.

``DESCRIBERS`` maps each ``notify.*`` action to a function from the event's data to
``(summary, body)``, the shape ``web.timeline`` uses for its own events; the timeline adds
them with ``_DESCRIBERS.update(notify.timeline.DESCRIBERS)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from watchfloor.audit.events import AuditAction
from watchfloor.notify.models import ACKNOWLEDGED_VIA
from watchfloor.notify.transports import without_receiver_answer
from watchfloor.severity.rubric import describe_delay, parse_iso_duration

Describe = Callable[[dict[str, Any]], tuple[str, str]]


def _after(iso_duration: Any) -> str:
    """A stage's ISO 8601 delay in words: "PT0M" → "at once", "PT10M" → "after 10 min"."""
    try:
        return describe_delay(parse_iso_duration(str(iso_duration)))
    except ValueError:
        return str(iso_duration)


def _started(data: dict[str, Any]) -> tuple[str, str]:
    drill = " (drill: nothing is delivered)" if data.get("delivery_suppressed") else ""
    stages = "; ".join(
        f"{_after(stage.get('after'))}: {', '.join(stage.get('notify', []))}"
        for stage in data.get("stages", [])
    )
    return f"{data.get('name', data.get('rule'))} for {data.get('severity')}{drill}", stages


def _stage(data: dict[str, Any]) -> tuple[str, str]:
    lines = []
    for item in data.get("notifications", []):
        state = item.get("status", "")
        extra = item.get("problem") or (
            f"held until {item['held_until']}" if item.get("held_until") else ""
        )
        lines.append(f"{item.get('to')}: {state}" + (f" ({extra})" if extra else ""))
    summary = f"stage {data.get('stage')} of {data.get('stages')}"
    if data.get("name"):
        summary += f": {data['name']}"
    return summary, "\n".join(lines)


def _ended(data: dict[str, Any]) -> tuple[str, str]:
    cancelled = len(data.get("cancelled_notifications", []))
    tail = (
        f"; {cancelled} unsent message{'s' if cancelled != 1 else ''} cancelled"
        if cancelled
        else ""
    )
    return f"{data.get('rule')}: {data.get('reason')}{tail}", ""


def _acknowledged(data: dict[str, Any]) -> tuple[str, str]:
    via = ACKNOWLEDGED_VIA.get(data.get("via", ""), "in Watchfloor")
    return f"{via}, {data.get('minutes_after_start')} min after the policy started", ""


def _attempt(data: dict[str, Any]) -> tuple[str, str]:
    summary = f"to {data.get('to')}, attempt {data.get('attempt')} of {data.get('of')}"
    detail = without_receiver_answer(data.get("error", "")) or (
        f"HTTP {data['status_code']}" if data.get("status_code") else ""
    )
    if data.get("next_retry_at"):
        detail = f"{detail}; next try {data['next_retry_at']}".strip("; ")
    return summary, detail


def _unavailable(data: dict[str, Any]) -> tuple[str, str]:
    return "nobody was notified: the policy file has problems", "\n".join(data.get("problems", []))


DESCRIBERS: dict[str, Describe] = {
    AuditAction.NOTIFY_POLICY_STARTED: _started,
    AuditAction.NOTIFY_STAGE_REACHED: _stage,
    AuditAction.NOTIFY_POLICY_ENDED: _ended,
    AuditAction.NOTIFY_ACKNOWLEDGED: _acknowledged,
    AuditAction.NOTIFY_DELIVERED: _attempt,
    AuditAction.NOTIFY_DELIVERY_RETRYING: _attempt,
    AuditAction.NOTIFY_DELIVERY_FAILED: _attempt,
    AuditAction.NOTIFY_DELIVERY_SUPPRESSED: _attempt,
    AuditAction.NOTIFY_RETRY_REQUESTED: lambda data: (
        f"notification {data.get('notification')} tried again by hand",
        without_receiver_answer(data.get("previous_error", "")),
    ),
    AuditAction.NOTIFY_POLICY_UNAVAILABLE: _unavailable,
}
