"""The escalation timeline in words: each audit event's data rendered for a reader.

The audit log stores old and new values as data; this turns them into "New → Triaged",
a note's body or a decision's summary. It only reads the entries it is given. Apps above
escalations (crises, notify) add the words for their own events through
:func:`register_timeline_describers`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from watchfloor.audit.events import AuditAction
from watchfloor.escalations.models import Decision, Status
from watchfloor.escalations.selectors import TimelineEntry

CLOCK_STATE_LABELS = {
    "running": "Running",
    "breached": "Breached",
    "met": "Met",
    "met_late": "Met late",
}


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    actor: str
    action: str
    label: str
    summary: str
    body: str
    # On the line that stands for folded notification delivery attempts: how many.
    folded: int = 0


def _status(value: Any) -> str:
    try:
        return Status(value).label
    except ValueError:
        return str(value)


def _words(code: Any) -> str:
    """A catalog code read aloud: 'withhold_in_countries' → 'withhold in countries'."""
    return str(code or "").replace("_", " ")


def _listing(values: Iterable[Any] | None, empty: str = "none") -> str:
    items = [str(v) for v in values or [] if v not in (None, "")]
    return ", ".join(items) if items else empty


def _created(data: dict[str, Any]) -> tuple[str, str]:
    parts = [str(data.get("severity", "")), _words(data.get("type"))]
    if data.get("markets"):
        parts.append(f"markets {_listing(data['markets'])}")
    if data.get("languages"):
        parts.append(f"languages {_listing(data['languages'])}")
    if data.get("restricted"):
        parts.append("restricted")
    rules = [c.get("rule", "") for c in data.get("statutory_clocks") or []]
    if rules:
        parts.append(f"statutory clock {_listing(rules)}")
    return " · ".join(p for p in parts if p), str(data.get("severity_summary", ""))


def _transitioned(data: dict[str, Any]) -> tuple[str, str]:
    return f"{_status(data.get('from'))} → {_status(data.get('to'))}", str(data.get("reason", ""))


def _assigned(data: dict[str, Any]) -> tuple[str, str]:
    return f"{data.get('from') or 'unassigned'} → {data.get('to') or 'unassigned'}", ""


def _note(data: dict[str, Any]) -> tuple[str, str]:
    return "", str(data.get("body", ""))


def _linked(data: dict[str, Any]) -> tuple[str, str]:
    return f"linked with {data.get('with', '')}", str(data.get("reason", ""))


def _merged(data: dict[str, Any]) -> tuple[str, str]:
    was = f" (was {_status(data['from_status'])})" if data.get("from_status") else ""
    # Without "into" when the reader may not see the escalation it went into.
    into = f" into {data['into']}" if data.get("into") else ""
    return f"merged{into}{was}", str(data.get("reason", ""))


def _absorbed(data: dict[str, Any]) -> tuple[str, str]:
    return f"{data.get('duplicate', '')} merged in", str(data.get("reason", ""))


def _overridden(data: dict[str, Any]) -> tuple[str, str]:
    summary = f"{data.get('from', '')} → {data.get('to', '')}"
    if data.get("computed"):
        summary += f" (the rubric said {data['computed']})"
    if data.get("approved_by"):
        summary += f"; proposed by {data.get('proposed_by')}, approved by {data['approved_by']}"
    return summary, str(data.get("reason", ""))


def _downgrade(data: dict[str, Any]) -> tuple[str, str]:
    summary = f"{data.get('from', '')} → {data.get('to', '')}".strip(" →")
    if data.get("proposed_by"):
        summary += f" (proposed by {data['proposed_by']})"
    return summary, str(data.get("reason") or data.get("comment") or "")


def _access(data: dict[str, Any]) -> tuple[str, str]:
    after = data.get("after") or {}
    summary = (
        f"{'restricted' if after.get('restricted') else 'not restricted'}"
        f" · access list: {_listing(after.get('access_list'))}"
        f" · shared with: {_listing(after.get('teams'))}"
    )
    return summary, ""


def _clock_met(data: dict[str, Any]) -> tuple[str, str]:
    state = CLOCK_STATE_LABELS.get(str(data.get("state", "")), str(data.get("state", "")))
    return f"{data.get('clock', '')}: {state.lower()}", ""


def _clock_started(data: dict[str, Any]) -> tuple[str, str]:
    return str(data.get("clock") or data.get("rule") or ""), ""


def _decision_recorded(data: dict[str, Any]) -> tuple[str, str]:
    summary = f"{_words(data.get('action'))} under {data.get('policy', '')}"
    if data.get("countries"):
        summary += f" in {_listing(data['countries'])}"
    if data.get("state") in Decision.State.values:
        summary += f" — {Decision.State(data['state']).label.lower()}"
    body = "\n".join(
        text
        for text in (
            f"Scope: {data['scope']}" if data.get("scope") else "",
            f"Rationale: {data['rationale']}" if data.get("rationale") else "",
        )
        if text
    )
    return summary, body


def _decision_approved(data: dict[str, Any]) -> tuple[str, str]:
    by = f" (recorded by {data['decided_by']})" if data.get("decided_by") else ""
    return f"decision approved{by}", str(data.get("comment", ""))


def _decision_sent_back(data: dict[str, Any]) -> tuple[str, str]:
    return "decision sent back", str(data.get("comment", ""))


def _playbook_started(data: dict[str, Any]) -> tuple[str, str]:
    how = "automatically" if data.get("automatic") else "by hand"
    summary = f"{data.get('name') or data.get('playbook', '')} started {how}"
    summary += f" · {data.get('steps', 0)} steps for {data.get('severity', '')}"
    skipped = data.get("skipped") or []
    return summary, f"Not applicable here: {_listing(skipped)}" if skipped else ""


# Reasons recorded in codes before they were written in words.
_WHY_NOT_STARTED = {
    "auto_start is off": "it starts by hand: it is not set to start by itself",
    "already ran on this escalation": "it already ran on this escalation",
}


def _playbook_proposed(data: dict[str, Any]) -> tuple[str, str]:
    codes = [
        _words(p.get("playbook", p.get("code", "")))
        for p in data.get("proposals") or []
        if isinstance(p, dict)
    ]
    summary = f"proposed: {_listing(codes)}"
    why = str(data.get("why_not_started", ""))
    return summary, f"Not started: {_WHY_NOT_STARTED.get(why, why)}" if why else ""


def _playbook_replanned(data: dict[str, Any]) -> tuple[str, str]:
    return f"{_words(data.get('playbook'))} re-planned for {data.get('severity', '')}", ""


def _playbook_finished(data: dict[str, Any]) -> tuple[str, str]:
    if "reason" in data:
        return f"{_words(data.get('playbook'))} cancelled", str(data.get("reason", ""))
    return (
        f"{_words(data.get('playbook'))} completed: {data.get('done', 0)} done, "
        f"{data.get('skipped', 0)} skipped",
        "",
    )


def _playbook_role(data: dict[str, Any]) -> tuple[str, str]:
    role = data.get("role_name") or data.get("role", "")
    return f"{role}: {data.get('from') or 'open'} → {data.get('to') or 'open'}", ""


def _step_changed(data: dict[str, Any]) -> tuple[str, str]:
    before = data.get("from_label", data.get("from", ""))
    after = data.get("to_label", data.get("to", ""))
    summary = f"{data.get('title', data.get('step', ''))}: {before} → {after}"
    return summary, str(data.get("reason", ""))


def _step_approved(data: dict[str, Any]) -> tuple[str, str]:
    return f"approved: {data.get('title', data.get('step', ''))}", str(data.get("comment", ""))


def _checklist_ticked(data: dict[str, Any]) -> tuple[str, str]:
    mark = "☑" if data.get("checked") else "☐ unticked"
    return f"{mark} {data.get('text', data.get('item', ''))}", ""


def _communication_sent(data: dict[str, Any]) -> tuple[str, str]:
    summary = (
        f"{_words(data.get('template'))} ({data.get('language', '')}) "
        f"to {data.get('recipient', '')} via {data.get('channel', '')}"
    )
    body = "\n".join(t for t in (str(data.get("subject", "")), str(data.get("body", ""))) if t)
    return summary, body


def _evidence_lines(evidence: Any) -> str:
    if isinstance(evidence, dict):
        return "\n".join(f"{key}: {value}" for key, value in evidence.items())
    if isinstance(evidence, list):
        return "\n".join(str(item) for item in evidence)
    return str(evidence or "")


def _rule_fired(data: dict[str, Any]) -> tuple[str, str]:
    summary = f"rule {data.get('rule', '')}: {data.get('outcome', '')}"
    if data.get("cluster"):
        summary += f" for cluster {data['cluster']}"
    return summary, _evidence_lines(data.get("evidence"))


def _cluster_linked(data: dict[str, Any]) -> tuple[str, str]:
    return f"cluster {data.get('cluster', '')} ({data.get('signals', '?')} signals)", str(
        data.get("note", "") or ""
    )


def _surge(data: dict[str, Any]) -> tuple[str, str]:
    summary = str(data.get("subject", ""))
    if data.get("ratio") is not None:
        summary += (
            f": ×{data['ratio']} — {data.get('current_rate_per_hour', '?')}/h against "
            f"{data.get('baseline_rate_per_hour', '?')}/h"
        )
    return summary, ""


def _fallback(data: dict[str, Any]) -> tuple[str, str]:
    return " · ".join(f"{key}: {value}" for key, value in sorted(data.items())), ""


def _due_text(value: Any) -> str:
    """An ISO time from an event, in the zone active for this web request (the reader's)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    if moment.tzinfo is None:
        return str(value)
    try:
        local = timezone.localtime(moment)
    except OverflowError:  # stored before times were bounded; see watchfloor_ui.in_zone
        return str(value)
    name = local.strftime("%Z")
    return f"{local:%a %d %b %H:%M} {'UTC' + name if name[:1] in '+-' else name}"


def _request_name(data: dict[str, Any]) -> str:
    kind = data.get("kind_label") or _words(data.get("kind"))
    reference = f" ({data['reference']})" if data.get("reference") else ""
    return f"{kind}{reference}"


def _partner_request_sent(data: dict[str, Any]) -> tuple[str, str]:
    summary = (
        f"{_request_name(data)} asked of {data.get('team_name') or data.get('team', '')}, "
        f"due {_due_text(data.get('due_at'))}"
    )
    body = "\n\n".join(
        text
        for text in (
            str(data.get("question", "")),
            f"Context: {data['context']}" if data.get("context") else "",
        )
        if text
    )
    return summary, body


def _partner_request_answered(data: dict[str, Any]) -> tuple[str, str]:
    team = data.get("team_name") or data.get("team", "")
    outcome = str(data.get("outcome_label") or data.get("outcome", "")).lower()
    late = " — after the deadline" if data.get("late") else ""
    summary = f"{team} answered {_request_name(data)}: {outcome}{late}"
    attachments = [
        str(item.get("reference", ""))
        for item in data.get("attachments") or []
        if isinstance(item, dict)
    ]
    body = str(data.get("answer", ""))
    if attachments:
        body += ("\n\n" if body else "") + "Attachments: " + ", ".join(attachments)
    return summary, body


def _partner_request_shared(data: dict[str, Any]) -> tuple[str, str]:
    return (
        f"shared with {data.get('team_name') or data.get('team', '')} for a partner request"
        f" · now shared with: {_listing(data.get('after'))}",
        "",
    )


def _partner_request_chased(data: dict[str, Any]) -> tuple[str, str]:
    minutes = int(data.get("overdue_minutes") or 0)
    overdue = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    summary = (
        f"{_request_name(data)} from {data.get('team_name') or data.get('team', '')} "
        f"overdue by {overdue}; chase {data.get('chase', 1)}"
    )
    on_call = data.get("on_call") or []
    return summary, f"On call: {_listing(on_call)}" if on_call else "Nobody on call to remind"


def _partner_request_withdrawn(data: dict[str, Any]) -> tuple[str, str]:
    team = data.get("team_name") or data.get("team", "")
    return f"{_request_name(data)} to {team} withdrawn", str(data.get("reason", ""))


_DESCRIBERS: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    AuditAction.ESCALATION_CREATED: _created,
    AuditAction.ESCALATION_TRANSITIONED: _transitioned,
    AuditAction.ESCALATION_ASSIGNED: _assigned,
    AuditAction.ESCALATION_NOTE_ADDED: _note,
    AuditAction.ESCALATION_LINKED: _linked,
    AuditAction.ESCALATION_MERGED: _merged,
    AuditAction.ESCALATION_ABSORBED: _absorbed,
    AuditAction.ESCALATION_SEVERITY_OVERRIDDEN: _overridden,
    AuditAction.ESCALATION_DOWNGRADE_PROPOSED: _downgrade,
    AuditAction.ESCALATION_DOWNGRADE_APPROVED: _downgrade,
    AuditAction.ESCALATION_DOWNGRADE_REJECTED: _downgrade,
    AuditAction.ESCALATION_DOWNGRADE_SUPERSEDED: _downgrade,
    AuditAction.ESCALATION_ACCESS_CHANGED: _access,
    AuditAction.ESCALATION_CLOCK_MET: _clock_met,
    AuditAction.ESCALATION_CLOCK_STARTED: _clock_started,
    AuditAction.DECISION_RECORDED: _decision_recorded,
    AuditAction.DECISION_APPROVED: _decision_approved,
    AuditAction.DECISION_REJECTED: _decision_sent_back,
    AuditAction.PLAYBOOK_RUN_STARTED: _playbook_started,
    AuditAction.PLAYBOOK_PROPOSED: _playbook_proposed,
    AuditAction.PLAYBOOK_RUN_REPLANNED: _playbook_replanned,
    AuditAction.PLAYBOOK_RUN_COMPLETED: _playbook_finished,
    AuditAction.PLAYBOOK_RUN_CANCELLED: _playbook_finished,
    AuditAction.PLAYBOOK_ROLE_ASSIGNED: _playbook_role,
    AuditAction.PLAYBOOK_STEP_CHANGED: _step_changed,
    AuditAction.PLAYBOOK_STEP_APPROVED: _step_approved,
    AuditAction.PLAYBOOK_CHECKLIST_TICKED: _checklist_ticked,
    AuditAction.COMMUNICATION_SENT: _communication_sent,
    AuditAction.PARTNER_REQUEST_SENT: _partner_request_sent,
    AuditAction.PARTNER_REQUEST_ANSWERED: _partner_request_answered,
    AuditAction.PARTNER_REQUEST_SHARED: _partner_request_shared,
    AuditAction.PARTNER_REQUEST_CHASED: _partner_request_chased,
    AuditAction.PARTNER_REQUEST_WITHDRAWN: _partner_request_withdrawn,
}


