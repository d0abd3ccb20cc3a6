"""Fixtures for playbooks: the default library loaded, a private copy to break, and
escalations that have been through ``on_escalation_changed`` as the services do."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

DEFAULT_PLAYBOOKS = Path(settings.WATCHFLOOR_CATALOG_DIR) / "playbooks"
DEFAULT_COMMS = Path(settings.WATCHFLOOR_CATALOG_DIR) / "comms"


@pytest.fixture
def library(catalog):
    from watchfloor.playbooks.library import load_playbooks

    return load_playbooks(actor=None)


@pytest.fixture
def library_dir(tmp_path: Path) -> Path:
    """A private copy of the default library (``playbooks/`` and ``comms/``)."""
    shutil.copytree(DEFAULT_PLAYBOOKS, tmp_path / "playbooks")
    shutil.copytree(DEFAULT_COMMS, tmp_path / "comms")
    return tmp_path / "playbooks"


@pytest.fixture
def write_playbook(library_dir: Path) -> Callable[[str, str], Path]:
    """Write one playbook file (dedented) into the private library."""

    def write(code: str, text: str) -> Path:
        path = library_dir / f"{code}.yaml"
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


@pytest.fixture
def write_template(library_dir: Path) -> Callable[[str, str], Path]:
    def write(code: str, text: str) -> Path:
        path = library_dir.parent / "comms" / f"{code}.yaml"
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


@pytest.fixture
def escalate(make_escalation, analyst):
    """Create an escalation and tell the playbooks about it, as the services do."""
    from watchfloor.playbooks.services import on_escalation_changed

    def make(**overrides):
        escalation = make_escalation(**overrides)
        on_escalation_changed(escalation=escalation, actor=overrides.get("actor", analyst))
        return escalation

    return make


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
