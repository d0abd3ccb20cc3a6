"""The triage queue's filters: the form on the page, and the same filters as the page's
"new since you loaded" poll carries them. Both give ``selectors.QueueFilters``."""

from __future__ import annotations

from typing import Any

from django import forms

from watchfloor.escalations.models import Status
from watchfloor.escalations.selectors import QueueFilters
from watchfloor.severity.rubric import Rubric
from watchfloor.web.forms import LongSelect, choice_field

from . import choices as options


class QueueFilterForm(forms.Form):
    ALL = "all"

    status = forms.ChoiceField(required=False, label="Status")
    severity = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    market = forms.ChoiceField(required=False)
    policy = forms.ChoiceField(required=False)
    mine = forms.BooleanField(required=False, label="Only mine")
    owner = forms.ChoiceField(required=False, widget=LongSelect)
    q = forms.CharField(required=False, max_length=200, label="Search text")
    drills = forms.ChoiceField(
        required=False,
        label="Drills",
        choices=[("", "Hidden"), ("include", "Shown"), ("only", "Only drills")],
    )
    sort = forms.ChoiceField(
        required=False,
        label="Sort by",
        choices=[("", "Severity"), ("deadline", "Deadline")],
    )
    # An order, not a filter: it narrows nothing.
    ORDER_FIELDS = frozenset({"sort"})

    def __init__(self, *args: Any, rubric: Rubric, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "status").choices = [
            ("", "Open"),
            *Status.choices,
            (self.ALL, "All, closed included"),
        ]
        choice_field(self, "severity").choices = [("", "Any"), *options.severity_choices(rubric)]
        choice_field(self, "market").choices = [("", "Any"), *options.market_choices()]
        choice_field(self, "policy").choices = [("", "Any"), *options.policy_choices()]
        choice_field(self, "owner").choices = [("", "Anyone"), *options.owner_choices()]

    def filters(self) -> QueueFilters:
        """The filters from every field that parsed; a field in error filters nothing."""
        self.is_valid()
        data = self.cleaned_data
        status = data.get("status") or ""
        severity = data.get("severity")
        return QueueFilters(
            statuses=(status,) if status and status != self.ALL else (),
            include_closed=status == self.ALL,
            severities=(severity,) if severity is not None else (),
            market=data.get("market") or "",
            policy=data.get("policy") or "",
            mine=bool(data.get("mine")),
            owner_username=data.get("owner") or "",
            text=(data.get("q") or "").strip(),
            drills=data.get("drills") or "hide",
            sort=data.get("sort") or "severity",
        )

    @property
    def is_filtered(self) -> bool:
        return any(self.data.get(name) for name in self.fields if name not in self.ORDER_FIELDS)


class QueueRecheckForm(QueueFilterForm):
    """The queue's filters as the page's own "new since you loaded" poll carries them,
    parsed without the choice lists (markets, policies, owners, the rubric): the page
    checked them when it loaded, and a poll every half minute must stay cheap. A value
    that is not a choice simply matches nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        forms.Form.__init__(self, *args, **kwargs)
        choice_field(self, "status").choices = [("", "Open"), *Status.choices, (self.ALL, "All")]
        self.fields["severity"] = forms.IntegerField(required=False, min_value=0, max_value=99)
        for name in ("market", "policy", "owner"):
            self.fields[name] = forms.CharField(required=False, max_length=150)
