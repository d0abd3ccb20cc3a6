"""Who may see what of the evidence, built on ``core.roles``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchfloor.core.roles import can_override_severity, can_work_escalations, is_admin

if TYPE_CHECKING:
    from watchfloor.evidence.models import EvidencePackage
    from watchfloor.people.models import User


def may_see_team_exposure(user: User) -> bool:
    """The team exposure page is for leads (and admins) who belong to a team."""
    return can_override_severity(user) and user.team_id is not None


def may_record_training(actor: User, person: User) -> bool:
    """Admins record anyone's training; a lead, that of the people of their own team."""
    if is_admin(actor):
        return True
    return (
        can_override_severity(actor)
        and actor.team_id is not None
        and (actor.team_id == person.team_id)
    )


def may_download_package(user: User, package: EvidencePackage) -> bool:
    """Analysts, leads and admins; and the members of the team the partner request that
    asked for it was sent to (law-enforcement response hands it over). Need to know is
    checked before: the caller reached the package through ``access_package``."""
    if can_work_escalations(user):
        return True
    asked = package.partner_request
    return asked is not None and user.team_id is not None and user.team_id == asked.team_id
