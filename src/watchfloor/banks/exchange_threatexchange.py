"""Meta's ThreatExchange as python-threatexchange reaches it: one privacy group's
``threat_updates`` fetched as deltas, and opinions sent back as reactions on the
group's descriptors.

The package's exchange API (``FBThreatExchangeSignalExchangeAPI``) is used with a client
of our own making, a small subclass of the package's ``ThreatExchangeAPI``, because
the package's client, as of python-threatexchange 1.2.17:

- sends its GETs with a bare ``requests.get``: no timeout and none of the retries its
  own session sets up, so a silent server holds a worker forever;
- puts the access token in the query string, so the error ``requests`` raises for a
  refused request carries the token (and would land in ``last_error`` and the audit
  log), while the Graph API's own explanation in the body is dropped;
- follows whatever ``paging.next`` address the server returns, to any host;
- catches ``urllib``'s ``HTTPError`` around its POSTs, which ``requests`` never raises,
  so a refused reaction comes back looking like any other answer.

And its ``fetch_iter`` asserts that no page is empty ("empty update?"), which is what a
privacy group with nothing new since the checkpoint answers; so the pages are walked
here, through the package's cursor and its record parser, as StopNCII's are.

The package is imported inside the functions, when an exchange is used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from watchfloor.core.errors import InvalidInput, WatchfloorError

if TYPE_CHECKING:
    from watchfloor.banks.exchange_apis import Delta
    from watchfloor.banks.models import Exchange

GRAPH_API = "https://graph.facebook.com/v26.0"
REQUEST_TIMEOUT_SECONDS = 60
# How many updates one page (one delta) asks for.
PAGE_SIZE = 500
# The reaction sent for each opinion: the ones the package itself reads back as a
# positive and a negative opinion on a descriptor.
REACTION_CONFIRMED = "HELPFUL"
REACTION_FALSE_POSITIVE = "DISAGREE_WITH_TAGS"
_APP_TOKEN = re.compile(r"^[0-9]{8,}\|[A-Za-z0-9_\-]{20,}$")


class ThreatExchangeRefused(WatchfloorError):
    """ThreatExchange answered with an error, or could not be reached; the message never
    carries the access token."""

    code = "exchange_refused"


def threatexchange_token(exchange: Exchange) -> str:
    """The app access token (``APP_ID|SECRET``) from the named variable."""
    from watchfloor.banks.exchange_apis import credentials_from_env

    token = credentials_from_env(exchange).strip()
    if not _APP_TOKEN.match(token):
        raise InvalidInput(
            f"exchange {exchange.name!r}: {exchange.credentials_env} does not hold an app "
            "access token of the form APP_ID|SECRET",
            field="credentials_env",
        )
    return token


def _client(exchange: Exchange) -> Any:
    from requests import Session
    from requests.adapters import HTTPAdapter
    from threatexchange.exchanges.clients.fb_threatexchange.api import ThreatExchangeAPI
    from urllib3.util.retry import Retry

    token = threatexchange_token(exchange)
    base_url = exchange.location.rstrip("/") or GRAPH_API

    class Client(ThreatExchangeAPI):
        def _get_session(self) -> Session:
            session = Session()
            session.trust_env = False  # a proxy would reach what the policy refused
            retries = Retry(
                total=2,
                status_forcelist=[429, 500, 502, 503, 504],
                allowed_methods=["GET"],
                backoff_factor=0.2,
                raise_on_status=False,  # the last answer's body says what went wrong
                respect_retry_after_header=False,  # a server's "retry in a day" is no wait
            )
            session.mount(base_url, HTTPAdapter(max_retries=retries))
            return session

        def get_json_from_url(
            self, url: str, params: Any = None, *, json_obj_hook: Any = None
        ) -> Any:
            if not _same_origin(url, base_url):
                raise ThreatExchangeRefused(
                    f"ThreatExchange sent a next page at another address ({urlsplit(url).netloc})"
                )
            with self._get_session() as session:
                try:
                    response = session.get(
                        url, params=params or {}, timeout=REQUEST_TIMEOUT_SECONDS
                    )
                except Exception as error:
                    raise ThreatExchangeRefused(_redacted(token, str(error))) from None
            if response.status_code >= 400:
                raise ThreatExchangeRefused(_graph_error(response, exchange))
            return response.json(object_hook=json_obj_hook)

    return Client(token, endpoint_override=base_url)


def _same_origin(url: str, base_url: str) -> bool:
    asked, base = urlsplit(url), urlsplit(base_url)
    return (asked.scheme, asked.netloc) == (base.scheme, base.netloc)


def _redacted(token: str, text: str) -> str:
    for form in (token, quote(token, safe="")):
        text = text.replace(form, "[token]")
    return text


def _graph_error(response: Any, exchange: Exchange) -> str:
    """The Graph API's own explanation (``{"error": {"message", "type", "code"}}``)."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    what = f"HTTP {response.status_code}"
    if error.get("type") or error.get("code"):
        what += f", {error.get('type', '')} {error.get('code', '')}".rstrip()
    message = str(error.get("message") or response.reason or "no explanation")
    hint = ""
    if error.get("type") == "OAuthException" or response.status_code in (401, 403):
        hint = f"; check the token in {exchange.credentials_env}"
    elif error.get("code") == 100:
        hint = f"; is {exchange.privacy_group} a privacy group this app is a member of?"
    return _redacted(
        threatexchange_token(exchange),
        f"ThreatExchange refused privacy group {exchange.privacy_group} ({what}): {message}{hint}",
    )


