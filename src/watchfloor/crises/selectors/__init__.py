"""Reads of crises. Every query of crises starts from :func:`crises_visible_to`, and what a
crisis shows of its escalations goes through ``escalations_visible_to`` as well, so a
hidden escalation is never listed, counted or quoted in a crisis the viewer may see.

The reads live in one module per concept (``access``, ``lists``, ``deadlines``,
``handoffs``, ``stand_down``, ``record``, and ``room`` for the war room); like
``crises.services``, this package names them all, so the many callers write
``selectors.access_crisis``.
"""

from __future__ import annotations

from watchfloor.crises.selectors.access import (
    RoleSlot,
    access_crisis,
    commander_of,
    crises_visible_to,
    current_assignments,
    role_history,
    role_slots,
)
from watchfloor.crises.selectors.deadlines import (
    Deadline,
    SitrepReminder,
    crisis_deadlines,
    open_partner_requests,
    reminder_notifications_hidden_from,
    sitrep_clock,
    sitrep_reminders,
)
from watchfloor.crises.selectors.handoffs import (
    HandoffRecord,
    handoff_history,
    handoff_in_play,
    next_handoff,
)
from watchfloor.crises.selectors.lists import (
    QUEUE_BANNER_LIMIT,
    CrisisFilters,
    EscalationCrisisPanel,
    QueueCrisisBanner,
    crises_for_escalation,
    crisis_list,
    escalation_crisis_panel,
    filtered_crisis_list,
    queue_crisis_banner,
    visible_escalation_ids,
    visible_links,
)
from watchfloor.crises.selectors.record import (
    CRISIS_ACTIONS,
    ESCALATION_DECISION_ACTIONS,
    TIMELINE_CRISIS_ACTIONS,
    SitrepReading,
    crisis_events,
    escalation_events,
    get_handoff,
    get_note,
    get_sitrep,
    last_sitrep_sent_at,
    level_history,
    pinned_notes,
    sitrep_for_reader,
    sitreps_of,
    sitreps_readable_by,
)
from watchfloor.crises.selectors.room import (
    DECISION_LOG_LIMIT,
    TIMELINE_LIMIT,
    WarRoom,
    partner_owned_open_steps,
    pending_decisions,
    war_room,
)
from watchfloor.crises.selectors.stand_down import (
    SETTLED_STATUSES,
    CriterionResult,
    stand_down_criteria,
)

__all__ = [
    "CRISIS_ACTIONS",
    "DECISION_LOG_LIMIT",
    "ESCALATION_DECISION_ACTIONS",
    "QUEUE_BANNER_LIMIT",
    "SETTLED_STATUSES",
    "TIMELINE_CRISIS_ACTIONS",
    "TIMELINE_LIMIT",
    "CrisisFilters",
    "CriterionResult",
    "Deadline",
    "EscalationCrisisPanel",
    "HandoffRecord",
    "QueueCrisisBanner",
    "RoleSlot",
    "SitrepReading",
    "SitrepReminder",
    "WarRoom",
    "access_crisis",
    "commander_of",
    "crises_for_escalation",
    "crises_visible_to",
    "crisis_deadlines",
    "crisis_events",
    "crisis_list",
    "current_assignments",
    "escalation_crisis_panel",
    "escalation_events",
    "filtered_crisis_list",
    "get_handoff",
    "get_note",
    "get_sitrep",
    "handoff_history",
    "handoff_in_play",
    "last_sitrep_sent_at",
    "level_history",
    "next_handoff",
    "open_partner_requests",
    "partner_owned_open_steps",
    "pending_decisions",
    "pinned_notes",
    "queue_crisis_banner",
    "reminder_notifications_hidden_from",
    "role_history",
    "role_slots",
    "sitrep_clock",
    "sitrep_for_reader",
    "sitrep_reminders",
    "sitreps_of",
    "sitreps_readable_by",
    "stand_down_criteria",
    "visible_escalation_ids",
    "visible_links",
    "war_room",
]
