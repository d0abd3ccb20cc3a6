"""Rules that hold for every input (hypothesis): names never become paths, and whatever
bytes arrive, the upload is either refused with nothing left behind or hashed exactly."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.evidence.conftest import image_bytes
from watchfloor.core.errors import InvalidInput
from watchfloor.evidence.media import clean_file_name, receive

PNG = image_bytes(size=(40, 30))


@given(st.text(max_size=300))
def test_a_clean_file_name_never_names_a_path(name):
    try:
        clean = clean_file_name(name)
    except InvalidInput as error:
        assert error.field == "file"
    else:
        assert "/" not in clean and "\\" not in clean and not clean.startswith("..")
        assert 0 < len(clean) <= 255 and all(ord(ch) >= 32 for ch in clean)


@settings(max_examples=60, deadline=None)
@given(
    head=st.sampled_from([b"", PNG, b"%PDF-1.7\n", b"\x00\x01junk"]),
    tail=st.binary(max_size=2000),
    split=st.integers(min_value=1, max_value=700),
)
def test_an_upload_is_refused_cleanly_or_hashed_exactly(tmp_path_factory, head, tail, split):
    work = Path(tmp_path_factory.mktemp("incoming"))
    data = head + tail
    chunks = [data[i : i + split] for i in range(0, len(data), split)]
    try:
        received = receive(chunks, name="upload.bin", declared_type=None, work_dir=work)
    except InvalidInput as error:
        assert error.field == "file"
        assert list(work.iterdir()) == []
    else:
        assert received.path.read_bytes() == data
        assert received.sha256 == hashlib.sha256(data).hexdigest()
        assert received.size_bytes == len(data)
        received.path.unlink()
