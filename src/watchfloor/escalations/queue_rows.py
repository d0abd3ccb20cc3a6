"""The triage queue's rows as the page shows them: a presenter between the queue selector
and the page's template.

Each row's readings (its countdown and deadline in the viewer's and the market's time,
its severity badge, its title's language, its markets, owner and status) are worked out
here once, in Python, and the template only places them. Through per-row template tags,
filters and lookups, fifty rows were most of what the queue page cost to render
(docs/performance.md, "The triage queue").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse
from django.utils.safestring import SafeString

from watchfloor.escalations.models import Escalation
from watchfloor.web.templatetags.watchfloor_ui import DeadlineReader, severity_badge, text_attrs


@dataclass(frozen=True)
class RowClock:
    """The escalation's next running clock: its label, how far away it is, and when."""

    label: str
    # HTML marked safe, as the ``countdown`` and ``deadline`` tags give it.
    countdown: str
    deadline: str


@dataclass(frozen=True)
class RowMarket:
    code: str
    name: str


@dataclass(frozen=True)
class QueueRow:
    """One escalation as a row of the queue. Every value is ready to show."""

    reference: str
    url: str
    title: str
    # ` lang="…" dir="auto"` for the title's element (web.templatetags.text_attrs).
    title_attrs: SafeString
    severity_badge: SafeString
    # None when no clock runs.
    clock: RowClock | None
    is_breached: bool
    is_drill: bool
    is_restricted: bool
    is_high_visibility: bool
    type_name: str
    markets: tuple[RowMarket, ...]
    # "en, ja", or "" when none is named.
    languages: str
    # "" when unassigned.
    owner_name: str
    status: str
    status_label: str


def _clock(escalation: Escalation, deadlines: DeadlineReader) -> RowClock | None:
    if not escalation.next_due_at:
        return None
    market = escalation.primary_market
    # The market's time beside the viewer's: its first zone (UTC for a market without one).
    market_zone = market.primary_time_zone if market is not None else ""
    countdown, deadline = deadlines.countdown_and_deadline(escalation.next_due_at, market_zone)
    return RowClock(label=escalation.next_due_label, countdown=countdown, deadline=deadline)


def _detail_url() -> Callable[[int], str]:
    """The detail page's URL of an escalation by its id, reversed once per page: one
    ``reverse`` cost as much as the rest of a row."""
    before, after = reverse("escalation-detail", args=[0]).rsplit("0", 1)
    return lambda pk: f"{before}{pk}{after}"


def queue_row(
    escalation: Escalation, *, deadlines: DeadlineReader, detail_url: Callable[[int], str]
) -> QueueRow:
    """``escalation`` (with its type, owner and primary market joined, its markets
    prefetched, as ``selectors.triage_queue_page`` reads them) as a row of the queue;
    ``deadlines`` reads its clock in the viewer's zone, as of the page's time."""
    now = deadlines.now
    return QueueRow(
        reference=escalation.reference,
        url=detail_url(escalation.pk),
        title=escalation.title,
        title_attrs=text_attrs(escalation.title, escalation.languages),
        severity_badge=severity_badge(escalation.severity),
        clock=_clock(escalation, deadlines),
        is_breached=bool(escalation.next_due_at and escalation.next_due_at < now),
        is_drill=escalation.is_drill,
        is_restricted=escalation.is_restricted,
        is_high_visibility=escalation.is_high_visibility,
        type_name=escalation.type.name,
        markets=tuple(RowMarket(code=m.code, name=m.name) for m in escalation.markets.all()),
        languages=", ".join(escalation.languages or ()),
        owner_name=escalation.owner.display_name if escalation.owner else "",
        status=escalation.status,
        status_label=escalation.get_status_display(),
    )


def queue_rows(escalations: Iterable[Escalation], *, now: datetime) -> list[QueueRow]:
    """A page of the queue as its rows, in the selector's order, as of ``now`` in the
    viewer's zone (the one active for the request)."""
    deadlines, detail_url = DeadlineReader(now=now), _detail_url()
    return [
        queue_row(escalation, deadlines=deadlines, detail_url=detail_url)
        for escalation in escalations
    ]