Describe = Callable[[dict[str, Any]], tuple[str, str]]


def register_timeline_describers(describers: dict[str, Describe]) -> None:
    """Let a higher app word its own events on the escalation timeline (crises, notify):
    called from its ``AppConfig.ready()``, so this module never imports it."""
    _DESCRIBERS.update(describers)


def readable_timeline(entries: Iterable[TimelineEntry]) -> list[TimelineLine]:
    lines = []
    for entry in entries:
        describe = _DESCRIBERS.get(entry.action, _fallback)
        summary, body = describe(entry.data if isinstance(entry.data, dict) else {})
        lines.append(
            TimelineLine(
                at=entry.at,
                actor=entry.actor or "system",
                action=entry.action,
                label=entry.label,
                summary=summary,
                body=body,
            )
        )
    return lines


# ---------------------------------------------------------------- folding delivery attempts
#
# Every page and webhook delivery attempt lands on the timeline; on a busy escalation they
# outnumber the work. The page shows them folded into one line by default ("work"), and
# each of them on request ("all").

TIMELINE_VIEWS = ("work", "all")
DELIVERY_ATTEMPT_WORDS = {
    AuditAction.NOTIFY_DELIVERED: "delivered",
    AuditAction.NOTIFY_DELIVERY_RETRYING: "failed, retry scheduled",
    AuditAction.NOTIFY_DELIVERY_FAILED: "failed, gave up",
    AuditAction.NOTIFY_DELIVERY_SUPPRESSED: "suppressed (drill)",
}
FOLDED_DELIVERIES = "timeline.delivery_attempts_folded"


def fold_delivery_attempts(lines: list[TimelineLine]) -> list[TimelineLine]:
    """The lines with every notification delivery attempt folded into one line, where the
    last attempt was: how many there were and how they went. Nothing else moves."""
    attempts = [line for line in lines if line.action in DELIVERY_ATTEMPT_WORDS]
    if not attempts:
        return lines
    outcomes = Counter(line.action for line in attempts)
    summary = ", ".join(
        f"{outcomes[action]} {words}"
        for action, words in DELIVERY_ATTEMPT_WORDS.items()
        if outcomes[action]
    )
    count = len(attempts)
    folded = TimelineLine(
        at=attempts[-1].at,
        actor="system",
        action=FOLDED_DELIVERIES,
        label=f"{count} notification delivery attempt{'s' if count != 1 else ''}",
        summary=summary,
        body="",
        folded=count,
    )
    last = attempts[-1]
    shown = []
    for line in lines:
        if line is last:
            shown.append(folded)
        elif line.action not in DELIVERY_ATTEMPT_WORDS:
            shown.append(line)
    return shown
