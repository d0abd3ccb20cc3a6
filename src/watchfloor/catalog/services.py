"""Applying a catalog to the database: the one way configuration becomes rows.

The catalog carries the reference data of several apps (policies, markets, teams,
escalation types). Loading it is the single way those rows are written: each owning app
registers the writer of its own section (``catalog.reference``), and this runs them all
in one transaction with the version and its audit event. Rows are matched by code and
never deleted: escalations and decisions keep pointing at them, and a type or policy
dropped from the files still describes past work.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.catalog.loader import LoadedCatalog, read_catalog
from watchfloor.catalog.models import CatalogVersion
from watchfloor.catalog.reference import Tally, reference_data_appliers
from watchfloor.catalog.schema import Catalog
from watchfloor.core import clock

if TYPE_CHECKING:
    # Any user model: the catalog sits below the people app.
    from django.contrib.auth.base_user import AbstractBaseUser as User


def load_catalog(*, directory: Path | None = None, actor: User | None = None) -> CatalogVersion:
    """Validate the catalog in ``directory`` and make it the active one.

    ``directory`` defaults to ``settings.WATCHFLOOR_CATALOG_DIR``. Raises
    ``CatalogError`` (nothing is written) when the files have problems. Loading files
    already loaded creates no new version and changes no rows; it reactivates that
    version and is still audited, as someone chose to load it.
    """
    source = Path(directory) if directory is not None else Path(settings.WATCHFLOOR_CATALOG_DIR)
    # Read and validate before the transaction opens: no lock is held during file I/O.
    loaded = read_catalog(source)
    with transaction.atomic():
        changes = _apply_reference_data(loaded.catalog)
        version, is_new = _version_for(loaded, actor=actor)
        previously_active = list(
            CatalogVersion.objects.filter(is_active=True)
            .exclude(pk=version.pk)
            .values_list("pk", flat=True)
        )
        CatalogVersion.objects.filter(pk__in=previously_active).update(is_active=False)
        if not version.is_active:
            version.is_active = True
            version.save(update_fields=["is_active"])
        record_event(
            action=AuditAction.CATALOG_LOADED,
            actor=actor,
            target=version,
            data={
                "label": version.label,
                "digest": loaded.digest,
                "source": str(loaded.directory),
                "new_version": is_new,
                "previously_active": previously_active,
                "counts": loaded.catalog.counts(),
                "changes": {kind: asdict(tally) for kind, tally in changes.items()},
            },
        )
    return version


def _version_for(loaded: LoadedCatalog, *, actor: User | None) -> tuple[CatalogVersion, bool]:
    existing = CatalogVersion.objects.filter(digest=loaded.digest).first()
    if existing is not None:
        return existing, False
    catalog = loaded.catalog
    version = CatalogVersion.objects.create(
        digest=loaded.digest,
        label=f"{catalog.label} {catalog.version}",
        source=str(loaded.directory)[:500],
        loaded_at=clock.now(),
        loaded_by_id=actor.pk if actor is not None else None,
        content=catalog.model_dump(mode="json"),
        is_active=False,
    )
    return version, True


def _apply_reference_data(catalog: Catalog) -> dict[str, Tally]:
    """Every registered app writes its own section; the tallies say what changed."""
    changes: dict[str, Tally] = {}
    for apply in reference_data_appliers():
        changes.update(apply(catalog))
    return changes
