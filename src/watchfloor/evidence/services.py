"""Evidence writes: adding items, revealing them, legal hold, viewing preferences.

Each action checks the actor, validates, writes and records its audit event (the item's
chain of custody) in one transaction. Files are written to the evidence storage before
the transaction and taken back if it fails, so a refused or failed upload leaves nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, PermissionDenied
from watchfloor.core.roles import can_override_severity, can_work_escalations, is_admin
from watchfloor.core.validation import check_time_range, clean_text, require
from watchfloor.core.versions import require_current_version
from watchfloor.evidence import exposure, media, store, targets
from watchfloor.evidence.custody import record_custody_event
from watchfloor.evidence.models import (
    PROHIBITED_CATEGORIES,
    Category,
    EvidenceItem,
    Kind,
    Reveal,
    Source,
    TeamCarePolicy,
    ViewingPreference,
)
from watchfloor.evidence.permissions import may_record_training

if TYPE_CHECKING:
    from collections.abc import Iterable

    from watchfloor.crises.models import Crisis
    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import Team, User
    from watchfloor.signals.models import Cluster

PROHIBITED_REFUSAL = (
    "child sexual exploitation material is never displayed or downloaded by anyone: "
    "Watchfloor keeps only its hashes and metadata (report it through the legal process)"
)
TRAINING_REFUSAL = (
    "{category} is revealed only to people with the graphic-content training flag; "
    "ask your lead to record your training"
)
_HEX = {"sha256": 64, "md5": 32, "pdq": 64}


def _category(value: str | None) -> str:
    value = value or Category.GENERAL
    if value not in Category.values:
        raise InvalidInput(
            f"category {value!r} is not one of {', '.join(Category.values)}", field="category"
        )
    return value


def _clean_url(value: str | None) -> str:
    url = clean_text(value, field="url", max_length=2000, required=False)
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError as error:
            raise InvalidInput(
                f"url {url[:80]!r} is not an http(s) address", field="url"
            ) from error
    return url


def _require_may_add(actor: User | None) -> None:
    if actor is not None:
        require(can_work_escalations(actor), "only analysts, leads and admins add evidence")


@transaction.atomic
def _create_item(*, actor: User | None, **fields: Any) -> EvidenceItem:
    item = EvidenceItem.objects.create(added_by=actor, added_at=clock.now(), **fields)
    record_custody_event(
        action=AuditAction.EVIDENCE_ADDED,
        item=item,
        actor=actor,
        source=item.source,
        name=item.original_name,
        md5=item.md5,
        pdq=item.pdq,
        pdq_quality=item.pdq_quality,
        size_bytes=item.size_bytes,
        url=item.url,
        content_id=item.content_id,
        stored=bool(item.original_file),
    )
    return item


def add_evidence_file(
    *,
    escalation: Escalation | None = None,
    cluster: Cluster | None = None,
    crisis: Crisis | None = None,
    actor: User | None,
    chunks: Iterable[bytes],
    name: str,
    declared_type: str | None = None,
    category: str | None = None,
    description: str = "",
    url: str = "",
    captured_at: datetime | None = None,
) -> EvidenceItem:
    """Stream a file in, check it, hash it, store it and record it on the escalation,
    cluster or crisis (exactly one, already reached through its access function).

    Child sexual exploitation material is hashed and its bytes dropped: only the hashes
    and metadata are kept, so no URL or export can ever serve it.
    """
    _require_may_add(actor)
    of = targets.target(escalation=escalation, cluster=cluster, crisis=crisis)
    category = _category(category)
    description = clean_text(description, field="description", max_length=500, required=False)
    url = _clean_url(url)
    if captured_at is not None:
        check_time_range(captured_at, field="captured_at")
    work_dir = Path(settings.WATCHFLOOR_EVIDENCE_WORK_DIR)
    received = media.receive(chunks, name=name, declared_type=declared_type, work_dir=work_dir)
    try:
        preview = media.inspect(received, work_dir=work_dir)
        fields: dict[str, Any] = {
            **of.fields,
            "source": Source.URL_CAPTURE if url else Source.UPLOAD,
            "kind": received.kind,
            "category": category,
            "description": description,
            "original_name": received.name,
            "content_type": received.content_type,
            "size_bytes": received.size_bytes,
            "sha256": received.sha256,
            "md5": received.md5,
            "pdq": preview.pdq,
            "pdq_quality": preview.pdq_quality,
            "frame_hashes": preview.frame_hashes,
            "width": preview.width,
            "height": preview.height,
            "url": url,
            "captured_at": captured_at or (clock.now() if url else None),
        }
        if category in PROHIBITED_CATEGORIES:
            fields["preview_note"] = "never displayed: hashes and metadata only"
            return _create_item(actor=actor, **fields)
        with store.stored_files() as files:
            fields["original_file"] = files.put_file(
                store.original_name(received.sha256), received.path
            )
            if preview.display is not None:
                fields["display_file"] = files.put_bytes(
                    store.display_name(received.sha256, preview.display_suffix), preview.display
                )
            if preview.thumbnail is not None:
                fields["thumbnail_file"] = files.put_bytes(
                    store.thumbnail_name(received.sha256), preview.thumbnail
                )
            fields["preview_note"] = preview.note
            return _create_item(actor=actor, **fields)
    finally:
        received.path.unlink(missing_ok=True)


def _hex(value: str | None, field: str) -> str:
    text = (value or "").strip().lower()
    if text and not re.fullmatch(rf"[0-9a-f]{{{_HEX[field]}}}", text):
        raise InvalidInput(f"{field} must be {_HEX[field]} hex digits", field=field)
    return text


def add_evidence_reference(
    *,
    escalation: Escalation | None = None,
    cluster: Cluster | None = None,
    crisis: Crisis | None = None,
    actor: User | None,
    content_id: str = "",
    url: str = "",
    sha256: str = "",
    md5: str = "",
    pdq: str = "",
    category: str | None = None,
    description: str = "",
    captured_at: datetime | None = None,
) -> EvidenceItem:
    """Record material that must not (or cannot) be stored here: an id, a URL, hashes."""
    _require_may_add(actor)
    of = targets.target(escalation=escalation, cluster=cluster, crisis=crisis)
    content_id = clean_text(content_id, field="content_id", max_length=300, required=False)
    url = _clean_url(url)
    if not (content_id or url or sha256):
        raise InvalidInput("give a content id, a URL or a SHA-256 to refer to", field="content_id")
    if captured_at is not None:
        check_time_range(captured_at, field="captured_at")
    return _create_item(
        actor=actor,
        **of.fields,
        source=Source.URL_CAPTURE if url and not content_id else Source.REFERENCE,
        kind=Kind.REFERENCE,
        category=_category(category),
        description=clean_text(description, field="description", max_length=500, required=False),
        content_id=content_id,
        url=url,
        sha256=_hex(sha256, "sha256"),
        md5=_hex(md5, "md5"),
        pdq=_hex(pdq, "pdq"),
        captured_at=captured_at or (clock.now() if url else None),
        preview_note="reference only: nothing stored",
    )


# ---------------------------------------------------------------------------- viewing


def preference_of(person: User) -> ViewingPreference:
    """The person's preferences (the defaults until they change one)."""
    existing = ViewingPreference.objects.filter(person=person).first()
    return existing or ViewingPreference(person=person)


