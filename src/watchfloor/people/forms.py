"""Forms of the on-call pages: the filters of the board and the override form. They parse
what was typed; ``people.services`` decides."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from watchfloor.people import choices as options
from watchfloor.people.models import Rotation, Team, User
from watchfloor.people.rota_changes import OVERRIDE_REASON_MAX
from watchfloor.web.forms import (
    LocalDateTimeField,
    ServiceErrorForm,
    VersionedForm,
    attach_zone,
    choice_field,
    language_tags,
)


class OnCallFilterForm(forms.Form):
    team = forms.ChoiceField(required=False, label="Team")
    market = forms.ChoiceField(required=False, label="Market")
    at = LocalDateTimeField(required=False, label="At", help_text="Your time; leave empty for now.")

    def __init__(self, *args: Any, viewer_time_zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.viewer_time_zone = viewer_time_zone
        choice_field(self, "team").choices = [
            ("", "Every team"),
            *((team.code, team.name) for team in Team.objects.all()),
        ]
        choice_field(self, "market").choices = [("", "Any market"), *options.market_choices()]

    def clean_at(self):
        local = self.cleaned_data.get("at")
        return attach_zone(local, self.viewer_time_zone) if local is not None else None

    @property
    def is_filtered(self) -> bool:
        return self.is_valid() and any(self.cleaned_data.get(name) for name in self.fields)


class OverrideForm(ServiceErrorForm):
    user = forms.ChoiceField(label="On call instead", help_text="A member of the team.")
    replaces = forms.ChoiceField(
        required=False,
        label="Standing in for",
        help_text="Leave empty to take every shift of the rotation in this period.",
    )
    starts_at = LocalDateTimeField(label="From")
    ends_at = LocalDateTimeField(label="Until")
    time_zone = forms.ChoiceField(label="Time zone of these times")
    reason = forms.CharField(max_length=OVERRIDE_REASON_MAX, help_text="e.g. swap, leave, holiday")

    def __init__(
        self,
        *args: Any,
        rotation: Rotation,
        members: list[User],
        viewer_time_zone: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        team_people = User.objects.filter(team=rotation.team, is_active=True).order_by("username")
        choice_field(self, "user").choices = [("", "Choose a person")] + [
            (person.username, f"{person.display_name} ({person.time_zone})")
            for person in team_people
        ]
        choice_field(self, "replaces").choices = [("", "Whoever is due")] + [
            (person.username, person.display_name) for person in members
        ]
        zones = {shift.time_zone for shift in rotation.shifts.all()}
        choice_field(self, "time_zone").choices = [
            (zone, zone) for zone in sorted({viewer_time_zone, *zones, "UTC"})
        ]
        self.fields["time_zone"].initial = viewer_time_zone

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        zone = data.get("time_zone")
        if zone:
            for name in ("starts_at", "ends_at"):
                if data.get(name) is not None:
                    try:
                        data[name] = attach_zone(data[name], zone)
                    except ValidationError as error:
                        self.add_error(name, error)
        return data


class CancelOverrideForm(forms.Form):
    reason = forms.CharField(required=False, max_length=OVERRIDE_REASON_MAX)


class ProfileForm(VersionedForm):
    """A person's time zone and languages; ``people.profile.update_profile`` decides."""

    time_zone = forms.CharField(
        label="Time zone",
        max_length=64,
        help_text="Every time is shown in this zone. Type to search, e.g. Tokyo or Seoul.",
        widget=forms.TextInput(
            attrs={"list": "time-zone-options", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    languages = forms.CharField(
        label="Languages you read",
        required=False,
        max_length=200,
        help_text="BCP 47 tags, the one you prefer first, separated by commas (e.g. ja, en).",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )

    def clean_languages(self) -> list[str]:
        return language_tags(self.cleaned_data.get("languages", ""))
