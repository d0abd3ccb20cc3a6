"""`watchfloor check --deploy` about the audit key and the published heads."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.audit.tampering import KEY_A
from watchfloor.audit.checks import check_audit_heads_published, check_audit_key
from watchfloor.audit.keys import keyring_from_environment


def ids(messages) -> list[str]:
    return [message.id for message in messages]


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "keys" / "audit.key"
    path.parent.mkdir()
    path.write_text(KEY_A + "\n")
    path.chmod(0o600)
    return path


def test_a_key_from_the_environment_passes(settings, tmp_path):
    settings.WATCHFLOOR_AUDIT_KEYRING = keyring_from_environment(
        {"WATCHFLOOR_AUDIT_KEY": KEY_A}, data_dir=tmp_path, production=True
    )
    assert check_audit_key() == []


def test_the_development_key_fails_the_deploy_check(settings, tmp_path):
    settings.WATCHFLOOR_AUDIT_KEYRING = keyring_from_environment(
        {}, data_dir=tmp_path, production=False
    )
    [problem] = check_audit_key()
    assert problem.id == "watchfloor.E201"
    assert "development key file" in problem.msg
    assert "WATCHFLOOR_AUDIT_KEY" in problem.hint


def test_no_key_at_all_fails_the_deploy_check(settings):
    settings.WATCHFLOOR_AUDIT_KEYRING = replace(settings.WATCHFLOOR_AUDIT_KEYRING, keys=())
    assert ids(check_audit_key()) == ["watchfloor.E201"]


def test_a_private_key_file_outside_the_data_directory_passes(settings, key_file, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.WATCHFLOOR_AUDIT_KEYRING = keyring_from_environment(
        {"WATCHFLOOR_AUDIT_KEY_FILE": str(key_file)}, data_dir=settings.DATA_DIR, production=True
    )
    assert check_audit_key() == []


def test_a_key_file_others_can_read_inside_the_data_directory_is_warned(
    settings, key_file, tmp_path
):
    key_file.chmod(0o644)
    settings.DATA_DIR = key_file.parent
    settings.WATCHFLOOR_AUDIT_KEYRING = keyring_from_environment(
        {"WATCHFLOOR_AUDIT_KEY_FILE": str(key_file)}, data_dir=tmp_path, production=True
    )
    problems = check_audit_key()
    assert ids(problems) == ["watchfloor.W201", "watchfloor.W202"]
    assert "-rw-r--r--" in problems[1].msg


@pytest.mark.parametrize(
    ("file", "webhook", "expected"),
    [
        ("", "", ["watchfloor.W203"]),
        ("/srv/heads.jsonl", "", []),
        ("", "https://heads.example/audit", []),
    ],
)
def test_heads_published_nowhere_are_warned(settings, file, webhook, expected):
    settings.WATCHFLOOR_AUDIT_HEAD_FILE = file
    settings.WATCHFLOOR_AUDIT_HEAD_WEBHOOK_URL = webhook
    assert ids(check_audit_heads_published()) == expected
