"""Drill runs and their injects.

These two models were born in the crises app; they moved here with the rest of the
drills and keep their tables (``crises_drillrun``, ``crises_drillinject``) so databases
made before the move keep every run (migration ``drills.0001_initial`` moves them in the
migration state only).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DrillRun(models.Model):
    """A tabletop exercise: a scenario played as a drill crisis on its own simulated
    clock, then scored against the playbooks' due times and the severity targets."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        ABANDONED = "abandoned", "Abandoned"

    crisis = models.OneToOneField(
        "crises.Crisis", null=True, blank=True, on_delete=models.CASCADE, related_name="drill"
    )
    scenario_code = models.SlugField(max_length=64)
    scenario_title = models.CharField(max_length=200)
    # The scenario as it was played (the file may change later) and its digest.
    scenario = models.JSONField(default=dict)
    scenario_digest = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    autoplay = models.BooleanField(default=False)
    # The drill's own clock: simulated time starts at ``sim_started_at`` and has reached
    # ``sim_now``; injects are due at sim_started_at + their offset.
    sim_started_at = models.DateTimeField()
    sim_now = models.DateTimeField()
    # In UI play a commander may speed the drill clock up (``drills.clock``): from
    # ``clock_set_at`` (real time) on, drill time runs from ``clock_set_to`` at ``speed``
    # times the real clock. Never set: drill time is the real time.
    speed = models.PositiveSmallIntegerField(default=1)
    clock_set_at = models.DateTimeField(null=True, blank=True)
    clock_set_to = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    score = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "crises_drillrun"
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"drill {self.pk} ({self.scenario_code}, {self.status})"


class DrillInject(models.Model):
    """One event of the scenario's timeline, injected when the drill clock reaches it."""

    run = models.ForeignKey(DrillRun, on_delete=models.CASCADE, related_name="injects")
    sequence = models.PositiveIntegerField()
    offset = models.DurationField()
    kind = models.SlugField(max_length=40)
    title = models.CharField(max_length=300)
    payload = models.JSONField(default=dict)
    due_at = models.DateTimeField()
    injected_at = models.DateTimeField(null=True, blank=True)
    # What the inject created (an escalation, a partner request, a note…), for the score.
    outcome = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "crises_drillinject"
        ordering = ["sequence"]
        constraints = [
            models.UniqueConstraint(fields=["run", "sequence"], name="drill_inject_sequence")
        ]

    def __str__(self) -> str:
        return f"drill {self.run_id} inject {self.sequence}: {self.kind}"
