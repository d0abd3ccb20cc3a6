"""The authentication backend for OpenID Connect sign-in (listed in
``AUTHENTICATION_BACKENDS`` only when single sign-on is configured).

mozilla-django-oidc runs the authorization-code flow (state, nonce and PKCE) and checks
the ID token's signature against the provider's keys; this subclass adds what the library
leaves to its users: the issuer and audience of the ID token, that the userinfo answer
is about the same subject, and the account, role and team from the group mapping.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from watchfloor.people.models import User
from watchfloor.people.sso.accounts import sign_in_from_claims
from watchfloor.people.sso.config import current_config


class WatchfloorOIDCBackend(OIDCAuthenticationBackend):
    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        payload = super().verify_token(token, **kwargs)
        config = current_config()
        if config is None:
            raise SuspiciousOperation("single sign-on is not configured")
        if payload.get("iss") != config.issuer:
            raise SuspiciousOperation(
                f"ID token issuer {payload.get('iss')!r} is not WATCHFLOOR_OIDC_ISSUER"
            )
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if config.client_id not in audiences:
            raise SuspiciousOperation("ID token was not issued for this client")
        if len(audiences) > 1 and payload.get("azp") != config.client_id:
            raise SuspiciousOperation("ID token has several audiences and another azp")
        return payload

    def get_or_create_user(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> User | None:
        config = current_config()
        if config is None:
            return None
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if not isinstance(userinfo, dict) or userinfo.get("sub") != payload.get("sub"):
            # OpenID Connect Core 5.3.2: a userinfo answer about anyone else is ignored.
            raise SuspiciousOperation("userinfo 'sub' differs from the ID token's")
        # Groups may come in the ID token, the userinfo answer or both; userinfo is newer.
        claims = {**payload, **userinfo}
        return sign_in_from_claims(claims, config=config)

    def get_user(self, user_id: Any) -> User | None:
        # The library's own get_user returns deactivated accounts too, which would keep a
        # leaver's open session alive; Django's refuses them.
        return ModelBackend.get_user(self, user_id)
