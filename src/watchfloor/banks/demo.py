"""Demo banks: a bank for the livestreamed-attack scenario whose copies keep arriving,
with frames drawn here with Pillow (synthetic: no real event, place or person), an allow
bank of a logo, and the demo crisis's own crisis bank filled by "bank this" on its
evidence. Matches are recorded through the real matcher and ``record_matches``, spread
over the last days, so the banks pages, signals and shadow rule firings have figures.

``python -m watchfloor.banks.demo OUT_DIR`` writes the frames as PNG files.
"""

from __future__ import annotations

import io
import random
import sys
from datetime import timedelta
from pathlib import Path

from PIL import Image, ImageDraw

from watchfloor.banks import services
from watchfloor.banks.hashing import pdq_of_image
from watchfloor.banks.match_work import QueryContext, record_matches
from watchfloor.banks.matcher import Query, match
from watchfloor.banks.models import Bank, EntrySource
from watchfloor.core import clock
from watchfloor.crises.models import Crisis
from watchfloor.evidence.models import EvidenceItem
from watchfloor.people.models import Team, User
from watchfloor.signals import backlog

LIVESTREAM_BANK = "livestream-attack-osaka"
ALLOW_BANK = "allow-broadcaster-logos"
EVACUATION_BANK = "crisis-fake-evacuation-order"
FRAME_COUNT = 5
# Copies arriving: (hours ago, frame, bits changed by re-encoding, market).
ARRIVALS = [
    (300, 0, 0, "JP"),
    (200, 1, 4, "JP"),
    (150, 0, 9, "AU"),
    (100, 2, 2, "JP"),
    (72, 3, 14, "KR"),
    (50, 0, 6, "JP"),
    (30, 1, 0, "AU"),
    (26, 4, 11, "JP"),
    (20, 2, 3, "JP"),
    (12, 0, 18, "KR"),
    (8, 1, 7, "AU"),
    (6, 3, 5, "JP"),
    (3, 0, 1, "JP"),
    (2, 2, 22, "JP"),
    (1, 4, 8, "AU"),
    (0.5, 1, 2, "JP"),
    (0.2, 0, 12, "JP"),
]

# Reposts of the fake order's screenshot, cropped or re-compressed: (minutes ago, bits).
REPOSTS = [(5, 3), (3, 7)]


def livestream_frame(number: int) -> bytes:
    """A made-up frame of a phone livestream: a street scene of blocks, a LIVE badge."""
    shuffle = random.Random(number)  # noqa: S311 (a drawing, the same every run)
    image = Image.new("RGB", (640, 360), (40 + 12 * number, 48, 70))
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        x, y = shuffle.randrange(0, 600), shuffle.randrange(40, 330)
        w, h = shuffle.randrange(30, 160), shuffle.randrange(20, 120)
        colour = tuple(shuffle.randrange(60, 250) for _ in range(3))
        draw.rectangle((x, y, x + w, y + h), fill=colour)
    draw.rectangle((16, 14, 84, 40), fill=(210, 30, 30))
    draw.text((28, 20), "LIVE", fill=(255, 255, 255))
    draw.text((420, 330), f"synthetic demo frame {number}", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def broadcaster_logo() -> bytes:
    image = Image.new("RGB", (320, 320), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 40, 280, 280), fill=(20, 80, 160))
    draw.rectangle((120, 60, 200, 260), fill=(250, 250, 250))
    draw.text((110, 290), "DEMO NEWS 24", fill=(20, 80, 160))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def re_encoded(value: str, bits: int, seed: int) -> str:
    """The hash of a copy: ``bits`` bits of the original flipped, as re-encoding does."""
    positions = random.Random(seed).sample(range(256), bits)  # noqa: S311 (repeatable)
    return f"{int(value, 16) ^ sum(1 << p for p in positions):064x}"


