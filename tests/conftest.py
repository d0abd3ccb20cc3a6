"""Shared fixtures: the default catalog loaded into a real database, one user per role."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("WATCHFLOOR_TESTING", "1")

from watchfloor.core import clock

# Property tests run on shared, loaded machines (two pytest workers on two cores, CI):
# no test may fail on wall-clock time, so hypothesis gets no per-example deadline and no
# "generation too slow" health check. The number of examples is unchanged.
settings.register_profile("watchfloor", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("watchfloor")

# A fixed, ordinary Tuesday morning in Tokyo (Monday evening UTC).
DEFAULT_NOW = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)

# Fixtures of pytest-django that give a test the database.
DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "live_server",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
    }
)


class _Session:
    """The session's shared catalog (tests/shared_catalog.py) and whether a
    transactional test has flushed it since it was loaded; the migrated template
    (tests/database_template.py) this session must still save, or the name the
    database had before its test database was copied from one."""

    catalog: Any = None
    db_blocker: Any = None
    flushed = False
    template_to_save: Any = None
    name_before_copy: str | None = None


@pytest.fixture(scope="session")
def django_db_keepdb(request, django_db_modify_db_settings, django_db_blocker) -> bool:
    """Copy the test database from the migrated template when there is one (and say
    "keep it", so Django migrates nothing); otherwise let Django create and migrate it,
    and keep it as the template afterwards (``django_db_setup`` below)."""
    if request.config.getvalue("reuse_db"):
        return True
    from django.db import connection

    from tests import database_template

    with django_db_blocker.unblock():
        template = database_template.locked_template()
        if not template.exists():
            _Session.template_to_save = template  # locked until saved: others wait
            return False
        _Session.name_before_copy = connection.settings_dict["NAME"]
        template.copy_to(database_template.test_database_name())
        template.release()
    return True


@pytest.fixture(scope="session")
def django_db_createdb(request, django_db_keepdb) -> bool:
    """A copied test database is new already; ``--create-db`` matters with --reuse-db."""
    return bool(request.config.getvalue("reuse_db") and request.config.getvalue("create_db"))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker) -> Iterator[None]:
    """The test database, with the default catalog loaded once for the session."""
    from django.core.management import call_command
    from django.db import connection

    from tests import shared_catalog
    from watchfloor.catalog.models import CatalogVersion

    with django_db_blocker.unblock():
        if _Session.template_to_save is not None:
            _Session.template_to_save.save_from(connection.settings_dict["NAME"])
            _Session.template_to_save.release()
            _Session.template_to_save = None
        if CatalogVersion.objects.exists():
            # A database kept by --reuse-db from a run that stopped half-way.
            call_command("flush", interactive=False, verbosity=0)
        _Session.catalog = shared_catalog.load(at=DEFAULT_NOW)
        _Session.db_blocker = django_db_blocker
    yield
    # With --reuse-db the database outlives the run: leave it as the migrations made it.
    with django_db_blocker.unblock():
        if _Session.name_before_copy is not None:
            # Kept from pytest-django's teardown ("keep it" above), so removed here.
            connection.creation.destroy_test_db(_Session.name_before_copy, verbosity=0)
            _Session.name_before_copy = None
        elif not _Session.flushed:
            shared_catalog.remove(_Session.catalog)
    _Session.catalog = _Session.db_blocker = None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """After a transactional test's flush, load the shared catalog again before the
    next test sets anything up."""
    from tests import shared_catalog

    if _Session.flushed and _Session.db_blocker is not None:
        with _Session.db_blocker.unblock():
            _Session.catalog = shared_catalog.load(at=DEFAULT_NOW)
        _Session.flushed = False


@pytest.fixture(autouse=True)
def _shared_catalog_only_where_asked(request: pytest.FixtureRequest) -> None:
    """A test that uses the database without asking for ``catalog`` gets a database
    without one, as before the catalog was shared."""
    from django.db import connection

    from tests import shared_catalog

    names = set(request.fixturenames)
    uses_database = request.node.get_closest_marker("django_db") is not None or bool(
        DATABASE_FIXTURES & names
    )
    if not uses_database:
        return
    request.getfixturevalue("db")
    if _Session.catalog is None:
        return  # a conftest below replaced django_db_setup
    if not connection.in_atomic_block:
        # Transactional: what it commits is flushed when it ends, the catalog with it.
        _Session.flushed = True
    if "catalog" not in names:
        # In the test's transaction, so its rollback puts the catalog back; in a
        # transactional test, committed, and the flush at its end finds it gone already.
        shared_catalog.remove(_Session.catalog)


@pytest.fixture(autouse=True)
def _signal_handlers_restored() -> Iterator[None]:
    """A worker run in the test process (``call_command("worker")``) installs its "shut
    down gracefully" handlers for SIGTERM, SIGINT and SIGQUIT; they would outlive the
    test, in every later test of the process and in every process it forks."""
    kept = {number: signal.getsignal(number) for number in _WORKER_SIGNALS}
    yield
    for number, handler in kept.items():
        if signal.getsignal(number) is not handler:
            signal.signal(number, handler)


_WORKER_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


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
    """The default catalog's version, as loaded once for the session."""
    from watchfloor.catalog.models import CatalogVersion
    from watchfloor.catalog.services import load_catalog

    shared = _Session.catalog
    version = shared and CatalogVersion.objects.filter(pk=shared.version_pk).first()
    # Asked for only while the test ran, after the shared catalog was taken out.
    return version or load_catalog(actor=None)


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
    from watchfloor.escalations.filing import create_escalation
    from watchfloor.escalations.inputs import EscalationInput

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
        actor = values.pop("actor")
        return create_escalation(actor=actor, details=EscalationInput.from_fields(values))

    return make
