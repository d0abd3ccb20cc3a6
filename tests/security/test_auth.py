"""Issue 11, findings 7, 9 and 10: signing in, API tokens and production settings.

Each test replays what the finding showed (49 wrong passwords then the right one signing
in; tokens that never expire and cannot be revoked; the demo running in production;
sessions of 14 days) and passes only when it is fixed. Second-factor codes are real TOTP
codes, computed here from the key the enrolment page shows (RFC 6238), not by the library
under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.password_validation import validate_password
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.people.api_tokens import create_api_token
from watchfloor.people.demo_accounts import DEMO_PASSWORD, demo_usernames
from watchfloor.people.models import APIToken
from watchfloor.people.services import create_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # the shared fixtures' password
API = "/api/v1"


@pytest.fixture
def second_factor_required(settings) -> None:
    settings.WATCHFLOOR_MFA_REQUIRED_ROLES = ["lead", "admin"]


def sign_in(client: Client, username: str, password: str = PASSWORD, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def signed_in_as(client: Client) -> str | None:
    """Who the session belongs to, as the next page sees it (None: nobody, or the second
    step is still owed)."""
    response = client.get(reverse("queue"))
    if response.status_code != 200:
        return None
    return response.context["user"].username


# ---------------------------------------------------------------- TOTP, independently


def totp(secret_b32: str, *, at: float, step: int = 30, digits: int = 6) -> str:
    """RFC 6238 TOTP (HMAC-SHA1), as an authenticator app computes it."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = struct.pack(">Q", int(at // step))
    mac = hmac.new(key, counter, hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 10**digits:0{digits}d}"


def test_the_totp_helper_matches_the_rfc_6238_test_vector():
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits).
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp(secret, at=59, digits=8) == "94287082"


def enrolment_secret(page) -> str:
    """The key from the enrolment page's otpauth:// link, as a phone would scan it."""
    text = page.content.decode()
    uri = unquote(re.search(r'class="otpauth-uri">([^<]+)<', text).group(1)).replace("&amp;", "&")
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    query = parse_qs(parsed.query)
    assert query["issuer"] == ["Watchfloor"]
    assert query["digits"] == ["6"] and query["period"] == ["30"]
    # The QR code encodes the same link, as an image the page's CSP allows.
    assert re.search(r'<img class="qr-code" src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+"', text)
    shown_key = re.search(r'class="otp-secret">([A-Z2-7]+)<', text).group(1)
    assert query["secret"] == [shown_key]
    return shown_key


def enrol(client: Client, *, at: float | None = None) -> tuple[str, list[str]]:
    """Set up an app for the signed-in person; returns its key and the recovery codes."""
    page = client.get(reverse("mfa-enrol"))
    assert page.status_code == 200
    secret = enrolment_secret(page)
    done = client.post(reverse("mfa-enrol"), {"code": totp(secret, at=at or time.time())})
    assert done.status_code == 200, done.content
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    return secret, codes


def next_code(secret: str) -> str:
    """The app's next code (one step ahead, within the one-step tolerance): a code that
    was already used is never accepted again, and enrolment used the current one."""
    return totp(secret, at=time.time() + 30)


# ---------------------------------------------------------------- 7. throttling


def test_49_wrong_passwords_then_the_right_one_does_not_sign_in(analyst):
    client = Client()
    for _ in range(49):
        sign_in(client, analyst.username, "wrong-password-guess")

    response = sign_in(client, analyst.username, PASSWORD)

    assert response.status_code == 429
    assert signed_in_as(client) is None


