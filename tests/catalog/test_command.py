"""`watchfloor config validate|load`, as an operator sees it: output, errors and exit codes."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from watchfloor.catalog.models import CatalogVersion
from watchfloor.cli import main


def run_cli(*args: str) -> int:
    """Run the real entry point, as a shell would, and return its exit code."""
    try:
        main(list(args))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def test_validate_the_default_catalog_prints_a_summary_and_exits_zero(capsys):
    assert run_cli("config", "validate") == 0
    out = capsys.readouterr().out
    assert "catalog 'Watchfloor default catalog' 2026.11 is valid" in out
    assert "18 escalation types" in out
    assert "29 statutory rules" in out


def test_validate_a_broken_catalog_lists_each_problem_on_stderr_and_exits_non_zero(
    catalog_dir, edit, capsys
):
    zone_line = edit("markets.yaml", "time_zones: [Asia/Tokyo]", "time_zones: [Asia/Tokio]")
    (catalog_dir / "teams.yaml").unlink()

    assert run_cli("config", "validate", str(catalog_dir)) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0].startswith(f"markets.yaml:{zone_line}: markets[0].time_zones[0]: 'Asia/Tokio'")
    assert lines[1].startswith("teams.yaml: file is missing")
    assert "has 2 problems" in lines[2]


def test_validate_through_call_command(catalog_dir, edit):
    line = edit("statutory_rules.yaml", "deadline: PT72H", "deadline: 72 hours")
    stderr = StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("config", "validate", str(catalog_dir), stderr=stderr)
    assert stderr.getvalue().startswith(f"statutory_rules.yaml:{line}: rules[5].deadline: ")


@pytest.mark.django_db
def test_load_makes_the_catalog_active():
    stdout = StringIO()
    call_command("config", "load", stdout=stdout)
    version = CatalogVersion.objects.get()
    assert version.is_active
    assert f"version #{version.pk}" in stdout.getvalue()
    assert "is now active" in stdout.getvalue()


@pytest.mark.django_db
def test_load_refuses_a_broken_catalog(catalog_dir, edit):
    edit("markets.yaml", "time_zones: [Asia/Tokyo]", "time_zones: [Asia/Tokio]")
    stderr = StringIO()
    with pytest.raises(CommandError, match="nothing was loaded"):
        call_command("config", "load", str(catalog_dir), stderr=stderr)
    assert "Asia/Tokio" in stderr.getvalue()
    assert not CatalogVersion.objects.exists()
