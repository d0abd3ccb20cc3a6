"""Running Watchfloor: serve with a real WSGI server, and the demo's worker on a thread."""

from __future__ import annotations

import gc
import os

from django.conf import settings


def settle_heap() -> int:
    """Move everything loaded at start-up (Django, the apps, their libraries) out of the
    garbage collector's sight; returns how many objects. Without it, every full collection
    walks those hundreds of thousands of long-lived objects again, and a request that
    triggers one takes 100 ms longer (measured on the war room). Call it once the process
    has loaded what it serves with, just before it starts serving."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def prepare_to_serve() -> int:
    """Load now what the first requests would otherwise load, then settle the heap;
    returns the objects settled. Every URL's module (the API's schemas among them) and
    every hook's code: measured, the first batch sent to a fresh server took 5.3 s, the
    next ones 0.6 s, most of the difference the URL configuration's imports."""
    from django.urls import get_resolver

    from watchfloor.core.lazy import import_every_hook

    # reverse_dict builds the resolver's tables, which imports every URL module.
    get_resolver().reverse_dict  # noqa: B018 (read for its side effect)
    import_every_hook()
    return settle_heap()


def local_url(*, host: str, port: int) -> str:
    """This server's address as a process on the same machine reaches it (a wildcard
    address listens on loopback too)."""
    if host in ("", "0.0.0.0"):  # noqa: S104 (reading the address, not binding it)
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    display_host = f"[{host}]" if ":" in host else host
    return f"http://{display_host}:{port}"


def start_demo_platform(*, stdout, host: str, port: int):
    """Start the demo platform (banks.demo_platform) on a free port of 127.0.0.1, point
    the demo connector at it and say so in one line; the caller stops it."""
    from watchfloor.banks.demo_platform import DemoPlatform, ensure_demo_connector
    from watchfloor.bootstrap.demo import demo_connector_line

    platform = DemoPlatform(callback_base=local_url(host=host, port=port)).bind()
    try:
        connector, _created = ensure_demo_connector(url=platform.url)
        platform.start(secret=connector.secret)
    except BaseException:
        platform.stop()
        raise
    stdout.write(demo_connector_line(connector, platform_url=platform.url))
    return platform


def start_worker(*, stdout, host: str, port: int) -> None:
    """Run background work (notifications, escalation-policy timers, retries) on a thread
    of this process, for the one-command demo. Production runs `watchfloor worker`."""
    from watchfloor.bootstrap.worker import start_background_worker

    if "WATCHFLOOR_PUBLIC_URL" not in os.environ:
        # Links in the demo's messages should open this server, wherever it listens.
        display_host = f"[{host}]" if ":" in host else host
        settings.WATCHFLOOR_PUBLIC_URL = f"http://{display_host}:{port}"
    background = start_background_worker()
    stdout.write(f"\nbackground worker running on a thread: {background.report}")
    if settings.EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend":
        stdout.write(f"email is written to files in {settings.EMAIL_FILE_PATH}, not sent")


def serve_forever(
    *, host: str, port: int, stdout, threads: int = 8, worker_running: bool = False
) -> None:
    # waitress: a production-grade, pure-Python WSGI server (no compiler, any OS).
    from waitress import serve

    from watchfloor.wsgi import application

    display_host = f"[{host}]" if ":" in host else host
    stdout.write(f"\nWatchfloor is running at http://{display_host}:{port}/  (Ctrl+C to stop)")
    stdout.write(f"data directory: {settings.DATA_DIR}")
    if not worker_running:
        stdout.write(
            "notifications and timers need a worker: run `watchfloor worker` beside this server"
        )
    stdout.write("")
    prepare_to_serve()
    serve(application, **server_options(host=host, port=port, threads=threads, stdout=stdout))


def server_options(*, host: str, port: int, threads: int, stdout=None) -> dict:
    """waitress's options. Forwarding headers (X-Forwarded-Proto, X-Forwarded-For …) are
    believed only from ``WATCHFLOOR_TRUSTED_PROXY`` and only those in
    ``WATCHFLOOR_TRUSTED_PROXY_HEADERS``; waitress removes them from every other request,
    so a client cannot claim HTTPS or another address (docs/security.md)."""
    options: dict = {
        "host": host,
        "port": port,
        "threads": threads,
        "ident": "watchfloor",
        "clear_untrusted_proxy_headers": True,
    }
    proxy = settings.WATCHFLOOR_TRUSTED_PROXY
    if proxy:
        headers = set(settings.WATCHFLOOR_TRUSTED_PROXY_HEADERS)
        options.update(
            trusted_proxy=proxy,
            trusted_proxy_headers=headers,
            trusted_proxy_count=settings.WATCHFLOOR_TRUSTED_PROXY_COUNT,
        )
        if stdout is not None:
            stdout.write(
                f"trusting the proxy at {proxy} for {', '.join(sorted(headers))} "
                f"({settings.WATCHFLOOR_TRUSTED_PROXY_COUNT} hop(s))"
            )
    elif settings.PRODUCTION and stdout is not None:
        stdout.write(
            "no trusted proxy: forwarding headers are ignored; behind a TLS proxy set "
            "WATCHFLOOR_TRUSTED_PROXY to its address"
        )
    return options