def test_an_account_is_locked_after_five_failures_with_a_clear_message(analyst):
    client = Client()
    for attempt in range(4):
        refused = sign_in(client, analyst.username, f"guess-{attempt}")
        assert refused.status_code == 200  # the ordinary "wrong password" form
        assert "Too many failed sign-ins" not in refused.content.decode()

    fifth = sign_in(client, analyst.username, "guess-5")
    right = sign_in(client, analyst.username, PASSWORD)

    for response in (fifth, right):
        assert response.status_code == 429
        text = response.content.decode()
        assert "Too many failed sign-ins for this account or from this address" in text
        assert "paused for 15 minutes, even with the right password" in text
        assert 'name="username"' in text  # still the sign-in page
    assert signed_in_as(client) is None


def test_four_failures_then_the_right_password_signs_in(analyst):
    client = Client()
    for attempt in range(4):
        sign_in(client, analyst.username, f"guess-{attempt}")
    assert sign_in(client, analyst.username, PASSWORD).status_code == 302
    assert signed_in_as(client) == analyst.username


def test_the_lock_on_one_account_leaves_others_and_other_addresses_alone(analyst, other_analyst):
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for attempt in range(5):
        sign_in(attacker, analyst.username, f"guess-{attempt}")

    # The account is locked from everywhere, including its owner's own address…
    owner = Client(REMOTE_ADDR="198.51.100.20")
    assert sign_in(owner, analyst.username, PASSWORD).status_code == 429
    # …but a colleague at the attacker's address (below its own limit) still signs in.
    colleague = Client(REMOTE_ADDR="203.0.113.7")
    assert sign_in(colleague, other_analyst.username, PASSWORD).status_code == 302


def test_an_address_is_locked_after_twenty_failures_across_accounts(analyst, other_analyst):
    spray = Client(REMOTE_ADDR="203.0.113.9")
    for number in range(20):
        sign_in(spray, f"someone-{number}", "Winter2026!")

    same_address = Client(REMOTE_ADDR="203.0.113.9")
    assert sign_in(same_address, analyst.username, PASSWORD).status_code == 429
    elsewhere = Client(REMOTE_ADDR="198.51.100.21")
    assert sign_in(elsewhere, analyst.username, PASSWORD).status_code == 302


def test_the_lock_lifts_after_the_cool_off(analyst):
    client = Client()
    for attempt in range(5):
        sign_in(client, analyst.username, f"guess-{attempt}")
    assert sign_in(client, analyst.username, PASSWORD).status_code == 429

    # Fifteen minutes pass (django-axes keeps wall-clock times: move its records back).
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= timedelta(minutes=16)
        attempt.save(update_fields=["attempt_time"])

    assert sign_in(client, analyst.username, PASSWORD).status_code == 302


def test_an_admin_lifts_a_lock_with_the_command(analyst):
    from django.core.management import call_command

    client = Client()
    for attempt in range(5):
        sign_in(client, analyst.username, f"guess-{attempt}")
    call_command("axes_reset_username", analyst.username, stdout=__import__("io").StringIO())

    assert sign_in(client, analyst.username, PASSWORD).status_code == 302


def test_the_admin_sign_in_is_throttled_too(admin_user):
    client = Client()
    for attempt in range(5):
        client.post("/admin/login/", {"username": admin_user.username, "password": f"g{attempt}"})
    response = client.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert client.get("/admin/").status_code == 302


# ---------------------------------------------------------------- 7. second factor


def test_a_lead_is_sent_to_enrolment_after_the_password_and_cannot_work_until_then(
    lead, second_factor_required
):
    client = Client()
    response = sign_in(client, lead.username)
    assert response.status_code == 302

    for path in ("/", "/crises/", "/escalations/1/", "/oncall/", "/admin/"):
        page = client.get(path)
        assert page.status_code == 302, path
        assert page["Location"].startswith(reverse("mfa-enrol")), path
    api = client.get(f"{API}/escalations")
    assert api.status_code == 403
    assert api.json()["code"] == "second_factor_required"

    secret, codes = enrol(client)

    assert len(codes) == 10 and len(set(codes)) == 10
    assert signed_in_as(client) == lead.username
    assert client.get(f"{API}/escalations").status_code == 200
    device = TOTPDevice.objects.get(user=lead)
    assert device.confirmed
    event = AuditEvent.objects.get(action=AuditAction.MFA_ENROLLED)
    assert event.actor == lead and event.object_id == str(lead.pk)
    assert event.data == {
        "username": lead.username,
        "device": "authenticator app",
        "recovery_codes": 10,
    }
    assert secret not in str(event.data) and not any(code in str(event.data) for code in codes)


