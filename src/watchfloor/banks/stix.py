"""STIX 2.1 indicator bundles for URL, domain and file-hash banks, the format cybercrime
partners share (the ``stix2`` package builds and parses them).

Export: one ``indicator`` per enabled entry, pattern ``[url:value = '…']``,
``[domain-name:value = '…']``, ``[file:hashes.MD5 = '…']`` or
``[file:hashes.'SHA-256' = '…']``, ``pattern_type: stix``, ``valid_from`` when the entry
was added, the entry's labels as ``labels``, created by a Watchfloor ``identity``.

Import: every ``indicator`` with a STIX pattern made of equality comparisons on those
paths joined by ``OR`` gives one entry per value; anything else in the bundle
(relationships, other objects, revoked or expired indicators, patterns with ``AND``,
other operators or paths, values of another type than the bank's) is skipped and
reported by its object id, never failing the rest of the bundle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import stix2
from django.db import transaction
from stix2.exceptions import STIXError
from stix2.pattern_visitor import create_pattern_object
from stix2.patterns import (
    EqualityComparisonExpression,
    ObservationExpression,
    OrBooleanExpression,
    OrObservationExpression,
)
from stix2patterns.exceptions import ParseException

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.banks.models import Bank, BankEntry, EntrySource, SignalType
from watchfloor.banks.services import NewEntry, add_entries, bank_to_import_into
from watchfloor.banks.signals import normalise_value
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput

if TYPE_CHECKING:
    from watchfloor.people.models import Team, User

MAX_BUNDLE_BYTES = 50 * 1024 * 1024
MAX_OBJECTS = 100_000
# Signal type → (STIX object type, property path as the pattern writes it).
PATTERN_PATHS = {
    SignalType.URL: ("url", "value"),
    SignalType.DOMAIN: ("domain-name", "value"),
    SignalType.MD5: ("file", "hashes.MD5"),
    SignalType.SHA256: ("file", "hashes.'SHA-256'"),
}
# (object type, property path components) → signal type, for reading patterns.
_SIGNAL_OF_PATH = {
    ("url", ("value",)): SignalType.URL,
    ("domain-name", ("value",)): SignalType.DOMAIN,
    ("file", ("hashes", "MD5")): SignalType.MD5,
    ("file", ("hashes", "SHA-256")): SignalType.SHA256,
}


def _check_exportable(bank: Bank) -> None:
    if bank.signal_type not in PATTERN_PATHS:
        raise InvalidInput(
            f"STIX bundles carry URL, domain, MD5 and SHA-256 banks; {bank.name!r} holds "
            f"{bank.signal_type}",
            field="format",
        )


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern_for(signal_type: str, value: str) -> str:
    object_type, path = PATTERN_PATHS[SignalType(signal_type)]
    return f"[{object_type}:{path} = {_quoted(value)}]"


def export_stix(*, bank: Bank, actor: User | None) -> str:
    """The bank's enabled entries as a STIX 2.1 bundle of indicators (JSON text)."""
    _check_exportable(bank)
    identity = stix2.Identity(name="Watchfloor", identity_class="organization")
    indicators = [
        stix2.Indicator(
            name=f"{bank.name} entry {entry.pk}",
            description=entry.note or None,
            pattern=pattern_for(entry.signal_type, entry.value),
            pattern_type="stix",
            valid_from=entry.added_at,
            indicator_types=["malicious-activity"],
            labels=list(entry.labels) or None,
            created_by_ref=identity.id,
        )
        for entry in BankEntry.objects.filter(bank=bank, disabled_at__isnull=True).order_by("id")
    ]
    bundle = stix2.Bundle(objects=[identity, *indicators])
    with transaction.atomic():
        record_event(
            action=AuditAction.BANK_EXPORTED,
            actor=actor,
            target=bank,
            data={"format": "stix", "entries": len(indicators)},
        )
    return bundle.serialize(pretty=True)


# ---------------------------------------------------------------- import


@dataclass
class StixImport:
    bank: Bank
    added: list[BankEntry] = field(default_factory=list)
    # (object id, why it was skipped)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _unescaped(value: str) -> str:
    return value.replace("\\'", "'").replace("\\\\", "\\")


def _comparisons(expression: Any) -> list[EqualityComparisonExpression]:
    """The equality comparisons of a pattern made only of them and ORs; else raise."""
    if isinstance(expression, OrObservationExpression | OrBooleanExpression):
        return [c for operand in expression.operands for c in _comparisons(operand)]
    if isinstance(expression, ObservationExpression):
        return _comparisons(expression.operand)
    if isinstance(expression, EqualityComparisonExpression) and not expression.negated:
        return [expression]
    raise ValueError(f"only '=' comparisons joined by OR are imported, not {expression}")


