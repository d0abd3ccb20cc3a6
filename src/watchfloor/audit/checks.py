"""Deployment checks about the audit log (`watchfloor check --deploy`)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from watchfloor.audit.keys import KEY_FILE_VARIABLE, KEY_VARIABLE


@register(Tags.security, deploy=True)
def check_audit_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The audit key must live where a database writer cannot read it."""
    keyring = getattr(settings, "WATCHFLOOR_AUDIT_KEYRING", None)
    if keyring is None or not keyring.keys:
        return [
            Error(
                "no audit key is configured: anyone who can write the database can rewrite "
                "the audit log and recompute its hashes",
                hint=f"set {KEY_VARIABLE}, or {KEY_FILE_VARIABLE} to a file holding the key",
                id="watchfloor.E201",
            )
        ]
    if keyring.is_development_key:
        return [
            Error(
                f"the audit key is {keyring.source}, made on first start beside the database",
                hint=f"set {KEY_VARIABLE}, or {KEY_FILE_VARIABLE} to a file outside the data "
                "directory, and keep a copy where the database's administrators cannot read "
                "it (docs/security.md, 'The audit log'). Keep the development key as an "
                "earlier key while its events are kept",
                id="watchfloor.E201",
            )
        ]
    problems: list[CheckMessage] = []
    if keyring.path is not None:
        problems += _key_file_problems(keyring.path)
    return problems


def _key_file_problems(path: Path) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    data_dir = Path(settings.DATA_DIR).resolve()
    if path == data_dir or data_dir in path.parents:
        problems.append(
            Warning(
                f"the audit key file {path} is inside the data directory {data_dir}",
                hint="keep it where a copy or backup of the data directory does not take it",
                id="watchfloor.W201",
            )
        )
    try:
        mode = path.stat().st_mode
    except OSError:
        return problems  # read at start-up; a file gone since is the operator's move
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        problems.append(
            Warning(
                f"the audit key file {path} can be read by other accounts "
                f"(mode {stat.filemode(mode)})",
                hint=f"chmod 600 {path}",
                id="watchfloor.W202",
            )
        )
    return problems


@register(Tags.security, deploy=True)
def check_audit_heads_published(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Events removed from the end of the log are found only against a published head."""
    if settings.WATCHFLOOR_AUDIT_HEAD_FILE or settings.WATCHFLOOR_AUDIT_HEAD_WEBHOOK_URL:
        return []
    return [
        Warning(
            "the audit log's signed heads are published nowhere, so events removed from the "
            "end of the log cannot be found",
            hint="set WATCHFLOOR_AUDIT_HEAD_FILE (on storage the database's administrators "
            "cannot change) and/or WATCHFLOOR_AUDIT_HEAD_WEBHOOK_URL, and run a worker",
            id="watchfloor.W203",
        )
    ]
