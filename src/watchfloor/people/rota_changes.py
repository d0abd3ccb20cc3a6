"""Rotas and on call as written: the rota file loaded (every rotation checked, one bad
rotation never fails the rest), overrides made and cancelled, exports recorded; each an
audited write. The on-call arithmetic is in people.rotas."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, PermissionDenied
from watchfloor.core.validation import clean_text
from watchfloor.people.models import (
    RotaOverride,
    Rotation,
    RotationMember,
    RotationShift,
    Team,
    TeamRegion,
    User,
)
from watchfloor.people.permissions import may_manage_rotation
from watchfloor.people.rotafile import default_rota_file, read_rota_file, weekday_numbers
from watchfloor.people.selectors import rota_references
from watchfloor.people.services import SharedPassword, create_user

OVERRIDE_MAX = timedelta(days=92)


OVERRIDE_REASON_MAX = 500


@dataclass
class RotaLoadResult:
    path: Path
    digest: str
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    people_created: list[str] = field(default_factory=list)
    teams_updated: list[str] = field(default_factory=list)


def load_rotas(
    *,
    path: Path | None = None,
    actor: User | None,
    new_people_password: str | None = None,
) -> RotaLoadResult:
    """Validate the rota file and make it the one in force.

    Teams listed get their zone, working hours and regions from the file; people listed
    who have no account yet get one (with ``new_people_password``, else none usable);
    each rotation is created or, when it changed, replaced; rotations no longer in the
    file are retired (overrides on them are kept). Raises ``RotaFileError`` with every
    problem, by line, and writes nothing, when the file has any.
    """
    path = Path(path) if path is not None else default_rota_file()
    # Read and check before the transaction opens: no lock is held during file I/O.
    loaded = read_rota_file(path, references=rota_references())
    spec = loaded.spec
    result = RotaLoadResult(path=loaded.path, digest=loaded.digest)
    now = clock.now()
    with transaction.atomic():
        regions: dict[str, dict[str, list[str]]] = {}
        for team_spec in spec.teams:
            team = Team.objects.select_for_update().get(code=team_spec.code)
            hours = team_spec.working_hours
            team.time_zone = team_spec.time_zone
            team.working_hours_start = hours.start if hours else None
            team.working_hours_end = hours.end if hours else None
            team.working_days = weekday_numbers(hours.days) if hours else []
            team.save(
                update_fields=[
                    "time_zone",
                    "working_hours_start",
                    "working_hours_end",
                    "working_days",
                ]
            )
            team.regions.all().delete()
            TeamRegion.objects.bulk_create(
                TeamRegion(
                    team=team,
                    code=region.code,
                    name=region.name,
                    markets=region.markets,
                    position=position,
                )
                for position, region in enumerate(team_spec.regions)
            )
            regions[team.code] = {r.code: list(r.markets) for r in team_spec.regions}
            result.teams_updated.append(team.code)
        teams = {team.code: team for team in Team.objects.all()}
        shared = SharedPassword.of(new_people_password) if new_people_password else None
        for person in spec.people:
            if User.objects.filter(username=person.username).exists():
                continue
            create_user(
                username=person.username,
                password=shared,
                role=person.role,
                actor=actor,
                team=teams[person.team],
                time_zone=person.time_zone,
                languages=list(person.languages),
                first_name=person.first_name,
                last_name=person.last_name,
                email=person.email,
            )
            result.people_created.append(person.username)
        users = {
            user.username: user
            for user in User.objects.filter(username__in=_members_named(spec.rotations))
        }
        existing = {rotation.code: rotation for rotation in Rotation.objects.select_for_update()}
        for rotation_spec in spec.rotations:
            markets: list[str] = []
            if rotation_spec.region:
                team_regions = regions.get(rotation_spec.team)
                if team_regions is None:
                    team_regions = {
                        r.code: list(r.markets)
                        for r in TeamRegion.objects.filter(team__code=rotation_spec.team)
                    }
                markets = team_regions[rotation_spec.region]
            digest = rotation_spec.digest(markets)
            rotation = existing.pop(rotation_spec.code, None)
            if rotation is not None and rotation.source_digest == digest and rotation.is_active:
                result.unchanged.append(rotation.code)
                continue
            (result.created if rotation is None else result.changed).append(rotation_spec.code)
            rotation = rotation or Rotation(code=rotation_spec.code)
            rotation.name = rotation_spec.name
            rotation.description = rotation_spec.description
            rotation.team = teams[rotation_spec.team]
            rotation.kind = rotation_spec.kind
            rotation.start_date = rotation_spec.start_date
            rotation.region_code = rotation_spec.region or ""
            rotation.markets = markets
            rotation.is_active = True
            rotation.source_digest = digest
            rotation.loaded_at = now
            rotation.save()
            rotation.shifts.all().delete()
            for position, shift_spec in enumerate(rotation_spec.planned_shifts()):
                shift = RotationShift.objects.create(
                    rotation=rotation,
                    position=position,
                    label=shift_spec.label,
                    time_zone=shift_spec.time_zone,
                    starts=shift_spec.starts,
                    days=weekday_numbers(shift_spec.days),
                    graphic_content_duty=shift_spec.graphic_content_duty,
                )
                RotationMember.objects.bulk_create(
                    RotationMember(shift=shift, position=index, user=users[username])
                    for index, username in enumerate(shift_spec.members)
                )
        for code, rotation in existing.items():
            if rotation.is_active:
                rotation.is_active = False
                rotation.save(update_fields=["is_active"])
                result.retired.append(code)
        record_event(
            action=AuditAction.ROTA_LOADED,
            actor=actor,
            data={
                "file": str(loaded.path),
                "digest": loaded.digest[:12],
                "created": result.created,
                "changed": result.changed,
                "retired": result.retired,
                "people_created": result.people_created,
                "teams": result.teams_updated,
            },
        )
    return result


def _members_named(rotations) -> set[str]:
    return {
        username
        for spec in rotations
        for shift in spec.planned_shifts()
        for username in shift.members
    }


def _aware_utc(value: datetime, *, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            "times must carry their zone or offset, e.g. 2026-11-26T09:00:00+09:00", field=field
        )
    return value.astimezone(UTC)


@transaction.atomic
def create_rota_override(
    *,
    rotation: Rotation,
    user: User,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    actor: User,
    replaces: User | None = None,
) -> RotaOverride:
    """Put ``user`` on call instead of ``replaces`` (or of whoever is due) for a period."""
    if not may_manage_rotation(actor, rotation):
        raise PermissionDenied(
            f"only a lead, an admin or a member of {rotation.team.name} may change who is on call"
        )
    starts_at = _aware_utc(starts_at, field="starts_at")
    ends_at = _aware_utc(ends_at, field="ends_at")
    if ends_at <= starts_at:
        raise InvalidInput("the override must end after it starts", field="ends_at")
    if ends_at <= clock.now():
        raise InvalidInput(
            "the override would already be over; who was on call in the past is not rewritten",
            field="ends_at",
        )
    if ends_at - starts_at > OVERRIDE_MAX:
        raise InvalidInput(
            f"an override lasts at most {OVERRIDE_MAX.days} days; change the rota file for longer",
            field="ends_at",
        )
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why (e.g. 'swap with Lee, public holiday')", field="reason")
    reason = clean_text(reason, field="reason", max_length=OVERRIDE_REASON_MAX, required=True)
    if not user.is_active or user.team_id != rotation.team_id:
        raise InvalidInput(
            f"{user.username} is not an active member of {rotation.team.name}", field="user"
        )
    members = set(
        RotationMember.objects.filter(shift__rotation=rotation).values_list("user_id", flat=True)
    )
    if replaces is not None and replaces.pk not in members:
        raise InvalidInput(
            f"{replaces.username} is not on the {rotation.code} rotation", field="replaces"
        )
    if replaces is not None and replaces.pk == user.pk:
        raise InvalidInput("someone cannot stand in for themselves", field="replaces")
    override = RotaOverride.objects.create(
        rotation=rotation,
        user=user,
        replaces=replaces,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=actor,
        created_at=clock.now(),
    )
    record_event(
        action=AuditAction.ROTA_OVERRIDE_CREATED,
        actor=actor,
        target=override,
        data={
            "rotation": rotation.code,
            "team": rotation.team.code,
            "user": user.username,
            "replaces": replaces.username if replaces else None,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "reason": reason,
        },
    )
    return override


@transaction.atomic
def cancel_rota_override(*, override: RotaOverride, actor: User, reason: str = "") -> RotaOverride:
    override = (
        RotaOverride.objects.select_for_update()
        .select_related("rotation__team")
        .get(pk=override.pk)
    )
    if not may_manage_rotation(actor, override.rotation):
        raise PermissionDenied(
            f"only a lead, an admin or a member of {override.rotation.team.name} may change "
            "who is on call"
        )
    if override.cancelled_at is not None:
        raise Conflict("this override is already cancelled", field="override")
    if override.ends_at <= clock.now():
        raise Conflict("this override is over; it stays as the record of who was on call")
    override.cancelled_at = clock.now()
    override.cancelled_by = actor
    override.save(update_fields=["cancelled_at", "cancelled_by"])
    record_event(
        action=AuditAction.ROTA_OVERRIDE_CANCELLED,
        actor=actor,
        target=override,
        data={
            "rotation": override.rotation.code,
            "user": override.user.username,
            "starts_at": override.starts_at,
            "ends_at": override.ends_at,
            "reason": (reason or "").strip()[:OVERRIDE_REASON_MAX],
        },
    )
    return override


@transaction.atomic
def record_rota_export(
    *, rotation: Rotation, actor: User | None, starts_at: datetime, ends_at: datetime, channel: str
) -> None:
    """Who took a rotation's schedule (names and hours of people) out of the system."""
    record_event(
        action=AuditAction.ROTA_EXPORTED,
        actor=actor,
        target=rotation,
        data={
            "rotation": rotation.code,
            "from": starts_at,
            "to": ends_at,
            "format": "ics",
            "channel": channel,
        },
    )
