"""Forms for the crisis pages: they parse what a person typed into the values the services
take, and put a service's error back next to its field. The services decide."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from watchfloor.crises.config import CrisisConfig
from watchfloor.crises.drafting import DraftSection
from watchfloor.crises.models import (
    DECLARABLE_LEVELS,
    LEVEL_TRANSITIONS,
    WHYS_MAX,
    ActionItem,
    CrisisNote,
    Level,
    RoleKind,
    WatchlistKind,
)
from watchfloor.crises.selectors import CriterionResult, RoleSlot
from watchfloor.crises.services import NOTE_MAX, SECTIONS_MAX, SUMMARY_MAX, TITLE_MAX
from watchfloor.escalations.forms import parse_escalation_reference
from watchfloor.people import choices as options
from watchfloor.web.forms import (
    LocalDateTimeField,
    LongSelect,
    LongSelectMultiple,
    ServiceErrorForm,
    VersionedForm,
    attach_zone,
    choice_field,
    language_tags,
    read_version_field,
    within_calendar,
)


def _comma_separated(value: str) -> list[str]:
    return [part.strip() for part in (value or "").replace("\n", ",").split(",") if part.strip()]


def _textarea(rows: int) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class DeclareForm(ServiceErrorForm):
    title = forms.CharField(max_length=200)
    level = forms.ChoiceField(
        choices=[(level, Level(level).label) for level in DECLARABLE_LEVELS],
        initial=Level.INCIDENT,
        help_text="Monitoring: watching closely. Incident: a coordinated response. Crisis "
        "protocol: all hands, hourly sitreps.",
    )
    summary = forms.CharField(required=False, max_length=SUMMARY_MAX, widget=_textarea(4))
    markets = forms.MultipleChoiceField(
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="Hold Ctrl (⌘ on a Mac) to choose several. Empty: the escalation's markets.",
    )
    languages = forms.CharField(
        required=False, help_text="BCP 47 tags separated by commas, e.g. ja, en."
    )
    commander = forms.ChoiceField(
        label="Incident commander",
        help_text="A crisis always has one; you, unless you choose.",
        widget=LongSelect,
    )
    escalations = forms.CharField(
        required=False,
        label="Also link",
        help_text="Other escalations that are part of it, e.g. WF-12, WF-15.",
    )
    reason = forms.CharField(
        required=False, label="Why now", widget=_textarea(2), help_text="What meets the crisis bar."
    )
    is_restricted = forms.BooleanField(
        required=False,
        label="Restricted",
        help_text="Only people on its access list see it; you and the commander are added.",
    )
    access_list = forms.MultipleChoiceField(
        required=False, widget=LongSelectMultiple(attrs={"size": 5})
    )
    service_fields = {"escalations": "escalations", "holder": "commander"}

    def __init__(self, *args: Any, commander: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "markets").choices = options.market_choices()
        choice_field(self, "commander").choices = options.owner_choices()
        self.fields["commander"].initial = commander
        choice_field(self, "access_list").choices = options.user_choices()

    def clean_languages(self) -> list[str]:
        return language_tags(self.cleaned_data.get("languages", ""))

    def clean_escalations(self) -> list[str]:
        return [
            parse_escalation_reference(reference)
            for reference in _comma_separated(self.cleaned_data.get("escalations", ""))
        ]


class LevelForm(ServiceErrorForm):
    to_level = forms.ChoiceField(label="Move to", choices=Level.choices)
    reason = forms.CharField(
        required=False,
        widget=_textarea(2),
        help_text="Always recorded. Standing down with criteria unmet needs one.",
    )
    confirmed_criteria = forms.MultipleChoiceField(
        required=False,
        label="Confirmed for stand-down",
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(
        self, *args: Any, current: str, criteria: list[CriterionResult], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_level"].widget.choices = [("", "Choose a level")] + [
            (value, label) for value, label in Level.choices if value in LEVEL_TRANSITIONS[current]
        ]
        confirmable = [r.criterion for r in criteria if r.needs_confirmation]
        choice_field(self, "confirmed_criteria").choices = [(c.code, c.label) for c in confirmable]
        if not confirmable:
            del self.fields["confirmed_criteria"]


class RoleForm(VersionedForm):
    role = forms.ChoiceField()
    holder = forms.ChoiceField(label="Hand to", widget=LongSelect)
    note = forms.CharField(
        required=False, widget=_textarea(2), help_text="The handover note: what they need to know."
    )

    def __init__(self, *args: Any, slots: list[RoleSlot], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "role").choices = [
            (slot.key, f"{slot.label} — {slot.holder.display_name if slot.holder else 'open'}")
            for slot in slots
        ]
        choice_field(self, "holder").choices = [("", "Choose a person"), *options.user_choices()]

    def role_and_market(self) -> tuple[str, str]:
        role, _, market = self.cleaned_data["role"].partition(":")
        return role, market


class ReleaseRoleForm(VersionedForm):
    role = forms.ChoiceField(label="Leave open")
    note = forms.CharField(required=False, widget=_textarea(2))

    def __init__(self, *args: Any, slots: list[RoleSlot], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "role").choices = [
            (slot.key, f"{slot.label} — {slot.holder.display_name}")
            for slot in slots
            if slot.holder is not None and slot.role != RoleKind.INCIDENT_COMMANDER
        ]

    def role_and_market(self) -> tuple[str, str]:
        role, _, market = self.cleaned_data["role"].partition(":")
        return role, market


class NoteForm(ServiceErrorForm):
    body = forms.CharField(label="Entry", max_length=NOTE_MAX, widget=_textarea(3))
    kind = forms.ChoiceField(
        choices=CrisisNote.Kind.choices,
        initial=CrisisNote.Kind.NOTE,
        widget=forms.RadioSelect,
        label="It is a",
    )
    pinned = forms.BooleanField(
        required=False, label="Pin as a key fact", help_text="Heads the war room and the sitreps."
    )

    def __init__(self, *args: Any, may_work: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not may_work:
            del self.fields["kind"]
            del self.fields["pinned"]


class LinkForm(ServiceErrorForm):
    escalation = forms.CharField(help_text="A reference such as WF-12.")
    reason = forms.CharField(required=False, max_length=500)
    service_fields = {"escalation_id": "escalation", "escalations": "escalation"}

    def clean_escalation(self) -> str:
        return parse_escalation_reference(self.cleaned_data["escalation"])


class UnlinkForm(ServiceErrorForm):
    reason = forms.CharField(max_length=500)


class AccessForm(VersionedForm):
    is_restricted = forms.BooleanField(required=False, label="Restricted")
    access_list = forms.MultipleChoiceField(
        required=False,
        widget=LongSelectMultiple(attrs={"size": 6}),
        help_text="Who may see it while restricted. You and the role holders stay on it.",
    )

    def __init__(
        self,
        *args: Any,
        is_restricted: bool = False,
        access_list: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "access_list").choices = options.user_choices()
        self.fields["is_restricted"].initial = is_restricted
        self.fields["access_list"].initial = access_list or []


class DetailsForm(ServiceErrorForm):
    title = forms.CharField(max_length=TITLE_MAX)
    summary = forms.CharField(required=False, max_length=SUMMARY_MAX, widget=_textarea(3))
    markets = forms.MultipleChoiceField(
        required=False, widget=forms.SelectMultiple(attrs={"size": 6})
    )
    languages = forms.CharField(required=False, help_text="BCP 47 tags separated by commas.")
    read_version = read_version_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "markets").choices = options.market_choices()

    def clean_languages(self) -> list[str]:
        return language_tags(self.cleaned_data.get("languages", ""))


_SECTION_FIELD = re.compile(r"^sections\[(\d+)\]")


class SitrepForm(ServiceErrorForm):
    """The shared text, and one text per section (``section_<n>_escalation`` and
    ``section_<n>_body``): what concerns one restricted escalation, read by its readers
    only. Unbound, the sections are the draft's; bound, those posted."""

    audience = forms.ChoiceField()
    language = forms.ChoiceField()
    subject = forms.CharField(max_length=500)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "true"}))

    def __init__(
        self,
        *args: Any,
        config: CrisisConfig,
        languages: tuple[str, ...],
        sections: Sequence[DraftSection] = (),
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        choice_field(self, "audience").choices = [
            (a.code, a.name) for a in config.settings.sitreps.audiences
        ]
        choice_field(self, "language").choices = [(code, code) for code in languages]
        if self.is_bound:
            count = 0
            while count < SECTIONS_MAX and f"section_{count}_escalation" in self.data:
                count += 1
            posted = [str(self.data.get(f"section_{n}_escalation", "")) for n in range(count)]
            references = [f"WF-{pk}" if pk.isdigit() else "" for pk in posted]
        else:
            references = [section.reference for section in sections]
            for index, section in enumerate(sections):
                self.initial[f"section_{index}_escalation"] = section.escalation_id
                self.initial[f"section_{index}_body"] = section.body
        for index, reference in enumerate(references):
            self.fields[f"section_{index}_escalation"] = forms.IntegerField(
                widget=forms.HiddenInput, min_value=1
            )
            self.fields[f"section_{index}_body"] = forms.CharField(
                required=False,
                strip=False,
                label=f"Section on {reference} (restricted)",
                help_text="Read only by people who may see it; empty it to leave it out.",
                widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "true"}),
            )

    def form_field_for(self, service_field: str | None) -> str | None:
        match = _SECTION_FIELD.match(service_field or "")
        if match:
            name = f"section_{match.group(1)}_body"
            return name if name in self.fields else None
        return super().form_field_for(service_field)

    def _section_names(self) -> list[str]:
        return [n for n in self.fields if n.startswith("section_") and n.endswith("_body")]

    @property
    def section_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self._section_names()]

    def sections(self) -> list[tuple[int, str]]:
        """(escalation id, text) of each section, as cleaned."""
        data = self.cleaned_data
        return [
            (data[name.removesuffix("_body") + "_escalation"], data.get(name) or "")
            for name in self._section_names()
        ]


