"""A playbook's communication templates: previewed with an escalation's values in the
reader's language and zone, and a sent communication recorded on the run, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput
from watchfloor.core.languages import preferred_language
from watchfloor.core.roles import can_work_escalations
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.escalations.clocks import business_time_zone
from watchfloor.escalations.models import Clock, Escalation
from watchfloor.playbooks import permissions, selectors
from watchfloor.playbooks.models import CommunicationRecord, CommunicationTemplate, RunStep
from watchfloor.playbooks.rendering import fill_variables
from watchfloor.playbooks.schema import ESCALATION_VARIABLES, TemplateSpec
from watchfloor.playbooks.services import INPUT_MAX

if TYPE_CHECKING:
    from watchfloor.people.models import User


@dataclass(frozen=True)
class TemplatePreview:
    template: CommunicationTemplate
    spec: TemplateSpec
    language: str
    languages: list[str]
    subject: str
    body: str
    inputs: dict[str, str]
    missing_inputs: list[str]
    variables: dict[str, str]


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(zone)
    name = local.strftime("%Z")
    name = f"UTC{name}" if name[:1] in "+-" else name
    return f"{local:%Y-%m-%d %H:%M} {name}"


def escalation_variables(escalation: Escalation, *, step: RunStep | None = None) -> dict[str, str]:
    """The values a template may use, as text in the primary market's time."""
    zone = business_time_zone(escalation)
    markets = list(escalation.markets.order_by("code"))
    statutory = (
        Clock.objects.filter(escalation=escalation, kind=Clock.Kind.STATUTORY, met_at__isnull=True)
        .order_by("due_at")
        .first()
    )
    values = {
        "reference": escalation.reference,
        "title": escalation.title,
        "type": escalation.type.name,
        "severity": escalation.severity_name,
        "status": escalation.get_status_display(),
        "markets": ", ".join(m.code for m in markets),
        "market_names": ", ".join(m.name for m in markets),
        "languages": ", ".join(escalation.languages or []),
        "opened_at": _local(escalation.opened_at, zone),
        "next_deadline": _local(escalation.next_due_at, zone),
        "statutory_deadline": _local(statutory.due_at if statutory else None, zone),
        "owner": escalation.owner.display_name if escalation.owner else "",
        "playbook": selectors.playbook_spec(step.run.version).name if step else "",
        "step": step.title if step else "",
    }
    assert set(values) == set(ESCALATION_VARIABLES)
    return values


def _language(spec: TemplateSpec, requested: str, escalation: Escalation) -> str:
    if requested:
        if requested not in spec.bodies:
            raise InvalidInput(
                f"'{spec.code}' has no '{requested}' text; it has {', '.join(spec.bodies)}",
                field="language",
            )
        return requested
    return preferred_language(reader_languages(spec.audience, escalation), spec.bodies)


# Whom each audience's text is read by, and so which languages come first: an authority
# reads the market's language; the people affected, and the press, the content's; a
# partner team works in its market's; industry partners share one working language.
_MARKET_FIRST = frozenset({"regulator", "government", "law_enforcement", "partner_team"})
_CONTENT_FIRST = frozenset({"public", "user", "media"})


def reader_languages(audience: str, escalation: Escalation) -> list[str]:
    """The languages a template's readers likely read, most likely first (English is the
    fallback after them): the primary market's, the escalation's, or neither."""
    market = escalation.primary_market
    market_languages = list(market.languages or []) if market is not None else []
    content_languages = list(escalation.languages or [])
    if audience in _MARKET_FIRST:
        return market_languages + content_languages
    if audience in _CONTENT_FIRST:
        return content_languages + market_languages
    if audience == "internal":
        return content_languages
    return []


def preview_template(
    *,
    escalation: Escalation,
    template_code: str,
    language: str = "",
    inputs: dict[str, str] | None = None,
    step: RunStep | None = None,
) -> TemplatePreview:
    """The template filled in for ``escalation``; nothing is saved. A value not given
    shows as ``[name]`` so the gap is visible before anything is sent."""
    template, spec = selectors.get_template(template_code)
    chosen = _language(spec, language, escalation)
    given = {
        item.name: _text(
            (inputs or {}).get(item.name, ""),
            field=f"inputs.{item.name}",
            max_length=INPUT_MAX,
            required=False,
        )
        for item in spec.inputs
    }
    values = {**escalation_variables(escalation, step=step), **given}
    body = spec.bodies[chosen]
    return TemplatePreview(
        template=template,
        spec=spec,
        language=chosen,
        languages=list(spec.bodies),
        subject=fill_variables(body.subject, values),
        body=fill_variables(body.body, values),
        inputs=given,
        missing_inputs=[
            item.name for item in spec.inputs if item.required and not given[item.name]
        ],
        variables=values,
    )


@transaction.atomic
def record_communication_sent(
    *,
    escalation: Escalation,
    template_code: str,
    language: str,
    channel: str,
    recipient: str,
    actor: User,
    inputs: dict[str, str] | None = None,
    step: RunStep | None = None,
) -> CommunicationRecord:
    """Record that the filled-in template was sent (delivery itself happens elsewhere).

    The text is rendered again here from the template, never taken from the browser, so
    the record is exactly what the template says for this escalation.
    """
    if step is not None and step.run.escalation_id != escalation.pk:
        raise InvalidInput("that step belongs to another escalation", field="step")
    _require(
        can_work_escalations(actor)
        or (step is not None and permissions.may_work_step(actor, step)),
        "only site policy, or the partner team that owns the step, may record communications",
    )
    channel = _text(channel, field="channel", max_length=100, required=True)
    recipient = _text(recipient, field="recipient", max_length=500, required=True)
    preview = preview_template(
        escalation=escalation,
        template_code=template_code,
        language=language,
        inputs=inputs,
        step=step,
    )
    if preview.missing_inputs:
        first = preview.missing_inputs[0]
        raise InvalidInput(
            "fill in " + ", ".join(preview.missing_inputs) + " before sending",
            field=f"inputs.{first}",
        )
    record = CommunicationRecord.objects.create(
        escalation=escalation,
        step=step,
        template_version=preview.template.current_version,
        language=preview.language,
        channel=channel,
        recipient=recipient,
        subject=preview.subject,
        body=preview.body,
        inputs=preview.inputs,
        sent_at=clock.now(),
        sent_by=actor,
    )
    record_event(
        action=AuditAction.COMMUNICATION_SENT,
        actor=actor,
        target=record,
        escalation_id=escalation.pk,
        data={
            "template": preview.spec.code,
            "template_version": preview.template.current_version.digest[:12],
            "language": preview.language,
            "channel": channel,
            "recipient": recipient,
            "subject": preview.subject,
            "body": preview.body,
            "step": step.step_id if step else None,
            "run": step.run_id if step else None,
        },
    )
    return record
