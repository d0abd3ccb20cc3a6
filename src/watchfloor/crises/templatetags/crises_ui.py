"""Presentation helpers for the crisis pages. They format; they decide nothing."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from watchfloor.crises.models import Level

register = template.Library()


@register.filter
def level_label(value: str) -> str:
    try:
        return Level(value).label
    except ValueError:
        return str(value)


@register.simple_tag
def level_badge(level: str) -> SafeString:
    return format_html('<span class="level level-{}">{}</span>', level, level_label(level))


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key) if isinstance(mapping, dict) else None
