"""CSV written for spreadsheets, in one place for every export.

Two things make a CSV file safe to open in Excel, LibreOffice or Google Sheets:

- it starts with a UTF-8 byte order mark: without one, Excel reads the file in the
  system's legacy code page and Japanese, Chinese, Korean and Thai text turns to noise;
- no cell starts with a character a spreadsheet takes for a formula (``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return): reported content is adversarial, so such a cell is
  prefixed with an apostrophe, which the spreadsheet shows as text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

UTF8_BOM = "\ufeff"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """``cell``, with an apostrophe first if a spreadsheet would run it as a formula."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


class _Echo:
    """csv.writer wants a file; a streaming response wants each written line back."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[str]]) -> Iterator[str]:
    """The CSV text of ``header`` and ``rows``, line by line (for a streaming response):
    the byte order mark first, every cell made spreadsheet-safe."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield UTF8_BOM + writer.writerow([spreadsheet_safe(cell) for cell in header])
    for row in rows:
        yield writer.writerow([spreadsheet_safe(cell) for cell in row])


def write_csv(
    stream: SupportsWrite[str], header: Iterable[str], rows: Iterable[Iterable[str]]
) -> int:
    """Write ``csv_lines`` to ``stream``; returns the number of rows (the header aside)."""
    lines = csv_lines(header, rows)
    stream.write(next(lines))
    count = 0
    for line in lines:
        stream.write(line)
        count += 1
    return count
