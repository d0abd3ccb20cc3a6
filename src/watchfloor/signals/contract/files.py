"""Signal files by name: ``load_signal_file`` picks the reader from the file's suffix."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import IO

from watchfloor.signals.contract.csv_file import parse_csv
from watchfloor.signals.contract.errors import SignalFileError
from watchfloor.signals.contract.jsonl import parse_jsonl_lines
from watchfloor.signals.contract.reading import FileLimits, ParsedRecord

SIGNAL_FILE_SUFFIXES: tuple[str, ...] = (".jsonl", ".jsonl.gz", ".json.gz", ".csv", ".csv.gz")


def load_signal_file(
    path: str | Path, *, defer_json: bool = False, limits: FileLimits | None = None
) -> Iterator[ParsedRecord]:
    """Records of a signal file, chosen by suffix: .jsonl, .jsonl.gz, .json.gz (JSON
    Lines), .csv, .csv.gz. Raises ``SignalFileError`` for any other suffix at once;
    the file is opened when iteration starts and closed when it ends, and read within
    ``limits`` (this module's defaults when None).

    ``defer_json``: JSON Lines come undecoded (see ``parse_jsonl_lines``); pass each
    record through ``parse_deferred`` before use.
    """
    file_path = Path(path)
    name = file_path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".json.gz")):
        parser: Callable[[IO[bytes]], Iterator[ParsedRecord]] = partial(
            parse_jsonl_lines, defer_json=defer_json, limits=limits
        )
    elif name.endswith((".csv", ".csv.gz")):
        parser = partial(parse_csv, limits=limits)
    else:
        raise SignalFileError(
            f"{file_path} is not a signal file: name it .jsonl, .jsonl.gz, .json.gz "
            "(JSON Lines) or .csv, .csv.gz"
        )
    return _read_file(file_path, parser)


def _read_file(
    path: Path, parser: Callable[[IO[bytes]], Iterator[ParsedRecord]]
) -> Iterator[ParsedRecord]:
    with path.open("rb") as handle:
        yield from parser(handle)
