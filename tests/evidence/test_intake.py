"""Adding evidence: hashes, content addressing, type by bytes, limits and refusals."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from tests.evidence.conftest import image_bytes, jpeg_with_gps
from watchfloor.audit.models import AuditEvent
from watchfloor.core.errors import InvalidInput, PermissionDenied
from watchfloor.evidence import store
from watchfloor.evidence.models import EvidenceItem


def _stored_files(location) -> list[str]:
    return sorted(str(p.relative_to(location)) for p in location.rglob("*") if p.is_file())


def test_an_image_is_hashed_stored_by_its_sha256_and_audited(add_image, evidence_storage):
    data = image_bytes()
    item = add_image(data)
    assert item.sha256 == hashlib.sha256(data).hexdigest()
    assert item.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert len(item.pdq) == 64 and item.pdq_quality is not None
    assert item.kind == "image" and item.content_type == "image/png"
    assert item.original_file == store.original_name(item.sha256)
    assert store.read_stored(item.original_file) == data
    assert item.thumbnail_file and item.display_file
    event = AuditEvent.objects.get(action="evidence.added")
    assert event.escalation_id == item.escalation_id
    assert event.data["sha256"] == item.sha256 and event.data["stored"] is True


def test_the_same_file_twice_is_stored_once(add_image, evidence_storage):
    first = add_image(image_bytes(seed=3))
    files = _stored_files(evidence_storage)
    second = add_image(image_bytes(seed=3), name="again.png")
    assert first.pk != second.pk and first.original_file == second.original_file
    assert _stored_files(evidence_storage) == files


def test_exif_and_gps_are_stripped_from_the_display_copy_not_the_original(add_image):
    data = jpeg_with_gps()
    assert Image.open(io.BytesIO(data)).getexif()
    item = add_image(data, name="phone.jpg")
    assert store.read_stored(item.original_file) == data
    for name in (item.display_file, item.thumbnail_file):
        copy = Image.open(io.BytesIO(store.read_stored(name)))
        assert not copy.getexif()
        assert "exif" not in copy.info


@pytest.mark.parametrize(
    ("data", "name", "declared", "message"),
    [
        (b"", "empty.png", None, "empty"),
        (b"just some words, nothing more", "notes.png", None, "not a type kept"),
        (image_bytes(), "capture.png", "application/pdf", "says it is application/pdf"),
        (b"%PDF-1.4\n%fake\n", "scan.png", None, "says it is image/png"),
        (image_bytes(), "../../etc/passwd.png", None, "names a path"),
        (image_bytes(), "a\\b.png", None, "names a path"),
        (image_bytes(), "bad\x00name.png", None, "control characters"),
        (image_bytes()[:200], "cut.png", None, "broken"),
    ],
)
def test_bad_files_are_refused_with_a_clear_error_and_nothing_stored(
    add_image, evidence_storage, settings, data, name, declared, message
):
    with pytest.raises(InvalidInput) as refused:
        add_image(data, name=name, declared_type=declared)
    assert message in refused.value.message and refused.value.field == "file"
    assert not EvidenceItem.objects.exists()
    assert _stored_files(evidence_storage) == []
    assert not list(settings.WATCHFLOOR_EVIDENCE_WORK_DIR.glob("*"))


def test_a_file_over_its_kinds_limit_is_refused_while_streaming(
    escalation, settings, evidence_storage
):
    from watchfloor.evidence.services import add_evidence_file

    settings.WATCHFLOOR_EVIDENCE_MAX_BYTES = {
        **settings.WATCHFLOOR_EVIDENCE_MAX_BYTES,
        "image": 100_000,
    }
    sent = []

    def chunks():
        yield image_bytes()
        for _ in range(1000):  # 64 MB if it were all read
            sent.append(1)
            yield b"\0" * 65_536

    with pytest.raises(InvalidInput, match=r"larger than the 0\.1 MB allowed for image"):
        add_evidence_file(escalation=escalation, actor=None, chunks=chunks(), name="big.png")
    assert len(sent) < 5  # stopped at the limit, not after reading everything
    assert _stored_files(evidence_storage) == []
    assert not list(settings.WATCHFLOOR_EVIDENCE_WORK_DIR.glob("*"))


def test_a_decompression_bomb_is_refused(add_image, settings, evidence_storage):
    settings.WATCHFLOOR_EVIDENCE_MAX_IMAGE_PIXELS = 10_000
    # 4000 x 4000 of one colour compresses to a few kilobytes and decodes to 16 megapixels.
    bomb = io.BytesIO()
    Image.new("L", (4000, 4000)).save(bomb, format="PNG")
    with pytest.raises(InvalidInput, match="decompression bomb"):
        add_image(bomb.getvalue(), name="bomb.png")
    assert _stored_files(evidence_storage) == []


def test_a_failure_after_storing_takes_the_files_back(add_image, evidence_storage, monkeypatch):
    from watchfloor.evidence import services

    def fail(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "_create_item", fail)
    with pytest.raises(RuntimeError):
        add_image(image_bytes(seed=9))
    assert _stored_files(evidence_storage) == []


def test_child_sexual_exploitation_material_keeps_hashes_only(add_image, evidence_storage):
    data = image_bytes(seed=5)
    item = add_image(data, category="child_sexual_exploitation")
    assert item.sha256 == hashlib.sha256(data).hexdigest() and item.pdq
    assert not item.original_file and not item.display_file and not item.thumbnail_file
    assert _stored_files(evidence_storage) == []


def test_viewers_and_partners_may_not_add_evidence(escalation, viewer):
    from watchfloor.evidence.services import add_evidence_file

    with pytest.raises(PermissionDenied):
        add_evidence_file(escalation=escalation, actor=viewer, chunks=[image_bytes()], name="x.png")


def test_a_reference_records_hashes_without_a_file(escalation, analyst):
    from watchfloor.evidence.services import add_evidence_reference

    item = add_evidence_reference(
        escalation=escalation,
        actor=analyst,
        content_id="post:1234567",
        sha256="A" * 64,
        category="child_sexual_exploitation",
    )
    assert item.kind == "reference" and item.sha256 == "a" * 64 and not item.original_file
    with pytest.raises(InvalidInput) as refused:
        add_evidence_reference(escalation=escalation, actor=analyst, content_id="x", md5="zz")
    assert refused.value.field == "md5"


def test_a_url_capture_keeps_the_address_and_the_time(add_image, frozen_clock):
    from watchfloor.core import clock

    item = add_image(url="https://example.com/post/1")
    assert item.source == "url_capture" and item.captured_at == clock.now()
    with pytest.raises(InvalidInput) as refused:
        add_image(url="javascript:alert(1)")
    assert refused.value.field == "url"
