"""Demo evidence: synthetic screenshots drawn here with Pillow (no real people, nothing
graphic) on the hijacked-account escalation of the demo crisis and on the relief-scam
escalation, on the demo crisis itself and on the busiest signals cluster, and a few
reveals so the war room, the cluster page and the exposure pages have figures.

``python -m watchfloor.evidence.demo OUT_DIR`` writes the same pictures as PNG files.
"""

from __future__ import annotations

import io
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from watchfloor.coordination.services import send_partner_request
from watchfloor.core import clock
from watchfloor.crises.models import Crisis
from watchfloor.escalations.models import Escalation
from watchfloor.evidence.models import EvidenceItem
from watchfloor.evidence.packages import build_package
from watchfloor.evidence.services import add_evidence_file, reveal_evidence
from watchfloor.people.models import User
from watchfloor.signals.models import Cluster

HIJACKED_ACCOUNT = "@demo_city_official"


def synthetic_screenshot(*, title: str, lines: list[str], accent: tuple[int, int, int]) -> bytes:
    """A made-up social post: a header bar, a title, lines of text, a banner of shapes."""
    image = Image.new("RGB", (720, 480), (246, 247, 249))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 720, 56), fill=accent)
    draw.text((20, 18), title, fill=(255, 255, 255))
    for row, line in enumerate(lines):
        draw.text((24, 80 + row * 26), line, fill=(30, 30, 30))
    for n in range(5):
        x = 40 + n * 130
        draw.ellipse(
            (x, 330, x + 100, 430), fill=(accent[0] // (n + 1), 120 + n * 20, 200 - n * 30)
        )
    draw.rectangle((24, 440, 300, 466), outline=accent, width=2)
    draw.text((34, 446), "demo content - synthetic", fill=accent)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


DEMO_PICTURES: dict[str, dict[str, Any]] = {
    "fake-evacuation-order.png": dict(
        title="@demo_city_official (hijacked)",
        lines=[
            "URGENT: evacuate the eastern wards now.",
            "Register for shelter here: hxxp://evac-register.example",
            "(posted 02:14 JST, reposted 3,400 times)",
        ],
        accent=(180, 40, 40),
    ),
    "phishing-landing-page.png": dict(
        title="evac-register.example",
        lines=["Shelter registration", "Enter your national ID and bank card", "[ Register ]"],
        accent=(40, 90, 170),
    ),
    "relief-donation-post.png": dict(
        title="Typhoon Relief Fund (impersonation)",
        lines=["Donate now - every peso helps!", "GCash 0917 000 0000", "Share to save lives"],
        accent=(20, 130, 90),
    ),
}


def load_demo_evidence() -> int:
    """Add the demo pictures and reveals once; returns how many items it added."""
    if EvidenceItem.objects.exists():
        return 0
    hijacked = Escalation.objects.filter(
        subjects__kind="account", subjects__reference=HIJACKED_ACCOUNT
    ).first()
    scam = Escalation.objects.filter(type__code="scam_campaign").order_by("pk").first()
    people = {u.username: u for u in User.objects.filter(username__in=["analyst", "analyst2"])}
    if hijacked is None or scam is None or len(people) < 2:
        return 0
    now = clock.now()
    placed = [
        (hijacked, "fake-evacuation-order.png", "general", "The hijacked account's post"),
        (hijacked, "phishing-landing-page.png", "general", "Where the post's link leads"),
        (scam, "relief-donation-post.png", "general", "One of the impersonating posts"),
    ]
    items = []
    with clock.frozen_at(now - timedelta(minutes=7)):
        for escalation, name, category, description in placed:
            items.append(
                add_evidence_file(
                    escalation=escalation,
                    actor=people["analyst"],
                    chunks=[synthetic_screenshot(**DEMO_PICTURES[name])],
                    name=name,
                    category=category,
                    description=description,
                )
            )
        # One on the crisis itself and one on the busiest cluster, when the demo has them.
        also = [
            (
                "crisis",
                Crisis.objects.filter(escalations=hijacked).order_by("pk").first(),
                "fake-evacuation-order.png",
                "evacuation-order-reshared.png",
                "The fake order as it is reshared across the crisis",
            ),
            (
                "cluster",
                Cluster.objects.order_by("-signal_count", "pk").first(),
                "relief-donation-post.png",
                "reported-post.png",
                "A post the cluster's reports point at",
            ),
        ]
        for _kind, target, picture, name, description in also:
            if target is None:
                continue
            items.append(
                add_evidence_file(
                    cluster=target if isinstance(target, Cluster) else None,
                    crisis=target if isinstance(target, Crisis) else None,
                    actor=people["analyst"],
                    chunks=[synthetic_screenshot(**DEMO_PICTURES[picture])],
                    name=name,
                    description=description,
                )
            )
    for minutes_ago, who, item in [
        (6, "analyst", items[0]),
        (5, "analyst2", items[0]),
        (4, "analyst2", items[1]),
    ]:
        with clock.frozen_at(now - timedelta(minutes=minutes_ago)):
            reveal_evidence(item=item, actor=people[who], seconds=20)
    with clock.frozen_at(now - timedelta(minutes=3)):
        _package_for_law_enforcement(hijacked, items[:2], people["analyst"])
    return len(items)


def _package_for_law_enforcement(
    escalation: Escalation, items: list[EvidenceItem], analyst: User
) -> None:
    """A law-enforcement referral on the hijacked account and a package of its two
    screenshots built for it, so the request's page lists one (docs/evidence.md)."""
    referral = send_partner_request(
        escalation=escalation,
        actor=analyst,
        team_code="law_enforcement_response",
        kind="law_enforcement_referral",
        question=(
            "Prefectural police ask for the fake evacuation order and the phishing page, "
            "with their hashes, under a preservation request."
        ),
        due_within=timedelta(hours=24),
    )
    build_package(
        escalation=escalation,
        items=items,
        actor=analyst,
        requester_zone="Asia/Tokyo",
        partner_request=referral,
    )


def main(argv: list[str]) -> None:
    out = Path(argv[0] if argv else ".")
    out.mkdir(parents=True, exist_ok=True)
    for name, picture in DEMO_PICTURES.items():
        (out / name).write_bytes(synthetic_screenshot(**picture))
        print(out / name)


if __name__ == "__main__":
    main(sys.argv[1:])
