"""Chain of custody on the audit chain, legal hold, retention, verify and packages."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.evidence.conftest import image_bytes
from watchfloor.audit.selectors import verify_chain
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, PermissionDenied
from watchfloor.evidence import packages, retention, services, store
from watchfloor.evidence.custody import custody_log
from watchfloor.evidence.models import EvidenceItem, EvidencePackage


def test_the_custody_log_is_on_the_audit_chain(analyst, lead, add_image):
    item = add_image()
    services.reveal_evidence(item=item, actor=analyst)
    services.record_item_viewed(item=item, actor=lead)
    item = services.place_legal_hold(
        item=item, actor=analyst, reason="LE preservation request", version=1
    )
    services.lift_legal_hold(item=item, actor=lead, reason="case closed", version=item.version)
    actions = [event.action for event in custody_log(item)]
    assert actions == [
        "evidence.added",
        "evidence.revealed",
        "evidence.viewed",
        "evidence.hold_placed",
        "evidence.hold_lifted",
    ]
    assert verify_chain().ok


def test_legal_hold_needs_the_current_version_and_a_lead_to_lift(analyst, add_image):
    item = add_image()
    held = services.place_legal_hold(item=item, actor=analyst, reason="preserve", version=1)
    with pytest.raises(Conflict):
        services.place_legal_hold(item=held, actor=analyst, reason="again", version=1)
    with pytest.raises(PermissionDenied):
        services.lift_legal_hold(item=held, actor=analyst, reason="done", version=held.version)


def test_retention_deletes_expired_unheld_bytes_keeps_held_and_shared_files(
    analyst, add_image, frozen_clock, settings
):
    settings.WATCHFLOOR_EVIDENCE_RETENTION_DAYS = {
        **settings.WATCHFLOOR_EVIDENCE_RETENTION_DAYS,
        "general": 30,
        "self_harm": 365,
    }
    expiring = add_image(image_bytes(seed=1))
    held = add_image(image_bytes(seed=2))
    services.place_legal_hold(item=held, actor=analyst, reason="court order", version=1)
    kept_longer = add_image(image_bytes(seed=3), category="self_harm")
    clock.advance(timedelta(days=31))
    # The same bytes added again later share the stored file; it must survive the purge.
    same_bytes = add_image(image_bytes(seed=1), name="again.png")
    assert [e.item for e in retention.purge_expired(actor=None, dry_run=True)] == [expiring]
    assert store.evidence_storage().exists(expiring.original_file)
    purged = retention.purge_expired(actor=None)
    assert [e.item for e in purged] == [expiring]
    expiring.refresh_from_db()
    assert expiring.purged_at is not None and expiring.sha256
    assert store.evidence_storage().exists(same_bytes.original_file)
    for item in (held, kept_longer):
        assert store.evidence_storage().exists(item.original_file)
    assert [e.action for e in custody_log(expiring)][-1] == "evidence.purged"


def test_retention_can_be_longer_for_a_market(add_image, settings):
    settings.WATCHFLOOR_EVIDENCE_RETENTION_BY_MARKET = {"PH": {"general": 999}}
    item = add_image()
    assert retention.retention_days(item, ["PH"]) == 999
    assert retention.retention_days(item, ["JP"]) == 365


def test_verify_names_each_changed_or_missing_file(add_image, evidence_storage):
    good = add_image(image_bytes(seed=1))
    tampered = add_image(image_bytes(seed=2))
    missing = add_image(image_bytes(seed=3))
    call_command("evidence", "verify", stdout=io.StringIO())
    (evidence_storage / tampered.original_file).write_bytes(b"\x89PNG altered")
    (evidence_storage / missing.original_file).unlink()
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 of 3 stored files"):
        call_command("evidence", "verify", stderr=err, stdout=io.StringIO())
    assert f"{tampered.reference}: {tampered.original_file} is changed" in err.getvalue()
    assert f"{missing.reference}: {missing.original_file} is missing" in err.getvalue()
    assert good.reference not in err.getvalue()


def test_a_package_verifies_and_leaves_prohibited_bytes_out(analyst, add_image, escalation):
    photo = add_image(image_bytes(seed=1), name="photo.png")
    prohibited = add_image(image_bytes(seed=2), category="child_sexual_exploitation")
    built = packages.build_package(
        escalation=escalation,
        items=[photo, prohibited],
        actor=analyst,
        requester_zone="Asia/Manila",
    )
    assert built.record.sha256 == hashlib.sha256(built.content).hexdigest()
    assert packages.verify_package(built.content, expected_sha256=built.record.sha256) == []
    with zipfile.ZipFile(io.BytesIO(built.content)) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert names == {
        f"files/{photo.reference}-photo.png",
        "manifest.json",
        "manifest.html",
        "SHA256SUMS",
    }
    entries = {entry["reference"]: entry for entry in manifest["items"]}
    assert entries[prohibited.reference]["file"] is None
    assert "never stored or exported" in entries[prohibited.reference]["reference_only"]
    assert entries[photo.reference]["captured_at"] is None
    assert entries[photo.reference]["added_at"]["requester_zone"].endswith("+08:00")
    assert [c["action"] for c in entries[photo.reference]["custody"]] == ["evidence.added"]
    assert [e.action for e in custody_log(photo)][-1] == "evidence.exported"
    broken = built.content.replace(b"manifest", b"manifesT", 1)
    assert packages.verify_package(broken, expected_sha256=built.record.sha256)


def test_the_cli_adds_lists_purges_and_packages(escalation, tmp_path):
    path = tmp_path / "screen.png"
    path.write_bytes(image_bytes(seed=4))
    out = io.StringIO()
    call_command("evidence", "add", str(path), "--escalation", escalation.reference, stdout=out)
    item = EvidenceItem.objects.get()
    line = out.getvalue()
    assert item.sha256 in line and item.md5 in line and item.pdq in line
    out = io.StringIO()
    call_command("evidence", "list", "--escalation", escalation.reference, stdout=out)
    assert out.getvalue().strip() == line.strip()
    call_command("evidence", "purge", "--dry-run", stdout=io.StringIO(), stderr=io.StringIO())
    zip_path = tmp_path / "package.zip"
    out = io.StringIO()
    call_command(
        "evidence",
        "package",
        "--escalation",
        escalation.reference,
        "--items",
        item.reference,
        "--out",
        str(zip_path),
        stdout=out,
    )
    assert EvidencePackage.objects.get().sha256 in out.getvalue()
    with pytest.raises(CommandError, match="no escalation"):
        call_command("evidence", "add", str(path), "--escalation", "WF-99999")
    with pytest.raises(CommandError, match=r"empty"):
        empty = tmp_path / "empty.png"
        empty.write_bytes(b"")
        call_command("evidence", "add", str(empty), "--escalation", escalation.reference)
