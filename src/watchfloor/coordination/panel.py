"""The partner-requests panel of an escalation page: the requests the viewer may see and,
for those who may ask, the "ask a partner" form. The escalation page and this app's own
page both render ``coordination/_requests_panel.html`` with what :func:`requests_panel`
returns, under the name ``partner_requests``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from watchfloor.coordination import selectors
from watchfloor.coordination.forms import PartnerRequestForm
from watchfloor.coordination.permissions import may_ask_partners
from watchfloor.escalations.models import Status

if TYPE_CHECKING:
    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User


@dataclass(frozen=True)
class RequestsPanel:
    rows: list[selectors.RequestRow]
    form: PartnerRequestForm | None
    open_count: int
    overdue_count: int


def ask_form(*, escalation: Escalation, viewer: User, data: object = None) -> PartnerRequestForm:
    market = escalation.primary_market
    return PartnerRequestForm(
        data,
        prefix="ask",
        viewer_time_zone=viewer.time_zone,
        also_zones=[market.primary_time_zone] if market else [],
    )


def requests_panel(
    *,
    escalation: Escalation,
    viewer: User,
    now: datetime,
    form: PartnerRequestForm | None = None,
) -> RequestsPanel:
    """What the panel shows. ``form`` is a bound form to show again with its errors."""
    rows = selectors.request_rows(
        list(selectors.requests_for_escalation(escalation=escalation, viewer=viewer)), now=now
    )
    may_ask = may_ask_partners(viewer) and escalation.merged_into_id is None
    if may_ask and escalation.status != Status.CLOSED and form is None:
        form = ask_form(escalation=escalation, viewer=viewer)
    return RequestsPanel(
        rows=rows,
        form=form if may_ask else None,
        open_count=sum(1 for row in rows if row.request.is_open),
        overdue_count=sum(1 for row in rows if row.is_overdue),
    )
