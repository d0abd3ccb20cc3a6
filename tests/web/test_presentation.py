"""How times, countdowns and timeline entries read on the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from watchfloor.audit.events import AuditAction
from watchfloor.escalations.selectors import TimelineEntry
from watchfloor.escalations.timeline import readable_timeline
from watchfloor.web.countdown import countdown_text, describe_span
from watchfloor.web.templatetags.watchfloor_ui import countdown, local_time

NOW = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=59), "under a minute"),
        (timedelta(minutes=25, seconds=59), "25 min"),
        (timedelta(hours=1, minutes=12), "1 h 12 min"),
        (timedelta(hours=21), "21 h"),
        (timedelta(days=2, hours=3, minutes=59), "2 d 3 h"),
        (timedelta(days=3), "3 d"),
    ],
)
def test_spans_read_in_whole_units(delta, text):
    assert describe_span(delta) == text


def test_countdown_before_and_after_the_deadline():
    assert countdown_text(NOW + timedelta(hours=1, minutes=12), NOW) == "in 1 h 12 min"
    assert countdown_text(NOW, NOW) == "in under a minute"
    assert countdown_text(NOW - timedelta(minutes=25), NOW) == "breached 25 min ago"


def test_countdown_markup_carries_the_due_time_for_the_script(frozen_clock):
    assert countdown(frozen_clock - timedelta(minutes=5)) == (
        '<span class="countdown is-breached" data-due="2026-11-24T00:25:00Z" '
        'title="due Tue 24 Nov 00:25 UTC">breached 5 min ago</span>'
    )
    assert "no running clock" in countdown(None)


def test_times_show_the_viewers_zone_with_utc_on_hover(frozen_clock):
    with timezone.override(ZoneInfo("Asia/Singapore")):
        assert local_time(NOW) == (
            '<time datetime="2026-11-24T00:30:00Z" title="2026-11-24 00:30 UTC">'
            "Tue 24 Nov 08:30 UTC+08</time>"
        )
        # Another year says which.
        assert "Sun 24 Nov 2024 08:30 UTC+08" in local_time(NOW.replace(year=2024))
    assert "Tue 24 Nov 11:30 AEDT" in local_time(NOW, zone="Australia/Sydney")
    assert "Tue 24 Nov 00:30 UTC" in local_time("2026-11-24T00:30:00+00:00")
    assert local_time(None) == "—"


def _entry(action: str, data: dict) -> TimelineEntry:
    return TimelineEntry(at=NOW, actor="", action=action, label="label", data=data)


@pytest.mark.parametrize(
    ("action", "data", "summary", "body"),
    [
        (
            AuditAction.ESCALATION_TRANSITIONED,
            {"from": "new", "to": "triaged", "reason": "real"},
            "New → Triaged",
            "real",
        ),
        (AuditAction.ESCALATION_ASSIGNED, {"from": None, "to": "ben"}, "unassigned → ben", ""),
        (AuditAction.ESCALATION_NOTE_ADDED, {"body": "Called Legal"}, "", "Called Legal"),
        (
            AuditAction.DECISION_RECORDED,
            {
                "policy": "scams_fraud v1.0",
                "action": "withhold_in_countries",
                "countries": ["PH"],
                "scope": "the posts",
                "rationale": "local law",
                "state": "pending_approval",
            },
            "withhold in countries under scams_fraud v1.0 in PH — awaiting approval",
            "Scope: the posts\nRationale: local law",
        ),
        (
            AuditAction.ESCALATION_CLOCK_MET,
            {"clock": "Acknowledge", "state": "met_late"},
            "Acknowledge: met late",
            "",
        ),
        (
            AuditAction.PLAYBOOK_RUN_STARTED,
            {
                "name": "Lock, restore, notify",
                "automatic": True,
                "steps": 6,
                "severity": "SEV0",
                "skipped": ["statutory_removal"],
            },
            "Lock, restore, notify started automatically · 6 steps for SEV0",
            "Not applicable here: statutory_removal",
        ),
        (
            AuditAction.PLAYBOOK_STEP_CHANGED,
            {
                "title": "Lock the account",
                "from_label": "Pending",
                "to_label": "Skipped",
                "reason": "owner locked it already",
            },
            "Lock the account: Pending → Skipped",
            "owner locked it already",
        ),
        (
            AuditAction.PLAYBOOK_CHECKLIST_TICKED,
            {"text": "Sessions revoked", "checked": True},
            "☑ Sessions revoked",
            "",
        ),
        (
            AuditAction.COMMUNICATION_SENT,
            {
                "template": "media_response",
                "language": "ja",
                "recipient": "NHK desk",
                "channel": "email",
                "subject": "回答",
                "body": "本文",
            },
            "media response (ja) to NHK desk via email",
            "回答\n本文",
        ),
        (
            AuditAction.EVIDENCE_PACKAGE_BUILT,
            {
                "of": "WF-13",
                "package_sha256": "d572b3b92107e656" + "0" * 48,
                "items": ["EV-1", "EV-2"],
                "partner_request": 4,
                "requester_zone": "Asia/Tokyo",
            },
            "d572b3b92107e656… of 2 items (EV-1, EV-2) for PR-4",
            "",
        ),
        ("something.new", {"b": 2, "a": 1}, "a: 1 · b: 2", ""),
    ],
)
def test_timeline_entries_read_as_sentences(action, data, summary, body):
    (line,) = readable_timeline([_entry(action, data)])
    assert (line.summary, line.body, line.actor) == (summary, body, "system")
