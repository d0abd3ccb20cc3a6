"""Form base classes shared by every app: a form that shows a service's error next to the
field it names, and a local date-time field that attaches the typist's zone. They hold no
business rules: the services decide."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils.datastructures import MultiValueDict

from watchfloor.core.errors import InvalidInput, StaleEdit, WatchfloorError
from watchfloor.core.validation import TIME_RANGE, clean_language_tags, within_time_range
from watchfloor.core.versions import VERSION_FIELD

FIELD_PATH = re.compile(r"^(?P<base>[a-z_]+)(?:\[(?P<index>\d+)\])?(?:\.(?P<rest>.+))?$")


def comma_separated(value: str) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def language_tags(value: str) -> list[str]:
    """Comma-separated BCP 47 tags, checked here so that a bad one is reported with the
    form's other errors, not alone after them."""
    try:
        return clean_language_tags(comma_separated(value))
    except InvalidInput as error:
        raise ValidationError(error.message) from error


class LongSelect(forms.Select):
    """A select for a long list, such as the people directory: Django's markup, with
    each option written in place rather than through a template include per option
    (about 0.1 ms each). The war room's two lists of people, at 300 people, cost 75 ms
    of every view through the includes."""

    template_name = "web/widgets/long_select.html"


class LongSelectMultiple(forms.SelectMultiple):
    """:class:`LongSelect` for several values."""

    template_name = "web/widgets/long_select.html"


def choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """The form's field ``name`` as the choice field it is, so ``__init__`` can set its
    choices with the type checker knowing it has some (``Form.fields`` holds plain
    ``Field``s)."""
    field = form.fields[name]
    if not isinstance(field, forms.ChoiceField):
        raise TypeError(f"{type(form).__name__}.{name} is not a choice field")
    return field


class ServiceErrorForm(forms.Form):
    """Shows a :class:`WatchfloorError` next to the form field its ``field`` names.

    Services name fields as the API does (``title``, ``languages[1]``,
    ``rubric_answers.harm``); ``service_fields`` maps the ones whose form field is called
    something else. An error whose field is not on the form is shown above it.
    """

    service_fields: dict[str, str] = {}

    def form_field_for(self, service_field: str | None) -> str | None:
        if not service_field:
            return None
        if service_field in self.service_fields:
            name = self.service_fields[service_field]
        else:
            match = FIELD_PATH.match(service_field)
            base = match.group("base") if match else service_field
            name = self.service_fields.get(base, base)
        return name if name in self.fields else None

    def service_error_message(self, error: WatchfloorError) -> str:
        return error.message

    def add_service_error(self, error: WatchfloorError) -> None:
        name = self.form_field_for(error.field)
        if name is not None and self.fields[name].widget.is_hidden:
            name = None  # shown above the form: nobody can see a hidden field's error
        self.add_error(name, self.service_error_message(error))
        if isinstance(error, StaleEdit) and "read_version" in self.fields:
            # Sent again after reading what changed, the same input is a new edit.
            resent: MultiValueDict[str, Any] = MultiValueDict()
            for key in self.data:
                values = (
                    self.data.getlist(key)
                    if isinstance(self.data, MultiValueDict)
                    else [self.data[key]]
                )
                resent.setlist(key, list(values))
            resent[self.add_prefix("read_version")] = str(error.current_version)
            self.data = resent


def read_version_field() -> forms.IntegerField:
    """The version a form's object was read at (``audit.selectors.log_position``): the
    service refuses the edit when what it changes was changed after it."""
    return forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)


def carry_read_version(forms_by_name: dict[str, Any], version: int) -> None:
    """Put the version a page was read at into each of its unbound forms that carry one."""
    for form in forms_by_name.values():
        if not form.is_bound and "read_version" in form.fields:
            form.fields["read_version"].initial = version


class VersionedForm(ServiceErrorForm):
    """Edits something that carries a version (``core.versions``): the version the page
    was read at travels in a hidden field, and a refusal because somebody else changed
    it meanwhile is shown above the form, where it cannot be missed."""

    expected_version = forms.IntegerField(
        widget=forms.HiddenInput, required=False, min_value=1, max_value=2**31 - 1
    )

    def __init__(self, *args: Any, version: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["expected_version"].initial = version

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("expected_version") is None:
            self.add_error(
                None,
                "This form does not say which version it was opened at; reload the page "
                "and make your change again.",
            )
        return cleaned

    def form_field_for(self, service_field: str | None) -> str | None:
        if service_field == VERSION_FIELD:
            return None
        return super().form_field_for(service_field)


class LocalDateTimeField(forms.Field):
    """A wall-clock time from ``<input type="datetime-local">``, without a zone.

    The zone is chosen explicitly beside it, so the value stays naive here and the
    form attaches the zone.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            forms.DateTimeInput(format="%Y-%m-%dT%H:%M", attrs={"type": "datetime-local"}),
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise ValidationError(
                f"'{value}' is not a date and time; use the form 2026-11-24T09:30"
            ) from exc
        if parsed.tzinfo is not None:
            raise ValidationError("enter the local time only, and choose its zone beside it")
        return parsed

    def validate(self, value: Any) -> None:
        super().validate(value)
        within_calendar(value)


def within_calendar(value: date | None) -> None:
    """A form validator for dates and times: the range of ``core.validation``."""
    if value is not None and not within_time_range(value):
        raise ValidationError(
            f"{value.isoformat()[:10]} is outside the dates accepted ({TIME_RANGE})"
        )


def attach_zone(local: datetime, zone_name: str) -> datetime:
    """``local`` read as wall time in ``zone_name``; refuses times a clock change skips
    and times outside the range of ``core.validation``."""
    within_calendar(local)
    zone = ZoneInfo(zone_name)
    aware = local.replace(tzinfo=zone)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise ValidationError(
            f"{local:%Y-%m-%d %H:%M} does not exist in {zone_name}: the clocks skip it"
        )
    return aware


# ---------------------------------------------------------------- queue
