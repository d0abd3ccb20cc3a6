"""Auto-escalation rules: the file format, and what a firing does (once, with evidence)."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.catalog.selectors import active_catalog_version, catalog_for
from watchfloor.core import clock
from watchfloor.core.roles import Role
from watchfloor.escalations.models import Escalation, Note
from watchfloor.signals import reactions, services
from watchfloor.signals.models import ClusterState, KeyKind, RuleFiring
from watchfloor.signals.rules import SignalRulesError, parse_rules, read_rules
from watchfloor.signals.selectors import bucket_end

from .factories import add_signals, make_cluster, relate, steady_then_burst

pytestmark = pytest.mark.django_db

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "src/watchfloor/defaults/signal_rules.yaml"


@pytest.fixture
def rules_file(tmp_path, monkeypatch):
    """Point the reactions at a rules file written by the test."""

    def write(text: str) -> Path:
        path = tmp_path / "signal_rules.yaml"
        path.write_text(textwrap.dedent(text))
        monkeypatch.setenv("WATCHFLOOR_SIGNAL_RULES", str(path))
        return path

    return write


@pytest.fixture
def default_rules(monkeypatch):
    monkeypatch.setenv("WATCHFLOOR_SIGNAL_RULES", str(DEFAULT_RULES))


def _react(*clusters, series=()):
    return reactions.after_ingest(
        cluster_ids=[c.pk for c in clusters], series_keys=list(series), actor=None
    )


def _catalog():
    return catalog_for(active_catalog_version())


# ---------------------------------------------------------------- the file


def test_the_default_rules_are_valid_against_the_default_catalog(catalog):
    ruleset = read_rules(DEFAULT_RULES, catalog=_catalog())
    codes = [rule.code for rule in ruleset.rules]
    assert "trusted-source-direct" in codes
    trusted = ruleset.spec.rules[codes.index("trusted-source-direct")]
    assert trusted.when.source == ["regulator", "law_enforcement", "partner_referral"]
    assert trusted.when.min_signals == 1
    assert ruleset.version.startswith("2026.11@")


def test_problems_name_the_file_the_path_and_the_line(catalog):
    text = textwrap.dedent(
        """\
        version: "1"
        rules:
          - code: scams
            name: Scams
            when:
              policy_hint: [scams_fraud, scam]
              market: [JP, XX]
            escalate:
              type: scam_campaign
              rubric:
                harm: grave
                colour: red
          - code: scams
            name: Again
            when: {}
            escalate:
              type: no_such_type
        """
    ).encode()
    with pytest.raises(SignalRulesError) as raised:
        parse_rules("signal_rules.yaml", text, catalog=_catalog())
    found = [str(p) for p in raised.value.problems]
    assert any(
        p.startswith("signal_rules.yaml:6: rules[0].when.policy_hint[1]: unknown policy 'scam'")
        for p in found
    ), found
    assert any(
        p.startswith("signal_rules.yaml:7: rules[0].when.market[1]: unknown market 'XX'")
        for p in found
    ), found
    assert any(
        p.startswith(
            "signal_rules.yaml:11: rules[0].escalate.rubric.harm: 'grave' is not an "
            "answer to harm; use one of none, low, moderate, severe, catastrophic"
        )
        for p in found
    ), found
    assert any(
        p.startswith(
            "signal_rules.yaml:12: rules[0].escalate.rubric.colour: 'colour' is not a rubric factor"
        )
        for p in found
    ), found
    assert any(
        p.startswith("signal_rules.yaml:13: rules[1].code: 'scams' is also the code of rules[0]")
        for p in found
    ), found
    assert any(
        p.startswith(
            "signal_rules.yaml:17: rules[1].escalate.type: unknown escalation type 'no_such_type'"
        )
        for p in found
    ), found


def test_schema_problems_are_worded_with_their_lines():
    text = textwrap.dedent(
        """\
        version: "1"
        rules:
          - code: x
            name: X
            when:
              min_velocty_1h: 5
            escalate: {type: scam_campaign, attach_window: soon}
        """
    ).encode()
    with pytest.raises(SignalRulesError) as raised:
        parse_rules("r.yaml", text, catalog=None)
    found = [str(p) for p in raised.value.problems]
    assert any(p.startswith("r.yaml:6: rules[0].when.min_velocty_1h: unknown field") for p in found)
    assert any(p.startswith("r.yaml:7: rules[0].escalate.attach_window:") for p in found), found


def test_conditions_that_cannot_apply_are_refused():
    text = textwrap.dedent(
        """\
        version: "1"
        rules:
          - code: series-by-source
            name: X
            when: {subject: series, source: [media], min_velocity_1h: 3}
            escalate: {type: scam_campaign}
          - code: ratio-without-surge
            name: Y
            when: {min_surge_ratio: 4}
            escalate: {type: scam_campaign, type_by_source: {media: media_inquiry}}
        """
    ).encode()
    with pytest.raises(SignalRulesError) as raised:
        parse_rules("r.yaml", text, catalog=None)
    messages = [f"{p.path}: {p.message}" for p in raised.value.problems]
    assert any(m.startswith("rules[0].when.source: 'source' is about clusters") for m in messages)
    assert any(m.startswith("rules[0].when.min_velocity_1h:") for m in messages)
    assert any(
        m.startswith("rules[1].when.min_surge_ratio: min_surge_ratio needs surge: true")
        for m in messages
    )


def test_validate_command(catalog, tmp_path, capsys):
    call_command("signal_rules", "validate", str(DEFAULT_RULES))
    out = capsys.readouterr().out
    assert "the signal rules are valid" in out
    assert "trusted-source-direct: cluster → open regulator_notice" in out

    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "version: '1'\nrules:\n  - code: a\n    name: A\n    when: {}\n    escalate: {type: nope}\n"
    )
    with pytest.raises(CommandError, match="1 problem; fix them"):
        call_command("signal_rules", "validate", str(broken))
    assert "broken.yaml:6: rules[0].escalate.type: unknown escalation type 'nope'" in (
        capsys.readouterr().err
    )


# ---------------------------------------------------------------- firing


def test_a_regulator_signal_opens_an_escalation_at_once(catalog, frozen_clock, default_rules):
    cluster = make_cluster(subject_kind="account", subject_ref="acct:relief_ph_official")
    add_signals(
        cluster,
        at=frozen_clock,
        source="regulator",
        market="PH",
        language="en",
        policy_hint="impersonation",
        text="Notice: account impersonating the Red Cross collecting typhoon donations.",
    )

    report = _react(cluster)

    firing = RuleFiring.objects.get()
    assert report.fired == [firing]
    assert (firing.rule_code, firing.outcome, firing.cluster_id) == (
        "trusted-source-direct",
        "opened",
        cluster.pk,
    )
    escalation = firing.escalation
    assert escalation.type.code == "regulator_notice"
    assert escalation.source_kind == "regulator"
    assert [m.code for m in escalation.markets.all()] == ["PH"]
    assert escalation.rubric_answers == {"legal_exposure": "possible"}
    assert [(s.kind, s.reference) for s in escalation.subjects.all()] == [
        ("account", "acct:relief_ph_official")
    ]
    assert escalation.title.startswith("regulator: Notice: account impersonating")
    assert "1 signal from regulator (rule: at least 1 from regulator" in escalation.summary
    # Filed by the rules' own account: an analyst nobody can sign in as.
    account = escalation.created_by
    assert (account.username, account.role, account.has_usable_password()) == (
        "watchfloor-rules",
        Role.ANALYST,
        False,
    )
    cluster.refresh_from_db()
    assert (cluster.state, cluster.escalation_id) == (ClusterState.ESCALATED, escalation.pk)

    assert firing.evidence["conditions"][0].startswith("1 signal from regulator")
    assert firing.evidence["sources"] == {"regulator": 1}
    assert firing.evidence["action"] == f"opened {escalation.reference}"
    event = AuditEvent.objects.get(action=AuditAction.SIGNALS_RULE_FIRED)
    assert event.escalation_id == escalation.pk
    assert event.actor_label == "watchfloor-rules"
    assert event.data["rule"] == "trusted-source-direct"
    assert event.data["evidence"] == firing.evidence
    assert event.data["escalation"] == escalation.reference


def test_law_enforcement_and_partner_referrals_open_their_own_types(
    catalog, frozen_clock, default_rules
):
    police = make_cluster()
    add_signals(police, at=frozen_clock, source="law_enforcement", policy_hint="violent_threats")
    partner = make_cluster()
    add_signals(
        partner,
        at=frozen_clock,
        source="partner_referral",
        policy_hint="impersonation",
        attributes={"partner_team": "customer_service"},
    )
    _react(police, partner)

    police.refresh_from_db()
    partner.refresh_from_db()
    assert police.escalation.type.code == "law_enforcement_emergency_request"
    assert police.escalation.source_kind == "law_enforcement"
    assert partner.escalation.type.code == "vip_partner_escalation"
    assert partner.escalation.source_kind == "partner_team"
    assert partner.escalation.source_team.code == "customer_service"


def test_a_rule_fires_once_per_cluster(catalog, frozen_clock, default_rules):
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock, source="regulator")
    _react(cluster)
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        add_signals(cluster, at=clock.now(), source="regulator")
        assert _react(cluster).fired == []
    assert RuleFiring.objects.count() == 1
    assert Escalation.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.SIGNALS_RULE_FIRED).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleFiring.objects.create(
            rule_code="trusted-source-direct",
            rule_version="x",
            cluster=cluster,
            outcome="opened",
            fired_at=frozen_clock,
        )


def test_user_reports_alone_do_not_open_escalations(catalog, frozen_clock, default_rules):
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock, count=5)
    assert _react(cluster).fired == []
    assert not Escalation.objects.exists()


def test_a_surging_scam_cluster_opens_then_the_next_one_sharing_a_key_attaches(
    catalog, frozen_clock, default_rules
):
    end = bucket_end(frozen_clock)
    first = make_cluster()
    steady_then_burst(first, end=end, market="PH", language="tl")
    _react(first)
    firing = RuleFiring.objects.get(rule_code="scam-wave")
    escalation = firing.escalation
    assert firing.outcome == "opened"
    assert escalation.type.code == "scam_campaign"
    assert escalation.title.startswith("Scam wave (PH): ")
    assert firing.surge.cluster_id == first.pk
    assert firing.evidence["ratio"] == pytest.approx(20.0)
    assert any(
        c.startswith("surging at 20.0× its baseline of 24.0/h")
        for c in firing.evidence["conditions"]
    )

    clock.advance(timedelta(minutes=30))
    second = make_cluster()
    steady_then_burst(second, end=bucket_end(clock.now()), market="PH", language="tl")
    relate(second, first, key_kind=KeyKind.URL)  # a signal of it had the first one's URL
    _react(second)

    attached = RuleFiring.objects.get(rule_code="scam-wave", cluster=second)
    assert (attached.outcome, attached.escalation_id) == ("attached", escalation.pk)
    assert Escalation.objects.filter(type__code="scam_campaign").count() == 1
    second.refresh_from_db()
    assert (second.state, second.escalation_id) == (ClusterState.ESCALATED, escalation.pk)
    note = Note.objects.get(escalation=escalation)
    assert note.author.username == "watchfloor-rules"
    assert f"matched cluster C-{second.pk}" in note.body
    assert f"Attached: same normalised url as cluster C-{first.pk}" in note.body
    event = AuditEvent.objects.filter(action=AuditAction.SIGNALS_RULE_FIRED).last()
    assert (event.escalation_id, event.data["outcome"]) == (escalation.pk, "attached")


def test_a_surge_in_another_market_opens_its_own_escalation(catalog, frozen_clock, default_rules):
    end = bucket_end(frozen_clock)
    ph = make_cluster()
    steady_then_burst(ph, end=end, market="PH", language="tl")
    jp = make_cluster()
    steady_then_burst(jp, end=end, market="JP", language="ja")
    _react(ph, jp)
    assert RuleFiring.objects.filter(rule_code="scam-wave", outcome="opened").count() == 2


def test_benign_clusters_are_left_alone_except_by_trusted_sources(
    catalog, frozen_clock, default_rules, analyst
):
    cluster = make_cluster()
    services.mark_cluster_benign(cluster=cluster, actor=analyst, reason="satire account")
    steady_then_burst(cluster, end=bucket_end(frozen_clock))
    _react(cluster)
    assert not RuleFiring.objects.exists()

    add_signals(cluster, at=frozen_clock, source="regulator")
    _react(cluster)
    assert RuleFiring.objects.get().rule_code == "trusted-source-direct"


def test_a_trusted_source_on_an_escalated_cluster_opens_a_linked_escalation(
    catalog, frozen_clock, default_rules, analyst, make_escalation
):
    existing = make_escalation()
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock)
    services.attach_cluster(cluster=cluster, escalation_id=existing.pk, actor=analyst)
    add_signals(cluster, at=frozen_clock, source="law_enforcement")
    _react(cluster)

    firing = RuleFiring.objects.get()
    assert firing.escalation.type.code == "law_enforcement_emergency_request"
    assert firing.evidence["action"] == (
        f"opened {firing.escalation.reference}, linked to {existing.reference}"
    )
    cluster.refresh_from_db()
    assert cluster.escalation_id == existing.pk  # the cluster stays where it was


def test_a_series_rule_fires_once_per_surge_alert(catalog, frozen_clock, default_rules):
    end = bucket_end(frozen_clock)
    clusters = [make_cluster() for _ in range(6)]
    for cluster in clusters:
        add_signals(
            cluster,
            at=end - timedelta(minutes=3),
            count=5,
            market="JP",
            language="ja",
            policy_hint="crisis_misinformation",
        )
    series = [("JP", "crisis_misinformation", "ja")]
    _react(*clusters, series=series)
    _react(*clusters, series=series)

    firing = RuleFiring.objects.get(rule_code="crisis-misinformation-surge")
    assert firing.cluster is None
    assert firing.surge.market == "JP"
    assert firing.escalation.type.code == "crisis_misinformation"
    # The market × policy series (every language of it) is the one the rule names.
    assert firing.evidence["series"] == {
        "market": "JP",
        "policy": "crisis_misinformation",
        "language": "*",
    }
    assert firing.escalation.source_kind == "detector"


def test_custom_thresholds_and_title(catalog, frozen_clock, rules_file):
    rules_file(
        """\
        version: "test"
        rules:
          - code: fast-account
            name: Fast-moving account reports
            when:
              subject_kind: [account]
              market: [KR]
              min_velocity_1h: 10
              min_impressions: 5000
            escalate:
              type: high_profile_account_compromise
              title: "{signals} reports about {representative} in {markets}"
              rubric: {subject_profile: public_figure}
              attach: never
        """
    )
    cluster = make_cluster(subject_kind="account", subject_ref="acct:kpop_star")
    add_signals(
        cluster,
        at=frozen_clock,
        count=9,
        market="KR",
        language="ko",
        text="해킹된 계정 같아요",
        impressions=1000,
        policy_hint="account_compromise",
    )
    _react(cluster)
    assert not RuleFiring.objects.exists()  # 9 in the last hour: below 10

    add_signals(
        cluster,
        at=frozen_clock,
        count=1,
        market="KR",
        language="ko",
        text="해킹된 계정 같아요",
        impressions=1000,
        policy_hint="account_compromise",
    )
    _react(cluster)
    firing = RuleFiring.objects.get()
    assert firing.escalation.title == "10 reports about 해킹된 계정 같아요 in KR"
    assert firing.rule_version.startswith("test@")
    assert "10 signals in the last hour (rule: at least 10)" in firing.evidence["conditions"]
    assert "10,000 impressions (rule: at least 5,000)" in firing.evidence["conditions"]


def test_a_broken_rules_file_turns_the_rules_off_not_the_intake(
    catalog, frozen_clock, rules_file, caplog
):
    rules_file("version: '1'\nrules:\n  - code: x\n    when: {}\n")
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock, source="regulator")
    with caplog.at_level("ERROR"):
        report = _react(cluster)
    assert report.fired == []
    assert "auto-escalation rules are off" in caplog.text


def test_a_caller_passing_the_account_passes_the_rules_own(catalog, frozen_clock, analyst):
    from watchfloor.signals.auto_escalation import apply_rule, rules_account
    from watchfloor.signals.rule_matching import Match

    cluster = make_cluster()
    ruleset = reactions.current_rules()
    match = Match(conditions=["test"], figures={})
    with pytest.raises(ValueError, match="rules act as watchfloor-rules"):
        apply_rule(
            rule=ruleset.rules[0], ruleset=ruleset, match=match, cluster=cluster, account=analyst
        )
    assert rules_account().username == "watchfloor-rules"
    assert not RuleFiring.objects.exists()
