"""Edits that carry the version they were read at (optimistic concurrency).

A row that people edit from a form or an API client keeps a counter that every change
raises. The edit names the count it was read at; the service, holding the row locked,
refuses it when the count has moved on, so a form opened before somebody else's change
cannot silently undo it (e.g. put back a person whose access was just revoked).
"""

from __future__ import annotations

from watchfloor.core.errors import Conflict

STALE = "stale"
VERSION_FIELD = "expected_version"


def require_current_version(
    *, expected: int | None, current: int, what: str, now: str = "", field: str = VERSION_FIELD
) -> None:
    """Raise a ``Conflict`` (HTTP 409, code ``stale``) when ``expected`` is not ``current``.

    ``expected`` None means the caller read nothing a person saw: a change made for an
    authority such as the identity provider, or by the system itself. ``now`` says what
    the thing is now, so the person sees what changed before making their edit again.
    """
    if expected is None or expected == current:
        return
    parts = [
        f"{what} changed since you opened it (you read version {expected}; "
        f"it is now version {current}).",
        f"Now: {now}." if now else "",
        "Reload, check the change and make yours again.",
    ]
    raise Conflict(" ".join(p for p in parts if p), field=field, code=STALE)
