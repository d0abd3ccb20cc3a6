"""The evidence storage: content-addressed names through Django's storage API.

Every name is derived from the SHA-256 of the original bytes, never from what the
uploader called the file, so no name can reach outside the storage and the same file is
stored once however often it is added. ``storages["evidence"]`` is a local directory
under the data directory by default (settings.STORAGES); any django-storages backend
works in its place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from watchfloor.evidence.media import CHUNK_BYTES


def evidence_storage() -> Storage:
    return storages["evidence"]


def original_name(sha256: str) -> str:
    return f"originals/{sha256[:2]}/{sha256}"


def display_name(sha256: str, suffix: str) -> str:
    return f"display/{sha256[:2]}/{sha256}{suffix}"


def thumbnail_name(sha256: str) -> str:
    return f"thumbnails/{sha256[:2]}/{sha256}.jpg"


class StoredFiles:
    """The names one upload wrote, so a failure afterwards can take them back."""

    def __init__(self) -> None:
        self.storage = evidence_storage()
        self.written: list[str] = []

    def put_file(self, name: str, path: Path) -> str:
        if self.storage.exists(name):
            return name
        with path.open("rb") as stream:
            saved = self.storage.save(name, File(stream))
        self.written.append(saved)
        return saved

    def put_bytes(self, name: str, content: bytes) -> str:
        if self.storage.exists(name):
            return name
        saved = self.storage.save(name, ContentFile(content))
        self.written.append(saved)
        return saved

    def take_back(self) -> None:
        for name in self.written:
            self.storage.delete(name)
        self.written.clear()


@contextmanager
def stored_files() -> Iterator[StoredFiles]:
    """Files written inside the block are deleted again if the block fails."""
    files = StoredFiles()
    try:
        yield files
    except BaseException:
        files.take_back()
        raise


def open_stored(name: str) -> IO[bytes]:
    return evidence_storage().open(name, "rb")


def read_stored(name: str) -> bytes:
    with open_stored(name) as stream:
        return stream.read()


def sha256_of_stored(name: str) -> str | None:
    """The SHA-256 of a stored file as it is now, or None when it is missing."""
    storage = evidence_storage()
    if not storage.exists(name):
        return None
    digest = hashlib.sha256()
    with storage.open(name, "rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def delete_stored(*names: str) -> None:
    storage = evidence_storage()
    for name in names:
        if name:
            storage.delete(name)
