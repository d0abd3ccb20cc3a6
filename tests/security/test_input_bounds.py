"""Bad input that took the service down (issue 11, findings 4 to 6), replayed.

Each test sends what an attacker inside the organisation sent and asserts what a person
would notice: the one bad item refused with its field or line, everything else done, no
page or process down.
"""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from tests.api.conftest import SCAM_ESCALATION
from tests.people.test_rotas import legal_people, rota, write_rota  # noqa: F401 (fixtures)
from tests.signals.factories import add_signals, make_cluster
from tests.signals.test_intake import make_signal
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, PermissionDenied
from watchfloor.signals import contract, selectors
from watchfloor.signals.intake import ingest_signals
from watchfloor.signals.models import (
    Cluster,
    ClusterBucket,
    ClusterReporter,
    ClusterState,
    SeriesBucket,
    Signal,
)
from watchfloor.web.templatetags.watchfloor_ui import local_time

pytestmark = pytest.mark.django_db

API = "/api/v1"
START_OF_CALENDAR = "0001-01-01T00:00:00+00:01"
END_OF_CALENDAR = "9999-12-31T23:59:59Z"


@pytest.fixture
def api(catalog, analyst):
    """POSTs and GETs the API as the analyst, with a real token; 500s come back as
    responses (as a client would see them), not as exceptions."""
    from watchfloor.people.api_tokens import create_api_token

    _, secret = create_api_token(
        user=analyst, name="probe", actor=None, scopes=["read", "write", "ingest"]
    )
    client = Client(raise_request_exception=False)
    headers = {"Authorization": f"Bearer {secret}"}

    class Caller:
        def post(self, path: str, body=None, *, raw: str | bytes | None = None):
            data = raw if raw is not None else json.dumps(body, ensure_ascii=False)
            return client.post(
                API + path, data=data, content_type="application/json", headers=headers
            )

        def get(self, path: str, params=None):
            return client.get(API + path, params or {}, headers=headers)

        def put_raw(self, path: str, raw: str):
            return client.put(
                API + path, data=raw, content_type="application/json", headers=headers
            )

    return Caller()


@pytest.fixture
def anonymous_json() -> Client:
    return Client(raise_request_exception=False)


def browser(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def run_command(name: str, *args: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue() + str(error), error.returncode
    return out.getvalue(), err.getvalue(), 0


# ============================================================ 4. dates and times


@pytest.mark.parametrize(
    "received_at",
    [START_OF_CALENDAR, END_OF_CALENDAR, "1999-12-31T23:59:59Z", "2200-01-01T00:00:00Z"],
)
def test_a_signal_dated_outside_the_calendar_is_rejected_alone_in_an_api_batch(
    api, frozen_clock, received_at
):
    response = api.post(
        "/signals:batch",
        [make_signal("good-1"), make_signal("bad", received_at=received_at), make_signal("good-2")],
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [result["status"] for result in body["results"]] == ["accepted", "rejected", "accepted"]
    error = body["results"][1]["error"]
    assert (error["code"], error["field"]) == ("bad_timestamp", "received_at")
    assert "2000-01-01 to 2199-12-31" in error["message"]
    assert Signal.objects.count() == 2


def test_a_signal_further_ahead_of_the_clock_than_the_allowed_skew_is_rejected(
    catalog, frozen_clock, settings
):
    ahead = lambda **delta: (frozen_clock + timedelta(**delta)).isoformat()  # noqa: E731
    result = ingest_signals(
        items=[
            make_signal("fast-clock", received_at=ahead(minutes=14)),
            make_signal("tomorrow", received_at=ahead(days=1)),
        ],
        producer="tests",
        actor=None,
    )
    assert [item.status for item in result.results] == ["accepted", "rejected"]
    assert result.results[1].reason == "bad_timestamp"
    assert "in the future" in result.results[1].message
    settings.WATCHFLOOR_SIGNAL_FUTURE_SKEW = timedelta(days=2)
    again = ingest_signals(
        items=[make_signal("tomorrow", received_at=ahead(days=1))], producer="tests", actor=None
    )
    assert again.accepted == 1


def test_the_contract_never_overflows_at_either_end_of_the_calendar():
    for value in (START_OF_CALENDAR, END_OF_CALENDAR, "9999-12-31T23:59:59-23:59"):
        with pytest.raises(contract.SignalRejected) as caught:
            contract.parse_signal(make_signal(1, received_at=value))
        assert caught.value.reason_code == "bad_timestamp"


def test_ingest_rejects_the_bad_line_with_its_number_and_stores_the_rest(
    catalog, frozen_clock, tmp_path
):
    path = tmp_path / "reports.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(signal)
            for signal in (
                make_signal("first"),
                make_signal("year-one", received_at=START_OF_CALENDAR),
                make_signal("year-9999", received_at=END_OF_CALENDAR),
                make_signal("last"),
            )
        )
        + "\n"
    )
    out, err, status = run_command("ingest", str(path), "--single-process")
    assert status == 1
    assert "2 accepted, 0 duplicates, 2 rejected" in out
    assert f"{path}:2: [bad_timestamp]" in err and f"{path}:3: [bad_timestamp]" in err
    assert set(Signal.objects.values_list("external_id", flat=True)) == {"s-first", "s-last"}


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "Pacific/Kiritimati", "Pacific/Honolulu", "UTC"])
@pytest.mark.parametrize(
    "moment",
    [datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)],
)
def test_a_time_at_the_end_of_the_calendar_is_shown_not_raised(zone, moment, frozen_clock):
    shown = local_time(moment, zone)
    assert "<time" in shown and str(moment.year) in shown


