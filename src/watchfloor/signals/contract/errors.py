"""Why a signal is turned away: the rejection reasons and the errors of the signals package.

``SignalRejected`` is one signal (or one line of a file) that does not meet the
contract; ``SignalFileError`` is a file that cannot be read at all.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Why a signal was rejected; the ``code`` of the error the API and CLI report."""

    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    BAD_TYPE = "bad_type"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_SOURCE = "unknown_source"
    BAD_TIMESTAMP = "bad_timestamp"
    INVALID_PDQ = "invalid_pdq"
    TOO_LONG = "too_long"
    BAD_ENCODING = "bad_encoding"
    MALFORMED_JSON = "malformed_json"
    MALFORMED_CSV = "malformed_csv"
    FILE_TOO_LARGE = "file_too_large"


class SignalError(Exception):
    """Base class of the errors raised by the signals package."""


class SignalFileError(SignalError):
    """A signal file that cannot be read at all (as opposed to one bad line in it)."""


class SignalRejected(SignalError):
    """One signal that does not meet the contract.

    ``field`` is the dotted name of the field at fault (``media.pdq``), or "" when
    the record as a whole is unreadable; ``line`` is the file line, for files.
    """

    def __init__(
        self, reason_code: str, field: str, message: str, *, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.field = field
        self.message = message
        self.line = line

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (the CLI prepares batches in a helper process): the default for
        # exceptions would call __init__ with the message alone.
        return (type(self), (self.reason_code, self.field, self.message), {"line": self.line})

    def at_line(self, line: int) -> SignalRejected:
        """The same rejection, located at a line of a file."""
        return SignalRejected(self.reason_code, self.field, self.message, line=line)

    def as_dict(self) -> dict[str, Any]:
        """The rejection in the shape of an API error: ``{"code", "message", "field"}``."""
        result: dict[str, Any] = {
            "code": str(self.reason_code),
            "message": self.message,
            "field": self.field,
        }
        if self.line is not None:
            result["line"] = self.line
        return result

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.message} [{self.reason_code}]"

    def __repr__(self) -> str:
        return (
            f"SignalRejected({str(self.reason_code)!r}, {self.field!r}, {self.message!r}, "
            f"line={self.line!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SignalRejected):
            return NotImplemented
        return (self.reason_code, self.field, self.message, self.line) == (
            other.reason_code,
            other.field,
            other.message,
            other.line,
        )

    def __hash__(self) -> int:
        return hash((self.reason_code, self.field, self.message, self.line))
