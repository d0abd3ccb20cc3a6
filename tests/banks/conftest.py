"""Every bank test starts with a matcher that has seen nothing: each builds its index
from the database on first use, as a fresh process does."""

from __future__ import annotations

import pytest

from watchfloor.banks.matcher import PDQ_MATCHER


@pytest.fixture(autouse=True)
def fresh_matcher():
    PDQ_MATCHER.reset()
    yield
    PDQ_MATCHER.reset()