def reveal_refusal(
    *, item: EvidenceItem, viewer: User, preference: ViewingPreference | None = None
) -> str:
    """Why ``viewer`` may not reveal the item, or "" when they may."""
    if item.is_prohibited:
        return PROHIBITED_REFUSAL
    if not item.has_bytes:
        return "nothing to reveal: " + (item.preview_note or "no stored file")
    if item.kind in (Kind.IMAGE, Kind.VIDEO) and not item.display_file:
        # Only a copy without metadata (location, device) is ever shown.
        return "nothing to reveal: " + (item.preview_note or "no display copy")
    preference = preference or preference_of(viewer)
    if item.needs_training and not preference.graphic_content_trained:
        return TRAINING_REFUSAL.format(category=Category(item.category).label)
    return ""


@dataclass(frozen=True)
class RevealOutcome:
    reveal: Reveal
    nudge: str
    # Who is on graphic-content duty now, for someone who is not (advice, not a block).
    advice: str = ""


def reveal_evidence(
    *, item: EvidenceItem, actor: User, seconds: int | None = None
) -> RevealOutcome:
    """Show one item in the clear for a limited time; audited, counted as exposure.

    A refused reveal is audited too (who tried to see what), then raised.
    """
    now = clock.now()
    refusal = reveal_refusal(item=item, viewer=actor)
    advice = exposure.duty_advice(person=actor, now=now) if item.needs_training else ""
    if refusal:
        if advice and refusal == TRAINING_REFUSAL.format(category=Category(item.category).label):
            refusal = f"{refusal}. {advice}"
        with transaction.atomic():
            record_custody_event(
                action=AuditAction.EVIDENCE_REVEAL_REFUSED, item=item, actor=actor, reason=refusal
            )
        raise PermissionDenied(refusal, field="item", code="reveal_refused")
    shortest, longest = settings.WATCHFLOOR_EVIDENCE_REVEAL_SECONDS
    wanted = seconds if seconds is not None else preference_of(actor).reveal_seconds
    if not shortest <= wanted <= longest:
        raise InvalidInput(
            f"seconds must be between {shortest} and {longest}, not {wanted}", field="seconds"
        )
    with transaction.atomic():
        reveal = Reveal.objects.create(
            item=item,
            person=actor,
            category=item.category,
            revealed_at=now,
            ends_at=now + timedelta(seconds=wanted),
            seconds=wanted,
        )
        record_custody_event(
            action=AuditAction.EVIDENCE_REVEALED,
            item=item,
            actor=actor,
            seconds=wanted,
            until=reveal.ends_at,
            reveal_id=reveal.pk,
        )
        nudge = exposure.nudge_after_reveal(person=actor, now=now)
    if nudge and not item.needs_training:
        advice = exposure.duty_advice(person=actor, now=now)
    if nudge and advice:
        nudge = f"{nudge} {advice}"
    return RevealOutcome(reveal=reveal, nudge=nudge, advice=advice)


