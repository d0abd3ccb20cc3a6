"""Links from an evidence item's page to the pages of apps above evidence (banks: "bank
this"), without evidence importing them. Each app registers a provider from its
``AppConfig.ready()``; unfilled, the page shows nothing of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchfloor.evidence.models import EvidenceItem
    from watchfloor.people.models import User


@dataclass(frozen=True)
class ItemLink:
    label: str
    url: str
    hint: str = ""


ItemLinkProvider = Callable[..., "ItemLink | None"]
_providers: dict[str, ItemLinkProvider] = {}


def register_item_link(name: str, provider: ItemLinkProvider) -> None:
    """``provider(item=…, viewer=…)`` returns a link for that reader, or None (register
    again under the same name to replace it)."""
    _providers[name] = provider


def item_links(*, item: EvidenceItem, viewer: User) -> list[ItemLink]:
    """The links for a viewer who may see the item (the page checked that first)."""
    links = (provider(item=item, viewer=viewer) for provider in _providers.values())
    return [link for link in links if link is not None]
