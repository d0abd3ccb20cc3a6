"""Deployment checks about people (`watchfloor check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import check_password
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError, connections


@register(Tags.security, deploy=True)
def check_no_demo_accounts(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Fails when an account the demo creates still signs in with the published demo
    password: whoever has read the README could sign in as it."""
    # Imported here: this module is imported at start-up, the demo file's reader (PyYAML)
    # is needed only when the deploy checks run.
    from watchfloor.people.demo_accounts import DEMO_PASSWORD, demo_usernames
    from watchfloor.people.models import User

    connection = connections["default"]
    try:
        if User._meta.db_table not in connection.introspection.table_names():
            return []  # a database not migrated yet has no accounts
        candidates = list(User.objects.filter(username__in=demo_usernames(), is_active=True))
    except DatabaseError as exc:
        return [
            Warning(
                f"could not look for the demo's accounts in the database: {exc}",
                hint="run the check where the database is reachable",
                id="watchfloor.W101",
            )
        ]
    # The hashers' own comparison, not User.check_password, which would re-save a hash
    # made with older settings: a check only reads.
    exposed = sorted(
        user.username for user in candidates if check_password(DEMO_PASSWORD, user.password)
    )
    if not exposed:
        return []
    return [
        Error(
            f"{len(exposed)} account(s) made by `watchfloor demo` still sign in with the "
            f"published demo password: {', '.join(exposed)}",
            hint="this database holds demo data: deploy on a fresh one, or deactivate these "
            "accounts or give each a new password (`watchfloor changepassword USERNAME`)",
            obj="people.User",
            id="watchfloor.E101",
        )
    ]
