"""Python's cyclic garbage collector, run rarely while signals come in.

A batch allocates hundreds of thousands of short-lived objects, freed by reference
counting; at Python's default threshold (700 allocations) the cyclic collector ran 2,900
times in a 100,000-signal ingest and walked the growing clustering indexes at each full
pass (1.7 s of 14; on the batch API the last batches of a run cost 240 ms instead of
178 ms). Within :func:`collecting_rarely` it runs every ``BULK_COLLECTION_THRESHOLD``
allocations instead. Both intake paths use it: ``watchfloor ingest`` for its whole run,
the batch API for each request.

The threshold belongs to the process, and a web server answers batches on several
threads at once: the first batch in raises it, the last one out puts back what was there
before the first came in. Nothing is frozen, so a caller's heap (a test run's) is left
as it was.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations between two runs of the collector during intake (Python's default is 700).
BULK_COLLECTION_THRESHOLD = 50_000

_lock = threading.Lock()
_inside = 0
_threshold_before: tuple[int, ...] = ()


@contextmanager
def collecting_rarely() -> Iterator[None]:
    """Run the cyclic collector every ``BULK_COLLECTION_THRESHOLD`` allocations until the
    last intake inside this process leaves, then as before."""
    global _inside, _threshold_before
    with _lock:
        if _inside == 0:
            _threshold_before = gc.get_threshold()
            gc.set_threshold(BULK_COLLECTION_THRESHOLD, *_threshold_before[1:])
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                gc.set_threshold(*_threshold_before)
