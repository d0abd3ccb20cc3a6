"""Banks in Hasher-Matcher-Actioner's own shape (``--format hma``).

HMA 2.x (``OpenMediaMatch`` in facebook/ThreatExchange) has no bank file of its own: a
bank's contents leave and enter it through its curation API. So this format is that
API's shape, one bank content a line (JSON Lines): each line is what
``GET /c/bank/NAME/content/ID?include_signals=true`` answers (``BankContentResponse``
in ``OpenMediaMatch/schemas/curation.py``)::

    {"id": 17, "disable_until_ts": 0, "original_media_uri": null,
     "bank": {"name": "ATTACK", "matching_enabled_ratio": 1.0},
     "signals": {"pdq": "f8f8…"}, "metadata": {"json": {"labels": ["livestream"]}},
     "note": "frame 3 of the stream"}

Signal types are HMA's (python-threatexchange's: ``pdq``, ``video_md5``, ``url``,
``raw_text``), checked by the package's own rules. Labels travel in
``metadata.json.labels`` (HMA keeps ``metadata.json`` as the caller's own); ``note`` is
at most 255 characters, HMA's limit. ``id`` is the sending side's and is not kept.
A line that cannot be read is left out with its line and field named; the others are
imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.banks.models import Bank, BankEntry, EntrySource, SignalType
from watchfloor.banks.pytx import BANK_TO_PYTX, entry_of_pytx
from watchfloor.banks.services import NewEntry, add_entries, bank_to_import_into, change_bank
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput

if TYPE_CHECKING:
    from watchfloor.people.models import User

MAX_LINES = 500_000
MAX_LINE_CHARS = 16_000
NOTE_MAX = 255  # HMA's own limit on a content's note
MAX_LABELS = 50
LABEL_MAX = 100
# HMA's BankedContentMetadata refuses other keys (extra="forbid").
METADATA_KEYS = frozenset({"content_id", "content_uri", "json", "collab"})
CONTENT_KEYS = frozenset(
    {"id", "disable_until_ts", "original_media_uri", "bank", "signals", "metadata", "note"}
)


class LineRefused(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass
class HmaImport:
    bank: Bank | None
    added: list[BankEntry] = field(default_factory=list)
    # (line number, "field: reason") for each line left out; the others are imported.
    skipped: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Content:
    entries: list[NewEntry]  # one per signal of the content, in the file's order
    matching_ratio: float | None


def _labels(metadata: dict[str, Any]) -> tuple[str, ...]:
    own = metadata.get("json")
    if own is None:
        return ()
    if not isinstance(own, dict):
        raise LineRefused("metadata.json", "an object")
    labels = own.get("labels", [])
    if not isinstance(labels, list) or len(labels) > MAX_LABELS:
        raise LineRefused("metadata.json.labels", f"a list of at most {MAX_LABELS} labels")
    for index, label in enumerate(labels):
        if (
            not isinstance(label, str)
            or not label
            or len(label) > LABEL_MAX
            or any(c.isspace() for c in label)
        ):
            raise LineRefused(
                f"metadata.json.labels[{index}]",
                f"a label is 1 to {LABEL_MAX} characters without spaces",
            )
    return tuple(labels)


def _ratio(bank: Any) -> float | None:
    if bank is None:
        return None
    if not isinstance(bank, dict):
        raise LineRefused("bank", "an object with name and matching_enabled_ratio")
    ratio = bank.get("matching_enabled_ratio")
    if ratio is None:
        return None
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        raise LineRefused("bank.matching_enabled_ratio", "a number from 0 to 1")
    return float(ratio)


def parse_content(line: str, *, now: datetime) -> _Content:
    """One line: an HMA bank content, as entries (one per signal)."""
    try:
        content = json.loads(line)
    except json.JSONDecodeError as error:
        raise LineRefused("line", f"not JSON ({error.msg})") from None
    except RecursionError:
        raise LineRefused("line", "nested too deeply") from None
    if not isinstance(content, dict):
        raise LineRefused("line", "a JSON object, one bank content")
    unknown = sorted(set(content) - CONTENT_KEYS)
    if unknown:
        raise LineRefused(unknown[0], "not a field of an HMA bank content")
    disabled_until = content.get("disable_until_ts", 0)
    if type(disabled_until) is not int or disabled_until < 0:  # bool is not a time
        raise LineRefused("disable_until_ts", "a unix time in seconds, 0 when enabled")
    if disabled_until > now.timestamp():
        until = datetime.fromtimestamp(disabled_until, UTC).isoformat()
        raise LineRefused("disable_until_ts", f"disabled at the source until {until}")
    if not isinstance(content.get("original_media_uri"), str | None):
        raise LineRefused("original_media_uri", "a string or null")
    note = content.get("note") or ""
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        raise LineRefused("note", f"a string of at most {NOTE_MAX} characters")
    metadata = content.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise LineRefused("metadata", "an object")
    unknown = sorted(set(metadata) - METADATA_KEYS)
    if unknown:
        raise LineRefused(f"metadata.{unknown[0]}", "not a field of HMA's content metadata")
    labels = _labels(metadata)
    signals = content.get("signals")
    if not isinstance(signals, dict) or not signals:
        raise LineRefused("signals", "an object of signal type to value, at least one")
    entries = []
    for type_name, value in signals.items():
        where = f"signals.{type_name}"
        if not isinstance(value, str):
            raise LineRefused(where, "a string")
        try:
            checked = entry_of_pytx(type_name, value.strip(), field=where)
        except InvalidInput as error:
            raise LineRefused(where, error.message) from None
        entries.append(NewEntry(checked.signal_type, checked.value, labels=labels, note=note))
    return _Content(entries=entries, matching_ratio=_ratio(content.get("bank")))


def _refused(number: int, refused: LineRefused) -> tuple[int, str]:
    return number, f"{refused.field}: {refused.reason}"


def parse_hma_file(text: str) -> tuple[list[tuple[int, _Content]], list[tuple[int, str]]]:
    """The contents of the file with their line numbers, and the lines left out with
    the field and the reason. Blank lines are skipped; at most ``MAX_LINES`` contents."""
    now = clock.now()
    contents: list[tuple[int, _Content]] = []
    skipped: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if len(contents) >= MAX_LINES:
            raise InvalidInput(
                f"at most {MAX_LINES:,} bank contents in one file; line {number} is past it",
                field=f"line {number}",
            )
        if len(line) > MAX_LINE_CHARS:
            skipped.append((number, f"line: longer than {MAX_LINE_CHARS:,} characters"))
            continue
        try:
            contents.append((number, parse_content(line, now=now)))
        except LineRefused as refused:
            skipped.append(_refused(number, refused))
    return contents, skipped


def import_hma_file(*, bank_name: str, text: str, actor: User | None) -> HmaImport:
    """Import HMA bank contents into the bank; a bank created here takes the type of the
    first signal and the first line's ``matching_enabled_ratio``. A content's signals
    of another type than the bank's are left out and named."""
    contents, skipped = parse_hma_file(text)
    entries = [(number, entry) for number, content in contents for entry in content.entries]
    with transaction.atomic():
        existed = Bank.objects.filter(name=bank_name).exists()
        if not entries and not existed:
            return HmaImport(bank=None, skipped=skipped)
        bank = bank_to_import_into(
            bank_name=bank_name,
            entries=[entry for _, entry in entries],
            owner_team=None,
            actor=actor,
        )
        ratio = contents[0][1].matching_ratio if contents else None
        if not existed and ratio == 0:  # HMA's way of saying a bank is switched off
            change_bank(bank=bank, actor=actor, is_enabled=False)
        elif not existed and ratio is not None and ratio != bank.matching_ratio:
            change_bank(bank=bank, actor=actor, matching_ratio=ratio)
        fitting = [entry for _, entry in entries if entry.signal_type == bank.signal_type]
        skipped += [
            (
                number,
                f"signals.{BANK_TO_PYTX.get(SignalType(entry.signal_type), entry.signal_type)}: "
                f"bank {bank.name!r} holds {bank.signal_type} signals",
            )
            for number, entry in entries
            if entry.signal_type != bank.signal_type
        ]
        skipped.sort()
        added = add_entries(bank=bank, entries=fitting, source=EntrySource.IMPORT, actor=actor)
    return HmaImport(bank=bank, added=added, skipped=skipped)


