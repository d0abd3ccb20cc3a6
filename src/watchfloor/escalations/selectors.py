"""Reads of escalations. Every query starts from :func:`escalations_visible_to`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from watchfloor.audit.events import AuditAction
from watchfloor.audit.selectors import events_for_escalation
from watchfloor.core.candidates import count_candidates
from watchfloor.core.errors import NotFound
from watchfloor.core.fulltext import lies_densely
from watchfloor.core.roles import Role, is_admin
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.text_index import count_text_matches, text_filter, text_test
from watchfloor.web import pagination
from watchfloor.web.pagination import capped_count

if TYPE_CHECKING:
    from watchfloor.people.models import User


def escalations_visible_to(user: User) -> QuerySet[Escalation]:
    """Need to know, applied before anything else.

    Admins see everything. Partner-team members see only escalations shared with their
    team. Everyone else sees unrestricted escalations. A restricted escalation is seen
    only by the people on its access list (and admins), whoever they are.
    """
    return Escalation.objects.filter(visible_through(user, ""))


def visible_through(user: User, relation: str = "escalation") -> Q:
    """The need-to-know condition of :func:`escalations_visible_to` on a row that points
    at its escalation through ``relation`` ("" for the escalation itself).

    Written for the planner: unrestricted rows straight from an index (every queue index
    carries is_restricted) or the joined escalation row, restricted ones by the person's
    own access list, an uncorrelated subquery read once per query (a hashed set on
    PostgreSQL, a temporary index on SQLite). A row filtered with
    ``escalation__in=escalations_visible_to(user)`` instead makes the database list every
    visible escalation first, which at 100,000 escalations cost the header's "needs me"
    count 40 ms on every page.
    """
    field = f"{relation}__" if relation else ""
    pk = relation or "pk"
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if is_admin(user):
        return Q(**{f"{field}pk__isnull": False}) if relation else Q()
    on_access_list = Escalation.access_list.through.objects.filter(user_id=user.pk).values(
        "escalation_id"
    )
    visible = Q(**{f"{field}is_restricted": False}) | Q(**{f"{pk}__in": on_access_list})
    if user.role == Role.PARTNER:
        if user.team_id is None:
            return Q(pk__in=[])
        shared = Escalation.shared_with_teams.through.objects.filter(team_id=user.team_id)
        return Q(**{f"{pk}__in": shared.values("escalation_id")}) & visible
    return visible


def access_escalation(*, actor: User, escalation_id: int | str) -> Escalation:
    """The escalation, or the same NotFound whether it is missing or hidden from ``actor``."""
    try:
        pk = int(escalation_id)
    except (TypeError, ValueError) as exc:
        raise NotFound(f"no escalation '{escalation_id}'", field="escalation_id") from exc
    escalation = (
        escalations_visible_to(actor)
        .select_related("type", "owner", "policy", "catalog_version", "source_team", "merged_into")
        .filter(pk=pk)
        .first()
    )
    if escalation is None:
        raise NotFound(f"no escalation WF-{pk} that you can see", field="escalation_id")
    return escalation


@dataclass(frozen=True)
class QueueFilters:
    statuses: tuple[str, ...] = ()
    severities: tuple[int, ...] = ()
    market: str = ""
    policy: str = ""
    mine: bool = False
    owner_username: str = ""
    text: str = ""
    include_closed: bool = False
    # Escalations opened by crisis drills: "hide" (the default: a queue of real work),
    # "include" or "only".
    drills: str = "hide"
    # "severity" (the default: most severe first, then the nearest deadline) or
    # "deadline" (the nearest deadline first, then the most severe).
    sort: str = "severity"


DRILL_FILTERS = ("hide", "include", "only")
QUEUE_SORTS = ("severity", "deadline")
# Each order ends on the primary key, so paging through it is stable; each is the column
# order of an open-queue index (models.Escalation.Meta), so a page is an index walk.
_QUEUE_ORDER = {
    "severity": ("severity", "queue_due_at", "pk"),
    "deadline": ("queue_due_at", "severity", "pk"),
}


def _in_market(code: str) -> QuerySet[Any]:
    """The links of escalations to the market ``code`` (read by the market's index)."""
    return Escalation.markets.through.objects.filter(market__code=code)


def triage_queue(*, user: User, filters: QueueFilters, walk: bool = False) -> QuerySet[Escalation]:
    """Open escalations, most severe first, then the nearest deadline first (or the other
    way round when ``filters.sort`` is "deadline").

    ``walk`` (``QueueCount.walk``) says the queue as filtered is long and dense along its
    order: a market filter and a text search are then tested row by row along the
    queue's order, where a page's fifty are found within the first few thousand rows,
    instead of gathering every escalation of the market or every match of the words and
    sorting them all (tens of thousands at 1,000,000). A short or sparse queue gathers
    them: walking the order for a rare market or word would read most of the queue.
    """
    escalations = escalations_visible_to(user)
    if filters.statuses:
        escalations = escalations.filter(status__in=filters.statuses)
    elif not filters.include_closed:
        # Written as the open-queue index's own condition, so the planner can use it.
        escalations = escalations.filter(is_open=True)
    if filters.drills == "hide":
        escalations = escalations.filter(is_drill=False)
    elif filters.drills == "only":
        escalations = escalations.filter(is_drill=True)
    if filters.severities:
        escalations = escalations.filter(severity__in=filters.severities)
    if filters.market:
        in_market = _in_market(filters.market)
        if walk:
            escalations = escalations.filter(Exists(in_market.filter(escalation_id=OuterRef("pk"))))
        else:
            # From the market's side: its ids by index, not a test on every row.
            escalations = escalations.filter(pk__in=in_market.values("escalation_id"))
    if filters.policy:
        escalations = escalations.filter(policy__code=filters.policy)
    if filters.mine:
        escalations = escalations.filter(owner=user)
    elif filters.owner_username:
        escalations = escalations.filter(owner__username=filters.owner_username)
    if filters.text:
        # The text index (escalations.text_index, docs/search.md), not a scan of every row.
        each_row = text_test(filters.text) if walk else None
        escalations = escalations.filter(each_row or text_filter(filters.text))
    return (
        escalations.select_related("type", "owner", "policy", "primary_market")
        .prefetch_related("markets")
        # queue_due_at is never empty: no running clock sorts last on every database.
        .order_by(*_QUEUE_ORDER.get(filters.sort, _QUEUE_ORDER["severity"]))
    )


# What the queue page shows of each escalation (escalations.queue_rows): its rows read
# these columns only, not the rubric answers, explanations and summaries beside them.
QUEUE_PAGE_COLUMNS = (
    "title",
    "languages",
    "severity",
    "status",
    "next_due_at",
    "next_due_label",
    "is_drill",
    "is_restricted",
    "is_high_visibility",
    "type__name",
    "owner__username",
    "owner__first_name",
    "owner__last_name",
    "primary_market__time_zones",
)


def triage_queue_page(
    *, user: User, filters: QueueFilters, walk: bool = False
) -> QuerySet[Escalation]:
    """:func:`triage_queue` as the queue page reads it: the same rows in the same order,
    with only :data:`QUEUE_PAGE_COLUMNS` (fifty rows of every column and their policies
    were a fifth of what the page's rows cost to read)."""
    return (
        triage_queue(user=user, filters=filters, walk=walk)
        .select_related(None)
        .select_related("type", "owner", "primary_market")
        .only(*QUEUE_PAGE_COLUMNS)
    )


# A text search's count stops here, the queue's at web.pagination.COUNT_CAP: counting a
# common word's matches past a thousand cost the page more than all the rest of it, and a
# search past a thousand rows is one to narrow, not to page through.
TEXT_COUNT_CAP = 1_000


class QueueCount(NamedTuple):
    """The queue's count as the page and the list API show it, and how to read its page."""

    total: int
    is_capped: bool
    # Long and dense along the queue's order: read the page walking it (triage_queue).
    walk: bool


def triage_queue_count(*, user: User, filters: QueueFilters) -> QueueCount:
    """The count of :func:`triage_queue`, as the page and the list API show it: exact up
    to the cap (``web.pagination.COUNT_CAP``; ``TEXT_COUNT_CAP`` for a text search), else
    the cap, capped. A text search is counted from the text index's matches, each looked up
    in the queue as filtered otherwise.

    A capped queue is long: its page walks the queue's order (a market filter past the cap
    matches one row in a hundred or more at 1,000,000). A text search's does so only when
    its matches also lie densely (``core.fulltext.lies_densely``): a thousand matches of a
    rare word may be spread over a million rows."""
    if filters.market and not filters.text:
        # From the market's side (core.candidates): its escalations by the market's
        # index, each looked up in the rest of the queue, instead of listing them all.
        rest = triage_queue(user=user, filters=replace(filters, market=""))
        candidates = _in_market(filters.market).values(object_id=F("escalation_id")).order_by()
        sql, params = candidates.query.sql_with_params()
        cap = pagination.COUNT_CAP
        counted, _ = count_candidates(rest, sql, list(params), limit=cap + 1)
        total, is_capped = pagination.capped(counted, cap=cap)
        return QueueCount(total, is_capped, walk=is_capped)
    if not filters.text:
        count, capped = capped_count(triage_queue(user=user, filters=filters))
        return QueueCount(count, capped, walk=capped)
    rest = triage_queue(user=user, filters=replace(filters, text=""))
    counted, reach = count_text_matches(rest, filters.text, limit=TEXT_COUNT_CAP + 1)
    total, is_capped = pagination.capped(counted, cap=TEXT_COUNT_CAP)
    return QueueCount(total, is_capped, walk=is_capped and lies_densely(counted, reach))


def escalation_detail(escalation: Escalation) -> Escalation:
    """Load what the detail page and API show, in a fixed number of queries."""
    return (
        Escalation.objects.select_related(
            "type",
            "owner",
            "policy",
            "catalog_version",
            "source_team",
            "merged_into",
            "severity_overridden_by",
            "created_by",
            "primary_market",
        )
        .prefetch_related(
            "markets",
            "subjects",
            "clocks__statutory_rule",
            "access_list",
            "shared_with_teams",
            "decisions__policy_version__policy",
            "decisions__action",
            "decisions__decided_by",
            "decisions__reviewed_by",
            "merged_duplicates",
            "severity_downgrades__proposed_by",
            "severity_downgrades__reviewed_by",
        )
        .get(pk=escalation.pk)
    )


def linked_escalations(*, escalation: Escalation, user: User) -> QuerySet[Escalation]:
    """Related escalations the viewer may see (a hidden one is simply not listed)."""
    from watchfloor.escalations.models import Link

    ids = set(
        Link.objects.filter(from_escalation=escalation).values_list("to_escalation_id", flat=True)
    ) | set(
        Link.objects.filter(to_escalation=escalation).values_list("from_escalation_id", flat=True)
    )
    return escalations_visible_to(user).filter(pk__in=ids).select_related("type")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    action: str
    label: str
    data: dict[str, Any]
    # Where the event sits in the log, and the escalation it is about (for merging
    # several escalations' timelines and telling them apart again).
    sequence: int = 0
    escalation_id: int | None = None


# ---------------------------------------------------------------- timelines for a reader
#
# An event on one escalation's timeline may name something else: the escalation it was
# linked with or merged into, or (events of the apps above) a crisis and the other
# escalations in it. A timeline is read through :func:`timeline_for_reader`, which leaves
# out or blanks what names something the reader may not see. Apps above this one register
# a reader for their own events in their ``AppConfig.ready()``.

TimelineReader = Callable[["User", list[TimelineEntry]], list[TimelineEntry]]
_timeline_readers: list[TimelineReader] = []
_REFERENCE = re.compile(r"^WF-(\d+)$")


def register_timeline_reader(reader: TimelineReader) -> None:
    """Add a step that shows a reader another app's events on an escalation timeline: it
    gets the reader and the entries, and returns them with what the reader may not see
    left out or blanked (in one query or none, never one per entry)."""
    if reader not in _timeline_readers:
        _timeline_readers.append(reader)


def escalation_id_of(reference: Any) -> int | None:
    """``WF-12`` → 12; None for anything else."""
    match = _REFERENCE.match(str(reference or ""))
    return int(match.group(1)) if match else None


def visible_escalation_ids(user: User, ids: Iterable[int | None]) -> set[int]:
    """Which of ``ids`` the user may see: one query, none when there is nothing to ask."""
    wanted = {pk for pk in ids if pk is not None}
    if not wanted:
        return set()
    return set(escalations_visible_to(user).filter(pk__in=wanted).values_list("pk", flat=True))


# The escalation events that name another escalation, and the key that names it.
_NAMES_ANOTHER: dict[str, str] = {
    AuditAction.ESCALATION_LINKED: "with",
    AuditAction.ESCALATION_MERGED: "into",
    AuditAction.ESCALATION_ABSORBED: "duplicate",
}


def _other_escalations_for_reader(
    user: User, entries: list[TimelineEntry], *, visible: set[int] | None
) -> list[TimelineEntry]:
    """A link to, or a merge with, an escalation the reader may not see: the link (with its
    reason) and the absorption are left out; the merge of this one is kept, as it closed
    this escalation, without what it was merged into or why. ``visible``: the linked
    escalations the reader may see, when the caller has them already (spares a query)."""
    if visible is None:
        visible = visible_escalation_ids(
            user,
            (
                escalation_id_of(entry.data.get(_NAMES_ANOTHER[entry.action]))
                for entry in entries
                if entry.action in _NAMES_ANOTHER and isinstance(entry.data, dict)
            ),
        )
    shown = []
    for entry in entries:
        key = _NAMES_ANOTHER.get(entry.action)
        if key is None or not isinstance(entry.data, dict):
            shown.append(entry)
            continue
        if escalation_id_of(entry.data.get(key)) in visible:
            shown.append(entry)
        elif entry.action == AuditAction.ESCALATION_MERGED:
            data = {k: v for k, v in entry.data.items() if k not in ("into", "reason")}
            shown.append(replace(entry, data=data))
    return shown


def timeline_for_reader(
    entries: Iterable[TimelineEntry], *, viewer: User, linked_visible: Iterable[int] | None = None
) -> list[TimelineEntry]:
    """The entries as ``viewer`` may read them (see the note above). ``linked_visible``:
    every escalation linked to the one whose timeline this is that the viewer may see,
    when the caller has them already (an escalation names others only through links)."""
    shown = _other_escalations_for_reader(
        viewer, list(entries), visible=set(linked_visible) if linked_visible is not None else None
    )
    for reader in _timeline_readers:
        shown = reader(viewer, shown)
    return shown


def escalation_timeline(
    escalation: Escalation, *, viewer: User, linked_visible: Iterable[int] | None = None
) -> list[TimelineEntry]:
    """The audit events about this escalation, in order, as ``viewer`` may read them
    (``linked_visible`` as for :func:`timeline_for_reader`). Views of restricted
    escalations are kept in the log but left out of the reading timeline to keep it
    about the work."""
    return timeline_for_reader(
        (
            TimelineEntry(
                at=event.occurred_at,
                actor=event.actor_label,
                action=event.action,
                label=event.action_label,
                data=event.data,
                sequence=event.sequence,
                escalation_id=event.escalation_id,
            )
            for event in events_for_escalation(escalation.pk).exclude(
                action=AuditAction.ESCALATION_VIEWED
            )
        ),
        viewer=viewer,
        linked_visible=linked_visible,
    )


EXPORT_COLUMNS = (
    "reference",
    "title",
    "type",
    "severity",
    "status",
    "markets",
    "languages",
    "policy",
    "owner",
    "source",
    "next_deadline",
    "next_deadline_at_utc",
    "opened_at_utc",
    "restricted",
)


def queue_export_rows(*, user: User, filters: QueueFilters):
    """The queue as rows for a file: the same need-to-know as the page, streamed in chunks."""
    escalations = triage_queue(user=user, filters=filters)
    for escalation in escalations.iterator(chunk_size=2000):
        yield (
            escalation.reference,
            escalation.title,
            escalation.type.code,
            escalation.severity_name,
            escalation.status,
            " ".join(m.code for m in escalation.markets.all()),
            " ".join(escalation.languages),
            escalation.policy.code if escalation.policy else "",
            escalation.owner.username if escalation.owner else "",
            escalation.source_kind,
            escalation.next_due_label,
            # UTC whatever the viewer's zone: a file outlives the page it came from.
            escalation.next_due_at.astimezone(UTC).isoformat() if escalation.next_due_at else "",
            escalation.opened_at.astimezone(UTC).isoformat(),
            "yes" if escalation.is_restricted else "no",
        )
