"""API tokens for systems, and the time zones people work in."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core.errors import InvalidInput
from watchfloor.people.models import APIToken, User
from watchfloor.people.services import (
    create_api_token,
    create_user,
    revoke_api_token,
    user_for_token,
    validate_time_zone,
)


@pytest.fixture
def ingest_user(make_user):
    return make_user("report-pipeline", "analyst", "site_policy")


# ---------------------------------------------------------------- tokens


def test_a_token_is_stored_only_as_its_hash(ingest_user, admin_user, frozen_clock):
    token, secret = create_api_token(user=ingest_user, name="report pipeline", actor=admin_user)

    stored = APIToken.objects.get(pk=token.pk)
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith("wf_")
    assert len(secret) > 40
    assert stored.prefix == secret[:10]
    row = APIToken.objects.filter(pk=token.pk).values().get()
    assert secret not in {str(value) for value in row.values()}
    assert stored.created_at == frozen_clock


def test_creating_a_token_is_audited_without_the_secret(ingest_user, admin_user):
    token, secret = create_api_token(user=ingest_user, name="report pipeline", actor=admin_user)

    event = AuditEvent.objects.get(action=AuditAction.TOKEN_CREATED)
    assert event.actor == admin_user
    assert event.data == {
        "user": ingest_user.username,
        "name": "report pipeline",
        "prefix": token.prefix,
    }
    assert secret not in str(event.data)


def test_each_token_is_different(ingest_user):
    secrets = {create_api_token(user=ingest_user, name=f"n{i}", actor=None)[1] for i in range(5)}
    assert len(secrets) == 5


def test_a_token_needs_a_name(ingest_user):
    with pytest.raises(InvalidInput) as refused:
        create_api_token(user=ingest_user, name="   ", actor=None)
    assert refused.value.field == "name"
    assert not APIToken.objects.exists()


def test_a_token_resolves_to_its_user(ingest_user):
    _, secret = create_api_token(user=ingest_user, name="report pipeline", actor=None)
    assert user_for_token(secret) == ingest_user


@pytest.mark.parametrize(
    "presented",
    ["", "wf_", "wf_not-a-real-token", "Bearer wf_abc", "not-even-prefixed"],
)
def test_an_unknown_token_resolves_to_nobody(presented, ingest_user):
    create_api_token(user=ingest_user, name="report pipeline", actor=None)
    assert user_for_token(presented) is None


def test_a_revoked_token_stops_working(ingest_user, admin_user, frozen_clock):
    token, secret = create_api_token(user=ingest_user, name="report pipeline", actor=None)

    revoke_api_token(token=token, actor=admin_user)

    assert user_for_token(secret) is None
    assert APIToken.objects.get(pk=token.pk).revoked_at == frozen_clock
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REVOKED)
    assert event.actor == admin_user
    assert event.object_id == str(token.pk)


def test_a_deactivated_users_token_stops_working(ingest_user):
    _, secret = create_api_token(user=ingest_user, name="report pipeline", actor=None)
    User.objects.filter(pk=ingest_user.pk).update(is_active=False)
    assert user_for_token(secret) is None


def test_revoking_one_token_leaves_the_others_working(ingest_user):
    first, first_secret = create_api_token(user=ingest_user, name="old", actor=None)
    _, second_secret = create_api_token(user=ingest_user, name="new", actor=None)
    revoke_api_token(token=first, actor=None)
    assert user_for_token(first_secret) is None
    assert user_for_token(second_secret) == ingest_user


def test_the_token_command_prints_a_token_that_works(ingest_user):
    out, err = StringIO(), StringIO()

    call_command(
        "token", "create", ingest_user.username, "--name", "detector", stdout=out, stderr=err
    )

    secret = out.getvalue().strip()
    assert user_for_token(secret) == ingest_user
    assert "shown only once" in err.getvalue()
    assert secret not in err.getvalue()
    assert APIToken.objects.get(user=ingest_user).name == "detector"


def test_the_token_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="username: no user named 'nobody'"):
        call_command("token", "create", "nobody", stdout=StringIO(), stderr=StringIO())
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
