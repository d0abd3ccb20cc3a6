"""Partner requests for the demo day: Legal answered the eSafety notice, the Indian order
waits on Legal past its deadline, and Communications owes a holding statement.

Made through the real services on the simulated clock, like the rest of the demo, so
the inbox, the timelines and the chases are what real use would produce. They happen in
the last half hour, after the rest of the demo day, so every timeline stays in order.
"""

from __future__ import annotations

from datetime import timedelta

from watchfloor.coordination.models import PartnerRequest
from watchfloor.coordination.services import (
    answer_partner_request,
    chase_overdue_requests,
    send_partner_request,
)
from watchfloor.core import clock
from watchfloor.escalations.models import Escalation
from watchfloor.people.models import User


def load_demo_partner_requests() -> int:
    """Create the demo's partner requests once; returns how many (0 if present)."""
    if PartnerRequest.objects.exists():
        return 0
    people = {u.username: u for u in User.objects.filter(username__in=["analyst", "legal"])}
    if len(people) < 2:
        return 0
    cases = {
        key: Escalation.objects.filter(title__startswith=title).first()
        for key, title in (
            ("au_notice", "eSafety removal notice"),
            ("in_order", "MeitY order"),
            ("sg_media", "Press inquiry"),
        )
    }
    now = clock.now()
    created = 0
    au_notice, in_order, sg_media = cases["au_notice"], cases["in_order"], cases["sg_media"]
    if au_notice is not None:
        with clock.frozen_at(now - timedelta(minutes=22)):
            review = send_partner_request(
                escalation=au_notice,
                actor=people["analyst"],
                team_code="legal",
                kind="legal_review",
                question="Is the notice valid on its face, and which of the 14 posts are in scope?",
                context="Posts 7 and 9 quote a news report about the case.",
                due_within=timedelta(hours=2),
            )
        with clock.frozen_at(now - timedelta(minutes=10)):
            answer_partner_request(
                partner_request=review,
                actor=people["legal"],
                outcome="advise",
                answer="Valid. 12 of 14 posts are in scope; 7 and 9 are reporting: keep them.",
                attachments=["LEGAL-2026-0412"],
            )
        created += 1
    if in_order is not None:
        with clock.frozen_at(now - timedelta(minutes=20)):
            send_partner_request(
                escalation=in_order,
                actor=people["analyst"],
                team_code="legal",
                kind="local_law_assessment",
                question="Does the order meet Rule 3(1)(d)? Can we withhold in India only?",
                context="The 3-hour clock runs from receipt of the order.",
                due_within=timedelta(minutes=15),
            )
        created += 1
    if sg_media is not None:
        with clock.frozen_at(now - timedelta(minutes=15)):
            send_partner_request(
                escalation=sg_media,
                actor=people["analyst"],
                team_code="communications",
                kind="holding_statement",
                question="A holding statement on deepfake scam ads, for the 18:00 SGT deadline.",
                due_within=timedelta(hours=1),
            )
        created += 1
    chase_overdue_requests(now=now)
    return created
