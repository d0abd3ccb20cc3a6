"""URL normalisation for clustering: two reports of the same page share one key.

``normalise_url`` keeps what identifies a resource and drops what only says how
someone got there: scheme and host case, default ports, user info, fragments,
trailing slashes and tracking parameters (``utm_*``, ``fbclid``, ``gclid``...). The
remaining query parameters are sorted, percent-encoding is made uniform (so
``/wiki/東京`` and ``/wiki/%E6%9D%B1%E4%BA%AC`` agree) and dot segments are resolved.

Links from URL shorteners (t.co, bit.ly...) are kept exactly as given after the
host: their path is a case-sensitive code and the only thing that identifies the
target, so ``bit.ly/AbC`` and ``bit.ly/abc`` stay two keys.

The result is a clustering key, not a URL to fetch: it is never followed here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urlsplit

__all__ = ["SHORTENER_HOSTS", "TRACKING_PARAMETERS", "normalise_url"]

SHORTENER_HOSTS: frozenset[str] = frozenset(
    {
        "t.co",
        "bit.ly",
        "goo.gl",
        "tinyurl.com",
        "ow.ly",
        "buff.ly",
        "lnkd.in",
        "is.gd",
        "rebrand.ly",
        "cutt.ly",
        "s.id",
        "t.ly",
    }
)

# Parameters that record a campaign, a click or a share, never the resource itself.
TRACKING_PARAMETERS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "gbraid",
        "wbraid",
        "dclid",
        "msclkid",
        "igshid",
        "igsh",
        "mc_cid",
        "mc_eid",
        "yclid",
        "_ga",
        "_gl",
        "ref_src",
        "ref_url",
        "si",
        "twclid",
        "ttclid",
        "li_fat_id",
        "mkt_tok",
        "_hsenc",
        "_hsmi",
        "vero_id",
        "oly_enc_id",
        "oly_anon_id",
        "rb_clickid",
        "s_cid",
        "srsltid",
    }
)
_TRACKING_PREFIXES = ("utm_",)
# Share markers that only mean something on one site; elsewhere "s" or "t" may be
# a search query or a time offset, so they are dropped only here.
_SITE_TRACKING_PARAMETERS: dict[str, frozenset[str]] = {
    "twitter.com": frozenset({"s", "t"}),
    "x.com": frozenset({"s", "t"}),
    "mobile.twitter.com": frozenset({"s", "t"}),
    "www.twitter.com": frozenset({"s", "t"}),
    "www.x.com": frozenset({"s", "t"}),
    "youtube.com": frozenset({"feature", "pp"}),
    "www.youtube.com": frozenset({"feature", "pp"}),
    "m.youtube.com": frozenset({"feature", "pp"}),
    "youtu.be": frozenset({"feature"}),
    "instagram.com": frozenset({"img_index"}),
    "www.instagram.com": frozenset({"img_index"}),
}
_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 unreserved characters never need escaping; everything else in a path
# is kept escaped (with upper-case hex) or escaped if it was not.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/:@!$'()*,;-._~"
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")


@lru_cache(maxsize=65_536)
def normalise_url(raw: str) -> str | None:
    """The clustering key of an http(s) URL, or None if it is not one.

    Cached: during a viral event the same link arrives thousands of times.
    """
    if not isinstance(raw, str):
        return None
    candidate = raw.strip()
    if not candidate or _FORBIDDEN.search(candidate):
        return None
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        return None
    host = _normalise_host(parts.hostname or "")
    if host is None:
        return None
    netloc = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"

    if host in SHORTENER_HOSTS:
        # The code after the host is the link; keep it byte for byte.
        path = parts.path or "/"
        query = f"?{parts.query}" if parts.query else ""
        return f"{scheme}://{netloc}{path}{query}"

    path = _normalise_path(parts.path)
    query = _normalise_query(parts.query, host)
    fragment = ""
    if parts.fragment.startswith("!"):
        # "#!/user/status/1": old single-page apps put the resource in the fragment.
        fragment = "#" + parts.fragment
    return f"{scheme}://{netloc}{path}{'?' + query if query else ''}{fragment}"


def _normalise_host(host: str) -> str | None:
    host = host.rstrip(".").lower()
    if not host:
        return None
    if ":" in host:  # IPv6 literal; urlsplit has removed the brackets
        return f"[{host}]"
    if host.isascii():
        if not all(label and len(label) <= 63 for label in host.split(".")):
            return None
        return host
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return encoded.lower()


def _normalise_escapes(component: str, safe: str) -> str:
    """Decode escapes of characters that need none, re-escape the rest uniformly."""
    if "%" in component:
        # Escapes of reserved characters ("/" as %2F) keep their meaning, so only
        # escapes of unreserved characters and of non-ASCII bytes are decoded.
        def unescape(match: re.Match[str]) -> str:
            byte = int(match.group(0)[1:], 16)
            character = chr(byte)
            if byte < 0x80 and (character.isalnum() or character in "-._~"):
                return character
            return match.group(0).upper()

        component = _ESCAPE.sub(unescape, component)
        # Whatever is still escaped stays escaped; quote() leaves "%XX" alone when "%" is safe.
        return quote(component, safe=safe + "%")
    return quote(component, safe=safe)


def _normalise_path(path: str) -> str:
    if not path:
        return "/"
    if "/." in path:
        path = _remove_dot_segments(path)
    path = _normalise_escapes(path, _PATH_SAFE)
    stripped = path.rstrip("/")
    return stripped or "/"


def _remove_dot_segments(path: str) -> str:
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if segment == ".":
            if index == len(segments) - 1:
                output.append("")
            continue
        if segment == "..":
            if len(output) > 1:
                output.pop()
            if index == len(segments) - 1:
                output.append("")
            continue
        output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result


def _normalise_query(query: str, host: str) -> str:
    if not query:
        return ""
    site_specific = _SITE_TRACKING_PARAMETERS.get(host, frozenset())
    kept: list[tuple[str, str]] = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        lowered = name.lower()
        if (
            lowered in TRACKING_PARAMETERS
            or lowered.startswith(_TRACKING_PREFIXES)
            or lowered in site_specific
        ):
            continue
        kept.append((name, value))
    kept.sort()
    return "&".join(
        f"{quote(name, safe=_QUERY_SAFE)}={quote(value, safe=_QUERY_SAFE)}" for name, value in kept
    )
