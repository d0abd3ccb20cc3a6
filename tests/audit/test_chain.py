"""The audit log: append-only, hash-chained, and checked end to end.

Tampering of any kind (an altered event, a removed one, a truncated tail, swapped
hashes) is found, and reported at the sequence where the chain first breaks.
"""

from __future__ import annotations

import itertools
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.hashing import compute_event_hash
from watchfloor.audit.keys import configured_keyring
from watchfloor.audit.models import GENESIS_HASH, AppendOnlyError, AuditChainHead, AuditEvent
from watchfloor.audit.selectors import verify_chain
from watchfloor.audit.services import record_event
from watchfloor.escalations.models import Status
from watchfloor.escalations.services import transition_escalation


@pytest.fixture
def busy_log(analyst, make_escalation, frozen_clock) -> list[AuditEvent]:
    """A log with users, an escalation and its first moves in it."""
    escalation = make_escalation()
    transition_escalation(escalation=escalation, to_status=Status.TRIAGED, actor=analyst)
    transition_escalation(escalation=escalation, to_status=Status.INVESTIGATING, actor=analyst)
    events = list(AuditEvent.objects.order_by("sequence"))
    assert len(events) >= 6
    return events


def _run(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _middle(events: list[AuditEvent]) -> AuditEvent:
    return events[len(events) // 2]


# ---------------------------------------------------------------- an intact chain


def test_an_untouched_log_verifies(busy_log):
    report = verify_chain()
    assert report.ok
    assert report.events_checked == len(busy_log)
    assert report.broken_at_sequence is None


def test_each_event_carries_the_hash_of_the_one_before(busy_log):
    assert [e.sequence for e in busy_log] == list(range(1, len(busy_log) + 1))
    assert busy_log[0].previous_hash == GENESIS_HASH
    for before, after in itertools.pairwise(busy_log):
        assert after.previous_hash == before.hash
    head = AuditChainHead.objects.get(pk=1)
    assert (head.last_sequence, head.last_hash) == (busy_log[-1].sequence, busy_log[-1].hash)


def test_an_empty_log_verifies(db):
    report = verify_chain()
    assert report.ok
    assert report.events_checked == 0


def test_an_event_names_who_did_what(analyst, busy_log):
    created = AuditEvent.objects.get(action=AuditAction.ESCALATION_CREATED)
    assert created.actor == analyst
    assert created.actor_label == analyst.username
    assert created.action_label == "Escalation created"
    system = AuditEvent.objects.get(action=AuditAction.CATALOG_LOADED)  # no person did this
    assert system.actor_label == "system"


# ---------------------------------------------------------------- tampering


def test_altering_an_events_data_is_found_at_that_event(busy_log):
    target = _middle(busy_log)
    _run(
        "UPDATE audit_auditevent SET data = %s WHERE sequence = %s",
        ['{"reason": "nothing to see here"}', target.sequence],
    )

    report = verify_chain()

    assert not report.ok
    assert report.broken_at_sequence == target.sequence
    assert report.events_checked == target.sequence - 1
    assert "altered" in report.problem


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor_label", "someone.else"),
        ("action", "escalation.note_added"),
        ("escalation_id", 999),
        ("crisis_id", 999),
    ],
)
def test_altering_any_recorded_column_is_found(column, value, busy_log):
    target = _middle(busy_log)
    _run(
        f"UPDATE audit_auditevent SET {column} = %s WHERE sequence = %s",  # noqa: S608
        [value, target.sequence],
    )
    report = verify_chain()
    assert not report.ok
    assert report.broken_at_sequence == target.sequence


