"""Markets (countries and territories) and the statutory deadlines that apply in them."""

from __future__ import annotations

from django.db import models

from watchfloor.severity.rubric import describe_duration


class Market(models.Model):
    code = models.CharField(max_length=8, unique=True, help_text="ISO 3166-1 alpha-2, or EU")
    name = models.CharField(max_length=200)
    time_zones = models.JSONField(default=list)
    languages = models.JSONField(default=list)
    regulators = models.JSONField(default=list)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def primary_time_zone(self) -> str:
        return self.time_zones[0] if self.time_zones else "UTC"


class StatutoryRule(models.Model):
    class DeadlineKind(models.TextChoices):
        FIXED = "fixed", "Fixed by law"
        SET_BY_NOTICE = "set_by_notice", "Set by the notice"
        QUALITATIVE = "qualitative", "Qualitative (tracked against an internal target)"

    code = models.SlugField(max_length=80, unique=True)
    jurisdiction = models.CharField(max_length=8, db_index=True)
    market = models.ForeignKey(
        Market, null=True, blank=True, on_delete=models.PROTECT, related_name="statutory_rules"
    )
    instrument = models.CharField(max_length=500)
    trigger = models.TextField()
    action = models.CharField(max_length=500)
    deadline_kind = models.CharField(max_length=20, choices=DeadlineKind.choices)
    deadline = models.DurationField(null=True, blank=True)
    previous_deadline = models.DurationField(null=True, blank=True)
    effective_from = models.DateField(null=True, blank=True)
    internal_target = models.DurationField(
        null=True, blank=True, help_text="what we hold ourselves to where the law gives no figure"
    )
    needs_verification = models.BooleanField(default=False)
    min_severity = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="the rule's own severity floor, if it has one"
    )
    note = models.TextField(blank=True)
    sources = models.JSONField(default=list)

    class Meta:
        ordering = ["jurisdiction", "code"]

    def __str__(self) -> str:
        return f"{self.jurisdiction}: {self.instrument}"

    # What a clock, a queue row or a timeline names the rule by (a clock label fits).
    LABEL_MAX = 100

    @property
    def label(self) -> str:
        """The rule as people say it, not its code: "India: remove or disable access
        within 3 hours". The instrument is shown beside it as the clock's basis."""
        when = ""  # a qualitative rule's action says how soon in its own words
        if self.deadline_kind == self.DeadlineKind.FIXED and self.deadline is not None:
            when = f" within {describe_duration(self.deadline)}"
        elif self.deadline_kind == self.DeadlineKind.SET_BY_NOTICE:
            when = " by the time the notice sets"
        where = self.market.name if self.market_id and self.market else self.jurisdiction
        label = f"{where}: {self.action}{when}"
        if len(label) > self.LABEL_MAX:
            label = label[: self.LABEL_MAX - 1].rstrip() + "…"
        return label
