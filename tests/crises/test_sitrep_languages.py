"""Sitreps in the team's languages: every default template speaks en, ja, ko, zh-Hant,
zh-Hans, id, th and hi with the English variables and words; a translation that drops or
invents one is refused with its file and line; a draft opens in its audience's language."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from watchfloor.crises.config import (
    DEFAULT_WORDS,
    PACKAGE_DEFAULTS,
    CrisisConfigError,
    read_crisis_config,
)
from watchfloor.crises.drafting import default_sitrep_language
from watchfloor.playbooks.consistency import variables_in

TEAM_LANGUAGES = ("en", "ja", "ko", "zh-Hant", "zh-Hans", "id", "th", "hi")


@pytest.fixture
def settings_dir(tmp_path: Path) -> Path:
    shutil.copy(PACKAGE_DEFAULTS / "crisis.yaml", tmp_path / "crisis.yaml")
    shutil.copytree(PACKAGE_DEFAULTS / "sitreps", tmp_path / "sitreps")
    return tmp_path


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def problems(directory: Path) -> list[str]:
    with pytest.raises(CrisisConfigError) as error:
        read_crisis_config(directory)
    return [str(p) for p in error.value.problems]


def test_every_sitrep_template_speaks_the_teams_languages_with_the_english_variables():
    config = read_crisis_config(PACKAGE_DEFAULTS)
    for code, loaded in config.templates.items():
        spec = loaded.spec
        assert tuple(spec.bodies) == TEAM_LANGUAGES, code
        english = spec.bodies["en"]
        for language, body in spec.bodies.items():
            assert variables_in(body.subject) == variables_in(english.subject), (code, language)
            assert variables_in(body.body) == variables_in(english.body), (code, language)
            assert "TODO" not in body.body and "[" + language + "]" not in body.body
        # Each language but English gives every word its template uses.
        for language in TEAM_LANGUAGES[1:]:
            words = spec.words.get(language, {})
            if code == "external":
                assert set(words) == {"none"}, (code, language)
            else:
                needed = set(DEFAULT_WORDS) - ({"section.new"} if code == "partners" else set())
                if language == "ja":
                    needed -= {"section.new"}
                assert needed <= set(words), (code, language, needed - set(words))
                assert all(words[key] != DEFAULT_WORDS[key] for key in needed), (code, language)


def test_a_translation_that_drops_a_variable_is_refused_with_its_line(settings_dir):
    replace_in(
        settings_dir / "sitreps" / "leadership.yaml",
        "결정 사항:\n      {{ decisions }}",
        "결정 사항:\n      {{ decision }}",
    )
    found = problems(settings_dir)
    line = next(
        number
        for number, text in enumerate(
            (settings_dir / "sitreps" / "leadership.yaml").read_text().splitlines(), start=1
        )
        if text.strip() == "ko:"
    )
    parity = [p for p in found if "lacks" in p]
    assert parity == [
        f"sitreps/leadership.yaml:{line + 2}: bodies.ko.body: the 'ko' body lacks "
        "{{ decisions }} and adds {{ decision }}: every language must use the variables of "
        "the English body"
    ], found


def test_a_translated_word_that_drops_a_placeholder_is_refused_with_its_line(settings_dir):
    path = settings_dir / "sitreps" / "partners.yaml"
    replace_in(
        path,
        'counts.linked: "กรณียกระดับที่เชื่อมโยง: {total} กรณี (ยังเปิดอยู่ {open} กรณี)"',
        'counts.linked: "กรณียกระดับที่เชื่อมโยง: {total} กรณี"',
    )
    line = next(
        number
        for number, text in enumerate(path.read_text().splitlines(), start=1)
        if 'กรณียกระดับที่เชื่อมโยง: {total} กรณี"' in text
    )
    assert problems(settings_dir) == [
        f"sitreps/partners.yaml:{line}: words.th.counts.linked: the 'th' word 'counts.linked' "
        "uses {total}; the English one uses {open}, {total}: use the same"
    ]


@pytest.fixture
def korean_crisis(make_escalation, analyst, frozen_clock):
    from watchfloor.crises.services import declare_crisis

    escalation = make_escalation(
        type_code="scam_campaign",
        title="Fake relief fund accounts after the Gangwon wildfires",
        markets=["KR"],
        languages=["ko"],
    )
    return declare_crisis(
        actor=analyst, title="Gangwon wildfire scams", level="incident", declared_from=escalation
    )


def draft_page(client: Client, crisis, query: str = ""):
    page = client.get(reverse("crisis-sitrep", args=[crisis.pk]) + query)
    assert page.status_code == 200
    return page


def test_partners_and_the_public_get_the_markets_language_leadership_english(
    korean_crisis, analyst
):
    client = Client()
    client.force_login(analyst)
    partners = draft_page(client, korean_crisis, "?audience=partners").context["draft"]
    assert partners.language == "ko"
    assert partners.subject.startswith("[인시던트] CR-")
    assert "파트너 공유 보고 제1보" in partners.subject
    assert "사고 지휘관:" in partners.body and "{{" not in partners.body
    external = draft_page(client, korean_crisis, "?audience=external").context["draft"]
    assert external.language == "ko" and "당사 대응 현황 안내" in external.subject
    assert draft_page(client, korean_crisis).context["draft"].language == "en"
    # The author may still pick another language.
    chosen = draft_page(client, korean_crisis, "?audience=partners&language=ja")
    assert chosen.context["draft"].language == "ja"


def test_an_audiences_own_languages_come_first_and_english_is_the_fallback(
    korean_crisis, settings_dir
):
    config = read_crisis_config(PACKAGE_DEFAULTS)
    template = config.template("leadership").spec
    leadership = config.settings.audience("leadership")
    assert (
        default_sitrep_language(crisis=korean_crisis, audience=leadership, template=template)
        == "en"
    )
    in_seoul = leadership.model_copy(update={"languages": ["ko-KR"]})
    assert (
        default_sitrep_language(crisis=korean_crisis, audience=in_seoul, template=template) == "ko"
    )
    unknown = leadership.model_copy(update={"languages": ["sw"], "detail": "public"})
    korean_crisis.languages = ["ms"]
    assert default_sitrep_language(crisis=korean_crisis, audience=unknown, template=template) == (
        "ko"
    ), "the market's language after the audience's and the crisis's"
