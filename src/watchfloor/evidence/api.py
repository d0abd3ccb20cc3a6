"""Evidence over the API: upload, references, list, metadata, reveal, packages.

An item is evidence of one escalation, signals cluster or crisis, and need to know is that
one thing's: an item of an escalation, cluster or crisis the caller may not see is a 404,
like a missing one. A reveal answers with a short-lived signed URL of the display
copy; nothing else ever serves evidence in the clear.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

from django.http import HttpRequest
from django.urls import reverse
from ninja import File, Form, Path, Router, Schema, Status, UploadedFile

from watchfloor.coordination.models import PartnerRequest
from watchfloor.coordination.selectors import requests_visible_to
from watchfloor.core.errors import InvalidInput, NotFound
from watchfloor.evidence import media, packages, selectors, services
from watchfloor.evidence.models import Category, EvidenceItem
from watchfloor.evidence.targets import Target, access_target
from watchfloor.evidence.uploads import REFUSED_ATTRIBUTE
from watchfloor.people.auth import request_actor
from watchfloor.people.models import User
from watchfloor.web.api import READ_ERRORS, WRITE_ERRORS, Id, Input, PersonOut, UtcTime, text

router = Router(tags=["evidence"])


class FrameHashOut(Schema):
    at_seconds: float
    pdq: str
    quality: int


class EvidenceOut(Schema):
    reference: str
    id: int
    # What it is evidence of: "WF-n", "C-n" or "CR-n"; then the one of these three set.
    of: str
    escalation: str | None
    cluster: str | None
    crisis: str | None
    source: str
    kind: str
    category: str
    description: str
    name: str
    content_type: str
    size_bytes: int
    sha256: str
    md5: str
    pdq: str
    pdq_quality: int | None
    frame_hashes: list[FrameHashOut]
    width: int | None
    height: int | None
    url: str
    content_id: str
    captured_at: datetime | None
    added_at: datetime
    added_by: PersonOut | None
    legal_hold: bool
    preview: str
    stored: bool
    version: int

    @classmethod
    def build(cls, item: EvidenceItem) -> EvidenceOut:
        return cls(
            reference=item.reference,
            id=item.pk,
            of=item.target_reference,
            escalation=f"WF-{item.escalation_id}" if item.escalation_id else None,
            cluster=f"C-{item.cluster_id}" if item.cluster_id else None,
            crisis=f"CR-{item.crisis_id}" if item.crisis_id else None,
            source=item.source,
            kind=item.kind,
            category=item.category,
            description=item.description,
            name=item.original_name,
            content_type=item.content_type,
            size_bytes=item.size_bytes,
            sha256=item.sha256,
            md5=item.md5,
            pdq=item.pdq,
            pdq_quality=item.pdq_quality,
            frame_hashes=[FrameHashOut(**frame) for frame in item.frame_hashes],
            width=item.width,
            height=item.height,
            url=item.url,
            content_id=item.content_id,
            captured_at=item.captured_at,
            added_at=item.added_at,
            added_by=PersonOut.build(item.added_by),
            legal_hold=item.legal_hold,
            preview=item.preview_note or ("ready" if item.thumbnail_file else ""),
            stored=item.has_bytes,
            version=item.version,
        )


class ReferenceIn(Input):
    content_id: Annotated[str, text(300)] = ""
    url: Annotated[str, text(2000)] = ""
    sha256: Annotated[str, text(64)] = ""
    md5: Annotated[str, text(32)] = ""
    pdq: Annotated[str, text(64)] = ""
    category: Category = Category.GENERAL
    description: Annotated[str, text(500)] = ""
    captured_at: UtcTime | None = None


class RevealIn(Input):
    seconds: int | None = None


class RevealOut(Schema):
    url: str
    revealed_at: datetime
    ends_at: datetime
    seconds: int
    nudge: str
    # For someone not on graphic-content duty: who is, now (advice, not a block).
    advice: str


class PackageIn(Input):
    items: list[Id]
    requester_zone: Annotated[str, text(64)] = "UTC"
    partner_request: Id | None = None


class PackageOut(Schema):
    # PKG-n: how the partner request's page names it.
    reference: str
    sha256: str
    size_bytes: int
    file_name: str
    items: list[str]
    content_base64: str


_PATHS = {"escalation": "escalations", "cluster": "clusters", "crisis": "crises"}


def _evidence_routes(kind: str) -> None:
    """Upload, references and list on one kind of target: ``/escalations/{id}/evidence``,
    ``/clusters/{id}/evidence``, ``/crises/{id}/evidence`` — the same handlers, each
    reaching its target through that target's own access function."""
    base = f"/{_PATHS[kind]}/{{target_id}}/evidence"

    def list_evidence(request: HttpRequest, target_id: Path[Id]):
        actor = request_actor(request)
        of = access_target(actor=actor, kind=kind, target_id=target_id)
        return [EvidenceOut.build(i) for i in selectors.evidence_list(viewer=actor, of=of)]

    def upload_evidence(
        request: HttpRequest,
        target_id: Path[Id],
        file: File[UploadedFile | None] = None,
        category: Form[Category] = Category.GENERAL,
        description: Form[str] = "",
        url: Form[str] = "",
    ):
        actor = request_actor(request)
        of = access_target(actor=actor, kind=kind, target_id=target_id)
        refused = getattr(request, REFUSED_ATTRIBUTE, "")
        if refused or file is None:
            raise InvalidInput(
                refused or "send the file as the multipart field 'file'", field="file"
            )
        item = services.add_evidence_file(
            **{of.kind: of.obj},
            actor=actor,
            chunks=file.chunks(media.CHUNK_BYTES),
            name=file.name or "",
            declared_type=file.content_type,
            category=category,
            description=description,
            url=url,
        )
        return Status(201, EvidenceOut.build(item))

    def add_reference(request: HttpRequest, target_id: Path[Id], payload: ReferenceIn):
        actor = request_actor(request)
        of = access_target(actor=actor, kind=kind, target_id=target_id)
        item = services.add_evidence_reference(
            **{of.kind: of.obj}, actor=actor, **payload.model_dump()
        )
        return Status(201, EvidenceOut.build(item))

    of_what = f"the {kind}'s" if kind != "crisis" else "the crisis's own"
    for handler, doc in (
        (list_evidence, f"{of_what.capitalize()} evidence, newest first (metadata and hashes)."),
        (
            upload_evidence,
            f"Upload a file to {of_what} evidence (multipart). The type is read from its "
            "bytes; its SHA-256, MD5 and (images, video frames) PDQ are computed on the way "
            "in. With ``url`` it is a URL capture: the page's address, captured now.",
        ),
        (add_reference, "Record material that is not stored here: a content id, a URL, hashes."),
    ):
        handler.__name__ = f"{handler.__name__}_of_{kind}"
        handler.__doc__ = doc
    router.get(base, response={200: list[EvidenceOut], **READ_ERRORS})(list_evidence)
    router.post(base, response={201: EvidenceOut, **WRITE_ERRORS})(upload_evidence)
    router.post(f"{base}/references", response={201: EvidenceOut, **WRITE_ERRORS})(add_reference)


