"""Reads of banks, need-to-know first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate

from watchfloor.banks.models import (
    Bank,
    BankEntry,
    Exchange,
    FeedbackState,
    Match,
    ReviewOutcome,
    RuleFiring,
)
from watchfloor.core.errors import NotFound
from watchfloor.core.roles import Role, is_admin
from watchfloor.escalations.selectors import escalations_visible_to

if TYPE_CHECKING:
    from watchfloor.people.models import User


def banks_visible_to(user: User) -> QuerySet[Bank]:
    """Admins see every bank. A restricted bank is seen by its access list and its owner
    team; partners see only banks their team owns."""
    banks = Bank.objects.select_related("owner_team")
    if is_admin(user):
        return banks
    on_access_list = Exists(
        Bank.access_list.through.objects.filter(bank_id=OuterRef("pk"), user_id=user.pk)
    )
    owned = Q(owner_team_id=user.team_id) if user.team_id else Q(pk__in=[])
    if user.role == Role.PARTNER:
        return banks.filter(owned)
    return banks.filter(Q(is_restricted=False) | Q(on_access_list) | owned)


def access_bank(user: User, name: str) -> Bank:
    """The bank, or the same not-found error whether it is missing or hidden."""
    bank = banks_visible_to(user).filter(name=name).first()
    if bank is None:
        raise NotFound(f"no bank named {name!r}", field="bank")
    return bank


def entries_of(bank: Bank, *, include_disabled: bool = False) -> QuerySet[BankEntry]:
    entries = BankEntry.objects.filter(bank=bank)
    return entries if include_disabled else entries.filter(disabled_at__isnull=True)


def firings_awaiting_review(user: User) -> QuerySet[RuleFiring]:
    """Live firings of action rules set aside for a person, oldest first: those on a bank
    the user may see, and whose escalation (if any) the user may see."""
    return (
        RuleFiring.objects.filter(needs_review=True, review_outcome=ReviewOutcome.PENDING)
        .filter(match__bank__in=banks_visible_to(user).values("pk"))
        .filter(
            Q(escalation__isnull=True) | Q(escalation__in=escalations_visible_to(user).values("pk"))
        )
        .select_related("match__bank", "escalation")
        .order_by("id")
    )


# -- the pages ---------------------------------------------------------------------

RECENT_MATCH_DAYS = 7
HISTORY_DAYS = 14


def bank_list_for(user: User, *, now: datetime) -> QuerySet[Bank]:
    """The user's visible banks with their enabled entries and their matches in the last
    ``RECENT_MATCH_DAYS`` days counted (subqueries: one query for the page)."""
    since = now - timedelta(days=RECENT_MATCH_DAYS)
    entries = BankEntry.objects.filter(disabled_at__isnull=True)
    matches = Match.objects.filter(matched_at__gte=since)
    return banks_visible_to(user).annotate(
        entry_count=count_per_bank(entries),
        recent_matches=count_per_bank(matches),
    )


def count_per_bank(rows: QuerySet[Any]) -> Coalesce:
    """``rows`` counted per bank, as a subquery to annotate banks with."""
    per_bank = rows.filter(bank=OuterRef("pk")).order_by().values("bank").annotate(n=Count("pk"))
    return Coalesce(Subquery(per_bank.values("n")), 0)


@dataclass(frozen=True)
class DayCount:
    day: date
    count: int


def matches_per_day(bank: Bank, *, now: datetime, days: int = HISTORY_DAYS) -> list[DayCount]:
    """The bank's matches on each of the last ``days`` days (UTC), oldest first, days
    without matches included."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    counted = dict(
        Match.objects.filter(
            bank=bank, matched_at__gte=datetime.combine(first, datetime.min.time(), tzinfo=UTC)
        )
        .annotate(day=TruncDate("matched_at", tzinfo=UTC))
        .order_by()
        .values_list("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    return [
        DayCount(day=day, count=counted.get(day, 0))
        for day in (first + timedelta(days=n) for n in range(days))
    ]


@dataclass(frozen=True)
class ReviewFigures:
    reviewed: int
    wrong: int

    @property
    def false_positive_percent(self) -> float | None:
        return round(100 * self.wrong / self.reviewed, 1) if self.reviewed else None


def review_figures(bank: Bank) -> ReviewFigures:
    """From the people's reviews of automated actions on the bank's matches: how many
    were reviewed, and how many of those were wrong (false positives)."""
    reviewed = RuleFiring.objects.filter(match__bank=bank).exclude(
        review_outcome=ReviewOutcome.PENDING
    )
    totals = reviewed.aggregate(
        reviewed=Count("pk"), wrong=Count("pk", filter=Q(review_outcome=ReviewOutcome.WRONG))
    )
    return ReviewFigures(reviewed=totals["reviewed"], wrong=totals["wrong"])


def entries_for_page(bank: Bank) -> QuerySet[BankEntry]:
    """Every entry, disabled ones included, newest first, with who added it."""
    return (
        BankEntry.objects.filter(bank=bank).select_related("added_by", "exchange").order_by("-id")
    )


def exchanges_of(bank: Bank) -> QuerySet[Exchange]:
    """The exchanges fetched into the bank, with their queued and failed opinions."""
    return (
        Exchange.objects.filter(bank=bank)
        .annotate(
            opinions_waiting=Count(
                "feedback",
                filter=Q(feedback__state__in=[FeedbackState.PENDING, FeedbackState.FAILED]),
            )
        )
        .order_by("name")
    )


def entries_holding(values: list[str], *, banks: list[int]) -> QuerySet[BankEntry]:
    """The entries of those banks (ids the caller may see) that hold any of the values."""
    wanted = [value for value in values if value]
    return (
        BankEntry.objects.filter(bank_id__in=banks, value__in=wanted)
        .select_related("bank")
        .order_by("bank__name")
    )
