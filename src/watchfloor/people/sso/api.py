"""Deprovisioning for the identity provider's side: ``POST /api/v1/people/{username}:deactivate``
takes a leaver's access away at once (an offboarding workflow calls it with an
administrator's API token). A thin handler over ``people.services.deactivate_user``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from django.http import HttpRequest
from ninja import Path, Router, Schema
from pydantic import Field

from watchfloor.core.errors import PermissionDenied
from watchfloor.core.roles import is_admin
from watchfloor.people.auth import request_actor
from watchfloor.people.services import deactivate_user, get_user_by_username
from watchfloor.web.api import ErrorOut, Input, Username, text

if TYPE_CHECKING:
    pass

router = Router(tags=["accounts"])

Reason = Annotated[str, text(500, min_length=1)]


class DeactivateIn(Input):
    reason: Reason = Field(
        description="why, for the audit log, e.g. 'left the company on 2026-11-30'"
    )


class DeactivationOut(Schema):
    username: str
    is_active: bool
    was_active: bool = Field(description="false when the account was already inactive")
    sessions_ended: int = Field(description="open sessions ended by this request")


@router.post(
    "/people/{username}:deactivate",
    response={
        200: DeactivationOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ErrorOut,
    },
    summary="Deactivate an account at once (a leaver)",
)
def deactivate_account(request: HttpRequest, username: Path[Username], payload: DeactivateIn):
    """The account can no longer sign in, by password or single sign-on, nor use its API
    tokens, and its open sessions are ended, all before the answer. Administrators only.
    Asking again is harmless and answers ``was_active: false``."""
    actor = request_actor(request)
    if not is_admin(actor):
        raise PermissionDenied("only an administrator may deactivate accounts")
    user = get_user_by_username(username)
    result = deactivate_user(user=user, actor=actor, reason=payload.reason)
    return DeactivationOut(
        username=result.user.username,
        is_active=result.user.is_active,
        was_active=result.was_active,
        sessions_ended=result.sessions_ended,
    )