def test_the_clusters_page_survives_a_time_stored_at_the_end_of_the_calendar(
    catalog, analyst, frozen_clock
):
    # A row stored before input was bounded: the page must still answer, east of UTC too.
    end = datetime.max.replace(tzinfo=UTC)
    cluster = make_cluster(last_seen_at=end)
    add_signals(cluster, at=end)
    Cluster.objects.filter(pk=cluster.pk).update(last_seen_at=end, signal_count=1)
    assert analyst.time_zone == "Asia/Tokyo"
    response = browser(analyst).get(reverse("clusters"))
    assert response.status_code == 200
    assert f"C-{cluster.pk}" in response.content.decode()
    detail = browser(analyst).get(reverse("cluster-detail", args=[cluster.pk]))
    assert detail.status_code == 200


@pytest.mark.parametrize("at", ["9999-12-31T23:59", "0001-01-01T00:00", "1999-12-31T23:00"])
def test_the_on_call_board_refuses_a_time_outside_the_calendar(analyst, at):
    response = browser(analyst).get("/oncall/", {"at": at})
    assert response.status_code == 200
    assert "outside the dates accepted (2000-01-01 to 2199-12-31)" in response.content.decode()


def test_the_on_call_api_refuses_a_time_outside_the_calendar(api):
    response = api.get("/oncall", {"at": START_OF_CALENDAR})
    assert response.status_code == 422
    assert response.json()["field"] == "at"
    assert "2000-01-01 to 2199-12-31" in response.json()["message"]


@pytest.mark.parametrize("start", ["9999-12-31", "0001-01-01"])
def test_the_icalendar_export_refuses_a_start_outside_the_calendar(rota, analyst, start):  # noqa: F811
    response = browser(analyst).get("/oncall/legal-sun.ics", {"from": start})
    assert response.status_code == 400
    assert "outside the dates accepted" in response.content.decode()


def test_snoozing_a_cluster_until_the_start_of_the_calendar_is_refused(
    catalog, analyst, frozen_clock
):
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock)
    response = browser(analyst).post(
        reverse("cluster-snooze", args=[cluster.pk]),
        {"snooze-period": "PT1H", "snooze-until": "0001-01-01T00:00"},
        follow=True,
    )
    assert response.status_code == 200
    assert "outside the dates accepted" in response.content.decode()
    cluster.refresh_from_db()
    assert cluster.state == ClusterState.OPEN
    with pytest.raises(InvalidInput) as caught:
        from watchfloor.signals.services import snooze_cluster

        snooze_cluster(
            cluster=cluster, actor=analyst, until=datetime(1, 1, 1, tzinfo=UTC), reason=""
        )
    assert caught.value.field == "until"


def test_other_date_fields_of_forms_are_bounded_too():
    from watchfloor.crises.forms import ActionItemForm, HandoffForm

    items = ActionItemForm({"title": "Fix it", "owner": "", "due_on": "9999-12-31"})
    assert "due_on" in items.errors
    handoff = HandoffForm({"incoming": "", "handoff_at": "0001-01-01 00:00"})
    assert "handoff_at" in handoff.errors


