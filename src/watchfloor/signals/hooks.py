"""Other apps' reactions to newly stored signals.

A light module on purpose: apps register here in ``AppConfig.ready()``, so importing it
must not pull in the reactions, clustering or media code (and numpy, faiss, lingua) that
only a worker or an ingest needs; every ``watchfloor`` command starts up through it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
