"""How the drill audit events read on the drill crisis's timeline (registered into the
crises timeline by ``DrillsConfig.ready()``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from watchfloor.audit.events import AuditAction


def _not_scored() -> str:
    # Imported here: the describers are registered at start-up, and scoring brings the
    # scenario models (pydantic) that only a drill needs.
    from watchfloor.drills.scoring import NOT_SCORED

    return NOT_SCORED


def _drill(data: dict[str, Any], what: str) -> tuple[str, str]:
    summary = f"DRILL {data.get('scenario', '')} {what}"
    if data.get("scored") == 0:
        summary += f", {_not_scored()}"
    elif data.get("percent") is not None:
        summary += f": {data['percent']}%"
    body = str(data.get("error") or data.get("reason") or data.get("title") or "")
    if data.get("response"):
        body = f"{data['response']}: {body}"
    return summary, body


def _drill_injected(data: dict[str, Any]) -> tuple[str, str]:
    outcome = data.get("outcome") or {}
    summary = f"DRILL inject {data.get('offset', '')}: {data.get('title', '')}"
    if data.get("early"):
        summary += " (brought forward)"
    lines = []
    if outcome.get("escalation"):
        lines.append(f"Opened {outcome['escalation']}")
    if outcome.get("signals"):
        languages = ", ".join(f"{k} {v}" for k, v in (outcome.get("by_language") or {}).items())
        lines.append(f"{outcome['signals']} drill signals ({languages}); not ingested")
    if outcome.get("body"):
        lines.append(f"From {outcome.get('from', '')}: {outcome['body']}")
    return summary, "\n".join(lines)


def _clock_set(data: dict[str, Any]) -> tuple[str, str]:
    if data.get("stepped_from"):
        return (
            f"DRILL clock stepped from {data['stepped_from']} to {data.get('elapsed', '')}",
            "",
        )
    return (
        f"DRILL clock at ×{data.get('speed', 1)} from {data.get('elapsed', '')}",
        f"was ×{data.get('previous_speed', 1)}",
    )


DESCRIBERS: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    AuditAction.CRISIS_DRILL_STARTED: lambda d: _drill(d, "started"),
    AuditAction.CRISIS_DRILL_INJECTED: _drill_injected,
    AuditAction.CRISIS_DRILL_RESPONSE_FAILED: lambda d: _drill(d, "scripted response failed"),
    AuditAction.CRISIS_DRILL_FINISHED: lambda d: _drill(d, "finished"),
    AuditAction.CRISIS_DRILL_ABANDONED: lambda d: _drill(d, "abandoned"),
    AuditAction.CRISIS_DRILL_CLOCK_SET: _clock_set,
}
