"""A believable APAC day for the demo: synthetic text only, no real people, no media.

Everything is created through the real services on a simulated clock, so the demo's
audit log, timelines and clocks are exactly what real use would produce.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction

from watchfloor.bootstrap.demo_cases import demo_cases
from watchfloor.core import clock
from watchfloor.escalations.filing import create_escalation
from watchfloor.escalations.inputs import EscalationInput
from watchfloor.escalations.models import Escalation
from watchfloor.people.demo_accounts import DEMO_ACCOUNTS, DEMO_PASSWORD
from watchfloor.people.models import Team, User
from watchfloor.people.services import SharedPassword, create_user


class DemoRefused(Exception):
    """The demo's accounts sign in with a published password: never in production."""


def refuse_in_production() -> None:
    if settings.PRODUCTION:
        raise DemoRefused(
            "watchfloor demo creates accounts whose password it prints, so it refuses to run "
            "with WATCHFLOOR_PRODUCTION=1; use `watchfloor serve`, and create the first "
            "account with `watchfloor createsuperuser`"
        )


@contextmanager
def demo_platform_reachable() -> Iterator[None]:
    """Let this demo process send to the demo platform on 127.0.0.1 while it runs.

    The outbound policy (core.netpolicy) refuses loopback addresses unless an
    administrator allows the host by name in ``WATCHFLOOR_OUTBOUND_ALLOW_HOSTS``; the
    demo allows 127.0.0.1 the same way, in its own process, for as long as the demo
    command runs, and never in production (``watchfloor serve`` and ``watchfloor
    worker`` keep the policy as configured)."""
    from watchfloor.banks.demo_platform import HOST

    refuse_in_production()
    configured = settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS
    if HOST not in configured:
        settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = [*configured, HOST]
    try:
        yield
    finally:
        settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = configured


def demo_connector_line(connector, *, platform_url: str | None) -> str:
    """The one line of the demo's start-up text about enforcement."""
    from watchfloor.banks.demo_platform import secret_hint

    if not connector.is_active:
        how = "is switched off (admin: Enforcement connectors); its platform"
    elif connector.sends_final_decisions:
        how = "sends final decisions on their own to the demo platform"
    else:
        how = "sends decisions from the Enforcement panel to the demo platform"
    where = (
        f"at {platform_url}"
        if platform_url
        else "(not started with --no-serve: requests wait and retry until `watchfloor demo`)"
    )
    return (
        f"Enforcement: '{connector.name}' {how} {where}; "
        f"a local stand-in, not for production (secret {secret_hint(connector.secret)})"
    )


def ensure_demo_accounts() -> list[User]:
    refuse_in_production()
    accounts = []
    password = None
    for username, role, team_code, zone, first, last in DEMO_ACCOUNTS:
        user = User.objects.filter(username=username).first()
        if user is None:
            password = password or SharedPassword.of(DEMO_PASSWORD)
            team = Team.objects.get(code=team_code) if team_code else None
            user = create_user(
                username=username,
                password=password,
                role=role,
                actor=None,
                team=team,
                time_zone=zone,
                first_name=first,
                last_name=last,
                email=f"{username}@watchfloor.example",
            )
        accounts.append(user)
    load_demo_rota()
    return accounts


@transaction.atomic
def load_demo_scenario() -> int:
    """Create the demo day once; returns how many escalations it created (0 if present)."""
    if Escalation.objects.exists():
        return 0
    users = {u.username: u for u in User.objects.filter(username__in=[a[0] for a in DEMO_ACCOUNTS])}
    real_now = clock.now()
    cases = demo_cases()
    created: dict[str, Escalation] = {}
    timeline: list[tuple[float, int, str, Callable | None]] = []
    for order, case in enumerate(cases):
        timeline.append((case.opened_hours_ago, order, case.key, None))
        for hours_ago, step in case.steps:
            timeline.append((hours_ago, order, case.key, step))
    by_key = {case.key: case for case in cases}
    # Oldest first, so the audit chain reads in time order like a real day would.
    for hours_ago, _order, key, later_step in sorted(
        timeline, key=lambda t: (-t[0], t[1], t[3] is not None)
    ):
        with clock.frozen_at(real_now - timedelta(hours=hours_ago)):
            if later_step is None:
                created[key] = create_escalation(
                    actor=users["analyst"], details=EscalationInput(**by_key[key].fields)
                )
            else:
                created[key].refresh_from_db()
                later_step(created[key], users, created)
    load_demo_partner_requests()
    load_demo_crisis()
    load_demo_evidence()
    load_demo_banks()
    return len(created)


# A replayable day of signals with a surge: real CrisisLex tweets from the 2012 Costa Rica
# earthquake and synthetic APAC reports (defaults/demo/surge_day.SOURCE.txt). The demo
# does not replay it (that takes minutes); it says how.
DEMO_SURGE_FILE = Path(__file__).resolve().parent.parent / "defaults" / "demo" / "surge_day.jsonl"


def demo_replay_command(speed: int = 120) -> str:
    return f"watchfloor replay {DEMO_SURGE_FILE} --speed {speed}"


def load_demo_rota() -> None:
    """The default on-call rota (defaults/rotations.yaml) and its demo people, once; the
    people it adds sign in with the demo password too."""
    from watchfloor.people.models import Rotation
    from watchfloor.people.rota_changes import load_rotas

    if not Rotation.objects.exists():
        load_rotas(actor=None, new_people_password=DEMO_PASSWORD)


def load_demo_crisis() -> None:
    from watchfloor.crises.demo import load_demo_crisis as load

    load()


def load_demo_evidence() -> int:
    from watchfloor.evidence.demo import load_demo_evidence as load

    return load()


def load_demo_banks() -> int:
    from watchfloor.banks.demo import load_demo_banks as load

    return load()


def load_demo_partner_requests() -> int:
    from watchfloor.coordination.demo import load_demo_partner_requests as load

    return load()
