"""JSON Lines signal files: each line one record, its line number kept.

A line that is not UTF-8, not JSON or not an object becomes a rejection for that line
only, naming where the bad bytes are when it can.
"""

from __future__ import annotations

import codecs
import json
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any

from watchfloor.core.validation import decode_strict_json
from watchfloor.signals.contract.errors import Reason, SignalRejected
from watchfloor.signals.contract.fields import is_encodable, json_type
from watchfloor.signals.contract.reading import (
    FileBudget,
    FileLimits,
    ParsedRecord,
    binary_reader,
    corrupt_gzip,
    skip_rest_of_line,
)


def parse_jsonl_lines(
    stream: IO[bytes] | IO[str] | Iterable[bytes],
    *,
    defer_json: bool = False,
    limits: FileLimits | None = None,
) -> Iterator[ParsedRecord]:
    """Split JSON Lines into ``(line_number, dict | SignalRejected)``.

    Gzip is recognised by its magic bytes, whatever the file is called. Blank lines
    are skipped (their numbers still count). A line that is not UTF-8, not JSON, not
    an object, or longer than the record limit becomes a rejection for that line
    only; a truncated gzip stream ends the file with a rejection at the next line, and
    so does passing the file's limits of bytes (decompressed) or lines (``limits``).

    ``defer_json``: lines come as their bytes, for ``parse_deferred`` to decode later
    (a reader that hands most lines on to others need not decode them).
    """
    reader = binary_reader(stream)
    budget = FileBudget(limits)
    # Locals: this loop runs once per line of files of millions of lines.
    max_record, max_bytes, max_lines = budget.max_record, budget.max_bytes, budget.max_lines
    read = reader.readline
    line_number = total = 0
    while True:
        try:
            raw = read(max_record + 1)
        except (EOFError, OSError, zlib.error) as error:
            yield line_number + 1, corrupt_gzip(error, line_number + 1)
            return
        if not raw:
            return
        line_number += 1
        total += len(raw)
        too_long = len(raw) > max_record and not raw.endswith(b"\n")
        if too_long:
            budget.bytes = total
            try:
                skipped = skip_rest_of_line(reader, budget)
            except (EOFError, OSError, zlib.error) as error:
                yield line_number, corrupt_gzip(error, line_number)
                return
            total = budget.bytes
            yield line_number, budget.too_long(line_number, len(raw) + skipped, "line")
        if total > max_bytes or line_number > max_lines:
            budget.bytes, budget.lines = total, line_number
            ended = budget.exceeded(line_number)
            assert ended is not None, "a limit was passed"
            yield line_number, ended
            return
        if too_long:
            continue
        if line_number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if raw.isspace() or not raw:
            continue
        yield line_number, raw if defer_json else parse_deferred(line_number, raw)


def parse_deferred(
    line_number: int, record: bytes | dict[str, Any] | SignalRejected
) -> dict[str, Any] | SignalRejected:
    """A record as ``parse_jsonl_lines`` gives it without ``defer_json``: a line's
    bytes are decoded now; anything else is already a record."""
    if not isinstance(record, bytes):
        return record
    result = _parse_json_line(record)
    if type(result) is SignalRejected:
        result = result.at_line(line_number)
    return result


def decode_json(text: str) -> Any:
    """Strict JSON, as for a line of a file (``core.validation.decode_strict_json``):
    ``ValueError`` (or its subclass ``json.JSONDecodeError``) for invalid JSON, a key
    twice in one object, or ``NaN`` and ``Infinity``. The API reads a batch of signals
    with it."""
    return decode_strict_json(text)


def _parse_json_line(raw: bytes) -> dict[str, Any] | SignalRejected:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return _locate_bad_bytes(raw, error)
    try:
        value = decode_strict_json(text)
    except json.JSONDecodeError as error:
        return SignalRejected(
            Reason.MALFORMED_JSON,
            "",
            f"the line is not valid JSON: {error.msg} at column {error.colno}",
        )
    except ValueError as error:
        return SignalRejected(Reason.MALFORMED_JSON, "", f"the line is not valid JSON: {error}")
    except RecursionError:
        return SignalRejected(Reason.MALFORMED_JSON, "", "the line is nested too deeply to read")
    if type(value) is not dict:
        return SignalRejected(
            Reason.BAD_TYPE, "", f"each line must be a JSON object, not {json_type(value)}"
        )
    return value


def _locate_bad_bytes(raw: bytes, error: UnicodeDecodeError) -> SignalRejected:
    """Name the field whose string holds the bytes that are not UTF-8, when possible."""
    message = (
        f"bytes that are not UTF-8 at byte {error.start + 1} of the line "
        f"({raw[error.start : error.start + 4]!r}): re-encode the file as UTF-8"
    )
    try:
        value = json.loads(raw.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        return SignalRejected(Reason.BAD_ENCODING, "", f"the line has {message}")
    path = _path_of_surrogate(value, "")
    if path:
        return SignalRejected(Reason.BAD_ENCODING, path, f"{path} has {message}")
    return SignalRejected(Reason.BAD_ENCODING, "", f"the line has {message}")


def _path_of_surrogate(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if not is_encodable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            printable = key if is_encodable(key) else ascii(key)[1:-1]
            child = f"{path}.{printable}" if path else printable
            if printable is not key:
                return child
            found = _path_of_surrogate(item, child)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _path_of_surrogate(item, f"{path}[{index}]")
            if found:
                return found
    return None
