"""One signal: the sources and subject kinds, ``SignalInput`` and ``parse_signal``.

``parse_signal`` validates one plain dict (as decoded from JSON) into a ``SignalInput``
in canonical form, using the field checks of ``contract.fields``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from watchfloor.signals.contract.errors import Reason, SignalRejected
from watchfloor.signals.contract.fields import (
    MAX_ID_LENGTH,
    MAX_POLICY_CODE_LENGTH,
    MAX_REF_LENGTH,
    MAX_REPORTER_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_URL_LENGTH,
    bad_type,
    check_identifier,
    check_json_value,
    check_keys,
    check_string,
    json_type,
    missing_field,
    parse_language,
    parse_media,
    parse_reach,
    parse_timestamp,
    show_value,
)

SourceName = Literal[
    "user_report",
    "trusted_flagger",
    "partner_referral",
    "law_enforcement",
    "government",
    "regulator",
    "media",
    "detector",
    "hash_match",
    "external_alert",
]
SOURCES: tuple[SourceName, ...] = get_args(SourceName)
# "alert": an official alert (CAP), whose ref is the alert thread it belongs to.
SubjectKindName = Literal["post", "account", "media", "url", "hashtag", "livestream", "alert"]
SUBJECT_KINDS: tuple[SubjectKindName, ...] = get_args(SubjectKindName)

_SOURCE_SET = frozenset(SOURCES)
_KIND_SET = frozenset(SUBJECT_KINDS)
TOP_LEVEL_FIELDS = frozenset(
    {
        "id",
        "received_at",
        "source",
        "subject",
        "text",
        "url",
        "media",
        "market",
        "language",
        "policy_hint",
        "reach",
        "reporter",
        "attributes",
    }
)
_SUBJECT_FIELDS = frozenset({"kind", "ref"})
# Possessive quantifiers: the same language as the schema's pattern, matched in
# linear time (with backtracking, a 4,096-character URL ending in a space took 47 ms).
_HTTP_URL = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f/?#]++[^\x00-\x20\x7f]*+")
_MARKET = re.compile(r"[A-Z]{2}")
_POLICY_CODE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class SignalInput:
    """A signal that meets the contract, its values in canonical form.

    Hashes are lower-case hex (``media_pdq`` is the 32 raw bytes), ``received_at``
    is an aware datetime in UTC, ``language`` is in canonical BCP 47 case, and
    absent optional fields are None (``attributes`` is then empty).
    """

    id: str
    received_at: datetime
    source: str
    subject_kind: str
    subject_ref: str
    text: str | None = None
    url: str | None = None
    media_pdq: bytes | None = None
    media_pdq_quality: int | None = None
    media_md5: str | None = None
    media_sha256: str | None = None
    market: str | None = None
    language: str | None = None
    policy_hint: str | None = None
    reach_impressions: int | None = None
    reach_followers: int | None = None
    reach_shares: int | None = None
    reporter: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def media_pdq_hex(self) -> str | None:
        return self.media_pdq.hex() if self.media_pdq is not None else None


# ---------------------------------------------------------------------------
# One signal


def parse_signal(data: Any, *, not_after: datetime | None = None) -> SignalInput:
    """Validate one signal (a dict as decoded from JSON) or raise ``SignalRejected``.

    ``received_at`` must fall in the range of ``core.validation`` (2000 to 2199) and, when
    ``not_after`` is given (the intake gives its clock plus the allowed skew), not after
    it: a producer's clock may run a little ahead, not days."""
    if type(data) is not dict:
        raise SignalRejected(
            Reason.BAD_TYPE, "", f"a signal must be a JSON object, not {json_type(data)}"
        )
    get = data.get

    signal_id = get("id")
    if signal_id is None:
        raise missing_field("id", data, TOP_LEVEL_FIELDS)
    check_identifier(signal_id, "id", MAX_ID_LENGTH)

    received_at_value = get("received_at")
    if received_at_value is None:
        raise missing_field("received_at", data, TOP_LEVEL_FIELDS)
    received_at = parse_timestamp(received_at_value, "received_at")
    if not_after is not None and received_at > not_after:
        raise SignalRejected(
            Reason.BAD_TIMESTAMP,
            "received_at",
            f"received_at {show_value(received_at_value)} is in the future: the latest time "
            f"accepted now is {not_after:%Y-%m-%dT%H:%M:%SZ} (the server's clock plus the allowed "
            "skew); check the producer's clock and the UTC offset it writes",
        )

    source = get("source")
    if source is None:
        raise missing_field("source", data, TOP_LEVEL_FIELDS)
    if type(source) is not str:
        raise bad_type("source", source, "a string")
    if source not in _SOURCE_SET:
        raise SignalRejected(
            Reason.UNKNOWN_SOURCE,
            "source",
            f"source {show_value(source)} is not a known source: use one of {', '.join(SOURCES)}",
        )

    subject = get("subject")
    if subject is None:
        raise missing_field("subject", data, TOP_LEVEL_FIELDS)
    if type(subject) is not dict:
        raise bad_type("subject", subject, 'an object such as {"kind": "post", "ref": "..."}')
    if len(subject) != 2 or subject.keys() != _SUBJECT_FIELDS:
        check_keys(subject, _SUBJECT_FIELDS, "subject.")
    kind = subject.get("kind")
    if kind is None:
        raise missing_field("subject.kind", subject, _SUBJECT_FIELDS)
    if type(kind) is not str:
        raise bad_type("subject.kind", kind, "a string")
    if kind not in _KIND_SET:
        raise SignalRejected(
            Reason.INVALID_VALUE,
            "subject.kind",
            f"subject.kind {show_value(kind)} is not a known kind: "
            f"use one of {', '.join(SUBJECT_KINDS)}",
        )
    ref = subject.get("ref")
    if ref is None:
        raise missing_field("subject.ref", subject, _SUBJECT_FIELDS)
    check_identifier(ref, "subject.ref", MAX_REF_LENGTH)

    if len(data) > 4 and not data.keys() <= TOP_LEVEL_FIELDS:
        check_keys(data, TOP_LEVEL_FIELDS, "")

    text = get("text")
    if text is not None:
        check_string(text, "text", MAX_TEXT_LENGTH)

    url = get("url")
    if url is not None:
        check_string(url, "url", MAX_URL_LENGTH)
        if _HTTP_URL.fullmatch(url) is None:
            raise SignalRejected(
                Reason.INVALID_VALUE,
                "url",
                f"url {show_value(url)} is not an absolute http(s) URL: give the full address, "
                "such as https://example.com/post/1, with spaces percent-encoded",
            )

    pdq = pdq_quality = md5 = sha256 = None
    media = get("media")
    if media is not None:
        pdq, pdq_quality, md5, sha256 = parse_media(media)

    market = get("market")
    if market is not None:
        check_string(market, "market", 16)
        if _MARKET.fullmatch(market) is None:
            raise SignalRejected(
                Reason.INVALID_VALUE,
                "market",
                f"market {show_value(market)} is not a market code: use the two-letter ISO 3166-1 "
                "code in capitals (for example JP)",
            )

    language = get("language")
    if language is not None:
        language = parse_language(language)

    policy_hint = get("policy_hint")
    if policy_hint is not None:
        check_string(policy_hint, "policy_hint", MAX_POLICY_CODE_LENGTH)
        if _POLICY_CODE.fullmatch(policy_hint) is None:
            raise SignalRejected(
                Reason.INVALID_VALUE,
                "policy_hint",
                f"policy_hint {show_value(policy_hint)} is not a policy code: use lower-case "
                "letters, digits and underscores, starting with a letter (for example scams_fraud)",
            )

    impressions = followers = shares = None
    reach = get("reach")
    if reach is not None:
        impressions, followers, shares = parse_reach(reach)

    reporter = get("reporter")
    if reporter is not None:
        check_identifier(reporter, "reporter", MAX_REPORTER_LENGTH)

    attributes = get("attributes")
    if attributes is None:
        attributes = {}
    else:
        if type(attributes) is not dict:
            raise bad_type("attributes", attributes, "an object")
        if attributes:
            check_json_value(attributes, "attributes", 0)

    return SignalInput(
        signal_id,
        received_at,
        source,
        kind,
        ref,
        text,
        url,
        pdq,
        pdq_quality,
        md5,
        sha256,
        market,
        language,
        policy_hint,
        impressions,
        followers,
        shares,
        reporter,
        attributes,
    )


def parse_signals(
    items: Iterable[Any], *, not_after: datetime | None = None
) -> list[SignalInput | SignalRejected]:
    """Validate many signals; a rejected one never stops the others."""
    results: list[SignalInput | SignalRejected] = []
    append = results.append
    for item in items:
        try:
            append(parse_signal(item, not_after=not_after))
        except SignalRejected as rejection:
            append(rejection)
    return results
