"""Reads shared for one unit of work (core.shared_reads): once per scope, fresh outside."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from watchfloor.core.shared_reads import shared_reads, shared_within

calls: list[tuple] = []


@shared_within
def _read(name: str, *, times: int = 1) -> list[str]:
    calls.append((name, times))
    if name == "broken":
        raise LookupError(name)
    return [name] * times


@pytest.fixture(autouse=True)
def _fresh_calls():
    calls.clear()


def test_outside_a_scope_every_call_reads():
    assert _read("a") == ["a"]
    assert _read("a") == ["a"]
    assert calls == [("a", 1), ("a", 1)]


def test_inside_a_scope_each_set_of_arguments_is_read_once():
    with shared_reads():
        first = _read("a")
        assert _read("a") is first
        assert _read("a", times=2) == ["a", "a"]
        assert _read("b") == ["b"]
        assert _read("a", times=2) == ["a", "a"]
    assert calls == [("a", 1), ("a", 2), ("b", 1)]


def test_a_nested_scope_shares_the_outer_one_and_nothing_outlives_it():
    with shared_reads():
        outer = _read("a")
        with shared_reads():
            assert _read("a") is outer
        assert _read("a") is outer
    assert _read("a") is not outer
    assert calls == [("a", 1), ("a", 1)]


def test_an_error_is_not_kept():
    with shared_reads():
        for _ in range(2):
            with pytest.raises(LookupError):
                _read("broken")
    assert calls == [("broken", 1), ("broken", 1)]


@pytest.mark.django_db
def test_escalations_filed_in_one_scope_read_the_catalog_and_playbooks_once(make_escalation):
    def statements(fragment: str, captured: CaptureQueriesContext) -> int:
        return sum(fragment in query["sql"] for query in captured.captured_queries)

    with CaptureQueriesContext(connection) as apart:
        make_escalation(title="First")
        make_escalation(title="Second")
    with CaptureQueriesContext(connection) as together, shared_reads():
        make_escalation(title="Third")
        make_escalation(title="Fourth")
    catalog = 'FROM "catalog_catalogversion"'
    playbooks = 'WHERE "playbooks_playbook"."is_active"'
    types = 'FROM "escalations_escalationtype"'
    markets = 'WHERE "markets_market"."code" IN'
    for read in (catalog, playbooks, types, markets):
        assert statements(read, apart) == 2, read
        assert statements(read, together) == 1, read
    assert len(together.captured_queries) < len(apart.captured_queries)
