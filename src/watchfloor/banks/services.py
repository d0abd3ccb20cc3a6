"""Every write to banks: validated, audited in the same transaction, counted for matchers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.selectors import log_position
from watchfloor.audit.services import record_event
from watchfloor.banks.index import DEFAULT_THRESHOLD
from watchfloor.banks.models import Bank, BankEntry, EntryChange, EntrySource, SignalType
from watchfloor.banks.signals import normalise_value, parse_signal_type
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, StaleEdit

if TYPE_CHECKING:
    from watchfloor.crises.models import Crisis
    from watchfloor.evidence.models import EvidenceItem
    from watchfloor.people.models import Team, User

CSV_COLUMNS = ("signal_type", "signal_value", "labels")
MAX_REASON = 1000
MAX_NOTE = 2000
# PDQ below this quality matches unrelated images (issue 15: refused).
MIN_PDQ_QUALITY = 50


@dataclass(frozen=True)
class NewEntry:
    signal_type: str
    value: str
    labels: tuple[str, ...] = ()
    note: str = ""


def create_bank(
    *,
    name: str,
    signal_type: str,
    actor: User | None,
    owner_team: Team | None = None,
    labels: Sequence[str] = (),
    threshold: int = DEFAULT_THRESHOLD,
    is_allow_bank: bool = False,
    is_restricted: bool = False,
    matching_ratio: float = 1.0,
    crisis: Crisis | None = None,
) -> Bank:
    """A bank; with ``crisis``, the crisis bank of that crisis (action rules flag its
    matches into the war room)."""
    kind = parse_signal_type(signal_type)
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput(
            f"a bank name is letters, digits, - and _ only, got {name!r}", field="name"
        )
    if not 0 <= threshold <= DEFAULT_THRESHOLD:
        raise InvalidInput(
            f"a PDQ threshold is from 0 to {DEFAULT_THRESHOLD} bits (the index is built for "
            f"{DEFAULT_THRESHOLD}), got {threshold}",
            field="threshold",
        )
    if not 0.0 <= matching_ratio <= 1.0:
        raise InvalidInput(
            f"the matching ratio is from 0 to 1, got {matching_ratio}", field="matching_ratio"
        )
    with transaction.atomic():
        if Bank.objects.filter(name=name).exists():
            raise Conflict(f"a bank named {name!r} exists already", field="name")
        bank = Bank.objects.create(
            name=name,
            signal_type=kind,
            owner_team=owner_team,
            labels=sorted(set(labels)),
            threshold=threshold,
            is_allow_bank=is_allow_bank,
            is_restricted=is_restricted,
            matching_ratio=matching_ratio,
            crisis=crisis,
            created_at=clock.now(),
        )
        record_event(
            action=AuditAction.BANK_CREATED,
            actor=actor,
            target=bank,
            data={
                "name": name,
                "signal_type": kind.value,
                "threshold": threshold,
                "is_allow_bank": is_allow_bank,
                "is_restricted": is_restricted,
                "crisis": crisis.reference if crisis is not None else None,
            },
        )
    return bank


def change_bank(
    *,
    bank: Bank,
    actor: User | None,
    is_enabled: bool | None = None,
    matching_ratio: float | None = None,
    grant_access_to: Iterable[User] = (),
) -> Bank:
    old = {"is_enabled": bank.is_enabled, "matching_ratio": bank.matching_ratio}
    if matching_ratio is not None and not 0.0 <= matching_ratio <= 1.0:
        raise InvalidInput(
            f"the matching ratio is from 0 to 1, got {matching_ratio}", field="matching_ratio"
        )
    granted = list(grant_access_to)
    with transaction.atomic():
        if is_enabled is not None:
            bank.is_enabled = is_enabled
        if matching_ratio is not None:
            bank.matching_ratio = matching_ratio
        bank.save(update_fields=["is_enabled", "matching_ratio"])
        if granted:
            bank.access_list.add(*granted)
        record_event(
            action=AuditAction.BANK_CHANGED,
            actor=actor,
            target=bank,
            data={
                "old": old,
                "new": {"is_enabled": bank.is_enabled, "matching_ratio": bank.matching_ratio},
                "granted": [user.get_username() for user in granted],
            },
        )
    return bank


def add_entries(
    *,
    bank: Bank,
    entries: Sequence[NewEntry],
    source: EntrySource,
    actor: User | None,
) -> list[BankEntry]:
    """Add entries (those already in the bank are skipped); one audit event for the lot."""
    now = clock.now()
    rows: list[BankEntry] = []
    seen: set[str] = set()
    for number, item in enumerate(entries):
        kind = parse_signal_type(item.signal_type, field=f"entries[{number}].signal_type")
        if kind != bank.signal_type:
            raise InvalidInput(
                f"bank {bank.name!r} holds {bank.signal_type} signals, not {kind.value}",
                field=f"entries[{number}].signal_type",
            )
        value = normalise_value(kind, item.value, field=f"entries[{number}].signal_value")
        if len(item.note) > MAX_NOTE:
            raise InvalidInput(
                f"a note is at most {MAX_NOTE} characters", field=f"entries[{number}].note"
            )
        if value in seen:
            continue
        seen.add(value)
        rows.append(
            BankEntry(
                bank=bank,
                signal_type=kind,
                value=value,
                labels=sorted(set(item.labels)),
                source=source,
                note=item.note,
                added_by=actor,
                added_at=now,
            )
        )
    with transaction.atomic():
        existing = set(
            BankEntry.objects.filter(bank=bank, value__in=[row.value for row in rows]).values_list(
                "value", flat=True
            )
        )
        fresh = [row for row in rows if row.value not in existing]
        created = []
        for row in fresh:  # one by one: every database returns the ids
            row.save()
            created.append(row)
        EntryChange.objects.bulk_create(
            [EntryChange(entry=row, kind=EntryChange.Kind.ADDED, changed_at=now) for row in created]
        )
        record_event(
            action=AuditAction.BANK_ENTRIES_ADDED,
            actor=actor,
            target=bank,
            data={
                "source": str(source),
                "added": len(created),
                "already_present": len(rows) - len(created),
                "first_entry_id": created[0].pk if created else None,
            },
        )
    return created


ENTRY_STATE_ACTIONS = (AuditAction.BANK_ENTRY_DISABLED, AuditAction.BANK_ENTRY_ENABLED)


def _refuse_if_entry_changed(entry: BankEntry, read_version: int | None) -> None:
    """A page's switch carries the audit log's position it was read at: refused when the
    entry was disabled or enabled by someone after it (call with the row locked)."""
    if read_version is None:
        return
    changes = AuditEvent.objects.filter(
        sequence__gt=read_version,
        action__in=ENTRY_STATE_ACTIONS,
        object_type=BankEntry._meta.label_lower,
        object_id=str(entry.pk),
    ).order_by("sequence")
    described = [
        f"{AuditAction(event.action).label.lower()} by {event.actor_label or 'the system'} "
        f"({event.occurred_at:%Y-%m-%d %H:%M} UTC)"
        for event in changes
    ]
    if described:
        raise StaleEdit(
            f"entry {entry.pk} changed since you opened the page: {'; '.join(described)}. "
            "Nothing was saved: check it, then try again.",
            field="read_version",
            current_version=log_position(),
        )


def disable_entry(
    *, entry: BankEntry, reason: str, actor: User | None, read_version: int | None = None
) -> BankEntry:
    if not reason.strip():
        raise InvalidInput("say why the entry is disabled", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is at most {MAX_REASON} characters", field="reason")
    with transaction.atomic():
        entry = BankEntry.objects.select_for_update().get(pk=entry.pk)
        _refuse_if_entry_changed(entry, read_version)
        if entry.disabled_at is not None:
            return entry
        entry.disabled_at = clock.now()
        entry.disabled_reason = reason.strip()
        entry.save(update_fields=["disabled_at", "disabled_reason"])
        EntryChange.objects.create(
            entry=entry, kind=EntryChange.Kind.DISABLED, changed_at=entry.disabled_at
        )
        record_event(
            action=AuditAction.BANK_ENTRY_DISABLED,
            actor=actor,
            target=entry,
            data={"bank": entry.bank.name, "reason": entry.disabled_reason},
        )
    return entry


def enable_entry(
    *, entry: BankEntry, actor: User | None, read_version: int | None = None
) -> BankEntry:
    with transaction.atomic():
        entry = BankEntry.objects.select_for_update().get(pk=entry.pk)
        _refuse_if_entry_changed(entry, read_version)
        if entry.disabled_at is None:
            return entry
        old_reason = entry.disabled_reason
        entry.disabled_at = None
        entry.disabled_reason = ""
        entry.save(update_fields=["disabled_at", "disabled_reason"])
        EntryChange.objects.create(entry=entry, kind=EntryChange.Kind.ADDED, changed_at=clock.now())
        record_event(
            action=AuditAction.BANK_ENTRY_ENABLED,
            actor=actor,
            target=entry,
            data={"bank": entry.bank.name, "was_disabled_because": old_reason},
        )
    return entry


def bank_evidence_item(*, bank: Bank, item: EvidenceItem, actor: User, note: str = "") -> BankEntry:
    """ "Bank this": the evidence item's hash of the bank's type (PDQ for a photo bank,
    else SHA-256 or MD5) as an entry whose note names the item. Banked already: that
    entry. The caller checked that the actor may see both the item and the bank."""
    value = {
        SignalType.PDQ: item.pdq,
        SignalType.SHA256: item.sha256,
        SignalType.MD5: item.md5,
    }.get(SignalType(bank.signal_type), "")
    if not value:
        raise InvalidInput(
            f"{item.reference} has no {SignalType(bank.signal_type).label} to put in "
            f"bank {bank.name!r}; choose a bank of another type",
            field="bank",
        )
    if bank.signal_type == SignalType.PDQ and (item.pdq_quality or 0) < MIN_PDQ_QUALITY:
        raise InvalidInput(
            f"the PDQ of {item.reference} has quality {item.pdq_quality}, below "
            f"{MIN_PDQ_QUALITY}: it would match unrelated images. Bank its SHA-256 instead",
            field="bank",
        )
    described = f"{item.reference} ({item.target_reference})"
    full_note = f"{described}: {note.strip()}" if note.strip() else described
    with transaction.atomic():
        created = add_entries(
            bank=bank,
            entries=[NewEntry(signal_type=bank.signal_type, value=value, note=full_note)],
            source=EntrySource.EVIDENCE,
            actor=actor,
        )
        if created:
            return created[0]
        return BankEntry.objects.get(bank=bank, value=value)


# -- files -------------------------------------------------------------------------


def parse_csv(text: str) -> list[NewEntry]:
    """``signal_type,signal_value,labels`` (labels separated by spaces or semicolons); a
    header row is optional. Errors name the line."""
    entries = []
    for line_number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip():
            continue
        if line_number == 1 and [cell.strip() for cell in row[:2]] == list(CSV_COLUMNS[:2]):
            continue
        if len(row) < 2:
            raise InvalidInput(
                f"line {line_number}: expected signal_type,signal_value[,labels], got {row!r}",
                field=f"line {line_number}",
            )
        labels = (
            tuple(label for label in row[2].replace(";", " ").split() if label)
            if len(row) > 2
            else ()
        )
        entries.append(NewEntry(signal_type=row[0].strip(), value=row[1].strip(), labels=labels))
    return entries


def import_csv(
    *,
    bank_name: str,
    text: str,
    actor: User | None,
    owner_team: Team | None = None,
) -> tuple[Bank, list[BankEntry]]:
    """Import into the bank, creating it (with the file's signal type) when missing."""
    entries = parse_csv(text)
    with transaction.atomic():
        bank = bank_to_import_into(
            bank_name=bank_name, entries=entries, owner_team=owner_team, actor=actor
        )
        created = add_entries(bank=bank, entries=entries, source=EntrySource.IMPORT, actor=actor)
    return bank, created


def bank_to_import_into(
    *, bank_name: str, entries: Sequence[NewEntry], owner_team: Team | None, actor: User | None
) -> Bank:
    """The bank named, created with the first entry's signal type when missing."""
    bank = Bank.objects.filter(name=bank_name).first()
    if bank is not None:
        return bank
    if not entries:
        raise InvalidInput(
            f"bank {bank_name!r} does not exist and the file has no entries to say its signal type",
            field="file",
        )
    return create_bank(
        name=bank_name, signal_type=entries[0].signal_type, owner_team=owner_team, actor=actor
    )


def export_csv(*, bank: Bank, actor: User | None) -> str:
    """The bank's enabled entries as CSV, oldest first; the export itself is audited."""
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for entry in BankEntry.objects.filter(bank=bank, disabled_at__isnull=True).order_by("id"):
        writer.writerow([entry.signal_type, entry.value, " ".join(entry.labels)])
        count += 1
    with transaction.atomic():
        record_event(
            action=AuditAction.BANK_EXPORTED,
            actor=actor,
            target=bank,
            data={"format": "csv", "entries": count},
        )
    return output.getvalue()


__all__ = [
    "SignalType",
    "add_entries",
    "bank_evidence_item",
    "change_bank",
    "create_bank",
    "disable_entry",
    "enable_entry",
    "export_csv",
    "import_csv",
]
