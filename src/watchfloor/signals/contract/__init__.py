"""The signal contract: one JSON object per signal, validated into a ``SignalInput``.

Every way in (the API batch endpoint, ``watchfloor ingest FILE...``, replays) hands
plain dicts to ``parse_signal``; files are first split into such dicts by
``parse_jsonl_lines`` and ``parse_csv``, which report the file line of every
record and turn unreadable lines into rejections instead of stopping.

Validation is written by hand. It is the first step of every ingest, which must
sustain 5,000 signals/s on two cores, so its cost was measured against a pydantic v2
model with the same constraints: on this machine this module takes about 7 µs for a
full signal and 3 µs for a minimal one; the pydantic model takes 3.5 µs and 1.7 µs
to validate, and 6 µs and 4 µs once its output is turned into the same canonical
``SignalInput`` (UTC time, bytes of the PDQ hash, canonical language tag). Both are
a small share of the ~400 µs per signal that the target leaves on a core, so speed
does not decide it; the hand-written form is kept because every failure maps
directly to a reason code, a dotted field and a message that says what to change,
and it also rejects what a schema cannot see (lone surrogates, NUL characters and
deep nesting inside attributes, duplicate keys). It is strict: unknown fields,
wrong JSON types, over-long strings and impossible timestamps are all rejected.
``schema/signal.schema.json`` states the same contract as a JSON Schema; the
tests hold the two together.

What is checked here is shape only: whether a market or a policy code exists in
the catalog is for the caller, who has the database.

The package holds one concept per module, and this module re-exports the public
names, so callers import from ``watchfloor.signals.contract``:

- ``errors``: the rejection reasons and the errors (``SignalRejected``, ...);
- ``signal``: sources, subject kinds, ``SignalInput``, ``parse_signal``;
- ``fields``: the checks of each field and their limits;
- ``reading``: a file's limits (``FileLimits``) and the binary reader files share;
- ``jsonl`` and ``csv_file``: the two file formats, record by record;
- ``files``: ``load_signal_file``, the reader chosen by a file's suffix.
"""

from __future__ import annotations

from watchfloor.signals.contract.csv_file import parse_csv
from watchfloor.signals.contract.errors import (
    Reason,
    SignalError,
    SignalFileError,
    SignalRejected,
)
from watchfloor.signals.contract.fields import canonical_language_tag
from watchfloor.signals.contract.files import SIGNAL_FILE_SUFFIXES, load_signal_file
from watchfloor.signals.contract.jsonl import decode_json, parse_deferred, parse_jsonl_lines
from watchfloor.signals.contract.reading import FileLimits
from watchfloor.signals.contract.signal import (
    SOURCES,
    SUBJECT_KINDS,
    SignalInput,
    SourceName,
    SubjectKindName,
    parse_signal,
    parse_signals,
)

__all__ = [
    "SIGNAL_FILE_SUFFIXES",
    "SOURCES",
    "SUBJECT_KINDS",
    "FileLimits",
    "Reason",
    "SignalError",
    "SignalFileError",
    "SignalInput",
    "SignalRejected",
    "SourceName",
    "SubjectKindName",
    "canonical_language_tag",
    "decode_json",
    "load_signal_file",
    "parse_csv",
    "parse_deferred",
    "parse_jsonl_lines",
    "parse_signal",
    "parse_signals",
]
