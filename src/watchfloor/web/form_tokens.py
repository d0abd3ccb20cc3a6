"""One-time form tokens: a form that creates something is sent once.

The page carries a fresh random token; the view redeems it with the address of what the
form created. The same form sent again (the back button, a double click, a reload) finds
its token redeemed and is taken to what it already created instead of creating it twice.
Redeemed tokens live in the person's session, the most recent few only.
"""

from __future__ import annotations

import secrets

from django import forms
from django.http import HttpRequest

SESSION_KEY = "watchfloor_redeemed_form_tokens"
KEEP = 50


def form_token_field() -> forms.CharField:
    return forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


def already_redeemed(request: HttpRequest, token: str) -> str | None:
    """Where the form that carried ``token`` led, when it was sent before."""
    if not token:
        return None
    redeemed: dict[str, str] = request.session.get(SESSION_KEY, {})
    return redeemed.get(token)


def redeem(request: HttpRequest, token: str, *, led_to: str) -> None:
    if not token:
        return
    redeemed = dict(request.session.get(SESSION_KEY, {}))
    redeemed[token] = led_to
    # Dicts keep insertion order: drop the oldest beyond KEEP.
    request.session[SESSION_KEY] = dict(list(redeemed.items())[-KEEP:])
