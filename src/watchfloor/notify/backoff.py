"""How long to wait before trying a delivery again: exponential, capped, with jitter.

The wait before retry *n* (after the *n*-th failed attempt) is ``min(cap, base × 2^(n-1))``,
then drawn uniformly between half of that and all of it ("equal jitter"): receivers that
came back after an outage are not hit by every sender at the same instant, and the wait
still grows. A receiver's ``Retry-After`` is honoured when it asks for longer (up to the cap).
"""

from __future__ import annotations

import random
from datetime import timedelta

from watchfloor.notify import conf

_random = random.SystemRandom()


def retry_delay(
    attempt_number: int,
    *,
    retry_after_seconds: float | None = None,
    base: timedelta | None = None,
    cap: timedelta | None = None,
    draw=_random.uniform,
) -> timedelta:
    base = base if base is not None else conf.backoff_base()
    cap = cap if cap is not None else conf.backoff_max()
    exponent = max(0, attempt_number - 1)
    # Past 2^30 the product only overflows; the cap has long been reached by then.
    ceiling = min(cap, base * (2 ** min(exponent, 30)))
    delay = ceiling * draw(0.5, 1.0)
    if retry_after_seconds is not None:
        delay = max(delay, min(cap, timedelta(seconds=retry_after_seconds)))
    return delay
