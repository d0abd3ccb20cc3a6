"""Matches become work: recorded, turned into hash_match signals, and acted on by the
action rules in shadow and live mode, with a sample set aside for review."""

from __future__ import annotations

import json
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.banks.test_services import BASE, bank_with, near
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.banks.match_work import QueryContext, record_matches
from watchfloor.banks.matcher import Query, match
from watchfloor.banks.models import Bank, FiringOutcome, Match, ReviewOutcome, RuleFiring
from watchfloor.banks.rules import BankRulesError, parse_rules
from watchfloor.banks.selectors import firings_awaiting_review
from watchfloor.catalog.commands import catalog_to_check_against
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.crises.models import CrisisNote
from watchfloor.escalations.models import Escalation
from watchfloor.people.api_tokens import create_api_token
from watchfloor.signals.models import Signal

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def rules_file(settings, tmp_path: Path):
    path = tmp_path / "bank_action_rules.yaml"
    settings.WATCHFLOOR_BANK_ACTION_RULES = str(path)

    def write(body: str) -> Path:
        path.write_text('version: "test"\nrules:\n' + textwrap.indent(textwrap.dedent(body), "  "))
        return path

    write("[]")
    return write


def lookup(*values: str, market: str = "JP", ref: str = "") -> list:
    results = match(queries=[Query("pdq", v) for v in values], banks=Bank.objects.all())
    record_matches(
        results=results,
        contexts=[
            QueryContext(market=market, subject_ref=ref or f"media:{i}")
            for i, _ in enumerate(values)
        ],
        actor=None,
    )
    return results


ESCALATE = """\
- code: attack-copies
  name: Copies of the attack video
  mode: {mode}
  review_sample_rate: {rate}
  when:
    labels: [violent_extremism]
    market: [JP]
  escalate:
    type: violent_attack_content
    rubric: {{harm: catastrophic}}
"""


