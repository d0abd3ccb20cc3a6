"""Issue 11, finding 16: dependency floors past the known advisories, upper bounds for
packages before 1.0, and lock files that hold what pyproject.toml asks for (CI installs
from requirements/test.lock, so a lock that lags pyproject.toml would test something
other than what a fresh `pip install` gets)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = [Requirement(line) for line in PROJECT["dependencies"]]
TEST_EXTRA = [Requirement(line) for line in PROJECT["optional-dependencies"]["test"]]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)

# The first release of each package past the advisories known for it.
ADVISORY_FLOORS = {
    "waitress": "3.0.1",  # CVE-2024-49768, CVE-2024-49769
    "django": "5.2.19",
}


def locked(name: str) -> dict[str, list[Version]]:
    text = (ROOT / "requirements" / name).read_text(encoding="utf-8")
    pins: dict[str, list[Version]] = {}
    for package, version in PIN.findall(text):
        pins.setdefault(canonicalize_name(package), []).append(Version(version))
    # Every pin carries its hashes: pip installs it with --require-hashes.
    assert text.count("==") <= text.count("--hash=sha256:")
    return pins


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [("base.lock", RUNTIME), ("test.lock", RUNTIME + TEST_EXTRA)],
)
def test_each_lock_file_pins_every_dependency_within_pyproject(lock, requirements):
    pins = locked(lock)
    for requirement in requirements:
        versions = pins.get(canonicalize_name(requirement.name))
        assert versions, f"{requirement.name} is in pyproject.toml but not in {lock}"
        for version in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock} pins {requirement.name}=={version}, outside {requirement.specifier}"
            )


def test_the_runtime_lock_has_no_test_tools():
    assert "pytest" not in locked("base.lock")


@pytest.mark.parametrize(("package", "floor"), ADVISORY_FLOORS.items())
def test_floors_sit_past_known_advisories(package, floor):
    (requirement,) = [r for r in RUNTIME if canonicalize_name(r.name) == package]
    major, minor, micro = (int(part) for part in floor.split("."))
    assert micro > 0, "name a floor with a micro release, so the one before it is clear"
    assert not requirement.specifier.contains(f"{major}.{minor}.{micro - 1}")
    assert requirement.specifier.contains(floor)


def test_packages_before_1_0_are_capped():
    for requirement in RUNTIME + TEST_EXTRA:
        versions = locked("test.lock")[canonicalize_name(requirement.name)]
        if max(versions) < Version("1.0"):
            assert any(spec.operator == "<" for spec in requirement.specifier), (
                f"{requirement.name} is before 1.0: cap it below its next minor release"
            )
