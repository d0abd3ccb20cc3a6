"""Signed-in browsers (Django test clients), one per role."""

from __future__ import annotations

import pytest
from django.test import Client


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def analyst_client(analyst) -> Client:
    return _signed_in(analyst)


@pytest.fixture
def other_analyst_client(other_analyst) -> Client:
    return _signed_in(other_analyst)


@pytest.fixture
def lead_client(lead) -> Client:
    return _signed_in(lead)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return _signed_in(viewer)


@pytest.fixture
def legal_client(legal_partner) -> Client:
    return _signed_in(legal_partner)