def values_of_pattern(pattern: str) -> list[tuple[SignalType, str]]:
    """Each (signal type, value) an indicator's STIX pattern names; ValueError otherwise."""
    pairs = []
    for comparison in _comparisons(create_pattern_object(pattern)):
        path = tuple(str(part.property_name) for part in comparison.lhs.property_path)
        if len(path) == 2 and path[0] == "hashes":
            # The vocabulary says MD5 and SHA-256; bundles in the wild write md5, sha256.
            path = ("hashes", {"SHA256": "SHA-256"}.get(path[1].upper(), path[1].upper()))
        kind = _SIGNAL_OF_PATH.get((comparison.lhs.object_type_name, path))
        if kind is None:
            raise ValueError(
                f"{comparison.lhs.object_type_name}:{'.'.join(path)} is not a URL, domain, "
                "MD5 or SHA-256"
            )
        pairs.append((kind, _unescaped(str(comparison.rhs.value))))
    return pairs


def _objects(text: str) -> list[Any]:
    if len(text.encode("utf-8")) > MAX_BUNDLE_BYTES:
        raise InvalidInput(f"a STIX file is at most {MAX_BUNDLE_BYTES:,} bytes", field="file")
    try:
        data = json.loads(text)
    except ValueError as error:
        raise InvalidInput(f"not JSON: {error}", field="file") from None
    if not isinstance(data, dict) or data.get("type") != "bundle":
        raise InvalidInput('a STIX file is one bundle: {"type": "bundle", ...}', field="file")
    objects = data.get("objects") or []
    if not isinstance(objects, list):
        raise InvalidInput("the bundle's objects are a list", field="objects")
    if len(objects) > MAX_OBJECTS:
        raise InvalidInput(f"at most {MAX_OBJECTS:,} objects in a bundle", field="objects")
    return objects


def _entries_of_indicator(raw: Any, now: Any) -> list[NewEntry]:
    """The entries one indicator gives; ValueError (or STIXError) saying why not."""
    if not isinstance(raw, dict) or raw.get("type") != "indicator":
        raise LookupError("not an indicator")
    indicator = stix2.parse(raw, allow_custom=True)
    if indicator.pattern_type != "stix":
        raise ValueError(f"pattern_type {indicator.pattern_type!r} is not stix")
    if getattr(indicator, "revoked", False):
        raise ValueError("revoked")
    valid_until = getattr(indicator, "valid_until", None)
    if valid_until is not None and valid_until <= now:
        raise ValueError(f"expired at {valid_until}")
    note = " ".join(
        part for part in (getattr(indicator, "name", ""), f"(STIX {indicator.id})") if part
    )
    labels = tuple(str(label) for label in getattr(indicator, "labels", []) or [])
    return [
        NewEntry(signal_type=kind.value, value=value, labels=labels, note=note)
        for kind, value in values_of_pattern(indicator.pattern)
    ]


def import_stix(
    *, bank_name: str, text: str, actor: User | None, owner_team: Team | None = None
) -> StixImport:
    """Import a bundle's indicators into the bank, creating it (with the type of the
    first usable indicator) when missing."""
    now = clock.now()
    entries: list[tuple[str, NewEntry]] = []
    skipped: list[tuple[str, str]] = []
    for number, raw in enumerate(_objects(text)):
        object_id = str(raw.get("id", f"objects[{number}]")) if isinstance(raw, dict) else ""
        try:
            entries.extend((object_id, entry) for entry in _entries_of_indicator(raw, now))
        except LookupError:
            continue  # identities, relationships ...: not for a bank, nothing to report
        except (STIXError, ParseException, ValueError, TypeError) as error:
            skipped.append((object_id or f"objects[{number}]", str(error)[:300]))
    with transaction.atomic():
        bank = bank_to_import_into(
            bank_name=bank_name,
            entries=[entry for _, entry in entries],
            owner_team=owner_team,
            actor=actor,
        )
        _check_exportable(bank)
        kind = SignalType(bank.signal_type)
        fitting = []
        for object_id, entry in entries:
            if entry.signal_type != kind:
                skipped.append((object_id, f"a {entry.signal_type} value; the bank holds {kind}"))
                continue
            try:
                normalise_value(kind, entry.value)
            except InvalidInput as error:
                skipped.append((object_id, error.message))
                continue
            fitting.append(entry)
        added = add_entries(bank=bank, entries=fitting, source=EntrySource.IMPORT, actor=actor)
    return StixImport(bank=bank, added=added, skipped=skipped)