def test_an_admin_must_enrol_too_even_through_the_admin_sign_in(admin_user, second_factor_required):
    client = Client()
    client.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD})

    response = client.get("/admin/people/apitoken/")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa-enrol"))


def test_a_wrong_code_does_not_confirm_the_app(lead, second_factor_required):
    client = Client()
    sign_in(client, lead.username)
    secret = enrolment_secret(client.get(reverse("mfa-enrol")))
    right = totp(secret, at=time.time())
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    refused = client.post(reverse("mfa-enrol"), {"code": wrong})

    assert refused.status_code == 200
    assert "that code is not right" in refused.content.decode()
    assert not TOTPDevice.objects.get(user=lead).confirmed
    assert signed_in_as(client) is None
    assert not AuditEvent.objects.filter(action=AuditAction.MFA_ENROLLED).exists()


def test_the_next_sign_in_asks_for_a_code_from_the_app(lead, second_factor_required):
    first = Client()
    sign_in(first, lead.username)
    secret, _ = enrol(first)

    client = Client()
    sign_in(client, lead.username)
    held = client.get("/")
    assert held["Location"].startswith(reverse("mfa-verify"))
    assert signed_in_as(client) is None

    response = client.post(reverse("mfa-verify"), {"code": next_code(secret), "next": "/oncall/"})

    assert response.status_code == 302 and response["Location"] == "/oncall/"
    assert signed_in_as(client) == lead.username


def test_a_code_is_accepted_only_once(lead, second_factor_required):
    first = Client()
    sign_in(first, lead.username)
    now = time.time()
    secret, _ = enrol(first, at=now)

    client = Client()
    sign_in(client, lead.username)
    replayed = client.post(reverse("mfa-verify"), {"code": totp(secret, at=now)})

    assert replayed.status_code == 200
    assert "that code is not right" in replayed.content.decode()
    assert signed_in_as(client) is None


def test_repeated_wrong_codes_make_the_next_try_wait(lead, second_factor_required):
    from django.utils import timezone

    first = Client()
    sign_in(first, lead.username)
    secret, _ = enrol(first)
    client = Client()
    sign_in(client, lead.username)

    wrong = client.post(reverse("mfa-verify"), {"code": "000000"})
    assert "that code is not right" in wrong.content.decode()
    assert TOTPDevice.objects.get(user=lead).throttling_failure_count == 1

    # Five wrong codes just now (django-otp keeps wall-clock times): the wait is 16 s, and
    # even the right code is not looked at until it is over.
    TOTPDevice.objects.filter(user=lead).update(
        throttling_failure_count=5, throttling_failure_timestamp=timezone.now()
    )
    right = client.post(reverse("mfa-verify"), {"code": next_code(secret)})
    assert "too many wrong codes: wait until" in right.content.decode()
    assert signed_in_as(client) is None

    TOTPDevice.objects.filter(user=lead).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=17)
    )
    client.post(reverse("mfa-verify"), {"code": next_code(secret)})
    assert signed_in_as(client) == lead.username


def test_a_recovery_code_signs_in_once(lead, second_factor_required):
    first = Client()
    sign_in(first, lead.username)
    _, codes = enrol(first)

    client = Client()
    sign_in(client, lead.username)
    used = client.post(reverse("mfa-verify"), {"code": codes[3].upper()})

    assert used.status_code == 200
    assert "9 recovery codes left" in used.content.decode()
    assert signed_in_as(client) == lead.username
    event = AuditEvent.objects.get(action=AuditAction.MFA_RECOVERY_CODE_USED)
    assert event.data == {"username": lead.username, "recovery_codes_left": 9}

    again = Client()
    sign_in(again, lead.username)
    refused = again.post(reverse("mfa-verify"), {"code": codes[3]})
    assert "that code is not right" in refused.content.decode()
    assert signed_in_as(again) is None


