from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A private copy of the default catalog that a test may break."""
    target = tmp_path / "catalog"
    shutil.copytree(settings.WATCHFLOOR_CATALOG_DIR, target)
    return target


@pytest.fixture
def edit(catalog_dir: Path) -> Callable[[str, str, str], int]:
    """Replace the first ``old`` in one catalog file; returns the line the change is on."""

    def edit(name: str, old: str, new: str) -> int:
        path = catalog_dir / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} is not in {name}"
        start = text.index(old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return text[:start].count("\n") + 1

    return edit
