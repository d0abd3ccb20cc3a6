"""Forms for the notification pages: they parse input; the services decide."""

from __future__ import annotations

from django import forms

from watchfloor.notify.models import NotificationStatus
from watchfloor.notify.selectors import DeliveryFilters, active_channels
from watchfloor.web.forms import ServiceErrorForm, choice_field


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *NotificationStatus.choices]
    )
    channel = forms.ChoiceField(required=False, label="Channel")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "channel").choices = [
            ("", "Any channel or person"),
            *((c.code, c.name) for c in active_channels()),
        ]

    def filters(self) -> DeliveryFilters:
        if not self.is_valid():
            return DeliveryFilters()
        return DeliveryFilters(
            status=self.cleaned_data["status"], channel=self.cleaned_data["channel"]
        )

    @property
    def is_filtered(self) -> bool:
        return self.is_valid() and any(self.cleaned_data.values())


class _TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self) -> None:
        super().__init__(format="%H:%M")


class QuietHoursForm(ServiceErrorForm):
    quiet_hours_start = forms.TimeField(
        required=False,
        label="Quiet from",
        widget=_TimeInput(),
        help_text="In your time zone. Leave both empty for no quiet hours.",
    )
    quiet_hours_end = forms.TimeField(required=False, label="Quiet until", widget=_TimeInput())
