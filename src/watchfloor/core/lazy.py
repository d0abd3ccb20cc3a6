"""Hooks registered at start-up whose code is imported only when first called.

Every ``watchfloor`` command sets Django up, so whatever an ``AppConfig.ready()``
imports costs every command. A hook that needs a heavy library (numpy, Pillow, the PDQ
hasher) is registered by its dotted path instead and imported on its first call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string

# Every path registered, for a long-running process to import at once (import_every_hook).
_registered: dict[str, None] = {}


def imported_when_called(dotted_path: str) -> Callable[..., Any]:
    """A callable standing for ``dotted_path``, imported (once) when first called."""
    _registered[dotted_path] = None

    def call(*args: Any, **kwargs: Any) -> Any:
        return import_string(dotted_path)(*args, **kwargs)

    call.__qualname__ = call.__name__ = dotted_path.rsplit(".", 1)[-1]
    call.__doc__ = f"{dotted_path}, imported when first called (core.lazy)."
    return call


def import_every_hook() -> int:
    """Import now what every registered hook would import on its first call; how many.

    For a long-running process (the worker): the first reactions pass after it starts
    would otherwise spend about half a second importing the listeners it calls (rules
    filing escalations start playbooks and page people; new signals are matched against
    watchlists), and the surge that woke it would wait that long for its alerts.
    """
    for dotted_path in list(_registered):
        import_string(dotted_path)
    return len(_registered)