def record_item_viewed(*, item: EvidenceItem, actor: User) -> None:
    """Opening an item's page is on its custody log (kept off the escalation timeline)."""
    with transaction.atomic():
        record_custody_event(action=AuditAction.EVIDENCE_VIEWED, item=item, actor=actor)


def change_preferences(
    *,
    person: User,
    actor: User,
    blur_radius: int,
    grayscale: bool,
    always_ask: bool,
    reveal_seconds: int,
    version: int,
) -> ViewingPreference:
    """A person's own viewing preferences (nobody else's)."""
    require(actor.pk == person.pk, "people change only their own viewing preferences")
    if not 0 <= blur_radius <= 40:
        raise InvalidInput("blur_radius must be between 0 and 40", field="blur_radius")
    if blur_radius < 4 and grayscale is False:
        # Never fully clear by default: that is what a reveal is for.
        raise InvalidInput(
            "a blur below 4 needs grayscale on, so unrevealed items never show in the clear",
            field="blur_radius",
        )
    shortest, longest = settings.WATCHFLOOR_EVIDENCE_REVEAL_SECONDS
    if not shortest <= reveal_seconds <= longest:
        raise InvalidInput(
            f"reveal_seconds must be between {shortest} and {longest}", field="reveal_seconds"
        )
    with transaction.atomic():
        preference, _ = ViewingPreference.objects.select_for_update().get_or_create(person=person)
        _check_version(preference.version, version)
        before = _preference_values(preference)
        preference.blur_radius = blur_radius
        preference.grayscale = grayscale
        preference.always_ask = always_ask
        preference.reveal_seconds = reveal_seconds
        preference.version += 1
        preference.save()
        record_event(
            action=AuditAction.EVIDENCE_PREFERENCES_CHANGED,
            actor=actor,
            target=preference,
            data={"before": before, "after": _preference_values(preference)},
        )
    return preference


def _preference_values(preference: ViewingPreference) -> dict[str, Any]:
    return {
        "blur_radius": preference.blur_radius,
        "grayscale": preference.grayscale,
        "always_ask": preference.always_ask,
        "reveal_seconds": preference.reveal_seconds,
    }


