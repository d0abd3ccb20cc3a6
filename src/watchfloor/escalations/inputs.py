"""What callers hand to the escalation services: plain frozen values, checked by the
service that takes them (each error names its field)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from watchfloor.core.errors import InvalidInput
from watchfloor.escalations.models import SourceKind


@dataclass(frozen=True)
class SubjectInput:
    kind: str
    reference: str
    note: str = ""


@dataclass(frozen=True)
class StatutoryTriggerInput:
    rule: str
    received_at: datetime
    due_at: datetime | None = None
    notice_reference: str = ""
    # A receipt time older than settings.WATCHFLOOR_RECEIPT_CONFIRMATION_AFTER is refused
    # unless the person filing confirms it (a typo such as 1999 for 2026 is likelier).
    confirm_old_receipt: bool = False


@dataclass(frozen=True)
class EscalationInput:
    """A new escalation as filed: by a person (the form, the API), a rule (signals, bank
    matches), a drill inject or the demo. ``create_escalation`` checks every value and
    names the field at fault; build one with ``from_fields`` from a mapping whose keys
    are not known in advance (a catalog, a test's overrides)."""

    type_code: str
    title: str
    summary: str = ""
    markets: Sequence[str] = ()
    languages: Sequence[str] = ()
    subjects: Sequence[SubjectInput] = ()
    source_kind: str = SourceKind.INTERNAL
    source_team_code: str = ""
    source_detail: str = ""
    rubric_answers: Mapping[str, Any] = field(default_factory=dict)
    statutory_triggers: Sequence[StatutoryTriggerInput] = ()
    policy_code: str = ""
    is_high_visibility: bool = False
    is_restricted: bool = False
    access_usernames: Sequence[str] = ()
    shared_with_team_codes: Sequence[str] = ()
    is_drill: bool = False

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> EscalationInput:
        """An input from a mapping of field names; an unknown or missing name is an
        ``InvalidInput`` that names it and the fields there are."""
        known = {f.name for f in fields(cls)}
        for name in values:
            if name not in known:
                raise InvalidInput(
                    f"unknown escalation field '{name}'; use one of {', '.join(sorted(known))}",
                    field=str(name),
                )
        for name in ("type_code", "title"):
            if name not in values:
                raise InvalidInput(f"an escalation needs its {name}", field=name)
        return cls(**values)
