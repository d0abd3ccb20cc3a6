"""The API's Swagger page is drawn from the files django-ninja ships, served by
Watchfloor itself (no CDN), though ninja is not an installed app."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_the_docs_page_uses_the_local_swagger_files(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    body = page.content.decode()
    assert "/static/ninja/swagger-ui.css" in body
    assert "/static/ninja/swagger-ui-bundle.js" in body
    # Nothing is loaded from elsewhere (a CDN): every script and stylesheet is local. Not
    # a search for "cdn" in the page: its random CSRF token sometimes spells it.
    external = re.findall(r'(?:src|href)="((?:https?:)?//[^"]*)"', body)
    assert external == []
    assert finders.find("ninja/swagger-ui-bundle.js")
