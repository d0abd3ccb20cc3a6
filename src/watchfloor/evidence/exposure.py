"""Exposure: what each person has revealed, and care when it is a lot.

Exposure is read from the reveals (one row per timed reveal), on the injected clock. A
person sees their own figures on a private page; a lead sees their team's totals and who
is over the threshold, in alphabetical order and without figures per person: never a
ranking. Passing the threshold suggests a break (an audited nudge) and, where the team
has opted in, tells the lead that the person is stepping away: an email through notify,
once a shift, saying only that.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.services import record_event
from watchfloor.core.roles import Role
from watchfloor.evidence.models import Category, EvidenceItem, Reveal, TeamCarePolicy
from watchfloor.notify.direct import email_person
from watchfloor.people.oncall import graphic_content_duty_now

if TYPE_CHECKING:
    from collections.abc import Iterable

    from watchfloor.notify.models import Notification
    from watchfloor.people.models import User

SENSITIVE = Q(category__in=[c for c in Category.values if c != Category.GENERAL])
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Exposure:
    items: int = 0
    seconds: int = 0
    by_category: dict[str, int] = field(default_factory=dict)

    @property
    def by_category_labels(self) -> list[tuple[str, int]]:
        return [(Category(code).label, count) for code, count in sorted(self.by_category.items())]


def _exposure(reveals: QuerySet[Reveal]) -> Exposure:
    rows = list(reveals.values("category").annotate(items=Count("pk"), seconds=Sum("seconds")))
    return Exposure(
        items=sum(row["items"] for row in rows),
        seconds=sum(row["seconds"] or 0 for row in rows),
        by_category={row["category"]: row["items"] for row in rows},
    )


def _between(start: datetime, end: datetime) -> Q:
    return Q(revealed_at__gt=start, revealed_at__lte=end)


@dataclass(frozen=True)
class PersonalExposure:
    shift: Exposure
    week: Exposure
    sensitive_in_window: int
    threshold: int
    window: timedelta

    @property
    def over_threshold(self) -> bool:
        return self.sensitive_in_window >= self.threshold


def exposure_of(*, person: User, now: datetime) -> PersonalExposure:
    mine = Reveal.objects.filter(person=person)
    window = settings.WATCHFLOOR_EXPOSURE_NUDGE_WINDOW
    return PersonalExposure(
        shift=_exposure(mine.filter(_between(now - settings.WATCHFLOOR_EXPOSURE_SHIFT, now))),
        week=_exposure(mine.filter(_between(now - WEEK, now))),
        sensitive_in_window=mine.filter(SENSITIVE, _between(now - window, now)).count(),
        threshold=settings.WATCHFLOOR_EXPOSURE_NUDGE_ITEMS,
        window=window,
    )


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


def nudge_after_reveal(*, person: User, now: datetime) -> str:
    """The break suggestion once the person is at or past the threshold ("" below it).

    Called inside the reveal's transaction; the crossing itself is audited once, and where
    the team has opted in its lead(s) are emailed (once a shift, after commit).
    """
    window = settings.WATCHFLOOR_EXPOSURE_NUDGE_WINDOW
    threshold = settings.WATCHFLOOR_EXPOSURE_NUDGE_ITEMS
    count = Reveal.objects.filter(person=person).filter(SENSITIVE, _between(now - window, now))
    sensitive = count.count()
    if sensitive < threshold:
        return ""
    tell_lead = bool(
        person.team_id
        and TeamCarePolicy.objects.filter(team_id=person.team_id, tell_lead=True).exists()
    )
    minutes = settings.WATCHFLOOR_EXPOSURE_BREAK_MINUTES
    message = (
        f"You've viewed {sensitive} sensitive items in {_hours(window)} — "
        f"take a {minutes}-minute break."
    )
    if tell_lead:
        message += " Your lead has been told you are stepping away."
    if sensitive == threshold:
        record_event(
            action=AuditAction.EVIDENCE_EXPOSURE_NUDGED,
            actor=person,
            data={
                "person": person.get_username(),
                "team_id": person.team_id,
                "sensitive_items": sensitive,
                "window_hours": window.total_seconds() / 3600,
                "break_minutes": minutes,
                "lead_told": tell_lead,
            },
        )
        if tell_lead:
            tell_the_leads(person=person, now=now)
    return message


def leads_of(person: User) -> list[User]:
    """The active leads of the person's team (not the person), alphabetical."""
    if person.team is None:
        return []
    leads = person.team.members.filter(is_active=True, role=Role.LEAD).exclude(pk=person.pk)
    return sorted(leads, key=lambda lead: lead.display_name.casefold())