def test_the_api_records_each_match_with_its_token_and_makes_a_signal(client, analyst, rules_file):
    bank_with("livestream", BASE, actor=analyst, labels=["violent_extremism"])
    token, secret = create_api_token(user=analyst, name="uploads", scopes=["matcher"], actor=None)
    response = client.post(
        "/api/v1/match",
        json.dumps(
            {
                "queries": [
                    {
                        "value": near(BASE, 4),
                        "id": "upload-1",
                        "market": "jp",
                        "subject_ref": "media:1",
                    },
                    {"value": near(BASE, 200)},
                ]
            }
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 200, response.content
    [row] = Match.objects.all()
    assert (row.distance, row.market, row.subject_ref, row.channel) == (4, "JP", "media:1", "api")
    assert row.matched_by == analyst and row.token == token
    assert row.labels == ["violent_extremism"]
    signal = Signal.objects.get(pk=row.signal_id)
    assert (signal.source, signal.producer, signal.external_id) == (
        "hash_match",
        "watchfloor-matcher",
        "upload-1",
    )
    assert signal.market == "JP" and signal.attributes["matches"][0]["bank"] == "livestream"
    assert AuditEvent.objects.filter(action=AuditAction.BANK_MATCHES_RECORDED).count() == 1


def test_copies_cluster_together(analyst, rules_file):
    bank_with("livestream", BASE, actor=analyst)
    lookup(near(BASE, 2), near(BASE, 6, start=50))
    signals = Signal.objects.filter(source="hash_match")
    assert signals.count() == 2
    assert len({s.cluster_id for s in signals}) == 1


def test_a_restricted_bank_is_not_named_in_the_signal(lead, rules_file):
    bank_with("ncii", BASE, actor=lead, is_restricted=True, labels=["ncii"])
    lookup(BASE)
    signal = Signal.objects.get(source="hash_match")
    assert signal.attributes["matches"] == [] and signal.attributes["labels"] == []
    assert signal.attributes["restricted_matches"] == 1


def test_shadow_mode_records_what_it_would_do_and_does_nothing(analyst, rules_file):
    rules_file(ESCALATE.format(mode="shadow", rate=1.0))
    bank_with("livestream", BASE, actor=analyst, labels=["violent_extremism"])
    lookup(BASE)
    [firing] = RuleFiring.objects.all()
    assert firing.outcome == FiringOutcome.WOULD_OPEN and firing.mode == "shadow"
    assert "would open a violent_attack_content escalation" in firing.detail
    assert not Escalation.objects.exists()
    assert not firing.needs_review  # only automated actions that happened are reviewed
    assert "market JP" in " ".join(firing.conditions)
    event = AuditEvent.objects.get(action=AuditAction.BANK_RULE_FIRED)
    assert event.data["mode"] == "shadow" and event.data["outcome"] == "would_open"


def test_live_mode_opens_one_escalation_and_attaches_the_copies(analyst, rules_file):
    rules_file(ESCALATE.format(mode="live", rate=0.0))
    bank_with("livestream", BASE, actor=analyst, labels=["violent_extremism"])
    lookup(near(BASE, 3))
    [escalation] = Escalation.objects.all()
    assert escalation.type.code == "violent_attack_content"
    assert escalation.subjects.get().reference == "media:0"
    lookup(near(BASE, 5, start=80), near(BASE, 1, start=7))
    assert Escalation.objects.count() == 1
    outcomes = list(RuleFiring.objects.values_list("outcome", "escalation_id"))
    assert outcomes == [
        ("opened", escalation.pk),
        ("attached", escalation.pk),
        ("attached", escalation.pk),
    ]
    assert Signal.objects.filter(cluster__escalation=escalation).count() == 3


def test_a_rule_that_does_not_hold_does_not_fire(analyst, rules_file):
    rules_file(ESCALATE.format(mode="live", rate=0.0))
    bank_with("livestream", BASE, actor=analyst, labels=["violent_extremism"])
    lookup(BASE, market="AU")
    bank_with("other", near(BASE, 100), actor=analyst, labels=["spam"])
    lookup(near(BASE, 100))
    assert not RuleFiring.objects.exists() and Match.objects.count() == 2


def test_volume_within_the_window(analyst, rules_file):
    from watchfloor.core import clock

    rules_file(
        """\
        - code: three-in-ten-minutes
          name: Three matches in ten minutes
          mode: shadow
          when: {banks: [livestream], min_matches: 3, window: PT10M}
          escalate: {type: violent_attack_content}
        """
    )
    bank_with("livestream", BASE, actor=analyst)
    lookup(BASE)
    clock.advance(timedelta(minutes=11))  # the first falls out of the window
    lookup(BASE)
    lookup(BASE)
    assert not RuleFiring.objects.exists()
    lookup(BASE)
    [firing] = RuleFiring.objects.all()
    assert "3 matches within PT10M (rule: at least 3)" in firing.conditions


def test_flag_into_the_crisis_of_a_crisis_bank_once_per_entry(analyst, lead, rules_file):
    from watchfloor.crises.services.lifecycle import declare_crisis

    rules_file(
        """\
        - code: war-room
          name: Crisis bank matches reach the war room
          mode: live
          when: {labels: [crisis]}
          flag_crisis: {pin: true}
        """
    )
    crisis = declare_crisis(actor=lead, title="Livestreamed attack", markets=["JP"])
    bank_with("attack", BASE, actor=lead, labels=["crisis"], crisis=crisis)
    bank_with("no-crisis", near(BASE, 120), actor=lead, labels=["crisis"])
    lookup(BASE, near(BASE, 2))
    lookup(near(BASE, 120))
    notes = CrisisNote.objects.filter(crisis=crisis, body__contains="war-room")
    assert notes.count() == 1 and notes.get().is_pinned
    outcomes = sorted(RuleFiring.objects.values_list("outcome", flat=True))
    assert outcomes == ["failed", "flagged", "flagged"]
    failed = RuleFiring.objects.get(outcome="failed")
    assert "bank no-crisis was not made for a crisis" in failed.detail
    assert Match.objects.count() == 3  # a failed rule never loses the match


def test_enforce_in_shadow_mode(analyst, rules_file):
    rules_file(
        """\
        - code: take-down
          name: Remove copies
          when: {banks: [livestream]}
          enforce: {connector: platform, action: remove_content}
        """
    )
    bank_with("livestream", BASE, actor=analyst)
    lookup(BASE)
    [firing] = RuleFiring.objects.all()
    assert firing.outcome == FiringOutcome.WOULD_REQUEST
    assert firing.detail == "would request remove_content through platform"


def test_a_sample_of_live_firings_waits_for_review(
    analyst, other_analyst, legal_partner, rules_file
):
    from watchfloor.banks.match_work import review_firing

    rules_file(ESCALATE.format(mode="live", rate=1.0))
    bank_with("livestream", BASE, actor=analyst, labels=["violent_extremism"])
    lookup(BASE)
    [firing] = firings_awaiting_review(analyst)
    assert firing.needs_review
    assert list(firings_awaiting_review(legal_partner)) == []
    with pytest.raises(InvalidInput, match="say what was wrong"):
        review_firing(firing=firing, outcome="wrong", actor=other_analyst)
    review_firing(firing=firing, outcome="wrong", actor=other_analyst, note="a news report")
    firing.refresh_from_db()
    assert firing.review_outcome == ReviewOutcome.WRONG and firing.reviewed_by == other_analyst
    assert list(firings_awaiting_review(analyst)) == []
    with pytest.raises(Conflict, match="already reviewed"):
        review_firing(firing=firing, outcome="correct", actor=analyst)


def test_the_sample_rate_is_the_share_set_aside():
    from watchfloor.banks.rules import ActionRule, sampled_for_review

    rule = ActionRule.model_validate(
        {
            "code": "r",
            "name": "r",
            "review_sample_rate": 0.25,
            "escalate": {"type": "violent_attack_content"},
        }
    )
    chosen = sum(sampled_for_review(rule, match_id) for match_id in range(4000))
    assert 850 < chosen < 1150
    assert sampled_for_review(rule, 17) == sampled_for_review(rule, 17)


def test_the_rules_file_reports_each_problem_with_its_line(catalog):
    text = textwrap.dedent(
        """\
        version: "1"
        rules:
          - code: both
            name: Two actions
            escalate: {type: violent_attack_content}
            flag_crisis: {}
          - code: bad-type
            name: Unknown type
            when: {min_distance: 20, max_distance: 10, market: [XX]}
            escalate: {type: nope, rubric: {harm: grave}}
          - code: withhold
            name: Withhold without countries
            enforce: {connector: platform, action: withhold_in_countries}
        """
    ).encode()
    with pytest.raises(BankRulesError) as caught:
        parse_rules("rules.yaml", text, catalog=catalog_to_check_against())
    problems = [str(problem) for problem in caught.value.problems]
    assert any("rules.yaml:3" in p and "exactly one of" in p for p in problems), problems
    assert any(":9:" in p and "min_distance 20 is above" in p for p in problems), problems
    assert any("unknown market 'XX'" in p for p in problems)
    assert any(":10:" in p and "unknown escalation type 'nope'" in p for p in problems)
    assert any("'grave' is not an answer to harm" in p for p in problems)
    assert any(":13:" in p and "needs the countries" in p for p in problems), problems


def test_the_default_rules_validate(catalog, capsys):
    call_command("bank_rules", "validate")
    out = capsys.readouterr().out
    assert "the bank action rules are valid" in out and "violent-extremism-copies: shadow" in out


def test_validate_fails_with_the_lines(catalog, tmp_path, capsys):
    path = tmp_path / "rules.yaml"
    path.write_text('version: "1"\nrules:\n  - code: Bad Code\n    name: x\n')
    with pytest.raises(CommandError, match="have 1 problem"):
        call_command("bank_rules", "validate", str(path))
    assert "rules.yaml:3" in capsys.readouterr().err


def test_a_restricted_bank_opens_a_restricted_escalation(lead, analyst, other_analyst, rules_file):
    from watchfloor.banks.services import change_bank
    from watchfloor.escalations.selectors import escalations_visible_to

    rules_file(ESCALATE.format(mode="live", rate=0.0))
    bank = bank_with("ncii", BASE, actor=lead, is_restricted=True, labels=["violent_extremism"])
    change_bank(bank=bank, actor=lead, grant_access_to=[analyst])
    lookup(BASE)
    [escalation] = Escalation.objects.all()
    assert escalation.is_restricted
    assert escalations_visible_to(analyst).filter(pk=escalation.pk).exists()
    assert not escalations_visible_to(other_analyst).filter(pk=escalation.pk).exists()
    lookup(near(BASE, 2))  # the rules account can see it, so the copy attaches
    assert Escalation.objects.count() == 1