for _kind in _PATHS:
    _evidence_routes(_kind)


@router.get("/evidence/{evidence_id}", response={200: EvidenceOut, **READ_ERRORS})
def get_evidence(request: HttpRequest, evidence_id: Path[Id]):
    actor = request_actor(request)
    item = selectors.access_evidence(actor=actor, evidence_id=evidence_id)
    services.record_item_viewed(item=item, actor=actor)
    return EvidenceOut.build(item)


@router.post("/evidence/{evidence_id}/reveal", response={200: RevealOut, **WRITE_ERRORS})
def reveal_evidence(request: HttpRequest, evidence_id: Path[Id], payload: RevealIn):
    """Reveal one item for a limited time: a signed URL of the display copy (metadata
    stripped) that works until ``ends_at``. Audited; counted as the caller's exposure."""
    actor = request_actor(request)
    item = selectors.access_evidence(actor=actor, evidence_id=evidence_id)
    outcome = services.reveal_evidence(item=item, actor=actor, seconds=payload.seconds)
    reveal = outcome.reveal
    return RevealOut(
        url=request.build_absolute_uri(
            reverse("evidence-revealed", args=[selectors.reveal_token(reveal)])
        ),
        revealed_at=reveal.revealed_at,
        ends_at=reveal.ends_at,
        seconds=reveal.seconds,
        nudge=outcome.nudge,
        advice=outcome.advice,
    )


def _package(request: HttpRequest, kind: str, target_id: int, payload: PackageIn) -> Status:
    actor = request_actor(request)
    of = access_target(actor=actor, kind=kind, target_id=target_id)
    wanted = set(payload.items)
    items = list(selectors.evidence_list(viewer=actor, of=of).filter(pk__in=wanted))
    if len(items) != len(wanted):
        missing = sorted(wanted - {item.pk for item in items})
        raise InvalidInput(f"no evidence EV-{missing[0]} on {of.reference}", field="items")
    partner_request = None
    if payload.partner_request is not None:
        partner_request = _partner_request(actor, of, payload.partner_request)
    built = packages.build_package(
        **{of.kind: of.obj},
        items=sorted(items, key=lambda item: item.pk),
        actor=actor,
        requester_zone=payload.requester_zone,
        partner_request=partner_request,
    )
    return Status(
        201,
        PackageOut(
            reference=built.record.reference,
            sha256=built.record.sha256,
            size_bytes=built.record.size_bytes,
            file_name=built.file_name,
            items=[item.reference for item in items],
            content_base64=base64.b64encode(built.content).decode(),
        ),
    )


def _partner_request(actor: User, of: Target, partner_request_id: int) -> PartnerRequest:
    """The partner request that asked for the package, that the caller may see: one of the
    escalation's, or of one of the crisis's escalations (never one of a restricted
    escalation the caller may not see: that is as missing as a missing one)."""
    requests = requests_visible_to(actor).filter(pk=partner_request_id)
    if of.kind == "escalation":
        requests = requests.filter(escalation=of.obj)
    else:
        requests = requests.filter(escalation__in=of.obj.escalations.all())
    found = requests.first()
    if found is None:
        raise NotFound(
            f"no partner request {partner_request_id} on {of.reference}", field="partner_request"
        )
    return found


@router.post(
    "/escalations/{escalation_id}/evidence/packages", response={201: PackageOut, **WRITE_ERRORS}
)
def build_package(request: HttpRequest, escalation_id: Path[Id], payload: PackageIn):
    """A package for law enforcement or a regulator (ZIP, base64): the files, references
    only for prohibited categories, a manifest and the package's SHA-256."""
    return _package(request, "escalation", escalation_id, payload)


@router.post("/crises/{crisis_id}/evidence/packages", response={201: PackageOut, **WRITE_ERRORS})
def build_crisis_package(request: HttpRequest, crisis_id: Path[Id], payload: PackageIn):
    """A package of a crisis's own evidence (as for an escalation; the manifest carries the
    decisions and statutory basis of the crisis's escalations the caller may see)."""
    return _package(request, "crisis", crisis_id, payload)
