"""Single sign-on with OpenID Connect (docs/security.md, "Single sign-on").

``config`` reads the ``WATCHFLOOR_OIDC_*`` environment (imported by settings, so it has no
Django imports); ``backend`` turns a provider's claims into a Watchfloor account, role and
team; ``views`` are the sign-in and callback pages.
"""
