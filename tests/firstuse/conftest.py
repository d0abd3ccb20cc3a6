"""Fixtures for the first-use defects: signed-in browsers and an API caller."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from tests.api.conftest import ApiCaller


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def analyst_client(analyst) -> Client:
    return _signed_in(analyst)


@pytest.fixture
def lead_client(lead) -> Client:
    return _signed_in(lead)


@pytest.fixture
def admin_client_signed_in(admin_user) -> Client:
    return _signed_in(admin_user)


@pytest.fixture
def api_as(catalog) -> Callable[..., ApiCaller]:
    """``api_as(user)``: a caller with a fresh API token of ``user``."""
    from watchfloor.people.api_tokens import create_api_token

    def make(user) -> ApiCaller:
        _, secret = create_api_token(
            user=user, name="tests", actor=None, scopes=["read", "write", "ingest"]
        )
        return ApiCaller(client=Client(), token=secret, user=user)

    return make