def test_new_recovery_codes_replace_the_old_ones(lead, second_factor_required):
    client = Client()
    sign_in(client, lead.username)
    _, old_codes = enrol(client)

    page = client.post(reverse("mfa-recovery-codes"))

    new_codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", page.content.decode())
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert sorted(StaticToken.objects.values_list("token", flat=True)) == sorted(new_codes)
    assert AuditEvent.objects.filter(action=AuditAction.MFA_RECOVERY_CODES_REPLACED).count() == 1


def test_an_analyst_signs_in_with_the_password_alone_until_they_add_an_app(
    analyst, second_factor_required
):
    client = Client()
    sign_in(client, analyst.username)
    assert signed_in_as(client) == analyst.username

    security = client.get(reverse("account-security"))
    assert "Set up an authenticator app" in security.content.decode()
    secret, _ = enrol(client)
    assert "recovery codes left" in client.get(reverse("account-security")).content.decode()

    # Having chosen an app, they are asked for it from then on.
    later = Client()
    sign_in(later, analyst.username)
    assert signed_in_as(later) is None
    later.post(reverse("mfa-verify"), {"code": next_code(secret)})
    assert signed_in_as(later) == analyst.username


def test_removing_ones_own_app_is_audited_and_a_lead_enrols_again(lead, second_factor_required):
    client = Client()
    sign_in(client, lead.username)
    enrol(client)

    client.post(reverse("mfa-remove"))

    assert not TOTPDevice.objects.filter(user=lead).exists()
    assert not StaticDevice.objects.filter(user=lead).exists()
    event = AuditEvent.objects.get(action=AuditAction.MFA_REMOVED)
    assert event.actor == lead
    assert event.data["devices"] == ["authenticator app", "recovery codes"]
    assert client.get("/")["Location"].startswith(reverse("mfa-enrol"))


def test_an_admin_removes_a_lost_phone_from_the_admin_and_it_is_audited(
    lead, admin_user, second_factor_required
):
    person = Client()
    sign_in(person, lead.username)
    enrol(person)
    admin = Client()
    sign_in(admin, admin_user.username)
    enrol(admin)

    admin.post(
        "/admin/people/user/",
        {"action": "remove_second_factors", "_selected_action": [str(lead.pk)]},
    )

    assert not TOTPDevice.objects.filter(user=lead).exists()
    event = AuditEvent.objects.get(action=AuditAction.MFA_REMOVED)
    assert event.actor == admin_user and event.object_id == str(lead.pk)
    assert event.data["reason"] == "removed by an administrator"


def test_devices_cannot_be_edited_in_the_admin(admin_user):
    client = Client()
    client.force_login(admin_user)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 200
    assert client.get("/admin/otp_totp/totpdevice/add/").status_code == 403
    assert client.get("/admin/otp_static/staticdevice/add/").status_code == 403


def test_the_requirement_follows_the_setting(lead, settings):
    settings.WATCHFLOOR_MFA_REQUIRED_ROLES = []
    client = Client()
    sign_in(client, lead.username)
    assert signed_in_as(client) == lead.username

    settings.WATCHFLOOR_MFA_REQUIRED_ROLES = ["lead", "admin"]
    client = Client()
    sign_in(client, lead.username)
    assert signed_in_as(client) is None


# ---------------------------------------------------------------- 9. API tokens


def _token(user, *scopes: str, **options) -> dict[str, str]:
    _, secret = create_api_token(user=user, name="system", scopes=scopes, actor=None, **options)
    return {"Authorization": f"Bearer {secret}"}


