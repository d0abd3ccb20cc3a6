"""Receiving a file and reading what it is: type by its bytes, hashes, previews.

Nothing here touches the database or the evidence storage. :func:`receive` streams the
upload into a temporary file under the data directory, hashing as it goes and stopping at
the size limit for the kind its first bytes show; :func:`inspect_image` and
:func:`inspect_video` check the file decodes and make the display copy, the thumbnail and
the PDQ hashes. Every refusal is an ``InvalidInput`` naming the field ``file``.
"""

from __future__ import annotations

import hashlib
import io
import json
import mimetypes
import os
import shutil
import subprocess
import tempfile
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pdqhash
import puremagic
from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from watchfloor.core.errors import InvalidInput
from watchfloor.evidence.models import Kind

CHUNK_BYTES = 1024 * 1024
SNIFF_BYTES = 64 * 1024
THUMBNAIL_PIXELS = 320
DISPLAY_PIXELS = 2048

# The types accepted, by what their bytes say they are.
KIND_OF_TYPE = {
    "image/jpeg": Kind.IMAGE,
    "image/png": Kind.IMAGE,
    "image/gif": Kind.IMAGE,
    "image/webp": Kind.IMAGE,
    "video/mp4": Kind.VIDEO,
    "video/quicktime": Kind.VIDEO,
    "video/webm": Kind.VIDEO,
    "video/x-matroska": Kind.VIDEO,
    "application/x-matroska": Kind.VIDEO,
    "audio/mpeg": Kind.AUDIO,
    "audio/ogg": Kind.AUDIO,
    "audio/wav": Kind.AUDIO,
    "audio/x-wav": Kind.AUDIO,
    "audio/flac": Kind.AUDIO,
    "application/pdf": Kind.PDF,
    "text/html": Kind.HTML,
}
# A declared type counts as agreeing with the bytes when it is of the same kind; these
# say nothing about the content and are ignored.
UNINFORMATIVE_TYPES = {"", "application/octet-stream", "binary/octet-stream"}


@dataclass(frozen=True)
class Received:
    path: Path
    name: str
    content_type: str
    kind: str
    size_bytes: int
    sha256: str
    md5: str


@dataclass
class Preview:
    """What a file's decoding gave: a display copy and a thumbnail (JPEG bytes), PDQ."""

    width: int | None = None
    height: int | None = None
    pdq: str = ""
    pdq_quality: int | None = None
    frame_hashes: list[dict[str, object]] = field(default_factory=list)
    display: bytes | None = None
    display_suffix: str = ".jpg"
    thumbnail: bytes | None = None
    note: str = ""


def clean_file_name(name: str | None) -> str:
    """The uploaded file's name as given, refused when it tries to name a path."""
    value = unicodedata.normalize("NFC", (name or "").strip())
    if not value:
        raise InvalidInput("the file has no name; give it one (e.g. capture.png)", field="file")
    if len(value) > 255:
        raise InvalidInput("the file name is longer than 255 characters", field="file")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput("the file name contains control characters", field="file")
    if "/" in value or "\\" in value or value in (".", "..") or value.startswith(".."):
        raise InvalidInput(
            f"the file name {value!r} names a path; give the bare name (e.g. capture.png)",
            field="file",
        )
    return value


def size_limit(kind: str) -> int:
    limits: dict[str, int] = settings.WATCHFLOOR_EVIDENCE_MAX_BYTES
    return int(limits[kind])


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def detect_type(head: bytes) -> str:
    """The MIME type the first bytes show, or InvalidInput when it is none we accept."""
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        matches = []
    for match in matches:
        if match.mime_type in KIND_OF_TYPE:
            return str(match.mime_type)
    accepted = ", ".join(sorted({str(k) for k in KIND_OF_TYPE.values()}))
    raise InvalidInput(
        f"the file's bytes are not a type kept as evidence ({accepted}); "
        "record a reference instead",
        field="file",
    )


def _check_declared(declared: str | None, detected: str, name: str) -> None:
    """The type the client sent and the one the name suggests must agree with the bytes."""
    detected_kind = KIND_OF_TYPE[detected]
    claims = [(declared or "").split(";")[0].strip().lower(), mimetypes.guess_type(name)[0] or ""]
    for claim in claims:
        if claim in UNINFORMATIVE_TYPES:
            continue
        if KIND_OF_TYPE.get(claim) != detected_kind:
            raise InvalidInput(
                f"the file says it is {claim} but its bytes are {detected}; "
                "upload it with its true type and name",
                field="file",
            )


