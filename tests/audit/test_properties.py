"""Rules that hold for every input: any recorded data verifies, any change to one
event's data is found at that event, and a signed head survives its own round trip but
no change to any of its fields."""

from __future__ import annotations

import json
from datetime import UTC

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.audit.tampering import KEY_A, keyring, run_sql
from watchfloor.audit.events import AuditAction
from watchfloor.audit.hashing import canonical_json
from watchfloor.audit.heads import HeadFileError, SignedHead, check_signatures, parse_heads
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.selectors import verify_chain
from watchfloor.audit.services import record_event

# PostgreSQL's jsonb cannot hold U+0000: a limit of the database, not of the chain.
# Text any database can store: no NUL (PostgreSQL refuses it) and no lone surrogates
# (not UTF-8; the edges refuse them before anything is audited).
text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(text.filter(lambda key: len(key) <= 8), children, max_size=4)
    ),
    max_leaves=12,
)
event_data = st.dictionaries(text.filter(lambda key: 1 <= len(key) <= 8), json_values, max_size=5)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=event_data, replacement=event_data)
def test_any_data_verifies_and_any_change_to_it_is_found_there(db, use_keys, data, replacement):
    with transaction.atomic():
        event = record_event(action=AuditAction.ESCALATION_NOTE_ADDED, actor=None, data=data)
        record_event(action=AuditAction.ESCALATION_NOTE_ADDED, actor=None, data={"after": 1})
    assert verify_chain().ok
    stored = AuditEvent.objects.get(pk=event.pk).data
    if replacement == stored or event.crisis_id is not None:
        return
    with transaction.atomic():
        sid = transaction.savepoint()
        run_sql(
            "UPDATE audit_auditevent SET data = %s WHERE sequence = %s",
            [json.dumps(replacement), event.sequence],
        )
        report = verify_chain()
        transaction.savepoint_rollback(sid)
    assert not report.ok
    assert report.broken_at_sequence == event.sequence


heads = st.builds(
    SignedHead,
    sequence=st.integers(0, 2**40),
    hash=st.text("0123456789abcdef", min_size=64, max_size=64),
    signed_at=st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()),
    keyed_from_sequence=st.integers(1, 2**40),
    key_id=st.just(keyring(KEY_A).signing_key.key_id),
    signature=st.just(""),
)


@given(head=heads, field=st.sampled_from(["sequence", "keyed_from_sequence", "hash"]))
def test_a_signed_head_reads_back_and_any_changed_field_breaks_its_signature(head, field):
    key = keyring(KEY_A).signing_key
    signed = SignedHead(**{**head.__dict__, "signature": key.sign(_canonical(head))})
    [read] = parse_heads(signed.as_json())
    check_signatures([read], keyring=keyring(KEY_A))

    document = json.loads(signed.as_json())
    if field == "hash":
        document["hash"] = ("0" if document["hash"][0] != "0" else "1") + document["hash"][1:]
    else:
        document[field] += 1
    try:
        check_signatures(parse_heads(json.dumps(document)), keyring=keyring(KEY_A))
    except HeadFileError as refused:
        assert "signature does not match" in str(refused)
    else:
        raise AssertionError("a changed head kept its signature")


def _canonical(head: SignedHead) -> str:
    return canonical_json(head.signed_fields())
