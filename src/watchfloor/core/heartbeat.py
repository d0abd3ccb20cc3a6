"""A heartbeat: a small daemon thread that calls a function every few seconds while
long work runs, to say "still here" (a worker's liveness row, a lease on claimed rows).

The work itself never has to remember to beat, so a task that runs for an hour keeps its
lease, and a process killed outright (SIGKILL, a lost machine) stops beating at once:
whoever watches the beats can tell a slow worker from a dead one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from django.db import connections

logger = logging.getLogger(__name__)


class Heartbeat:
    """Call ``beat()`` every ``interval`` seconds on its own thread, from ``start()``
    until ``stop()`` (or for the ``with`` block). A failing beat is logged and the next
    one tried: a database that is briefly away must not end the work it watches. The
    thread closes its own database connections when it ends."""

    def __init__(self, beat: Callable[[], object], *, interval: float, name: str) -> None:
        if interval <= 0:
            raise ValueError("a heartbeat's interval must be positive")
        self.beat = beat
        self.interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                try:
                    self.beat()
                except Exception:
                    logger.exception("heartbeat %s: a beat failed", self._thread.name)
        finally:
            connections.close_all()
