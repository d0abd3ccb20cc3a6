"""Language detection among the configured languages, BCP 47 out, None when unsure."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.signals.language import (
    DEFAULT_LANGUAGES,
    LanguageDetector,
    get_language_detector,
    han_tie_break,
    supported_languages,
)

# Short posts written for these tests, one per language, 20-50 characters.
POSTS = {
    "en": "Please stop sharing this video, it shows the attack",
    "ja": "赤十字を名乗る詐欺アカウントです",
    "ko": "적십자를 사칭하는 사기 계정입니다",
    "zh": "这个账号冒充红十字会骗钱",
    "th": "บัญชีนี้แอบอ้างเป็นสภากาชาด",
    "vi": "Tài khoản này giả danh Hội Chữ thập đỏ",
    "id": "Akun ini mengaku sebagai Palang Merah",
    "ms": "Sila berhenti berkongsi video ini",
    "tl": "Pakiusap huwag nang ibahagi ang video na ito",
    "hi": "पुल के पास पानी बढ़ रहा है",
    "bn": "সেতুর কাছে পানি বাড়ছে",
    "ta": "பாலத்தின் அருகே தண்ணீர் உயர்கிறது",
    "ur": "پل کے قریب پانی بڑھ رہا ہے",
    "ar": "هذا الحساب ينتحل صفة الهلال الأحمر",
    "es": "Esta cuenta se hace pasar por la Cruz Roja",
    "fr": "Ce compte se fait passer pour la Croix-Rouge",
    "de": "Dieses Konto gibt sich als Rotes Kreuz aus",
    "ru": "Этот аккаунт выдаёт себя за Красный Крест",
    "pt": "Esta conta está se passando pela Cruz Vermelha",
}


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return get_language_detector()


def test_the_default_set_covers_the_apac_first_languages():
    required = {"en", "ja", "ko", "zh", "th", "vi", "id", "ms", "tl", "hi"}
    required |= {"bn", "ta", "ur", "ar", "es", "fr", "de", "ru", "pt"}
    assert required <= set(DEFAULT_LANGUAGES)
    assert set(DEFAULT_LANGUAGES) <= supported_languages()


@pytest.mark.parametrize(("code", "text"), sorted(POSTS.items()))
def test_short_posts_are_detected_in_each_default_language(detector, code, text):
    assert detector.detect(text) == code


def test_long_texts_use_the_fast_mode_and_are_still_right(detector):
    long_japanese = "台風10号の被災者支援を装った詐欺アカウントに注意してください。" * 8
    long_english = "Accounts posing as the Red Cross are collecting donations by transfer. " * 6
    assert detector.detect(long_japanese) == "ja"
    assert detector.detect(long_english) == "en"


def test_urls_mentions_and_hashtags_do_not_make_a_post_english(detector):
    post = "@relief_watch #PrayForJapan https://example.com/news 詐欺アカウントに注意してください"
    assert detector.detect(post) == "ja"


@pytest.mark.parametrize(
    "text", [None, "", "ok", "詐欺", "👍👍👍", "https://t.co/abc @someone #tag", "12345 678"]
)
def test_too_little_text_is_not_guessed(detector, text):
    assert detector.detect(text) is None


def test_three_han_or_kana_characters_are_enough(detector):
    assert detector.detect("詐欺です") == "ja"


def test_detect_many_equals_detect_one_by_one(detector):
    texts = [*POSTS.values(), None, "ok", "台風の被害状況をまとめました。" * 10]
    assert detector.detect_many(texts) == [detector.detect(text) for text in texts]
    assert detector.detect_many([]) == []


def test_codes_are_bcp47_primary_language_subtags(detector):
    for text in POSTS.values():
        code = detector.detect(text)
        assert code is not None and len(code) == 2 and code.islower()


def test_the_getter_builds_one_detector_per_language_set():
    assert get_language_detector() is get_language_detector()
    assert get_language_detector(("en", "ja")) is not get_language_detector()


def test_a_smaller_set_only_answers_with_its_own_languages():
    detector = LanguageDetector(["ja", "en"], mode="low")
    assert detector.detect("这个账号冒充红十字会骗钱") in {"ja", "en", None}


@pytest.mark.parametrize(
    ("codes", "mode", "message"),
    [
        (["en", "xx"], "auto", "cannot detect xx"),
        (["en", "my"], "auto", "cannot detect my"),
        (["en"], "auto", "at least two"),
        (["en", "ja"], "fast", "mode"),
    ],
)
def test_impossible_configurations_are_refused(codes, mode, message):
    with pytest.raises(ValueError, match=message):
        LanguageDetector(codes, mode=mode)


# ---------------------------------------------------------------- the script first


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Mostly kanji, but a kana makes it Japanese (lingua alone said Chinese).
        ("津波警報発令中の地域", "ja"),
        ("震度6強の地震発生", "ja"),
        ("地震速報です", "ja"),
        ("バカじゃないの", "ja"),
        # Consonant-only Hangul, alone or with syllables.
        ("ㅋㅋㅋㅋㅋ", "ko"),
        ("ㅉㅉ 진짜 한심", "ko"),
        ("쓰 레 기", "ko"),
        ("น้ำท่วมหนักมาก", "th"),
        # Han alone cannot tell: lingua's answer stands.
        ("这个账号冒充红十字会骗钱", "zh"),
        # A Latin post quoting a Japanese word is not Japanese.
        ("The word for scam in Japanese is 詐欺, watch for it", "en"),
    ],
)
def test_short_texts_fall_back_to_their_script(detector, text, expected):
    assert detector.detect(text) == expected
    assert detector.detect_many([text]) == [expected]


def test_the_script_answers_only_with_a_configured_language():
    detector = LanguageDetector(["en", "zh"], mode="low")
    assert detector.detect("津波警報発令中の地域") == "zh"


_KANA = "あいうえおかきくけこさしすせそアイウエオカキクケコーｶﾀ"
_HAN = "地震津波警報発令中域速報馬鹿死"
_HANGUL = "가나다라마바사아자차카타파하쓰레기ㄱㄴㄷㅅㅂㅉㅋㅎ"


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=_KANA, min_size=1, max_size=10),
    st.text(alphabet=_HAN + " ", max_size=30),
)
def test_any_short_text_of_kana_and_han_with_a_kana_is_japanese(kana, han):
    text = han[: len(han) // 2] + kana + han[len(han) // 2 :]
    assert get_language_detector().detect(text) in {"ja", None}
    assert get_language_detector().detect(text + kana * 3) == "ja"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=_HANGUL + " ", min_size=3, max_size=40))
def test_any_short_hangul_text_is_korean(text):
    assert get_language_detector().detect(text) in {"ko", None}
    assert get_language_detector().detect(text + "ㅋㅋㅋ") == "ko"


@pytest.mark.parametrize(
    ("market_languages", "expected"),
    [
        (["ja", "en"], "ja"),  # Japan: the kanji headline is Japanese
        (["zh-Hant", "en"], "zh"),  # Taiwan
        (["zh-Hans", "ja"], "zh"),  # both spoken: the detection stands
        (["en"], "zh"),  # neither: the detection stands
        ([], "zh"),
    ],
)
def test_han_alone_is_settled_by_the_markets_languages(market_languages, expected):
    assert han_tie_break("zh", "地震速報", market_languages) == expected


def test_the_tie_break_leaves_texts_the_script_tells_alone():
    # Simplified forms Japanese does not write: a Chinese post in a Japanese market.
    assert han_tie_break("zh", "这个账号冒充红十字会骗钱", ["ja"]) == "zh"
    assert han_tie_break("zh", "這個帳號冒充紅十字會", ["ja"]) == "ja"
    assert han_tie_break("ko", "지진 速報", ["ja"]) == "ko"
    assert han_tie_break("en", "Earthquake now", ["ja"]) == "en"
    assert han_tie_break(None, "地震速報", ["ja"]) is None


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=_KANA, min_size=1, max_size=10),
    st.text(alphabet=_HAN + _HANGUL + " ", max_size=30),
    st.sampled_from([["ja"], ["zh-Hant"], ["en"], ["ja", "zh-Hans"]]),
)
def test_a_text_with_kana_is_never_changed_by_its_market(kana, other, market_languages):
    text = other + kana
    for detected in ("ja", "zh", None):
        assert han_tie_break(detected, text, market_languages) == detected
