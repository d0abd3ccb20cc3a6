"""A system check: the escalation policy file must be usable before anything runs.

Only the file itself is checked here (no database): ``watchfloor notify check`` also
checks the names in it against the teams, people and channels that exist.
"""

from __future__ import annotations

from django.core import checks


@checks.register()
def escalation_policy_file(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    # Imported here: this module is imported by every command at start-up, and the
    # policy file's models are needed only when the checks run.
    from watchfloor.notify.policy import PolicyFileError, read_policies

    try:
        read_policies()
    except PolicyFileError as error:
        return [
            checks.Error(
                error.message,
                hint="Fix the file, then check it with `watchfloor notify check`.",
                id="notify.E001",
            )
        ]
    return []
