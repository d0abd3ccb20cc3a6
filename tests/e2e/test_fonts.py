"""Text in the team's languages renders with real glyphs, never as empty boxes, and each
CJK language with its own glyph shapes (the language stacks of web/watchfloor.css).

It needs the fonts docs/fonts.md lists (fonts-noto-core, fonts-noto-cjk,
fonts-noto-color-emoji; `.ci/run` installs them): where one is missing, the test fails and
says which text lost its glyphs."""

from __future__ import annotations

import os

import pytest

from tests.e2e.conftest import sign_in
from tests.e2e.glyphs import MISSING, check_glyphs

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are
# ordinary blocking calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct-horse-battery"

# (language tag, text, the font that must draw it on a machine with the Noto fonts)
SAMPLES = [
    ("ja", "市の公式アカウントが乗っ取られ、偽の避難指示を投稿", "Noto Sans CJK JP"),
    ("ko", "불꽃축제 공격 예고 게시물", "Noto Sans CJK KR"),
    ("zh-Hant", "颱風救災捐款詐騙帳號，請勿轉帳", "Noto Sans CJK TC"),
    ("zh-Hans", "台风救灾捐款诈骗账号，请勿转账", "Noto Sans CJK SC"),
    ("zh-HK", "香港颱風捐款詐騙", "Noto Sans CJK HK"),
    ("th", "ข่าวปลอมเรื่องเขื่อนแตกแพร่กระจาย", "Noto Sans Thai"),
    ("hi", "राज्य मंत्री का छेड़छाड़ किया गया वीडियो हटाएँ", "Noto Sans Devanagari"),
    ("en", "Evacuation hoax 🚨📢", "Noto Color Emoji"),
]
FONT_PACKAGES = "fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji (docs/fonts.md)"


@pytest.fixture
def titles_in_every_language(live_server, catalog):
    from watchfloor.escalations.filing import create_escalation
    from watchfloor.escalations.inputs import EscalationInput
    from watchfloor.people.models import Team
    from watchfloor.people.services import create_user

    analyst = create_user(
        username="aiko.analyst",
        password=PASSWORD,
        role="analyst",
        actor=None,
        team=Team.objects.get(code="site_policy"),
        time_zone="Asia/Tokyo",
    )
    for language, text, _font in SAMPLES:
        create_escalation(
            actor=analyst,
            details=EscalationInput(
                type_code="scam_campaign",
                title=text,
                markets=["JP"],
                languages=[language],
                source_kind="user_report",
            ),
        )
    return analyst


def test_every_language_renders_without_missing_glyphs(
    live_server, titles_in_every_language, chromium
):
    page = chromium.new_page(viewport={"width": 1440, "height": 900})
    sign_in(page, live_server.url, "aiko.analyst", PASSWORD)
    page.goto(f"{live_server.url}/")

    # The titles as the queue shows them.
    titles = check_glyphs(page, "table.queue .title-cell a")
    assert sorted(report.text for report in titles) == sorted(text for _l, text, _f in SAMPLES)
    for report in titles:
        assert report.missing == [], (
            f"{report.text!r} lost {report.missing} to missing-glyph boxes: install {FONT_PACKAGES}"
        )

    # Each language in its own font, as a title, summary or note marked with its language
    # gets it: Traditional Chinese with Traditional shapes, not the Japanese ones.
    page.evaluate(
        """(samples) => {
          const main = document.querySelector("main");
          for (const [language, text] of samples) {
            const sample = document.createElement("p");
            sample.lang = language;
            sample.className = "font-sample";
            sample.textContent = text;
            main.append(sample);
          }
        }""",
        [[language, text] for language, text, _font in SAMPLES],
    )
    by_language = {report.lang: report for report in check_glyphs(page, ".font-sample")}
    for language, text, font in SAMPLES:
        report = by_language[language]
        assert report.missing == [], f"{language}: {report.missing} missing: {FONT_PACKAGES}"
        assert font in report.fonts, f"{language} {text!r} drawn with {report.fonts}, not {font}"


def test_a_missing_glyph_is_found(live_server, catalog, chromium):
    """The check itself: an unassigned code point has no glyph in any font."""
    page = chromium.new_page(viewport={"width": 800, "height": 600})
    page.goto(f"{live_server.url}/login/")
    page.evaluate(
        """(text) => {
          const sample = document.createElement("p");
          sample.className = "font-sample";
          sample.textContent = text;
          document.querySelector("main").append(sample);
        }""",
        f"ก{MISSING}क",
    )
    (report,) = check_glyphs(page, ".font-sample")
    assert report.missing == [MISSING]
    assert {"Noto Sans Thai", "Noto Sans Devanagari"} <= report.fonts
