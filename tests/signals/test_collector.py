"""The collector runs rarely on every intake path (the `ingest` command and the batch
API), and the process's own setting comes back afterwards, however the intake ends and
however many batches overlap."""

from __future__ import annotations

import gc
import json
import threading

import pytest
from django.test import Client

from tests.signals.test_intake import make_signal
from watchfloor.signals import intake
from watchfloor.signals.collector import BULK_COLLECTION_THRESHOLD, collecting_rarely


@pytest.fixture
def default_threshold():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield (700, 10, 10)
    gc.set_threshold(*before)


def test_raised_inside_and_restored_after_even_on_error(default_threshold):
    with collecting_rarely():
        assert gc.get_threshold() == (BULK_COLLECTION_THRESHOLD, 10, 10)
    assert gc.get_threshold() == default_threshold
    with pytest.raises(RuntimeError), collecting_rarely():
        raise RuntimeError("a batch failed")
    assert gc.get_threshold() == default_threshold


def test_overlapping_batches_restore_the_setting_from_before_the_first(default_threshold):
    """Two threads' batches overlap and leave in the other order than they came: the
    threshold stays raised until the last leaves, then is what it was before both."""
    first_in, second_in, first_may_leave = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first():
        with collecting_rarely():
            first_in.set()
            second_in.wait(5)
            first_may_leave.wait(5)
        seen.append(gc.get_threshold())  # the second is still inside

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with collecting_rarely():
        second_in.set()
        first_may_leave.set()
        thread.join(5)
    assert seen == [(BULK_COLLECTION_THRESHOLD, 10, 10)]
    assert gc.get_threshold() == default_threshold


@pytest.mark.django_db
def test_the_batch_api_collects_rarely_while_it_stores(
    catalog, analyst, monkeypatch, default_threshold
):
    """The batch API stores with the bulk setting (as `ingest` does) and leaves the
    server's setting as it was."""
    from watchfloor.people.api_tokens import create_api_token

    stored = intake.ingest_signals
    during = []

    def storing(**kwargs):
        during.append(gc.get_threshold())
        return stored(**kwargs)

    monkeypatch.setattr(intake, "ingest_signals", storing)
    _, secret = create_api_token(user=analyst, name="feed", scopes=["ingest"], actor=None)
    response = Client().post(
        "/api/v1/signals:batch",
        data=json.dumps([make_signal(1), make_signal(2)], ensure_ascii=False),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200, response.content
    assert during == [(BULK_COLLECTION_THRESHOLD, 10, 10)]
    assert gc.get_threshold() == default_threshold
