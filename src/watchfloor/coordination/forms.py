"""Forms parse what a person typed into the values the coordination services take, and
put a service's error back next to its field. The services decide everything else."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from watchfloor.coordination.models import AnswerOutcome, RequestKind, RequestStatus
from watchfloor.coordination.services import (
    ANSWER_MAX,
    ATTACHMENTS_MAX,
    CONTEXT_MAX,
    DOCUMENT_ID_EXAMPLE,
    QUESTION_MAX,
    REASON_MAX,
)
from watchfloor.core.errors import WatchfloorError
from watchfloor.people import choices as options
from watchfloor.people.models import Team
from watchfloor.severity.rubric import parse_iso_duration
from watchfloor.web.forms import LocalDateTimeField, ServiceErrorForm, attach_zone, choice_field

DUE_WITHIN_CHOICES = [
    ("", "—"),
    ("PT1H", "1 hour"),
    ("PT2H", "2 hours"),
    ("PT4H", "4 hours"),
    ("PT8H", "8 hours"),
    ("PT24H", "24 hours"),
    ("P3D", "3 days"),
]
_ATTACHMENT_INDEX = re.compile(r"^attachments\[(?P<index>\d+)\]$")


class PartnerRequestForm(ServiceErrorForm):
    kind = forms.ChoiceField(label="What you need")
    team = forms.ChoiceField(label="Partner team", required=False)
    question = forms.CharField(
        max_length=QUESTION_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One specific question they can answer.",
    )
    context = forms.CharField(
        required=False,
        max_length=CONTEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Only what they need to answer. Sending shares this escalation with the team.",
    )
    due_within = forms.ChoiceField(required=False, label="Due within", choices=DUE_WITHIN_CHOICES)
    due_at = LocalDateTimeField(required=False, label="or due at")
    due_zone = forms.ChoiceField(label="Time zone of that time")
    service_fields = {"team_code": "team"}

    def __init__(
        self, *args: Any, viewer_time_zone: str, also_zones: list[str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "kind").choices = [("", "Choose what you need"), *RequestKind.choices]
        choice_field(self, "team").choices = [
            ("", "The team usually asked for this"),
            *options.partner_team_choices(),
        ]
        team_zones = list(
            Team.objects.filter(kind=Team.Kind.PARTNER).values_list("time_zone", flat=True)
        )
        choice_field(self, "due_zone").choices = options.time_zone_choices(
            options.markets(), also=[viewer_time_zone, *(also_zones or []), *team_zones]
        )
        self.fields["due_zone"].initial = viewer_time_zone

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        within, local = data.get("due_within"), data.get("due_at")
        if "due_at" in self.errors:
            return data
        if within and local is not None:
            self.add_error("due_at", "give a span or a time, not both")
        elif not within and local is None:
            self.add_error("due_within", "say when you need the answer")
        elif local is not None and data.get("due_zone"):
            try:
                data["due_at"] = attach_zone(local, data["due_zone"])
            except ValidationError as error:
                self.add_error("due_at", error)
        return data

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "team_code": data["team"],
            "kind": data["kind"],
            "question": data["question"],
            "context": data.get("context", ""),
            "due_at": data.get("due_at"),
            "due_within": parse_iso_duration(data["due_within"])
            if data.get("due_within")
            else None,
        }


class AnswerForm(ServiceErrorForm):
    outcome = forms.ChoiceField(choices=AnswerOutcome.choices, widget=forms.RadioSelect)
    answer = forms.CharField(
        required=False,
        max_length=ANSWER_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Needed to advise or decline.",
    )
    attachments = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=(
            f"One per line, at most {ATTACHMENTS_MAX}: a link (https://…) or a document id "
            f"such as {DOCUMENT_ID_EXAMPLE}."
        ),
    )

    def clean_attachments(self) -> list[str]:
        return [
            line.strip()
            for line in self.cleaned_data.get("attachments", "").splitlines()
            if line.strip()
        ]

    def service_error_message(self, error: WatchfloorError) -> str:
        match = _ATTACHMENT_INDEX.match(error.field or "")
        if match:
            return f"line {int(match['index']) + 1}: {error.message}"
        return error.message


class WithdrawForm(ServiceErrorForm):
    reason = forms.CharField(max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}))


class InboxFilterForm(forms.Form):
    ALL = "all"

    status = forms.ChoiceField(required=False, label="Status")
    team = forms.ChoiceField(required=False, label="Team")
    kind = forms.ChoiceField(required=False, label="Kind")
    overdue = forms.BooleanField(required=False, label="Only overdue")

    def __init__(self, *args: Any, show_team: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "status").choices = [
            ("", "Open"),
            *(
                (value, label)
                for value, label in RequestStatus.choices
                if value != RequestStatus.OPEN
            ),
            (self.ALL, "All"),
        ]
        choice_field(self, "kind").choices = [("", "Any kind"), *RequestKind.choices]
        if show_team:
            choice_field(self, "team").choices = [("", "Any team"), *options.partner_team_choices()]
        else:
            del self.fields["team"]

    def statuses(self) -> tuple[str, ...]:
        value = self.cleaned_data.get("status") if self.is_valid() else ""
        if value == self.ALL:
            return ()
        return (value or RequestStatus.OPEN,)

    @property
    def is_filtered(self) -> bool:
        return self.is_valid() and any(self.cleaned_data.get(name) for name in self.fields)
