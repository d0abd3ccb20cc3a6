"""Forms parse what a person typed into the values the playbook services take."""

from __future__ import annotations

from typing import Any

from django import forms

from watchfloor.playbooks.models import StepState
from watchfloor.playbooks.schema import StepSpec, TemplateSpec
from watchfloor.web.forms import ServiceErrorForm, choice_field


class StartRunForm(ServiceErrorForm):
    playbook = forms.CharField(max_length=64)


class CancelRunForm(ServiceErrorForm):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class RoleForm(ServiceErrorForm):
    role = forms.CharField(max_length=64)
    user = forms.CharField(max_length=150, required=False, label="Username")


class StepStateForm(ServiceErrorForm):
    EVIDENCE_PREFIX = "evidence_"

    state = forms.ChoiceField(choices=StepState.choices)
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, step: StepSpec, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in step.requires.evidence:
            self.fields[self.EVIDENCE_PREFIX + item.id] = forms.CharField(
                required=False, label=item.label, max_length=2000
            )

    def evidence(self) -> dict[str, str]:
        return {
            name[len(self.EVIDENCE_PREFIX) :]: value
            for name, value in self.cleaned_data.items()
            if name.startswith(self.EVIDENCE_PREFIX) and value
        }


class ChecklistForm(ServiceErrorForm):
    item = forms.CharField(max_length=64)
    checked = forms.TypedChoiceField(choices=[("1", "ticked"), ("0", "unticked")], coerce=int)


class ApproveStepForm(ServiceErrorForm):
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CommunicationForm(ServiceErrorForm):
    """The values a template is previewed with, and recorded as sent with."""

    INPUT_PREFIX = "input_"

    language = forms.ChoiceField(required=False)
    channel = forms.CharField(
        max_length=100, required=False, help_text="How it goes out, e.g. email, phone, press line."
    )
    recipient = forms.CharField(
        max_length=500, required=False, help_text="Who receives it: a name, address or outlet."
    )

    def __init__(self, *args: Any, template: TemplateSpec, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "language").choices = [("", "the escalation's language")] + [
            (tag, tag) for tag in template.bodies
        ]
        self.fields["channel"].initial = template.channel
        for item in template.inputs:
            self.fields[self.INPUT_PREFIX + item.name] = forms.CharField(
                required=False, label=item.label, max_length=2000
            )

    def form_field_for(self, service_field: str | None) -> str | None:
        if service_field and service_field.startswith("inputs."):
            name = self.INPUT_PREFIX + service_field.split(".", 1)[1]
            return name if name in self.fields else None
        return super().form_field_for(service_field)

    def inputs(self) -> dict[str, str]:
        return {
            name[len(self.INPUT_PREFIX) :]: value
            for name, value in self.cleaned_data.items()
            if name.startswith(self.INPUT_PREFIX)
        }
