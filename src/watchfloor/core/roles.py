"""The role vocabulary: the roles a person holds, and the questions their role alone
answers (may they work escalations, approve decisions, override severity, add notes,
send signals in).

A question that needs a record as well as a role (may this person answer this partner
request, command this crisis, work this playbook step, manage this rotation) is answered
in the ``permissions.py`` of the app that owns the record, built on these."""

from __future__ import annotations

from typing import Protocol

from django.db import models


class User(Protocol):
    """What a permission question needs of a person (``people.models.User`` has it); a
    protocol, so the ground floor does not import the people app."""

    @property
    def is_superuser(self) -> bool: ...

    @property
    def role(self) -> str: ...


class Role(models.TextChoices):
    ANALYST = "analyst", "Analyst"
    LEAD = "lead", "Lead"
    PARTNER = "partner", "Partner team member"
    VIEWER = "viewer", "Viewer"
    ADMIN = "admin", "Administrator"


def is_admin(user: User) -> bool:
    return bool(user.is_superuser or user.role == Role.ADMIN)


def can_work_escalations(user: User) -> bool:
    """Create, triage, transition, note and decide."""
    return is_admin(user) or user.role in (Role.ANALYST, Role.LEAD)


def can_approve_decisions(user: User) -> bool:
    return is_admin(user) or user.role == Role.LEAD


def can_override_severity(user: User) -> bool:
    return is_admin(user) or user.role == Role.LEAD


def can_add_notes(user: User) -> bool:
    """Partners answer on the escalations shared with them; viewers only read."""
    return can_work_escalations(user) or user.role == Role.PARTNER


def can_ingest_signals(user: User) -> bool:
    """Send signals in through the API (a system's token belongs to such an account)."""
    return can_work_escalations(user)
