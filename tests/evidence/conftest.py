"""Evidence tests: a storage directory of their own, and files made on the spot."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.api.conftest import token_for  # noqa: F401  (a fixture the API tests share)
from tests.crises.conftest import crisis, declare  # noqa: F401  (crises declared as there)


@pytest.fixture(autouse=True)
def evidence_storage(settings, tmp_path: Path) -> Path:
    location = tmp_path / "evidence-store"
    settings.STORAGES = {
        **settings.STORAGES,
        "evidence": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location), "base_url": None},
        },
    }
    settings.WATCHFLOOR_EVIDENCE_WORK_DIR = tmp_path / "incoming"
    return location


def image_bytes(
    *, size: tuple[int, int] = (400, 300), seed: int = 1, fmt: str = "PNG", exif=None
) -> bytes:
    """A synthetic picture: coloured shapes, different for each seed."""
    image = Image.new("RGB", size, (20 * seed % 255, 90, 160))
    draw = ImageDraw.Draw(image)
    for n in range(6):
        x = (seed * 37 + n * 53) % size[0]
        y = (seed * 91 + n * 29) % size[1]
        draw.ellipse((x, y, x + size[0] // 3, y + size[1] // 3), fill=((n * 40) % 255, 200, 30 * n))
    out = io.BytesIO()
    if exif is not None:
        image.save(out, format=fmt, exif=exif)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = {1: "N", 2: (35.0, 39.0, 29.0), 3: "E", 4: (139.0, 44.0, 28.0)}
    exif[0x8825] = gps  # GPSInfo IFD
    return image_bytes(fmt="JPEG", exif=exif)


@pytest.fixture
def escalation(make_escalation):
    return make_escalation()


@pytest.fixture
def add_image(escalation, analyst):
    from watchfloor.evidence.services import add_evidence_file

    def add(data: bytes | None = None, *, name: str = "capture.png", **kwargs):
        values = {"escalation": escalation, "actor": analyst, "declared_type": None}
        values.update(kwargs)
        return add_evidence_file(
            chunks=[data if data is not None else image_bytes()], name=name, **values
        )

    return add
