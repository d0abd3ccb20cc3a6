"""NCMEC's hash sharing API as python-threatexchange reaches it: the package's
``NCMECSignalExchangeAPI`` walks the entries (its own time windows and checkpoint,
paging URLs included), read here into deltas; opinions go back as NCMEC feedback
(upvote / downvote) on each entry that holds the value.

Two things the package (1.2.17) leaves to its caller:

- a deleted entry comes as a tombstone without its fingerprints, and the package only
  drops it, so nothing would ever be withdrawn: each delta here names the entries it
  holds (``member-entry id``), and ``banks.exchanges`` keeps which values each entry
  holds, withdrawing a value when no entry holds it any more;
- the environment's address is fixed by an enumeration (``NCMECEnvironment``): the
  client here is the package's ``NCMECHashAPI`` with the configured address.

The package is imported inside the functions, when an exchange is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from watchfloor.core.errors import InvalidInput, WatchfloorError

if TYPE_CHECKING:
    from watchfloor.banks.exchange_apis import Delta
    from watchfloor.banks.models import Exchange

# NCMEC's entry type and fingerprint name for each python-threatexchange name kept.
NCMEC_FINGERPRINTS = {("image", "pdq"): "pdq", ("video", "md5"): "video_md5"}


class NCMECRefused(WatchfloorError):
    code = "exchange_refused"


def ncmec_credentials(exchange: Exchange) -> tuple[str, str]:
    """``user:password`` from the named variable (the package's own format)."""
    from watchfloor.banks.exchange_apis import credentials_from_env

    user, _, password = credentials_from_env(exchange).strip().partition(":")
    if not user or not password:
        raise InvalidInput(
            f"exchange {exchange.name!r}: {exchange.credentials_env} must hold 'user:password'",
            field="credentials_env",
        )
    return user, password


def ncmec_base_url(exchange: Exchange) -> str:
    from threatexchange.exchanges.clients.ncmec.hash_api import NCMECEnvironment

    return exchange.location.rstrip("/") or NCMECEnvironment.Industry.value


def _client(exchange: Exchange) -> Any:
    from requests import Session
    from threatexchange.exchanges.clients.ncmec.hash_api import NCMECEnvironment, NCMECHashAPI
    from threatexchange.exchanges.clients.utils.common import TimeoutHTTPAdapter
    from urllib3.util.retry import Retry

    class Client(NCMECHashAPI):
        def _get_session(self) -> Session:
            """The package's session (basic auth, 60-second timeout, retries on GET),
            without proxies from the environment and without waiting as long as a
            server's Retry-After asks."""
            session = Session()
            session.trust_env = False
            session.auth = (self.username, self.password)
            retries = Retry(
                total=2,
                status_forcelist=[429, 500, 502, 503, 504],
                allowed_methods=["GET"],
                backoff_factor=0.2,
                respect_retry_after_header=False,
            )
            session.mount(self._base_url, TimeoutHTTPAdapter(timeout=60, max_retries=retries))
            return session

    user, password = ncmec_credentials(exchange)
    client = Client(user, password, NCMECEnvironment.Industry)
    client._base_url = ncmec_base_url(exchange)  # the only place the package keeps it
    return client


def ncmec_api(exchange: Exchange) -> Any:
    from threatexchange.exchanges.clients.ncmec.hash_api import NCMECEnvironment
    from threatexchange.exchanges.impl.ncmec_api import (
        NCMECCollabConfig,
        NCMECSignalExchangeAPI,
    )

    configured = exchange

    class Api(NCMECSignalExchangeAPI):
        def get_client(self, environment: Any) -> Any:
            return _client(configured)

    user, password = ncmec_credentials(exchange)
    collab = NCMECCollabConfig(
        name=exchange.name, enabled=True, environment=NCMECEnvironment.Industry
    )
    return Api(collab, user, password)


def ncmec_deltas(api: Any, checkpoint: Any, exchange: Exchange) -> Iterator[Delta]:
    """The package's deltas, each entry's PDQ (images) and MD5 (videos) as values, and
    which entry holds which, deleted entries as holding nothing."""
    from requests import HTTPError

    from watchfloor.banks.exchange_apis import Delta
    from watchfloor.banks.pytx import pytx_signal_types

    try:
        for delta in api.fetch_iter(pytx_signal_types(), checkpoint):
            updates: dict[tuple[str, str], Any] = {}
            refs: dict[str, list[tuple[str, str]] | None] = {}
            for ref, entry in delta.updates.items():
                if entry.deleted:
                    refs[ref] = None
                    continue
                held = []
                for fingerprint, value in entry.fingerprints.items():
                    name = NCMEC_FINGERPRINTS.get((entry.entry_type.value, fingerprint.lower()))
                    if name is not None:
                        updates[name, value] = entry
                        held.append((name, value))
                refs[ref] = held
            yield Delta(updates, delta.checkpoint, refs)
    except HTTPError as error:
        status = error.response.status_code if error.response is not None else 0
        hint = (
            f"; check the user:password in {exchange.credentials_env}"
            if status in (401, 403)
            else ""
        )
        raise NCMECRefused(
            f"NCMEC refused the request (HTTP {status}) at {ncmec_base_url(exchange)}{hint}"
        ) from None


def send_ncmec_opinion(
    exchange: Exchange, *, pytx_type: str, value: str, refs: list[str], positive: bool
) -> None:
    """NCMEC feedback on the value's fingerprint in each entry that holds it: an
    upvote, or a downvote with NCMEC's reason when it offers only one (the package
    picks it; with several it refuses, and so does this)."""
    from threatexchange.exchanges.clients.ncmec.hash_api import FeedbackType, FingerprintType

    if not refs:
        raise NCMECRefused("no NCMEC entry holds this value any more")
    fingerprint = FingerprintType.pdq if pytx_type == "pdq" else FingerprintType.md5
    client = _client(exchange)
    for ref in refs:
        member, _, entry_id = ref.partition("-")
        try:
            client.submit_feedback(
                int(member),
                entry_id,
                fingerprint,
                FeedbackType.upvote if positive else FeedbackType.downvote,
            )
        except Exception as error:
            raise NCMECRefused(f"NCMEC refused feedback on entry {ref}: {error}") from None