def _check_version(current: int, read_at: int) -> None:
    if current != read_at:
        raise Conflict(
            f"changed by someone else since you read it (version {read_at}, now {current}); "
            "reload and try again",
            field="version",
        )


def set_graphic_content_training(
    *, person: User, trained: bool, actor: User | None, expected_version: int | None = None
) -> ViewingPreference:
    """Recorded by a lead of the person's team or an admin once the person has had the
    training. ``expected_version`` is the preference's version the form was read at."""
    if actor is not None:
        require(
            may_record_training(actor, person),
            "only admins, and leads for the people of their own team, record "
            "graphic-content training",
        )
    with transaction.atomic():
        preference, _ = ViewingPreference.objects.select_for_update().get_or_create(person=person)
        require_current_version(
            expected=expected_version,
            current=preference.version,
            what=f"{person.display_name}'s training record",
            now="trained" if preference.graphic_content_trained else "not trained",
        )
        before = preference.graphic_content_trained
        preference.graphic_content_trained = trained
        preference.version += 1
        preference.save()
        record_event(
            action=AuditAction.EVIDENCE_TRAINING_CHANGED,
            actor=actor,
            target=preference,
            data={"person": person.get_username(), "from": before, "to": trained},
        )
    return preference


def care_policy_of(team: Team) -> TeamCarePolicy:
    """The team's care policy (off, version 1, until an admin changes it)."""
    return TeamCarePolicy.objects.filter(team=team).first() or TeamCarePolicy(team=team)


def set_team_care_policy(
    *, team: Team, tell_lead: bool, actor: User | None, expected_version: int | None = None
) -> TeamCarePolicy:
    """Whether the team's lead is told when one of them passes the exposure threshold."""
    if actor is not None:
        require(is_admin(actor), "only admins change a team's care policy")
    with transaction.atomic():
        policy, _ = TeamCarePolicy.objects.select_for_update().get_or_create(team=team)
        require_current_version(
            expected=expected_version,
            current=policy.version,
            what=f"{team.name}'s care policy",
            now="lead told" if policy.tell_lead else "lead not told",
        )
        before = policy.tell_lead
        policy.tell_lead = tell_lead
        policy.version += 1
        policy.save()
        record_event(
            action=AuditAction.EVIDENCE_CARE_POLICY_CHANGED,
            actor=actor,
            target=policy,
            data={"team": team.code, "from": before, "to": tell_lead},
        )
    return policy


# ---------------------------------------------------------------------------- legal hold


def place_legal_hold(
    *, item: EvidenceItem, actor: User | None, reason: str, version: int
) -> EvidenceItem:
    if actor is not None:
        require(can_work_escalations(actor), "only analysts, leads and admins place legal holds")
    return _set_hold(item=item, actor=actor, hold=True, reason=reason, version=version)


def lift_legal_hold(
    *, item: EvidenceItem, actor: User | None, reason: str, version: int
) -> EvidenceItem:
    if actor is not None:
        require(can_override_severity(actor), "only leads and admins lift legal holds")
    return _set_hold(item=item, actor=actor, hold=False, reason=reason, version=version)


def _set_hold(
    *, item: EvidenceItem, actor: User | None, hold: bool, reason: str, version: int
) -> EvidenceItem:
    reason = clean_text(reason, field="reason", max_length=500, required=True)
    with transaction.atomic():
        locked = EvidenceItem.objects.select_for_update().get(pk=item.pk)
        _check_version(locked.version, version)
        if locked.legal_hold == hold:
            raise Conflict(
                f"{locked.reference} is {'already' if hold else 'not'} on legal hold",
                field="legal_hold",
            )
        locked.legal_hold = hold
        locked.hold_reason = reason if hold else ""
        locked.version += 1
        locked.save(update_fields=["legal_hold", "hold_reason", "version"])
        record_custody_event(
            action=AuditAction.EVIDENCE_HOLD_PLACED if hold else AuditAction.EVIDENCE_HOLD_LIFTED,
            item=locked,
            actor=actor,
            reason=reason,
        )
    return locked
