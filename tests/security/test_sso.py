"""Single sign-on with OpenID Connect, and taking a leaver's access away at once
(issue 11, finding 8).

The sign-in tests run against a real OpenID Connect provider: django-oauth-toolkit in its
own Django process (tests/sso_provider), started here with a freshly generated RSA key,
and Watchfloor's live server. A requests session plays the browser through the whole
authorization-code flow: Watchfloor → provider login → consent skipped → callback →
token, signature, userinfo → account.
"""

from __future__ import annotations

import html
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import CommandError, call_command
from django.test import Client

from tests.e2e.conftest import _live_server_sessions_closed  # noqa: F401 (PostgreSQL teardown)
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core.errors import InvalidInput
from watchfloor.people.api_tokens import create_api_token
from watchfloor.people.models import User
from watchfloor.people.services import deactivate_user
from watchfloor.people.sso.accounts import SSOAccessRefused, sign_in_from_claims
from watchfloor.people.sso.config import SSOConfig, SSOConfigError, sso_config_from_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "watchfloor-test"
CLIENT_SECRET = "watchfloor-test-secret-0123456789"
IDP_PASSWORD = "idp-password-for-tests"
GROUP_ROLES = "ts-leads=lead:site_policy,ts-analysts=analyst:site_policy,legal=partner:legal"
PROVIDER_NAME = "Test IdP"


def sso_environment(issuer: str, **overrides: str) -> dict[str, str]:
    env = {
        "WATCHFLOOR_OIDC_PROVIDER_NAME": PROVIDER_NAME,
        "WATCHFLOOR_OIDC_ISSUER": issuer,
        "WATCHFLOOR_OIDC_AUTHORIZATION_ENDPOINT": f"{issuer}/authorize/",
        "WATCHFLOOR_OIDC_TOKEN_ENDPOINT": f"{issuer}/token/",
        "WATCHFLOOR_OIDC_USERINFO_ENDPOINT": f"{issuer}/userinfo/",
        "WATCHFLOOR_OIDC_JWKS_ENDPOINT": f"{issuer}/.well-known/jwks.json",
        "WATCHFLOOR_OIDC_CLIENT_ID": CLIENT_ID,
        "WATCHFLOOR_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "WATCHFLOOR_OIDC_SCOPES": "openid email profile groups",
        "WATCHFLOOR_OIDC_GROUP_ROLES": GROUP_ROLES,
    }
    env.update(overrides)
    return env


def switch_sso_on(settings, config: SSOConfig) -> None:
    """What settings.py does when the WATCHFLOOR_OIDC_* variables are set."""
    settings.WATCHFLOOR_SSO = config
    for name, value in config.django_settings().items():
        setattr(settings, name, value)
    settings.AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "watchfloor.people.sso.backend.WatchfloorOIDCBackend",
    ]


def events(action: AuditAction) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action.value).order_by("sequence"))


# ---------------------------------------------------------------- configuration


def test_without_any_oidc_variable_single_sign_on_is_off():
    assert sso_config_from_environment({"WATCHFLOOR_DEBUG": "1"}) is None


