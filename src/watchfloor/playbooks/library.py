"""Loading a playbook library into the database: each file read by playbooks.loader, a new
version stored only when its content changed, audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Manager

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.catalog.selectors import active_catalog_version, catalog_for
from watchfloor.core import clock
from watchfloor.playbooks.loader import Library, LoadedFile, read_library
from watchfloor.playbooks.models import (
    CommunicationTemplate,
    Playbook,
    PlaybookVersion,
    TemplateVersion,
)

if TYPE_CHECKING:
    from watchfloor.people.models import User


@dataclass
class LoadResult:
    new_playbook_versions: list[str] = field(default_factory=list)
    unchanged_playbooks: list[str] = field(default_factory=list)
    retired_playbooks: list[str] = field(default_factory=list)
    new_template_versions: list[str] = field(default_factory=list)
    unchanged_templates: list[str] = field(default_factory=list)
    retired_templates: list[str] = field(default_factory=list)
    library: Library | None = None


def load_playbooks(
    *,
    playbook_dir: Path | None = None,
    comms_dir: Path | None = None,
    actor: User | None = None,
) -> LoadResult:
    """Validate the library and make it the one in force.

    Each file that changed becomes a new immutable version (content and digest); an
    unchanged file keeps its version. Playbooks and templates whose files are gone are
    retired: no longer proposed, but runs on them carry on. Raises
    ``PlaybookLibraryError`` (nothing is written) when any file has a problem.
    """
    catalog = catalog_for(active_catalog_version())
    # Read and check before the transaction opens: no lock is held during file I/O.
    library = read_library(catalog=catalog, playbook_dir=playbook_dir, comms_dir=comms_dir)
    result = LoadResult(library=library)
    now = clock.now()
    with transaction.atomic():
        _apply_versions(
            library.templates,
            version_model=TemplateVersion,
            head_model=CommunicationTemplate,
            new=result.new_template_versions,
            unchanged=result.unchanged_templates,
            retired=result.retired_templates,
            actor=actor,
            now=now,
        )
        _apply_versions(
            library.playbooks,
            version_model=PlaybookVersion,
            head_model=Playbook,
            new=result.new_playbook_versions,
            unchanged=result.unchanged_playbooks,
            retired=result.retired_playbooks,
            actor=actor,
            now=now,
        )
        record_event(
            action=AuditAction.PLAYBOOKS_LOADED,
            actor=actor,
            data={
                "playbook_dir": str(library.playbook_dir),
                "comms_dir": str(library.comms_dir),
                "playbooks": {f.spec.code: f.digest[:12] for f in library.playbooks},
                "templates": {f.spec.code: f.digest[:12] for f in library.templates},
                "new_playbook_versions": result.new_playbook_versions,
                "new_template_versions": result.new_template_versions,
                "retired_playbooks": result.retired_playbooks,
                "retired_templates": result.retired_templates,
            },
        )
    return result


def _apply_versions(
    files: list[LoadedFile],
    *,
    version_model: type[PlaybookVersion] | type[TemplateVersion],
    head_model: type[Playbook] | type[CommunicationTemplate],
    new: list[str],
    unchanged: list[str],
    retired: list[str],
    actor: User | None,
    now: datetime,
) -> None:
    heads = {head.code: head for head in head_model.objects.select_related("current_version")}
    for loaded in files:
        code = loaded.spec.code
        version = version_model.objects.filter(code=code, digest=loaded.digest).first()
        if version is None:
            version = version_model.objects.create(
                code=code,
                name=loaded.spec.name,
                digest=loaded.digest,
                content=loaded.spec.model_dump(mode="json", by_alias=True, exclude_defaults=False),
                source_text=loaded.source_text,
                source_path=str(loaded.path)[:500],
                loaded_at=now,
                loaded_by=actor,
            )
            new.append(code)
        head = heads.pop(code, None)
        if head is None:
            heads_manager: Manager[Any] = head_model._default_manager
            heads_manager.create(code=code, current_version=version, is_active=True)
            continue
        if head.current_version_id == version.pk and head.is_active:
            if code not in new:
                unchanged.append(code)
            continue
        head.current_version = version
        head.is_active = True
        head.save(update_fields=["current_version", "is_active"])
    for code, head in heads.items():
        if head.is_active:
            head.is_active = False
            head.save(update_fields=["is_active"])
            retired.append(code)
