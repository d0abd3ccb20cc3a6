"""Sending sitreps: the shared text for every reader, restricted escalations in sections of
their own."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q

from watchfloor.audit.events import AuditAction
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.crises.config import crisis_config
from watchfloor.crises.models import (
    Crisis,
    Sitrep,
    SitrepSection,
)
from watchfloor.crises.permissions import may_work_crisis
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.people.models import User

if TYPE_CHECKING:
    pass
from watchfloor.crises.services.common import (
    REFERENCE_IN_TEXT,
    SITREP_MAX,
    SUBJECT_MAX,
    lock_crisis,
    record_crisis_event,
    refresh_sitrep_due,
    refuse_if_closed,
)

# ---------------------------------------------------------------- sitreps


SECTIONS_MAX = 200
# A title shorter than this is too plain a phrase to tell a case by.
_TITLE_MATCH_MIN = 8


def _restricted_named(*, crisis: Crisis, actor: User, texts: Iterable[str]) -> list[Escalation]:
    """The restricted escalations the actor may see that could be named in ``texts``:
    those linked to the crisis, and any other one referred to by its reference. Only what
    the actor may see, so a refusal never tells them of a case they cannot see."""
    references = {int(pk) for text in texts for pk in REFERENCE_IN_TEXT.findall(text)}
    return list(
        escalations_visible_to(actor)
        .filter(is_restricted=True)
        .filter(Q(pk__in=references) | Q(crisis_links__crisis=crisis))
        .distinct()
        .only("pk", "title", "is_restricted")
    )


def _names(text: str, escalation: Escalation) -> bool:
    if re.search(rf"\bWF-{escalation.pk}\b", text):
        return True
    title = " ".join(escalation.title.split()).casefold()
    return len(title) >= _TITLE_MATCH_MIN and title in " ".join(text.split()).casefold()


def _refuse_restricted_in_shared_text(
    *, texts: dict[str, str], restricted: list[Escalation], allowed: int | None = None
) -> None:
    """Every reader of a sitrep reads its shared text (and every reader of a section reads
    that section): a restricted case named there would reach people off its access list."""
    for field_name, text in texts.items():
        for escalation in restricted:
            if escalation.pk != allowed and _names(text, escalation):
                where = "the shared text" if allowed is None else "this section"
                raise InvalidInput(
                    f"{where} names {escalation.reference}, a restricted escalation: readers "
                    "outside its access list would read it; put what concerns it in its "
                    "own section",
                    field=field_name,
                )


@transaction.atomic
def send_sitrep(
    *,
    crisis: Crisis,
    audience: str,
    language: str,
    subject: str,
    body: str,
    actor: User,
    sections: Iterable[tuple[int, str]] = (),
) -> Sitrep:
    """Record a sitrep as sent to ``audience``, exactly as written, with the next number
    for that audience. Sending the sitrep of record (the audience that keeps the cadence)
    sets when the next one is due. Recording only: delivery is the notification engine's.

    ``sections``: (escalation id, text) for what concerns one escalation linked to the
    crisis, kept apart and shown only to readers who may see that escalation (see
    ``crises.drafting``); an empty one is left out. The shared text (subject and body) may
    not name a restricted escalation, and a section no restricted escalation but its own:
    readers outside an access list would read it.
    """
    _require(may_work_crisis(actor), "your role cannot send sitreps")
    config = crisis_config()
    crisis = lock_crisis(crisis)
    refuse_if_closed(crisis, "it sends no more sitreps")
    audience_spec = config.settings.audience(audience)
    if audience_spec is None:
        raise InvalidInput(
            f"unknown audience '{audience}'; use one of "
            + ", ".join(a.code for a in config.settings.sitreps.audiences),
            field="audience",
        )
    template = config.template(audience)
    if language not in template.spec.bodies:
        raise InvalidInput(
            f"the {audience_spec.name} sitrep is written in "
            + ", ".join(template.spec.bodies)
            + f", not '{language}'",
            field="language",
        )
    subject = _text(subject, field="subject", max_length=SUBJECT_MAX, required=True)
    body = _text(body, field="body", max_length=SITREP_MAX, required=True)
    kept = _sitrep_sections(
        crisis=crisis, actor=actor, sections=sections, public=audience_spec.detail == "public"
    )
    restricted = _restricted_named(
        crisis=crisis, actor=actor, texts=[subject, body, *(text for _, text in kept)]
    )
    _refuse_restricted_in_shared_text(
        texts={"subject": subject, "body": body}, restricted=restricted
    )
    for index, (escalation, text) in enumerate(kept):
        _refuse_restricted_in_shared_text(
            texts={f"sections[{index}].body": text},
            restricted=restricted,
            allowed=escalation.pk,
        )
    previous = Sitrep.objects.filter(crisis=crisis, audience=audience).order_by("-number").first()
    keeps_cadence = audience_spec.keeps_cadence
    now = clock.now()
    sitrep = Sitrep.objects.create(
        crisis=crisis,
        audience=audience,
        number=(previous.number + 1) if previous else 1,
        language=language,
        subject=subject,
        body=body,
        level=crisis.level,
        covers_from=previous.sent_at if previous else crisis.declared_at,
        sent_at=now,
        sent_by=actor,
        was_due_at=crisis.next_sitrep_due_at if keeps_cadence else None,
        template_code=template.spec.code,
        template_digest=template.digest,
    )
    SitrepSection.objects.bulk_create(
        SitrepSection(sitrep=sitrep, position=position, escalation=escalation, body=text)
        for position, (escalation, text) in enumerate(kept)
    )
    if keeps_cadence:
        refresh_sitrep_due(crisis, config)
    crisis.updated_at = now
    crisis.save(update_fields=["next_sitrep_due_at", "updated_at"])
    record_crisis_event(
        AuditAction.CRISIS_SITREP_SENT,
        crisis=crisis,
        actor=actor,
        target=sitrep,
        data={
            "sitrep_id": sitrep.pk,
            "audience": audience,
            "audience_name": audience_spec.name,
            "detail": audience_spec.detail,
            "number": sitrep.number,
            "language": language,
            "subject": subject,
            "body": body,
            # Each read only by those who may see its escalation (crises.timeline).
            "sections": [
                {"escalation_id": escalation.pk, "escalation": escalation.reference, "body": text}
                for escalation, text in kept
            ],
            "was_due_at": sitrep.was_due_at,
            "late": sitrep.is_late,
            "next_sitrep_due_at": crisis.next_sitrep_due_at,
            "template_digest": template.digest[:12],
        },
    )
    return sitrep


def _sitrep_sections(
    *, crisis: Crisis, actor: User, sections: Iterable[tuple[int, str]], public: bool
) -> list[tuple[Escalation, str]]:
    """The sections to keep, checked: each about an escalation linked to the crisis that the
    actor may see, at most one each; empty ones dropped. A public sitrep has none."""
    wanted = list(sections)
    if len(wanted) > SECTIONS_MAX:
        raise InvalidInput(
            f"a sitrep has at most {SECTIONS_MAX} sections, not {len(wanted)}", field="sections"
        )
    linked = {
        escalation.pk: escalation
        for escalation in escalations_visible_to(actor).filter(
            pk__in=[pk for pk, _ in wanted], crisis_links__crisis=crisis
        )
    }
    kept: list[tuple[Escalation, str]] = []
    for index, (pk, text) in enumerate(wanted):
        text = _text(text, field=f"sections[{index}].body", max_length=SITREP_MAX, required=False)
        if not text:
            continue
        if public:
            raise InvalidInput(
                "a public sitrep says nothing about individual cases: it has no sections",
                field=f"sections[{index}]",
            )
        escalation = linked.get(pk)
        if escalation is None:
            raise InvalidInput(
                f"no escalation WF-{pk} that you can see in {crisis.reference}",
                field=f"sections[{index}].escalation",
            )
        if any(kept_escalation.pk == pk for kept_escalation, _ in kept):
            raise InvalidInput(
                f"{escalation.reference} has two sections; make them one",
                field=f"sections[{index}].escalation",
            )
        kept.append((escalation, text))
    return kept
