"""Partner requests: a clear ask of a partner team about one escalation, with a deadline,
and the team's answer. Models hold data and invariants; ``services`` changes them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RequestKind(models.TextChoices):
    LEGAL_REVIEW = "legal_review", "Legal review"
    LOCAL_LAW_ASSESSMENT = "local_law_assessment", "Local-law assessment"
    HOLDING_STATEMENT = "holding_statement", "Holding statement"
    GOVERNMENT_RELATIONS_BRIEFING = "government_relations_briefing", "Government-relations briefing"
    USER_OUTREACH = "user_outreach", "User outreach"
    LAW_ENFORCEMENT_REFERRAL = "law_enforcement_referral", "Law-enforcement referral"


# The team usually asked for each kind; the form starts there, any partner team may be asked.
USUAL_TEAM = {
    RequestKind.LEGAL_REVIEW: "legal",
    RequestKind.LOCAL_LAW_ASSESSMENT: "legal",
    RequestKind.HOLDING_STATEMENT: "communications",
    RequestKind.GOVERNMENT_RELATIONS_BRIEFING: "public_policy",
    RequestKind.USER_OUTREACH: "customer_service",
    RequestKind.LAW_ENFORCEMENT_REFERRAL: "law_enforcement_response",
}


class RequestStatus(models.TextChoices):
    OPEN = "open", "Awaiting answer"
    ANSWERED = "answered", "Answered"
    WITHDRAWN = "withdrawn", "Withdrawn"


# The lifecycle, in one place: a request is answered or withdrawn once.
TRANSITIONS: dict[str, frozenset[str]] = {
    RequestStatus.OPEN: frozenset({RequestStatus.ANSWERED, RequestStatus.WITHDRAWN}),
    RequestStatus.ANSWERED: frozenset(),
    RequestStatus.WITHDRAWN: frozenset(),
}


class AnswerOutcome(models.TextChoices):
    APPROVE = "approve", "Approved"
    ADVISE = "advise", "Advice given"
    DECLINE = "decline", "Declined"


class PartnerRequest(models.Model):
    escalation = models.ForeignKey(
        "escalations.Escalation", on_delete=models.PROTECT, related_name="partner_requests"
    )
    team = models.ForeignKey("people.Team", on_delete=models.PROTECT, related_name="requests")
    kind = models.CharField(max_length=40, choices=RequestKind.choices)
    question = models.TextField()
    # What the requester chose to tell the team: the context they are allowed to see.
    context = models.TextField(blank=True)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=RequestStatus.choices, default=RequestStatus.OPEN
    )
    # Whether this request is what shared the escalation with the team.
    shared_escalation = models.BooleanField(default=False)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()

    outcome = models.CharField(max_length=20, choices=AnswerOutcome.choices, blank=True)
    answer = models.TextField(blank=True)
    # [{"kind": "url" | "document", "reference": "..."}], checked by the services.
    attachments = models.JSONField(default=list, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdraw_reason = models.TextField(blank=True)

    chase_count = models.PositiveIntegerField(default=0)
    last_chased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # The inbox: a team's open requests, nearest deadline (so the overdue) first.
            models.Index(fields=["team", "status", "due_at"], name="partner_request_inbox"),
            models.Index(fields=["status", "due_at"], name="partner_request_due"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.get_kind_display()} for {self.team_id}"

    @property
    def reference(self) -> str:
        return f"PR-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status == RequestStatus.OPEN
