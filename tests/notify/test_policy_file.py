"""The escalation policy file: what it may say, and errors that point at the line."""

from __future__ import annotations

import textwrap
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from watchfloor.notify import checks
from watchfloor.notify.conf import POLICY_FILE_NAME
from watchfloor.notify.email_config import (
    FILE_BACKEND,
    SMTP_BACKEND,
    EmailConfigError,
    email_settings,
)
from watchfloor.notify.policy import PolicyFileError, read_policies

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "src/watchfloor/defaults" / POLICY_FILE_NAME


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / POLICY_FILE_NAME
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    with pytest.raises(PolicyFileError) as caught:
        read_policies(path)
    return [str(problem) for problem in caught.value.problems]


def test_the_default_policy_pages_the_crisis_lead_then_the_regional_head():
    policies = read_policies(DEFAULT_POLICY).policies
    crisis = policies.rule_for(severity=0, type_code="violent_attack_content", market_codes=["JP"])
    assert crisis is not None and crisis.code == "sev0_crisis"
    first, second = crisis.stages[:2]
    assert first.after == "PT0M" and first.notify[0].label == "on call: site_policy (leads)"
    assert second.after == "PT10M"
    assert policies.rule_for(severity=3, type_code="scam_campaign", market_codes=[]) is None
    assert policies.overrides_quiet_hours(1) and not policies.overrides_quiet_hours(2)


def test_stages_must_move_forward_in_time(tmp_path):
    assert problems_of(
        tmp_path,
        """
        version: "1"
        rules:
          - code: crisis
            name: Crisis
            when: {severities: [SEV0]}
            stages:
              - after: PT10M
                notify: [{user: lead}]
              - after: PT5M
                notify: [{user: head}]
        """,
    ) == [
        "escalation_policies.yaml:3: rules[0]: stages must come later than the one before "
        "(PT5M is not after PT10M); `after` counts from when the policy started"
    ]


def test_each_target_names_exactly_one_thing(tmp_path):
    (problem,) = problems_of(
        tmp_path,
        """
        version: "1"
        rules:
          - code: crisis
            name: Crisis
            when: {severities: [SEV0]}
            stages:
              - notify:
                  - user: lead
                    channel: war-room
        """,
    )
    assert problem.startswith("escalation_policies.yaml:8: rules[0].stages[0].notify[0]: ")
    assert "names exactly one of user, on_call, team or channel (this one names user, channel)" in (
        problem
    )


def test_values_and_fields_are_checked_with_their_lines(tmp_path):
    problems = problems_of(
        tmp_path,
        """
        version: "1"
        override_quiet_hours_from: SEV9x
        rules:
          - code: crisis
            name: Crisis
            when: {severities: [SEV0], markets: [japan]}
            stages:
              - after: 10 minutes
                notify: [{channel: War Room}]
                page: true
        """,
    )
    assert problems == [
        "escalation_policies.yaml:2: override_quiet_hours_from: 'SEV9x' is not a severity; "
        "write SEV0, SEV1, … SEV4",
        "escalation_policies.yaml:6: rules[0].when.markets[0]: 'japan' is not a market code: "
        "use the two-letter ISO 3166-1 code in capitals (for example JP), or EU",
        "escalation_policies.yaml:8: rules[0].stages[0].after: '10 minutes' is not an ISO 8601 "
        "duration such as PT15M, PT24H or P3D",
        "escalation_policies.yaml:9: rules[0].stages[0].notify[0].channel: 'War Room' is not a "
        "channel code: use up to 64 lower-case letters, digits, hyphens and underscores "
        "(for example crisis-room)",
        "escalation_policies.yaml:10: rules[0].stages[0].page: unknown field 'page'; "
        "the fields here are after, name, notify",
    ]


def test_rule_codes_are_unique_and_repeated_keys_are_caught(tmp_path):
    problems = problems_of(
        tmp_path,
        """
        version: "1"
        version: "2"
        rules:
          - {code: a, name: A, when: {severities: [SEV0]}, stages: [{notify: [{user: x}]}]}
          - {code: a, name: B, when: {severities: [SEV1]}, stages: [{notify: [{user: y}]}]}
        """,
    )
    assert any("'version' is given twice (first on line 1)" in p for p in problems)
    assert any("rule code 'a' is used twice" in p for p in problems)


