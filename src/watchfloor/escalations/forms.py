"""Forms parse what a person typed into the values services take, and put a service's
error back next to the field it names. They hold no business rules: the services decide."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from watchfloor.core.errors import WatchfloorError
from watchfloor.escalations.inputs import EscalationInput, StatutoryTriggerInput, SubjectInput
from watchfloor.escalations.models import TRANSITIONS, SourceKind, Status, Subject
from watchfloor.escalations.services import NOTE_MAX, REASON_MAX, SUMMARY_MAX, TITLE_MAX
from watchfloor.severity.rubric import Rubric
from watchfloor.web.form_tokens import form_token_field
from watchfloor.web.forms import (
    FIELD_PATH,
    LocalDateTimeField,
    LongSelect,
    LongSelectMultiple,
    ServiceErrorForm,
    VersionedForm,
    attach_zone,
    choice_field,
    language_tags,
    read_version_field,
)

from . import choices as options

_ESCALATION_REFERENCE = re.compile(r"^\s*(?:wf-?)?(?P<pk>\d+)\s*$", re.IGNORECASE)


# ---------------------------------------------------------------- new escalation


class EscalationForm(ServiceErrorForm):
    FACTOR_PREFIX = "factor_"

    type = forms.ChoiceField(label="Escalation type")
    title = forms.CharField(max_length=TITLE_MAX)
    summary = forms.CharField(
        required=False, max_length=SUMMARY_MAX, widget=forms.Textarea(attrs={"rows": 4})
    )
    markets = forms.MultipleChoiceField(
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="Hold Ctrl (⌘ on a Mac) to choose several.",
    )
    languages = forms.CharField(
        required=False,
        help_text="BCP 47 tags separated by commas, e.g. ja, zh-Hant, en.",
    )
    subjects = forms.CharField(
        required=False,
        strip=False,  # keep leading blank lines so error line numbers match what was typed
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="One per line as kind: reference. Kinds: "
        + ", ".join(Subject.Kind.values)
        + ". For example: account: @relief_fund_ph",
    )
    source_kind = forms.ChoiceField(
        label="Source", choices=SourceKind.choices, initial=SourceKind.INTERNAL
    )
    source_team = forms.ChoiceField(
        required=False, label="Partner team", help_text="Required when a partner team referred it."
    )
    source_detail = forms.CharField(required=False, max_length=500, label="Source detail")
    statutory_rule = forms.ChoiceField(required=False, label="Statutory rule")
    statutory_received_at = LocalDateTimeField(required=False, label="Notice received at")
    statutory_time_zone = forms.ChoiceField(
        label="Time zone of these times",
        help_text="The zone the times above and below are in.",
    )
    statutory_due_at = LocalDateTimeField(
        required=False,
        label="Due at (as stated in the notice)",
        help_text="Only for rules whose deadline is set by the notice; leave empty otherwise.",
    )
    notice_reference = forms.CharField(required=False, max_length=200, label="Notice reference")
    statutory_confirm_old_receipt = forms.BooleanField(
        required=False,
        label="The notice really was received that long ago",
    )
    policy = forms.ChoiceField(
        required=False, help_text="Leave empty to use the escalation type's default policy."
    )
    is_high_visibility = forms.BooleanField(
        required=False,
        label="High visibility",
        help_text="Decisions on it need a second person's approval.",
    )
    is_restricted = forms.BooleanField(
        required=False,
        label="Restricted",
        help_text="Only people on its access list can see it; you are added.",
    )
    # Sent once: the back button and a second click go to what the first one filed.
    form_token = form_token_field()

    service_fields = {
        "statutory_triggers": "statutory_rule",
        "source_team_code": "source_team",
        "policy_code": "policy",
        "type_code": "type",
    }
    _trigger_fields = {
        "rule": "statutory_rule",
        "received_at": "statutory_received_at",
        "confirm_old_receipt": "statutory_confirm_old_receipt",
        "due_at": "statutory_due_at",
        "notice_reference": "notice_reference",
    }
    preview_fields = ("type", "statutory_rule")

    def __init__(self, *args: Any, rubric: Rubric, viewer_time_zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rubric = rubric
        markets = options.markets()
        choice_field(self, "type").choices = [
            ("", "Choose a type"),
            *options.escalation_type_choices(),
        ]
        choice_field(self, "markets").choices = options.market_choices(markets)
        choice_field(self, "source_team").choices = [("", "None"), *options.partner_team_choices()]
        choice_field(self, "statutory_rule").choices = [
            ("", "No statutory deadline"),
            *options.statutory_rule_choices(),
        ]
        choice_field(self, "statutory_time_zone").choices = options.time_zone_choices(
            markets, also=[viewer_time_zone]
        )
        self.fields["statutory_time_zone"].initial = viewer_time_zone
        span = settings.WATCHFLOOR_RECEIPT_CONFIRMATION_AFTER
        self.fields[
            "statutory_confirm_old_receipt"
        ].help_text = f"Needed only when it was received more than {span.days} days before filing."
        choice_field(self, "policy").choices = [("", "Type's default"), *options.policy_choices()]
        for factor in rubric.factors:
            self.fields[self.FACTOR_PREFIX + factor.code] = forms.ChoiceField(
                required=False,
                label=factor.label,
                help_text=factor.question,
                choices=[
                    ("", "Not assessed"),
                    *((o.value, o.label) for o in factor.options),
                ],
            )
        self._subject_lines: list[int] = []

    # -- reading the input

    @property
    def factor_fields(self) -> list[forms.BoundField]:
        return [self[self.FACTOR_PREFIX + factor.code] for factor in self.rubric.factors]

    @property
    def preview_field_names(self) -> set[str]:
        return {*self.preview_fields, *(self.FACTOR_PREFIX + f.code for f in self.rubric.factors)}

    def clean_languages(self) -> list[str]:
        return language_tags(self.cleaned_data.get("languages", ""))

    def clean_subjects(self) -> list[SubjectInput]:
        subjects, problems, lines = [], [], []
        known = Subject.Kind.values
        for number, raw in enumerate(self.cleaned_data.get("subjects", "").splitlines(), 1):
            line = raw.strip()
            if not line:
                continue
            kind, separator, reference = line.partition(":")
            kind, reference = kind.strip().lower(), reference.strip()
            if not separator or not reference:
                problems.append(
                    f"line {number}: '{line}' is not 'kind: reference' (e.g. account: @handle)"
                )
            elif kind not in known:
                problems.append(
                    f"line {number}: unknown kind '{kind}'; use one of {', '.join(known)}"
                )
            else:
                subjects.append(SubjectInput(kind=kind, reference=reference))
                lines.append(number)
        if problems:
            raise ValidationError(problems)
        self._subject_lines = lines
        return subjects

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rule = data.get("statutory_rule")
        zone = data.get("statutory_time_zone")
        received, due = data.get("statutory_received_at"), data.get("statutory_due_at")
        if not rule:
            if received is not None or due is not None:
                self.add_error("statutory_rule", "choose the statutory rule these times are for")
            return data
        if received is None and "statutory_received_at" not in self.errors:
            self.add_error("statutory_received_at", "say when the notice was received")
        if zone:
            for name in ("statutory_received_at", "statutory_due_at"):
                if data.get(name) is not None:
                    try:
                        data[name] = attach_zone(data[name], zone)
                    except ValidationError as error:
                        self.add_error(name, error)
        return data

    def rubric_answers(self) -> dict[str, str]:
        return {
            factor.code: self.cleaned_data.get(self.FACTOR_PREFIX + factor.code) or ""
            for factor in self.rubric.factors
        }

    def statutory_rule_codes(self) -> list[str]:
        rule = self.cleaned_data.get("statutory_rule")
        return [rule] if rule else []

    def as_service_input(self) -> EscalationInput:
        """What ``filing.create_escalation`` takes."""
        data = self.cleaned_data
        triggers = []
        if data.get("statutory_rule"):
            triggers.append(
                StatutoryTriggerInput(
                    rule=data["statutory_rule"],
                    received_at=data["statutory_received_at"],
                    due_at=data.get("statutory_due_at"),
                    notice_reference=data.get("notice_reference", ""),
                    confirm_old_receipt=data.get("statutory_confirm_old_receipt", False),
                )
            )
        return EscalationInput(
            type_code=data["type"],
            title=data["title"],
            summary=data.get("summary", ""),
            markets=data.get("markets", []),
            languages=data.get("languages", []),
            subjects=data.get("subjects", []),
            source_kind=data["source_kind"],
            source_team_code=data.get("source_team", ""),
            source_detail=data.get("source_detail", ""),
            rubric_answers=self.rubric_answers(),
            statutory_triggers=triggers,
            policy_code=data.get("policy", ""),
            is_high_visibility=data.get("is_high_visibility", False),
            is_restricted=data.get("is_restricted", False),
        )

    # -- putting service errors back

    def form_field_for(self, service_field: str | None) -> str | None:
        match = FIELD_PATH.match(service_field or "")
        if match and match.group("base") == "rubric_answers" and match.group("rest"):
            name = self.FACTOR_PREFIX + match.group("rest")
            return name if name in self.fields else None
        if match and match.group("base") == "statutory_triggers" and match.group("rest"):
            return self._trigger_fields.get(match.group("rest"), "statutory_rule")
        return super().form_field_for(service_field)

    def service_error_message(self, error: WatchfloorError) -> str:
        match = FIELD_PATH.match(error.field or "")
        if match and match.group("base") == "subjects" and match.group("index") is not None:
            index = int(match.group("index"))
            if index < len(self._subject_lines):
                return f"line {self._subject_lines[index]}: {error.message}"
        return error.message

    def keep_only_preview_errors(self) -> None:
        """A preview judges the type and the rubric answers; the rest may be unfinished."""
        for name in list(self.errors):
            if name not in self.preview_field_names:
                del self.errors[name]


# ---------------------------------------------------------------- escalation actions


def parse_escalation_reference(value: str) -> str:
    """'WF-12', 'wf12' or '12' → '12'."""
    match = _ESCALATION_REFERENCE.match(value or "")
    if not match:
        raise ValidationError(f"'{value}' is not an escalation reference such as WF-12")
    return match.group("pk")


class TransitionForm(ServiceErrorForm):
    to_status = forms.ChoiceField(label="Move to", choices=Status.choices)
    reason = forms.CharField(
        required=False,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed to close without a decision and to reopen.",
    )

    def __init__(self, *args: Any, current_status: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the moves the lifecycle allows are offered; any status is accepted so that
        # the service, which owns the lifecycle, explains a refusal.
        self.fields["to_status"].widget.choices = [("", "Choose a status")] + [
            (value, label)
            for value, label in Status.choices
            if value in TRANSITIONS[current_status]
        ]


class AssignForm(ServiceErrorForm):
    owner = forms.ChoiceField(required=False, label="Owner", widget=LongSelect)
    read_version = read_version_field()
    service_fields = {"username": "owner"}

    def __init__(self, *args: Any, current_owner: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "owner").choices = [("", "Unassigned"), *options.owner_choices()]
        self.fields["owner"].initial = current_owner


class NoteForm(ServiceErrorForm):
    body = forms.CharField(
        label="Note", max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )


class LinkForm(ServiceErrorForm):
    other = forms.CharField(label="Escalation", help_text="A reference such as WF-12.")
    reason = forms.CharField(required=False, max_length=500)
    service_fields = {"escalation_id": "other"}

    def clean_other(self) -> str:
        return parse_escalation_reference(self.cleaned_data["other"])


class MergeForm(ServiceErrorForm):
    into = forms.CharField(
        label="Merge into",
        help_text="This escalation closes as a duplicate; its statutory clocks move over.",
    )
    reason = forms.CharField(required=False, max_length=REASON_MAX)
    service_fields = {"escalation_id": "into"}

    def clean_into(self) -> str:
        return parse_escalation_reference(self.cleaned_data["into"])


class OverrideSeverityForm(ServiceErrorForm):
    severity = forms.TypedChoiceField(coerce=int, label="Severity")
    reason = forms.CharField(max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, rubric: Rubric, current: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "severity").choices = options.severity_choices(rubric)
        self.fields["severity"].initial = str(current)


class DecisionForm(ServiceErrorForm):
    policy = forms.ChoiceField()
    policy_version = forms.CharField(
        required=False, max_length=32, help_text="Leave empty for the version in force today."
    )
    action = forms.ChoiceField(label="Enforcement action")
    countries = forms.MultipleChoiceField(
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Only for actions limited to some countries.",
    )
    scope = forms.CharField(
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Which content or accounts.",
    )
    rationale = forms.CharField(max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 3}))
    supersedes = forms.IntegerField(
        required=False,
        min_value=1,
        label="Replaces",
        help_text="An escalation has one final decision: a new one must say it replaces it.",
    )
    read_version = read_version_field()

    def __init__(
        self,
        *args: Any,
        default_policy: str = "",
        final_decisions: list[tuple[int, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # Offered only when there is a final decision; any id is accepted so that the
        # service explains a stale or wrong one.
        self.fields["supersedes"].widget = (
            forms.Select(
                choices=[
                    ("", "Nothing: keep it final"),
                    *((pk, f"Decision #{pk}: {label}") for pk, label in final_decisions),
                ]
            )
            if final_decisions
            else forms.HiddenInput()
        )
        choice_field(self, "policy").choices = [("", "Choose a policy"), *options.policy_choices()]
        self.fields["policy"].initial = default_policy
        choice_field(self, "action").choices = [
            ("", "Choose an action"),
            *options.enforcement_action_choices(),
        ]
        choice_field(self, "countries").choices = options.market_choices()


class ReviewForm(ServiceErrorForm):
    """A second person's review: approve, or refuse with a comment saying why."""

    comment = forms.CharField(
        required=False, max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, refusal: str = "send it back", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["comment"].help_text = f"Required to {refusal}."


class AccessForm(VersionedForm):
    is_restricted = forms.BooleanField(required=False, label="Restricted")
    access_list = forms.MultipleChoiceField(
        required=False,
        label="Access list",
        widget=LongSelectMultiple(attrs={"size": 6}),
        help_text="Who may see it while restricted. You stay on it.",
    )
    shared_with_teams = forms.MultipleChoiceField(
        required=False,
        label="Shared with partner teams",
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )

    def __init__(
        self,
        *args: Any,
        is_restricted: bool = False,
        access_list: list[str] | None = None,
        teams: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "access_list").choices = options.user_choices()
        choice_field(self, "shared_with_teams").choices = options.partner_team_choices()
        self.fields["is_restricted"].initial = is_restricted
        self.fields["access_list"].initial = access_list or []
        self.fields["shared_with_teams"].initial = teams or []
