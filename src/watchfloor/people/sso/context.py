from __future__ import annotations

from django.http import HttpRequest

from watchfloor.people.sso.config import current_config


def single_sign_on(request: HttpRequest) -> dict[str, str]:
    """``sso_provider_name`` for the login page's "Sign in with …", when configured."""
    config = current_config()
    return {"sso_provider_name": config.provider_name} if config else {}