def receive(
    chunks: Iterable[bytes], *, name: str, declared_type: str | None, work_dir: Path
) -> Received:
    """Stream the upload to a temporary file, hashing it, within its kind's size limit.

    The caller owns the returned file and deletes it. On any refusal nothing is left.
    """
    clean_name = clean_file_name(name)
    work_dir.mkdir(parents=True, exist_ok=True)
    handle, raw_path = tempfile.mkstemp(prefix="upload-", dir=work_dir)
    path = Path(raw_path)
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    head = b""
    limit: int | None = None
    content_type = ""
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                if limit is None:
                    head += chunk
                    if len(head) < SNIFF_BYTES:
                        continue
                    content_type, limit = _start(head, declared_type, clean_name)
                    chunk, head = head, b""
                size += len(chunk)
                if size > limit:
                    raise InvalidInput(
                        f"the file is larger than the {_megabytes(limit)} allowed for "
                        f"{KIND_OF_TYPE[content_type].label.lower()} evidence",
                        field="file",
                    )
                sha256.update(chunk)
                md5.update(chunk)
                out.write(chunk)
            if limit is None:
                if not head:
                    raise InvalidInput("the file is empty (0 bytes)", field="file")
                content_type, limit = _start(head, declared_type, clean_name)
                size = len(head)
                if size > limit:  # a limit set below the sniffing window
                    raise InvalidInput(
                        f"the file is larger than the {_megabytes(limit)} allowed", field="file"
                    )
                sha256.update(head)
                md5.update(head)
                out.write(head)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Received(
        path=path,
        name=clean_name,
        content_type=content_type,
        kind=KIND_OF_TYPE[content_type],
        size_bytes=size,
        sha256=sha256.hexdigest(),
        md5=md5.hexdigest(),
    )


def _start(head: bytes, declared_type: str | None, name: str) -> tuple[str, int]:
    content_type = detect_type(head)
    _check_declared(declared_type, content_type, name)
    return content_type, size_limit(KIND_OF_TYPE[content_type])


def file_chunks(stream: IO[bytes]) -> Iterable[bytes]:
    while chunk := stream.read(CHUNK_BYTES):
        yield chunk


# ------------------------------------------------------------------------------- images


def pdq_of(image: Image.Image) -> tuple[str, int]:
    """PDQ (64 hex digits) and its quality (0-100) of a decoded image."""
    bits, quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    return np.packbits(bits).tobytes().hex(), int(quality)


def _jpeg(image: Image.Image, pixels: int) -> bytes:
    """A JPEG of at most ``pixels`` on its longer side, with no metadata at all."""
    copy = image.convert("RGB")
    copy.thumbnail((pixels, pixels))
    copy.info = {}
    out = io.BytesIO()
    copy.save(out, format="JPEG", quality=85)
    return out.getvalue()


def open_image_checked(source: Path | IO[bytes]) -> Image.Image:
    """Decode an image with Pillow's decompression-bomb limit as a hard limit."""
    Image.MAX_IMAGE_PIXELS = settings.WATCHFLOOR_EVIDENCE_MAX_IMAGE_PIXELS
    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InvalidInput(
            f"the image would decompress to more than {limit:,} pixels "
            "(a decompression bomb?); it was refused",
            field="file",
        ) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InvalidInput(
            f"the image is broken and cannot be decoded ({error})", field="file"
        ) from error
    return image


def inspect_image(path: Path) -> Preview:
    image = open_image_checked(path)
    # The display copy stands upright as the camera meant, then loses its metadata.
    upright = ImageOps.exif_transpose(image) or image
    pdq, quality = pdq_of(upright)
    return Preview(
        width=upright.width,
        height=upright.height,
        pdq=pdq,
        pdq_quality=quality,
        display=_jpeg(upright, DISPLAY_PIXELS),
        thumbnail=_jpeg(upright, THUMBNAIL_PIXELS),
    )


# -------------------------------------------------------------------------------- video

NO_FFMPEG = "no preview: ffmpeg not installed"
FRAMES_SAMPLED = 8
TOOL_SECONDS = 120


def ffmpeg_path() -> str | None:
    configured = settings.WATCHFLOOR_FFMPEG
    return configured if configured and Path(configured).exists() else None


