"""Other apps' reactions to newly stored signals.

A light module on purpose: apps register here in ``AppConfig.ready()``, so importing it
must not pull in the reactions, clustering or media code (and numpy, faiss, lingua) that
only a worker or an ingest needs; every ``watchfloor`` command starts up through it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# Called with the new signals' ids after the surge checks and rules of a reactions pass
# (the crises app registers its watchlist matcher here).
SignalsHook = Callable[[Sequence[int]], object]
_hooks: list[SignalsHook] = []


def after_signals_stored(hook: SignalsHook) -> SignalsHook:
    """Register ``hook(signal_ids)`` to run in every reactions pass."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def signals_stored_hooks() -> tuple[SignalsHook, ...]:
    return tuple(_hooks)


# ---------------------------------------------------------------- documents

# Files that are not signal files but documents another app reads into signals through
# the intake (the warning app: CAP alerts and Atom feeds of them). ``watchfloor ingest``
# asks each reader, by the file's first bytes, whether the file is its kind.


@dataclass(frozen=True)
class DocumentOutcome:
    """What became of one document: a one-line summary, and each problem as
    ``(line or None, code, message)``; ``refused`` when nothing of it was taken."""

    summary: str
    problems: list[tuple[int | None, str, str]] = field(default_factory=list)
    refused: bool = False


@dataclass(frozen=True)
class DocumentReader:
    name: str
    # Whether a file whose first bytes are these is this reader's kind.
    recognises: Callable[[bytes], bool]
    # Read the file into signals: read(path, producer=...) -> DocumentOutcome.
    read: Callable[..., DocumentOutcome]


_document_readers: dict[str, DocumentReader] = {}


def register_document_reader(reader: DocumentReader) -> None:
    """Let ``watchfloor ingest`` hand files of this kind to ``reader``."""
    _document_readers[reader.name] = reader


def document_reader_for(head: bytes) -> DocumentReader | None:
    """The reader that takes a file starting with ``head``, if any."""
    for reader in _document_readers.values():
        if reader.recognises(head):
            return reader
    return None


# Values for the cluster page's template context, computed for its reader by an app above
# signals (the evidence app: the cluster's evidence panel).
ClusterPanel = Callable[..., object]
_cluster_panels: dict[str, ClusterPanel] = {}


def register_cluster_panel(context_name: str, panel: ClusterPanel) -> None:
    """``panel(cluster=…, viewer=…, now=…)`` (register again under a name to replace it)."""
    _cluster_panels[context_name] = panel


def cluster_panels(*, cluster: object, viewer: object, now: object) -> dict[str, object]:
    """The registered panels' values for one reader of the cluster page."""
    return {
        name: panel(cluster=cluster, viewer=viewer, now=now)
        for name, panel in _cluster_panels.items()
    }
