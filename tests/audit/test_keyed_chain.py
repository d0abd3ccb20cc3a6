"""The keyed chain: each hash an HMAC with a key kept outside the database.

Someone who can write the database but does not hold the key can no longer alter an
event and recompute the hashes after it; a log written before keying keeps verifying,
sealed at the upgrade; keys rotate; a wrong key is reported as such.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import threading
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from tests.audit.tampering import (
    KEY_A,
    KEY_B,
    keyring,
    record,
    rewrite_from,
    run_sql,
    seal_the_unkeyed_events,
)
from watchfloor.audit.hashing import canonical_json
from watchfloor.audit.keys import (
    DEVELOPMENT_KEY_FILE_NAME,
    keyed_start_message,
    keyring_from_environment,
)
from watchfloor.audit.models import AuditChainHead, AuditEvent
from watchfloor.audit.selectors import verify_chain


@pytest.fixture
def keyed_log(db, use_keys, frozen_clock) -> list[AuditEvent]:
    return record(8)


# ---------------------------------------------------------------- what is written


def test_each_new_event_is_an_hmac_with_the_configured_key(keyed_log):
    signing = keyring(KEY_A).signing_key
    first = keyed_log[0]
    payload = canonical_json(
        {
            "sequence": first.sequence,
            "occurred_at": first.occurred_at.isoformat(),
            "actor_id": None,
            "actor_label": "system",
            "action": first.action,
            "object_type": "",
            "object_id": "",
            "escalation_id": 7,
            "data": first.data,
        }
    )
    expected = hmac.new(
        KEY_A.encode(), (first.previous_hash + payload).encode(), hashlib.sha256
    ).hexdigest()
    assert first.hash == expected
    assert {event.key_id for event in keyed_log} == {signing.key_id}
    # The key id reveals nothing of the key: it is not the key nor its plain digest.
    assert signing.key_id not in KEY_A
    assert signing.key_id not in hashlib.sha256(KEY_A.encode()).hexdigest()
    assert verify_chain().ok


def test_a_fresh_database_is_keyed_from_its_first_event(keyed_log):
    head = AuditChainHead.objects.get(pk=1)
    assert head.keyed_from_sequence == 1
    assert head.keyed_from_seal == ""


# ---------------------------------------------------------------- a writer without the key


def test_recomputing_plain_hashes_after_a_change_is_caught_where_it_was_made(keyed_log):
    """The attack that worked before keying: alter an event, recompute every hash after
    it, move the head. Plain SHA-256 no longer matches."""
    target = keyed_log[3]
    rewrite_from(target.sequence, data={"note": "nothing happened"}, key=None)

    report = verify_chain()

    assert not report.ok and not report.missing_key
    assert report.broken_at_sequence == target.sequence
    assert "altered" in report.problem


def test_recomputing_plain_hashes_and_dropping_the_key_ids_is_caught(keyed_log):
    target = keyed_log[3]
    rewrite_from(target.sequence, data={"note": "nothing happened"}, key=None, keep_key_ids=False)

    report = verify_chain()

    assert report.broken_at_sequence == target.sequence
    assert "names no audit key" in report.problem


def test_recomputing_with_a_guessed_key_under_the_real_key_id_is_caught(keyed_log):
    target = keyed_log[5]
    guessed = keyring(KEY_B).signing_key
    rewrite_from(target.sequence, data={"note": "forged"}, key=guessed, key_id=target.key_id)

    report = verify_chain()

    assert report.broken_at_sequence == target.sequence
    assert "altered" in report.problem


@pytest.mark.parametrize("column", ["hash", "key_id"])
def test_text_that_is_not_ascii_in_a_digest_column_is_a_change_not_a_crash(keyed_log, column):
    run_sql(f"UPDATE audit_auditevent SET {column} = %s WHERE sequence = 4", ["é" * 16])  # noqa: S608
    report = verify_chain()
    assert not report.ok and report.broken_at_sequence == 4


def test_deleting_the_head_row_makes_every_event_need_a_key_and_is_reported(keyed_log):
    run_sql("DELETE FROM audit_auditchainhead", [])
    report = verify_chain()
    assert not report.ok
    assert "head row is missing" in report.problem


# ---------------------------------------------------------------- the wrong key


def test_a_wrong_key_is_reported_as_a_missing_key_not_as_tampering(keyed_log, use_keys):
    written_with = keyed_log[0].key_id
    configured = use_keys(KEY_B)

    report = verify_chain()

    assert not report.ok and report.missing_key
    assert report.broken_at_sequence == 1
    assert written_with in report.problem
    assert configured.signing_key.key_id in report.problem
    assert "WATCHFLOOR_AUDIT_KEY" in report.problem
    with pytest.raises(CommandError, match=r"cannot verify the audit chain from event #1: .*"):
        call_command("audit", "verify", stdout=StringIO())


def test_a_rotated_key_signs_new_events_and_the_earlier_one_still_verifies(keyed_log, use_keys):
    use_keys(KEY_B, KEY_A)
    later = record(3, note="after rotation")
    assert {event.key_id for event in later} == {keyring(KEY_B).signing_key.key_id}
    assert verify_chain().ok
    # Dropping the earlier key too soon is a configuration problem, named as such.
    use_keys(KEY_B)
    report = verify_chain()
    assert report.missing_key and report.broken_at_sequence == 1


# ---------------------------------------------------------------- a log written before keying


def test_a_log_written_before_keying_verifies_and_new_events_are_keyed(legacy_log):
    head = AuditChainHead.objects.get(pk=1)
    assert head.keyed_from_sequence == 7
    assert head.keyed_from_key_id == keyring(KEY_A).signing_key.key_id
    assert verify_chain().ok  # sealed, no keyed event yet

    later = record(2)

    assert [event.sequence for event in later] == [7, 8]
    assert all(event.key_id for event in later)
    assert all(not event.key_id for event in legacy_log)
    assert verify_chain().ok


def test_rewriting_the_unkeyed_part_is_caught_by_the_seal(legacy_log):
    rewrite_from(3, data={"note": "rewritten"}, key=None)

    report = verify_chain()

    assert not report.ok
    assert report.broken_at_sequence == 6
    assert "seal" in report.problem and "at or before #6" in report.problem


def test_rewriting_the_unkeyed_part_is_caught_once_keyed_events_follow(legacy_log):
    record(2)
    events = list(AuditEvent.objects.filter(sequence__lte=6).order_by("sequence"))
    # Rewrite the unkeyed events only: the keyed #7 still links to the old #6.
    rewrite_from(3, data={"note": "rewritten"}, key=None)
    run_sql(
        "UPDATE audit_auditchainhead SET last_hash = %s WHERE id = 1",
        [AuditEvent.objects.get(sequence=8).hash],
    )
    assert events[-1].hash != AuditEvent.objects.get(sequence=6).hash

    report = verify_chain()

    assert not report.ok and report.broken_at_sequence == 6


def test_moving_the_keyed_start_later_to_rewrite_keyed_events_is_caught(legacy_log):
    record(3)
    # Pretend #7..#9 were never keyed and recompute them with plain SHA-256.
    rewrite_from(7, data={"note": "forged"}, key=None, keep_key_ids=False)
    run_sql("UPDATE audit_auditchainhead SET keyed_from_sequence = 10 WHERE id = 1", [])

    report = verify_chain()

    assert not report.ok
    assert "seal" in report.problem and "or the start was moved" in report.problem


def test_moving_the_keyed_start_to_the_beginning_is_caught(legacy_log):
    run_sql("UPDATE audit_auditchainhead SET keyed_from_sequence = 1 WHERE id = 1", [])
    report = verify_chain()
    assert report.broken_at_sequence == 1
    assert "names no audit key" in report.problem


def test_the_seal_made_with_a_key_no_longer_configured_is_named(legacy_log, use_keys):
    use_keys(KEY_B)
    report = verify_chain()
    assert report.missing_key
    assert report.problem.startswith(
        "the seal on the start of the keyed chain (#7) was signed with audit key"
    )


def test_sealing_an_empty_database_leaves_it_keyed_from_the_start(db, use_keys):
    AuditChainHead.objects.get_or_create(pk=1)
    seal_the_unkeyed_events()
    head = AuditChainHead.objects.get(pk=1)
    assert (head.keyed_from_sequence, head.keyed_from_seal) == (1, "")


def test_the_seal_covers_the_start_and_the_last_unkeyed_hash(legacy_log):
    head = AuditChainHead.objects.get(pk=1)
    expected = keyring(KEY_A).signing_key.sign(
        keyed_start_message(sequence=7, previous_hash=legacy_log[-1].hash)
    )
    assert head.keyed_from_seal == expected


# ---------------------------------------------------------------- where the key comes from


def test_the_key_comes_from_the_environment(tmp_path):
    ring = keyring_from_environment(
        {"WATCHFLOOR_AUDIT_KEY": KEY_A}, data_dir=tmp_path, production=True
    )
    assert ring.signing_key.secret == KEY_A.encode()
    assert not ring.is_development_key
    assert not (tmp_path / DEVELOPMENT_KEY_FILE_NAME).exists()


def test_a_key_file_holds_the_current_key_then_earlier_ones(tmp_path):
    key_file = tmp_path / "audit.key"
    key_file.write_text(f"{KEY_B}\n{KEY_A}\n")
    ring = keyring_from_environment(
        {"WATCHFLOOR_AUDIT_KEY_FILE": str(key_file)}, data_dir=tmp_path, production=True
    )
    assert ring.signing_key.secret == KEY_B.encode()
    assert ring.key_ids == (keyring(KEY_B).signing_key.key_id, keyring(KEY_A).signing_key.key_id)
    assert ring.path == key_file.resolve()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "production needs an audit key"),
        ({"WATCHFLOOR_AUDIT_KEY": "short"}, "has 5 characters; use at least 32"),
        ({"WATCHFLOOR_AUDIT_KEY": KEY_A, "WATCHFLOOR_AUDIT_KEY_FILE": "/x"}, "not both"),
        ({"WATCHFLOOR_AUDIT_KEY_FILE": "/nonexistent/audit.key"}, "cannot read"),
        ({"WATCHFLOOR_AUDIT_KEY": f"{KEY_A} {KEY_A}"}, "same audit key twice"),
    ],
    ids=["missing-in-production", "too-short", "both", "unreadable-file", "repeated"],
)
def test_a_wrong_key_setting_stops_the_start_with_its_name(tmp_path, environ, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        keyring_from_environment(environ, data_dir=tmp_path, production=True)


def test_outside_production_a_private_key_file_is_made_once_in_the_data_directory(tmp_path):
    first = keyring_from_environment({}, data_dir=tmp_path, production=False)
    again = keyring_from_environment({}, data_dir=tmp_path, production=False)
    key_file = tmp_path / DEVELOPMENT_KEY_FILE_NAME
    assert first.is_development_key and first.path == key_file
    assert first.signing_key == again.signing_key
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert repr(first.signing_key) == f"AuditKey({first.signing_key.key_id!r})"


def test_processes_starting_together_share_one_development_key(tmp_path):
    start = threading.Barrier(8)
    rings = []

    def read_key() -> None:
        start.wait()
        rings.append(keyring_from_environment({}, data_dir=tmp_path, production=False))

    threads = [threading.Thread(target=read_key) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({ring.signing_key.key_id for ring in rings}) == 1
    assert [path.name for path in tmp_path.iterdir()] == [DEVELOPMENT_KEY_FILE_NAME]