ESCALATION = {
    "type": "scam_campaign",
    "title": "Typhoon relief donation scam wave",
    "summary": "Accounts posing as relief charities collect donations.",
    "markets": ["PH"],
    "languages": ["en"],
    "source_kind": "user_report",
    "rubric_answers": {"harm": "moderate", "reach": "significant"},
}
SIGNAL = [
    {
        "id": "scope-test-1",
        "received_at": "2026-11-24T09:00:00+09:00",
        "source": "user_report",
        "subject": {"kind": "post", "ref": "post:1"},
    }
]


def _post(path: str, body, headers):
    import json

    return Client().post(
        API + path, data=json.dumps(body), content_type="application/json", headers=headers
    )


def test_a_read_token_reads_and_cannot_write(analyst):
    headers = _token(analyst, "read")

    assert Client().get(f"{API}/escalations", headers=headers).status_code == 200
    refused = _post("/escalations", ESCALATION, headers)

    assert refused.status_code == 403
    body = refused.json()
    assert body["code"] == "token_scope"
    assert "lacks the 'write' scope" in body["message"]
    assert "--scope write" in body["message"]


def test_a_write_token_writes_and_cannot_read(analyst):
    headers = _token(analyst, "write")

    assert _post("/escalations", ESCALATION, headers).status_code == 201
    refused = Client().get(f"{API}/escalations", headers=headers)
    assert refused.status_code == 403
    assert "lacks the 'read' scope" in refused.json()["message"]


def test_only_an_ingest_token_sends_signal_batches(analyst, frozen_clock):
    ingest = _token(analyst, "ingest")
    read_write = _token(analyst, "read", "write")

    accepted = _post("/signals:batch", SIGNAL, ingest)
    refused = _post("/signals:batch", SIGNAL, read_write)

    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["results"][0]["status"] == "accepted"
    assert refused.status_code == 403
    assert "lacks the 'ingest' scope" in refused.json()["message"]
    # …and an ingest token does nothing else.
    assert Client().get(f"{API}/escalations", headers=ingest).status_code == 403
    assert _post("/escalations", ESCALATION, ingest).status_code == 403


def test_a_matcher_token_is_reserved_and_opens_nothing_yet(analyst):
    headers = _token(analyst, "matcher")
    assert Client().get(f"{API}/escalations", headers=headers).status_code == 403
    assert _post("/escalations", ESCALATION, headers).status_code == 403
    assert _post("/signals:batch", SIGNAL, headers).status_code == 403


def test_an_expired_token_is_refused_with_when(analyst, frozen_clock):
    headers = _token(analyst, "read", lifetime=timedelta(days=1))
    assert Client().get(f"{API}/escalations", headers=headers).status_code == 200

    clock.advance(timedelta(days=1))
    response = Client().get(f"{API}/escalations", headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert "expired at 2026-11-25 00:30 UTC" in response.json()["message"]


def test_using_a_token_records_when_to_the_minute(analyst, frozen_clock):
    headers = _token(analyst, "read")
    Client().get(f"{API}/escalations", headers=headers)
    assert APIToken.objects.get().last_used_at == frozen_clock

    clock.advance(timedelta(minutes=3))
    Client().get(f"{API}/escalations", headers=headers)
    assert APIToken.objects.get().last_used_at == frozen_clock + timedelta(minutes=3)


def test_a_token_revoked_with_the_command_stops_at_once(analyst):
    from io import StringIO

    from django.core.management import call_command

    headers = _token(analyst, "read")
    token = APIToken.objects.get()
    call_command("token", "revoke", str(token.pk), stdout=StringIO())

    response = Client().get(f"{API}/escalations", headers=headers)
    assert response.status_code == 401
    assert "was revoked at" in response.json()["message"]


# ---------------------------------------------------------------- 10. passwords and sessions


def test_a_session_is_renewed_by_use_at_most_every_five_minutes(analyst, frozen_clock, settings):
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    client = Client()
    client.force_login(analyst)

    clock.advance(timedelta(minutes=4))
    quiet = client.get(reverse("queue"))
    assert settings.SESSION_COOKIE_NAME not in quiet.cookies

    clock.advance(timedelta(minutes=2))
    renewed = client.get(reverse("queue"))
    cookie = renewed.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == 12 * 3600


def test_an_idle_session_ends(analyst):
    from django.contrib.sessions.models import Session

    client = Client()
    client.force_login(analyst)
    assert signed_in_as(client) == analyst.username

    # Twelve idle hours later (Django keeps the expiry in wall-clock time).
    Session.objects.update(expire_date=clock.now() - timedelta(seconds=1))

    assert signed_in_as(client) is None


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pw", "too short"),
        ("password1234", "too common"),
        ("839201746592", "entirely numeric"),
        ("aiko.analyst-2026", "too similar"),
    ],
)
def test_passwords_must_pass_all_four_validators(analyst, password, message):
    with pytest.raises(ValidationError) as refused:
        validate_password(password, user=analyst)
    assert message in " ".join(refused.value.messages)


