"""What every signal file reader shares: the file's limits and a binary reader.

``FileLimits`` bounds one file (bytes once decompressed, lines, bytes of one record);
``FileBudget`` is what is left of them as the file is read. ``binary_reader`` gives
the JSON Lines and CSV readers one binary, gunzipped-if-need-be stream whatever the
caller passed (a file, a text stream, an iterable of lines).
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from watchfloor.signals.contract.errors import Reason, SignalRejected

# A signal at its limits is ~130 kB as JSON (20,000 characters, each possibly a
# six-byte \\u escape); a line (or CSV record) past this is not a signal, and is
# skipped unread.
MAX_LINE_BYTES = 1024 * 1024
# What one file may hold once decompressed, and how many lines: past either, the file
# stops being read (a gzip of nothing but line breaks decompresses a thousandfold).
# The ingest command takes its limits from settings (``FileLimits``); these are the
# defaults.
MAX_FILE_BYTES = 4 * 1024**3
MAX_FILE_LINES = 10_000_000


ParsedRecord = tuple[int, "dict[str, Any] | SignalRejected"]


@dataclass(frozen=True, slots=True)
class FileLimits:
    """The bounds of one signal file: bytes once decompressed, lines, and bytes of one
    line (JSON Lines) or record (CSV). None is this module's default (``MAX_FILE_BYTES``,
    ``MAX_FILE_LINES``, ``MAX_LINE_BYTES``)."""

    max_bytes: int | None = None
    max_lines: int | None = None
    max_record_bytes: int | None = None

    def resolved(self) -> FileLimits:
        return FileLimits(
            max_bytes=self.max_bytes if self.max_bytes is not None else MAX_FILE_BYTES,
            max_lines=self.max_lines if self.max_lines is not None else MAX_FILE_LINES,
            max_record_bytes=(
                self.max_record_bytes if self.max_record_bytes is not None else MAX_LINE_BYTES
            ),
        )


class FileBudget:
    """What is left of a file's limits as it is read."""

    def __init__(self, limits: FileLimits | None) -> None:
        resolved = (limits or FileLimits()).resolved()
        assert (
            resolved.max_bytes is not None
            and resolved.max_lines is not None
            and resolved.max_record_bytes is not None
        ), "resolved() sets every limit"
        self.max_bytes: int = resolved.max_bytes
        self.max_lines: int = resolved.max_lines
        self.max_record: int = resolved.max_record_bytes
        self.bytes = 0
        self.lines = 0

    def exceeded(self, line: int) -> SignalRejected | None:
        """The rejection that ends the file at ``line``, once a limit is passed."""
        if self.bytes > self.max_bytes:
            return SignalRejected(
                Reason.FILE_TOO_LARGE,
                "",
                f"the file is larger than {self.max_bytes:,} bytes once decompressed; it is "
                "not read past this line: split it into smaller files",
                line=line,
            )
        if self.lines > self.max_lines:
            return SignalRejected(
                Reason.FILE_TOO_LARGE,
                "",
                f"the file has more than {self.max_lines:,} lines; it is not read past "
                "this one: split it into smaller files",
                line=line,
            )
        return None

    def too_long(self, line: int, size: int, what: str) -> SignalRejected:
        return SignalRejected(
            Reason.TOO_LONG,
            "",
            f"the {what} is longer than {self.max_record:,} bytes ({size:,} read): a signal "
            "is far smaller, so this is not one",
            line=line,
        )


def skip_rest_of_line(reader: IO[bytes], budget: FileBudget) -> int:
    """Read past the end of an over-long line, a chunk at a time (never holding it);
    stops early once the file's byte limit is passed."""
    skipped = 0
    while chunk := reader.readline(budget.max_record):
        skipped += len(chunk)
        budget.bytes += len(chunk)
        if chunk.endswith(b"\n") or budget.bytes > budget.max_bytes:
            break
    return skipped


def corrupt_gzip(error: BaseException, line: int) -> SignalRejected:
    return SignalRejected(
        Reason.BAD_ENCODING,
        "",
        f"the gzip data is truncated or corrupt here ({error}); the lines before were read",
        line=line,
    )


class LineIterableReader:
    """Gives an iterable of lines the ``readline`` of a binary file."""

    def __init__(self, lines: Iterable[bytes | str]) -> None:
        self._lines = iter(lines)

    def readline(self, limit: int = -1) -> bytes:
        line = next(self._lines, b"")
        if isinstance(line, str):
            line = line.encode("utf-8", "surrogatepass")
        return line

    def read(self, size: int = -1) -> bytes:
        return b"".join(
            line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
            for line in self._lines
        )


def binary_reader(stream: Any) -> Any:
    """A binary, buffered, gunzipped-if-need-be reader over what the caller passed."""
    if isinstance(stream, io.TextIOBase):
        buffer = getattr(stream, "buffer", None)
        if buffer is None:  # io.StringIO: already text, so neither gzip nor bytes
            return io.BytesIO(stream.read().encode("utf-8", "surrogatepass"))
        stream = buffer
    if not hasattr(stream, "read"):
        return LineIterableReader(stream)
    if hasattr(stream, "peek"):
        magic = stream.peek(2)[:2]
    elif getattr(stream, "seekable", None) and stream.seekable():
        start = stream.tell()
        magic = stream.read(2)
        stream.seek(start)
    else:
        # Wrapping would close the caller's stream when the wrapper is collected,
        # so only streams that can neither peek nor seek get one.
        stream = io.BufferedReader(stream)
        magic = stream.peek(2)[:2]
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=stream, mode="rb")
    return stream