def tell_the_leads(*, person: User, now: datetime) -> list[Notification]:
    """Email the person's team lead(s) that they are stepping away for a break — nothing
    about what they saw — through notify's ordinary email path, once per shift: a second
    crossing within ``WATCHFLOOR_EXPOSURE_SHIFT`` of the first tells nobody again."""
    told_this_shift = AuditEvent.objects.filter(
        action=AuditAction.EVIDENCE_LEAD_TOLD,
        object_type=person._meta.label_lower,
        object_id=str(person.pk),
        occurred_at__gt=now - settings.WATCHFLOOR_EXPOSURE_SHIFT,
    ).exists()
    leads = leads_of(person)
    if told_this_shift or not leads or person.team is None:
        return []
    name = person.display_name
    sent = [
        email_person(
            recipient=lead,
            subject=f"{name} is stepping away for a break",
            body=(
                f"{name} is stepping away for a break.\n\n"
                "Your team asked Watchfloor to tell its lead when someone needs a break "
                "from sensitive material. Nothing else is shared.\n"
            ),
            event="exposure_break",
            reason=f"lead of {person.team.name}; the team's care policy",
            now=now,
        )
        for lead in leads
    ]
    record_event(
        action=AuditAction.EVIDENCE_LEAD_TOLD,
        actor=None,
        target=person,
        data={
            "person": person.get_username(),
            "team_id": person.team_id,
            "leads": [lead.get_username() for lead in leads],
            "notifications": [n.pk for n in sent],
        },
    )
    return sent


@dataclass(frozen=True)
class TeamExposure:
    """A team's totals and who is over the threshold: names only, alphabetical."""

    members: int
    shift: Exposure
    week: Exposure
    over_threshold: list[str]
    threshold: int
    window: timedelta

    @property
    def window_words(self) -> str:
        return _hours(self.window)


def team_exposure(*, people: Iterable[User], now: datetime) -> TeamExposure:
    people = list(people)
    ids = [p.pk for p in people]
    reveals = Reveal.objects.filter(person_id__in=ids)
    window = settings.WATCHFLOOR_EXPOSURE_NUDGE_WINDOW
    threshold = settings.WATCHFLOOR_EXPOSURE_NUDGE_ITEMS
    counts = Counter(
        reveals.filter(SENSITIVE, _between(now - window, now)).values_list("person_id", flat=True)
    )
    over = sorted(
        (p.display_name for p in people if counts.get(p.pk, 0) >= threshold), key=str.casefold
    )
    return TeamExposure(
        members=len(ids),
        shift=_exposure(reveals.filter(_between(now - settings.WATCHFLOOR_EXPOSURE_SHIFT, now))),
        week=_exposure(reveals.filter(_between(now - WEEK, now))),
        over_threshold=over,
        threshold=threshold,
        window=window,
    )


def exposure_on(*, items: Q, since: datetime, now: datetime) -> Exposure:
    """Everyone's reveals of the evidence items matching ``items`` (already limited to what
    the reader may see) since a moment: a crisis's war room shows its team's exposure
    during the crisis."""
    wanted = EvidenceItem.objects.filter(items).values("pk")
    return _exposure(
        Reveal.objects.filter(item__in=wanted, revealed_at__gte=since, revealed_at__lte=now)
    )


# ---------------------------------------------------------------- graphic-content duty


def on_duty_now(*, person: User, now: datetime) -> list[User]:
    """Who in the person's team is on graphic-content duty now (the rota's marked shifts)."""
    if person.team is None:
        return []
    return graphic_content_duty_now(team=person.team, at=now)


def _names(people: list[User]) -> str:
    names = [p.display_name for p in people]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def duty_advice(*, person: User, now: datetime, on_duty: list[User] | None = None) -> str:
    """Advice (never a block) for someone not on graphic-content duty: who is, now. "" when
    the person is on duty or nobody is."""
    if on_duty is None:
        on_duty = on_duty_now(person=person, now=now)
    if not on_duty or any(p.pk == person.pk for p in on_duty):
        return ""
    verb = "is" if len(on_duty) == 1 else "are"
    return (
        f"{_names(on_duty)} {verb} on graphic-content duty now: leave graphic material to "
        f"{'them' if len(on_duty) > 1 else 'the person on duty'} where you can."
    )