def test_rehashing_an_altered_event_breaks_the_link_to_the_next(busy_log):
    """Even with the audit key, rewriting one event breaks the link from the next."""
    target = _middle(busy_log)
    forged_data = {"from": "new", "to": "closed", "reason": "forged"}
    forged_hash = compute_event_hash(
        previous_hash=target.previous_hash,
        sequence=target.sequence,
        occurred_at=target.occurred_at,
        actor_id=target.actor_id,
        actor_label=target.actor_label,
        action=target.action,
        object_type=target.object_type,
        object_id=target.object_id,
        escalation_id=target.escalation_id,
        data=forged_data,
        key=configured_keyring().signing_key,
    )
    _run(
        "UPDATE audit_auditevent SET data = %s, hash = %s WHERE sequence = %s",
        ['{"from": "new", "to": "closed", "reason": "forged"}', forged_hash, target.sequence],
    )

    report = verify_chain()

    assert report.broken_at_sequence == target.sequence + 1
    assert "previous_hash" in report.problem


def test_deleting_an_event_in_the_middle_is_found(busy_log):
    target = _middle(busy_log)
    _run("DELETE FROM audit_auditevent WHERE sequence = %s", [target.sequence])

    report = verify_chain()

    assert not report.ok
    assert report.broken_at_sequence == target.sequence
    assert "missing" in report.problem


def test_deleting_the_last_event_is_found_by_the_chain_head(busy_log):
    last = busy_log[-1]
    _run("DELETE FROM audit_auditevent WHERE sequence = %s", [last.sequence])

    report = verify_chain()

    assert not report.ok
    assert report.broken_at_sequence == last.sequence
    assert report.events_checked == last.sequence - 1
    assert "chain head" in report.problem


def test_swapping_two_hashes_is_found_at_the_first_of_them(busy_log):
    first, second = busy_log[2], busy_log[3]
    _run("UPDATE audit_auditevent SET hash = %s WHERE sequence = %s", ["x" * 64, first.sequence])
    _run(
        "UPDATE audit_auditevent SET hash = %s WHERE sequence = %s",
        [first.hash, second.sequence],
    )
    _run(
        "UPDATE audit_auditevent SET hash = %s WHERE sequence = %s",
        [second.hash, first.sequence],
    )

    report = verify_chain()

    assert not report.ok
    assert report.broken_at_sequence == first.sequence


def test_verifying_in_small_chunks_finds_the_same_break(busy_log):
    target = busy_log[-2]
    _run(
        "UPDATE audit_auditevent SET data = %s WHERE sequence = %s",
        ['{"tampered": true}', target.sequence],
    )
    assert verify_chain(chunk_size=2).broken_at_sequence == target.sequence


# ---------------------------------------------------------------- append-only


def test_an_event_cannot_be_saved_again(busy_log):
    event = AuditEvent.objects.get(sequence=1)
    event.data = {"rewritten": True}
    with pytest.raises(AppendOnlyError):
        event.save()
    assert AuditEvent.objects.get(sequence=1).data != {"rewritten": True}


def test_an_event_cannot_be_deleted(busy_log):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.get(sequence=1).delete()
    assert AuditEvent.objects.filter(sequence=1).exists()


@pytest.mark.parametrize(
    "attempt",
    [
        lambda events: events.update(actor_label="someone.else"),
        lambda events: events.delete(),
        lambda events: AuditEvent.objects.bulk_update(
            [_with_label(e, "someone.else") for e in events], ["actor_label"]
        ),
    ],
    ids=["update", "delete", "bulk_update"],
)
def test_the_queryset_refuses_to_change_events(attempt, busy_log):
    with pytest.raises(AppendOnlyError), transaction.atomic():
        attempt(AuditEvent.objects.filter(sequence__lte=2))
    assert verify_chain().ok
    assert AuditEvent.objects.count() == len(busy_log)


def _with_label(event: AuditEvent, label: str) -> AuditEvent:
    event.actor_label = label
    return event


def test_a_fresh_instance_cannot_overwrite_an_existing_event(busy_log):
    original = AuditEvent.objects.get(sequence=1)
    impostor = AuditEvent(
        pk=original.pk,
        sequence=original.sequence,
        occurred_at=original.occurred_at,
        action=original.action,
        data={"rewritten": True},
        previous_hash=original.previous_hash,
        hash=original.hash,
    )
    with pytest.raises((AppendOnlyError, IntegrityError)), transaction.atomic():
        impostor.save()
    assert AuditEvent.objects.get(sequence=1).data == original.data