class HandoffForm(ServiceErrorForm):
    incoming = forms.ChoiceField(label="Incoming incident commander", widget=LongSelect)
    risks = forms.CharField(
        required=False,
        widget=_textarea(4),
        help_text="What the next shift should watch: the packet lists what the record shows.",
    )
    handoff_at = forms.DateTimeField(widget=forms.HiddenInput, validators=[within_calendar])
    service_fields = {"holder": "incoming", "handoff": "handoff_at"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "incoming").choices = [("", "Choose a person"), *options.owner_choices()]


class AcknowledgeForm(ServiceErrorForm):
    note = forms.CharField(required=False, widget=_textarea(2), label="Note (optional)")


class ReviewForm(ServiceErrorForm):
    summary = forms.CharField(required=False, widget=_textarea(4))
    went_well = forms.CharField(required=False, widget=_textarea(4), label="What went well")
    went_badly = forms.CharField(required=False, widget=_textarea(4), label="What did not go well")
    contributing_factors = forms.CharField(required=False, widget=_textarea(4))
    incident_started_at = LocalDateTimeField(
        required=False,
        label="Incident began",
        help_text="When the harm began, if the team knows better than the record.",
    )
    contained_at = LocalDateTimeField(
        required=False, label="Contained", help_text="Empty: the first stand-down."
    )
    time_zone = forms.ChoiceField(label="Time zone of these times")

    def __init__(self, *args: Any, viewer_time_zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "time_zone").choices = options.time_zone_choices(
            options.markets(), also=[viewer_time_zone]
        )
        self.fields["time_zone"].initial = viewer_time_zone

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        zone = data.get("time_zone")
        if zone:
            for name in ("incident_started_at", "contained_at"):
                value: datetime | None = data.get(name)
                if value is not None:
                    try:
                        data[name] = attach_zone(value, zone)
                    except ValidationError as error:
                        self.add_error(name, error)
        return data


