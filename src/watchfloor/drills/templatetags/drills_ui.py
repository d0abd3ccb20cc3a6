"""Template filters of the drill pages."""

from __future__ import annotations

from typing import Any

from django import template

from watchfloor.drills.scoring import score_text as _score_text

register = template.Library()


@register.filter
def score_text(score: dict[str, Any] | None) -> str:
    """A kept score as people read it: "95.5%", or "not scored: nothing was due"."""
    return _score_text(score)
