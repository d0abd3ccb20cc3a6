"""Hooks through which an app above crises adds to crisis pages and timelines without
crises importing it (one direction of imports, docs/architecture.md). Each is filled in
that app's ``AppConfig.ready()``; unfilled, crises shows nothing of it.

The drills app fills them: a drill crisis (``Crisis.is_drill``) links to its drill clock
and score, the crises list links to the drills, and the drill audit events read on the
crisis timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from watchfloor.crises.describe import DESCRIBERS
from watchfloor.crises.models import Crisis

Describer = Callable[[dict[str, Any]], tuple[str, str]]


@dataclass(frozen=True)
class PageLink:
    label: str
    url: str


@dataclass(frozen=True)
class DrillPages:
    # The drills page, linked from the crises list.
    index: Callable[[], PageLink]
    # A drill crisis's own drill pages (its clock, its score), linked from its war room.
    of_crisis: Callable[[Crisis], Sequence[PageLink]]


_drill_pages: list[DrillPages] = []


def register_drill_pages(pages: DrillPages) -> None:
    """Set the drill pages crises links to (registering again replaces them)."""
    _drill_pages[:] = [pages]


def drills_index_link() -> PageLink | None:
    return _drill_pages[0].index() if _drill_pages else None


def drill_links(crisis: Crisis) -> list[PageLink]:
    """The links of a drill crisis to its drill; none for a real crisis."""
    if not crisis.is_drill or not _drill_pages:
        return []
    return list(_drill_pages[0].of_crisis(crisis))


WarRoomPanel = Callable[..., Any]
_war_room_panels: dict[str, WarRoomPanel] = {}


def register_war_room_panel(context_name: str, panel: WarRoomPanel) -> None:
    """A value for the war room's template context, computed for its reader:
    ``panel(crisis=..., viewer=..., now=...)`` (the evidence app: the team's exposure)."""
    _war_room_panels[context_name] = panel


def war_room_panels(*, crisis: Crisis, viewer: Any, now: Any) -> dict[str, Any]:
    return {
        name: panel(crisis=crisis, viewer=viewer, now=now)
        for name, panel in _war_room_panels.items()
    }


CrisisListPanel = Callable[..., Any]
_crisis_list_panels: dict[str, CrisisListPanel] = {}


def register_crisis_list_panel(context_name: str, panel: CrisisListPanel) -> None:
    """A value for the crises page's template context, computed for its reader:
    ``panel(viewer=..., now=...)`` (the warning app: crises proposed from official
    alerts, on escalations the viewer may see)."""
    _crisis_list_panels[context_name] = panel


def crisis_list_panels(*, viewer: Any, now: Any) -> dict[str, Any]:
    return {name: panel(viewer=viewer, now=now) for name, panel in _crisis_list_panels.items()}


def register_event_describer(action: str, describe: Describer) -> None:
    """How an audit event that carries a crisis's id reads on the crisis timeline."""
    DESCRIBERS[action] = describe
