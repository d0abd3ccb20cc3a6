"""The outer bound on uploaded files, applied while Django parses the request body.

Django streams a multipart upload to a temporary file before any view runs (the CSRF
check reads the form). This handler, first in ``FILE_UPLOAD_HANDLERS``, stops reading a
file once it passes the largest evidence size limit, so an oversized upload never fills
the disk; the view then refuses it with the reason. The per-kind limits are applied again,
exactly, by :func:`watchfloor.evidence.media.receive`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

REFUSED_ATTRIBUTE = "evidence_upload_refused"


def largest_upload() -> int:
    return max(int(limit) for limit in settings.WATCHFLOOR_EVIDENCE_MAX_BYTES.values())


class BoundedUploadHandler(FileUploadHandler):
    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        limit = largest_upload()
        if start + len(raw_data) > limit:
            if self.request is not None:
                megabytes = limit / (1024 * 1024)
                refusal = f"the file is larger than the {megabytes:.1f} MB any evidence may be"
                setattr(self.request, REFUSED_ATTRIBUTE, refusal)
            # Stop reading the body; what was parsed so far stays usable.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
