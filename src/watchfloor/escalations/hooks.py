"""Extension points for the apps above escalations.

Escalations sits below playbooks, notify, coordination and crises, and must not import
them; yet creating an escalation proposes playbooks and pages people, and its page shows
their panels. Each of those apps registers here from its ``AppConfig.ready()``:

- :func:`listen_to_escalation_events` — called inside the service's transaction when an
  escalation is created, re-rated, acknowledged, decided, actioned, closed, reopened
  or merged (in the order the apps are
  installed: playbooks start before anyone is paged about them); for ``created``,
  :func:`filed_with` gives the markets and clocks the filing has just written;
- :func:`listen_to_final_decisions` — called after the transaction in which a decision
  became final (recorded final, or approved by a second person) commits: the banks app
  sends it to the platform's enforcement connectors;
- :func:`register_escalation_panel` — a value for the escalation page's template context;
- :func:`register_queue_banner` — a value for the triage queue's template context (the
  crises app's "active crisis" banner).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol

from django.db import transaction

if TYPE_CHECKING:
    from watchfloor.escalations.models import Clock, Escalation
    from watchfloor.people.models import User

EscalationEvent = Literal[
    "created",
    "severity_changed",
    "acknowledged",
    "decided",
    "actioned",
    "closed",
    "reopened",
    "merged",
]


class EventListener(Protocol):
    def __call__(
        self, *, escalation: Escalation, event: EscalationEvent, actor: User | None, how: str
    ) -> object: ...


class FinalDecisionListener(Protocol):
    def __call__(self, *, decision_id: int, actor_id: int | None) -> object: ...


class Panel(Protocol):
    def __call__(self, *, escalation: Escalation, viewer: User, now: datetime) -> Any: ...


class QueueBanner(Protocol):
    def __call__(self, *, viewer: User, now: datetime) -> Any: ...


@dataclass(frozen=True)
class _Listener:
    name: str
    events: frozenset[str] | None
    listener: EventListener


_listeners: list[_Listener] = []
_final_decision_listeners: dict[str, FinalDecisionListener] = {}
_panels: dict[str, Panel] = {}
_queue_banners: dict[str, QueueBanner] = {}


def listen_to_escalation_events(
    name: str, listener: EventListener, *, events: Iterable[EscalationEvent] | None = None
) -> None:
    """Register (or replace, by name) a listener; ``events=None`` means every event."""
    entry = _Listener(name, frozenset(events) if events is not None else None, listener)
    for index, existing in enumerate(_listeners):
        if existing.name == name:
            _listeners[index] = entry
            return
    _listeners.append(entry)


@dataclass(frozen=True)
class Filed:
    """What ``create_escalation`` has just written beside the escalation, handed to the
    listeners of its ``created`` event so they need not read it back: the market codes
    (in code order, as a read of ``escalation.markets`` gives them) and the clocks it
    started (by due time, as ``Clock``'s ordering gives them, each with its statutory
    rule). A reaction pass files hundreds of escalations; each read back was a statement
    per listener."""

    market_codes: tuple[str, ...]
    clocks: tuple[Clock, ...]


_FILED = "_watchfloor_filed"


def hand_over_filed(escalation: Escalation, filed: Filed) -> None:
    setattr(escalation, _FILED, filed)


def filed_with(escalation: Escalation, event: str) -> Filed | None:
    """What the filing handed over, for the ``created`` event only (any later event
    reads the escalation as it then stands)."""
    if event != "created":
        return None
    found: Filed | None = getattr(escalation, _FILED, None)
    return found


def escalation_event(
    *, escalation: Escalation, event: EscalationEvent, actor: User | None, how: str = ""
) -> None:
    """Tell every listener; services call it inside their own transaction, so a listener's
    writes commit or roll back with the change that caused them. ``how`` says how an
    ``acknowledged`` came about (status, ownership, decision)."""
    for entry in _listeners:
        if entry.events is None or event in entry.events:
            entry.listener(escalation=escalation, event=event, actor=actor, how=how)


def listen_to_final_decisions(name: str, listener: FinalDecisionListener) -> None:
    """Register (or replace, by name) what happens once a decision is final."""
    _final_decision_listeners[name] = listener


def decision_became_final(*, decision_id: int, actor: User | None) -> None:
    """Called by the decision services inside their transaction. Each listener runs after
    it commits — never for a decision rolled back — with ids, not objects, so it reads
    the committed rows in its own transaction; one that fails is logged and does not undo
    the decision (``robust``), which a listener's own sweep can then catch up on."""
    actor_id = actor.pk if actor is not None else None
    for listener in _final_decision_listeners.values():
        transaction.on_commit(
            partial(listener, decision_id=decision_id, actor_id=actor_id), robust=True
        )


def register_escalation_panel(context_name: str, panel: Panel) -> None:
    _panels[context_name] = panel


def escalation_panels(*, escalation: Escalation, viewer: User, now: datetime) -> dict[str, Any]:
    """The registered panels' values for one reader of the escalation page."""
    return {
        name: panel(escalation=escalation, viewer=viewer, now=now)
        for name, panel in _panels.items()
    }


def register_queue_banner(context_name: str, banner: QueueBanner) -> None:
    """Show something above the triage queue; ``banner`` reads what ``viewer`` may see."""
    _queue_banners[context_name] = banner


def queue_banners(*, viewer: User, now: datetime) -> dict[str, Any]:
    """The registered banners' values for one reader of the queue."""
    return {name: banner(viewer=viewer, now=now) for name, banner in _queue_banners.items()}
