"""Waiting for something another thread or process does, without sleeping a fixed time.

Prefer an event the other side sets (a ``threading.Event`` set by a signal receiver, a
process's exit): the test goes on the moment it happens. Where the only way to know is
to look (rows committed by another process), :func:`wait_until` looks again and again
until the condition holds or its deadline passes, and fails naming what it waited for.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

# Between two looks: short next to anything waited for here, long enough not to load
# the database that the other side is writing to.
POLL_INTERVAL = 0.01


def wait_until(condition: Callable[[], T], *, timeout: float, waiting_for: str) -> T:
    """Return ``condition()``'s first true value; fail if none comes within ``timeout``
    seconds. ``condition`` may raise (an assertion) to stop the wait early."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {waiting_for}")
        time.sleep(POLL_INTERVAL)
    return result


def wait_for_exit(pids: Iterable[int], *, timeout: float, waiting_for: str) -> None:
    """Block until every process in ``pids`` has exited (any process, not only a
    child: Linux's pidfd becomes readable when its process ends)."""
    deadline = time.monotonic() + timeout
    descriptors = []
    for pid in pids:
        try:
            descriptors.append(os.pidfd_open(pid))
        except ProcessLookupError:
            continue  # already gone
    try:
        waiting = list(descriptors)
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"gave up after {timeout} s waiting for {waiting_for}")
            ended, _, _ = select.select(waiting, [], [], left)
            waiting = [fd for fd in waiting if fd not in ended]
    finally:
        for descriptor in descriptors:
            os.close(descriptor)