def test_a_long_unusual_passphrase_passes(analyst):
    validate_password("tidal basin lantern 47 quietly", user=analyst)


# ---------------------------------------------------------------- 10. demo accounts in production


def test_the_deploy_check_fails_while_demo_accounts_keep_the_demo_password(catalog, settings):
    for username in ("analyst", "lead", "aoife.policy"):
        create_user(username=username, password=DEMO_PASSWORD, role="analyst", actor=None)
    create_user(username="mei.analyst", password=DEMO_PASSWORD, role="analyst", actor=None)

    errors = [m for m in run_checks(include_deployment_checks=True) if m.id == "watchfloor.E101"]

    assert len(errors) == 1
    # Named accounts of the demo (and of its rota), not a person who chose the same password.
    assert "analyst, aoife.policy, lead" in errors[0].msg
    assert "mei.analyst" not in errors[0].msg


def test_the_deploy_check_passes_once_they_are_changed_or_deactivated(catalog):
    from watchfloor.people.models import User

    analyst = create_user(username="analyst", password=DEMO_PASSWORD, role="analyst", actor=None)
    lead = create_user(username="lead", password=DEMO_PASSWORD, role="lead", actor=None)
    analyst.set_password("a long and private passphrase")
    analyst.save()
    User.objects.filter(pk=lead.pk).update(is_active=False)

    assert not [m for m in run_checks(include_deployment_checks=True) if m.id == "watchfloor.E101"]


def test_the_deploy_check_is_not_run_without_deploy(catalog):
    create_user(username="analyst", password=DEMO_PASSWORD, role="analyst", actor=None)
    assert not [m for m in run_checks() if m.id == "watchfloor.E101"]


def test_the_demo_usernames_cover_the_demo_and_its_rota():
    names = demo_usernames()
    assert {"analyst", "analyst2", "lead", "legal", "comms", "viewer", "admin"} <= names
    assert {"aoife.policy", "weijie.ler"} <= names


def test_the_demo_password_still_signs_in_outside_production(catalog):
    from watchfloor.bootstrap.demo import ensure_demo_accounts

    ensure_demo_accounts()
    client = Client()
    assert sign_in(client, "analyst", DEMO_PASSWORD).status_code == 302
    assert signed_in_as(client) == "analyst"


def test_the_demo_refuses_to_build_accounts_in_production(catalog, settings):
    from watchfloor.bootstrap.demo import DemoRefused, ensure_demo_accounts
    from watchfloor.people.models import User

    settings.PRODUCTION = True
    with pytest.raises(DemoRefused, match="WATCHFLOOR_PRODUCTION=1"):
        ensure_demo_accounts()
    assert not User.objects.exists()
