"""Crisis drills: a scenario played end to end on the simulated clock and scored, injects
arriving once, nothing delivered, the drill marked everywhere, and who may run one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from watchfloor.core import clock
from watchfloor.core.errors import PermissionDenied
from watchfloor.drills.scenario_files import PACKAGE_SCENARIOS, read_scenario, scenario_paths

JP = PACKAGE_SCENARIOS / "jp_livestream_attack.yaml"
ID = PACKAGE_SCENARIOS / "id_earthquake_hoaxes.yaml"


@pytest.fixture
def library(catalog):
    from watchfloor.playbooks.library import load_playbooks

    return load_playbooks(actor=None)


@pytest.fixture
def jp(library):
    return read_scenario(JP, check_catalog=True)


@pytest.fixture
def jp_played(jp):
    from watchfloor.drills.autoplay import autoplay_drill

    return autoplay_drill(scenario=jp)


def results(score) -> dict[str, str]:
    return {item["key"]: item["result"] for item in score["items"]}


def test_autoplay_plays_the_attack_scenario_on_its_own_clock_and_scores_it(jp_played):
    run, score = jp_played.run, jp_played.score
    assert jp_played.passed, jp_played.failures
    assert run.status == "finished"
    # The whole five hours played on simulated time from the scenario's start.
    assert run.sim_started_at.isoformat() == "2026-11-17T05:00:00+00:00"
    assert run.sim_now == run.sim_started_at + timedelta(hours=5)
    assert score["percent"] == 95.5
    assert score["totals"] == {
        "on_time": 20,
        "late": 2,
        "missed": 0,
        "not_due": 4,
        "skipped": 0,
    }
    got = results(score)
    # The two late items the script plays on purpose.
    assert got["first_upload:law_enforcement_referral"] == "late"
    assert got["sitrep:3"] == "late"
    # Severity targets, statutory clock and playbook steps on time.
    assert got["first_upload:acknowledge"] == "on_time"
    assert got["first_upload:first_action"] == "on_time"
    assert got["esafety_notice:statutory"] == "on_time"
    assert got["first_upload:hash_media"] == "on_time"
    # Not due by the end of the drill: not scored.
    assert got["esafety_notice:confirm"] == "not_due"
    # Skipped by its condition (no statutory clock on the attack escalation): not listed.
    assert "first_upload:statutory_removal" not in got
    figures = score["figures"]
    assert figures["injected"] == figures["injects"] == 7
    assert figures["signals_by_language"] == {"ja": 2220, "zh-Hans": 1370, "ko": 770, "en": 620}
    assert all(r["ok"] for r in score["autoplay"]["responses"])


def test_the_earthquake_scenario_shows_a_missed_item(library):
    from watchfloor.drills.autoplay import autoplay_drill

    played = autoplay_drill(scenario=read_scenario(ID, check_catalog=True))
    assert played.passed, played.failures
    assert played.score["percent"] == 93.8
    got = results(played.score)
    assert got["ministry_request:legal_review"] == "late"
    assert got["wire_service:fact_check"] == "missed"
    assert got["ministry_request:statutory"] == "on_time"
    assert got["donation_scam:map_network"] == "on_time"


def test_the_drill_is_marked_everywhere_and_closed_when_finished(jp_played):
    from watchfloor.audit.models import AuditEvent
    from watchfloor.drills.selectors import drill_escalations

    run = jp_played.run
    crisis = run.crisis
    assert crisis.is_drill
    assert crisis.title.startswith("[DRILL] ")
    assert crisis.level == "closed"
    escalations = drill_escalations(run)
    assert len(escalations) == 3
    assert all(e.is_drill and e.title.startswith("[DRILL] ") for e in escalations)
    assert all(not e.is_open for e in escalations)
    created = AuditEvent.objects.filter(action="escalation.created")
    assert all(event.data["drill"] for event in created)
    actions = set(
        AuditEvent.objects.filter(data__crisis_id=crisis.pk).values_list("action", flat=True)
    )
    assert {"crisis.drill_started", "crisis.drill_injected", "crisis.drill_finished"} <= actions


def test_a_drill_never_notifies_anyone(jp_played):
    from watchfloor.notify.models import Engagement, Notification

    engagements = Engagement.objects.all()
    assert engagements.exists()
    assert all(e.suppress_delivery for e in engagements)
    assert not Notification.objects.filter(suppress_delivery=False).exists()
    assert not Notification.objects.filter(status__in=["sent", "delivered"]).exists()
    assert mail.outbox == []


def test_drill_signals_never_reach_intake(jp_played):
    from watchfloor.signals.models import Cluster, Signal

    assert not Signal.objects.exists()
    assert not Cluster.objects.exists()


def test_injects_arrive_once_however_often_the_clock_is_advanced(jp, lead, frozen_clock):
    from watchfloor.drills.models import DrillInject
    from watchfloor.drills.services import advance_drill, start_drill
    from watchfloor.escalations.models import Escalation

    run = start_drill(scenario=jp, actor=lead)
    assert run.sim_started_at == frozen_clock
    assert run.injects.exclude(injected_at=None).count() == 1  # the opening escalation
    clock.advance(timedelta(minutes=50))
    first = advance_drill(run=run, to=clock.now(), actor=lead)
    assert [i.kind for i in first] == ["signals", "partner_message", "regulator_notice"]
    again = advance_drill(run=run, to=clock.now(), actor=lead)
    assert again == []
    assert Escalation.objects.count() == 2
    assert DrillInject.objects.filter(run=run, injected_at__isnull=False).count() == 4
    run.refresh_from_db()
    assert run.sim_now == frozen_clock + timedelta(minutes=50)


def test_the_next_inject_can_be_brought_forward(jp, lead, frozen_clock):
    from watchfloor.drills.scoring import score_drill
    from watchfloor.drills.services import inject_next_now, start_drill

    run = start_drill(scenario=jp, actor=lead)
    inject = inject_next_now(run=run, actor=lead)
    assert inject.sequence == 1 and inject.injected_at == frozen_clock
    assert inject.due_at == frozen_clock + timedelta(minutes=5)
    score = score_drill(run)
    # Nothing is due yet at the start of a drill: nothing scored, nothing missed.
    assert score["scored"] == 0 and score["percent"] == 0.0


def test_only_leads_and_admins_start_drills(jp, analyst, viewer):
    from watchfloor.drills.services import start_drill

    for user in (analyst, viewer):
        with pytest.raises(PermissionDenied):
            start_drill(scenario=jp, actor=user)


def test_only_command_finishes_a_drill(jp, lead, analyst, frozen_clock):
    from watchfloor.drills.services import abandon_drill, finish_drill, start_drill

    run = start_drill(scenario=jp, actor=lead)
    with pytest.raises(PermissionDenied):
        finish_drill(run=run, actor=analyst)
    abandoned = abandon_drill(run=run, actor=lead, reason="fire alarm")
    assert abandoned.status == "abandoned"
    assert abandoned.crisis.level == "closed"


def test_a_playbook_regression_fails_the_expectations(jp):
    from watchfloor.drills.autoplay import autoplay_drill

    # As if the holding statement no longer had its approver scripted: the step cannot
    # be done, its response fails and the holding statement is missed.
    spec = jp.spec
    responses = [
        r.model_copy(update={"approve_as": None}) if r.step == "holding_statement" else r
        for r in spec.responses
    ]
    broken = jp.__class__(
        spec=spec.model_copy(update={"responses": responses}), digest=jp.digest, path=jp.path
    )
    played = autoplay_drill(scenario=broken)
    assert not played.passed
    assert results(played.score)["first_upload:holding_statement"] == "missed"
    assert any("holding_statement" in failure for failure in played.failures)
    assert played.score["percent"] < 95.5


@pytest.mark.slow
@pytest.mark.parametrize("path", scenario_paths(PACKAGE_SCENARIOS), ids=lambda p: p.stem)
def test_each_shipped_scenario_autoplays_to_its_expectations(library, path):
    from watchfloor.drills.autoplay import autoplay_drill

    played = autoplay_drill(scenario=read_scenario(path, check_catalog=True))
    assert played.passed, played.failures
    assert played.score["percent"] < 100, "a scenario shows the score discriminates"


@pytest.mark.slow
def test_the_command_prints_the_score_and_exits_one_on_regression(library, tmp_path, capsys):
    call_command("drill", "run", "jp_livestream_attack", "--autoplay")
    out = capsys.readouterr().out
    assert "score 95.5%" in out
    assert "late         first_upload:law_enforcement_referral" in out
    raised = JP.read_text(encoding="utf-8").replace("min_score: 90", "min_score: 99")
    stricter = tmp_path / "jp_livestream_attack.yaml"
    stricter.write_text(raised, encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("drill", "run", str(stricter), "--autoplay")
    assert caught.value.returncode == 1


def test_the_command_exits_two_on_a_bad_file(db, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("code: bad\ntitle: x\nduration: soon\n", encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("drill", "validate", str(bad))
    assert caught.value.returncode == 2
    assert "bad.yaml:3: duration: 'soon' is not an offset" in capsys.readouterr().err


# ---------------------------------------------------------------- the pages


def test_leads_start_a_drill_from_the_page_and_analysts_cannot(library, lead, analyst):
    from tests.crises.conftest import signed_in
    from watchfloor.drills.models import DrillRun

    refused = signed_in(analyst).post("/crises/drills/start", {"scenario": "jp_livestream_attack"})
    assert refused.status_code == 403
    assert not DrillRun.objects.exists()
    listing = signed_in(analyst).get("/crises/drills/")
    assert "Start this drill" not in listing.content.decode()

    browser = signed_in(lead)
    assert "Start this drill" in browser.get("/crises/drills/").content.decode()
    started = browser.post("/crises/drills/start", {"scenario": "jp_livestream_attack"})
    run = DrillRun.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/crises/drills/{run.pk}/"
    page = browser.get(started["Location"]).content.decode()
    assert "DRILL" in page and "Inject the next event now" in page
    war_room = browser.get(f"/crises/{run.crisis_id}/").content.decode()
    assert 'class="drill-banner"' in war_room
    # The queue of real work leaves drills out unless asked for them, marked.
    assert "flag-drill" not in browser.get("/").content.decode()
    queue = browser.get("/?drills=include").content.decode()
    assert "flag-drill" in queue
    # The analyst plays in it but does not command it.
    assert (
        "Inject the next event now"
        not in signed_in(analyst).get(started["Location"]).content.decode()
    )
    assert signed_in(analyst).post(f"/crises/drills/{run.pk}/finish").status_code == 403
    finished = browser.post(f"/crises/drills/{run.pk}/finish")
    assert finished["Location"] == f"/crises/drills/{run.pk}/score"
    # Finished at once: nothing fell due, and the page says so rather than "0.0%".
    assert "Not scored: nothing was due" in browser.get(finished["Location"]).content.decode()


def test_a_file_path_cannot_be_started_from_the_page(library, lead, tmp_path):
    from tests.crises.conftest import signed_in
    from watchfloor.drills.models import DrillRun

    browser = signed_in(lead)
    response = browser.post("/crises/drills/start", {"scenario": str(JP)})
    assert response.status_code == 302 and response["Location"] == "/crises/drills/"
    assert not DrillRun.objects.exists()
