"""Deployment checks about enforcement connectors (`watchfloor check --deploy`).

Saving a connector already refuses plain http in production (``check_connector_url``).
These checks find what was saved before: a database prepared without
``WATCHFLOOR_PRODUCTION`` (the demo's, a trial's) and then deployed keeps its connectors,
and each of them would carry enforcement requests, signed but readable, to whatever
address it names.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError, connections


@register(Tags.security, deploy=True)
def check_enforcement_connectors(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Active connectors must use https, and the demo's stand-in platform must be gone."""
    # Imported here: this module is imported at start-up; the models are needed only
    # when the deploy checks run.
    from watchfloor.banks.demo_platform import CONNECTOR_CODE as DEMO_CONNECTOR
    from watchfloor.banks.models import EnforcementConnector

    try:
        if (
            EnforcementConnector._meta.db_table
            not in connections["default"].introspection.table_names()
        ):
            return []  # a database not migrated yet has no connectors
        active = list(EnforcementConnector.objects.filter(is_active=True).order_by("code"))
    except DatabaseError as exc:
        return [
            Warning(
                f"could not read the enforcement connectors from the database: {exc}",
                hint="run the check where the database is reachable",
                id="watchfloor.W301",
            )
        ]
    problems: list[CheckMessage] = []
    plain = [c.code for c in active if urlsplit(c.url).scheme != "https"]
    if plain:
        problems.append(
            Error(
                f"{len(plain)} active enforcement connector(s) send requests over plain "
                f"http: {', '.join(plain)}",
                hint="give each an https address in the admin (Banks > Enforcement "
                "connectors), or deactivate it: requests name the content and the action",
                obj="banks.EnforcementConnector",
                id="watchfloor.E301",
            )
        )
    if any(c.code == DEMO_CONNECTOR for c in active):
        problems.append(
            Error(
                f"the demo's connector '{DEMO_CONNECTOR}' is active: it points at a local "
                "stand-in platform that `watchfloor demo` starts, not at a real one",
                hint="this database holds demo data: deploy on a fresh one, or deactivate "
                "the connector in the admin",
                obj="banks.EnforcementConnector",
                id="watchfloor.E302",
            )
        )
    return problems
