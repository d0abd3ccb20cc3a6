"""Banks in python-threatexchange's terms: its signal types and its signal file format.

python-threatexchange names a signal by its type (``pdq``, ``video_md5``, ``url``,
``raw_text``) and validates values with that type's own rules; its local file exchange
reads one ``<signal type> <value>`` per line. Watchfloor's bank types map onto those
types; SHA-256 and domain banks have no python-threatexchange type and cannot be
written in this format (CSV and STIX carry them).

The package is imported here only, when a file is read or written or an exchange is
fetched, so starting Watchfloor does not load it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.banks.models import Bank, BankEntry, EntrySource, SignalType
from watchfloor.banks.services import NewEntry, add_entries, bank_to_import_into
from watchfloor.banks.signals import normalise_value
from watchfloor.core.errors import InvalidInput

if TYPE_CHECKING:
    from watchfloor.people.models import User

# Watchfloor's bank type for each python-threatexchange signal type it can hold.
PYTX_TO_BANK: dict[str, SignalType] = {
    "pdq": SignalType.PDQ,
    "video_md5": SignalType.MD5,
    "url": SignalType.URL,
    "raw_text": SignalType.TEXT,
}
BANK_TO_PYTX: dict[str, str] = {bank_type: name for name, bank_type in PYTX_TO_BANK.items()}
MAX_LINE_CHARS = 4000


def pytx_signal_types() -> list[Any]:
    """python-threatexchange's classes for the types above."""
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal
    from threatexchange.signal_type.raw_text import RawTextSignal
    from threatexchange.signal_type.url import URLSignal

    return [PdqSignal, VideoMD5Signal, URLSignal, RawTextSignal]


def _classes_by_name() -> dict[str, Any]:
    return {signal_type.get_name(): signal_type for signal_type in pytx_signal_types()}


def entry_of_pytx(type_name: str, value: str, *, field: str) -> NewEntry:
    """One python-threatexchange signal as a bank entry: validated by the package's own
    type, then normalised as Watchfloor stores it."""
    signal_class = _classes_by_name().get(type_name)
    if signal_class is None:
        known = ", ".join(sorted(PYTX_TO_BANK))
        raise InvalidInput(
            f"signal type {type_name!r} cannot be banked here; use one of: {known}",
            field=field,
        )
    try:
        checked = signal_class.validate_signal_str(value)
    except ValueError as error:
        raise InvalidInput(f"not a valid {type_name} signal: {error}", field=field) from None
    bank_type = PYTX_TO_BANK[type_name]
    return NewEntry(
        signal_type=bank_type.value, value=normalise_value(bank_type, checked, field=field)
    )


@dataclass
class FileImport:
    bank: Bank | None
    added: list[BankEntry] = field(default_factory=list)
    # (line number, reason) for each line left out; the others are imported.
    skipped: list[tuple[int, str]] = field(default_factory=list)


def parse_signal_file(text: str) -> tuple[list[tuple[int, NewEntry]], list[tuple[int, str]]]:
    """The entries of a python-threatexchange signal file with their line numbers, and
    the lines left out with the reason. Blank lines and ``#`` comments are skipped."""
    entries: list[tuple[int, NewEntry]] = []
    skipped: list[tuple[int, str]] = []
    for number, raw in enumerate(io.StringIO(text), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(line) > MAX_LINE_CHARS:
            skipped.append((number, f"longer than {MAX_LINE_CHARS} characters"))
            continue
        type_name, _, value = line.partition(" ")
        if not value.strip():
            skipped.append((number, "expected '<signal type> <value>'"))
            continue
        try:
            entries.append(
                (number, entry_of_pytx(type_name, value.strip(), field=f"line {number}"))
            )
        except InvalidInput as error:
            skipped.append((number, error.message))
    return entries, skipped


def import_signal_file(*, bank_name: str, text: str, actor: User | None) -> FileImport:
    """Import a signal file into the bank (created with the file's type when missing).
    Lines of another type than the bank's are left out and named."""
    entries, skipped = parse_signal_file(text)
    with transaction.atomic():
        if not entries and not Bank.objects.filter(name=bank_name).exists():
            return FileImport(bank=None, skipped=skipped)
        bank = bank_to_import_into(
            bank_name=bank_name,
            entries=[entry for _, entry in entries],
            owner_team=None,
            actor=actor,
        )
        fitting = [entry for _, entry in entries if entry.signal_type == bank.signal_type]
        skipped += [
            (number, f"a {entry.signal_type} signal: bank {bank.name!r} holds {bank.signal_type}")
            for number, entry in entries
            if entry.signal_type != bank.signal_type
        ]
        skipped.sort()
        added = add_entries(bank=bank, entries=fitting, source=EntrySource.IMPORT, actor=actor)
    return FileImport(bank=bank, added=added, skipped=skipped)


def export_signal_file(*, bank: Bank, actor: User | None) -> str:
    """The bank's enabled entries, one ``<signal type> <value>`` per line (the file a
    python-threatexchange file exchange or ``threatexchange`` command reads)."""
    type_name = BANK_TO_PYTX.get(SignalType(bank.signal_type))
    if type_name is None:
        raise InvalidInput(
            f"bank {bank.name!r} holds {bank.signal_type} signals, which python-threatexchange "
            "has no type for: export it as csv or stix",
            field="format",
        )
    enabled: Sequence[str] = list(
        BankEntry.objects.filter(bank=bank, disabled_at__isnull=True)
        .order_by("id")
        .values_list("value", flat=True)
    )
    # One signal a line: a text spanning lines cannot be written in this format.
    values = [value for value in enabled if "\n" not in value and "\r" not in value]
    with transaction.atomic():
        record_event(
            action=AuditAction.BANK_EXPORTED,
            actor=actor,
            target=bank,
            data={
                "format": "pytx",
                "entries": len(values),
                "left_out_multiline": len(enabled) - len(values),
            },
        )
    return "".join(f"{type_name} {value}\n" for value in values)