def test_the_group_mapping_is_read_in_priority_order():
    config = sso_config_from_environment(sso_environment("https://idp.example.com/o"))

    assert config is not None
    assert [(rule.group, rule.role, rule.team) for rule in config.group_rules] == [
        ("ts-leads", "lead", "site_policy"),
        ("ts-analysts", "analyst", "site_policy"),
        ("legal", "partner", "legal"),
    ]
    assert config.rule_for(["legal", "ts-analysts"]).role == "analyst"
    assert config.rule_for(["marketing"]) is None
    assert config.django_settings()["OIDC_USE_PKCE"] is True


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"WATCHFLOOR_OIDC_GROUP_ROLES": "ts-leads=lead,ts-analysts=boss"},
            "WATCHFLOOR_OIDC_GROUP_ROLES entry 2 ('ts-analysts=boss'): unknown role 'boss'",
        ),
        (
            {"WATCHFLOOR_OIDC_GROUP_ROLES": "ts-leads=lead,legal=partner"},
            "entry 2 ('legal=partner'): a partner account needs its team",
        ),
        (
            {"WATCHFLOOR_OIDC_GROUP_ROLES": "ts-leads=lead,ts-leads=analyst"},
            "entry 2 ('ts-leads=analyst'): group 'ts-leads' is already mapped by entry 1",
        ),
        (
            {"WATCHFLOOR_OIDC_GROUP_ROLES": "ts-leads"},
            "entry 1 ('ts-leads'): write it as GROUP=ROLE",
        ),
        (
            {"WATCHFLOOR_OIDC_GROUP_ROLES": "ts-leads=lead:legal team"},
            "entry 1 ('ts-leads=lead:legal team'): 'legal team' is not a team code",
        ),
        (
            {"WATCHFLOOR_OIDC_CLIENT_SECRET": ""},
            "half configured: WATCHFLOOR_OIDC_CLIENT_SECRET is not set",
        ),
        (
            {"WATCHFLOOR_OIDC_SIGN_ALGORITHM": "HS256"},
            "WATCHFLOOR_OIDC_SIGN_ALGORITHM 'HS256' is not supported",
        ),
        (
            {"WATCHFLOOR_OIDC_TOKEN_ENDPOINT": "idp.example.com/token"},
            "WATCHFLOOR_OIDC_TOKEN_ENDPOINT 'idp.example.com/token' is not an http(s) URL",
        ),
        (
            {"WATCHFLOOR_OIDC_SCOPES": "email profile"},
            "WATCHFLOOR_OIDC_SCOPES 'email profile' lacks 'openid'",
        ),
        (
            {"WATCHFLOOR_OIDC_GROUPS_CLAIMS": "roles"},
            "WATCHFLOOR_OIDC_GROUPS_CLAIMS is not a single sign-on setting",
        ),
    ],
)
def test_a_wrong_setting_is_refused_naming_the_variable_and_entry(overrides, expected):
    with pytest.raises(SSOConfigError) as refused:
        sso_config_from_environment(sso_environment("https://idp.example.com/o", **overrides))
    assert expected in str(refused.value)