# ---------------------------------------------------------------- writing events


@pytest.mark.django_db(transaction=True)
def test_an_event_cannot_be_written_outside_a_transaction():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        record_event(action=AuditAction.USER_CREATED, actor=None, data={})
    assert not AuditEvent.objects.exists()


def test_data_that_cannot_be_recorded_faithfully_is_refused(db):
    with pytest.raises(TypeError), transaction.atomic():
        record_event(action=AuditAction.USER_CREATED, actor=None, data={"blob": object()})
    assert not AuditEvent.objects.exists()
    assert verify_chain().ok


# ---------------------------------------------------------------- the verify command


def test_the_verify_command_reports_the_count_when_intact(busy_log):
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert out.getvalue().strip() == f"audit chain intact: {len(busy_log)} events verified"


def test_the_verify_command_names_the_broken_sequence(busy_log):
    target = _middle(busy_log)
    _run(
        "UPDATE audit_auditevent SET data = %s WHERE sequence = %s",
        ['{"tampered": true}', target.sequence],
    )
    with pytest.raises(CommandError) as failed:
        call_command("audit", "verify", stdout=StringIO())
    assert f"broken at event #{target.sequence}" in str(failed.value)
    assert f"{target.sequence - 1} events verified before it" in str(failed.value)


def test_an_event_about_a_crisis_is_indexed_by_it_and_the_copy_is_checked(db):
    from django.db import transaction as db_transaction

    with db_transaction.atomic():
        about = record_event(
            action=AuditAction.CRISIS_NOTE_ADDED,
            actor=None,
            data={"crisis_id": 7, "crisis": "CR-7"},
        )
        unrelated = record_event(
            action=AuditAction.CRISIS_NOTE_ADDED, actor=None, data={"crisis_id": "7"}
        )
    assert (about.crisis_id, unrelated.crisis_id) == (7, None)
    assert verify_chain().ok
    # Moving an event to another crisis's timeline is found, though no hash covers the copy.
    _run("UPDATE audit_auditevent SET crisis_id = 8 WHERE sequence = %s", [about.sequence])
    report = verify_chain()
    assert not report.ok and report.broken_at_sequence == about.sequence
    assert "crisis" in report.problem


# ---------------------------------------------------------------- appending after the unexpected


def _append(note: str) -> AuditEvent:
    with transaction.atomic():
        return record_event(action=AuditAction.USER_CREATED, actor=None, data={"note": note})


def test_an_append_after_a_rolled_back_one_follows_the_stored_head(db):
    first = _append("kept")
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(action=AuditAction.USER_CREATED, actor=None, data={"note": "undone"})
        raise RuntimeError("the change it recorded failed")
    after = _append("after the rollback")
    assert after.sequence == first.sequence + 1
    assert after.previous_hash == first.hash
    assert verify_chain().ok


def test_an_append_after_another_connection_appended_follows_it(transactional_db):
    import threading

    from django.db import connections

    mine = _append("this thread")

    def other_thread() -> None:
        try:
            _append("another thread, its own connection")
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    theirs = AuditEvent.objects.get(sequence=mine.sequence + 1)
    after = _append("this thread again")
    assert after.sequence == theirs.sequence + 1
    assert after.previous_hash == theirs.hash
    assert verify_chain().ok


def test_many_appends_in_one_transaction_chain_in_order(db):
    with transaction.atomic():
        events = [
            record_event(action=AuditAction.USER_CREATED, actor=None, data={"n": n})
            for n in range(5)
        ]
    assert [e.sequence for e in events] == list(range(events[0].sequence, events[0].sequence + 5))
    assert all(b.previous_hash == a.hash for a, b in itertools.pairwise(events))
    head = AuditChainHead.objects.get(pk=1)
    assert (head.last_sequence, head.last_hash) == (events[-1].sequence, events[-1].hash)
    assert verify_chain().ok
