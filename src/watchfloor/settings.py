"""Django settings for Watchfloor.

Everything that differs between a laptop demo and a production deployment comes
from the environment:

- ``WATCHFLOOR_DATA_DIR``: where the embedded SQLite database and the generated
  secret live (default ``./.watchfloor``).
- ``DATABASE_URL``: any database dj-database-url understands; PostgreSQL for teams.
- ``WATCHFLOOR_PRODUCTION=1``: production hardening (secret from
  ``WATCHFLOOR_SECRET_KEY``, secure cookies, HSTS, HTTPS redirect).
- ``WATCHFLOOR_ALLOWED_HOSTS``: comma-separated host names.
- ``WATCHFLOOR_DEBUG=1``: Django debug pages (never in production).
- Sign-in, sessions and the proxy in front: see the two blocks at the end of this file
  and docs/security.md.
- ``WATCHFLOOR_EMAIL_URL`` (or Django's ``EMAIL_HOST`` …), ``WATCHFLOOR_EMAIL_FROM`` and
  ``WATCHFLOOR_PUBLIC_URL``: outbound email and the links in it (docs/notifications.md).
- ``WATCHFLOOR_OIDC_*``: single sign-on with OpenID Connect (docs/security.md).
- ``WATCHFLOOR_AUDIT_KEY`` or ``WATCHFLOOR_AUDIT_KEY_FILE`` (required in production) and
  ``WATCHFLOOR_AUDIT_HEAD_*``: the audit log's key and where its signed heads are
  published (docs/security.md, "The audit log").

One module past 500 lines on purpose: Django reads one settings module, and each block
is read from the environment and checked where it is set, so a deployment's whole
configuration and its production refusals can be read top to bottom in one place.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from watchfloor.audit.keys import keyring_from_environment
from watchfloor.core.secret_files import ensure_secret_file
from watchfloor.notify.email_config import email_settings
from watchfloor.people.sso.config import sso_config_from_environment

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("WATCHFLOOR_DATA_DIR", Path.cwd() / ".watchfloor")).resolve()

PRODUCTION = os.environ.get("WATCHFLOOR_PRODUCTION", "") == "1"
DEBUG = os.environ.get("WATCHFLOOR_DEBUG", "") == "1" and not PRODUCTION


def _local_secret_key() -> str:
    """A per-installation secret kept in the data directory, so sessions survive restarts
    (the same for processes starting together on a fresh directory)."""
    return ensure_secret_file(DATA_DIR / "secret_key", nbytes=50).read_text().strip()


if PRODUCTION:
    SECRET_KEY = os.environ["WATCHFLOOR_SECRET_KEY"]
else:
    SECRET_KEY = os.environ.get("WATCHFLOOR_SECRET_KEY") or _local_secret_key()

# The audit chain's HMAC key (audit.keys): from the environment or a file in production;
# elsewhere, without either, a per-installation key file in the data directory.
WATCHFLOOR_AUDIT_KEYRING = keyring_from_environment(
    os.environ, data_dir=DATA_DIR, production=PRODUCTION
)

ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("WATCHFLOOR_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if host.strip()
]
if os.environ.get("WATCHFLOOR_TESTING") == "1":
    ALLOWED_HOSTS.append("testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    "django_tasks",
    "django_tasks_db",  # the database backend of the tasks API (its rows are the timers)
    "watchfloor.core",
    "watchfloor.audit",
    "watchfloor.people",
    "watchfloor.catalog",
    "watchfloor.policy",
    "watchfloor.markets",
    "watchfloor.severity",
    "watchfloor.escalations",
    "watchfloor.playbooks",
    "watchfloor.coordination",
    "watchfloor.signals",
    "watchfloor.crises",
    "watchfloor.warning",
    "watchfloor.evidence",
    "watchfloor.banks",
    "watchfloor.drills",  # above crises: it plays scenarios as drill crises
    "watchfloor.notify",
    "watchfloor.web",
    "watchfloor.bootstrap",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "watchfloor.people.middleware.ViewerTimeZoneMiddleware",
]

ROOT_URLCONF = "watchfloor.urls"
WSGI_APPLICATION = "watchfloor.wsgi.application"
ASGI_APPLICATION = "watchfloor.asgi.application"

# django-ninja ships the Swagger UI page and files, so the API docs need no CDN. Its
# directories are named here rather than installing "ninja" as an app: an installed app is
# imported by every command at start-up, and ninja brings pydantic's whole schema machinery
# (about 150 ms) that only the API needs (watchfloor.api renders the page, see LocalSwagger).
_NINJA_SPEC = importlib.util.find_spec("ninja")
if _NINJA_SPEC is None or _NINJA_SPEC.origin is None:
    raise ImproperlyConfigured("django-ninja is not installed: pip install -e .")
NINJA_DIR = Path(_NINJA_SPEC.origin).parent

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [NINJA_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite is the embedded default: WAL so readers never block the writer, IMMEDIATE
# transactions so two writers queue on the lock instead of failing mid-transaction, for
# up to 10 s (docs/decisions/0001). The busy timeout is set once, by ``timeout`` at
# connect, so it covers the connection's own pragmas too (a PRAGMA busy_timeout here
# used to override a ``timeout`` of 20 s: two figures for one setting).
# Django's SQLite backend with a fair wait for the write lock (watchfloor.core.sqlite).
SQLITE_ENGINE = "watchfloor.core.sqlite"
SQLITE_OPTIONS = {
    "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"),
    "transaction_mode": "IMMEDIATE",
    "timeout": 10,
}

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": SQLITE_ENGINE,
            "NAME": str(DATA_DIR / "watchfloor.sqlite3"),
            "TEST": {"NAME": str(DATA_DIR / "test-watchfloor.sqlite3")},
        }
    }
if DATABASES["default"]["ENGINE"] in ("django.db.backends.sqlite3", SQLITE_ENGINE):
    DATABASES["default"]["ENGINE"] = SQLITE_ENGINE
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Pages and API calls run short queries: JIT compilation, which PostgreSQL starts once
    # a plan's estimated cost passes jit_above_cost (the capped counts of a long queue
    # do), added 8-19 ms to queries that run in a few. bench/queue.py measures both.
    # A random page read costs little more than a sequential one on the SSDs databases run
    # on: with PostgreSQL's default of 4 the planner read all 100,000 rows of the search
    # text with ILIKE (170 ms) rather than through the trigram index (16-21 ms).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "options", "-c jit=off -c random_page_cost=1.1"
    )

AUTH_USER_MODEL = "people.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "queue"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("WATCHFLOOR_STATIC_ROOT", DATA_DIR / "static"))
# WhiteNoise looks here first; an absent directory only earns a warning at each start.
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Served straight from the package by WhiteNoise: no collectstatic step before the first run.
WHITENOISE_USE_FINDERS = True
STATICFILES_DIRS = [NINJA_DIR / "static"]  # ninja/swagger-ui.css and the rest
WHITENOISE_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = os.environ.get("WATCHFLOOR_SSL_REDIRECT", "1") == "1"
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = [
        origin.strip()
        for origin in os.environ.get("WATCHFLOOR_CSRF_TRUSTED_ORIGINS", "").split(",")
        if origin.strip()
    ]

# No inline scripts or styles anywhere: the UI ships its own static files.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("WATCHFLOOR_LOG_LEVEL", "WARNING")},
}

# Where the default catalog lives; an organisation points this at its own directory.
WATCHFLOOR_CATALOG_DIR = Path(
    os.environ.get("WATCHFLOOR_CATALOG_DIR", BASE_DIR / "defaults")
).resolve()

# Filing (docs/catalog.md, statutory clocks): a notice's receipt time further in the past than this
# needs the filer's explicit confirmation (a mistyped year is likelier than a notice
# entered months late).
WATCHFLOOR_RECEIPT_CONFIRMATION_AFTER = timedelta(
    days=int(os.environ.get("WATCHFLOOR_RECEIPT_CONFIRMATION_AFTER_DAYS", "30"))
)

# Signal intake (docs/signals.md). The languages the detector chooses among when a
# producer leaves ``language`` out (comma-separated ISO 639-1 codes; unset means
# ``signals.language.DEFAULT_LANGUAGES``), and the PDQ distance and estimated text
# similarity at which signals join a cluster.
WATCHFLOOR_SIGNAL_LANGUAGES = [
    code.strip()
    for code in os.environ.get("WATCHFLOOR_SIGNAL_LANGUAGES", "").split(",")
    if code.strip()
] or None
WATCHFLOOR_PDQ_MAX_DISTANCE = int(os.environ.get("WATCHFLOOR_PDQ_MAX_DISTANCE", "31"))
WATCHFLOOR_TEXT_JACCARD = float(os.environ.get("WATCHFLOOR_TEXT_JACCARD", "0.8"))
# How far a signal's received_at may be ahead of the server's clock (a producer's clock
# running fast); anything later is rejected as bad_timestamp. Default 15 minutes.
WATCHFLOOR_SIGNAL_FUTURE_SKEW = timedelta(
    seconds=int(os.environ.get("WATCHFLOOR_SIGNAL_FUTURE_SKEW_SECONDS", "900"))
)
# What one signal file given to `watchfloor ingest` or `replay` may hold: bytes once
# decompressed (default 4 GiB), lines (default 10,000,000) and bytes of one line or CSV
# record (default 1 MiB). Past the first two the file stops being read; a longer
# record is rejected alone.
WATCHFLOOR_INGEST_MAX_FILE_BYTES = int(
    os.environ.get("WATCHFLOOR_INGEST_MAX_FILE_BYTES", str(4 * 1024**3))
)
WATCHFLOOR_INGEST_MAX_LINES = int(os.environ.get("WATCHFLOOR_INGEST_MAX_LINES", "10000000"))
# One official alert (CAP) or Atom feed of them, by the API or `watchfloor ingest`: past
# this many bytes it is refused unread (docs/warning.md). Default 2 MiB.
WATCHFLOOR_CAP_MAX_BYTES = int(os.environ.get("WATCHFLOOR_CAP_MAX_BYTES", str(2 * 1024**2)))
WATCHFLOOR_INGEST_MAX_RECORD_BYTES = int(
    os.environ.get("WATCHFLOOR_INGEST_MAX_RECORD_BYTES", str(1024 * 1024))
)

# Background work (docs/notifications.md): the Django tasks API with the database backend.
# A timer is a row with run_after, so it survives restarts; `watchfloor worker` runs them
# (`watchfloor demo` starts one on a thread).
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}
# Each worker beats every WATCHFLOOR_WORKER_HEARTBEAT_SECONDS; a task whose worker has
# been silent for WATCHFLOOR_WORKER_DEAD_AFTER_SECONDS is queued again (docs/security.md,
# "The worker").
WATCHFLOOR_WORKER_HEARTBEAT_SECONDS = float(
    os.environ.get("WATCHFLOOR_WORKER_HEARTBEAT_SECONDS", "10")
)
WATCHFLOOR_WORKER_DEAD_AFTER_SECONDS = float(
    os.environ.get("WATCHFLOOR_WORKER_DEAD_AFTER_SECONDS", "60")
)

# Email (docs/notifications.md): WATCHFLOOR_EMAIL_URL or Django's EMAIL_* variables; with
# neither, SMTP on localhost in production and files under <data dir>/outbox elsewhere.
# Links in messages point at WATCHFLOOR_PUBLIC_URL.
_email = email_settings(os.environ, data_dir=DATA_DIR, production=PRODUCTION)
EMAIL_BACKEND = _email.backend
EMAIL_HOST = _email.host
EMAIL_PORT = _email.port
EMAIL_HOST_USER = _email.host_user
EMAIL_HOST_PASSWORD = _email.host_password
EMAIL_USE_TLS = _email.use_tls
EMAIL_USE_SSL = _email.use_ssl
EMAIL_TIMEOUT = _email.timeout
EMAIL_FILE_PATH = _email.file_path
DEFAULT_FROM_EMAIL = SERVER_EMAIL = _email.default_from
WATCHFLOOR_PUBLIC_URL = os.environ.get("WATCHFLOOR_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

# Outbound requests (webhooks, connectors) refuse hosts that resolve to internal addresses
# (loopback, private, link-local …; docs/security.md, "Outbound requests"), except the
# names listed here, comma-separated, matched exactly against the URL's host.
WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = [
    host.strip().lower().rstrip(".")
    for host in os.environ.get("WATCHFLOOR_OUTBOUND_ALLOW_HOSTS", "").split(",")
    if host.strip()
]
# Certificate authorities trusted for https receivers besides the public ones (a file of
# PEM certificates: a company CA for a receiver on the internal network).
WATCHFLOOR_OUTBOUND_CA_BUNDLE = os.environ.get("WATCHFLOOR_OUTBOUND_CA_BUNDLE", "")


# ---------------------------------------------------------------- authentication and sessions
# docs/security.md, "Authentication and sessions". Failed sign-ins are throttled per account
# and per address (django-axes); an authenticator app is the second factor (django-otp),
# required for the roles in WATCHFLOOR_MFA_REQUIRED_ROLES; sessions end after a spell of
# inactivity; passwords pass Django's four validators.

from watchfloor.core.roles import Role  # noqa: E402


def _env_int(name: str, default: int, *, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


INSTALLED_APPS += [
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]
MIDDLEWARE += [
    "django_otp.middleware.OTPMiddleware",
    "watchfloor.people.middleware.SecondFactorMiddleware",
    "watchfloor.people.middleware.IdleSessionMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out sign-in before any backend looks at the password.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Throttling: WATCHFLOOR_LOGIN_FAILURES_PER_ACCOUNT wrong passwords for one username, or
# WATCHFLOOR_LOGIN_FAILURES_PER_ADDRESS from one address, pause signing in there for
# WATCHFLOOR_LOGIN_LOCKOUT_MINUTES (people.lockout). An admin lifts a lockout early with
# `watchfloor axes_reset_username NAME` or `watchfloor axes_reset_ip ADDRESS`.
WATCHFLOOR_LOGIN_FAILURES_PER_ACCOUNT = _env_int("WATCHFLOOR_LOGIN_FAILURES_PER_ACCOUNT", 5)
WATCHFLOOR_LOGIN_FAILURES_PER_ADDRESS = _env_int("WATCHFLOOR_LOGIN_FAILURES_PER_ADDRESS", 20)
AXES_HANDLER = "watchfloor.people.lockout.LoginLockoutHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = WATCHFLOOR_LOGIN_FAILURES_PER_ACCOUNT
AXES_COOLOFF_TIME = timedelta(minutes=_env_int("WATCHFLOOR_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_CALLABLE = "watchfloor.people.account_views.locked_out"
# The lockout page's status: django-axes' default, named here for that page to read.
AXES_HTTP_RESPONSE_CODE = 429
# A success does not wipe the failures: else one account of the attacker's own would
# reset the address's count between guesses at others.
AXES_RESET_ON_SUCCESS = False
# The client's address is REMOTE_ADDR only. Behind a proxy, waitress rewrites it from
# X-Forwarded-For when (and only when) the request came from WATCHFLOOR_TRUSTED_PROXY,
# so a client cannot pick its own address with a header.
AXES_CLIENT_IP_CALLABLE = None
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

# Second factor. Comma-separated roles that must sign in with an authenticator app; empty
# turns the requirement off (anyone may still set one up on their sign-in security page).
WATCHFLOOR_MFA_REQUIRED_ROLES = [
    role.strip()
    for role in os.environ.get("WATCHFLOOR_MFA_REQUIRED_ROLES", "lead,admin").split(",")
    if role.strip()
]
if set(WATCHFLOOR_MFA_REQUIRED_ROLES) - set(Role.values):
    raise ImproperlyConfigured(
        "WATCHFLOOR_MFA_REQUIRED_ROLES names unknown roles "
        f"{sorted(set(WATCHFLOOR_MFA_REQUIRED_ROLES) - set(Role.values))}; use "
        f"{', '.join(Role.values)}"
    )
OTP_TOTP_ISSUER = os.environ.get("WATCHFLOOR_MFA_ISSUER", "Watchfloor")

# Sessions end WATCHFLOOR_SESSION_IDLE_HOURS after the last request (people.middleware.
# IdleSessionMiddleware renews a session at most every WATCHFLOOR_SESSION_RENEW_EVERY).
SESSION_COOKIE_AGE = _env_int("WATCHFLOOR_SESSION_IDLE_HOURS", 12) * 3600
WATCHFLOOR_SESSION_RENEW_EVERY = timedelta(minutes=5)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": _env_int("WATCHFLOOR_PASSWORD_MIN_LENGTH", 12, minimum=8)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# API tokens (docs/security.md, "API tokens"): how long a new token lives unless
# `watchfloor token create --days N` says otherwise.
WATCHFLOOR_API_TOKEN_DAYS = _env_int("WATCHFLOOR_API_TOKEN_DAYS", 90)


# ---------------------------------------------------------------- behind a TLS proxy
# docs/security.md, "Deploying behind a TLS proxy". waitress believes the forwarding
# headers only from WATCHFLOOR_TRUSTED_PROXY (an address, or "*" when only the proxy can
# reach the server) and only those named in WATCHFLOOR_TRUSTED_PROXY_HEADERS; it drops
# them from anyone else. Django is told the request was HTTPS only when a proxy is trusted
# to say so.
WATCHFLOOR_TRUSTED_PROXY = os.environ.get("WATCHFLOOR_TRUSTED_PROXY", "").strip() or None
_PROXY_HEADERS = {
    "x-forwarded-proto",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-by",
    "forwarded",
}
WATCHFLOOR_TRUSTED_PROXY_HEADERS = sorted(
    {
        header.strip().lower()
        for header in os.environ.get(
            "WATCHFLOOR_TRUSTED_PROXY_HEADERS", "x-forwarded-proto x-forwarded-for"
        )
        .replace(",", " ")
        .split()
    }
)
if set(WATCHFLOOR_TRUSTED_PROXY_HEADERS) - _PROXY_HEADERS:
    raise ImproperlyConfigured(
        "WATCHFLOOR_TRUSTED_PROXY_HEADERS names unknown headers "
        f"{sorted(set(WATCHFLOOR_TRUSTED_PROXY_HEADERS) - _PROXY_HEADERS)}; use "
        f"{', '.join(sorted(_PROXY_HEADERS))}"
    )
WATCHFLOOR_TRUSTED_PROXY_COUNT = _env_int("WATCHFLOOR_TRUSTED_PROXY_COUNT", 1)
if WATCHFLOOR_TRUSTED_PROXY and "x-forwarded-proto" in WATCHFLOOR_TRUSTED_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Single sign-on (OpenID Connect); docs/security.md. On when any WATCHFLOOR_OIDC_* variable
# is set, checked here so a wrong setting stops the server starting, with its name.
WATCHFLOOR_SSO = sso_config_from_environment(os.environ)
if WATCHFLOOR_SSO is not None:
    globals().update(WATCHFLOOR_SSO.django_settings())
    AUTHENTICATION_BACKENDS = [
        *globals().get("AUTHENTICATION_BACKENDS", ["django.contrib.auth.backends.ModelBackend"]),
        "watchfloor.people.sso.backend.WatchfloorOIDCBackend",
    ]
# The login page's "Sign in with …" (nothing when single sign-on is off).
TEMPLATES[0]["OPTIONS"]["context_processors"].append("watchfloor.people.sso.context.single_sign_on")
# The header's "Needs me" count (docs/needs-me.md): one query, only where a page shows it.
TEMPLATES[0]["OPTIONS"]["context_processors"].append(
    "watchfloor.crises.needs_me_views.needs_me_nav"
)


# ---------------------------------------------------------------- the audit log
# Publishing the audit chain's signed head (docs/security.md, "The audit log"): the
# worker's housekeeping appends one JSON line to WATCHFLOOR_AUDIT_HEAD_FILE and/or POSTs it
# to WATCHFLOOR_AUDIT_HEAD_WEBHOOK_URL every WATCHFLOOR_AUDIT_HEAD_EVERY_MINUTES (default
# 60). Both belong somewhere a database writer cannot reach.
WATCHFLOOR_AUDIT_HEAD_FILE = os.environ.get("WATCHFLOOR_AUDIT_HEAD_FILE", "").strip()
WATCHFLOOR_AUDIT_HEAD_WEBHOOK_URL = os.environ.get("WATCHFLOOR_AUDIT_HEAD_WEBHOOK_URL", "").strip()
WATCHFLOOR_AUDIT_HEAD_EVERY = timedelta(minutes=_env_int("WATCHFLOOR_AUDIT_HEAD_EVERY_MINUTES", 60))

# The two-person rule (docs/security.md, integrity): a decision needs a second person's
# approval when the escalation is high-visibility or held SEV0/SEV1 at any time in the
# last WATCHFLOOR_TWO_PERSON_WINDOW_DAYS days (from its audited severity history), so
# lowering the severity for a moment does not let one person decide alone.
WATCHFLOOR_TWO_PERSON_WINDOW = timedelta(days=_env_int("WATCHFLOOR_TWO_PERSON_WINDOW_DAYS", 7))

# Evidence files (docs/evidence.md): content-addressed under the data directory by
# default; point "evidence" at any django-storages backend to keep them elsewhere.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "evidence": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": str(Path(os.environ.get("WATCHFLOOR_EVIDENCE_DIR", DATA_DIR / "evidence"))),
            "base_url": None,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    },
}
# Django stops reading an uploaded file past the largest evidence limit (the view then
# refuses it); uploads are then streamed to this directory while they are hashed and checked.
FILE_UPLOAD_HANDLERS = [
    "watchfloor.evidence.uploads.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
WATCHFLOOR_EVIDENCE_WORK_DIR = DATA_DIR / "evidence-incoming"
_MB = 1024 * 1024
WATCHFLOOR_EVIDENCE_MAX_BYTES = {
    "image": _env_int("WATCHFLOOR_EVIDENCE_MAX_IMAGE_MB", 50) * _MB,
    "video": _env_int("WATCHFLOOR_EVIDENCE_MAX_VIDEO_MB", 1024) * _MB,
    "audio": _env_int("WATCHFLOOR_EVIDENCE_MAX_AUDIO_MB", 200) * _MB,
    "pdf": _env_int("WATCHFLOOR_EVIDENCE_MAX_PDF_MB", 100) * _MB,
    "html": _env_int("WATCHFLOOR_EVIDENCE_MAX_HTML_MB", 20) * _MB,
}
# Pillow's decompression-bomb limit, enforced as an error (not Pillow's warning).
WATCHFLOOR_EVIDENCE_MAX_IMAGE_PIXELS = _env_int("WATCHFLOOR_EVIDENCE_MAX_IMAGE_PIXELS", 60_000_000)
WATCHFLOOR_FFMPEG = os.environ.get("WATCHFLOOR_FFMPEG") or shutil.which("ffmpeg") or ""
# Reveals: how long one click shows an item (seconds), and its bounds.
WATCHFLOOR_EVIDENCE_REVEAL_SECONDS = (5, 300)
# Exposure care: past this many reveals of sensitive categories within the window, the
# person is nudged to take a break; a "shift" and a "week" for the private page.
WATCHFLOOR_EXPOSURE_NUDGE_ITEMS = _env_int("WATCHFLOOR_EXPOSURE_NUDGE_ITEMS", 40)
WATCHFLOOR_EXPOSURE_NUDGE_WINDOW = timedelta(
    hours=_env_int("WATCHFLOOR_EXPOSURE_NUDGE_WINDOW_HOURS", 2)
)
WATCHFLOOR_EXPOSURE_BREAK_MINUTES = _env_int("WATCHFLOOR_EXPOSURE_BREAK_MINUTES", 15)
WATCHFLOOR_EXPOSURE_SHIFT = timedelta(hours=_env_int("WATCHFLOOR_EXPOSURE_SHIFT_HOURS", 9))
# Retention in days per category (a market may shorten or lengthen it: per market code,
# e.g. {"DE": {"general": 90}}); held items are never deleted.
WATCHFLOOR_EVIDENCE_RETENTION_DAYS = {
    "general": 365,
    "graphic_violence": 730,
    "terrorist": 730,
    "self_harm": 365,
    "nudity": 180,
    "child_sexual_exploitation": 90,
}
WATCHFLOOR_EVIDENCE_RETENTION_BY_MARKET: dict[str, dict[str, int]] = {}
