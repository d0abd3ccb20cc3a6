"""API tokens for systems, and the time zones people work in."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.people.api_tokens import (
    TokenRefused,
    check_api_token,
    create_api_token,
    revoke_api_token,
    user_for_token,
)
from watchfloor.people.models import APIToken, User
from watchfloor.people.services import create_user, validate_time_zone


@pytest.fixture
def ingest_user(make_user):
    return make_user("report-pipeline", "analyst", "site_policy")


# ---------------------------------------------------------------- tokens


def test_a_token_is_stored_only_as_its_hash(ingest_user, admin_user, frozen_clock):
    token, secret = create_api_token(
        user=ingest_user, name="report pipeline", scopes=["ingest"], actor=admin_user
    )

    stored = APIToken.objects.get(pk=token.pk)
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith("wf_")
    assert len(secret) > 40
    assert stored.prefix == secret[:10]
    row = APIToken.objects.filter(pk=token.pk).values().get()
    assert secret not in {str(value) for value in row.values()}
    assert stored.created_at == frozen_clock


def test_creating_a_token_is_audited_without_the_secret(ingest_user, admin_user):
    token, secret = create_api_token(
        user=ingest_user, name="report pipeline", scopes=["ingest"], actor=admin_user
    )

    event = AuditEvent.objects.get(action=AuditAction.TOKEN_CREATED)
    assert event.actor == admin_user
    assert event.data == {
        "user": ingest_user.username,
        "name": "report pipeline",
        "prefix": token.prefix,
        "scopes": ["ingest"],
        "expires_at": token.expires_at.isoformat(),
    }
    assert secret not in str(event.data)


def test_each_token_is_different(ingest_user):
    secrets = {
        create_api_token(user=ingest_user, name=f"n{i}", scopes=["read"], actor=None)[1]
        for i in range(5)
    }
    assert len(secrets) == 5


def test_a_token_needs_a_name(ingest_user):
    with pytest.raises(InvalidInput) as refused:
        create_api_token(user=ingest_user, name="   ", scopes=["read"], actor=None)
    assert refused.value.field == "name"
    assert not APIToken.objects.exists()


def test_a_token_resolves_to_its_user(ingest_user):
    _, secret = create_api_token(
        user=ingest_user, name="report pipeline", scopes=["ingest"], actor=None
    )
    assert user_for_token(secret) == ingest_user


@pytest.mark.parametrize(
    "presented",
    ["", "wf_", "wf_not-a-real-token", "Bearer wf_abc", "not-even-prefixed"],
)
def test_an_unknown_token_resolves_to_nobody(presented, ingest_user):
    create_api_token(user=ingest_user, name="report pipeline", scopes=["ingest"], actor=None)
    assert user_for_token(presented) is None


def test_a_revoked_token_stops_working(ingest_user, admin_user, frozen_clock):
    token, secret = create_api_token(
        user=ingest_user, name="report pipeline", scopes=["ingest"], actor=None
    )

    revoke_api_token(token=token, actor=admin_user)

    assert user_for_token(secret) is None
    assert APIToken.objects.get(pk=token.pk).revoked_at == frozen_clock
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REVOKED)
    assert event.actor == admin_user
    assert event.object_id == str(token.pk)


def test_a_deactivated_users_token_stops_working(ingest_user):
    _, secret = create_api_token(
        user=ingest_user, name="report pipeline", scopes=["ingest"], actor=None
    )
    User.objects.filter(pk=ingest_user.pk).update(is_active=False)
    assert user_for_token(secret) is None


def test_revoking_one_token_leaves_the_others_working(ingest_user):
    first, first_secret = create_api_token(
        user=ingest_user, name="old", scopes=["read"], actor=None
    )
    _, second_secret = create_api_token(user=ingest_user, name="new", scopes=["read"], actor=None)
    revoke_api_token(token=first, actor=None)
    assert user_for_token(first_secret) is None
    assert user_for_token(second_secret) == ingest_user


def test_the_token_command_prints_a_token_that_works(ingest_user):
    out, err = StringIO(), StringIO()

    call_command(
        "token",
        "create",
        ingest_user.username,
        "--name",
        "detector",
        "--scope",
        "ingest",
        stdout=out,
        stderr=err,
    )

    secret = out.getvalue().strip()
    assert user_for_token(secret) == ingest_user
    assert "shown only once" in err.getvalue()
    assert secret not in err.getvalue()
    assert APIToken.objects.get(user=ingest_user).name == "detector"


def test_the_token_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="username: no user named 'nobody'"):
        call_command(
            "token", "create", "nobody", "--scope", "read", stdout=StringIO(), stderr=StringIO()
        )
    assert not APIToken.objects.exists()


def test_creating_a_person_is_audited(admin_user):
    person = create_user(
        username="mei.analyst",
        password=None,
        role="analyst",
        actor=admin_user,
        time_zone="Asia/Taipei",
    )

    assert not person.has_usable_password()
    event = AuditEvent.objects.filter(action=AuditAction.USER_CREATED).order_by("sequence").last()
    assert event.actor == admin_user
    assert event.object_id == str(person.pk)
    assert event.data == {"username": "mei.analyst", "role": "analyst", "team": None}


# ---------------------------------------------------------------- time zones


@pytest.mark.parametrize("name", ["Asia/Tokyo", "Asia/Kolkata", "Pacific/Auckland", "UTC"])
def test_a_real_time_zone_is_accepted(name):
    assert validate_time_zone(name) == name


@pytest.mark.parametrize("name", ["Tokyo", "Mars/Olympus_Mons", "", "../../etc/passwd", "JST+9"])
def test_a_bad_time_zone_is_refused_with_a_clear_message(name):
    with pytest.raises(InvalidInput) as refused:
        validate_time_zone(name)
    assert refused.value.field == "time_zone"
    assert f"'{name}' is not an IANA time zone" in refused.value.message
    assert "Asia/Tokyo" in refused.value.message  # an example of what would work


def test_a_person_cannot_be_created_in_a_bad_time_zone(catalog):
    with pytest.raises(InvalidInput) as refused:
        create_user(
            username="tz.typo", password=None, role="analyst", actor=None, time_zone="Asia/Tokio"
        )
    assert refused.value.field == "time_zone"
    assert not User.objects.filter(username="tz.typo").exists()


# ---------------------------------------------------------------- scopes, expiry, last use


def test_a_token_expires_after_90_days_by_default(ingest_user, frozen_clock):
    token, secret = create_api_token(
        user=ingest_user, name="report pipeline", scopes=["ingest"], actor=None
    )

    assert token.expires_at == frozen_clock + timedelta(days=90)
    clock.advance(timedelta(days=90) - timedelta(seconds=1))
    assert user_for_token(secret) == ingest_user
    clock.advance(timedelta(seconds=1))
    with pytest.raises(TokenRefused) as refused:
        check_api_token(secret)
    assert "expired at 2027-02-22 00:30 UTC" in refused.value.message
    assert user_for_token(secret) is None


def test_each_token_may_have_its_own_lifetime_within_a_year(ingest_user, frozen_clock, settings):
    week, _ = create_api_token(
        user=ingest_user, name="short", scopes=["read"], actor=None, lifetime=timedelta(days=7)
    )
    assert week.expires_at == frozen_clock + timedelta(days=7)

    settings.WATCHFLOOR_API_TOKEN_DAYS = 30
    month, _ = create_api_token(user=ingest_user, name="default", scopes=["read"], actor=None)
    assert month.expires_at == frozen_clock + timedelta(days=30)

    for lifetime in (timedelta(days=367), timedelta(minutes=5), timedelta(days=-1)):
        with pytest.raises(InvalidInput) as refused:
            create_api_token(
                user=ingest_user, name="odd", scopes=["read"], actor=None, lifetime=lifetime
            )
        assert refused.value.field == "lifetime"
    assert APIToken.objects.count() == 2


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        ([], "at least one scope"),
        (["  "], "at least one scope"),
        (["read", "admin"], "unknown token scope 'admin'"),
        (["everything"], "unknown token scope 'everything'"),
    ],
)
def test_a_token_needs_known_scopes(ingest_user, scopes, message):
    with pytest.raises(InvalidInput) as refused:
        create_api_token(user=ingest_user, name="pipeline", scopes=scopes, actor=None)
    assert refused.value.field == "scopes"
    assert message in refused.value.message
    assert not APIToken.objects.exists()


def test_scopes_are_stored_in_the_vocabulary_order_once_each(ingest_user):
    token, _ = create_api_token(
        user=ingest_user, name="pipeline", scopes=["ingest", "READ", "read"], actor=None
    )
    assert APIToken.objects.get(pk=token.pk).scopes == ["read", "ingest"]


def test_last_use_is_written_at_most_once_a_minute(ingest_user, frozen_clock):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    token, secret = create_api_token(user=ingest_user, name="feed", scopes=["read"], actor=None)
    assert token.last_used_at is None

    check_api_token(secret)
    assert APIToken.objects.get(pk=token.pk).last_used_at == frozen_clock

    clock.advance(timedelta(seconds=59))
    with CaptureQueriesContext(connection) as queries:
        check_api_token(secret)
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert APIToken.objects.get(pk=token.pk).last_used_at == frozen_clock

    clock.advance(timedelta(seconds=1))
    check_api_token(secret)
    assert APIToken.objects.get(pk=token.pk).last_used_at == frozen_clock + timedelta(minutes=1)


def test_a_revoked_token_says_so_and_cannot_be_revoked_twice(ingest_user, admin_user):
    token, secret = create_api_token(user=ingest_user, name="feed", scopes=["read"], actor=None)
    revoke_api_token(token=token, actor=admin_user)

    with pytest.raises(TokenRefused) as refused:
        check_api_token(secret)
    assert "was revoked at" in refused.value.message
    assert APIToken.objects.get(pk=token.pk).revoked_by == admin_user
    with pytest.raises(Conflict):
        revoke_api_token(token=token, actor=admin_user)
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED).count() == 1


# ---------------------------------------------------------------- the token command


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_token_create_takes_scopes_and_days(ingest_user, frozen_clock):
    secret, err = _run(
        "create",
        ingest_user.username,
        "--name",
        "hash matcher",
        "--scope",
        "read,ingest",
        "--days",
        "30",
    )

    token = APIToken.objects.get(name="hash matcher")
    assert check_api_token(secret.strip()) == token
    assert token.scopes == ["read", "ingest"]
    assert token.expires_at == frozen_clock + timedelta(days=30)
    assert "scopes: read, ingest; expires 2026-12-24 00:30 UTC" in err


def test_token_create_refuses_no_scope_and_an_unknown_scope(ingest_user):
    with pytest.raises(CommandError, match="scopes: a token needs at least one scope"):
        _run("create", ingest_user.username)
    with pytest.raises(CommandError, match="unknown token scope 'root'"):
        _run("create", ingest_user.username, "--scope", "root")
    assert not APIToken.objects.exists()


def test_token_list_shows_working_tokens_and_all_with_all(ingest_user, admin_user, frozen_clock):
    working, secret = create_api_token(user=ingest_user, name="feed", scopes=["ingest"], actor=None)
    revoked, _ = create_api_token(user=ingest_user, name="old feed", scopes=["read"], actor=None)
    revoke_api_token(token=revoked, actor=admin_user)
    check_api_token(secret)

    listed, _ = _run("list")
    assert working.prefix in listed and "feed" in listed and "ingest" in listed
    assert "2026-11-24 00:30 UTC" in listed  # last used
    assert "2027-02-22 00:30 UTC" in listed  # expires
    assert revoked.prefix not in listed

    everything, _ = _run("list", "--all")
    assert revoked.prefix in everything and "revoked" in everything
    assert _run("list", "--user", admin_user.username)[1].startswith("no working tokens")


def test_token_revoke_by_id_or_prefix_stops_the_token(ingest_user):
    first, first_secret = create_api_token(user=ingest_user, name="a", scopes=["read"], actor=None)
    second, second_secret = create_api_token(
        user=ingest_user, name="b", scopes=["read"], actor=None
    )

    out, _ = _run("revoke", str(first.pk))
    assert f"revoked token {first.pk} {first.prefix}" in out
    _run("revoke", second.prefix)

    assert user_for_token(first_secret) is None
    assert user_for_token(second_secret) is None
    events = AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED)
    assert sorted(int(event.object_id) for event in events) == sorted([first.pk, second.pk])


def test_token_revoke_says_what_is_wrong(ingest_user):
    token, _ = create_api_token(user=ingest_user, name="a", scopes=["read"], actor=None)
    with pytest.raises(CommandError, match="token: no API token 'wf_nothing'"):
        _run("revoke", "wf_nothing")
    _run("revoke", str(token.pk))
    with pytest.raises(CommandError, match="was already revoked"):
        _run("revoke", str(token.pk))


# ---------------------------------------------------------------- the admin's token page


def test_an_admin_sees_every_token_and_revokes_from_the_admin(ingest_user, admin_user):
    from django.test import Client

    token, secret = create_api_token(user=ingest_user, name="feed", scopes=["ingest"], actor=None)
    client = Client()
    client.force_login(admin_user)

    page = client.get("/admin/people/apitoken/")
    assert page.status_code == 200
    text = page.content.decode()
    assert token.prefix in text and "feed" in text and "ingest" in text and "active" in text
    assert "Revoke the selected tokens" in text

    response = client.post(
        "/admin/people/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [str(token.pk)]},
        follow=True,
    )

    assert "Revoked 1" in response.content.decode()
    assert user_for_token(secret) is None
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REVOKED)
    assert event.actor == admin_user
    assert (
        f"revoked by {admin_user.username}"
        in client.get("/admin/people/apitoken/").content.decode()
    )


def test_someone_without_admin_access_cannot_open_the_token_page(ingest_user, make_user):
    from django.test import Client

    lead = make_user("lina.lead", "lead", "site_policy")
    create_api_token(user=ingest_user, name="feed", scopes=["ingest"], actor=None)
    client = Client()
    client.force_login(lead)

    response = client.get("/admin/people/apitoken/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
