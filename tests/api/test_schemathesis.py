"""Property-based: whatever a client sends, valid or not, the API never answers with a 5xx.

Schemathesis reads the schema from the in-process WSGI application and generates requests
for every operation (positive and negative data), sent with a valid admin token so that
they reach the handlers rather than stop at authentication.

The WSGI application runs in this thread, on this test's database connection, inside
pytest-django's test transaction: nothing is committed and nothing is left behind. Like
Django's own test client, the test keeps the handler from closing "old" connections at
the start and end of each request, which would otherwise end that transaction. (A
transactional database would work too, but its flush costs time in every such test.)

The schema is loaded when a test runs, not when the module is collected: building the
tests of ~40 operations (Schemathesis computes each one's coverage cases as it builds
it) took most of a collection, in every pytest-xdist worker and in runs that deselect
the slow tests. The operations are dealt into ``SHARDS`` tests so that workers share
them; each shard reports each of its operations as a subtest.

Run it with ``pytest -m slow tests/api/test_schemathesis.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema

# Per operation and phase; ~15 operations keep the whole run around a minute.
MAX_EXAMPLES = 30


@pytest.fixture
def connection_kept_open():
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(catalog, make_user, connection_kept_open) -> dict[str, object]:
    """An admin token, a few real escalations (one with a pending decision) and a crisis
    with a war-room entry, so that generated ids sometimes land on something that exists."""
    from watchfloor.crises.services import add_crisis_note, declare_crisis
    from watchfloor.escalations.decisions import record_decision
    from watchfloor.escalations.filing import create_escalation
    from watchfloor.escalations.inputs import EscalationInput
    from watchfloor.people.api_tokens import create_api_token

    admin = make_user("ada.admin", "admin")
    _, secret = create_api_token(
        user=admin, name="schemathesis", scopes=["read", "write", "ingest"], actor=None
    )
    escalations = [
        create_escalation(
            actor=admin,
            details=EscalationInput(
                type_code="scam_campaign",
                title=f"Seeded scam {index}",
                markets=["PH"],
                rubric_answers={"harm": "severe", "imminence": "imminent", "reach": "viral"},
                is_restricted=index == 2,
            ),
        )
        for index in range(3)
    ]
    decision = record_decision(
        escalation=escalations[0],
        actor=admin,
        policy_code="scams_fraud",
        action_code="remove_content",
        scope="the seeded posts",
        rationale="seeded",
    )
    crisis = declare_crisis(
        actor=admin,
        title="Seeded crisis",
        declared_from=escalations[0],
        escalations=[escalations[1]],
    )
    note = add_crisis_note(crisis=crisis, body="seeded", actor=admin)
    return {
        "authorization": f"Bearer {secret}",
        "escalation_ids": [e.pk for e in escalations],
        "decision_id": decision.pk,
        "crisis_id": crisis.pk,
        "note_id": note.pk,
    }


# Operations are dealt round-robin, in the schema's order, into this many tests.
SHARDS = 4


@functools.cache
def _full_schema() -> BaseSchema:
    """The API's schema, read once per process from the WSGI application (serving it
    touches no database)."""
    from watchfloor.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


def _labels_of_shard(shard: int) -> list[str]:
    labels = [result.ok().label for result in _full_schema().get_all_operations()]
    return labels[shard::SHARDS]


class _RunningShard:
    """The operations of the shard whose test runs now. Schemathesis applies the
    filters of the lazy schema below, not those of the fixture's schema, so the filter
    reads the shard from here; the fixture sets it just before the test builds."""

    labels: frozenset[str] = frozenset()


@pytest.fixture(params=range(SHARDS), ids=lambda shard: f"shard {shard + 1} of {SHARDS}")
def api_schema(request, connection_kept_open) -> Iterator[BaseSchema]:
    """The API's schema, for the test of one shard. (The first load serves a request,
    whose end must not close the test's connection.)"""
    _RunningShard.labels = frozenset(_labels_of_shard(request.param))
    try:
        yield _full_schema()
    finally:
        _RunningShard.labels = frozenset()


schema = schemathesis.pytest.from_fixture("api_schema").include(
    lambda context: context.operation.label in _RunningShard.labels
)


@pytest.fixture(autouse=True)
def _node_id_for_lazy_schemathesis(request) -> None:
    """Schemathesis's lazy loader (4.32) renames the running test by writing the node's
    private ``_nodeid``, which pytest 9.2 no longer has (it keeps ``_id``): reading it
    fails before any operation runs. A plain attribute holding the node id lets it run;
    pytest's reports use ``nodeid`` and the subtests carry the operation's label."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.mark.slow
def test_the_shards_cover_every_operation_once(connection_kept_open):
    operations = [result.ok().label for result in _full_schema().get_all_operations()]
    dealt = [label for shard in range(SHARDS) for label in _labels_of_shard(shard)]
    assert sorted(dealt) == sorted(operations)
    assert len(set(operations)) == len(operations) >= SHARDS


def _aim_at_real_objects(case, seeded) -> None:
    """Send even generated ids to seeded objects; odd and malformed ones stay as generated
    (the 404 and 422 paths)."""
    parameters = case.path_parameters or {}
    targets = {
        "escalation_id": seeded["escalation_ids"],
        "decision_id": [seeded["decision_id"]],
        "crisis_id": [seeded["crisis_id"]],
        "note_id": [seeded["note_id"]],
    }
    for name, ids in targets.items():
        value = str(parameters.get(name, ""))
        if value.isascii() and value.isdigit() and int(value) % 2 == 0:
            parameters[name] = ids[int(value) // 2 % len(ids)]


@pytest.mark.slow
# The lazy test asks for its fixtures (``seeded``) only when it runs; the mark tells
# pytest-django beforehand that it needs the test database.
@pytest.mark.django_db
# Above the lazy parametrize, where its tests read their settings from.
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
@schema.parametrize()
def test_no_input_makes_the_api_fail(case, seeded):
    _aim_at_real_objects(case, seeded)
    case.call_and_validate(
        headers={"Authorization": seeded["authorization"]}, checks=[not_a_server_error]
    )