class RootCauseForm(ServiceErrorForm):
    problem = forms.CharField(widget=_textarea(2), help_text="What happened that should not have.")
    root_cause = forms.CharField(widget=_textarea(2), help_text="Where the last why leads.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields = dict(self.fields)
        self.fields.clear()
        self.fields["problem"] = fields["problem"]
        for index in range(WHYS_MAX):
            self.fields[f"why_{index}"] = forms.CharField(
                required=index == 0,
                label=f"Why? ({index + 1})",
                widget=forms.TextInput,
                max_length=5000,
            )
        self.fields["root_cause"] = fields["root_cause"]

    def form_field_for(self, service_field: str | None) -> str | None:
        if service_field and service_field.startswith("whys["):
            index = service_field[5:-1]
            return f"why_{index}" if f"why_{index}" in self.fields else "why_0"
        return super().form_field_for(service_field)

    def whys(self) -> list[str]:
        return [self.cleaned_data.get(f"why_{index}", "") for index in range(WHYS_MAX)]


class ActionItemForm(ServiceErrorForm):
    title = forms.CharField(max_length=300, label="Action")
    owner = forms.ChoiceField(widget=LongSelect)
    due_on = forms.DateField(
        label="Due", widget=forms.DateInput(attrs={"type": "date"}), validators=[within_calendar]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "owner").choices = [("", "Choose an owner"), *options.user_choices()]


class ActionItemStatusForm(ServiceErrorForm):
    status = forms.ChoiceField(choices=ActionItem.Status.choices)
    note = forms.CharField(required=False, max_length=5000, help_text="Needed to drop it.")


_CLUSTER_REFERENCE = re.compile(r"^\s*(?:c-?)?(?P<pk>\d+)\s*$", re.IGNORECASE)


class ClusterLinkForm(ServiceErrorForm):
    cluster = forms.CharField(help_text="Its number, such as C-1234 (on the clusters page).")
    reason = forms.CharField(required=False, max_length=500)
    service_fields = {"cluster_id": "cluster"}

    def clean_cluster(self) -> int:
        match = _CLUSTER_REFERENCE.match(self.cleaned_data["cluster"])
        if match is None:
            raise ValidationError("Give a cluster number such as C-1234.")
        return int(match.group("pk"))


# Between the other spellings of a term: commas (Latin, full-width, Japanese) or lines.
_VARIANT_SEPARATORS = re.compile(r"[,，、\n]")


class WatchlistEntryForm(ServiceErrorForm):
    kind = forms.ChoiceField(choices=WatchlistKind.choices, initial=WatchlistKind.TERM)
    value = forms.CharField(
        max_length=500,
        label="Watch for",
        help_text="A word or phrase, #hashtag, @account, link, domain or media hash. Case, "
        "width and (outside Vietnamese) accents do not matter.",
    )
    language = forms.CharField(
        required=False,
        max_length=35,
        help_text="BCP 47, e.g. ja, vi. A Vietnamese term keeps the diacritics it is written with.",
    )
    variants = forms.CharField(
        required=False,
        max_length=2000,
        label="Other spellings",
        help_text="For a term: spellings that match as it, separated by commas (馬鹿 for バカ). "
        "Left empty, the starter list's are used; katakana and hiragana, width and spaces "
        "between Japanese or Korean letters never matter.",
    )
    note = forms.CharField(required=False, max_length=500, help_text="Why it is watched.")

    def clean_variants(self) -> list[str] | None:
        given = [part.strip() for part in _VARIANT_SEPARATORS.split(self.cleaned_data["variants"])]
        given = [part for part in given if part]
        return given or None


class WatchlistRemoveForm(ServiceErrorForm):
    reason = forms.CharField(required=False, max_length=500)
