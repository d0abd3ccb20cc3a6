"""The forms of the signals pages: the cluster and surge filters, and the analysts'
actions on a cluster (attach, link to a crisis, mark benign, snooze, reopen).

Each holds only what its page posts; the checks that matter are the services'.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from watchfloor.core.errors import WatchfloorError
from watchfloor.escalations.forms import parse_escalation_reference
from watchfloor.severity.rubric import parse_iso_duration
from watchfloor.signals import selectors, services
from watchfloor.signals.contract import SOURCES
from watchfloor.signals.models import ClusterState, SurgeAlert
from watchfloor.web.forms import LocalDateTimeField, attach_zone, choice_field


def _choices(values: Sequence[str], *, empty: str) -> list[tuple[str, str]]:
    return [("", empty), *((v, v.replace("_", " ")) for v in values)]


class ClusterFilterForm(forms.Form):
    ALL = "all"
    state = forms.ChoiceField(
        required=False,
        choices=[
            (ClusterState.OPEN, "Open"),
            (ClusterState.ESCALATED, "Escalated"),
            (ClusterState.SNOOZED, "Snoozed"),
            (ClusterState.BENIGN, "Marked benign"),
            (ALL, "Any state"),
        ],
    )
    market = forms.ChoiceField(required=False)
    language = forms.ChoiceField(required=False)
    source = forms.ChoiceField(required=False, choices=_choices(SOURCES, empty="Any source"))
    policy = forms.ChoiceField(required=False, label="Policy hint")
    sort = forms.ChoiceField(
        required=False,
        label="Order",
        choices=[
            (selectors.SORT_INFORMATIVE, "Most informative"),
            (selectors.SORT_FASTEST, "Fastest"),
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = selectors.filter_options()
        data = self.data if self.is_bound else {}
        # Keep a chosen value selectable even if it fell out of the last week's options.
        for name, key, empty in (
            ("market", "markets", "Any market"),
            ("language", "languages", "Any language"),
            ("policy", "policies", "Any policy hint"),
        ):
            values = list(options[key])
            chosen = str(data.get(name, "") or "")
            if chosen and chosen not in values and len(chosen) <= 64:
                values.append(chosen)
            choice_field(self, name).choices = _choices(values, empty=empty)

    def filters(self) -> selectors.ClusterFilters:
        data = self.cleaned_data if self.is_valid() else {}
        state = data.get("state") or ClusterState.OPEN
        return selectors.ClusterFilters(
            state="" if state == self.ALL else state,
            market=data.get("market", ""),
            language=data.get("language", ""),
            source=data.get("source", ""),
            policy=data.get("policy", ""),
            sort=data.get("sort") or selectors.SORT_INFORMATIVE,
        )


class AttachForm(forms.Form):
    escalation = forms.CharField(
        label="Escalation", help_text="A reference such as WF-12 (one you can see, still open)."
    )
    note = forms.CharField(
        required=False,
        max_length=services.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Added to the escalation with the cluster's figures.",
    )

    def clean_escalation(self) -> str:
        return parse_escalation_reference(self.cleaned_data["escalation"])


class CrisisLinkForm(forms.Form):
    crisis = forms.CharField(
        label="Crisis", help_text="A reference such as CR-3 (an active crisis you can see)."
    )
    reason = forms.CharField(
        required=False,
        max_length=services.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown with the link on the crisis timeline.",
    )


class BenignForm(forms.Form):
    reason = forms.CharField(
        max_length=services.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why nothing needs doing, for whoever sees it next.",
    )


SNOOZE_PERIODS = [
    ("PT1H", "1 hour"),
    ("PT4H", "4 hours"),
    ("PT12H", "12 hours"),
    ("P1D", "1 day"),
    ("P3D", "3 days"),
    ("P7D", "7 days"),
]


class SnoozeForm(forms.Form):
    period = forms.ChoiceField(choices=SNOOZE_PERIODS, initial="PT4H", label="Snooze for")
    until = LocalDateTimeField(
        required=False,
        label="Or until",
        help_text="In your time zone; overrides the period.",
    )
    reason = forms.CharField(required=False, max_length=services.REASON_MAX)

    def __init__(self, *args: Any, time_zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.time_zone = time_zone
        self.fields["until"].help_text = f"In your time zone ({time_zone}); overrides the period."

    def until_time(self, now: datetime) -> datetime:
        data = self.cleaned_data
        if data.get("until"):
            try:
                return attach_zone(data["until"], self.time_zone)
            except ValidationError as error:
                raise WatchfloorError(" ".join(error.messages), field="until") from error
        return now + parse_iso_duration(data["period"])


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=services.REASON_MAX)


class SurgeFilterForm(forms.Form):
    show = forms.ChoiceField(
        required=False, choices=[("", "All alerts"), ("open", "Open alerts only")]
    )
    subject = forms.ChoiceField(
        required=False, choices=[("", "Clusters and series"), *SurgeAlert.Subject.choices]
    )

    def filters(self) -> selectors.SurgeFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return selectors.SurgeFilters(
            only_open=data.get("show") == "open", subject=data.get("subject", "")
        )


def form_problem(form: forms.Form) -> str:
    return "; ".join(
        f"{name}: {' '.join(map(str, errors))}" if name != "__all__" else " ".join(map(str, errors))
        for name, errors in form.errors.items()
    )
