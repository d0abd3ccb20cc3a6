"""The people app's section of the catalog: teams (registered with ``catalog.reference``
in ``apps.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchfloor.catalog.reference import Tally, Upserter
from watchfloor.people.models import Team

if TYPE_CHECKING:
    from watchfloor.catalog.schema import Catalog


def apply_teams(catalog: Catalog) -> dict[str, Tally]:
    teams = Upserter.by_code(Team)
    for team in catalog.teams.teams:
        teams.upsert(
            team.code,
            {
                "code": team.code,
                "name": team.name,
                "kind": team.kind,
                "description": team.description,
            },
        )
    return {"teams": teams.done()}
