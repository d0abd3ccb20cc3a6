"""Which characters a page draws as a missing-glyph box ("tofu"), and with which fonts.

Chromium draws a character no installed font covers with the missing-glyph box of the
element's first font. So each character of a text is drawn alone, in a span beside the
text (same language, same font stack), and compared with the box drawn for a code point
that is certainly missing (an unassigned one): a character is missing when it was drawn
by the same font as that box, at the same width, and looks the same pixel for pixel.
Width alone is not enough: a Thai consonant in Noto Sans Thai is exactly as wide as Noto
Sans's box (0.6 em)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

# Unassigned code points: no font may have a glyph for them.
MISSING = "\u0378"

_PROBE = """
([selector, missing]) => {
  const results = [];
  document.querySelectorAll(selector).forEach((element, index) => {
    // One glyph a line, each at the same x, so equal glyphs give equal pixels.
    const probe = document.createElement("div");
    probe.className = "glyph-probe";
    probe.lang = element.closest("[lang]") ? element.closest("[lang]").lang : "";
    probe.style.cssText =
      "display: flex; flex-direction: column; align-items: flex-start;" +
      "font-size: 32px; line-height: 48px; text-decoration: none;";
    element.after(probe);
    const characters = [missing, ...new Set(Array.from(element.textContent.trim()))];
    characters.forEach((character, position) => {
      const span = document.createElement("span");
      span.id = `glyph-${index}-${position}`;
      span.textContent = character;
      probe.append(span);
    });
    results.push({
      text: element.textContent.trim(),
      lang: probe.lang,
      glyphs: characters.map((character, position) => ({
        character,
        id: `glyph-${index}-${position}`,
        width: document.getElementById(`glyph-${index}-${position}`).getBoundingClientRect().width,
      })),
    });
  });
  return results;
}
"""


@dataclass(frozen=True)
class TextReport:
    text: str
    lang: str
    missing: list[str]  # the characters drawn as the missing-glyph box
    fonts: set[str]  # the font families that drew the text's own characters


def _worth_checking(character: str) -> bool:
    """Every font has ASCII; spaces and control characters draw nothing."""
    return ord(character) > 127 and unicodedata.category(character) not in {
        "Cc",
        "Cf",
        "Zs",
        "Zl",
        "Zp",
    }


def check_glyphs(page: Any, selector: str) -> list[TextReport]:
    """Draw each character of every element matching ``selector`` next to it and report
    the ones drawn as the missing-glyph box."""
    session = page.context.new_cdp_session(page)
    session.send("DOM.enable")
    session.send("CSS.enable")
    root = session.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]

    def font_of(element_id: str) -> str:
        node = session.send("DOM.querySelector", {"nodeId": root, "selector": f"#{element_id}"})
        fonts = session.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
        return fonts[0]["familyName"] if fonts else ""

    reports = []
    for result in page.evaluate(_PROBE, [selector, MISSING]):
        box, *glyphs = result["glyphs"]
        box_font = font_of(box["id"])
        box_image = page.locator(f"#{box['id']}").screenshot()
        missing, fonts = [], set()
        for glyph in glyphs:
            if not _worth_checking(glyph["character"]):
                continue
            font = font_of(glyph["id"])
            if (
                font == box_font
                and abs(glyph["width"] - box["width"]) < 0.5
                and page.locator(f"#{glyph['id']}").screenshot() == box_image
            ):
                missing.append(glyph["character"])
            else:
                fonts.add(font)
        reports.append(TextReport(result["text"], result["lang"], missing, fonts))
    page.evaluate("document.querySelectorAll('.glyph-probe').forEach((probe) => probe.remove())")
    return reports
