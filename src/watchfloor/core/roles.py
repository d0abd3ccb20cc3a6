"""Roles and what each may do. Every permission question is answered here."""

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