def _ffprobe_path(ffmpeg: str) -> str | None:
    probe = Path(ffmpeg).with_name("ffprobe")
    return str(probe) if probe.exists() else shutil.which("ffprobe")


def _duration(ffprobe: str, path: Path) -> float:
    # The tools' paths come from settings and the files are ours; no shell is involved.
    result = subprocess.run(  # noqa: S603
        [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True,
        timeout=TOOL_SECONDS,
        check=False,
    )
    try:
        duration = float(json.loads(result.stdout or b"{}")["format"]["duration"])
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput(
            "the video is broken: ffprobe cannot read its duration", field="file"
        ) from error
    if result.returncode != 0 or duration <= 0:
        raise InvalidInput("the video is broken: ffprobe cannot read it", field="file")
    return duration


VIDEO_CONTAINERS = {
    "video/mp4": ("mp4", ".mp4"),
    "video/quicktime": ("mp4", ".mp4"),
    "video/webm": ("webm", ".webm"),
    "video/x-matroska": ("matroska", ".mkv"),
    "application/x-matroska": ("matroska", ".mkv"),
}


def inspect_video(path: Path, *, content_type: str, work_dir: Path) -> Preview:
    """PDQ of frames sampled evenly through the video, and a thumbnail from the first.

    Without ffmpeg the video is kept unchecked, with a note saying why there is no preview.
    """
    ffmpeg = ffmpeg_path()
    ffprobe = _ffprobe_path(ffmpeg) if ffmpeg else None
    if not ffmpeg or not ffprobe:
        return Preview(note=NO_FFMPEG)
    duration = _duration(ffprobe, path)
    interval = duration / FRAMES_SAMPLED
    with tempfile.TemporaryDirectory(dir=work_dir) as frames_dir:
        pattern = str(Path(frames_dir) / "frame-%03d.png")
        command = [ffmpeg, "-v", "error", "-nostdin", "-i", str(path)]
        command += [
            "-vf",
            f"fps=1/{interval:.6f}",
            "-frames:v",
            str(FRAMES_SAMPLED),
            "-an",
            pattern,
        ]
        result = subprocess.run(  # noqa: S603 (see _duration)
            command,
            capture_output=True,
            timeout=TOOL_SECONDS,
            check=False,
        )
        frames = sorted(Path(frames_dir).glob("frame-*.png"))
        if result.returncode != 0 or not frames:
            raise InvalidInput("the video is broken: ffmpeg cannot decode its frames", field="file")
        hashes: list[dict[str, object]] = []
        preview = Preview()
        for index, frame_path in enumerate(frames):
            frame = open_image_checked(frame_path)
            pdq, quality = pdq_of(frame)
            hashes.append(
                {"at_seconds": round(index * interval, 3), "pdq": pdq, "quality": quality}
            )
            if index == 0:
                preview.width, preview.height = frame.size
                preview.thumbnail = _jpeg(frame, THUMBNAIL_PIXELS)
        preview.frame_hashes = hashes
        best = max(hashes, key=lambda h: int(str(h["quality"])))
        preview.pdq, preview.pdq_quality = str(best["pdq"]), int(str(best["quality"]))
        container, suffix = VIDEO_CONTAINERS.get(content_type, ("mp4", ".mp4"))
        preview.display = _video_without_metadata(
            ffmpeg, path, Path(frames_dir) / f"display{suffix}", container
        )
        preview.display_suffix = suffix
    return preview


def _video_without_metadata(ffmpeg: str, path: Path, target: Path, container: str) -> bytes | None:
    """The same streams, remuxed without the container's metadata (location, device)."""
    command = [ffmpeg, "-v", "error", "-nostdin", "-i", str(path), "-map_metadata", "-1"]
    command += ["-c", "copy", "-f", container, str(target)]
    result = subprocess.run(  # noqa: S603 (see _duration)
        command,
        capture_output=True,
        timeout=TOOL_SECONDS,
        check=False,
    )
    return target.read_bytes() if result.returncode == 0 and target.exists() else None


def inspect(received: Received, *, work_dir: Path) -> Preview:
    if received.kind == Kind.IMAGE:
        return inspect_image(received.path)
    if received.kind == Kind.VIDEO:
        return inspect_video(received.path, content_type=received.content_type, work_dir=work_dir)
    return Preview(note=f"no preview for {Kind(received.kind).label.lower()} files")
