"""python-threatexchange's exchange APIs as Watchfloor configures them: the API object
for an exchange (its local signal file, StopNCII.org, Meta's ThreatExchange or NCMEC,
the last two in ``banks.exchange_threatexchange`` and ``banks.exchange_ncmec``), the
credentials it reads from the environment, StopNCII's pages as deltas, and checkpoints
stored as JSON.

The package is imported inside the functions, when an exchange is fetched or sent to,
so starting Watchfloor does not load it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from watchfloor.banks.models import Exchange, ExchangeKind
from watchfloor.core.errors import InvalidInput
from watchfloor.core.netpolicy import check_outbound_url

# An exchange's error is kept to this many characters (on the exchange, on an opinion).
MAX_ERROR_CHARS = 2000


def credentials_from_env(exchange: Exchange) -> str:
    """The value of the environment variable the exchange names, refused when unset."""
    value = os.environ.get(exchange.credentials_env, "") if exchange.credentials_env else ""
    if not value:
        raise InvalidInput(
            f"exchange {exchange.name!r}: environment variable {exchange.credentials_env!r} "
            "is not set",
            field="credentials_env",
        )
    return value


def stopncii_keys(exchange: Exchange) -> list[str]:
    """``fetch_key,subscription_key[,feedback_key]`` from the named variable."""
    parts = [part.strip() for part in credentials_from_env(exchange).split(",")]
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidInput(
            f"exchange {exchange.name!r}: {exchange.credentials_env} must hold "
            "'fetch_key,subscription_key' or 'fetch_key,subscription_key,feedback_key'",
            field="credentials_env",
        )
    return parts


def check_usable(exchange: Exchange) -> None:
    """Refuse an exchange that cannot be reached as configured: a signal file that is
    not there; StopNCII keys, a ThreatExchange token or NCMEC's user not set, or an address the
    outbound policy refuses (checked again each time: the name may resolve elsewhere
    since it was saved)."""
    if exchange.kind == ExchangeKind.FILE:
        if not os.path.isfile(exchange.location):
            raise InvalidInput(
                f"exchange {exchange.name!r}: no file at {exchange.location}", field="location"
            )
        return
    if exchange.kind == ExchangeKind.THREATEXCHANGE:
        from watchfloor.banks.exchange_threatexchange import threatexchange_token

        threatexchange_token(exchange)
    elif exchange.kind == ExchangeKind.NCMEC:
        from watchfloor.banks.exchange_ncmec import ncmec_credentials

        ncmec_credentials(exchange)
    else:
        stopncii_keys(exchange)
    if exchange.location:
        check_outbound_url(exchange.location, field="location")


def exchange_api(exchange: Exchange) -> Any:
    """The python-threatexchange API object for the exchange."""
    from threatexchange.exchanges.collab_config import CollaborationConfigBase

    check_usable(exchange)

    if exchange.kind == ExchangeKind.FILE:
        from threatexchange.exchanges.impl.file_api import (
            FileCollaborationConfig,
            LocalFileSignalExchangeAPI,
        )

        return LocalFileSignalExchangeAPI.for_collab(
            FileCollaborationConfig(
                name=exchange.name, api="local_file", enabled=True, filename=exchange.location
            )
        )
    if exchange.kind == ExchangeKind.THREATEXCHANGE:
        from watchfloor.banks.exchange_threatexchange import threatexchange_api

        return threatexchange_api(exchange)
    if exchange.kind == ExchangeKind.NCMEC:
        from watchfloor.banks.exchange_ncmec import ncmec_api

        return ncmec_api(exchange)
    from threatexchange.exchanges.impl.stop_ncii_api import (
        StopNCIICredentials,
        StopNCIISignalExchangeAPI,
    )

    parts = stopncii_keys(exchange)
    credentials = StopNCIICredentials(
        fetch_function_key=parts[0],
        subscription_key=parts[1],
        base_url_override=exchange.location.rstrip("/") or None,
    )
    return StopNCIISignalExchangeAPI.for_collab(
        CollaborationConfigBase(name=exchange.name, api="stop_ncii", enabled=True), credentials
    )


@dataclass
class Delta:
    updates: dict[tuple[str, str], Any]
    checkpoint: Any
    # For exchanges whose deletions name their own record, not the value (NCMEC): each
    # record of the delta and the (type, value) keys it holds, None when deleted.
    refs: dict[str, list[tuple[str, str]] | None] | None = None


def stopncii_deltas(api: Any, checkpoint: Any) -> Iterator[Delta]:
    """StopNCII's pages as deltas, as the package's ``fetch_iter`` makes them, except
    that a hash whose cases were all withdrawn or deleted comes out as withdrawn: the
    package (1.2.17) compares the hash value, not its status, with those states, so
    withdrawals never reach its caller."""
    from threatexchange.exchanges.clients.stopncii import api as stopncii
    from threatexchange.exchanges.impl.stop_ncii_api import (
        StopNCIICheckpoint,
        StopNCIISignalMetadata,
    )

    names = stopncii_type_names()
    gone = (stopncii.StopNCIICaseStatus.Withdrawn, stopncii.StopNCIICaseStatus.Deleted)
    start = checkpoint.update_time if checkpoint is not None else api.api.DEFAULT_START_TIME
    for page in api.api.fetch_hashes_iter(start_timestamp=start):
        updates: dict[tuple[str, str], Any] = {}
        for record in page.hashRecords:
            name = names.get(record.signalType)
            if name is None:
                continue
            withdrawn = record.hashStatus in gone
            updates[name, record.hashValue] = (
                None if withdrawn else StopNCIISignalMetadata(record.CSPFeedbacks)
            )
        yield Delta(updates, StopNCIICheckpoint.from_stopncii_fetch(page))


def stopncii_type_names() -> dict[Any, str]:
    """StopNCII's signal types by their python-threatexchange names (fetched one way,
    opinions sent the other)."""
    from threatexchange.exchanges.clients.stopncii import api as stopncii

    return {
        stopncii.StopNCIISignalType.ImagePDQ: "pdq",
        stopncii.StopNCIISignalType.VideoMD5: "video_md5",
        stopncii.StopNCIISignalType.URL: "url",
        stopncii.StopNCIISignalType.Text: "raw_text",
    }


def load_checkpoint(api: Any, stored: dict[str, Any] | None) -> Any:
    if stored is None:
        return None
    from threatexchange.utils.dataclass_json import dataclass_load_dict

    checkpoint = dataclass_load_dict(stored, api.get_checkpoint_cls())
    return None if checkpoint.is_stale() else checkpoint


def dump_checkpoint(checkpoint: Any) -> dict[str, Any]:
    from threatexchange.utils.dataclass_json import dataclass_dump_dict

    return dataclass_dump_dict(checkpoint)
