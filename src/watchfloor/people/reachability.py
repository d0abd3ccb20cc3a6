"""Whether a person can be reached when they are paged.

The people app sends nothing itself: the app that pages people (notify) registers, in
its ``AppConfig.ready()``, a check that says why a person cannot be reached its way (no
email address on their account, say). The on-call page asks here, so an on-call person
whom every page would miss is flagged before the night they are needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchfloor.people.models import User

ReachabilityCheck = Callable[["User"], str]

_checks: list[ReachabilityCheck] = []


def register_reachability_check(check: ReachabilityCheck) -> None:
    """Add ``check``: it returns why ``user`` cannot be reached, or "" when they can."""
    if check not in _checks:
        _checks.append(check)


def unreachable_reason(user: User) -> str:
    """Why a page to ``user`` would not reach them, or "" (also with no pager installed)."""
    for check in _checks:
        reason = check(user)
        if reason:
            return reason
    return ""
