"""Forms of the team exposure page: a person's graphic-content training and the team's
care policy. Each carries the version it was read at (core.versions); the services decide."""

from __future__ import annotations

from django import forms

from watchfloor.web.forms import VersionedForm


class TrainingForm(VersionedForm):
    person = forms.CharField(max_length=150, widget=forms.HiddenInput)
    trained = forms.BooleanField(required=False)


class CarePolicyForm(VersionedForm):
    tell_lead = forms.BooleanField(
        required=False,
        label="Tell the lead when someone in this team passes the exposure threshold",
    )
