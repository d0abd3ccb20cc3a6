"""Turning reviewed text into what a person reads: template variables filled in, and the
small Markdown subset that step instructions use rendered as safe HTML.

The Markdown subset is deliberately small (paragraphs, bulleted and numbered lists,
**bold**, *emphasis*, `code` and https links): instructions are read at 3 a.m., and
everything else is escaped, so a playbook file can never inject markup into the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from watchfloor.playbooks.schema import VARIABLE

_BULLET = re.compile(r"^\s*[-*]\s+(?P<text>.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(?P<text>.*)$")
_HEADING = re.compile(r"^(?P<marks>#{1,4})\s+(?P<text>.*)$")
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_EMPHASIS = re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?!\*)")
_LINK = re.compile(r"\[([^\]]+)\]\((https://[^\s)]+)\)")


def fill_variables(text: str, values: Mapping[str, str], *, missing: str = "[{name}]") -> str:
    """Replace each ``{{ name }}``; a name without a value shows as ``[name]``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        value = values.get(name)
        return value if value else missing.format(name=name)

    return VARIABLE.sub(replace, text)


def _inline(text: str) -> str:
    html: str = escape(text)
    html = _CODE.sub(r"<code>\1</code>", html)
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    html = _EMPHASIS.sub(r"<em>\1</em>", html)
    return _LINK.sub(r'<a href="\2" rel="noopener noreferrer">\1</a>', html)


def render_markdown(text: str) -> SafeString:
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag = ""

    def flush_paragraph() -> None:
        if paragraph:
            blocks.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()

    def flush_list() -> None:
        nonlocal list_tag
        if items:
            body = "".join(f"<li>{_inline(item)}</li>" for item in items)
            blocks.append(f"<{list_tag}>{body}</{list_tag}>")
            items.clear()
        list_tag = ""

    for line in (text or "").splitlines():
        if not line.strip():
            flush_paragraph()
            flush_list()
            continue
        bullet, numbered = _BULLET.match(line), _NUMBERED.match(line)
        heading = _HEADING.match(line)
        listed = bullet or numbered
        if listed:
            flush_paragraph()
            tag = "ul" if bullet else "ol"
            if list_tag and list_tag != tag:
                flush_list()
            list_tag = tag
            items.append(listed.group("text"))
        elif heading:
            flush_paragraph()
            flush_list()
            # Headings inside a step sit below the step's own title (an h4 in the panel).
            blocks.append(f"<h5>{_inline(heading.group('text'))}</h5>")
        elif items and line.startswith(("  ", "\t")):
            items[-1] += " " + line.strip()  # a list item continued on the next line
        else:
            flush_list()
            paragraph.append(line.strip())
    flush_paragraph()
    flush_list()
    return mark_safe("\n".join(blocks))
