"""Policy areas, policies and their versions, and the enforcement actions decisions take."""

from __future__ import annotations

from django.db import models


class PolicyArea(models.Model):
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Policy(models.Model):
    code = models.SlugField(max_length=64, unique=True)
    area = models.ForeignKey(PolicyArea, on_delete=models.PROTECT, related_name="policies")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["area__name", "name"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.name


class PolicyVersion(models.Model):
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=32)
    effective_from = models.DateField()
    summary = models.TextField(blank=True)

    class Meta:
        ordering = ["policy", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="policy_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.policy.code} v{self.version}"


class EnforcementAction(models.Model):
    code = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Withholding in named countries needs the list of countries in the decision's scope.
    needs_countries = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.label
