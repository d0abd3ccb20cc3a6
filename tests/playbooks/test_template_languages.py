"""Partner and authority templates open in their reader's language: a regulator or a
partner team in the market's, the public in the content's, industry partners in English."""

from __future__ import annotations

import pytest

from watchfloor.core.languages import preferred_language
from watchfloor.playbooks.communications import preview_template

pytestmark = pytest.mark.usefixtures("library", "frozen_clock")


@pytest.mark.parametrize(
    ("markets", "languages", "template", "expected", "words"),
    [
        (["KR"], ["en"], "partner_escalation_update", "ko", "검토 결과 회신"),
        (["TW"], ["en"], "partner_escalation_update", "zh-Hant", "審查結果回覆"),
        (["SG"], ["zh-Hans"], "partner_escalation_update", "en", "our answer"),
        (["TH"], ["en"], "regulator_acknowledgement", "th", "หนังสือแจ้ง"),
        (["IN"], ["en"], "regulator_acknowledgement", "hi", "की गई कार्रवाई"),
        (["ID"], ["en"], "regulator_acknowledgement", "id", "tindakan yang telah diambil"),
        (["KR"], ["ko"], "industry_incident_notice", "en", "Active incident"),
        (["JP"], ["ko"], "scam_user_warning", "ko", "사기에 주의하세요"),
    ],
)
def test_a_template_opens_in_its_readers_language(
    make_escalation, markets, languages, template, expected, words
):
    escalation = make_escalation(markets=markets, languages=languages)
    preview = preview_template(escalation=escalation, template_code=template)
    assert preview.language == expected
    assert words in preview.subject
    assert "{{" not in preview.subject + preview.body


def test_a_language_is_matched_by_its_tag_never_by_a_shorter_text_tag():
    assert preferred_language(["ko-KR", "en"], ["en", "ko"]) == "ko"
    assert preferred_language(["zh-Hans"], ["en", "zh-Hant"]) == "en"
    assert preferred_language(["ZH-hant"], ["en", "zh-Hant"]) == "zh-Hant"
    assert preferred_language([], ["ja"], fallback="en") == "en"
