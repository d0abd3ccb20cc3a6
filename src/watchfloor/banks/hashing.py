"""Hashing uploaded media for the matcher: PDQ for photos (the ``pdqhash`` package, the
reference C++ implementation), MD5 and SHA-256 for any file (``video_md5`` in HMA's
names). Bounded: a file over ``MAX_FILE_BYTES`` or an image over ``MAX_PIXELS`` is
refused before it is decoded."""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
import pdqhash
from PIL import Image, UnidentifiedImageError

from watchfloor.core.errors import InvalidInput

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 50_000_000


def pdq_of_image(data: bytes, *, field: str = "photo") -> tuple[str, int]:
    """The PDQ hash (64 hex digits) and quality (0–100) of an image."""
    _check_size(data, field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise InvalidInput(
                        f"the image is {image.width}×{image.height}; at most "
                        f"{MAX_PIXELS:,} pixels are hashed",
                        field=field,
                    )
                pixels = np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise InvalidInput(f"not an image this server can read: {error}", field=field) from None
    except Image.DecompressionBombWarning:
        raise InvalidInput("the image decompresses to too many pixels", field=field) from None
    bits, quality = pdqhash.compute(pixels)
    return np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality)


def md5_of_file(data: bytes, *, field: str = "video") -> str:
    _check_size(data, field)
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _check_size(data: bytes, field: str) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(
            f"the file is {len(data):,} bytes; at most {MAX_FILE_BYTES:,} are hashed", field=field
        )
    if not data:
        raise InvalidInput("the file is empty", field=field)
