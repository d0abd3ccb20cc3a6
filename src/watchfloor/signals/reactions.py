"""What happens after signals are stored: surge checks and auto-escalation rules.

Called by the intake service after each batch has committed (so a failure here never
loses an acknowledged signal), in its own transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchfloor.people.models import User

SeriesKey = tuple[str, str, str]  # (market, policy hint, language); "" where not given


def after_ingest(
    *, cluster_ids: Iterable[int], series_keys: Iterable[SeriesKey], actor: User | None
) -> None:
    """Check the touched clusters and series for surges and run the auto-escalation rules."""