def test_commands_refuse_times_outside_the_calendar(catalog, analyst):
    _, err, status = run_command("clusters", "export", "--since", "99999999d")
    assert status != 0 and "outside the dates accepted" in err
    _, err, status = run_command("oncall", "now", "--at", "9999-12-31T23:59:59-12:00")
    assert status != 0 and "outside the dates accepted" in err


def test_dates_in_config_files_are_bounded_too(legal_people, write_rota):  # noqa: F811
    from tests.people.test_rotas import ROTA
    from watchfloor.people.rota_changes import load_rotas
    from watchfloor.people.rotafile import RotaFileError

    far = ROTA.replace(
        "start_date: 2026-01-05\n    time_zone", "start_date: 9999-12-31\n    time_zone"
    )
    assert far != ROTA
    with pytest.raises(RotaFileError) as caught:
        load_rotas(path=write_rota(far), actor=None)
    assert any(
        "start_date" in str(problem) and "outside the dates accepted" in str(problem)
        for problem in caught.value.problems
    )


# ---------------------------------------------------------------- quarantine


@pytest.fixture
def stored_before_bounds(catalog, monkeypatch, settings):
    """Ingest as the intake did before dates were bounded, to get the rows it left."""

    def ingest(*signals):
        allowed = settings.WATCHFLOOR_SIGNAL_FUTURE_SKEW
        settings.WATCHFLOOR_SIGNAL_FUTURE_SKEW = datetime.max.replace(tzinfo=UTC) - clock.now()
        try:
            with monkeypatch.context() as patch:
                patch.setattr(contract.fields, "within_time_range", lambda moment: True)
                return ingest_signals(items=list(signals), producer="tests", actor=None)
        finally:
            settings.WATCHFLOOR_SIGNAL_FUTURE_SKEW = allowed

    return ingest


def test_an_admin_quarantines_signals_stored_outside_the_calendar(
    stored_before_bounds, analyst, admin_user, frozen_clock
):
    subject = {"kind": "account", "ref": "@relief_ph_help"}
    good = make_signal("good", subject=subject, market="JP", reporter="r-good")
    bad = make_signal(
        "bad", subject=subject, market="JP", reporter="r-bad", received_at=END_OF_CALENDAR
    )
    result = stored_before_bounds(good, bad)
    assert result.accepted == 2, result.results
    cluster = Cluster.objects.get()
    assert cluster.last_seen_at.year == 9999 and cluster.signal_count == 2

    from watchfloor.signals.quarantine import quarantine_signals

    with pytest.raises(PermissionDenied):
        quarantine_signals(signal_ids=[1], actor=analyst, reason="bad date")
    out, _, status = run_command("signals", "quarantine", "--suspect", "--dry-run")
    assert status == 0 and "tests:s-bad" in out and "Would quarantine 1 signals" in out
    out, err, status = run_command("signals", "quarantine", "--suspect")
    assert status != 0 and "reason is required" in err
    out, _, status = run_command(
        "signals", "quarantine", "--suspect", "--reason", "received_at in the year 9999"
    )
    assert status == 0 and "Quarantined 1 signal; 1 cluster counted again" in out

    cluster.refresh_from_db()
    assert (cluster.signal_count, cluster.reporter_count) == (1, 1)
    assert cluster.first_seen_at == cluster.last_seen_at == frozen_clock
    assert list(ClusterReporter.objects.values_list("reporter", flat=True)) == ["r-good"]
    assert list(ClusterBucket.objects.values_list("count", flat=True)) == [1]
    assert not SeriesBucket.objects.filter(bucket_start__year=9999).exists()
    assert [s.external_id for s in selectors.cluster_signals(cluster)] == ["s-good"]
    event = AuditEvent.objects.get(action=AuditAction.SIGNALS_QUARANTINED)
    assert event.data["count"] == 1 and event.data["reason"] == "received_at in the year 9999"
    # Stored and still known: sending it again is a duplicate, and nothing is suspect now.
    again = ingest_signals(
        items=[make_signal("bad", subject=subject)], producer="tests", actor=None
    )
    assert again.duplicates == 1
    out, _, _ = run_command("signals", "quarantine", "--suspect", "--reason", "again")
    assert "No signal to quarantine" in out
    assert browser(analyst).get(reverse("clusters")).status_code == 200


