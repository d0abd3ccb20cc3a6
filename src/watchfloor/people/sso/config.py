"""Single sign-on settings from the environment (imported by settings.py: no Django models).

Single sign-on is on when any ``WATCHFLOOR_OIDC_*`` variable is set; then every required
one must be, and the whole configuration is checked before the server starts, each error
naming the variable (and, for the group mapping, the entry) at fault.

Required:

- ``WATCHFLOOR_OIDC_ISSUER``: the provider's issuer, exactly as its ID tokens carry it in
  ``iss`` (e.g. ``https://login.example.com/realms/corp``).
- ``WATCHFLOOR_OIDC_AUTHORIZATION_ENDPOINT``, ``WATCHFLOOR_OIDC_TOKEN_ENDPOINT``,
  ``WATCHFLOOR_OIDC_USERINFO_ENDPOINT``, ``WATCHFLOOR_OIDC_JWKS_ENDPOINT``: from the
  provider's ``/.well-known/openid-configuration``.
- ``WATCHFLOOR_OIDC_CLIENT_ID`` and ``WATCHFLOOR_OIDC_CLIENT_SECRET``.
- ``WATCHFLOOR_OIDC_GROUP_ROLES``: which provider groups may sign in, as what, e.g.
  ``ts-leads=lead,ts-analysts=analyst:site_policy,legal=partner:legal`` — entries
  ``GROUP=ROLE`` or ``GROUP=ROLE:TEAM`` separated by commas, in priority order: a person
  in several mapped groups gets the first entry that matches.

Optional:

- ``WATCHFLOOR_OIDC_PROVIDER_NAME`` (``Sign in with …`` on the login page; default
  ``single sign-on``), ``WATCHFLOOR_OIDC_SCOPES`` (default ``openid email profile``),
  ``WATCHFLOOR_OIDC_USERNAME_CLAIM`` (default ``preferred_username``),
  ``WATCHFLOOR_OIDC_GROUPS_CLAIM`` (default ``groups``), ``WATCHFLOOR_OIDC_SIGN_ALGORITHM``
  (default ``RS256``), ``WATCHFLOOR_OIDC_TIMEOUT_SECONDS`` (default 10).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from watchfloor.core.roles import Role

PREFIX = "WATCHFLOOR_OIDC_"
REQUIRED = (
    "ISSUER",
    "AUTHORIZATION_ENDPOINT",
    "TOKEN_ENDPOINT",
    "USERINFO_ENDPOINT",
    "JWKS_ENDPOINT",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "GROUP_ROLES",
)
OPTIONAL = (
    "PROVIDER_NAME",
    "SCOPES",
    "USERNAME_CLAIM",
    "GROUPS_CLAIM",
    "SIGN_ALGORITHM",
    "TIMEOUT_SECONDS",
)
ENDPOINTS = ("AUTHORIZATION_ENDPOINT", "TOKEN_ENDPOINT", "USERINFO_ENDPOINT", "JWKS_ENDPOINT")
# Asymmetric algorithms only: with HS256 the client secret would also be the key that
# signs ID tokens, so anyone who learnt it could mint them.
SIGN_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384")
TEAM_CODE = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
CLAIM_NAME = re.compile(r"^[^\s]{1,200}$")

CALLBACK_URL_NAME = "sso-callback"


class SSOConfigError(ValueError):
    """The ``WATCHFLOOR_OIDC_*`` environment is incomplete or wrong; the message says where."""


@dataclass(frozen=True)
class GroupRule:
    """One entry of ``WATCHFLOOR_OIDC_GROUP_ROLES``: members of ``group`` get ``role`` (and
    ``team``, when the entry names one)."""

    group: str
    role: str
    team: str | None
    entry: int  # 1-based position, so errors and audit events can point at it

    def describe(self) -> str:
        target = f"{self.role}:{self.team}" if self.team else self.role
        return f"entry {self.entry} ({self.group}={target})"


@dataclass(frozen=True)
class SSOConfig:
    provider_name: str
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_endpoint: str
    client_id: str
    client_secret: str
    scopes: str
    username_claim: str
    groups_claim: str
    group_rules: tuple[GroupRule, ...]
    sign_algorithm: str
    timeout_seconds: float

    def rule_for(self, groups: Iterable[str]) -> GroupRule | None:
        """The first entry, in the configured order, whose group the person is in."""
        member_of = set(groups)
        return next((rule for rule in self.group_rules if rule.group in member_of), None)

    def django_settings(self) -> dict[str, Any]:
        """The settings mozilla-django-oidc reads, derived from this configuration."""
        return {
            "OIDC_RP_CLIENT_ID": self.client_id,
            "OIDC_RP_CLIENT_SECRET": self.client_secret,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": self.authorization_endpoint,
            "OIDC_OP_TOKEN_ENDPOINT": self.token_endpoint,
            "OIDC_OP_USER_ENDPOINT": self.userinfo_endpoint,
            "OIDC_OP_JWKS_ENDPOINT": self.jwks_endpoint,
            "OIDC_RP_SIGN_ALGO": self.sign_algorithm,
            "OIDC_RP_SCOPES": self.scopes,
            "OIDC_USE_NONCE": True,
            "OIDC_USE_PKCE": True,
            "OIDC_TIMEOUT": self.timeout_seconds,
            "OIDC_AUTHENTICATION_CALLBACK_URL": CALLBACK_URL_NAME,
            # Accounts are made by our backend, from the group mapping, never by the library.
            "OIDC_CREATE_USER": False,
            # Nothing of the provider's tokens is kept after sign-in.
            "OIDC_STORE_ACCESS_TOKEN": False,
            "OIDC_STORE_ID_TOKEN": False,
        }


def current_config() -> SSOConfig | None:
    """The configuration in force (``settings.WATCHFLOOR_SSO``), None when single sign-on
    is off."""
    from django.conf import settings

    return getattr(settings, "WATCHFLOOR_SSO", None)


def _variable(name: str) -> str:
    return PREFIX + name


def parse_group_roles(value: str) -> tuple[GroupRule, ...]:
    """``GROUP=ROLE[:TEAM],…`` → rules, refusing the first bad entry by number and text."""
    variable = _variable("GROUP_ROLES")
    rules: list[GroupRule] = []
    seen: dict[str, int] = {}
    entries = value.split(",")
    for number, raw in enumerate(entries, start=1):
        entry = raw.strip()
        where = f"{variable} entry {number} ('{entry}')"
        if not entry:
            if number == len(entries) and number > 1:
                continue  # a trailing comma
            raise SSOConfigError(
                f"{variable} entry {number} is empty; entries are GROUP=ROLE or "
                "GROUP=ROLE:TEAM separated by commas, e.g. ts-leads=lead,legal=partner:legal"
            )
        group, equals, target = entry.rpartition("=")
        group, target = group.strip(), target.strip()
        if not equals or not group:
            raise SSOConfigError(
                f"{where}: write it as GROUP=ROLE or GROUP=ROLE:TEAM, e.g. ts-leads=lead"
            )
        role, colon, team = target.partition(":")
        role, team = role.strip(), team.strip()
        if role not in Role.values:
            raise SSOConfigError(
                f"{where}: unknown role '{role}'; use one of {', '.join(Role.values)}"
            )
        if colon and not TEAM_CODE.match(team):
            raise SSOConfigError(
                f"{where}: '{team}' is not a team code (letters, digits, - and _), "
                "e.g. legal or site_policy"
            )
        if role == Role.PARTNER and not team:
            raise SSOConfigError(
                f"{where}: a {role} account needs its team, e.g. {group}={role}:legal"
            )
        if group in seen:
            raise SSOConfigError(
                f"{where}: group '{group}' is already mapped by entry {seen[group]}; "
                "map each group once"
            )
        seen[group] = number
        rules.append(GroupRule(group=group, role=role, team=team or None, entry=number))
    if not rules:
        raise SSOConfigError(
            f"{variable} maps no group, so nobody could sign in; e.g. ts-analysts=analyst"
        )
    return tuple(rules)


def _url(environ: Mapping[str, str], name: str) -> str:
    value = environ[_variable(name)].strip()
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SSOConfigError(
            f"{_variable(name)} '{value}' is not an http(s) URL; copy it from the provider's "
            "/.well-known/openid-configuration"
        )
    return value


def sso_config_from_environment(environ: Mapping[str, str]) -> SSOConfig | None:
    """The configuration, None when no ``WATCHFLOOR_OIDC_*`` variable is set, or
    :class:`SSOConfigError` naming what is missing or wrong."""
    present = {key for key in environ if key.startswith(PREFIX)}
    if not present:
        return None
    known = {_variable(name) for name in (*REQUIRED, *OPTIONAL)}
    unknown = sorted(present - known)
    if unknown:
        raise SSOConfigError(
            f"{', '.join(unknown)} is not a single sign-on setting; the settings are "
            f"{', '.join(sorted(known))}"
        )
    missing = [_variable(name) for name in REQUIRED if not environ.get(_variable(name), "").strip()]
    if missing:
        raise SSOConfigError(
            f"single sign-on is half configured: {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set (see docs/security.md, "
            "'Single sign-on')"
        )
    endpoints = {name: _url(environ, name) for name in (*ENDPOINTS, "ISSUER")}

    def optional(name: str, default: str) -> str:
        return environ.get(_variable(name), "").strip() or default

    scopes = optional("SCOPES", "openid email profile")
    if "openid" not in scopes.split():
        raise SSOConfigError(
            f"{_variable('SCOPES')} '{scopes}' lacks 'openid', without which the provider "
            "sends no ID token"
        )
    claims = {}
    for name, default in (("USERNAME_CLAIM", "preferred_username"), ("GROUPS_CLAIM", "groups")):
        claims[name] = optional(name, default)
        if not CLAIM_NAME.match(claims[name]):
            raise SSOConfigError(f"{_variable(name)} '{claims[name]}' is not a claim name")
    algorithm = optional("SIGN_ALGORITHM", "RS256")
    if algorithm not in SIGN_ALGORITHMS:
        raise SSOConfigError(
            f"{_variable('SIGN_ALGORITHM')} '{algorithm}' is not supported; use one of "
            f"{', '.join(SIGN_ALGORITHMS)}"
        )
    timeout_text = optional("TIMEOUT_SECONDS", "10")
    try:
        timeout = float(timeout_text)
    except ValueError:
        timeout = 0.0
    if not 0 < timeout <= 120:
        raise SSOConfigError(
            f"{_variable('TIMEOUT_SECONDS')} '{timeout_text}' must be a number of seconds "
            "above 0 and at most 120"
        )
    return SSOConfig(
        provider_name=optional("PROVIDER_NAME", "single sign-on")[:80],
        issuer=endpoints["ISSUER"],
        authorization_endpoint=endpoints["AUTHORIZATION_ENDPOINT"],
        token_endpoint=endpoints["TOKEN_ENDPOINT"],
        userinfo_endpoint=endpoints["USERINFO_ENDPOINT"],
        jwks_endpoint=endpoints["JWKS_ENDPOINT"],
        client_id=environ[_variable("CLIENT_ID")].strip(),
        client_secret=environ[_variable("CLIENT_SECRET")].strip(),
        scopes=scopes,
        username_claim=claims["USERNAME_CLAIM"],
        groups_claim=claims["GROUPS_CLAIM"],
        group_rules=parse_group_roles(environ[_variable("GROUP_ROLES")]),
        sign_algorithm=algorithm,
        timeout_seconds=timeout,
    )
