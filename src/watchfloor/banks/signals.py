"""Each signal type's validation and normal form, one place for services, API and CLI."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from watchfloor.banks.index import InvalidHashError, parse_pdq_hex
from watchfloor.banks.models import SignalType
from watchfloor.core.errors import InvalidInput

_HEX = re.compile(r"^[0-9a-f]+$")
_HEX_LENGTHS = {SignalType.MD5: 32, SignalType.SHA256: 64}


def parse_signal_type(value: str, *, field: str = "signal_type") -> SignalType:
    try:
        return SignalType(value.strip().lower())
    except ValueError:
        known = ", ".join(SignalType.values)
        raise InvalidInput(
            f"unknown signal type {value!r}; use one of: {known}", field=field
        ) from None


def normalise_value(signal_type: SignalType, value: str, *, field: str = "signal_value") -> str:
    text = value.strip()
    if signal_type == SignalType.PDQ:
        try:
            parse_pdq_hex(text)
        except InvalidHashError as error:
            raise InvalidInput(f"{error}: {text[:80]!r}", field=field) from None
        return text.lower()
    if signal_type in _HEX_LENGTHS:
        length = _HEX_LENGTHS[signal_type]
        lowered = text.lower()
        if len(lowered) != length or not _HEX.match(lowered):
            raise InvalidInput(
                f"an {signal_type.value} hash is {length} hexadecimal characters, "
                f"got {text[:80]!r}",
                field=field,
            )
        return lowered
    if signal_type == SignalType.DOMAIN:
        domain = text.lower().rstrip(".")
        if not domain or "/" in domain or " " in domain:
            raise InvalidInput(f"not a domain name: {text[:80]!r}", field=field)
        return domain
    if signal_type == SignalType.URL:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(f"a URL starts with http:// or https://: {text[:80]!r}", field=field)
        return text
    if not text:
        raise InvalidInput("the text is empty", field=field)
    return text