def test_an_empty_or_missing_file_says_so(tmp_path):
    assert problems_of(tmp_path, "") == [
        "escalation_policies.yaml:1: the file is empty; it needs at least `version:`"
    ]
    with pytest.raises(PolicyFileError, match="cannot be read"):
        read_policies(tmp_path / "nowhere.yaml")


def test_the_system_check_reports_a_broken_file(settings, tmp_path):
    broken = tmp_path / POLICY_FILE_NAME
    broken.write_text("rules: [\n", encoding="utf-8")
    settings.WATCHFLOOR_ESCALATION_POLICY_FILE = str(broken)
    (error,) = checks.escalation_policy_file()
    assert error.id == "notify.E001" and "escalation_policies.yaml:2" in error.msg


def test_notify_check_names_unknown_teams_people_and_channels(db, catalog, tmp_path):
    path = tmp_path / POLICY_FILE_NAME
    path.write_text(
        textwrap.dedent(
            """
            version: "1"
            rules:
              - code: crisis
                name: Crisis
                when: {severities: [SEV0], types: [alien_invasion]}
                stages:
                  - notify:
                      - on_call: lawyers
                      - user: nobody.here
                      - channel: war-room
            """
        ).lstrip(),
        encoding="utf-8",
    )
    with pytest.raises(CommandError) as caught:
        call_command("notify", "check", str(path))
    message = str(caught.value)
    where = "escalation_policies.yaml:{}: rules[0].{}: "
    assert where.format(5, "when.types[0]") + "unknown escalation type 'alien_invasion'" in message
    assert where.format(8, "stages[0].notify[0].on_call") + "unknown team 'lawyers'" in message
    assert (
        where.format(9, "stages[0].notify[1].user") + "no active user named 'nobody.here'"
    ) in message
    assert (
        where.format(10, "stages[0].notify[2].channel") + "no active channel 'war-room'"
    ) in message


def test_notify_check_passes_the_default_file_offline():
    out = StringIO()
    call_command("notify", "check", str(DEFAULT_POLICY), "--offline", stdout=out)
    assert "3 rules, valid" in out.getvalue()
    assert "sev0_crisis (SEV0): PT0M: on call: site_policy (leads); PT10M:" in out.getvalue()


# ---------------------------------------------------------------- email settings


def test_email_defaults_to_files_in_the_data_dir_outside_production(tmp_path):
    config = email_settings({}, data_dir=tmp_path, production=False)
    assert config.backend == FILE_BACKEND and config.file_path == str(tmp_path / "outbox")
    assert email_settings({}, data_dir=tmp_path, production=True).backend == SMTP_BACKEND


def test_email_url_configures_smtp(tmp_path):
    config = email_settings(
        {
            "WATCHFLOOR_EMAIL_URL": "smtp://alerts%40corp:p%40ss@mail.corp.example:587",
            "WATCHFLOOR_EMAIL_FROM": "Watchfloor <watchfloor@corp.example>",
        },
        data_dir=tmp_path,
        production=True,
    )
    assert (config.host, config.port, config.use_tls, config.use_ssl) == (
        "mail.corp.example",
        587,
        True,
        False,
    )
    assert (config.host_user, config.host_password) == ("alerts@corp", "p@ss")
    assert config.default_from == "Watchfloor <watchfloor@corp.example>"
    implicit = email_settings(
        {"WATCHFLOOR_EMAIL_URL": "smtps://mail.corp.example"}, data_dir=tmp_path, production=True
    )
    assert (implicit.port, implicit.use_ssl, implicit.use_tls) == (465, True, False)


def test_django_email_variables_work_too_and_bad_urls_are_explained(tmp_path):
    config = email_settings(
        {"EMAIL_HOST": "relay", "EMAIL_PORT": "2525", "EMAIL_USE_TLS": "true"},
        data_dir=tmp_path,
        production=True,
    )
    assert (config.host, config.port, config.use_tls) == ("relay", 2525, True)
    with pytest.raises(EmailConfigError, match="not one of smtp, smtps, file, console"):
        email_settings({"WATCHFLOOR_EMAIL_URL": "imap://x"}, data_dir=tmp_path, production=True)
