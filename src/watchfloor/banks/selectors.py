"""Reads of banks, need-to-know first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q, QuerySet

from watchfloor.banks.models import Bank, BankEntry, ReviewOutcome, RuleFiring
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
