"""The PREPARE steps of the intake: no lock held, no writes.

validate → check_catalog → normalise → detect_language → pair_within_batch: the
contract's checks, the catalog's codes, the clustering keys (URL, hashes, MinHash
signature of the text), the language, and which items of the batch are near each
other. All of it costs CPU without touching shared state, so several processes do it
at once; a surge's repeated texts are signed and detected once (``RecentResults``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

import numpy as np
from django.conf import settings
from django.db import DatabaseError

from watchfloor.catalog.models import CatalogVersion
from watchfloor.catalog.selectors import active_catalog_version, catalog_for
from watchfloor.core import clock
from watchfloor.core.errors import NotFound
from watchfloor.signals import clustering, language, text
from watchfloor.signals.contract import SignalRejected, parse_signal
from watchfloor.signals.intake.batch import IntakeBatch, ValidItem
from watchfloor.signals.media import is_useful_quality
from watchfloor.signals.urls import normalise_url

# Reasons the intake adds to the contract's (contract.Reason): catalog checks.
UNKNOWN_MARKET = "unknown_market"
UNKNOWN_POLICY = "unknown_policy"


def validate(batch: IntakeBatch) -> None:
    """Each item against the contract (``contract.parse_signal``); a rejection carries
    its line when the batch came from a file. ``received_at`` may be ahead of the clock
    by ``WATCHFLOOR_SIGNAL_FUTURE_SKEW`` at most."""
    not_after = clock.now() + settings.WATCHFLOOR_SIGNAL_FUTURE_SKEW
    for item in batch.items:
        raw = item.raw
        if type(raw) is SignalRejected:
            item.reject(raw)
            continue
        if isinstance(raw, Mapping) and type(raw) is not dict:
            raw = dict(raw)
        try:
            item.signal = parse_signal(raw, not_after=not_after)
        except SignalRejected as rejection:
            item.reject(rejection)


def check_catalog(batch: IntakeBatch) -> None:
    """``market`` and ``policy_hint`` must exist in the catalog in force."""
    wanted = [item for item in batch.valid() if item.signal.market or item.signal.policy_hint]
    if not wanted:
        return
    try:
        version = active_catalog_version()
    except NotFound:
        version = None
    markets, policies = _catalog_codes(version.pk, version.digest) if version else ((), ())
    missing = "" if version else " (no catalog is loaded: run `watchfloor config load`)"
    for item in wanted:
        signal = item.signal
        if signal.market and signal.market not in markets:
            item.reject(
                SignalRejected(
                    UNKNOWN_MARKET,
                    "market",
                    f"market {signal.market!r} is not a market of the catalog{missing}: "
                    f"use one of {', '.join(markets) or 'the catalog markets'}",
                )
            )
        elif signal.policy_hint and signal.policy_hint not in policies:
            item.reject(
                SignalRejected(
                    UNKNOWN_POLICY,
                    "policy_hint",
                    f"policy_hint {signal.policy_hint!r} is not a policy of the catalog{missing}:"
                    f" use a policy code such as {', '.join(policies[:4]) or 'scams_fraud'}"
                    " (GET /api/v1/catalog lists them)",
                )
            )


@lru_cache(maxsize=4)
def _catalog_codes(version_id: int, digest: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    catalog = catalog_for(CatalogVersion.objects.get(pk=version_id))
    markets = tuple(sorted(market.code for market in catalog.markets.markets))
    policies = tuple(
        sorted(policy.code for area in catalog.policies.areas for policy in area.policies)
    )
    return markets, policies


@cache
def _minhasher() -> text.MinHasher:
    return text.MinHasher()


_UNKNOWN = object()


class RecentResults:
    """The results for the last ``size`` distinct inputs: in a surge the same text
    arrives thousands of times, and its signature or language need computing once.
    Oldest first out; safe to share between the threads of a server."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._results: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        """The remembered result, or ``_UNKNOWN``."""
        return self._results.get(key, _UNKNOWN)

    def remember(self, key: Any, value: Any) -> None:
        with self._lock:
            self._results[key] = value
            if len(self._results) > self.size:
                del self._results[next(iter(self._results))]


# raw text -> (MinHash signature or None if too short, figures, short text key, links)
_SIGNATURES = RecentResults(20_000)
_LANGUAGES = RecentResults(20_000)  # (languages, raw text) -> detected language or None


def normalise(batch: IntakeBatch) -> None:
    """The clustering keys: subject, normalised URL, useful PDQ hash, file hashes, and the
    MinHash signature of texts long enough to judge."""
    with_text: list[ValidItem] = []
    known: dict[str, _TextKeys] = {}  # raw text -> its keys
    missing: dict[str, str] = {}  # raw text -> normalised text, to compute
    for item in batch.valid():
        signal = item.signal
        item.url_normalised = (normalise_url(signal.url) or "") if signal.url else ""
        item.keys = clustering.SignalKeys(
            subject=clustering.subject_key(signal.subject_kind, signal.subject_ref),
            url=clustering.exact_key_value(item.url_normalised) if item.url_normalised else None,
            pdq=signal.media_pdq if is_useful_quality(signal.media_pdq_quality) else None,
            md5=signal.media_md5,
            sha256=signal.media_sha256,
        )
        raw = signal.text
        if raw:
            with_text.append(item)
            if raw in known or raw in missing:
                continue
            remembered = _SIGNATURES.get(raw)
            if remembered is _UNKNOWN:
                missing[raw] = text.normalise_text(raw)
            else:
                known[raw] = remembered
    judged = {
        raw: normalised
        for raw, normalised in missing.items()
        if clustering.text_weight(normalised) >= clustering.MIN_TEXT_WEIGHT
    }
    signatures = _minhasher().signatures_of_normalised(list(judged.values()))
    computed = dict(zip(judged, signatures, strict=True))
    for raw, normalised in missing.items():
        known[raw] = (computed.get(raw), *_text_keys(raw, normalised))
        _SIGNATURES.remember(raw, known[raw])
    for item in with_text:
        keys = item.keys
        keys.text_signature, keys.figures, keys.short_text, keys.text_urls = known[
            item.signal.text or ""
        ]


_TextKeys = tuple["np.ndarray | None", str, "str | None", tuple[str, ...]]


def _text_keys(raw: str, normalised: str) -> tuple[str, str | None, tuple[str, ...]]:
    """What a text adds to the keys: its figures, its exact key when it is short, and,
    when it is too short for a signature, the links inside it (normalised, the first
    ``MAX_TEXT_LINKS``)."""
    weight = clustering.text_weight(normalised)
    short = (
        clustering.exact_key_value(normalised)
        if clustering.MIN_SHORT_TEXT_WEIGHT <= weight < clustering.MIN_TEXT_WEIGHT
        else None
    )
    links: list[str] = []
    # A link is the key when the text around it is too short to judge; a longer text is
    # judged on its words (keyed always, a shared news link fused different reports: the
    # pairwise precision on the CrisisLex tweets fell from 0.99 to 0.42).
    in_text = text.links_in(raw) if weight < clustering.MIN_TEXT_WEIGHT else []
    for found in in_text[: clustering.MAX_TEXT_LINKS]:
        normalised_link = normalise_url(found)
        if normalised_link:
            links.append(clustering.exact_key_value(normalised_link))
    return clustering.figures_of(normalised), short, tuple(dict.fromkeys(links))


def detect_language(batch: IntakeBatch) -> None:
    """The producer's ``language`` is kept; when absent it is detected among
    ``WATCHFLOOR_SIGNAL_LANGUAGES`` and marked ``language_detected``."""
    unknown = []
    for item in batch.valid():
        if item.signal.language:
            item.language = item.signal.language
        elif item.signal.text:
            unknown.append(item)
    if not unknown:
        return
    codes = tuple(
        getattr(settings, "WATCHFLOOR_SIGNAL_LANGUAGES", None) or language.DEFAULT_LANGUAGES
    )
    found: dict[str, str | None] = {}
    for item in unknown:
        raw = item.signal.text or ""
        if raw not in found and (remembered := _LANGUAGES.get((codes, raw))) is not _UNKNOWN:
            found[raw] = remembered
    texts = [
        raw for raw in dict.fromkeys(item.signal.text or "" for item in unknown) if raw not in found
    ]
    if texts:
        detector = language.get_language_detector(codes)
        for raw, detected in zip(texts, detector.detect_many(texts), strict=True):
            found[raw] = detected
            _LANGUAGES.remember((codes, raw), detected)
    market_languages: dict[str, tuple[str, ...]] | None = None
    for item in unknown:
        raw = item.signal.text or ""
        detected = found[raw]
        if detected in ("ja", "zh") and item.signal.market:
            if market_languages is None:
                market_languages = _market_languages()
            detected = language.han_tie_break(
                detected, raw, market_languages.get(item.signal.market, ())
            )
        if detected:
            item.language = detected
            item.language_detected = True


def _market_languages() -> dict[str, tuple[str, ...]]:
    """Each market's languages in the catalog in force (none without a catalog, or
    without a database: a backtest replays files in memory)."""
    try:
        version = active_catalog_version()
    except (NotFound, DatabaseError):
        return {}
    return _catalog_market_languages(version.pk, version.digest)


@lru_cache(maxsize=4)
def _catalog_market_languages(version_id: int, digest: str) -> dict[str, tuple[str, ...]]:
    catalog = catalog_for(CatalogVersion.objects.get(pk=version_id))
    return {market.code: tuple(market.languages) for market in catalog.markets.markets}


def pair_within_batch(batch: IntakeBatch) -> None:
    """Which hashes and texts of the batch are near each other
    (``clustering.BatchNeighbours``): it needs only the batch, so it is worked out here
    rather than under the lock."""
    batch.neighbours = clustering.BatchNeighbours(
        [item.keys for item in batch.valid()], clustering.clustering_config()
    )
