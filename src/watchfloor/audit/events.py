"""The audit vocabulary: every kind of event the application writes, with a label."""

from __future__ import annotations

from django.db import models


class AuditAction(models.TextChoices):
    CATALOG_LOADED = "catalog.loaded", "Catalog loaded"
    USER_CREATED = "user.created", "User created"
    USER_CHANGED = "user.changed", "User changed by an administrator"
    TEAM_CHANGED = "team.changed", "Team changed by an administrator"
    TOKEN_CREATED = "token.created", "API token created"
    TOKEN_REVOKED = "token.revoked", "API token revoked"
    ESCALATION_CREATED = "escalation.created", "Escalation created"
    ESCALATION_VIEWED = "escalation.viewed", "Restricted escalation viewed"
    ESCALATION_TRANSITIONED = "escalation.transitioned", "Status changed"
    ESCALATION_ASSIGNED = "escalation.assigned", "Owner changed"
    ESCALATION_NOTE_ADDED = "escalation.note_added", "Note added"
    ESCALATION_LINKED = "escalation.linked", "Escalations linked"
    ESCALATION_MERGED = "escalation.merged", "Merged into another escalation"
    ESCALATION_ABSORBED = "escalation.absorbed", "Duplicate merged in"
    ESCALATION_SEVERITY_OVERRIDDEN = "escalation.severity_overridden", "Severity overridden"
    ESCALATION_ACCESS_CHANGED = "escalation.access_changed", "Access changed"
    ESCALATION_CLOCK_STARTED = "escalation.clock_started", "Statutory clock started"
    ESCALATION_CLOCK_MET = "escalation.clock_met", "Clock met"
    DECISION_RECORDED = "decision.recorded", "Decision recorded"
    DECISION_APPROVED = "decision.approved", "Decision approved"
    DECISION_REJECTED = "decision.rejected", "Decision sent back"
