"""Issue 11, finding 13, replayed: someone with write access to the database rewrites
the audit log.

The attacker reads an event, changes it, recomputes every hash after it the way the
source code says (SHA-256 of the previous hash and the event's canonical JSON), moves
the chain head, and runs `watchfloor audit verify`. Before the chain was keyed it said
"intact". Now the hashes are HMACs with a key kept outside the database, the signed
head published elsewhere catches what the chain alone cannot (events removed from the
end, a rewrite by someone who also holds the key), and production refuses to start
without a key.
"""

from __future__ import annotations

import hashlib
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests.audit.tampering import rewrite_from
from tests.security.test_deploy import _environment, watchfloor
from watchfloor.audit.keys import configured_keyring
from watchfloor.audit.models import AuditEvent
from watchfloor.escalations.models import Status
from watchfloor.escalations.services import transition_escalation

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def escalation_history(analyst, make_escalation, frozen_clock) -> list[AuditEvent]:
    escalation = make_escalation()
    transition_escalation(escalation=escalation, to_status=Status.TRIAGED, actor=analyst)
    transition_escalation(escalation=escalation, to_status=Status.INVESTIGATING, actor=analyst)
    return list(AuditEvent.objects.order_by("sequence"))


def _sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _attacker_rehash(from_sequence: int, *, new_data: dict | None = None) -> None:
    """The attacker's own code: no Watchfloor function, only what the source documents."""
    rows = list(AuditEvent.objects.filter(sequence__gte=from_sequence).order_by("sequence"))
    previous = rows[0].previous_hash
    for row in rows:
        data = new_data if (row.sequence == from_sequence and new_data) else row.data
        payload = json.dumps(
            {
                "sequence": row.sequence,
                "occurred_at": row.occurred_at.isoformat(),
                "actor_id": row.actor_id,
                "actor_label": row.actor_label,
                "action": row.action,
                "object_type": row.object_type,
                "object_id": row.object_id,
                "escalation_id": row.escalation_id,
                "data": data,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        digest = hashlib.sha256((previous + payload).encode()).hexdigest()
        _sql(
            "UPDATE audit_auditevent SET data = %s, previous_hash = %s, hash = %s "
            "WHERE sequence = %s",
            [json.dumps(data), previous, digest, row.sequence],
        )
        previous = digest
    _sql("UPDATE audit_auditchainhead SET last_hash = %s WHERE id = 1", [previous])


def _verify(*args: str) -> str:
    out = StringIO()
    call_command("audit", "verify", *args, stdout=out)
    return out.getvalue()


def test_recomputing_the_hashes_after_a_change_no_longer_passes_verify(escalation_history):
    transition = next(e for e in escalation_history if e.action == "escalation.transitioned")
    _attacker_rehash(transition.sequence, new_data={"from": "new", "to": "closed"})

    with pytest.raises(CommandError) as failed:
        _verify()

    assert f"broken at event #{transition.sequence}" in str(failed.value)
    assert "altered" in str(failed.value)


def test_events_removed_from_the_end_are_caught_against_a_published_head(
    escalation_history, tmp_path
):
    head_file = tmp_path / "head.json"
    out = StringIO()
    call_command("audit", "head", stdout=out)
    head_file.write_text(out.getvalue())
    keep = escalation_history[-3]
    # Delete the last two events and move the head row to the new end.
    _sql("DELETE FROM audit_auditevent WHERE sequence > %s", [keep.sequence])
    _sql(
        "UPDATE audit_auditchainhead SET last_sequence = %s, last_hash = %s WHERE id = 1",
        [keep.sequence, keep.hash],
    )
    assert "intact" in _verify()  # the database alone cannot tell

    with pytest.raises(CommandError) as failed:
        _verify("--expect-head", str(head_file))

    assert f"at event #{keep.sequence + 1}" in str(failed.value)
    assert "were removed" in str(failed.value)


def test_a_rewrite_with_the_key_is_caught_against_a_published_head(escalation_history, tmp_path):
    """Even someone who has both the database and the key cannot change what a head
    published elsewhere already covers."""
    head_file = tmp_path / "head.json"
    out = StringIO()
    call_command("audit", "head", stdout=out)
    head_file.write_text(out.getvalue())
    target = escalation_history[len(escalation_history) // 2]
    rewrite_from(target.sequence, data={"rewritten": True}, key=configured_keyring().signing_key)
    assert "intact" in _verify()

    with pytest.raises(CommandError) as failed:
        _verify("--expect-head", str(head_file))

    assert f"at event #{escalation_history[-1].sequence}" in str(failed.value)
    assert "was rewritten" in str(failed.value)


def _deploy_check(env: dict[str, str]):
    return watchfloor("check", "--deploy", "--fail-level", "WARNING", env=env)


@pytest.mark.slow
def test_production_without_an_audit_key_fails_the_deploy_check(tmp_path):
    done = _deploy_check(_environment(tmp_path, WATCHFLOOR_AUDIT_KEY=""))
    assert done.returncode != 0
    assert "production needs an audit key kept outside the database" in done.stderr
    assert not (tmp_path / "audit_key").exists()


@pytest.mark.slow
def test_production_with_a_key_and_a_place_for_heads_passes_the_deploy_check(tmp_path):
    key_file = tmp_path / "audit.key"
    key_file.write_text("k" * 48 + "\n")
    key_file.chmod(0o600)
    data = tmp_path / "data"
    with_key_file = {"WATCHFLOOR_AUDIT_KEY": "", "WATCHFLOOR_AUDIT_KEY_FILE": str(key_file)}
    done = _deploy_check(
        _environment(data, **with_key_file, WATCHFLOOR_AUDIT_HEAD_FILE=str(tmp_path / "h.jsonl"))
    )
    assert done.returncode == 0, done.stderr
    # Without a place for heads, the warning fails a check run at WARNING level.
    done = _deploy_check(_environment(data, **with_key_file))
    assert done.returncode != 0
    assert "watchfloor.W203" in done.stderr
