"""A real OpenID Connect provider for the single sign-on tests: django-oauth-toolkit in
its own Django project, run as a separate process by ``tests/security/test_sso.py``.

Its directory (database, signing key) comes from ``SSO_PROVIDER_DIR`` and its issuer URL
from ``SSO_PROVIDER_ISSUER``; ``manage.py provider …`` sets up clients and people.
"""
