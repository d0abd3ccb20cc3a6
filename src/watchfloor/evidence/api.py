"""Evidence over the API: upload, references, list, metadata, reveal, packages.

Need to know as for the escalation: an item of an escalation the caller may not see is a
404, like a missing one. A reveal answers with a short-lived signed URL of the display
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
from watchfloor.core.errors import InvalidInput, NotFound
from watchfloor.escalations.selectors import access_escalation
from watchfloor.evidence import media, packages, selectors, services
from watchfloor.evidence.models import Category, EvidenceItem
from watchfloor.evidence.uploads import REFUSED_ATTRIBUTE
from watchfloor.people.auth import request_actor
from watchfloor.web.api import READ_ERRORS, WRITE_ERRORS, Id, Input, PersonOut, UtcTime, text

router = Router(tags=["evidence"])


class FrameHashOut(Schema):
    at_seconds: float
    pdq: str
    quality: int


class EvidenceOut(Schema):
    reference: str
    id: int
    escalation: str
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
            escalation=f"WF-{item.escalation_id}",
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


class PackageIn(Input):
    items: list[Id]
    requester_zone: Annotated[str, text(64)] = "UTC"
    partner_request: Id | None = None


class PackageOut(Schema):
    sha256: str
    size_bytes: int
    file_name: str
    items: list[str]
    content_base64: str


@router.get(
    "/escalations/{escalation_id}/evidence", response={200: list[EvidenceOut], **READ_ERRORS}
)
def list_evidence(request: HttpRequest, escalation_id: Path[Id]):
    """The escalation's evidence, newest first (metadata and hashes only)."""
    actor = request_actor(request)
    escalation = access_escalation(actor=actor, escalation_id=escalation_id)
    return [
        EvidenceOut.build(i) for i in selectors.evidence_list(viewer=actor, escalation=escalation)
    ]


@router.post("/escalations/{escalation_id}/evidence", response={201: EvidenceOut, **WRITE_ERRORS})
def upload_evidence(
    request: HttpRequest,
    escalation_id: Path[Id],
    file: File[UploadedFile | None] = None,
    category: Form[Category] = Category.GENERAL,
    description: Form[str] = "",
    url: Form[str] = "",
):
    """Upload a file (multipart). The type is read from its bytes; its SHA-256, MD5 and
    (images, video frames) PDQ are computed on the way in. With ``url`` it is a URL
    capture: the page's address, captured now by the caller."""
    actor = request_actor(request)
    escalation = access_escalation(actor=actor, escalation_id=escalation_id)
    refused = getattr(request, REFUSED_ATTRIBUTE, "")
    if refused or file is None:
        raise InvalidInput(refused or "send the file as the multipart field 'file'", field="file")
    item = services.add_evidence_file(
        escalation=escalation,
        actor=actor,
        chunks=file.chunks(media.CHUNK_BYTES),
        name=file.name or "",
        declared_type=file.content_type,
        category=category,
        description=description,
        url=url,
    )
    return Status(201, EvidenceOut.build(item))


@router.post(
    "/escalations/{escalation_id}/evidence/references", response={201: EvidenceOut, **WRITE_ERRORS}
)
def add_reference(request: HttpRequest, escalation_id: Path[Id], payload: ReferenceIn):
    """Record material that is not stored here: a content id, a URL, hashes."""
    actor = request_actor(request)
    escalation = access_escalation(actor=actor, escalation_id=escalation_id)
    item = services.add_evidence_reference(
        escalation=escalation, actor=actor, **payload.model_dump()
    )
    return Status(201, EvidenceOut.build(item))


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
    )


@router.post(
    "/escalations/{escalation_id}/evidence/packages", response={201: PackageOut, **WRITE_ERRORS}
)
def build_package(request: HttpRequest, escalation_id: Path[Id], payload: PackageIn):
    """A package for law enforcement or a regulator (ZIP, base64): the files, references
    only for prohibited categories, a manifest and the package's SHA-256."""
    actor = request_actor(request)
    escalation = access_escalation(actor=actor, escalation_id=escalation_id)
    wanted = set(payload.items)
    items = list(selectors.evidence_list(viewer=actor, escalation=escalation).filter(pk__in=wanted))
    if len(items) != len(wanted):
        missing = sorted(wanted - {item.pk for item in items})
        raise InvalidInput(f"no evidence EV-{missing[0]} on {escalation.reference}", field="items")
    partner_request = None
    if payload.partner_request is not None:
        partner_request = PartnerRequest.objects.filter(
            pk=payload.partner_request, escalation=escalation
        ).first()
        if partner_request is None:
            raise NotFound(
                f"no partner request {payload.partner_request} on {escalation.reference}",
                field="partner_request",
            )
    built = packages.build_package(
        escalation=escalation,
        items=sorted(items, key=lambda item: item.pk),
        actor=actor,
        requester_zone=payload.requester_zone,
        partner_request=partner_request,
    )
    return Status(
        201,
        PackageOut(
            sha256=built.record.sha256,
            size_bytes=built.record.size_bytes,
            file_name=built.file_name,
            items=[item.reference for item in items],
            content_base64=base64.b64encode(built.content).decode(),
        ),
    )
