"""Issue 11, finding 10, as a deployment meets it: the real `watchfloor serve` (waitress)
in production mode, spoken to over a socket the way a TLS proxy on the same machine
would; the real `watchfloor demo` refusing production; settings read from the
environment in a fresh process.

Each server runs in a subprocess on its own SQLite data directory, never the test
database, and is stopped by the test.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.database_template import copy_migrated_sqlite

pytestmark = pytest.mark.slow

SRC = Path(__file__).resolve().parents[2] / "src"


def _environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("WATCHFLOOR_", "DATABASE_URL", "DJANGO_"))
    }
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH", "")])),
        WATCHFLOOR_DATA_DIR=str(data_dir),
        WATCHFLOOR_PRODUCTION="1",
        WATCHFLOOR_SECRET_KEY="test-deploy-" + "x" * 50,
        WATCHFLOOR_ALLOWED_HOSTS="127.0.0.1",
        WATCHFLOOR_AUDIT_KEY="test-deploy-audit-" + "k" * 40,
    )
    env.update(extra)
    return env


def watchfloor(*args: str, env: dict[str, str], timeout: float = 300):
    return subprocess.run(
        [sys.executable, "-m", "watchfloor.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """One migrated database for the servers of this module (migrating takes a while)."""
    path = tmp_path_factory.mktemp("deploy")
    copy_migrated_sqlite(path, _environment(path))
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server(data_dir: Path, **env: str) -> Iterator[int]:
    """`watchfloor serve` in production mode; yields its port once it answers."""
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "watchfloor.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=_environment(data_dir, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(600):  # up to a minute for start-up, checked every 0.1 s
            if process.poll() is not None:
                pytest.fail(f"the server stopped: {process.stdout.read()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start listening")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def request(port: int, method: str, path: str, *, headers=None, body: str | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            method, path, body=body, headers={"Host": "127.0.0.1", **(headers or {})}
        )
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        connection.close()


def _cookie(headers, name: str) -> str:
    for value in headers.get_all("Set-Cookie") or []:
        if value.startswith(f"{name}="):
            return value.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError(f"no {name} cookie in {headers.get_all('Set-Cookie')}")


def sign_in_through_proxy(port: int, *, client_address: str, username: str) -> tuple[int, str]:
    """What a TLS proxy forwards for a browser at ``client_address``: the sign-in form,
    then a wrong password for ``username``."""
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": client_address}
    status, headers, page = request(port, "GET", "/login/", headers=forwarded)
    assert status == 200
    csrf_cookie = _cookie(headers, "csrftoken")
    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    status, _, page = request(
        port,
        "POST",
        "/login/",
        headers={
            **forwarded,
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie}",
            "Origin": "https://127.0.0.1",
            "Referer": "https://127.0.0.1/login/",
        },
        body=urlencode(
            {"csrfmiddlewaretoken": form_token, "username": username, "password": "wrong-guess"}
        ),
    )
    return status, page


# ---------------------------------------------------------------- behind a TLS proxy


def test_behind_a_trusted_proxy_https_is_believed_and_hsts_is_sent(data_dir):
    with server(
        data_dir,
        WATCHFLOOR_TRUSTED_PROXY="127.0.0.1",
        WATCHFLOOR_LOGIN_FAILURES_PER_ACCOUNT="3",
        WATCHFLOOR_LOGIN_FAILURES_PER_ADDRESS="3",
    ) as port:
        # Plain HTTP (no proxy header) is still sent to HTTPS…
        status, headers, _ = request(port, "GET", "/login/")
        assert status == 301
        assert headers["Location"] == "https://127.0.0.1/login/"

        # …and a request the proxy received over HTTPS is served, not redirected again.
        status, headers, page = request(
            port, "GET", "/login/", headers={"X-Forwarded-Proto": "https"}
        )
        assert status == 200
        assert 'name="password"' in page
        assert headers["Strict-Transport-Security"] == (
            "max-age=31536000; includeSubDomains; preload"
        )
        assert "Secure" in next(
            value for value in headers.get_all("Set-Cookie") if value.startswith("csrftoken=")
        )

        # X-Forwarded-For names the client: sign-in throttling counts its address, not the
        # proxy's. The third wrong password from one client locks that client's address…
        for number in range(2):
            status, _ = sign_in_through_proxy(
                port, client_address="203.0.113.7", username=f"nobody-{number}"
            )
            assert status == 200
        for username in ("nobody-2", "nobody-else"):
            status, page = sign_in_through_proxy(
                port, client_address="203.0.113.7", username=username
            )
            assert status == 429
            assert "Too many failed sign-ins" in page
        # …and another client behind the same proxy is not locked out with it.
        status, page = sign_in_through_proxy(
            port, client_address="198.51.100.9", username="someone"
        )
        assert status == 200
        assert "Too many failed sign-ins" not in page

    addresses = sqlite3.connect(data_dir / "watchfloor.sqlite3").execute(
        "SELECT DISTINCT ip_address FROM axes_accessattempt ORDER BY ip_address"
    )
    assert [row[0] for row in addresses] == ["198.51.100.9", "203.0.113.7"]


def test_forwarding_headers_from_anyone_else_are_ignored(data_dir):
    # The proxy is elsewhere; this request comes from 127.0.0.1, which is not it.
    with server(data_dir, WATCHFLOOR_TRUSTED_PROXY="192.0.2.10") as port:
        status, headers, _ = request(port, "GET", "/login/", headers={"X-Forwarded-Proto": "https"})

    # What the finding saw from behind any proxy: redirected to HTTPS again and again.
    assert status == 301
    assert headers["Location"] == "https://127.0.0.1/login/"
    assert "Strict-Transport-Security" not in headers


# ---------------------------------------------------------------- the demo in production


def test_the_demo_command_refuses_production(tmp_path):
    done = watchfloor("demo", "--no-serve", env=_environment(tmp_path))

    assert done.returncode != 0
    assert "refuses to run with WATCHFLOOR_PRODUCTION=1" in done.stderr
    assert "watchfloor createsuperuser" in done.stderr
    database = tmp_path / "watchfloor.sqlite3"
    if database.exists():
        tables = {
            row[0] for row in sqlite3.connect(database).execute("SELECT name FROM sqlite_master")
        }
        assert "people_user" not in tables


def test_the_deploy_check_fails_on_a_demo_database(tmp_path):
    copy_migrated_sqlite(tmp_path, _environment(tmp_path))
    demo = watchfloor(
        "demo", "--no-serve", env={**_environment(tmp_path), "WATCHFLOOR_PRODUCTION": ""}
    )
    assert demo.returncode == 0, demo.stderr

    check = watchfloor("check", "--deploy", env=_environment(tmp_path))

    assert check.returncode != 0
    assert "watchfloor.E101" in check.stderr
    assert "admin, aisyah.comms, ana.ler, analyst, analyst2" in check.stderr
    assert "watchfloor.E302" in check.stderr  # the demo's stand-in enforcement connector


# ---------------------------------------------------------------- settings from the environment


def _settings(tmp_path: Path, *names: str, **env: str) -> subprocess.CompletedProcess:
    script = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'watchfloor.settings'; "
        "django.setup(); from django.conf import settings; "
        f"print(repr([getattr(settings, name, None) for name in {list(names)!r}]))"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        env=_environment(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_sessions_last_twelve_idle_hours_unless_configured(tmp_path):
    assert _settings(tmp_path, "SESSION_COOKIE_AGE").stdout.strip() == "[43200]"
    configured = _settings(tmp_path, "SESSION_COOKIE_AGE", WATCHFLOOR_SESSION_IDLE_HOURS="8")
    assert configured.stdout.strip() == "[28800]"
    refused = _settings(tmp_path, "SESSION_COOKIE_AGE", WATCHFLOOR_SESSION_IDLE_HOURS="a day")
    assert "WATCHFLOOR_SESSION_IDLE_HOURS must be a whole number, not 'a day'" in refused.stderr


def test_the_proxy_ssl_header_is_believed_only_with_a_trusted_proxy(tmp_path):
    alone = _settings(tmp_path, "SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT")
    assert alone.stdout.strip() == "[None, True]"
    proxied = _settings(tmp_path, "SECURE_PROXY_SSL_HEADER", WATCHFLOOR_TRUSTED_PROXY="10.0.0.5")
    assert proxied.stdout.strip() == "[('HTTP_X_FORWARDED_PROTO', 'https')]"
    forwarded_only = _settings(
        tmp_path,
        "SECURE_PROXY_SSL_HEADER",
        WATCHFLOOR_TRUSTED_PROXY="10.0.0.5",
        WATCHFLOOR_TRUSTED_PROXY_HEADERS="forwarded",
    )
    assert forwarded_only.stdout.strip() == "[None]"
    typo = _settings(
        tmp_path,
        "SECURE_PROXY_SSL_HEADER",
        WATCHFLOOR_TRUSTED_PROXY="10.0.0.5",
        WATCHFLOOR_TRUSTED_PROXY_HEADERS="x-forwarded-protocol",
    )
    assert "unknown headers ['x-forwarded-protocol']" in typo.stderr