def threatexchange_api(exchange: Exchange) -> Any:
    from threatexchange.exchanges.impl.fb_threatexchange_api import (
        FBThreatExchangeCollabConfig,
        FBThreatExchangeSignalExchangeAPI,
    )

    collab = FBThreatExchangeCollabConfig(
        name=exchange.name, enabled=True, privacy_group=int(exchange.privacy_group or 0)
    )
    return FBThreatExchangeSignalExchangeAPI(_client(exchange), collab)


def indicator_type_names() -> dict[str, tuple[str, str | None]]:
    """ThreatExchange's indicator types as python-threatexchange names, each with the tag
    a descriptor must carry for it to count (``HASH_MD5`` is a video's only when tagged
    ``media_type_video``), read from the package's own signal types."""
    from watchfloor.banks.pytx import pytx_signal_types

    names: dict[str, tuple[str, str | None]] = {}
    for signal_type in pytx_signal_types():
        declared = getattr(signal_type, "INDICATOR_TYPE", None)
        if isinstance(declared, str):
            declared = {declared: None}
        elif isinstance(declared, set):
            declared = dict.fromkeys(declared)
        for indicator_type, tag in (declared or {}).items():
            names[indicator_type] = (signal_type.get_name(), tag)
    return names


def threatexchange_deltas(api: Any, checkpoint: Any) -> Iterator[Delta]:
    """One delta per page of the privacy group's ``threat_updates`` since the checkpoint:
    a deleted or expired indicator (``should_delete``, or no descriptor left that this
    app may see) comes out as withdrawn. An empty page still moves the checkpoint's
    fetch time, so a quiet group's checkpoint does not go stale."""
    from threatexchange.exchanges.clients.fb_threatexchange.threat_updates import (
        ThreatUpdateJSON,
    )
    from threatexchange.exchanges.impl.fb_threatexchange_api import (
        FBThreatExchangeCheckpoint,
        FBThreatExchangeIndicatorRecord,
    )

    from watchfloor.banks.exchange_apis import Delta

    names = indicator_type_names()
    start = checkpoint.update_time if checkpoint is not None else None
    highest = start or 0
    pages = api.client.get_threat_updates(
        api.collab.privacy_group,
        start_time=start,
        page_size=PAGE_SIZE,
        # What the package's record parser reads, each descriptor's id named rather
        # than left to the Graph API to add (the package's fetch_iter names none).
        fields=("id", *FBThreatExchangeIndicatorRecord.te_threat_updates_fields()),
        decode_fn=ThreatUpdateJSON,
    )
    for page in pages:
        updates: dict[tuple[str, str], Any] = {}
        for update in page:
            highest = max(highest, update.time)
            record = FBThreatExchangeIndicatorRecord.from_threatexchange_json(
                api.client.app_id, update
            )
            name, tag = names.get(update.threat_type, (update.threat_type, None))
            tags = (
                {label for opinion in record.opinions for label in opinion.tags}
                if record
                else set()
            )
            if record is not None and tag is not None and tag not in tags:
                continue  # e.g. an MD5 that is not a video's
            updates[name, update.indicator] = record
        yield Delta(updates, FBThreatExchangeCheckpoint(update_time=highest))


def send_threatexchange_opinion(
    exchange: Exchange, *, pytx_type: str, value: str, positive: bool
) -> None:
    """React to each descriptor of ``value`` in the privacy group: ``HELPFUL`` for a
    confirmation, ``DISAGREE_WITH_TAGS`` for a false positive."""
    client = _client(exchange)
    indicator_types = {
        indicator_type for indicator_type, (name, _) in indicator_type_names().items()
        if name == pytx_type
    }  # fmt: skip
    found = client.search_threat_descriptors(
        privacy_groups=[exchange.privacy_group],
        text=value,
        strict_text=True,
        fields=("id", "raw_indicator", "type"),
    )
    descriptors = [
        str(descriptor["id"])
        for page in found
        for descriptor in page
        if descriptor.get("raw_indicator") == value and descriptor.get("type") in indicator_types
    ]
    if not descriptors:
        raise ThreatExchangeRefused(
            f"no descriptor of this {pytx_type} in privacy group {exchange.privacy_group} "
            "(deleted since, or not visible to this app)"
        )
    reaction = REACTION_CONFIRMED if positive else REACTION_FALSE_POSITIVE
    for descriptor_id in descriptors:
        try:
            _, _, answer = client.react_to_threat_descriptor(descriptor_id, reaction)
        except Exception as error:
            raise ThreatExchangeRefused(
                _redacted(client.api_token, f"{type(error).__name__}: {error}")
            ) from None
        # The package hands back the answer whatever its status: read it.
        if not (isinstance(answer, dict) and answer.get("success") is True):
            detail = answer.get("error", {}).get("message") if isinstance(answer, dict) else ""
            raise ThreatExchangeRefused(
                f"ThreatExchange refused the {reaction} reaction on descriptor "
                f"{descriptor_id}: {detail or answer!r}"
            )
