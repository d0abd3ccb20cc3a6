"""The demo's well-known sign-in: the accounts `watchfloor demo` creates and the password it
prints to whoever runs it. They live here, below the demo builder (``bootstrap.demo``
imports them), so that the deploy check (``people.checks``) can refuse an installation
where they still sign in with that password."""

from __future__ import annotations

from pathlib import Path

import yaml

DEMO_PASSWORD = "watchfloor-demo"  # noqa: S105 (published on purpose: demo only)

DEMO_ACCOUNTS = [
    # username, role, team, time zone, first name, last name
    ("analyst", "analyst", "site_policy", "Asia/Tokyo", "Aiko", "Tanaka"),
    ("analyst2", "analyst", "site_policy", "Asia/Singapore", "Ravi", "Menon"),
    ("lead", "lead", "site_policy", "Asia/Singapore", "Mei Ling", "Tan"),
    ("legal", "partner", "legal", "Australia/Sydney", "Grace", "Walker"),
    ("comms", "partner", "communications", "Asia/Tokyo", "Kenji", "Mori"),
    ("viewer", "viewer", None, "Asia/Seoul", "Ji-woo", "Park"),
    ("admin", "admin", None, "UTC", "Sam", "Admin"),
]

# The demo also loads the bundled rota, whose people it creates with the demo password.
BUNDLED_ROTA_FILE = Path(__file__).resolve().parent.parent / "defaults" / "rotations.yaml"


def demo_usernames() -> set[str]:
    """Every account the demo may have created with ``DEMO_PASSWORD``."""
    names = {account[0] for account in DEMO_ACCOUNTS}
    try:
        rota = yaml.safe_load(BUNDLED_ROTA_FILE.read_text(encoding="utf-8")) or {}
    except OSError:
        return names
    for person in rota.get("people") or []:
        if isinstance(person, dict) and isinstance(person.get("username"), str):
            names.add(person["username"])
    return names