def test_a_cluster_left_with_no_signal_counts_zero_and_is_seen_now(
    stored_before_bounds, analyst, admin_user, frozen_clock
):
    stored_before_bounds(make_signal("alone", received_at=END_OF_CALENDAR))
    cluster = Cluster.objects.get()
    signal = Signal.objects.get()
    from watchfloor.signals.quarantine import quarantine_signals

    result = quarantine_signals(signal_ids=[signal.pk], actor=admin_user, reason="bad date")
    assert (result.count, result.cluster_ids) == (1, [cluster.pk])
    cluster.refresh_from_db()
    assert (cluster.signal_count, cluster.velocity_24h) == (0, 0)
    assert cluster.first_seen_at == cluster.last_seen_at == frozen_clock
    assert not SeriesBucket.objects.exists() and not ClusterBucket.objects.exists()
    page = browser(analyst).get(reverse("cluster-detail", args=[cluster.pk]))
    assert page.status_code == 200 and "s-alone" not in page.content.decode()


# ============================================================ 5. resource bombs


def alias_bomb(levels: int = 6) -> bytes:
    """A billion laughs in miniature: each level is nine aliases of the one before, so
    a few hundred bytes expand to 9**levels values."""
    lines = [b'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        aliases = b",".join([b"*l%d" % (level - 1)] * 9)
        lines.append(b"l%d: &l%d [%s]" % (level, level, aliases))
    return b"\n".join(lines) + b"\n"


BOMB_REFUSED = "expands to more than 200,000 values once its aliases (*name) are followed"


def test_the_catalog_refuses_an_alias_bomb_naming_the_file(tmp_path, settings):
    import shutil

    catalog_dir = tmp_path / "catalog"
    shutil.copytree(settings.WATCHFLOOR_CATALOG_DIR, catalog_dir)
    (catalog_dir / "rubric.yaml").write_bytes(alias_bomb())
    assert len(alias_bomb()) < 400
    _, err, status = run_command("config", "validate", str(catalog_dir))
    assert status != 0
    assert "rubric.yaml:" in err and BOMB_REFUSED in err


def test_every_other_config_reader_refuses_an_alias_bomb(catalog, tmp_path, settings):
    from watchfloor.catalog.loader import read_catalog
    from watchfloor.people.rota_changes import load_rotas
    from watchfloor.people.rotafile import RotaFileError
    from watchfloor.playbooks.loader import default_comms_dir, read_library
    from watchfloor.signals.rules import SignalRulesError, parse_rules

    with pytest.raises(SignalRulesError) as rules:
        parse_rules("signal_rules.yaml", alias_bomb(), catalog=None)
    assert BOMB_REFUSED in str(rules.value) and "signal_rules.yaml:" in str(rules.value)

    rota_file = tmp_path / "rotations.yaml"
    rota_file.write_bytes(alias_bomb())
    with pytest.raises(RotaFileError) as rotas:
        load_rotas(path=rota_file, actor=None)
    assert any(BOMB_REFUSED in str(problem) for problem in rotas.value.problems)

    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "laughs.yaml").write_bytes(alias_bomb())
    with pytest.raises(Exception) as library:
        read_library(
            catalog=read_catalog(settings.WATCHFLOOR_CATALOG_DIR).catalog,
            playbook_dir=playbooks,
            comms_dir=default_comms_dir(),
        )
    assert "laughs.yaml:" in str(library.value) and BOMB_REFUSED in str(library.value)


def test_yaml_nested_too_deeply_is_refused_not_a_crash():
    from watchfloor.catalog.loader import parse_yaml_file

    deep = parse_yaml_file("deep.yaml", b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n")
    assert not deep.readable
    assert "deep.yaml:1: is nested more than 64 levels deep" in str(deep.problems[0])
    chain = b"l0: &l0 [x]\n" + b"".join(
        b"l%d: &l%d [*l%d]\n" % (i, i, i - 1) for i in range(1, 100)
    )
    chained = parse_yaml_file("chain.yaml", chain)
    assert "nested more than 64 levels deep once its aliases" in str(chained.problems[0])


def test_a_gzip_of_blank_lines_stops_at_the_line_limit(catalog, frozen_clock, tmp_path, settings):
    settings.WATCHFLOOR_INGEST_MAX_LINES = 1000
    path = tmp_path / "blank.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n" * 2_000_000 + json.dumps(make_signal("late")).encode()))
    assert path.stat().st_size < 10_000
    out, err, status = run_command("ingest", str(path), "--single-process")
    assert status == 1
    assert f"{path}:1001: [file_too_large] the file has more than 1,000 lines" in err
    assert "0 accepted, 0 duplicates, 1 rejected" in out
    assert not Signal.objects.exists()
    # The reader itself stops there: nothing after the limit is read.
    records = list(contract.load_signal_file(path, limits=contract.FileLimits(max_lines=1000)))
    assert [(line, record.reason_code) for line, record in records] == [(1001, "file_too_large")]


