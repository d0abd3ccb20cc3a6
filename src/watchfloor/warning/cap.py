"""Reading Common Alerting Protocol (CAP) documents: one alert, or an Atom feed of them.

Safety first, because an alert comes from outside: the document is bounded in size
before it is parsed; a document that declares a DTD (``<!DOCTYPE``, ``<!ENTITY``) is
refused before parsing, since CAP needs neither and that is how XML external entity
(XXE) attacks arrive; the parser itself never resolves entities, loads a DTD, reaches
the network, runs XInclude or follows ``xsi:schemaLocation``, and keeps libxml2's
limits on (``huge_tree`` off). Each alert is then validated against the OASIS schema
of its namespace (CAP 1.2, and 1.1, which many agencies still send), shipped in
``warning/schema/``, and against the rules of the CAP text the schema cannot state
(no spaces, commas or ``<``/``&`` in identifiers and senders; ``references`` as
``sender,identifier,sent`` triples).

A document that cannot be read at all raises :class:`CapRefused` with its line; in a
feed, one invalid alert is reported (:class:`CapProblem`) and never stops the others.

``lxml`` is imported when a document is first read, so the rest of Watchfloor starts
without it.

One concept, reading an untrusted document into plain values, and one module past 500
lines: the shapes are what reading returns, and each bound (``MAX_*``) is checked where
its element is read, so splitting would part every check from the limit it enforces.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watchfloor.core.errors import InvalidInput

if TYPE_CHECKING:
    from lxml import etree

__all__ = [
    "CAP_NAMESPACES",
    "MAX_ALERTS_PER_FEED",
    "MAX_DOCUMENT_BYTES",
    "CapAlert",
    "CapArea",
    "CapDocument",
    "CapInfo",
    "CapProblem",
    "CapRefused",
    "Reference",
    "read_cap_document",
]

CAP_12 = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_11 = "urn:oasis:names:tc:emergency:cap:1.1"
ATOM = "http://www.w3.org/2005/Atom"
CAP_NAMESPACES = {CAP_12: "1.2", CAP_11: "1.1"}
_SCHEMA_FILES = {CAP_12: "cap12.xsd", CAP_11: "cap11.xsd"}
XMLDSIG = "http://www.w3.org/2000/09/xmldsig#"

# A national agency's alert is a few kilobytes (the largest sample, a signed alert with
# its certificate, 24 kB); a feed of current warnings a few hundred. Past these the
# document is refused unread. The settings WATCHFLOOR_CAP_MAX_BYTES overrides the first.
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
MAX_ALERTS_PER_FEED = 500
MAX_INFOS_PER_ALERT = 20
MAX_AREAS_PER_INFO = 200
MAX_POINTS_PER_SHAPE = 5_000
MAX_IDENTITY_LENGTH = 255  # of an identifier or a sender
MAX_REFERENCES = 100
# What of an alert's text a signal carries (the contract's limit is 20,000).
MAX_SIGNAL_TEXT = 8_000

# Read before parsing: CAP never needs a DTD; this is how XXE arrives.
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
# CAP 1.2 §3.2.1: identifier and sender MUST NOT include spaces, commas or < and &.
_CAP_TOKEN = re.compile(r"[^\s,<&]+")


class CapRefused(InvalidInput):
    """The document as a whole cannot be taken; ``line`` says where, when known."""

    code = "invalid_cap"

    def __init__(self, message: str, *, code: str, line: int | None = None) -> None:
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{message}", code=code)
        self.line = line


class CapTooLarge(CapRefused):
    http_status = 413


@dataclass(frozen=True, slots=True)
class Reference:
    """One earlier alert an Update, Cancel or Ack names."""

    sender: str
    identifier: str
    sent: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.sender, self.identifier)


@dataclass(frozen=True, slots=True)
class CapArea:
    description: str
    # Each polygon a ring of (latitude, longitude) points; each circle (lat, lon, km).
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    circles: tuple[tuple[float, float, float], ...] = ()
    geocodes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CapInfo:
    language: str
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    response_types: tuple[str, ...] = ()
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    web: str = ""
    event_codes: tuple[tuple[str, str], ...] = ()
    areas: tuple[CapArea, ...] = ()


@dataclass(frozen=True, slots=True)
class CapAlert:
    version: str
    identifier: str
    sender: str
    sent: datetime
    sent_text: str
    status: str
    msg_type: str
    scope: str
    line: int | None
    source: str = ""
    note: str = ""
    references: tuple[Reference, ...] = ()
    incidents: tuple[str, ...] = ()
    infos: tuple[CapInfo, ...] = ()
    signed: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.sender, self.identifier)


@dataclass(frozen=True, slots=True)
class CapProblem:
    """One alert of the document that was not taken, and why (``code``, ``line``)."""

    index: int
    line: int | None
    code: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class CapDocument:
    kind: str  # "alert" or "feed"
    alerts: list[CapAlert] = field(default_factory=list)
    problems: list[CapProblem] = field(default_factory=list)
    # A feed: how many entries it had, and those without an alert inside (a link only).
    entries: int = 0
    entries_without_alert: int = 0


# ---------------------------------------------------------------- reading


def read_cap_document(raw: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> CapDocument:
    """Parse, check and validate a CAP alert or an Atom feed of CAP alerts."""
    if len(raw) > max_bytes:
        raise CapTooLarge(
            f"the document is {len(raw):,} bytes; the limit is {max_bytes:,}: send alerts "
            "one by one, or a feed of fewer entries",
            code="document_too_large",
        )
    _refuse_dtd(raw)
    root = _parse(raw)
    if root.tag == f"{{{ATOM}}}feed":
        return _read_feed(root)
    namespace = _namespace(root.tag)
    if _local(root.tag) == "alert" and namespace in CAP_NAMESPACES:
        document = CapDocument(kind="alert")
        alert = _checked_alert(root, index=0, document=document)
        if alert is None:
            problem = document.problems[0]
            raise CapRefused(problem.message, code=problem.code, line=problem.line)
        document.alerts.append(alert)
        return document
    if _local(root.tag) == "alert" and namespace.startswith("urn:oasis:names:tc:emergency:cap:"):
        raise CapRefused(
            f"CAP version {namespace.rsplit(':', 1)[-1]} is not accepted: send CAP 1.2 "
            f"({CAP_12}) or 1.1",
            code="unsupported_cap_version",
            line=root.sourceline,
        )
    raise CapRefused(
        f"<{_local(root.tag)}> in namespace {namespace or '(none)'} is neither a CAP alert "
        f'(<alert xmlns="{CAP_12}">) nor an Atom feed of them',
        code="not_cap",
        line=root.sourceline,
    )


def _refuse_dtd(raw: bytes) -> None:
    for encoding in (None, "utf-16-le", "utf-16-be"):
        for marker in _DTD_MARKERS:
            needle = marker if encoding is None else marker.decode().encode(encoding)
            position = raw.find(needle)
            if position >= 0:
                line = raw.count(b"\n", 0, position) + 1 if encoding is None else None
                raise CapRefused(
                    "the document declares a DTD (<!DOCTYPE> or <!ENTITY>): refused as a "
                    "possible XML external entity (XXE) attack. CAP needs no DTD and "
                    "Watchfloor never loads one or expands entities: remove the declaration",
                    code="xml_entities_refused",
                    line=line,
                )


def _parser() -> etree.XMLParser:
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        remove_comments=True,
        collect_ids=False,
    )


def _parse(raw: bytes) -> etree._Element:
    from lxml import etree

    try:
        root = etree.fromstring(raw, parser=_parser())
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno else None
        detail = error.msg.split(", line ")[0] if error.msg else "unreadable"
        raise CapRefused(
            f"not well-formed XML ({detail}): send one CAP alert or an Atom feed of them",
            code="malformed_xml",
            line=line,
        ) from None
    if root is None:  # pragma: no cover - recover is off
        raise CapRefused("the document is empty", code="malformed_xml")
    # Belt and braces: nothing entity-like may have survived the checks above.
    if root.getroottree().docinfo.internalDTD is not None:  # pragma: no cover
        raise CapRefused("the document declares a DTD", code="xml_entities_refused")
    return root


def _read_feed(root: etree._Element) -> CapDocument:
    document = CapDocument(kind="feed")
    atom_elements = {
        "author", "category", "contributor", "generator", "icon", "id", "link", "logo",
        "rights", "subtitle", "title", "updated", "entry",
    }  # fmt: skip
    for child in root:
        if not isinstance(child.tag, str):
            continue
        if _namespace(child.tag) == ATOM and _local(child.tag) not in atom_elements:
            raise CapRefused(
                f"<{_local(child.tag)}> is not an element of an Atom feed (RFC 4287): "
                "remove it or put it in its own namespace",
                code="invalid_feed",
                line=child.sourceline,
            )
    entries = root.findall(f"{{{ATOM}}}entry")
    if len(entries) > MAX_ALERTS_PER_FEED:
        raise CapTooLarge(
            f"the feed has {len(entries):,} entries; the limit is {MAX_ALERTS_PER_FEED}",
            code="document_too_large",
        )
    document.entries = len(entries)
    for index, entry in enumerate(entries):
        for required in ("id", "updated"):
            if entry.find(f"{{{ATOM}}}{required}") is None:
                document.problems.append(
                    CapProblem(
                        index,
                        entry.sourceline,
                        "invalid_feed",
                        f"entry {index + 1} has no <{required}> (RFC 4287 requires one)",
                    )
                )
                break
        else:
            alerts = [
                element
                for content in entry.findall(f"{{{ATOM}}}content")
                for element in content
                if isinstance(element.tag, str) and _local(element.tag) == "alert"
            ]
            if not alerts:
                document.entries_without_alert += 1
                continue
            for element in alerts:
                if _namespace(element.tag) not in CAP_NAMESPACES:
                    document.problems.append(
                        CapProblem(
                            index,
                            element.sourceline,
                            "unsupported_cap_version",
                            f"entry {index + 1}: the alert's namespace "
                            f"{_namespace(element.tag)} is not CAP 1.2 or 1.1",
                        )
                    )
                    continue
                alert = _checked_alert(element, index=index, document=document)
                if alert is not None:
                    document.alerts.append(alert)
    return document


# ---------------------------------------------------------------- one alert


@cache
def _schema(namespace: str) -> etree.XMLSchema:
    from lxml import etree

    path = Path(__file__).parent / "schema" / _SCHEMA_FILES[namespace]
    return etree.XMLSchema(etree.parse(str(path), parser=_parser()))


def _checked_alert(
    element: etree._Element, *, index: int, document: CapDocument
) -> CapAlert | None:
    from lxml import etree

    namespace = _namespace(element.tag)
    schema = _schema(namespace)
    # A copy as its own document, so an alert inside a feed validates alone; lxml keeps
    # each element's source line through the copy.
    alone = etree.ElementTree(copy.deepcopy(element))
    if not schema.validate(alone):
        first = schema.error_log[0]
        document.problems.append(
            CapProblem(
                index,
                first.line or element.sourceline,
                "invalid_cap",
                f"not a valid CAP {CAP_NAMESPACES[namespace]} alert: {_schema_message(first)}",
            )
        )
        return None
    try:
        return _alert(element, namespace)
    except _Invalid as problem:
        document.problems.append(CapProblem(index, problem.line, "invalid_cap", problem.message))
        return None


class _Invalid(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _schema_message(entry: Any) -> str:
    message = str(entry.message)
    for namespace in CAP_NAMESPACES:
        message = message.replace(f"{{{namespace}}}", "")
    return message


def _alert(element: etree._Element, namespace: str) -> CapAlert:
    ns = f"{{{namespace}}}"

    def text(name: str, parent: etree._Element = element) -> str:
        child = parent.find(ns + name)
        return (child.text or "").strip() if child is not None else ""

    for name in ("identifier", "sender"):
        value = text(name)
        if len(value) > MAX_IDENTITY_LENGTH:
            raise _Invalid(
                f"<{name}> has {len(value):,} characters; the limit is {MAX_IDENTITY_LENGTH}",
                element.find(ns + name).sourceline,
            )
        if _CAP_TOKEN.fullmatch(value) is None:
            raise _Invalid(
                f"<{name}> {value!r} may not be empty or contain spaces, commas, < or & "
                "(CAP 1.2 §3.2.1)",
                element.find(ns + name).sourceline,
            )
    sent_text = text("sent")
    infos = element.findall(ns + "info")
    if len(infos) > MAX_INFOS_PER_ALERT:
        raise _Invalid(
            f"the alert has {len(infos)} <info> blocks; the limit is {MAX_INFOS_PER_ALERT}",
            element.sourceline,
        )
    return CapAlert(
        version=CAP_NAMESPACES[namespace],
        identifier=text("identifier"),
        sender=text("sender"),
        sent=_time(sent_text),
        sent_text=sent_text,
        status=text("status"),
        msg_type=text("msgType"),
        scope=text("scope"),
        line=element.sourceline,
        source=text("source"),
        note=text("note"),
        references=_references(element.find(ns + "references")),
        incidents=tuple(text("incidents").split()),
        infos=tuple(_info(info, ns) for info in infos),
        signed=element.find(f"{{{XMLDSIG}}}Signature") is not None,
    )


def _references(element: etree._Element | None) -> tuple[Reference, ...]:
    if element is None or not (element.text or "").strip():
        return ()
    triples = (element.text or "").split()
    if len(triples) > MAX_REFERENCES:
        raise _Invalid(
            f"<references> names {len(triples):,} alerts; the limit is {MAX_REFERENCES}",
            element.sourceline,
        )
    found = []
    for triple in triples:
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts) or max(map(len, parts)) > MAX_IDENTITY_LENGTH:
            raise _Invalid(
                f"<references> {triple!r} is not a sender,identifier,sent triple: give each "
                "earlier alert as sender,identifier,sent, separated by spaces",
                element.sourceline,
            )
        found.append(Reference(parts[0], parts[1], parts[2]))
    return tuple(found)


def _info(element: etree._Element, ns: str) -> CapInfo:
    def text(name: str, parent: etree._Element = element) -> str:
        child = parent.find(ns + name)
        return (child.text or "").strip() if child is not None else ""

    def pairs(name: str, parent: etree._Element = element) -> tuple[tuple[str, str], ...]:
        return tuple(
            (text("valueName", pair), text("value", pair)) for pair in parent.findall(ns + name)
        )

    areas = element.findall(ns + "area")
    if len(areas) > MAX_AREAS_PER_INFO:
        raise _Invalid(
            f"an <info> has {len(areas)} areas; the limit is {MAX_AREAS_PER_INFO}",
            element.sourceline,
        )

    def optional_time(name: str) -> datetime | None:
        value = text(name)
        return _time(value) if value else None

    return CapInfo(
        language=text("language") or "en-US",
        categories=tuple(c.text.strip() for c in element.findall(ns + "category") if c.text),
        event=text("event"),
        urgency=text("urgency"),
        severity=text("severity"),
        certainty=text("certainty"),
        response_types=tuple(
            r.text.strip() for r in element.findall(ns + "responseType") if r.text
        ),
        effective=optional_time("effective"),
        onset=optional_time("onset"),
        expires=optional_time("expires"),
        sender_name=text("senderName"),
        headline=text("headline"),
        description=text("description"),
        instruction=text("instruction"),
        web=text("web"),
        event_codes=pairs("eventCode"),
        areas=tuple(_area(area, ns, text, pairs) for area in areas),
    )


def _area(element: etree._Element, ns: str, text: Any, pairs: Any) -> CapArea:
    polygons = []
    for polygon in element.findall(ns + "polygon"):
        points = _points(polygon.text or "", polygon.sourceline)
        if len(points) < 4:
            raise _Invalid(
                f"<polygon> has {len(points)} points; CAP needs at least four, the first "
                "and last the same",
                polygon.sourceline,
            )
        polygons.append(points)
    circles = []
    for circle in element.findall(ns + "circle"):
        value = (circle.text or "").strip()
        centre, _, radius = value.partition(" ")
        points = _points(centre, circle.sourceline)
        try:
            km = float(radius)
        except ValueError:
            km = math.nan
        if len(points) != 1 or not math.isfinite(km) or km < 0:
            raise _Invalid(
                f"<circle> {value[:60]!r} is not 'latitude,longitude radius-in-km'",
                circle.sourceline,
            )
        circles.append((points[0][0], points[0][1], km))
    return CapArea(
        description=text("areaDesc", element),
        polygons=tuple(polygons),
        circles=tuple(circles),
        geocodes=pairs("geocode", element),
    )


def _points(value: str, line: int | None) -> tuple[tuple[float, float], ...]:
    pairs = value.split()
    if len(pairs) > MAX_POINTS_PER_SHAPE:
        raise _Invalid(f"a shape has {len(pairs):,} points; the limit is 5,000", line)
    points = []
    for pair in pairs:
        latitude, _, longitude = pair.partition(",")
        try:
            lat, lon = float(latitude), float(longitude)
        except ValueError:
            raise _Invalid(f"{pair[:40]!r} is not a 'latitude,longitude' point", line) from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise _Invalid(f"{pair[:40]!r} is outside the WGS 84 range", line)
        points.append((lat, lon))
    return tuple(points)


def _time(value: str) -> datetime:
    # The schema has checked the shape (seconds and a numeric offset, as CAP requires).
    return datetime.fromisoformat(value).astimezone(UTC)


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def iter_text(info: CapInfo) -> Iterator[str]:
    """The parts of an ``<info>`` a reader sees, in order, for the signal's text."""
    for part in (info.headline or info.event, info.description, info.instruction):
        if part:
            yield part
