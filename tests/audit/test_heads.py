"""Published heads: `audit head`, `audit verify --expect-head FILE` and the scheduled
export to a file and a webhook (a real HTTP server on this machine)."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.audit.tampering import KEY_A, KEY_B, keyring, record, rewrite_from, truncate_after
from watchfloor.audit.heads import (
    HEAD_FORMAT,
    HeadFileError,
    check_signatures,
    current_signed_head,
    parse_heads,
)
from watchfloor.audit.models import AuditEvent, AuditHeadExport, HeadDestination
from watchfloor.audit.selectors import verify_chain
from watchfloor.audit.services import RETRY_FAILED_EXPORT_AFTER, export_head
from watchfloor.core import clock


@pytest.fixture
def keyed_log(db, use_keys, frozen_clock) -> list[AuditEvent]:
    return record(8)


def audit(*args: str) -> str:
    out = StringIO()
    call_command("audit", *args, stdout=out)
    return out.getvalue().strip()


def publish_head(tmp_path: Path, name: str = "head.json") -> Path:
    path = tmp_path / name
    path.write_text(audit("head") + "\n")
    return path


def verify_against(path: Path) -> str:
    return audit("verify", "--expect-head", str(path))


# ---------------------------------------------------------------- the head


def test_the_head_names_the_last_event_and_is_signed(keyed_log):
    printed = json.loads(audit("head"))

    assert printed["format"] == HEAD_FORMAT
    assert (printed["sequence"], printed["hash"]) == (8, keyed_log[-1].hash)
    assert printed["signed_at"] == clock.now().isoformat()
    assert printed["key_id"] == keyring(KEY_A).signing_key.key_id
    assert printed["keyed_from_sequence"] == 1
    heads = parse_heads(json.dumps(printed))
    check_signatures(heads, keyring=keyring(KEY_A))  # does not raise


def test_an_intact_chain_holds_its_published_head_and_grows_past_it(keyed_log, tmp_path):
    head = publish_head(tmp_path)
    record(3)
    out = verify_against(head)
    assert out.startswith("audit chain intact: 11 events verified; it holds 1 published head")
    assert "the latest at #8" in out


def test_an_empty_chain_has_a_head_too(db, use_keys, tmp_path):
    head = publish_head(tmp_path)
    assert json.loads(head.read_text())["sequence"] == 0
    assert verify_against(head).startswith("audit chain intact: 0 events verified")


# ---------------------------------------------------------------- what only a head catches


def test_a_rewrite_by_someone_holding_the_key_is_caught_by_the_head(keyed_log, tmp_path):
    head = publish_head(tmp_path)
    rewrite_from(4, data={"note": "rewritten"}, key=keyring(KEY_A).signing_key)
    assert verify_chain().ok  # the chain alone cannot tell

    with pytest.raises(CommandError) as failed:
        verify_against(head)

    message = str(failed.value)
    assert "does not match its published heads at event #8" in message
    assert "after #0 and at or before #8 was rewritten" in message


def test_events_removed_from_the_end_are_caught_by_the_head(keyed_log, tmp_path):
    head = publish_head(tmp_path)
    truncate_after(5)
    assert verify_chain().ok  # head row moved to match: the chain alone cannot tell

    with pytest.raises(CommandError) as failed:
        verify_against(head)

    message = str(failed.value)
    assert "at event #6" in message
    assert "events #6 to #8 were removed" in message


def test_a_change_without_the_key_is_named_at_its_event_even_with_a_head(keyed_log, tmp_path):
    head = publish_head(tmp_path)
    rewrite_from(3, data={"note": "rewritten"}, key=None)
    with pytest.raises(CommandError, match=r"audit chain broken at event #3: .*altered"):
        verify_against(head)


def test_a_forged_head_published_after_a_rewrite_does_not_hide_it(keyed_log, tmp_path):
    """The export keeps appending; an honest head published before the rewrite still
    catches it, and the report says after which head the change lies."""
    heads = tmp_path / "heads.jsonl"
    lines = [audit("head")]
    record(4)
    lines.append(audit("head"))
    rewrite_from(10, data={"note": "rewritten"}, key=keyring(KEY_A).signing_key)
    lines.append(audit("head"))  # made from the rewritten chain
    heads.write_text("\n".join(lines) + "\n")

    with pytest.raises(CommandError) as failed:
        verify_against(heads)

    assert "at event #12" in str(failed.value)
    assert "after #8 and at or before #12" in str(failed.value)
    assert "line 2" in str(failed.value)


# ---------------------------------------------------------------- heads that cannot be trusted


def test_a_head_altered_after_signing_is_refused(keyed_log, tmp_path):
    head = publish_head(tmp_path)
    document = json.loads(head.read_text())
    document["sequence"] = 5
    document["hash"] = keyed_log[4].hash
    head.write_text(json.dumps(document))
    with pytest.raises(CommandError, match="line 1: the head's signature does not match"):
        verify_against(head)


def test_a_head_signed_with_another_key_gives_a_clear_error(keyed_log, tmp_path, use_keys):
    head = publish_head(tmp_path)
    use_keys(KEY_B)
    with pytest.raises(CommandError) as failed:
        verify_against(head)
    message = str(failed.value)
    assert f"signed with audit key {keyring(KEY_A).signing_key.key_id!r}" in message
    assert "not among the configured keys" in message
    assert "WATCHFLOOR_AUDIT_KEY" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no audit head"),
        ("{}\n{nope", "line 2: not JSON"),
        ("[1, 2]", "line 1: an audit head is a JSON object"),
        ('{"sequence": 1}', "line 1: missing format, hash"),
        ('{HEAD, "extra": 1}', "unknown field(s) extra"),
        ('{HEAD, "format": "other/1"}', "format is 'other/1'"),
        ('{HEAD, "sequence": -1}', "sequence must be a whole number from 0"),
        ('{HEAD, "sequence": true}', "sequence must be a whole number"),
        ('{HEAD, "hash": "XYZ"}', "hash must be 64 lower-case hexadecimal digits"),
        ('{HEAD, "signed_at": "yesterday"}', "signed_at must be an ISO 8601 time"),
        ('{HEAD, "key_id": ""}', "key_id must name"),
    ],
)
def test_a_heads_file_that_is_not_heads_is_refused_naming_the_line(text, message):
    valid = {
        "format": HEAD_FORMAT,
        "sequence": 1,
        "hash": "a" * 64,
        "signed_at": "2026-11-24T00:30:00+00:00",
        "keyed_from_sequence": 1,
        "key_id": "0123456789abcdef",
        "signature": "b" * 64,
    }
    text = text.replace("{HEAD, ", "{" + json.dumps(valid)[1:-1] + ", ")
    # JSON keeps the last of repeated keys: the override wins.
    with pytest.raises(HeadFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_heads(text)


def test_an_unreadable_heads_file_is_named(keyed_log, tmp_path):
    with pytest.raises(CommandError, match="cannot read it"):
        verify_against(tmp_path / "missing.json")


# ---------------------------------------------------------------- the scheduled export


@pytest.fixture
def export_places(settings, tmp_path, head_receiver):
    settings.WATCHFLOOR_AUDIT_HEAD_FILE = str(tmp_path / "heads.jsonl")
    settings.WATCHFLOOR_AUDIT_HEAD_WEBHOOK_URL = head_receiver.url
    settings.WATCHFLOOR_AUDIT_HEAD_EVERY = timedelta(hours=1)
    return tmp_path / "heads.jsonl", head_receiver


def test_the_export_appends_to_the_file_and_posts_to_the_webhook(keyed_log, export_places):
    heads_file, receiver = export_places

    attempts = export_head(now=clock.now())

    assert [(a.destination, a.succeeded) for a in attempts] == [
        (HeadDestination.FILE, True),
        (HeadDestination.WEBHOOK, True),
    ]
    written = heads_file.read_text().splitlines()
    assert len(written) == 1
    assert receiver.bodies == [written[0].encode()]
    assert receiver.content_types == ["application/json"]
    published = parse_heads(written[0])
    check_signatures(published, keyring=keyring(KEY_A))
    assert (published[0].sequence, published[0].hash) == (8, keyed_log[-1].hash)
    # What was exported is what `verify --expect-head` takes.
    assert verify_against(heads_file).startswith("audit chain intact: 8 events verified")


def test_the_export_runs_once_per_interval_and_the_file_accumulates(keyed_log, export_places):
    heads_file, receiver = export_places
    export_head(now=clock.now())
    clock.advance(timedelta(minutes=30))
    assert export_head(now=clock.now()) == []
    record(2)
    clock.advance(timedelta(minutes=31))

    export_head(now=clock.now())

    sequences = [head.sequence for head in parse_heads(heads_file.read_text())]
    assert sequences == [8, 10]
    assert len(receiver.bodies) == 2


def test_a_failing_webhook_is_recorded_and_tried_again_later_alone(keyed_log, export_places):
    heads_file, receiver = export_places
    receiver.status = 503

    attempts = export_head(now=clock.now())

    failed = [a for a in attempts if not a.succeeded]
    assert [a.destination for a in failed] == [HeadDestination.WEBHOOK]
    assert failed[0].error == "OSError: the receiver answered HTTP 503"
    # Not again at once; after the retry spacing, only the place that failed.
    clock.advance(timedelta(minutes=1))
    assert export_head(now=clock.now()) == []
    receiver.status = 204
    clock.advance(RETRY_FAILED_EXPORT_AFTER)
    again = export_head(now=clock.now())
    assert [(a.destination, a.succeeded) for a in again] == [(HeadDestination.WEBHOOK, True)]
    assert len(heads_file.read_text().splitlines()) == 1
    assert len(receiver.bodies) == 2


def test_an_unwritable_file_does_not_stop_the_webhook(keyed_log, export_places, settings, tmp_path):
    _, receiver = export_places
    settings.WATCHFLOOR_AUDIT_HEAD_FILE = str(tmp_path / "no-such-directory" / "heads.jsonl")

    attempts = export_head(now=clock.now())

    assert [(a.destination, a.succeeded) for a in attempts] == [
        (HeadDestination.FILE, False),
        (HeadDestination.WEBHOOK, True),
    ]
    assert "No such file or directory" in attempts[0].error
    assert len(receiver.bodies) == 1


def test_nothing_is_exported_where_nothing_is_configured(keyed_log, settings):
    settings.WATCHFLOOR_AUDIT_HEAD_FILE = ""
    settings.WATCHFLOOR_AUDIT_HEAD_WEBHOOK_URL = ""
    assert export_head(now=clock.now()) == []
    assert not AuditHeadExport.objects.exists()
    with pytest.raises(CommandError, match="no place to publish audit heads"):
        audit("export-head")


def test_the_export_command_publishes_now_even_when_not_due(keyed_log, export_places):
    heads_file, receiver = export_places
    export_head(now=clock.now())
    out = audit("export-head")
    assert "head #8 to file" in out and "head #8 to webhook" in out
    assert len(heads_file.read_text().splitlines()) == 2
    assert len(receiver.bodies) == 2


def test_the_workers_housekeeping_publishes_the_head(keyed_log, export_places):
    from watchfloor.bootstrap.scheduler import housekeeping_sweep

    heads_file, receiver = export_places
    result = housekeeping_sweep.call()
    assert "audit head published to 2 of 2 place(s) due" in result
    assert [head.sequence for head in parse_heads(heads_file.read_text())] == [8]
    assert len(receiver.bodies) == 1


def test_the_signed_head_reads_the_database_head(keyed_log):
    head = current_signed_head(keyring=keyring(KEY_A))
    assert head.sequence == 8 and head.hash == keyed_log[-1].hash


def test_an_admin_reads_the_exports_and_cannot_change_them(admin_user, keyed_log, export_places):
    from django.test import Client
    from django.urls import reverse

    _, receiver = export_places
    receiver.status = 500
    export_head(now=clock.now())
    client = Client()
    client.force_login(admin_user)

    listing = client.get(reverse("admin:audit_auditheadexport_changelist"))

    assert "the receiver answered HTTP 500" in listing.content.decode()
    assert client.get(reverse("admin:audit_auditheadexport_add")).status_code == 403


def test_a_scheduled_export_refuses_once_the_chain_lost_the_last_published_head(
    keyed_log, export_places, caplog
):
    heads_file, receiver = export_places
    export_head(now=clock.now())
    truncate_after(5)
    clock.advance(timedelta(hours=2))

    refused = export_head(now=clock.now())

    assert [a.succeeded for a in refused] == [False, False]
    assert "no longer holds the head published at" in refused[0].error
    assert "(#8)" in refused[0].error
    assert "audit head not published" in caplog.text
    assert len(heads_file.read_text().splitlines()) == 1 and len(receiver.bodies) == 1
    # The operator publishes anyway, told why; the schedule then resumes from that head.
    err = StringIO()
    call_command("audit", "export-head", stdout=StringIO(), stderr=err)
    assert "warning: the audit chain no longer holds the head published" in err.getvalue()
    assert [head.sequence for head in parse_heads(heads_file.read_text())] == [8, 5]
    record(1)
    clock.advance(timedelta(hours=2))
    assert [a.succeeded for a in export_head(now=clock.now())] == [True, True]
