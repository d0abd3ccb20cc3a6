"""The error vocabulary shared by services, the API and the CLI.

Every domain error carries a machine-readable ``code``, a human ``message`` that
names the value and the fix, and the ``field`` at fault when there is one. The API
turns them into ``{"code", "message", "field"}`` bodies; the UI shows the message
next to the field.
"""

from __future__ import annotations


class WatchfloorError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class InvalidInput(WatchfloorError):
    code = "invalid"


class NotFound(WatchfloorError):
    """Also raised for objects the actor may not see, so their existence never leaks."""

    code = "not_found"
    http_status = 404


class PermissionDenied(WatchfloorError):
    code = "forbidden"
    http_status = 403


class Conflict(WatchfloorError):
    code = "conflict"
    http_status = 409


class StaleEdit(Conflict):
    """An edit made on a copy read before someone else changed the same thing: refused,
    so that nobody's change is silently lost. ``current_version`` is the version to carry
    when the person, having seen what changed, tries again."""

    code = "stale"

    def __init__(self, message: str, *, field: str | None = None, current_version: int = 0):
        super().__init__(message, field=field)
        self.current_version = current_version
