"""CSV signal files: a header row of dotted field names, then one record per row.

Records are read a line at a time within the file's limits, so a huge quoted cell is
rejected without being held; a broken record is reported at its first file line and
reading resumes at the next line.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
import zlib
from collections.abc import Iterator
from typing import IO, Any

from watchfloor.signals.contract.errors import Reason, SignalRejected
from watchfloor.signals.contract.fields import is_encodable
from watchfloor.signals.contract.reading import (
    FileBudget,
    FileLimits,
    LineIterableReader,
    ParsedRecord,
    binary_reader,
    corrupt_gzip,
    skip_rest_of_line,
)

_CSV_INTEGER = re.compile(r"[+-]?[0-9]+")

# CSV columns are the dotted names of the fields; these hold whole numbers.
_CSV_INTEGER_COLUMNS = frozenset(
    {"media.pdq_quality", "reach.impressions", "reach.followers", "reach.shares"}
)
_CSV_SCALAR_COLUMNS = frozenset(
    {
        "id",
        "received_at",
        "source",
        "text",
        "url",
        "market",
        "language",
        "policy_hint",
        "reporter",
        "subject.kind",
        "subject.ref",
        "media.pdq",
        "media.pdq_quality",
        "media.md5",
        "media.sha256",
        "reach.impressions",
        "reach.followers",
        "reach.shares",
    }
)


def parse_csv(
    stream: IO[bytes] | IO[str], *, limits: FileLimits | None = None
) -> Iterator[ParsedRecord]:
    """Split a CSV file (header row of dotted field names) into records.

    ``subject.kind`` and ``subject.ref`` become ``{"subject": {"kind", "ref"}}``;
    ``attributes.<name>`` columns become attributes (strings). Empty cells are absent
    fields; integer columns are converted when they hold a whole number and left as
    text otherwise, so that validation names them. Line numbers are file lines: a
    record with a quoted line break is numbered by its first line.

    The file is read a line at a time within ``limits``: a record longer than the
    record limit (a huge quoted cell) is rejected without being held, and reading
    resumes at the next line; past the file's bytes or lines, reading stops.
    """
    if not hasattr(stream, "read"):
        stream = io.BytesIO(LineIterableReader(stream).read())
    reader = binary_reader(stream)
    if isinstance(reader, LineIterableReader):
        reader = io.BytesIO(reader.read())
    yield from _csv_records(_CsvLines(reader, FileBudget(limits)))


class _RecordTooLong(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class _FileEnded(Exception):
    def __init__(self, rejection: SignalRejected) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection


# A carriage return not followed by a line feed also ends a line (old Mac files), as
# with universal newlines; the pieces keep their line endings, which csv expects.
_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")


class _CsvLines:
    """The lines of a CSV file as text for ``csv.reader``, read one at a time within the
    file's limits: never more than a record's limit in memory. Raises ``_RecordTooLong``
    (the record so far, or one line, passed the limit) and ``_FileEnded`` (the file's
    bytes or lines did) through the reader."""

    def __init__(self, reader: IO[bytes], budget: FileBudget) -> None:
        self.reader = reader
        self.budget = budget
        self.record_bytes = 0
        self.mid_line = False  # an over-long line was cut short; its rest is unread
        self._pending: list[bytes] = []
        self._first = True

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        budget = self.budget
        if not self._pending:
            raw = self.reader.readline(budget.max_record + 1)
            if not raw:
                raise StopIteration
            budget.bytes += len(raw)
            if self._first:
                self._first = False
                if raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]
            if len(raw) > budget.max_record and not raw.endswith((b"\n", b"\r")):
                budget.lines += 1
                self.mid_line = True
                raise _RecordTooLong(len(raw))
            if raw.find(b"\r", 0, len(raw) - 1) == -1:
                piece = raw
            else:
                self._pending = _LONE_CR.split(raw)
                piece = self._pending.pop(0)
        else:
            piece = self._pending.pop(0)
        budget.lines += 1
        self.record_bytes += len(piece)
        if budget.bytes > budget.max_bytes or budget.lines > budget.max_lines:
            ended = budget.exceeded(budget.lines)
            assert ended is not None, "a limit was passed"
            raise _FileEnded(ended)
        if self.record_bytes > budget.max_record:
            raise _RecordTooLong(self.record_bytes)
        return piece.decode("utf-8", "surrogateescape")

    def next_record(self) -> None:
        self.record_bytes = 0

    def skip_rest_of_line(self) -> int:
        """After an over-long line: read past its end without holding it."""
        if not self.mid_line:
            return 0
        self.mid_line = False
        return skip_rest_of_line(self.reader, self.budget)


def _csv_reader(lines: _CsvLines) -> Any:
    return csv.reader(lines, strict=True)


def _csv_records(lines: _CsvLines) -> Iterator[ParsedRecord]:
    budget = lines.budget
    rows = _csv_reader(lines)
    try:
        header = next(rows)
    except StopIteration:
        return
    except _RecordTooLong as error:
        yield 1, budget.too_long(1, error.size, "header row")
        return
    except _FileEnded as ended:
        yield 1, ended.rejection
        return
    except (csv.Error, EOFError, OSError, zlib.error) as error:
        yield (
            1,
            SignalRejected(
                Reason.MALFORMED_CSV, "", f"the header row cannot be read: {error}", line=1
            ),
        )
        return
    header_error = _check_csv_header(header)
    if header_error is not None:
        yield 1, header_error
        return
    columns = [tuple(name.strip().split(".", 1)) for name in header]
    integer_columns = [name.strip() in _CSV_INTEGER_COLUMNS for name in header]
    names = [name.strip() for name in header]
    width = len(header)
    end_of_previous = budget.lines
    lines.next_record()
    while True:
        line = end_of_previous + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except _FileEnded as ended:
            yield ended.rejection.line or line, ended.rejection
            return
        except (_RecordTooLong, csv.Error, EOFError, OSError, zlib.error) as error:
            too_long = isinstance(error, _RecordTooLong) or "field larger than field limit" in str(
                error
            )
            if not too_long:
                yield (
                    line,
                    SignalRejected(
                        Reason.MALFORMED_CSV,
                        "",
                        f"the CSV cannot be read from here on: {error}",
                        line=line,
                    ),
                )
                return
            try:
                skipped = lines.skip_rest_of_line()
            except (EOFError, OSError, zlib.error) as broken:
                yield line, corrupt_gzip(broken, line)
                return
            if isinstance(error, _RecordTooLong):
                yield line, budget.too_long(line, error.size + skipped, "record")
            else:
                yield (
                    line,
                    SignalRejected(
                        Reason.TOO_LONG,
                        "",
                        f"a cell is longer than {csv.field_size_limit():,} characters: a "
                        "signal is far smaller, so this is not one",
                        line=line,
                    ),
                )
            over_budget = budget.exceeded(budget.lines)
            if over_budget is not None:
                yield line, over_budget
                return
            # Start afresh at the next line: the rest of the bad record is not parsed.
            rows = _csv_reader(lines)
            end_of_previous = budget.lines
            lines.next_record()
            continue
        end_of_previous = budget.lines
        lines.next_record()
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            yield (
                line,
                SignalRejected(
                    Reason.MALFORMED_CSV,
                    "",
                    f"the row has {len(row)} cells but the header has {width}: quote cells "
                    "that contain commas",
                    line=line,
                ),
            )
            continue
        record: dict[str, Any] = {}
        rejection = None
        for index, cell in enumerate(row):
            if not cell:
                continue
            if not cell.isascii() and not is_encodable(cell):
                rejection = SignalRejected(
                    Reason.BAD_ENCODING,
                    names[index],
                    f"{names[index]} has bytes that are not UTF-8: re-encode the file as UTF-8",
                    line=line,
                )
                break
            value: Any = cell
            if integer_columns[index]:
                stripped = cell.strip()
                if _CSV_INTEGER.fullmatch(stripped):
                    value = int(stripped)
            column = columns[index]
            if len(column) == 1:
                record[column[0]] = value
            else:
                parent = record.setdefault(column[0], {})
                _set_dotted(parent, column[1], value)
        yield line, rejection if rejection is not None else record


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _check_csv_header(header: list[str]) -> SignalRejected | None:
    names = [name.strip() for name in header]
    seen: set[str] = set()
    for name in names:
        if not name:
            return SignalRejected(
                Reason.MALFORMED_CSV, "", "the header has an empty column name", line=1
            )
        if name in seen:
            return SignalRejected(
                Reason.MALFORMED_CSV, name, f"the header names {name} twice", line=1
            )
        seen.add(name)
        if name.startswith("attributes."):
            parts = name.split(".")
            if any(not part for part in parts):
                return SignalRejected(
                    Reason.MALFORMED_CSV, name, f"the column {name} has an empty name part", line=1
                )
            continue
        if name not in _CSV_SCALAR_COLUMNS:
            suggestion = difflib.get_close_matches(name, _CSV_SCALAR_COLUMNS, n=1)
            hint = f" (did you mean {suggestion[0]!r}?)" if suggestion else ""
            return SignalRejected(
                Reason.UNKNOWN_FIELD,
                name,
                f"the column {name} is not a field of a signal{hint}: nested fields are "
                "dotted (subject.kind, media.pdq, reach.impressions), and anything else "
                "goes in attributes.<name> columns",
                line=1,
            )
    # attributes.a and attributes.a.b cannot both be filled.
    for name in names:
        if any(other.startswith(name + ".") for other in names):
            return SignalRejected(
                Reason.MALFORMED_CSV,
                name,
                f"the column {name} is also the parent of another column",
                line=1,
            )
    return None
