"""The organisation's trusted senders of official alerts: ``cap_senders.yaml``.

Which agencies' alerts may open escalations is the organisation's decision, reviewed
like the signal rules: a YAML file (``defaults/cap_senders.yaml`` unless
``WATCHFLOOR_CAP_SENDERS`` names another), validated by a pydantic model, every problem
reported with its file, path and line, and read again whenever it changes::

    cap_senders.yaml:12: senders[2].country: 'XX' is not a market of the catalog ...

An alert from a sender not listed here is still stored as a signal (someone may want to
read it), but its ``attributes.alert.trusted`` is false and no rule acts on it. A sender
is matched exactly on the alert's ``<sender>`` (CAP says it is unique to the agency).
``watchfloor cap_senders validate [FILE]`` checks a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from watchfloor.catalog.loader import ConfigFileError
from watchfloor.catalog.rulefiles import CheckedFile, RuleFileKind, listing
from watchfloor.catalog.schema import Catalog, Location

SENDERS_FILE_NAME = "cap_senders.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrustedSender(_Strict):
    # The alert's <sender>, exactly (CAP 1.2 §3.2.1: unique to the originator).
    sender: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\s,<&]+$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    # Where the sender's alerts are about when their areas say nothing more precise.
    country: str | None = None
    note: str = ""


class SendersFile(_Strict):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    senders: list[TrustedSender] = Field(default_factory=list)

    def find(self, sender: str) -> TrustedSender | None:
        for trusted in self.senders:
            if trusted.sender == sender:
                return trusted
        return None


class TrustedSendersError(ConfigFileError):
    code = "invalid_cap_senders"
    subject = "the trusted CAP senders in {where}"
    verb = "have"


def _problems(spec: SendersFile, catalog: Catalog | None) -> Iterator[tuple[Location, str]]:
    seen: dict[str, int] = {}
    for index, trusted in enumerate(spec.senders):
        if trusted.sender in seen:
            yield (
                ("senders", index, "sender"),
                f"'{trusted.sender}' is already listed as senders[{seen[trusted.sender]}]",
            )
        seen.setdefault(trusted.sender, index)
        if catalog is not None and trusted.country:
            markets = {market.code for market in catalog.markets.markets}
            if trusted.country not in markets:
                yield (
                    ("senders", index, "country"),
                    f"unknown market '{trusted.country}'; use one of {listing(markets)}",
                )


SENDERS: RuleFileKind[SendersFile] = RuleFileKind(
    model=SendersFile,
    error=TrustedSendersError,
    checks=_problems,
    setting="WATCHFLOOR_CAP_SENDERS",
    file_name=SENDERS_FILE_NAME,
    what="trusted CAP senders",
)

Senders = CheckedFile[SendersFile]


def read_senders(path: Path | None = None, *, catalog: Catalog | None) -> Senders:
    return SENDERS.read(path, catalog=catalog)


def senders_in_force(catalog: Catalog | None, *, catalog_key: str = "") -> Senders:
    """The file in force, re-read when it changes; missing or broken means nobody is
    trusted (logged; ``watchfloor cap_senders validate`` says why)."""
    return SENDERS.in_force(catalog, catalog_key=catalog_key)
