"""`watchfloor check --deploy` on enforcement connectors saved before production."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

from watchfloor.banks.demo_platform import CONNECTOR_CODE as DEMO_CONNECTOR
from watchfloor.banks.models import EnforcementConnector
from watchfloor.core import clock

pytestmark = pytest.mark.django_db


def _connector(code: str, url: str, *, active: bool = True) -> EnforcementConnector:
    # Written as a database from before production holds it: save_connector would now
    # refuse plain http in production, which is the point of the check.
    return EnforcementConnector.objects.create(
        code=code,
        name=code.title(),
        url=url,
        secret="s" * 43,
        is_active=active,
        created_at=clock.now(),
    )


def _connector_problems(*, deploy: bool = True) -> dict[str, str]:
    return {
        message.id: message.msg
        for message in run_checks(include_deployment_checks=deploy)
        if message.id and message.id.startswith(("watchfloor.E30", "watchfloor.W30"))
    }


def test_no_connectors_no_problem():
    assert _connector_problems() == {}


def test_an_active_connector_over_plain_http_is_named():
    _connector("trust-safety", "http://enforcement.example.net/actions")
    _connector("legal-hold", "https://legal.example.net/actions")

    problems = _connector_problems()

    assert set(problems) == {"watchfloor.E301"}
    assert "trust-safety" in problems["watchfloor.E301"]
    assert "legal-hold" not in problems["watchfloor.E301"]


def test_an_inactive_connector_sends_nothing_and_passes():
    _connector("retired", "http://old.example.net/actions", active=False)

    assert _connector_problems() == {}


def test_the_demo_platform_connector_fails_the_deploy_check():
    _connector(DEMO_CONNECTOR, "http://127.0.0.1:8765/enforcement")

    problems = _connector_problems()

    assert set(problems) == {"watchfloor.E301", "watchfloor.E302"}
    assert DEMO_CONNECTOR in problems["watchfloor.E302"]


def test_the_checks_run_only_for_a_deployment():
    _connector(DEMO_CONNECTOR, "http://127.0.0.1:8765/enforcement")

    assert _connector_problems(deploy=False) == {}
