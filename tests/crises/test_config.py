"""crisis.yaml and the sitrep templates: the defaults load, and every problem in a changed
copy names its file, line and path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from watchfloor.crises.config import (
    PACKAGE_DEFAULTS,
    SETTABLE_LEVELS,
    CrisisConfigError,
    crisis_config,
    read_crisis_config,
)
from watchfloor.crises.models import Level


@pytest.fixture
def settings_dir(tmp_path: Path) -> Path:
    shutil.copy(PACKAGE_DEFAULTS / "crisis.yaml", tmp_path / "crisis.yaml")
    shutil.copytree(PACKAGE_DEFAULTS / "sitreps", tmp_path / "sitreps")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems(directory: Path) -> list[str]:
    with pytest.raises(CrisisConfigError) as error:
        read_crisis_config(directory)
    return [str(p) for p in error.value.problems]


def test_the_defaults_load():
    config = crisis_config(PACKAGE_DEFAULTS)
    assert [a.code for a in config.settings.sitreps.audiences] == [
        "leadership",
        "partners",
        "external",
    ]
    assert config.settings.cadence_audiences == ["leadership"]
    assert [r.code for r in config.settings.handoffs.regions] == ["apac", "emea", "americas"]
    for template in config.templates.values():
        assert {"en", "ja"} <= set(template.spec.bodies)


def test_a_bad_time_of_day_names_its_line(settings_dir):
    edit(settings_dir / "crisis.yaml", 'handoff_at: "09:00"', "handoff_at: 9am")
    found = problems(settings_dir)
    assert len(found) == 1
    assert found[0].startswith(
        "crisis.yaml:41: handoffs.regions[0].handoff_at: '9am' is not a time"
    )


def test_a_bad_duration_and_an_unknown_check(settings_dir):
    edit(settings_dir / "crisis.yaml", "sitrep_every: PT4H", "sitrep_every: four hours")
    edit(settings_dir / "crisis.yaml", "check: no_pending_decisions", "check: vibes")
    found = problems(settings_dir)
    assert any(p.startswith("crisis.yaml:9: levels.incident.sitrep_every:") for p in found), found
    assert any("stand_down.criteria[2].check" in p for p in found), found


def test_an_unknown_template_variable_and_a_missing_template(settings_dir):
    edit(settings_dir / "sitreps" / "partners.yaml", "{{ open_asks }}", "{{ open_requests }}")
    (settings_dir / "sitreps" / "external.yaml").unlink()
    found = problems(settings_dir)
    assert any(
        p.startswith(
            "sitreps/partners.yaml:7: bodies.en.body: unknown variable '{{ open_requests }}'"
        )
        for p in found
    ), found
    assert any("no sitrep template for audience 'external'" in p for p in found), found


def test_a_word_with_an_unknown_placeholder(settings_dir):
    edit(settings_dir / "sitreps" / "leadership.yaml", "未完了 {open}件", "未完了 {opened}件")
    found = problems(settings_dir)
    assert len(found) == 1 and "words.ja.counts.linked" in found[0] and "{opened}" in found[0]


def test_the_check_command(settings_dir, capsys):
    call_command("crises", "check", "--directory", str(PACKAGE_DEFAULTS))
    assert "3 sitrep templates" in capsys.readouterr().out
    edit(settings_dir / "crisis.yaml", 'handoff_at: "09:00"', "handoff_at: 9am")
    with pytest.raises(CommandError):
        call_command("crises", "check", "--directory", str(settings_dir))
    assert "crisis.yaml:41" in capsys.readouterr().err


def test_the_settable_levels_are_every_level_but_closed_in_order() -> None:
    # Written out as a Literal for the type checker; Level stays the source of truth.
    assert list(SETTABLE_LEVELS) == [level for level in Level.values if level != Level.CLOSED]
