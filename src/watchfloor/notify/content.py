"""What a notification says: the email text, the JSON webhook body, the Slack blocks.

Rendered once, when the notification is created, and stored with it, so the record is
exactly what was sent. Need to know applies here too: a person who may not see the
escalation, and every channel when the escalation is restricted, get its reference,
severity and deadline only — never its title, type or markets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.urls import reverse

from watchfloor.catalog.selectors import rubric_for
from watchfloor.escalations.models import Escalation, Status
from watchfloor.notify import conf

SUBJECT_MAX = 250
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 2900


def absolute_url(path: str) -> str:
    return conf.public_url() + path


def escalation_url(escalation: Escalation) -> str:
    return absolute_url(reverse("escalation-detail", args=[escalation.pk]))


def zone_abbreviation(moment: datetime) -> str:
    name = moment.strftime("%Z")
    return f"UTC{name}" if name[:1] in "+-" else name


def format_time(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %Y %H:%M} {zone_abbreviation(local)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class StageFacts:
    rule_code: str
    rule_name: str
    number: int  # 1-based, as people count
    total: int
    name: str
    next_stage_at: datetime | None = None
    next_stage_targets: str = ""


@dataclass(frozen=True)
class MessageFacts:
    """Everything a message says, decided before any text is written."""

    escalation: Escalation
    event: str
    stage: StageFacts | None
    reason: str
    show_details: bool
    drill: bool
    zone: ZoneInfo
    acknowledge_url: str = ""
    acknowledge_until: datetime | None = None

    @property
    def severity_name(self) -> str:
        return f"SEV{self.escalation.severity}"

    @property
    def severity_label(self) -> str:
        try:
            return rubric_for(self.escalation.catalog_version).level(self.escalation.severity).label
        except (IndexError, KeyError):
            return ""


EVENT_WORDS = {
    "created": "was filed",
    "severity_changed": "changed severity",
    "reopened": "was reopened",
}


def render_email(facts: MessageFacts) -> tuple[str, str]:
    escalation = facts.escalation
    drill = "[DRILL] " if facts.drill else ""
    headline = _one_line(escalation.title) if facts.show_details else "restricted escalation"
    subject = f"{drill}[{facts.severity_name}] {escalation.reference} · {headline}"
    if facts.stage is not None:
        subject += " — please acknowledge"
    subject = subject[:SUBJECT_MAX]

    lines: list[str] = []
    if facts.drill:
        lines += ["THIS IS A DRILL. Nothing real is happening; practise as if it were.", ""]
    label = f" ({facts.severity_label})" if facts.severity_label else ""
    what = EVENT_WORDS.get(facts.event, "needs attention")
    lines.append(f"{escalation.reference} {what}: {facts.severity_name}{label}.")
    lines.append("")
    if facts.show_details:
        lines.append(_one_line(escalation.title))
        markets = ", ".join(m.code for m in escalation.markets.all()) or "none named"
        lines.append(f"Type: {escalation.type.name} · Markets: {markets}")
        lines.append(f"Status: {Status(escalation.status).label}")
    else:
        lines.append(
            "The details are restricted to the people on its access list; sign in to see "
            "whether you are one of them."
        )
    if escalation.next_due_at is not None:
        lines.append(
            f"Next deadline: {escalation.next_due_label}, "
            f"due {format_time(escalation.next_due_at, facts.zone)}"
        )
    lines.append("")
    lines.append(f"Why you: {facts.reason}")
    if facts.stage is not None:
        stage = facts.stage
        lines.append(
            f"Escalation policy '{stage.rule_name}', stage {stage.number} of {stage.total}"
            + (f" ({stage.name})" if stage.name else "")
            + "."
        )
        if stage.next_stage_at is not None:
            lines.append(
                f"If nobody acknowledges by {format_time(stage.next_stage_at, facts.zone)}, "
                f"the policy notifies: {stage.next_stage_targets}."
            )
    lines.append("")
    if facts.acknowledge_url:
        until = (
            f", valid until {format_time(facts.acknowledge_until, facts.zone)}"
            if facts.acknowledge_until
            else ""
        )
        lines.append(f"Acknowledge (one use{until}):")
        lines.append(facts.acknowledge_url)
        lines.append("")
    lines.append("Open the escalation:")
    lines.append(escalation_url(escalation))
    lines.append("")
    lines.append(
        "Times are in your time zone "
        f"({facts.zone.key}). You receive this because of Watchfloor's escalation policy."
    )
    return subject, "\n".join(lines) + "\n"


def _escalation_facts(facts: MessageFacts) -> dict[str, Any]:
    escalation = facts.escalation
    data: dict[str, Any] = {
        "reference": escalation.reference,
        "url": escalation_url(escalation),
        "severity": facts.severity_name,
        "severity_label": facts.severity_label,
        "status": escalation.status,
        "restricted": escalation.is_restricted,
        "next_deadline": (
            {
                "label": escalation.next_due_label,
                "due_at": escalation.next_due_at.astimezone(UTC).isoformat(),
            }
            if escalation.next_due_at
            else None
        ),
    }
    if facts.show_details:
        data["title"] = escalation.title
        data["type"] = escalation.type.code
        data["markets"] = [m.code for m in escalation.markets.all()]
    return data


def render_webhook_payload(facts: MessageFacts) -> dict[str, Any]:
    """The generic JSON body; ``id`` and ``sent_at`` are added when it is sent."""
    stage = facts.stage
    return {
        "type": "escalation.notification",
        "event": facts.event,
        "drill": facts.drill,
        "escalation": _escalation_facts(facts),
        "policy": (
            {
                "rule": stage.rule_code,
                "name": stage.rule_name,
                "stage": stage.number,
                "stages": stage.total,
                "next_stage_at": (
                    stage.next_stage_at.astimezone(UTC).isoformat() if stage.next_stage_at else None
                ),
            }
            if stage
            else None
        ),
        "reason": facts.reason,
        "acknowledge_in": escalation_url(facts.escalation),
    }


def slack_escape(text: str) -> str:
    """Slack mrkdwn reads &, < and > as markup; reported content is adversarial."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_slack_payload(facts: MessageFacts) -> dict[str, Any]:
    escalation = facts.escalation
    drill = "DRILL · " if facts.drill else ""
    label = f" {facts.severity_label}" if facts.severity_label else ""
    header = f"{drill}{facts.severity_name}{label} · {escalation.reference}"
    if facts.show_details:
        title = slack_escape(_one_line(escalation.title))
        markets = ", ".join(m.code for m in escalation.markets.all()) or "no market named"
        summary = f"*{title}*\n{slack_escape(escalation.type.name)} · {markets}"
    else:
        summary = "*Restricted escalation* — open Watchfloor to see whether you have access."
    context = []
    if escalation.next_due_at is not None:
        due = escalation.next_due_at.astimezone(UTC)
        # Slack shows a <!date^…> in each reader's own zone; the text after | is the fallback.
        shown = f"<!date^{int(due.timestamp())}^{{date_short_pretty}} {{time}}"
        context.append(
            f"Next deadline: {slack_escape(escalation.next_due_label)} "
            f"{shown}|{due:%Y-%m-%d %H:%M} UTC>"
        )
    if facts.stage is not None:
        stage = facts.stage
        context.append(
            f"Policy {slack_escape(stage.rule_name)}, stage {stage.number} of {stage.total}"
        )
    text = f"{header}: " + (
        _one_line(escalation.title) if facts.show_details else "restricted escalation"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:SLACK_HEADER_MAX]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary[:SLACK_SECTION_MAX]}},
    ]
    if context:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": item} for item in context],
            }
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open and acknowledge"},
                    "url": escalation_url(escalation),
                }
            ],
        }
    )
    return {"text": text, "blocks": blocks}


def render_test_message(*, channel_name: str, kind: str, actor_label: str) -> dict[str, Any]:
    """What a channel receives when an administrator sends it a test."""
    text = f"Test message from Watchfloor to {channel_name}, sent by {actor_label}."
    if kind == "slack":
        return {
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(text)}}],
        }
    return {"type": "test", "text": text}