def test_a_file_past_its_byte_limit_once_decompressed_keeps_the_lines_before(
    catalog, frozen_clock, tmp_path, settings
):
    lines = [json.dumps(make_signal(f"n{number}")).encode() for number in range(100)]
    settings.WATCHFLOOR_INGEST_MAX_FILE_BYTES = sum(len(line) + 1 for line in lines[:40]) + 10
    path = tmp_path / "reports.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    _, err, status = run_command("ingest", str(path), "--single-process")
    assert status == 1
    assert f"{path}:41: [file_too_large]" in err and "once decompressed" in err
    assert Signal.objects.count() == 40


class _HugeQuotedCell(io.RawIOBase):
    """A CSV whose second line opens a quoted cell of ``cell_bytes`` bytes, made as it is
    read (never held), then a good record."""

    def __init__(self, cell_bytes: int, good_row: bytes) -> None:
        self.parts = [
            b"id,received_at,source,subject.kind,subject.ref,text\n",
            b'huge,2026-11-24T00:30:00Z,user_report,post,p1,"',
        ]
        self.cell_left = cell_bytes
        self.tail = [b'"\n', good_row]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.parts:
            chunk = self.parts.pop(0)
        elif self.cell_left:
            chunk = b"x" * min(self.cell_left, len(buffer))
            self.cell_left -= len(chunk)
        elif self.tail:
            chunk = self.tail.pop(0)
        else:
            return 0
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_csv_with_a_huge_quoted_cell_is_rejected_alone_in_bounded_memory():
    import tracemalloc

    good = b"good,2026-11-24T00:31:00Z,user_report,post,p2,fine\n"
    stream = io.BufferedReader(_HugeQuotedCell(32 * 1024 * 1024, good))
    limits = contract.FileLimits(max_record_bytes=256 * 1024)
    tracemalloc.start()
    try:
        records = list(contract.parse_csv(stream, limits=limits))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # the cell is 32 MiB
    (line, rejected), (good_line, record) = records
    assert (line, rejected.reason_code) == (2, "too_long")
    assert "longer than 262,144 bytes" in rejected.message
    assert good_line == 3 and record["id"] == "good"


def test_ingest_rejects_a_csv_record_over_the_limit_and_stores_the_rest(
    catalog, frozen_clock, tmp_path
):
    path = tmp_path / "reports.csv"
    path.write_bytes(
        b"id,received_at,source,subject.kind,subject.ref,text\n"
        b'a,2026-11-24T00:30:00Z,user_report,post,p1,"' + b"x" * (3 * 1024 * 1024) + b'"\n'
        b'b,2026-11-24T00:30:00Z,user_report,post,p2,"multi\nline, quoted"\n'
        b"c,2026-11-24T00:30:00Z,user_report,post,p3,plain\n"
    )
    out, err, status = run_command("ingest", str(path), "--single-process")
    assert status == 1
    assert f"{path}:2: [too_long]" in err
    assert "2 accepted, 0 duplicates, 1 rejected" in out
    assert set(Signal.objects.values_list("external_id", flat=True)) == {"b", "c"}


# ============================================================ 6. the API's one error shape

SCAM = {key: value for key, value in SCAM_ESCALATION.items() if key != "subjects"}


def assert_api_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "field"}
    assert (body["code"], body["field"]) == (code, field)
    assert body["message"]
    return body


def test_an_oversized_json_body_gets_the_api_error_shape(api, settings):
    body = json.dumps({**SCAM, "summary": "x" * (10 * 1024 * 1024)})
    error = assert_api_error(api.post("/escalations", raw=body), 413, "body_too_large")
    assert f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes" in error["message"]


def test_every_kind_of_api_error_has_the_one_shape(api, analyst, anonymous_json):
    assert_api_error(api.get("/no-such-thing"), 404, "not_found")
    assert_api_error(api.get("/escalations/999999"), 404, "not_found", "escalation_id")
    refused = api.put_raw("/escalations", "{}")
    assert_api_error(refused, 405, "method_not_allowed")
    assert refused["Allow"] == "GET, POST"
    assert_api_error(api.post("/escalations", raw="{not json"), 400, "malformed_json")
    assert_api_error(api.post("/escalations", raw='{"title": NaN}'), 400, "malformed_json")
    assert_api_error(api.post("/escalations", {**SCAM, "title": ""}), 422, "invalid", "title")
    assert_api_error(anonymous_json.get(API + "/escalations"), 401, "unauthenticated")
    session = Client(enforce_csrf_checks=True)
    session.force_login(analyst)
    forged = session.post(
        API + "/escalations", data=json.dumps(SCAM), content_type="application/json"
    )
    assert_api_error(forged, 403, "csrf_failed")


