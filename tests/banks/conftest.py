"""Every bank test starts with a matcher that has seen nothing: each builds its index
from the database on first use, as a fresh process does."""

from __future__ import annotations

import pytest

# The platform's side of enforcement: a local HTTP server and the connector to it.
from tests.banks.platform_server import committed, connector, platform, run_due  # noqa: F401

# "Bank this" tests add evidence items: the evidence tests' storage and item fixtures.
from tests.evidence.conftest import add_image, escalation, evidence_storage  # noqa: F401
from watchfloor.banks.matcher import PDQ_MATCHER


@pytest.fixture(autouse=True)
def fresh_matcher():
    PDQ_MATCHER.reset()
    yield
    PDQ_MATCHER.reset()