def load_demo_banks() -> int:
    """Create the demo banks once and record their matches; returns how many matches."""
    if Bank.objects.filter(name=LIVESTREAM_BANK).exists():
        return 0
    people = {u.username: u for u in User.objects.filter(username__in=["analyst", "lead"])}
    if len(people) < 2:
        return 0
    site_policy = Team.objects.filter(code="site_policy").first()
    now = clock.now()
    with clock.frozen_at(now - timedelta(days=14)):
        livestream = services.create_bank(
            name=LIVESTREAM_BANK,
            signal_type="pdq",
            actor=people["lead"],
            owner_team=site_policy,
            labels=["violent_extremism", "livestream"],
        )
        frames = [pdq_of_image(livestream_frame(n))[0] for n in range(FRAME_COUNT)]
        services.add_entries(
            bank=livestream,
            entries=[
                services.NewEntry(
                    signal_type="pdq",
                    value=value,
                    labels=("attack_video",),
                    note=f"Frame at {12 * n} s of the original stream (synthetic)",
                )
                for n, value in enumerate(frames)
            ],
            source=EntrySource.MANUAL,
            actor=people["analyst"],
        )
        logo = services.create_bank(
            name=ALLOW_BANK,
            signal_type="pdq",
            actor=people["lead"],
            owner_team=site_policy,
            labels=["benign"],
            is_allow_bank=True,
        )
        services.add_entries(
            bank=logo,
            entries=[
                services.NewEntry(
                    signal_type="pdq",
                    value=pdq_of_image(broadcaster_logo())[0],
                    note="A news channel's logo that appears over reports of the attack",
                )
            ],
            source=EntrySource.MANUAL,
            actor=people["lead"],
        )
    with clock.frozen_at(now - timedelta(days=2)):
        # A still that turned out to be from an unrelated stream: kept, disabled.
        wrong = services.add_entries(
            bank=livestream,
            entries=[
                services.NewEntry(
                    signal_type="pdq",
                    value=re_encoded(frames[0], 64, seed=99),
                    note="Frame reported by a partner",
                )
            ],
            source=EntrySource.EXCHANGE,
            actor=None,
        )
        services.disable_entry(
            entry=wrong[0],
            reason="Not from the attack stream: a game broadcast",
            actor=people["lead"],
        )
    recorded = 0
    for number, (hours_ago, frame, bits, market) in enumerate(ARRIVALS):
        with clock.frozen_at(now - timedelta(hours=hours_ago)):
            value = re_encoded(frames[frame], bits, seed=number)
            results = match(queries=[Query("pdq", value)], banks=Bank.objects.all())
            contexts = [QueryContext(market=market, subject_ref=f"video/demo-{number:04d}")]
            recorded += len(record_matches(results=results, contexts=contexts, actor=None).matches)
    recorded += _bank_the_demo_crisis_evidence(people["analyst"])
    # The worker's reactions to the new signals (surges, watchlists), as a running worker
    # would have done by the time someone looks.
    backlog.drain(worker="demo")
    return recorded


def _bank_the_demo_crisis_evidence(analyst: User) -> int:
    """The demo crisis's bank, filled with "bank this" on its screenshot of the order."""
    crisis = Crisis.objects.filter(is_drill=False).order_by("id").first()
    item = EvidenceItem.objects.filter(original_name="fake-evacuation-order.png").first()
    if crisis is None or item is None:
        return 0
    bank = services.create_bank(
        name=EVACUATION_BANK,
        signal_type="pdq",
        actor=analyst,
        owner_team=analyst.team,
        labels=["impersonation", "civic_misinformation"],
        crisis=crisis,
    )
    entry = services.bank_evidence_item(
        bank=bank, item=item, actor=analyst, note="the hijacked account's post; find reposts"
    )
    recorded = 0
    for minutes_ago, bits in REPOSTS:
        with clock.frozen_at(clock.now() - timedelta(minutes=minutes_ago)):
            value = re_encoded(entry.value, bits, seed=1000 + minutes_ago)
            results = match(queries=[Query("pdq", value)], banks=Bank.objects.filter(pk=bank.pk))
            contexts = [QueryContext(market="JP", subject_ref=f"post/demo-repost-{minutes_ago}")]
            recorded += len(record_matches(results=results, contexts=contexts, actor=None).matches)
    return recorded


def main(argv: list[str]) -> None:
    out = Path(argv[0] if argv else ".")
    out.mkdir(parents=True, exist_ok=True)
    for number in range(FRAME_COUNT):
        (out / f"livestream-frame-{number}.png").write_bytes(livestream_frame(number))
        print(out / f"livestream-frame-{number}.png")


if __name__ == "__main__":
    main(sys.argv[1:])
