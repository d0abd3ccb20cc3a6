"""Playbooks and communication templates (each loaded version kept whole and unchanged),
the runs of playbooks on escalations, and the record of what was communicated.

Models hold data and invariants; ``services`` changes them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ImmutableError(RuntimeError):
    pass


class _ImmutableQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableError("a loaded version never changes; load a new one instead")

    def delete(self):
        raise ImmutableError("a loaded version is kept for the runs that used it")


class _Immutable(models.Model):
    """A loaded version: written once, never updated or deleted, so a run started on it
    can always show what it said."""

    objects = _ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("a loaded version never changes; load a new one instead")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("a loaded version is kept for the runs that used it")


class PlaybookVersion(_Immutable):
    code = models.SlugField(max_length=64, db_index=True)
    name = models.CharField(max_length=200)
    digest = models.CharField(max_length=64, help_text="SHA-256 of the file as loaded")
    content = models.JSONField(help_text="the validated playbook")
    source_text = models.TextField(help_text="the YAML file exactly as reviewed")
    source_path = models.CharField(max_length=500)
    loaded_at = models.DateTimeField()
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["code", "-loaded_at"]
        constraints = [
            models.UniqueConstraint(fields=["code", "digest"], name="playbook_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.digest[:12]})"


class Playbook(models.Model):
    """A playbook by code, pointing at the version in force. Retired when its file goes."""

    code = models.SlugField(max_length=64, unique=True)
    current_version = models.ForeignKey(PlaybookVersion, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class TemplateVersion(_Immutable):
    code = models.SlugField(max_length=64, db_index=True)
    name = models.CharField(max_length=200)
    digest = models.CharField(max_length=64)
    content = models.JSONField()
    source_text = models.TextField()
    source_path = models.CharField(max_length=500)
    loaded_at = models.DateTimeField()
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["code", "-loaded_at"]
        constraints = [
            models.UniqueConstraint(fields=["code", "digest"], name="template_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.digest[:12]})"


class CommunicationTemplate(models.Model):
    code = models.SlugField(max_length=64, unique=True)
    current_version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class RunStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class PlaybookRun(models.Model):
    escalation = models.ForeignKey(
        "escalations.Escalation", on_delete=models.CASCADE, related_name="playbook_runs"
    )
    playbook = models.ForeignKey(Playbook, on_delete=models.PROTECT, related_name="runs")
    # The version it started with: later loads never change a run in progress.
    version = models.ForeignKey(PlaybookVersion, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.ACTIVE)
    automatic = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            # One active run of a playbook per escalation, even under concurrent starts.
            models.UniqueConstraint(
                fields=["escalation", "playbook"],
                condition=models.Q(status="active"),
                name="one_active_run_per_playbook",
            )
        ]

    def __str__(self) -> str:
        return f"{self.version.code} on WF-{self.escalation_id}"


class StepState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    BLOCKED = "blocked", "Blocked"


# The step lifecycle, in one place. Services consult it; tests enumerate it.
STEP_TRANSITIONS: dict[str, frozenset[str]] = {
    StepState.PENDING: frozenset(
        {StepState.IN_PROGRESS, StepState.DONE, StepState.SKIPPED, StepState.BLOCKED}
    ),
    StepState.IN_PROGRESS: frozenset(
        {StepState.PENDING, StepState.DONE, StepState.SKIPPED, StepState.BLOCKED}
    ),
    StepState.BLOCKED: frozenset(
        {StepState.PENDING, StepState.IN_PROGRESS, StepState.DONE, StepState.SKIPPED}
    ),
    StepState.DONE: frozenset({StepState.IN_PROGRESS}),  # reopen
    StepState.SKIPPED: frozenset({StepState.PENDING}),  # reopen
}
FINISHED_STATES = frozenset({StepState.DONE, StepState.SKIPPED})
# A reason is part of the state: why it was skipped or what it is blocked on, and why a
# finished step was reopened.
NEEDS_REASON = frozenset({StepState.SKIPPED, StepState.BLOCKED})


class RunStep(models.Model):
    run = models.ForeignKey(PlaybookRun, on_delete=models.CASCADE, related_name="steps")
    step_id = models.SlugField(max_length=64)
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    owner_role = models.CharField(max_length=64, blank=True)
    owner_team = models.CharField(max_length=64, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    due_basis = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=20, choices=StepState.choices, default=StepState.PENDING)
    reason = models.TextField(blank=True)
    # Skipped because its `when` did not hold (re-evaluated when the escalation changes),
    # as opposed to skipped by a person.
    skipped_by_condition = models.BooleanField(default=False)
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # item id → {"checked": bool, "by": username, "at": ISO time}
    checklist = models.JSONField(default=dict, blank=True)
    # evidence id → what was recorded (a reference, a hash, a ticket number)
    evidence = models.JSONField(default=dict, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["run_id", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "step_id"], name="run_step_unique")]

    def __str__(self) -> str:
        return f"{self.step_id} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES


class RunRole(models.Model):
    """Who holds a playbook role in one run (incident commander, comms lead…)."""

    run = models.ForeignKey(PlaybookRun, on_delete=models.CASCADE, related_name="role_holders")
    role = models.SlugField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField()

    class Meta:
        ordering = ["run_id", "role"]
        constraints = [models.UniqueConstraint(fields=["run", "role"], name="run_role_unique")]

    def __str__(self) -> str:
        return f"{self.role}: {self.user_id}"


class CommunicationRecord(models.Model):
    """What was sent, to whom and through what, as text. Recording only: delivery is
    another app's job."""

    escalation = models.ForeignKey(
        "escalations.Escalation", on_delete=models.CASCADE, related_name="communications"
    )
    step = models.ForeignKey(
        RunStep, null=True, blank=True, on_delete=models.PROTECT, related_name="communications"
    )
    template_version = models.ForeignKey(
        TemplateVersion, on_delete=models.PROTECT, related_name="+"
    )
    language = models.CharField(max_length=35)
    channel = models.CharField(max_length=100)
    recipient = models.CharField(max_length=500)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField()
    inputs = models.JSONField(default=dict, blank=True)
    sent_at = models.DateTimeField()
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["sent_at", "id"]

    def __str__(self) -> str:
        return f"{self.template_version.code} ({self.language}) to {self.recipient}"
