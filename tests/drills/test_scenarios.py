"""Drill scenario files: offsets, the schema, the checks across a file and against the
catalog, each problem with its file, line and path."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from watchfloor.drills.scenario_files import (
    PACKAGE_SCENARIOS,
    ScenarioError,
    read_scenario,
    read_scenarios,
    scenario_paths,
)
from watchfloor.drills.scenarios import format_offset, parse_offset

MINIMAL = """\
code: tiny
title: A tiny drill
markets: [JP]
languages: [ja]
duration: "+2h"
cast:
  commander: {username: drill.lead, role: lead, team: site_policy}
  analyst: {username: drill.analyst, role: analyst, team: site_policy}
crisis:
  title: Tiny
  commander: commander
  opens_with: first
injects:
  - id: first
    at: "+0m"
    kind: escalation
    title: Something happens
    escalation:
      type: violent_attack_content
      title: Something
      markets: [JP]
responses:
  - {at: "+5m", as: analyst, do: acknowledge, escalation: first}
"""


def write(tmp_path: Path, text: str, name: str = "tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path, *, check_catalog: bool = False) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        read_scenario(path, check_catalog=check_catalog)
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+0m", timedelta(0)),
        ("+15m", timedelta(minutes=15)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("+2d", timedelta(days=2)),
        ("+1d2h5m", timedelta(days=1, hours=2, minutes=5)),
    ],
)
def test_offsets_read_as_days_hours_and_minutes(text, expected):
    assert parse_offset(text) == expected


@pytest.mark.parametrize("text", ["", "+", "15", "15 minutes", "-5m", "1m30h", "PT15M"])
def test_an_offset_that_is_not_one_says_how_to_write_it(text):
    with pytest.raises(ValueError, match=r'for example "\+0m", "\+15m", "1h30m"'):
        parse_offset(text)


def test_offsets_are_written_back_as_the_files_write_them():
    assert format_offset(timedelta(hours=1, minutes=30)) == "+1h30m"
    assert format_offset(timedelta(0)) == "+0m"
    assert format_offset(timedelta(days=1, minutes=5)) == "+1d5m"
    assert format_offset(timedelta(minutes=-10)) == "-10m"


def test_a_minimal_scenario_reads(tmp_path):
    loaded = read_scenario(write(tmp_path, MINIMAL))
    assert loaded.code == "tiny"
    assert loaded.spec.injects[0].offset == timedelta(0)
    assert loaded.spec.responses[0].actor == "analyst"
    assert len(loaded.digest) == 64


def test_schema_errors_name_file_line_and_path(tmp_path):
    text = MINIMAL.replace('at: "+0m"', 'at: "15 minutes"').replace("do: acknowledge", "do: shrug")
    found = problems_of(write(tmp_path, text))
    assert any(
        p.startswith("tiny.yaml:15: injects[0].at: '15 minutes' is not an offset") for p in found
    )
    assert any(p.startswith("tiny.yaml:23: responses[0].do:") for p in found)


def test_an_offset_without_a_unit_is_refused(tmp_path):
    found = problems_of(write(tmp_path, MINIMAL.replace('at: "+5m"', "at: 5")))
    assert found == [
        'tiny.yaml:23: responses[0].at: 5 has no unit; write minutes or hours, for example "+5m"'
    ]


def test_an_inject_needs_the_block_its_kind_takes(tmp_path):
    text = MINIMAL.replace("kind: escalation", "kind: regulator_notice")
    found = problems_of(write(tmp_path, text))
    assert found == ["tiny.yaml:14: injects[0]: a regulator_notice inject needs its notice block"]


def test_references_between_injects_responses_and_the_cast_are_checked(tmp_path):
    text = MINIMAL.replace("as: analyst", "as: intern").replace(
        "escalation: first}", "escalation: second}"
    )
    text = text.replace('duration: "+2h"', 'duration: "+2h"\n').rstrip() + "\n"
    text += '  - {at: "+3h", as: commander, do: add_note, body: late}\n'
    found = problems_of(write(tmp_path, text))
    assert (
        "tiny.yaml:24: responses[0].as: 'intern' is not in the cast; use one of analyst, commander"
        in found
    )
    assert any(
        p.startswith("tiny.yaml:24: responses[0].escalation: 'second' is not the id of an inject")
        for p in found
    )
    assert "tiny.yaml:25: responses[1].at: +3h is after the drill ends (+2h)" in found


def test_a_response_cannot_come_before_the_escalation_it_works(tmp_path):
    text = MINIMAL.replace("opens_with: first", "opens_with: null").replace(
        'at: "+0m"', 'at: "+10m"'
    )
    found = problems_of(write(tmp_path, text))
    assert found == [
        "tiny.yaml:23: responses[0].at: 'first' arrives at +10m; a response at +5m would "
        "come before it"
    ]


def test_the_commander_is_a_lead_and_the_code_is_the_file_name(tmp_path):
    text = MINIMAL.replace("commander: commander", "commander: analyst")
    found = problems_of(write(tmp_path, text, name="other.yaml"))
    assert (
        "other.yaml:1: code: code 'tiny' differs from the file name; name the file tiny.yaml "
        "or change the code to 'other'" in found
    )
    assert any(
        p.startswith("other.yaml:11: crisis.commander: 'analyst' is an analyst;") for p in found
    )


def test_broken_yaml_and_repeated_keys_are_reported_with_their_line(tmp_path):
    found = problems_of(
        write(tmp_path, MINIMAL.replace("title: A tiny drill", "title: A tiny drill\ntitle: again"))
    )
    assert any(p.startswith("tiny.yaml:3: title: 'title' is given twice") for p in found)
    found = problems_of(write(tmp_path, "code: [unclosed\n"))
    assert found[0].startswith("tiny.yaml:2: not valid YAML")


@pytest.mark.django_db
def test_names_are_checked_against_the_catalog_and_the_playbooks(tmp_path, catalog):
    from watchfloor.playbooks.library import load_playbooks

    load_playbooks(actor=None)
    text = MINIMAL.replace("type: violent_attack_content", "type: violent_attack").rstrip() + "\n"
    text += '  - {at: "+6m", as: analyst, do: complete_step, escalation: first, step: nope}\n'
    found = problems_of(write(tmp_path, text), check_catalog=True)
    assert (
        "tiny.yaml:19: injects[0].escalation.type: unknown escalation type 'violent_attack'"
        in found
    )
    text = (
        MINIMAL.rstrip()
        + "\n"
        + '  - {at: "+6m", as: analyst, do: complete_step, escalation: first, step: nope}\n'
    )
    found = problems_of(write(tmp_path, text), check_catalog=True)
    assert len(found) == 1
    assert found[0].startswith(
        "tiny.yaml:24: responses[1].step: no playbook for 'first' has a step 'nope'; its steps are "
    )
    assert "confirm_and_contain" in found[0]


def test_the_shipped_scenarios_are_valid_on_their_own():
    paths = scenario_paths(PACKAGE_SCENARIOS)
    assert {p.stem for p in paths} == {"jp_livestream_attack", "id_earthquake_hoaxes"}
    loaded, problems = read_scenarios(paths)
    assert problems == []
    for scenario in loaded:
        spec = scenario.spec
        assert spec.starts_at is not None, "a fixed start keeps the score reproducible"
        assert len({i.kind for i in spec.injects}) >= 4
        assert spec.expect.min_score is not None


@pytest.mark.django_db
def test_the_shipped_scenarios_fit_the_default_catalog(catalog):
    from watchfloor.playbooks.library import load_playbooks

    load_playbooks(actor=None)
    loaded, problems = read_scenarios(scenario_paths(PACKAGE_SCENARIOS), check_catalog=True)
    assert problems == []
    assert len(loaded) == 2
