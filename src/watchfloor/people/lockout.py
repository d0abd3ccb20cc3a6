"""Sign-in throttling: django-axes with one limit per account and another per address.

django-axes counts failed sign-ins per lockout parameter (``AXES_LOCKOUT_PARAMETERS =
["username", "ip_address"]``) and compares the larger count with a single limit. One
limit does not fit both: five wrong passwords for one account are a guess at it, while an
office behind one address may well see five mistakes among its people in a quarter of an
hour. This handler keeps axes' storage and cool-off and answers "how many failures"
against two limits, ``WATCHFLOOR_LOGIN_FAILURES_PER_ACCOUNT`` (axes' own
``AXES_FAILURE_LIMIT``) and ``WATCHFLOOR_LOGIN_FAILURES_PER_ADDRESS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest


def _failures(attempts: QuerySet) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


class LoginLockoutHandler(AxesDatabaseHandler):
    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """The account's failures, or the account limit itself once the address has had
        too many: axes locks out when this reaches ``AXES_FAILURE_LIMIT``."""
        by_account, by_address = self.get_user_attempts(request, credentials)
        account_failures = _failures(by_account)
        if _failures(by_address) >= settings.WATCHFLOOR_LOGIN_FAILURES_PER_ADDRESS:
            return max(account_failures, settings.WATCHFLOOR_LOGIN_FAILURES_PER_ACCOUNT)
        return account_failures
