"""``watchfloor ingest FILE``: CAP files, told from signal files by their content
(registered with ``signals.hooks.register_document_reader`` in ``apps.py``)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from watchfloor.signals.hooks import DocumentOutcome
from watchfloor.warning import cap


def read_cap_file(path: Path, *, producer: str = "") -> DocumentOutcome:
    """One CAP alert or Atom feed file through ``services.receive_cap_document``. The
    alerts are stored under the producer ``cap`` whatever ``producer`` says: an alert is
    known by its sender and identifier, however it arrives."""
    from watchfloor.warning.services import receive_cap_document

    limit = getattr(settings, "WATCHFLOOR_CAP_MAX_BYTES", cap.MAX_DOCUMENT_BYTES)
    with path.open("rb") as handle:
        raw = handle.read(limit + 1)  # one byte more: the service refuses it, unread
    try:
        receipt = receive_cap_document(raw=raw, actor=None)
    except cap.CapRefused as refused:
        return DocumentOutcome(
            summary="", problems=[(refused.line, refused.code, _bare(refused))], refused=True
        )
    problems = [(p.line, p.code, p.message) for p in receipt.problems]
    problems += [
        (None, "rejected", f"{a.sender},{a.identifier}: {'; '.join(a.problems)}")
        for a in receipt.alerts
        if a.problems
    ]
    return DocumentOutcome(summary=receipt.summary(), problems=problems)


def _bare(refused: cap.CapRefused) -> str:
    prefix = f"line {refused.line}: " if refused.line else ""
    return refused.message.removeprefix(prefix)
