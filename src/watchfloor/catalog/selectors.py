"""Reading the catalog in force, and any catalog an escalation was assessed under."""

from __future__ import annotations

from watchfloor.catalog.models import CatalogVersion
from watchfloor.catalog.schema import Catalog
from watchfloor.core.errors import NotFound
from watchfloor.core.shared_reads import shared_within
from watchfloor.severity.rubric import Rubric

# Versions never change once loaded, so each is parsed once per process. The digest is
# part of the key so a reused primary key (a test database, a restore) cannot serve the
# content of another catalog.
_catalogs: dict[tuple[int, str], Catalog] = {}
_rubrics: dict[tuple[int, str], Rubric] = {}


@shared_within
def active_catalog_version() -> CatalogVersion:
    version = CatalogVersion.objects.filter(is_active=True).order_by("-loaded_at").first()
    if version is None:
        raise NotFound(
            "no catalog is loaded: run `watchfloor config load` to load the default catalog, "
            "or `watchfloor config load DIR` to load your own"
        )
    return version


def catalog_for(version: CatalogVersion) -> Catalog:
    key = (version.pk, version.digest)
    catalog = _catalogs.get(key)
    if catalog is None:
        catalog = _catalogs[key] = Catalog.model_validate(version.content)
    return catalog


def rubric_for(version: CatalogVersion) -> Rubric:
    """The rubric of ``version``.

    Only the rubric is parsed, so an old version's assessments can still be explained
    if the rest of the catalog's schema has moved on since it was loaded.
    """
    key = (version.pk, version.digest)
    rubric = _rubrics.get(key)
    if rubric is None:
        rubric = _rubrics[key] = Rubric.model_validate(version.content["rubric"])
    return rubric
