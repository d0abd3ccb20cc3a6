"""Every change to a crisis is one named action here: checked, written and audited in one
transaction. Views find the crisis with ``selectors.access_crisis`` first (and any
escalation with ``access_escalation``), then call these.

Each audit event carries the crisis's id in its data (``crisis_id``). The declaration,
level changes and links also carry the escalation they concern (``escalation_id``), so
they read on that escalation's timeline too — only while the crisis is unrestricted, so
a restricted crisis never shows on the timeline of an escalation others may see.

The actions live in one module per concept (``lifecycle``, ``links``, ``access``,
``roles``, ``notes``, ``sitreps``, ``handoffs``, ``review``; shared checks in
``common``); this package names them all, so callers write ``services.declare_crisis``.
"""

from __future__ import annotations

from watchfloor.crises.services.access import (
    record_restricted_view,
    set_crisis_access,
)
from watchfloor.crises.services.common import (
    NOTE_MAX,
    REASON_MAX,
    SITREP_MAX,
    SUBJECT_MAX,
    SUMMARY_MAX,
    TITLE_MAX,
)
from watchfloor.crises.services.handoffs import (
    acknowledge_handoff,
    confirm_handoff,
    next_handoff,
)
from watchfloor.crises.services.lifecycle import (
    change_level,
    declare_crisis,
    update_crisis,
)
from watchfloor.crises.services.links import (
    link_escalation,
    unlink_escalation,
)
from watchfloor.crises.services.notes import (
    add_crisis_note,
    set_fact_pinned,
)
from watchfloor.crises.services.review import (
    add_action_item,
    add_root_cause,
    change_action_item,
    record_review_export,
    update_review,
)
from watchfloor.crises.services.roles import (
    hand_over_role,
    release_role,
)
from watchfloor.crises.services.sitreps import (
    SECTIONS_MAX,
    send_sitrep,
)

__all__ = [
    "NOTE_MAX",
    "REASON_MAX",
    "SECTIONS_MAX",
    "SITREP_MAX",
    "SUBJECT_MAX",
    "SUMMARY_MAX",
    "TITLE_MAX",
    "acknowledge_handoff",
    "add_action_item",
    "add_crisis_note",
    "add_root_cause",
    "change_action_item",
    "change_level",
    "confirm_handoff",
    "declare_crisis",
    "hand_over_role",
    "link_escalation",
    "next_handoff",
    "record_restricted_view",
    "record_review_export",
    "release_role",
    "send_sitrep",
    "set_crisis_access",
    "set_fact_pinned",
    "unlink_escalation",
    "update_crisis",
    "update_review",
]
