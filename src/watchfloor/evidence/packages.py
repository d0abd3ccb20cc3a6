"""Evidence packages for law enforcement and regulators.

A ZIP holding the chosen items' original files (references only for prohibited
categories, whose bytes are never kept), ``manifest.json`` and a printable
``manifest.html`` (hashes, capture times in UTC and the requester's zone, each item's
custody log, the escalation's decisions and statutory basis — for a crisis's evidence, those
of the crisis's escalations the builder may see) and ``SHA256SUMS`` over
every other member. The package's own SHA-256 is recorded in the audit event and the
package row, and given to whoever receives it: :func:`verify_package` checks all of it.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.template.loader import render_to_string

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, PermissionDenied
from watchfloor.core.roles import can_work_escalations
from watchfloor.core.validation import require
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.evidence import store, targets
from watchfloor.evidence.custody import custody_log, record_custody_event
from watchfloor.evidence.models import EvidenceItem, EvidencePackage
from watchfloor.evidence.permissions import may_download_package

if TYPE_CHECKING:
    from watchfloor.coordination.models import PartnerRequest
    from watchfloor.crises.models import Crisis
    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User

MAX_ITEMS = 500


@dataclass(frozen=True)
class BuiltPackage:
    record: EvidencePackage
    content: bytes
    manifest: dict[str, Any]

    @property
    def file_name(self) -> str:
        return self.record.file_name


def _times(moment: datetime | None, zone: ZoneInfo) -> dict[str, str] | None:
    if moment is None:
        return None
    return {"utc": moment.isoformat(), "requester_zone": moment.astimezone(zone).isoformat()}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(
            f"requester_zone {name!r} is not an IANA time zone (e.g. Asia/Tokyo)",
            field="requester_zone",
        ) from error


def _file_member(item: EvidenceItem) -> str:
    return f"files/{item.reference}-{item.original_name or 'file'}"


def _item_entry(item: EvidenceItem, zone: ZoneInfo) -> dict[str, Any]:
    included = _item_entry_included(item)
    reason = ""
    if item.is_prohibited:
        reason = "prohibited category: hashes and metadata only, never stored or exported"
    elif not item.has_bytes:
        reason = item.preview_note or "no stored file"
    return {
        "reference": item.reference,
        "name": item.original_name,
        "kind": item.kind,
        "category": item.category,
        "content_type": item.content_type,
        "size_bytes": item.size_bytes,
        "sha256": item.sha256,
        "md5": item.md5,
        "pdq": item.pdq,
        "pdq_quality": item.pdq_quality,
        "frame_hashes": item.frame_hashes,
        "url": item.url,
        "content_id": item.content_id,
        "captured_at": _times(item.captured_at, zone),
        "added_at": _times(item.added_at, zone),
        "added_by": item.added_by.get_username() if item.added_by else "system",
        "legal_hold": item.legal_hold,
        "file": _file_member(item) if included else None,
        "reference_only": reason,
        "custody": [
            {
                "sequence": event.sequence,
                "at": _times(event.occurred_at, zone),
                "actor": event.actor_label,
                "action": event.action,
                "event_hash": event.hash,
            }
            for event in custody_log(item)
        ],
    }


def _escalation_entry(escalation: Escalation, zone: ZoneInfo) -> dict[str, Any]:
    decisions = escalation.decisions.select_related("action", "policy_version")
    clocks = escalation.clocks.filter(kind="statutory")
    return {
        "reference": escalation.reference,
        "title": escalation.title,
        "decisions": [
            {
                "action": str(d.action),
                "state": d.state,
                "policy_version": str(d.policy_version),
                "countries": d.countries,
                "scope": d.scope,
                "rationale": d.rationale,
                "decided_at": _times(d.decided_at, zone),
            }
            for d in decisions
        ],
        "statutory_basis": [
            {
                "label": c.label,
                "basis": c.basis,
                "notice_reference": c.notice_reference,
                "due_at": _times(c.due_at, zone),
            }
            for c in clocks
        ],
    }


def _crisis_entry(crisis: Crisis, zone: ZoneInfo, *, actor: User | None) -> dict[str, Any]:
    """The crisis, and the decisions and statutory basis of its escalations that the
    builder may see (a restricted escalation's never enter another's package)."""
    linked = crisis.escalations.all()
    if actor is not None:
        linked = linked.filter(pk__in=escalations_visible_to(actor).values("pk"))
    return {
        "reference": crisis.reference,
        "title": crisis.title,
        "declared_at": _times(crisis.declared_at, zone),
        "escalations": [_escalation_entry(e, zone) for e in linked.order_by("pk")],
    }


def build_package(
    *,
    escalation: Escalation | None = None,
    crisis: Crisis | None = None,
    items: list[EvidenceItem],
    actor: User | None,
    requester_zone: str = "UTC",
    partner_request: PartnerRequest | None = None,
) -> BuiltPackage:
    """Build, record and audit a package of items of one escalation or one crisis (already
    visible to the actor: the caller reached them through the need-to-know selectors)."""
    if actor is not None:
        require(can_work_escalations(actor), "only analysts, leads and admins build packages")
    of = targets.target(escalation=escalation, crisis=crisis)
    if not items:
        raise InvalidInput("choose at least one evidence item", field="items")
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"a package holds at most {MAX_ITEMS} items", field="items")
    if any(getattr(item, f"{of.kind}_id") != of.pk for item in items):
        raise InvalidInput(f"every item must be evidence of {of.reference}", field="items")
    if partner_request is not None and not _asked_about(partner_request, of):
        raise InvalidInput(
            f"the partner request is not one of {of.reference}", field="partner_request"
        )
    zone = _zone(requester_zone)
    now = clock.now()
    manifest: dict[str, Any] = {
        "package": {
            "built_at": _times(now, zone),
            "built_by": actor.get_username() if actor else "system",
            "requester_zone": requester_zone,
            "partner_request": partner_request.pk if partner_request else None,
        },
        "items": [_item_entry(item, zone) for item in items],
    }
    if escalation is not None:
        manifest["escalation"] = _escalation_entry(escalation, zone)
    if crisis is not None:
        manifest["crisis"] = _crisis_entry(crisis, zone, actor=actor)
    content = _zip(items, manifest)
    package_sha256 = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        record = EvidencePackage.objects.create(
            escalation=escalation,
            crisis=crisis,
            partner_request=partner_request,
            built_by=actor,
            built_at=now,
            requester_zone=requester_zone,
            sha256=package_sha256,
            size_bytes=len(content),
            manifest=manifest,
        )
        record.items.set(items)
        record_event(
            action=AuditAction.EVIDENCE_PACKAGE_BUILT,
            actor=actor,
            target=record,
            escalation_id=escalation.pk if escalation else None,
            data={
                "of": of.reference,
                **({"crisis_id": crisis.pk} if crisis else {}),
                "package_sha256": package_sha256,
                "items": [item.reference for item in items],
                "partner_request": partner_request.pk if partner_request else None,
                "requester_zone": requester_zone,
            },
        )
        for item in items:
            record_custody_event(
                action=AuditAction.EVIDENCE_EXPORTED,
                item=item,
                actor=actor,
                package_sha256=package_sha256,
                file_included=_item_entry_included(item),
            )
    return BuiltPackage(record=record, content=content, manifest=manifest)


def unavailable_reason(package: EvidencePackage, *, purged_items: int) -> str:
    """Why the package cannot be made again ("" when it can), from what the row says."""
    if not package.manifest:
        return "it was built before packages kept their manifest"
    if purged_items:
        return "retention has deleted the files of some of its items"
    return ""


def reproduce_package(package: EvidencePackage) -> bytes:
    """The package's ZIP again, byte for byte, from its kept manifest and the items'
    originals; Conflict when that is no longer possible or gives other bytes than the
    recorded SHA-256 (a file changed: ``evidence verify`` names it)."""
    items = {item.reference: item for item in package.items.all()}
    purged = sum(1 for item in items.values() if item.purged_at is not None)
    reason = unavailable_reason(package, purged_items=purged)
    if reason:
        raise Conflict(f"{package.reference} cannot be made again: {reason}", field="package")
    try:
        ordered = [items[entry["reference"]] for entry in package.manifest["items"]]
        content = _zip(ordered, package.manifest)
    except (KeyError, FileNotFoundError, OSError) as error:
        raise Conflict(
            f"{package.reference} cannot be made again: {error}", field="package"
        ) from error
    if hashlib.sha256(content).hexdigest() != package.sha256:
        raise Conflict(
            f"{package.reference} made again does not give its recorded SHA-256: a file has "
            "changed (run `watchfloor evidence verify`)",
            field="package",
        )
    return content


def download_package(*, package: EvidencePackage, actor: User) -> bytes:
    """The package made again for someone allowed to have it, audited as a package event
    and as an export on each item's custody log. The caller reached the package through
    ``selectors.access_package`` (need to know)."""
    if not may_download_package(actor, package):
        raise PermissionDenied(
            "only analysts, leads, admins and the team the request asked may download packages"
        )
    content = reproduce_package(package)
    with transaction.atomic():
        record_event(
            action=AuditAction.EVIDENCE_PACKAGE_DOWNLOADED,
            actor=actor,
            target=package,
            escalation_id=package.escalation_id,
            data={
                "of": package.subject_reference,
                **({"crisis_id": package.crisis_id} if package.crisis_id else {}),
                "package": package.reference,
                "package_sha256": package.sha256,
                "partner_request": package.partner_request_id,
            },
        )
        for item in package.items.all():
            record_custody_event(
                action=AuditAction.EVIDENCE_EXPORTED,
                item=item,
                actor=actor,
                package_sha256=package.sha256,
                file_included=_item_entry_included(item),
                downloaded=True,
            )
    return content


def _asked_about(partner_request: PartnerRequest, of: targets.Target) -> bool:
    if of.kind == "escalation":
        return partner_request.escalation_id == of.pk
    return of.obj.escalations.filter(pk=partner_request.escalation_id).exists()


def _item_entry_included(item: EvidenceItem) -> bool:
    return item.has_bytes and not item.is_prohibited


def _zip(items: list[EvidenceItem], manifest: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    sums: list[str] = []
    # Every member carries the same fixed time: the same content gives the same bytes.
    stamp = (1980, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, data: bytes) -> None:
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), data)
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}")

        for item in items:
            if _item_entry_included(item):
                add(_file_member(item), store.read_stored(item.original_file))
        manifest_json = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True)
        add("manifest.json", manifest_json.encode())
        html = render_to_string("evidence/package_manifest.html", {"manifest": manifest})
        add("manifest.html", html.encode())
        archive.writestr(
            zipfile.ZipInfo("SHA256SUMS", date_time=stamp), ("\n".join(sums) + "\n").encode()
        )
    return buffer.getvalue()


def verify_package(content: bytes, *, expected_sha256: str) -> list[str]:
    """What is wrong with a package (nothing: an empty list)."""
    problems = []
    if hashlib.sha256(content).hexdigest() != expected_sha256:
        problems.append("the package's SHA-256 is not the one recorded")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            problems += _member_problems(archive)
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        problems.append(f"the package cannot be read: {error}")
    return problems


def _member_problems(archive: zipfile.ZipFile) -> list[str]:
    problems = []
    manifest = json.loads(archive.read("manifest.json"))
    for line in archive.read("SHA256SUMS").decode().splitlines():
        digest, _, name = line.partition("  ")
        if hashlib.sha256(archive.read(name)).hexdigest() != digest:
            problems.append(f"{name} does not match SHA256SUMS")
    for entry in manifest["items"]:
        member = entry["file"]
        if member and hashlib.sha256(archive.read(member)).hexdigest() != entry["sha256"]:
            problems.append(f"{member} does not match its SHA-256 in the manifest")
    return problems
