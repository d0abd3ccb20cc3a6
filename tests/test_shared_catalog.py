"""The catalog the tests share (loaded once per session, tests/shared_catalog.py) is the
catalog a test loading it itself would get, and a test that does not ask for it does not
see it."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import connection

from tests import shared_catalog
from tests.conftest import DEFAULT_NOW, _Session
from watchfloor.audit.models import AuditChainHead, AuditEvent
from watchfloor.audit.selectors import verify_chain
from watchfloor.catalog.models import CatalogVersion
from watchfloor.catalog.services import load_catalog
from watchfloor.core import clock


def _models_by_table() -> dict[str, Any]:
    return {model._meta.db_table: model for model in apps.get_models(include_auto_created=True)}


def _rows(tables: tuple[str, ...], *, with_keys: bool) -> dict[str, list[tuple]]:
    """Every row of ``tables``; without their keys (primary and foreign, which differ
    between loads on PostgreSQL, whose sequences a rollback does not reset) unless
    ``with_keys``."""
    models = _models_by_table()
    dump = {}
    for table in tables:
        model = models[table]
        columns = [field.column for field in model._meta.concrete_fields]
        if not with_keys:
            keys = {model._meta.pk.column} | {
                field.column for field in model._meta.concrete_fields if field.is_relation
            }
            if model is AuditEvent:
                # The object id is the version's key, and the hash covers it.
                keys |= {"object_id", "hash", "previous_hash"}
            columns = [column for column in columns if column not in keys]
        rows = list(model._base_manager.order_by("pk").values_list(*columns))
        dump[table] = rows if with_keys else sorted(rows, key=repr)
    return dump


def test_the_shared_catalog_is_what_loading_it_in_the_test_makes(catalog):
    shared = _Session.catalog
    assert shared is not None and catalog.pk == shared.version_pk
    with_keys = connection.vendor == "sqlite"
    assert {"catalog_catalogversion", "policy_policy", "audit_auditevent"} <= set(shared.tables)
    as_shared = _rows(shared.tables, with_keys=with_keys)
    head_as_shared = AuditChainHead.objects.values_list("last_sequence", "last_hash").get()

    shared_catalog.remove(shared)
    assert not CatalogVersion.objects.exists()
    with clock.frozen_at(DEFAULT_NOW):
        fresh = load_catalog(actor=None)

    assert _rows(shared.tables, with_keys=with_keys) == as_shared
    assert fresh.content == catalog.content and fresh.loaded_at == catalog.loaded_at
    if with_keys:
        assert fresh.pk == catalog.pk
        assert AuditChainHead.objects.values_list("last_sequence", "last_hash").get() == (
            head_as_shared
        )
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_test_without_the_catalog_starts_from_the_migrated_database():
    assert not CatalogVersion.objects.exists()
    assert not AuditEvent.objects.exists()
    head = AuditChainHead.objects.get(pk=1)
    assert head.last_sequence == 0


def test_the_first_test_of_a_session_without_the_catalog_does_not_see_it_either(db):
    # Asking for `db` as an argument sets the database up after the autouse fixtures:
    # run alone, this is the test that creates the database and loads the catalog.
    assert not CatalogVersion.objects.exists()
    assert AuditChainHead.objects.get(pk=1).last_sequence == 0
