"""Shared fixtures: the default catalog loaded into a real database, one user per role."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

os.environ.setdefault("WATCHFLOOR_TESTING", "1")

from watchfloor.core import clock

# A fixed, ordinary Tuesday morning in Tokyo (Monday evening UTC).
DEFAULT_NOW = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """Every fixture user gets a password; the production hasher would dominate run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def second_factor_not_required(settings) -> None:
    """Leads and admins must enrol an authenticator app before anything else; the tests of
    everything else sign them in with ``force_login`` and would meet the enrolment page.
    tests/security/test_auth.py turns the requirement back on and tests it."""
    settings.WATCHFLOOR_MFA_REQUIRED_ROLES = []


@pytest.fixture
def frozen_clock() -> Iterator[datetime]:
    """Freeze core.clock; tests move it with clock.advance()."""
    clock.freeze(DEFAULT_NOW)
    try:
        yield DEFAULT_NOW
    finally:
        clock.unfreeze()


@pytest.fixture
def catalog(db):
    from watchfloor.catalog.services import load_catalog

    return load_catalog(actor=None)


def _make_user(
    username: str, role: str, team_code: str | None = None, time_zone: str = "Asia/Tokyo"
):
    from watchfloor.people.models import Team
    from watchfloor.people.services import create_user

    team = Team.objects.get(code=team_code) if team_code else None
    return create_user(
        username=username,
        password="correct-horse-battery",
        role=role,
        actor=None,
        team=team,
        time_zone=time_zone,
    )


@pytest.fixture
def analyst(catalog):
    return _make_user("aiko.analyst", "analyst", "site_policy")


@pytest.fixture
def other_analyst(catalog):
    return _make_user("ben.analyst", "analyst", "site_policy", time_zone="Asia/Singapore")


@pytest.fixture
def lead(catalog):
    return _make_user("lina.lead", "lead", "site_policy", time_zone="Asia/Singapore")


@pytest.fixture
def viewer(catalog):
    return _make_user("victor.viewer", "viewer")


@pytest.fixture
def admin_user(catalog):
    return _make_user("ada.admin", "admin")


@pytest.fixture
def legal_partner(catalog):
    return _make_user("lee.legal", "partner", "legal", time_zone="Australia/Sydney")


@pytest.fixture
def comms_partner(catalog):
    return _make_user("cora.comms", "partner", "communications")


@pytest.fixture
def make_user(catalog):
    return _make_user


@pytest.fixture
def make_escalation(analyst):
    """Create an escalation through the real service, with sensible defaults."""
    from watchfloor.escalations.services import create_escalation

    def make(**overrides):
        values = {
            "actor": analyst,
            "type_code": "scam_campaign",
            "title": "Typhoon relief donation scam wave",
            "summary": "Accounts posing as relief charities collect donations.",
            "markets": ["PH"],
            "languages": ["tl", "en"],
            "source_kind": "user_report",
            "rubric_answers": {"harm": "moderate", "reach": "significant"},
        }
        values.update(overrides)
        return create_escalation(**values)

    return make