def test_a_wrong_setting_stops_watchfloor_starting():
    env = {
        **os.environ,
        **sso_environment("https://idp.example.com/o", WATCHFLOOR_OIDC_GROUP_ROLES="x=chief"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "watchfloor.cli", "check"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "WATCHFLOOR_OIDC_GROUP_ROLES entry 1 ('x=chief'): unknown role 'chief'" in (
        result.stderr
    )


# ---------------------------------------------------------------- claims to accounts


@pytest.fixture
def config() -> SSOConfig:
    return sso_config_from_environment(
        sso_environment(
            "https://idp.test/o",
            WATCHFLOOR_OIDC_GROUP_ROLES=(
                "ts-analysts=analyst,ts-leads=lead:site_policy,press=partner:no_such_team"
            ),
        )
    )


def test_an_entry_without_a_team_keeps_the_team_an_administrator_set(config, analyst):
    user = sign_in_from_claims(
        {"sub": "1", "preferred_username": "aiko.analyst", "groups": ["ts-analysts"]},
        config=config,
    )

    assert (user.role, user.team.code) == ("analyst", "site_policy")
    assert events(AuditAction.USER_ACCESS_CHANGED) == []


def test_a_mapping_naming_a_missing_team_refuses_and_tells_the_administrator(config, catalog):
    with pytest.raises(SSOAccessRefused) as refused:
        sign_in_from_claims(
            {"sub": "7", "preferred_username": "pat.press", "groups": ["press"]}, config=config
        )

    assert "settings are wrong for your group" in refused.value.message
    assert not User.objects.filter(username="pat.press").exists()
    (event,) = events(AuditAction.SSO_REFUSED)
    assert event.data["reason"] == "mapping_broken"
    assert event.data["problem"] == (
        "WATCHFLOOR_OIDC_GROUP_ROLES entry 3 (press=partner:no_such_team) names team "
        "'no_such_team', which does not exist"
    )


@pytest.mark.parametrize("username", [None, "", "has space", "x" * 151, ["list"]])
def test_a_missing_or_unusable_username_claim_is_refused(config, catalog, username):
    with pytest.raises(SSOAccessRefused) as refused:
        sign_in_from_claims(
            {"sub": "9", "preferred_username": username, "groups": ["ts-analysts"]},
            config=config,
        )

    assert "did not send a usable user name (claim 'preferred_username')" in refused.value.message
    assert User.objects.count() == 0
    assert events(AuditAction.SSO_REFUSED)[0].data["reason"] == "no_username"


# ---------------------------------------------------------------- pages without a provider


@pytest.mark.django_db
def test_without_single_sign_on_the_login_page_offers_only_passwords(client):
    page = client.get("/login/")

    assert "Sign in with" not in page.content.decode()
    assert client.get("/sso/start/").status_code == 404
    assert client.get("/sso/callback/?code=x&state=y").status_code == 404


@pytest.mark.django_db
def test_with_single_sign_on_the_login_page_offers_the_provider(client, settings):
    switch_sso_on(settings, sso_config_from_environment(sso_environment("https://idp.test/o")))

    page = client.get("/login/?next=/oncall/").content.decode()

    assert "Sign in with Test IdP" in page
    assert 'href="/sso/start/?next=/oncall/"' in page
    started = client.get("/sso/start/?next=/oncall/")
    assert started.status_code == 302
    assert started["Location"].startswith("https://idp.test/o/authorize/?")
    assert "code_challenge=" in started["Location"]


# ---------------------------------------------------------------- deactivating a leaver


def signed_in_client(user: User) -> Client:
    browser = Client()
    browser.force_login(user)
    assert browser.get("/").status_code == 200
    return browser


def assert_signed_out(browser: Client) -> None:
    page = browser.get("/")
    assert page.status_code == 302
    assert page["Location"].startswith("/login/")


def test_deactivating_a_leaver_ends_every_session_and_is_audited(analyst, admin_user):
    laptop, phone = signed_in_client(analyst), signed_in_client(analyst)
    colleague = signed_in_client(admin_user)

    result = deactivate_user(user=analyst, actor=admin_user, reason="left on 2026-11-30")

    assert result.was_active is True
    assert result.sessions_ended == 2
    assert_signed_out(laptop)
    assert_signed_out(phone)
    assert colleague.get("/").status_code == 200
    analyst.refresh_from_db()
    assert analyst.is_active is False
    (event,) = events(AuditAction.USER_DEACTIVATED)
    assert event.actor_id == admin_user.pk
    assert event.data == {
        "username": "aiko.analyst",
        "was_active": True,
        "sessions_ended": 2,
        "reason": "left on 2026-11-30",
    }


def test_a_deactivated_accounts_session_ends_whatever_stores_sessions(analyst, settings):
    """With sessions in signed cookies nothing can be deleted; the account's inactivity
    alone must turn the session away, for single sign-on sessions too (the library's own
    backend would still load an inactive account)."""
    switch_sso_on(settings, sso_config_from_environment(sso_environment("https://idp.test/o")))
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    browser = Client()
    browser.force_login(analyst, backend="watchfloor.people.sso.backend.WatchfloorOIDCBackend")
    assert browser.get("/").status_code == 200

    result = deactivate_user(user=analyst, actor=None, reason="left")

    assert result.sessions_ended == 0
    assert_signed_out(browser)


def test_deactivating_needs_a_reason_and_not_oneself(analyst, admin_user):
    with pytest.raises(InvalidInput) as no_reason:
        deactivate_user(user=analyst, actor=admin_user, reason="  ")
    assert no_reason.value.field == "reason"
    with pytest.raises(InvalidInput) as oneself:
        deactivate_user(user=admin_user, actor=admin_user, reason="testing")
    assert oneself.value.field == "user"
    analyst.refresh_from_db()
    assert analyst.is_active is True


def test_the_people_deactivate_command(analyst):
    browser = signed_in_client(analyst)
    out = StringIO()

    call_command("people", "deactivate", "aiko.analyst", "--reason", "left", stdout=out)

    assert out.getvalue().strip() == "aiko.analyst deactivated; 1 open session(s) ended"
    assert_signed_out(browser)
    with pytest.raises(CommandError, match="username: no user named 'nobody'"):
        call_command("people", "deactivate", "nobody", "--reason", "left")


def test_the_deactivate_endpoint_is_for_administrators_with_a_token(
    analyst, lead, admin_user, client
):
    browser = signed_in_client(analyst)
    _, lead_token = create_api_token(
        user=lead, name="offboarding", actor=None, scopes=["read", "write"]
    )
    _, admin_token = create_api_token(
        user=admin_user, name="offboarding", actor=None, scopes=["read", "write"]
    )
    url = "/api/v1/people/aiko.analyst:deactivate"

    refused = client.post(
        url,
        {"reason": "left"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {lead_token}"},
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert browser.get("/").status_code == 200

    done = client.post(
        url,
        {"reason": "left on 2026-11-30"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert done.status_code == 200
    assert done.json() == {
        "username": "aiko.analyst",
        "is_active": False,
        "was_active": True,
        "sessions_ended": 1,
    }
    assert_signed_out(browser)
    _, analyst_token = create_api_token(
        user=analyst, name="pipeline", actor=None, scopes=["read", "write"]
    )
    assert (
        client.get("/api/v1/escalations", headers={"Authorization": f"Bearer {analyst_token}"})
    ).status_code == 401

    again = client.post(
        url,
        {"reason": "left"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert again.json()["was_active"] is False
    missing = client.post(
        "/api/v1/people/nobody:deactivate",
        {"reason": "left"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert missing.status_code == 404
    assert missing.json()["field"] == "username"


# ---------------------------------------------------------------- a real provider


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class IdentityProvider:
    url: str
    issuer: str
    environment: dict[str, str]

    def manage(self, *arguments: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "django", *arguments],
            env=self.environment,
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
        )

    def person(self, username: str, *, groups: list[str], **details: str) -> None:
        extra = [item for name, value in details.items() for item in (f"--{name}", value)]
        self.manage(
            "provider",
            "person",
            username,
            "--password",
            IDP_PASSWORD,
            "--groups",
            ",".join(groups),
            *extra,
        )


@pytest.fixture(scope="session")
def identity_provider(tmp_path_factory) -> Iterator[IdentityProvider]:
    directory = tmp_path_factory.mktemp("identity-provider")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (directory / "signing-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("WATCHFLOOR_", "DATABASE_URL", "DJANGO_"))
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="tests.sso_provider.settings",
        SSO_PROVIDER_DIR=str(directory),
        SSO_PROVIDER_ISSUER=f"{url}/o",
        PYTHONPATH=str(REPO_ROOT),
    )
    provider = IdentityProvider(url=url, issuer=f"{url}/o", environment=environment)
    provider.manage("migrate", "--noinput", "-v0")
    log = (directory / "server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "waitress",
            f"--listen=127.0.0.1:{port}",
            "--threads=4",
            "tests.sso_provider.wsgi:application",
        ],
        env=environment,
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_serving(f"{provider.issuer}/.well-known/openid-configuration", server)
        yield provider
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_until_serving(url: str, server: subprocess.Popen) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"the test identity provider exited with {server.returncode}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the test identity provider did not answer at {url}")


@pytest.fixture(scope="session")
def registered_client(identity_provider, live_server) -> IdentityProvider:
    """Watchfloor's live server, registered with the provider as a confidential client."""
    identity_provider.manage(
        "provider",
        "client",
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        CLIENT_SECRET,
        "--redirect-uri",
        f"{live_server.url}/sso/callback/",
    )
    return identity_provider


@pytest.fixture
def provider(registered_client, transactional_db, catalog, settings) -> IdentityProvider:
    """Single sign-on switched on, configured from the provider's discovery document."""
    discovery = requests.get(
        f"{registered_client.issuer}/.well-known/openid-configuration", timeout=10
    ).json()
    config = sso_config_from_environment(
        sso_environment(
            discovery["issuer"],
            WATCHFLOOR_OIDC_AUTHORIZATION_ENDPOINT=discovery["authorization_endpoint"],
            WATCHFLOOR_OIDC_TOKEN_ENDPOINT=discovery["token_endpoint"],
            WATCHFLOOR_OIDC_USERINFO_ENDPOINT=discovery["userinfo_endpoint"],
            WATCHFLOOR_OIDC_JWKS_ENDPOINT=discovery["jwks_uri"],
        )
    )
    switch_sso_on(settings, config)
    return registered_client


def sign_in_with_provider(
    provider: IdentityProvider, live_server, username: str, *, next_path: str = "/"
) -> tuple[requests.Session, requests.Response]:
    """The whole flow in a fresh browser, from the login page's provider button."""
    browser = requests.Session()
    login_page = browser.get(f"{live_server.url}/login/?next={next_path}", timeout=30)
    assert f"Sign in with {PROVIDER_NAME}" in login_page.text
    start = html.unescape(re.search(r'href="(/sso/start/[^"]*)"', login_page.text).group(1))
    provider_login = browser.get(f"{live_server.url}{start}", timeout=30)
    assert provider_login.url.startswith(f"{provider.url}/accounts/login/")
    form = dict(
        re.findall(r'name="(csrfmiddlewaretoken|next)" value="([^"]*)"', provider_login.text)
    )
    answer = browser.post(
        provider_login.url,
        data={
            **{name: html.unescape(value) for name, value in form.items()},
            "username": username,
            "password": IDP_PASSWORD,
        },
        timeout=30,
    )
    return browser, answer


def is_signed_in(browser: requests.Session, live_server) -> bool:
    page = browser.get(f"{live_server.url}/", timeout=30, allow_redirects=False)
    return page.status_code == 200 and "Signed in as" in page.text


@pytest.mark.slow
def test_first_sign_in_creates_the_account_from_the_group_mapping(provider, live_server):
    provider.person(
        "amy.analyst",
        groups=["ts-analysts", "all-staff"],
        email="amy@example.com",
        **{"first-name": "Amy", "last-name": "Analyst"},
    )

    browser, landed = sign_in_with_provider(
        provider, live_server, "amy.analyst", next_path="/oncall/"
    )

    assert landed.status_code == 200
    assert landed.url == f"{live_server.url}/oncall/"
    assert "Signed in as <strong>Amy Analyst</strong>" in landed.text
    amy = User.objects.select_related("team").get(username="amy.analyst")
    assert (amy.role, amy.team.code, amy.email) == ("analyst", "site_policy", "amy@example.com")
    assert amy.is_active and not amy.has_usable_password() and not amy.is_staff
    (created,) = events(AuditAction.USER_CREATED)
    assert created.data == {"username": "amy.analyst", "role": "analyst", "team": "site_policy"}
    (signed_in,) = events(AuditAction.SSO_SIGNED_IN)
    assert signed_in.actor_id == amy.pk
    assert signed_in.data["entry"] == 2
    assert signed_in.data["created"] is True
    browser.close()


@pytest.mark.slow
def test_the_first_matching_entry_decides_and_a_partner_gets_the_mapped_team(provider, live_server):
    provider.person("lars.legal", groups=["legal"])
    provider.person("tomo.both", groups=["legal", "ts-analysts"])

    for username in ("lars.legal", "tomo.both"):
        browser, landed = sign_in_with_provider(provider, live_server, username)
        assert landed.status_code == 200
        browser.close()

    lars = User.objects.select_related("team").get(username="lars.legal")
    tomo = User.objects.select_related("team").get(username="tomo.both")
    assert (lars.role, lars.team.code) == ("partner", "legal")
    assert (tomo.role, tomo.team.code) == ("analyst", "site_policy")


@pytest.mark.slow
def test_a_group_change_at_the_provider_changes_the_role_at_next_sign_in(provider, live_server):
    provider.person("ria.analyst", groups=["ts-analysts"])
    first, _ = sign_in_with_provider(provider, live_server, "ria.analyst")
    first.close()
    provider.person("ria.analyst", groups=["ts-leads", "ts-analysts"])

    browser, landed = sign_in_with_provider(provider, live_server, "ria.analyst")

    assert landed.status_code == 200
    assert User.objects.get(username="ria.analyst").role == "lead"
    (changed,) = events(AuditAction.USER_ACCESS_CHANGED)
    assert changed.actor_id is None
    assert changed.data["from"] == {"role": "analyst", "team": "site_policy"}
    assert changed.data["to"] == {"role": "lead", "team": "site_policy"}
    assert "group 'ts-leads' (mapping entry 1)" in changed.data["reason"]
    browser.close()


@pytest.mark.slow
def test_someone_in_no_mapped_group_is_refused_with_a_page_and_an_audit_event(
    provider, live_server
):
    provider.person("mo.marketing", groups=["marketing"])

    browser, refused = sign_in_with_provider(provider, live_server, "mo.marketing")

    assert refused.status_code == 403
    assert "not in any group that gives access to Watchfloor" in refused.text
    assert not User.objects.filter(username="mo.marketing").exists()
    assert not is_signed_in(browser, live_server)
    (event,) = events(AuditAction.SSO_REFUSED)
    assert event.data == {
        "reason": "no_mapped_group",
        "username": "mo.marketing",
        "groups": ["marketing"],
    }
    browser.close()


@pytest.mark.slow
def test_a_leaver_out_of_every_mapped_group_is_deactivated_at_next_sign_in(provider, live_server):
    provider.person("lee.leaver", groups=["ts-analysts"])
    desk, _ = sign_in_with_provider(provider, live_server, "lee.leaver")
    assert is_signed_in(desk, live_server)
    provider.person("lee.leaver", groups=[])

    laptop, refused = sign_in_with_provider(provider, live_server, "lee.leaver")

    assert refused.status_code == 403
    assert "not in any group that gives access" in refused.text
    assert User.objects.get(username="lee.leaver").is_active is False
    assert not is_signed_in(desk, live_server), "the session opened earlier must end too"
    (deactivated,) = events(AuditAction.USER_DEACTIVATED)
    assert deactivated.data["sessions_ended"] == 1
    assert "no longer in a group mapped" in deactivated.data["reason"]
    assert events(AuditAction.SSO_REFUSED)[0].data["deactivated"] is True
    desk.close()
    laptop.close()


@pytest.mark.slow
def test_the_deactivate_endpoint_takes_a_leavers_access_away_at_once(
    provider, live_server, admin_user
):
    provider.person("ivy.leaver", groups=["ts-analysts"])
    desk, _ = sign_in_with_provider(provider, live_server, "ivy.leaver")
    assert is_signed_in(desk, live_server)
    _, token = create_api_token(
        user=admin_user, name="offboarding workflow", actor=None, scopes=["read", "write"]
    )

    answer = requests.post(
        f"{live_server.url}/api/v1/people/ivy.leaver:deactivate",
        json={"reason": "left on 2026-11-30"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )

    assert answer.status_code == 200
    assert answer.json()["sessions_ended"] == 1
    assert not is_signed_in(desk, live_server)
    # Still in the groups at the provider (its offboarding lags): the deactivation holds.
    again, refused = sign_in_with_provider(provider, live_server, "ivy.leaver")
    assert refused.status_code == 403
    assert "Your Watchfloor account is deactivated" in refused.text
    assert events(AuditAction.SSO_REFUSED)[-1].data["reason"] == "account_inactive"
    desk.close()
    again.close()


@pytest.mark.slow
def test_an_id_token_from_another_issuer_is_refused(provider, live_server, settings):
    config = settings.WATCHFLOOR_SSO
    switch_sso_on(
        settings,
        SSOConfig(**{**config.__dict__, "issuer": "https://impostor.example.com/o"}),
    )
    provider.person("eve.analyst", groups=["ts-analysts"])

    browser, refused = sign_in_with_provider(provider, live_server, "eve.analyst")

    assert refused.status_code == 403
    assert "Signing in did not complete" in refused.text
    assert not User.objects.filter(username="eve.analyst").exists()
    assert not is_signed_in(browser, live_server)
    browser.close()
