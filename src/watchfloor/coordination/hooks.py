"""Extension points of a partner request's page for the apps above coordination.

Coordination sits below evidence and must not import it; yet a law-enforcement referral's
page lists the evidence packages built for it. The evidence app registers a panel here
from its ``AppConfig.ready()``; unfilled, the page shows nothing of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from watchfloor.coordination.models import PartnerRequest
    from watchfloor.people.models import User


class RequestPanel(Protocol):
    def __call__(self, *, partner_request: PartnerRequest, viewer: User, now: datetime) -> Any: ...


_panels: dict[str, RequestPanel] = {}


def register_request_panel(context_name: str, panel: RequestPanel) -> None:
    """A value for the partner request page's template context, computed for its reader
    (register again under the same name to replace it)."""
    _panels[context_name] = panel


def request_panels(
    *, partner_request: PartnerRequest, viewer: User, now: datetime
) -> dict[str, Any]:
    """The registered panels' values for one reader of the request's page (who may see
    the request: the page reached it through ``access_partner_request``)."""
    return {
        name: panel(partner_request=partner_request, viewer=viewer, now=now)
        for name, panel in _panels.items()
    }