def export_hma_file(*, bank: Bank, actor: User | None) -> str:
    """The bank's enabled entries, one HMA bank content a line, oldest first."""
    type_name = BANK_TO_PYTX.get(SignalType(bank.signal_type))
    if type_name is None:
        raise InvalidInput(
            f"bank {bank.name!r} holds {bank.signal_type} signals, which HMA has no type for: "
            "export it as csv or stix",
            field="format",
        )
    ratio = bank.matching_ratio if bank.is_enabled else 0.0
    header = {"name": bank.name, "matching_enabled_ratio": ratio}
    lines = []
    for entry in BankEntry.objects.filter(bank=bank, disabled_at__isnull=True).order_by("id"):
        content: dict[str, Any] = {
            "id": entry.pk,
            "disable_until_ts": 0,
            "original_media_uri": None,
            "bank": header,
            "signals": {type_name: entry.value},
        }
        if entry.labels:
            content["metadata"] = {"json": {"labels": list(entry.labels)}}
        if entry.note:
            content["note"] = entry.note[:NOTE_MAX]
        lines.append(json.dumps(content, ensure_ascii=False, separators=(",", ":")) + "\n")
    with transaction.atomic():
        record_event(
            action=AuditAction.BANK_EXPORTED,
            actor=actor,
            target=bank,
            data={"format": "hma", "entries": len(lines)},
        )
    return "".join(lines)
