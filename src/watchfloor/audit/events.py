"""The audit vocabulary: every kind of event the application writes, with a label."""

from __future__ import annotations

from django.db import models


class AuditAction(models.TextChoices):
    CATALOG_LOADED = "catalog.loaded", "Catalog loaded"
    USER_CREATED = "user.created", "User created"
    USER_CHANGED = "user.changed", "User changed by an administrator"
    TEAM_CHANGED = "team.changed", "Team changed by an administrator"
    # Accounts kept by the identity provider (single sign-on) and leavers.
    USER_ACCESS_CHANGED = "user.access_changed", "Role or team changed"
    USER_DETAILS_CHANGED = "user.details_changed", "Name or email changed"
    USER_PROFILE_CHANGED = "user.profile_changed", "Time zone or languages changed"
    USER_DEACTIVATED = "user.deactivated", "Account deactivated"
    SSO_SIGNED_IN = "sso.signed_in", "Signed in with single sign-on"
    SSO_REFUSED = "sso.refused", "Single sign-on refused"
    TOKEN_CREATED = "token.created", "API token created"
    TOKEN_REVOKED = "token.revoked", "API token revoked"
    MFA_ENROLLED = "mfa.enrolled", "Authenticator app set up"
    MFA_REMOVED = "mfa.removed", "Second factor removed"
    MFA_RECOVERY_CODES_REPLACED = "mfa.recovery_codes_replaced", "New recovery codes made"
    MFA_RECOVERY_CODE_USED = "mfa.recovery_code_used", "Signed in with a recovery code"
    ESCALATIONS_EXPORTED = "escalations.exported", "Escalations exported"
    ESCALATION_CREATED = "escalation.created", "Escalation created"
    ESCALATION_VIEWED = "escalation.viewed", "Restricted escalation viewed"
    ESCALATION_TRANSITIONED = "escalation.transitioned", "Status changed"
    ESCALATION_ASSIGNED = "escalation.assigned", "Owner changed"
    ESCALATION_NOTE_ADDED = "escalation.note_added", "Note added"
    ESCALATION_LINKED = "escalation.linked", "Escalations linked"
    ESCALATION_MERGED = "escalation.merged", "Merged into another escalation"
    ESCALATION_ABSORBED = "escalation.absorbed", "Duplicate merged in"
    ESCALATION_SEVERITY_OVERRIDDEN = "escalation.severity_overridden", "Severity overridden"
    ESCALATION_DOWNGRADE_PROPOSED = (
        "escalation.downgrade_proposed",
        "Severity downgrade proposed",
    )
    ESCALATION_DOWNGRADE_APPROVED = "escalation.downgrade_approved", "Severity downgrade approved"
    ESCALATION_DOWNGRADE_REJECTED = "escalation.downgrade_rejected", "Severity downgrade rejected"
    ESCALATION_DOWNGRADE_SUPERSEDED = (
        "escalation.downgrade_superseded",
        "Severity downgrade superseded",
    )
    ESCALATION_ACCESS_CHANGED = "escalation.access_changed", "Access changed"
    ESCALATION_CLOCK_STARTED = "escalation.clock_started", "Statutory clock started"
    ESCALATION_CLOCK_MET = "escalation.clock_met", "Clock met"
    DECISION_RECORDED = "decision.recorded", "Decision recorded"
    DECISION_APPROVED = "decision.approved", "Decision approved"
    DECISION_REJECTED = "decision.rejected", "Decision sent back"
    DECISION_SUPERSEDED = "decision.superseded", "Decision superseded"
    PLAYBOOKS_LOADED = "playbook.library_loaded", "Playbook library loaded"
    PLAYBOOK_PROPOSED = "playbook.proposed", "Playbooks proposed"
    PLAYBOOK_RUN_STARTED = "playbook.run_started", "Playbook started"
    PLAYBOOK_RUN_REPLANNED = "playbook.run_replanned", "Playbook re-planned"
    PLAYBOOK_RUN_COMPLETED = "playbook.run_completed", "Playbook completed"
    PLAYBOOK_RUN_CANCELLED = "playbook.run_cancelled", "Playbook cancelled"
    PLAYBOOK_ROLE_ASSIGNED = "playbook.role_assigned", "Playbook role assigned"
    PLAYBOOK_STEP_CHANGED = "playbook.step_changed", "Playbook step changed"
    PLAYBOOK_STEP_APPROVED = "playbook.step_approved", "Playbook step approved"
    PLAYBOOK_CHECKLIST_TICKED = "playbook.checklist_ticked", "Checklist item ticked"
    COMMUNICATION_SENT = "communication.sent", "Communication recorded as sent"
    SIGNALS_INGESTED = "signals.ingested", "Batch of signals ingested"
    SIGNALS_SURGE_RAISED = "signals.surge_raised", "Surge raised"
    SIGNALS_SURGE_ENDED = "signals.surge_ended", "Surge ended"
    SIGNALS_SURGE_ACKNOWLEDGED = "signals.surge_acknowledged", "Surge acknowledged"
    SIGNALS_RULE_FIRED = "signals.rule_fired", "Auto-escalation rule fired"
    SIGNALS_CLUSTER_ESCALATED = "signals.cluster_escalated", "Escalation opened from a cluster"
    SIGNALS_CLUSTER_ATTACHED = "signals.cluster_attached", "Cluster attached"
    SIGNALS_CLUSTER_MARKED_BENIGN = "signals.cluster_marked_benign", "Cluster marked benign"
    SIGNALS_CLUSTER_SNOOZED = "signals.cluster_snoozed", "Cluster snoozed"
    SIGNALS_CLUSTER_WOKE = "signals.cluster_woke", "Snoozed cluster woke"
    SIGNALS_CLUSTER_REOPENED = "signals.cluster_reopened", "Cluster reopened"
    SIGNALS_CLUSTERS_EXPORTED = "signals.clusters_exported", "Clusters exported"
    SIGNALS_SURGES_EXPORTED = "signals.surges_exported", "Surge alerts exported"
    SIGNALS_QUARANTINED = "signals.quarantined", "Signals quarantined"
    PARTNER_REQUEST_SENT = "partner_request.sent", "Partner request sent"
    PARTNER_REQUEST_SHARED = "partner_request.escalation_shared", "Shared with a partner team"
    PARTNER_REQUEST_ANSWERED = "partner_request.answered", "Partner request answered"
    PARTNER_REQUEST_CHASED = "partner_request.chased", "Overdue partner request chased"
    PARTNER_REQUEST_WITHDRAWN = "partner_request.withdrawn", "Partner request withdrawn"
    ROTA_LOADED = "rota.loaded", "Rotas loaded"
    ROTA_OVERRIDE_CREATED = "rota.override_created", "On-call override added"
    ROTA_OVERRIDE_CANCELLED = "rota.override_cancelled", "On-call override cancelled"
    ROTA_EXPORTED = "rota.exported", "Rota exported as iCalendar"
    CRISIS_DECLARED = "crisis.declared", "Crisis declared"
    CRISIS_VIEWED = "crisis.viewed", "Restricted crisis viewed"
    CRISIS_UPDATED = "crisis.updated", "Crisis details changed"
    CRISIS_LEVEL_CHANGED = "crisis.level_changed", "Crisis level changed"
    CRISIS_ROLE_ASSIGNED = "crisis.role_assigned", "Crisis role handed over"
    CRISIS_ROLE_RELEASED = "crisis.role_released", "Crisis role left open"
    CRISIS_NOTE_ADDED = "crisis.note_added", "War-room entry added"
    CRISIS_FACT_PINNED = "crisis.fact_pinned", "Key fact pinned"
    CRISIS_FACT_UNPINNED = "crisis.fact_unpinned", "Key fact unpinned"
    CRISIS_ESCALATION_LINKED = "crisis.escalation_linked", "Escalation linked to a crisis"
    CRISIS_ESCALATION_UNLINKED = "crisis.escalation_unlinked", "Escalation unlinked from a crisis"
    CRISIS_ACCESS_CHANGED = "crisis.access_changed", "Crisis access changed"
    CRISIS_SITREP_SENT = "crisis.sitrep_sent", "Sitrep recorded as sent"
    CRISIS_SITREP_REMINDED = "crisis.sitrep_reminded", "Commander reminded a sitrep is due"
    CRISIS_HANDOFF_CONFIRMED = "crisis.handoff_confirmed", "Handoff confirmed by outgoing commander"
    CRISIS_HANDOFF_ACKNOWLEDGED = (
        "crisis.handoff_acknowledged",
        "Handoff acknowledged by incoming commander",
    )
    CRISIS_REVIEW_UPDATED = "crisis.review_updated", "Post-incident review updated"
    CRISIS_ROOT_CAUSE_ADDED = "crisis.root_cause_added", "Root cause recorded"
    CRISIS_ACTION_ITEM_ADDED = "crisis.action_item_added", "Review action item added"
    CRISIS_ACTION_ITEM_CHANGED = "crisis.action_item_changed", "Review action item updated"
    CRISIS_REVIEW_EXPORTED = "crisis.review_exported", "Post-incident review exported"
    CRISIS_CLUSTER_LINKED = "crisis.cluster_linked", "Signals cluster linked to a crisis"
    CRISIS_CLUSTER_UNLINKED = "crisis.cluster_unlinked", "Signals cluster unlinked from a crisis"
    CRISIS_WATCHLIST_ENTRY_ADDED = "crisis.watchlist_entry_added", "Added to the crisis watchlist"
    CRISIS_WATCHLIST_ENTRY_REMOVED = (
        "crisis.watchlist_entry_removed",
        "Removed from the crisis watchlist",
    )
    WATCHLIST_SIGNALS_FLAGGED = "watchlist.signals_flagged", "Signals flagged by a crisis watchlist"
    BANK_CREATED = "bank.created", "Bank created"
    BANK_CHANGED = "bank.changed", "Bank settings changed"
    BANK_ENTRIES_ADDED = "bank.entries_added", "Entries added to a bank"
    BANK_ENTRY_DISABLED = "bank.entry_disabled", "Bank entry disabled"
    BANK_ENTRY_ENABLED = "bank.entry_enabled", "Bank entry enabled again"
    BANK_EXPORTED = "bank.exported", "Bank exported"
    BANK_EXCHANGE_SAVED = "bank.exchange_saved", "Exchange saved"
    BANK_EXCHANGE_FETCHED = "bank.exchange_fetched", "Exchange fetched into its bank"
    BANK_EXCHANGE_OPINION = "bank.exchange_opinion", "Opinion on an exchange's entry recorded"
    BANK_EXCHANGE_OPINION_SENT = (
        "bank.exchange_opinion_sent",
        "Opinion on an exchange's entry sent back",
    )
    BANK_MATCHES_RECORDED = "bank.matches_recorded", "Bank matches recorded"
    BANK_RULE_FIRED = "bank.rule_fired", "Bank action rule fired"
    BANK_RULE_FIRING_REVIEWED = "bank.rule_firing_reviewed", "Automated bank action reviewed"
    BANK_CONNECTOR_SAVED = "bank.connector_saved", "Enforcement connector saved"
    BANK_ENFORCEMENT_REQUESTED = "bank.enforcement_requested", "Enforcement action requested"
    BANK_ENFORCEMENT_SENT = "bank.enforcement_sent", "Enforcement request taken by the platform"
    BANK_ENFORCEMENT_FAILED = "bank.enforcement_failed", "Enforcement request could not be sent"
    BANK_ENFORCEMENT_ANSWERED = (
        "bank.enforcement_answered",
        "Platform answered an enforcement request",
    )
    WARNING_ALERTS_RECEIVED = "warning.alerts_received", "Official alerts (CAP) received"
    WARNING_CRISIS_PROPOSED = "warning.crisis_proposed", "Crisis proposed from an official alert"
    WARNING_STAND_DOWN_PROPOSED = (
        "warning.stand_down_proposed",
        "Stand-down proposed: the official alert was cancelled",
    )
    WARNING_PROPOSAL_ACCEPTED = "warning.proposal_accepted", "Crisis proposal accepted"
    WARNING_PROPOSAL_DISMISSED = "warning.proposal_dismissed", "Crisis proposal dismissed"
    EVIDENCE_ADDED = "evidence.added", "Evidence added"
    EVIDENCE_VIEWED = "evidence.viewed", "Evidence details viewed"
    EVIDENCE_REVEALED = "evidence.revealed", "Evidence revealed"
    EVIDENCE_REVEAL_REFUSED = "evidence.reveal_refused", "Evidence reveal refused"
    EVIDENCE_EXPORTED = "evidence.exported", "Evidence exported in a package"
    EVIDENCE_PACKAGE_BUILT = "evidence.package_built", "Evidence package built"
    EVIDENCE_PACKAGE_DOWNLOADED = "evidence.package_downloaded", "Evidence package downloaded"
    EVIDENCE_HOLD_PLACED = "evidence.hold_placed", "Legal hold placed"
    EVIDENCE_HOLD_LIFTED = "evidence.hold_lifted", "Legal hold lifted"
    EVIDENCE_PURGED = "evidence.purged", "Evidence deleted by retention"
    EVIDENCE_PREFERENCES_CHANGED = "evidence.preferences_changed", "Viewing preferences changed"
    EVIDENCE_TRAINING_CHANGED = "evidence.training_changed", "Graphic-content training flag changed"
    EVIDENCE_CARE_POLICY_CHANGED = "evidence.care_policy_changed", "Team care policy changed"
    EVIDENCE_EXPOSURE_NUDGED = (
        "evidence.exposure_nudged",
        "Exposure threshold passed; break suggested",
    )
    EVIDENCE_LEAD_TOLD = "evidence.lead_told", "Lead told someone is stepping away for a break"
    CRISIS_DRILL_STARTED = "crisis.drill_started", "Drill started"
    CRISIS_DRILL_INJECTED = "crisis.drill_injected", "Drill event injected"
    CRISIS_DRILL_RESPONSE_FAILED = "crisis.drill_response_failed", "Drill scripted response failed"
    CRISIS_DRILL_FINISHED = "crisis.drill_finished", "Drill finished and scored"
    CRISIS_DRILL_ABANDONED = "crisis.drill_abandoned", "Drill abandoned"
    CRISIS_DRILL_CLOCK_SET = "crisis.drill_clock_set", "Drill clock sped up, slowed or stepped"
    NOTIFY_CHANNEL_CREATED = "notify.channel_created", "Notification channel created"
    NOTIFY_CHANNEL_CHANGED = "notify.channel_changed", "Notification channel changed"
    NOTIFY_CHANNEL_SECRET_ROTATED = "notify.channel_secret_rotated", "Webhook secret rotated"
    NOTIFY_TEST_QUEUED = "notify.test_queued", "Test message queued"
    NOTIFY_PREFERENCES_CHANGED = "notify.preferences_changed", "Quiet hours changed"
    NOTIFY_POLICY_STARTED = "notify.policy_started", "Escalation policy started"
    NOTIFY_POLICY_UNAVAILABLE = "notify.policy_unavailable", "Escalation policy file unusable"
    NOTIFY_STAGE_REACHED = "notify.stage_reached", "People notified (policy stage)"
    NOTIFY_POLICY_ENDED = "notify.policy_ended", "Escalation policy stopped"
    NOTIFY_ACKNOWLEDGED = "notify.acknowledged", "Notification acknowledged"
    NOTIFY_DELIVERED = "notify.delivered", "Notification delivered"
    NOTIFY_DELIVERY_RETRYING = "notify.delivery_retrying", "Delivery failed; retry scheduled"
    NOTIFY_DELIVERY_FAILED = "notify.delivery_failed", "Delivery failed; gave up"
    NOTIFY_DELIVERY_SUPPRESSED = "notify.delivery_suppressed", "Delivery suppressed (drill)"
    NOTIFY_RETRY_REQUESTED = "notify.retry_requested", "Delivery retried by hand"