def test_a_failure_of_the_server_is_json_too_and_still_reported():
    from django.core.signals import got_request_exception
    from django.test import RequestFactory

    from watchfloor.api import api as ninja_api

    reported = []

    def receiver(sender, request, **kwargs):
        reported.append(request.path)

    got_request_exception.connect(receiver)
    request = RequestFactory().get(API + "/escalations")
    try:
        try:
            raise RuntimeError("a bug")
        except RuntimeError as error:
            response = ninja_api.on_exception(request, error)
    finally:
        got_request_exception.disconnect(receiver)
    assert_api_error(response, 500, "server_error")
    assert reported == [API + "/escalations"]


def test_a_key_given_twice_in_an_api_body_is_refused_by_name(api):
    duplicate = '{"type": "scam_campaign", "title": "One", "title": "Two"}'
    error = assert_api_error(api.post("/escalations", raw=duplicate), 400, "duplicate_key", "title")
    assert "'title' twice" in error["message"]
    nested = json.dumps({**SCAM, "subjects": []})[:-1] + (
        ', "subjects": [{"kind": "account", "reference": "@a", "reference": "@b"}]}'
    )
    assert_api_error(api.post("/escalations", raw=nested), 400, "duplicate_key", "reference")
    from watchfloor.escalations.models import Escalation

    assert not Escalation.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "code_point"),
    [
        ("title", "Relief scam\x07 wave", "U+0007"),  # BEL
        ("title", "\x1b[31mRelief scam wave", "U+001B"),  # ESC: recolours a terminal
        ("summary", "Accounts posing\x9b as charities", "U+009B"),  # C1 CSI
        ("summary", "Lone carriage\rreturn", "U+000D"),
        ("source_detail", "from\x00a form", "U+0000"),
    ],
)
def test_control_characters_in_text_people_read_are_refused_through_the_api(
    api, field, value, code_point
):
    error = assert_api_error(
        api.post("/escalations", {**SCAM, field: value}), 422, "invalid", field
    )
    assert code_point in error["message"]


def test_tabs_and_line_breaks_are_still_text(api):
    created = api.post(
        "/escalations",
        {**SCAM, "summary": "Two lines\r\nand a\ttab.\nThird line: 台風の義援金"},
    )
    assert created.status_code == 201, created.content


def test_control_characters_are_refused_by_the_services_forms_and_other_schemas(
    catalog, analyst, lead, make_escalation, frozen_clock
):
    from watchfloor.escalations.services import add_note

    with pytest.raises(InvalidInput) as caught:
        make_escalation(title="Relief scam\x1b wave")
    assert caught.value.field == "title" and "U+001B" in caught.value.message
    escalation = make_escalation()
    with pytest.raises(InvalidInput) as note:
        add_note(escalation=escalation, actor=analyst, body="ding\x07")
    assert note.value.field == "body"
    # The web form shows the service's error next to the field and creates nothing.
    page = browser(analyst).post(
        reverse("escalation-create"),
        {
            "type": "scam_campaign",
            "title": "Relief\x07 scam",
            "summary": "",
            "markets": ["PH"],
            "languages": "en",
            "source_kind": "user_report",
            "factor_harm": "moderate",
            "factor_reach": "significant",
            "statutory_time_zone": "Asia/Tokyo",
        },
    )
    assert page.status_code == 400
    assert "U+0007" in page.content.decode()
    from watchfloor.escalations.models import Escalation

    assert Escalation.objects.count() == 1
    # A partner request's question, through its own schema.
    from watchfloor.people.api_tokens import create_api_token

    _, secret = create_api_token(
        user=lead, name="probe", actor=None, scopes=["read", "write", "ingest"]
    )
    asked = Client().post(
        f"{API}/escalations/{escalation.pk}/partner-requests",
        data=json.dumps(
            {"kind": "legal_review", "question": "Can we\x1b[2J remove it?", "due_within": "PT4H"}
        ),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert_api_error(asked, 422, "invalid", "question")
