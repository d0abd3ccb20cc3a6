"""The match page's look-up: pasted lines and an uploaded photo turned into matcher
queries, answered by the matcher (``matcher.match``) against the reader's visible banks.
A person's look-up is not a match from the platform, so nothing is recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from watchfloor.banks.hashing import pdq_of_image
from watchfloor.banks.matcher import MAX_BATCH, EntryMatch, Query, match
from watchfloor.banks.services import MIN_PDQ_QUALITY
from watchfloor.core.errors import InvalidInput

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile
    from django.db.models import QuerySet

    from watchfloor.banks.models import Bank


@dataclass
class QueryRow:
    label: str
    signal_type: str
    value: str
    matches: list[EntryMatch] = field(default_factory=list)
    suppressed_by: list[EntryMatch] = field(default_factory=list)
    error: str = ""
    warning: str = ""


def query_of_line(line: str) -> Query:
    """``type:value``, or a bare hash: 64 hex digits are PDQ, 32 are MD5."""
    kind, separator, value = line.partition(":")
    if separator and kind.strip().isalnum() and not kind.strip().lower().startswith("http"):
        return Query(kind.strip().lower(), value.strip())
    bare = line.strip()
    return Query("md5" if len(bare) == 32 else "pdq", bare)


def look_up(*, text: str, image: UploadedFile | None, banks: QuerySet[Bank]) -> list[QueryRow]:
    """One row per non-blank line (numbered as pasted) and one for the photo; a bad line
    gets its own error and the others are still answered."""
    labelled: list[tuple[str, Query, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            labelled.append((f"line {number}", query_of_line(line), ""))
    if image is not None:
        pdq, quality = pdq_of_image(image.read(), field="image")
        warning = (
            f"quality {quality}, below {MIN_PDQ_QUALITY}: matches may be unrelated images"
            if quality < MIN_PDQ_QUALITY
            else ""
        )
        labelled.append((image.name or "photo", Query("pdq", pdq), warning))
    if not labelled:
        raise InvalidInput("paste at least one hash or choose a photo", field="hashes")
    if len(labelled) > MAX_BATCH:
        raise InvalidInput(
            f"at most {MAX_BATCH} hashes at once, got {len(labelled)}", field="hashes"
        )
    results = match(queries=[query for _, query, _ in labelled], banks=banks)
    return [
        QueryRow(
            label=label,
            signal_type=result.signal_type,
            value=result.value,
            matches=result.matches,
            suppressed_by=result.suppressed_by,
            error=f"{label}: {result.error.message}" if result.error else "",
            warning=warning,
        )
        for (label, _, warning), result in zip(labelled, results, strict=True)
    ]
