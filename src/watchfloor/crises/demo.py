"""The demo's crisis: the hijacked city account's fake evacuation order, run from a war room.

Made through the real services on the simulated clock, like the rest of the demo day, in
its last ten minutes: the lead declares the crisis from the SEV0 escalation, hands out
roles, sets a watchlist in Japanese and English, the reports that follow go through the
real intake and the worker's reactions (so the watchlist flags them and the clusters
are real), the largest cluster is linked, a key fact is pinned, a decision recorded and
the first leadership sitrep sent from its pre-draft.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from watchfloor.core import clock
from watchfloor.crises.containment import link_cluster
from watchfloor.crises.drafting import draft_sitrep
from watchfloor.crises.models import Crisis, CrisisNote, Level, RoleKind, WatchlistKind
from watchfloor.crises.services import add_crisis_note, declare_crisis, hand_over_role, send_sitrep
from watchfloor.crises.watchlists import add_watchlist_entry
from watchfloor.escalations.models import Escalation
from watchfloor.people.models import User
from watchfloor.signals import backlog
from watchfloor.signals.intake import ingest_signals
from watchfloor.signals.models import Cluster

HIJACKED_ACCOUNT = "@demo_city_official"
TOKYO = ZoneInfo("Asia/Tokyo")
PHISHING_URL = "https://demo-phish.example/login"

# What people report in the minutes after the fake order: (minutes before the crisis was
# declared, language, text, subject, url). Synthetic text.
_REPORTS = [
    ("ja", "市の公式アカウントが避難指示を出しているけど本当？リンク先でログインを求められる"),
    ("ja", "【拡散希望】市から避難指示が出ました。詳細は公式リンクから"),
    ("ja", "避難指示のリンクを開いたらパスワードを聞かれた。乗っ取りでは？"),
    ("en", "The city's account just posted an evacuation order with a weird login link"),
    ("en", "Is the evacuation order real? The link asks for my bank login"),
    ("ko", "시 공식 계정에서 대피 명령이 올라왔는데 링크가 이상합니다"),
    ("zh-Hant", "市政府官方帳號發布了撤離命令，連結要求輸入密碼"),
]


def load_demo_crisis() -> Crisis | None:
    """Declare and run the demo crisis once; None when it exists or its escalation is
    missing."""
    if Crisis.objects.exists():
        return None
    escalation = Escalation.objects.filter(
        subjects__kind="account", subjects__reference=HIJACKED_ACCOUNT
    ).first()
    people = {
        user.username: user
        for user in User.objects.filter(username__in=["lead", "analyst", "analyst2", "comms"])
    }
    if escalation is None or len(people) < 4:
        return None
    now = clock.now()
    lead = people["lead"]
    with clock.frozen_at(now - timedelta(minutes=9)):
        crisis = declare_crisis(
            actor=lead,
            title="Hijacked city account posts a fake evacuation order",
            level=Level.CRISIS_PROTOCOL,
            summary=(
                "The city's official account was taken over and posted a fake evacuation "
                "order with a phishing link; reposts are spreading in Japanese and English."
            ),
            declared_from=escalation,
            markets=["JP"],
            languages=["ja", "en"],
            reason="SEV0 by floor: a head-of-government account posting a false emergency order.",
        )
    with clock.frozen_at(now - timedelta(minutes=8)):
        hand_over_role(crisis=crisis, role=RoleKind.SCRIBE, to_user=people["analyst2"], actor=lead)
        hand_over_role(
            crisis=crisis, role=RoleKind.POLICY_LEAD, to_user=people["analyst"], actor=lead
        )
        # The escalation is shared with Communications, so their member can hold the role.
        hand_over_role(
            crisis=crisis,
            role=RoleKind.COMMUNICATIONS_LIAISON,
            to_user=people["comms"],
            actor=lead,
        )
    with clock.frozen_at(now - timedelta(minutes=7)):
        for kind, value, language in (
            (WatchlistKind.TERM, "避難指示", "ja"),
            (WatchlistKind.TERM, "evacuation order", "en"),
            (WatchlistKind.ACCOUNT, HIJACKED_ACCOUNT, ""),
            (WatchlistKind.DOMAIN, "demo-phish.example", ""),
        ):
            add_watchlist_entry(
                crisis=crisis, kind=kind, value=value, language=language, actor=people["analyst"]
            )
    with clock.frozen_at(now - timedelta(minutes=5)):
        _report_signals(now)
        backlog.drain(worker="demo")
        largest = (
            Cluster.objects.filter(subject_ref=HIJACKED_ACCOUNT).order_by("-signal_count").first()
        )
        if largest is not None:
            link_cluster(
                crisis=crisis,
                cluster=largest,
                actor=people["analyst"],
                reason="Reports of the hijacked account's posts.",
            )
    with clock.frozen_at(now - timedelta(minutes=4)):
        # The account was locked after the crisis was declared (9 minutes ago), so the
        # pinned fact says a time that fits the story, whenever the demo is built.
        locked = (now - timedelta(minutes=6)).astimezone(TOKYO)
        add_crisis_note(
            crisis=crisis,
            actor=lead,
            pinned=True,
            body=f"Account locked {locked:%H:%M} JST; the city's IT team is verifying the "
            f"owner. アカウントは{locked:%H:%M}にロック済み、市の情報担当が本人確認中。",
        )
        add_crisis_note(
            crisis=crisis,
            actor=lead,
            kind=CrisisNote.Kind.DECISION,
            body="Remove reposts that carry the phishing link; label reposts of the order "
            "without it as false, with the city's correction.",
        )
    with clock.frozen_at(now - timedelta(minutes=2)):
        draft = draft_sitrep(
            crisis=crisis, audience="leadership", language="en", viewer=lead, now=clock.now()
        )
        send_sitrep(
            crisis=crisis,
            audience="leadership",
            language=draft.language,
            subject=draft.subject,
            body=draft.body,
            sections=[(section.escalation_id, section.body) for section in draft.sections],
            actor=lead,
        )
    return crisis


def _report_signals(now) -> None:
    """Twenty-eight reports over the half hour since the order, through the real intake."""
    items = []
    for number in range(28):
        language, text = _REPORTS[number % len(_REPORTS)]
        items.append(
            {
                "id": f"demo-crisis-{number:03d}",
                "received_at": (now - timedelta(minutes=35 - number)).isoformat(),
                "source": "user_report" if number % 5 else "trusted_flagger",
                "subject": {"kind": "account", "ref": HIJACKED_ACCOUNT},
                "text": text,
                "url": PHISHING_URL if number % 3 == 0 else None,
                "market": "JP",
                "language": language,
                "reporter": f"demo-reporter-{number % 19}",
            }
        )
    ingest_signals(
        items=[{k: v for k, v in item.items() if v is not None} for item in items],
        producer="demo",
        actor=None,
    )
