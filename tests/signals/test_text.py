"""Near-identical text across scripts: normalisation, shingles, MinHash, LSH."""

from __future__ import annotations

import csv
import hashlib
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.signals.lsh import LSHIndex, lsh_bands
from watchfloor.signals.text import (
    DEFAULT_THRESHOLD,
    MinHasher,
    jaccard,
    jaccard_estimate,
    jaccard_of_texts,
    minhash,
    minhash_many,
    normalise_text,
    shingle_hashes,
    shingle_size,
    shingles,
    signature_from_bytes,
    signature_to_bytes,
    text_matches,
)

DATA = Path(__file__).parent / "data"

# (original, a re-post with small edits, a different message on the same subject)
REPOSTS = {
    "ja": (
        "【拡散希望】台風10号の被災者支援を装った詐欺アカウントに注意してください。"
        "DMで振込先を送ってきます。公式の窓口は市のホームページだけです。",
        "【拡散希望】台風10号の被災者支援を装った詐欺アカウントに注意して下さい！"
        "DMで振込先を送ってきます。公式の窓口は市のホームページだけです https://t.co/xyz",
        "台風10号の被災地への義援金は日本赤十字社の公式サイトから受け付けています。"
        "詐欺に注意してください。",
    ),
    "zh": (
        "紧急扩散：有人冒充红十字会在微信群里募捐台风灾区善款，请大家不要转账，"
        "官方捐款渠道请查看红十字会官网。",
        "紧急扩散!有人冒充红十字会在微信群里募捐台风灾区善款,请大家千万不要转账,"
        "官方捐款渠道请查看红十字会官网 @某某",
        "台风过后灾区急需饮用水和帐篷，红十字会官网已开通捐款渠道，请通过官方渠道捐款。",
    ),
    "ko": (
        "태풍 피해 지원금을 준다는 문자는 사기입니다. 링크를 누르지 마시고 바로 삭제하세요. "
        "정부는 문자로 개인정보를 요구하지 않습니다.",
        "[긴급] 태풍 피해 지원금을 준다는 문자는 사기입니다! 링크를 누르지 마시고 바로 "
        "삭제하세요. 정부는 문자로 개인정보를 요구하지 않습니다 http://bit.ly/x",
        "태풍 피해 지원금 신청은 주민센터에서 받습니다. 신분증을 지참하고 방문하세요.",
    ),
    "th": (
        "ระวังมิจฉาชีพแอบอ้างเป็นมูลนิธิช่วยเหลือผู้ประสบภัยน้ำท่วม ขอให้โอนเงินบริจาคผ่านบัญชีส่วนตัว อย่าโอนเงินเด็ดขาด",
        "ด่วน! ระวังมิจฉาชีพแอบอ้างเป็นมูลนิธิช่วยเหลือผู้ประสบภัยน้ำท่วม "
        "ขอให้โอนเงินบริจาคผ่านบัญชีส่วนตัว อย่าโอนเงินเด็ดขาด!!",
        "มูลนิธิช่วยเหลือผู้ประสบภัยน้ำท่วมเปิดรับบริจาคผ่านบัญชีของมูลนิธิเท่านั้น ตรวจสอบเลขบัญชีได้ที่เว็บไซต์",
    ),
    "hi": (
        "बाढ़ राहत के नाम पर फर्जी संदेश फैल रहा है। किसी भी लिंक पर क्लिक न करें और अपना "
        "ओटीपी किसी को न बताएं।",
        "सावधान! बाढ़ राहत के नाम पर फर्जी संदेश फैल रहा है। किसी भी लिंक पर क्लिक न करें और "
        "अपना ओटीपी किसी को न बताएं https://t.co/abc",
        "बाढ़ राहत शिविर में भोजन और दवाइयाँ उपलब्ध हैं। जरूरतमंद लोग नजदीकी शिविर से संपर्क करें।",
    ),
    "ar": (
        "احذروا من رسائل احتيالية تطلب التبرع لضحايا الزلزال عبر حسابات شخصية، "
        "التبرع فقط عبر الهلال الأحمر الرسمي.",
        "عاجل: احذروا من رسائل احتيالية تطلب التبرع لضحايا الزلزال عبر حسابات شخصية، "
        "التبرع فقط عبر الهلال الأحمر الرسمي @user",
        "الهلال الأحمر يعلن عن فتح مراكز إيواء جديدة لضحايا الزلزال في المدن المتضررة.",
    ),
    "en": (
        "Scam alert: accounts posing as the Red Cross are collecting typhoon donations by "
        "bank transfer. The Red Cross never asks for transfers by direct message.",
        "RT @relief_watch: SCAM ALERT - accounts posing as the Red Cross are collecting typhoon "
        "donations by bank transfer. The Red Cross never asks for transfers by DM!! "
        "https://t.co/q1",
        "The Red Cross has opened donation centres for typhoon victims in three cities; "
        "donate only through the official website.",
    ),
    "es": (
        "Cuidado: circulan cuentas falsas de la Cruz Roja que piden donaciones por "
        "transferencia para los afectados del terremoto.",
        "RT @alerta: ¡Cuidado! Circulan cuentas falsas de la Cruz Roja que piden donaciones "
        "por transferencia para los afectados del terremoto http://bit.ly/abc",
        "La Cruz Roja abrió centros de acopio para los afectados del terremoto en tres ciudades.",
    ),
}


# ---------------------------------------------------------------------------
# Normalisation


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("ＡＢＣ１２３　テスト！", "abc123 テスト"),
        ("ｶﾀｶﾅでｽﾐﾏｾﾝ", "カタカナでスミマセン"),
        ("Straße GROSS", "strasse gross"),
        ("RT @someone: Hello, World!!! https://t.co/abc #Typhoon", "hello world typhoon"),
        ("rt@someone: hi", "hi"),
        ("via @news see www.example.com/x now", "see now"),
        ("snake_case_words", "snake case words"),
        ("emoji 🙏🏽 and ★stars★", "emoji and stars"),
        ("ระวัง! มิจฉาชีพ", "ระวัง มิจฉาชีพ"),
        ("बाढ़ राहत।", "बाढ़ राहत"),
        ("بِسْمِ اللّٰه", "بِسْمِ اللّٰه"),
        ("中文，标点。符号", "中文 标点 符号"),
        ("  many\n\tspaces  ", "many spaces"),
        ("٣ ٤ digits ²", "٣ ٤ digits 2"),
        ("", ""),
    ],
)
def test_normalise_text(raw, normalised):
    assert normalise_text(raw) == normalised


def test_full_width_and_half_width_texts_are_the_same_text():
    full_width = "ＤＭで振込先を送ってくる詐欺アカウントに注意！ＵＲＬは開かないで"
    half_width = "DMで振込先を送ってくる詐欺アカウントに注意!URLは開かないで"
    half_width_kana = "DMで振込先を送ってくる詐欺ｱｶｳﾝﾄに注意!URLは開かないで"

    assert normalise_text(full_width) == normalise_text(half_width)
    assert normalise_text(half_width_kana) == normalise_text(half_width)
    assert np.array_equal(minhash(full_width), minhash(half_width_kana))


# ---------------------------------------------------------------------------
# Shingles


@pytest.mark.parametrize(
    ("language", "size"),
    [("ja", 3), ("zh", 3), ("ko", 3), ("th", 4), ("hi", 4), ("ar", 4), ("en", 4), ("es", 4)],
)
def test_shingle_size_follows_the_script(language, size):
    assert shingle_size(normalise_text(REPOSTS[language][0])) == size


def test_shingles_ignore_spaces_and_cover_unspaced_scripts():
    assert shingles("ab cd", k=3) == {"abc", "bcd"}
    assert shingles("詐欺です") == {"詐欺で", "欺です"}
    assert shingles("ok") == {"ok"}
    assert shingles("!!! https://t.co/x") == set()


def test_shingle_hashes_are_stable_across_processes():
    # Pinned values: a stored signature must mean the same thing tomorrow.
    hashes = shingle_hashes("abcd", k=3)
    assert hashes.tolist() == [int(value) for value in shingle_hashes("abcd", k=3)]
    assert len(hashes) == 2 and hashes[0] != hashes[1]
    assert np.array_equal(shingle_hashes("xabcd", k=3)[1:], hashes)


# ---------------------------------------------------------------------------
# Matching at the default threshold


@pytest.mark.parametrize("language", sorted(REPOSTS))
def test_a_repost_with_small_edits_matches(language):
    original, repost, _ = REPOSTS[language]

    assert jaccard_of_texts(original, repost) >= DEFAULT_THRESHOLD
    assert text_matches(minhash(original), minhash(repost))


@pytest.mark.parametrize("language", sorted(REPOSTS))
def test_a_different_message_on_the_same_subject_does_not_match(language):
    original, _, different = REPOSTS[language]

    assert jaccard_of_texts(original, different) < 0.5
    assert not text_matches(minhash(original), minhash(different))


def crisislex_pairs() -> list[tuple[str, str, str, str]]:
    with (DATA / "crisislex_near_duplicates.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    pairs: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        pairs.setdefault(row["pair"], []).append(row)
    return [(name, a["expected"], a["text"], b["text"]) for name, (a, b) in pairs.items()]


@pytest.mark.parametrize(
    ("expected", "first", "second"),
    [pair[1:] for pair in crisislex_pairs()],
    ids=[pair[0] for pair in crisislex_pairs()],
)
def test_crisis_retweets_match_and_related_tweets_do_not(expected, first, second):
    exact = jaccard_of_texts(first, second)
    estimated_match = text_matches(minhash(first), minhash(second))

    if expected == "match":
        assert exact >= 0.9
        assert estimated_match
    else:
        assert exact < 0.7
        assert not estimated_match


def test_the_shingle_size_trade_off_measured_on_crisis_headlines():
    headline = "New Mexico, Colorado fires burn out of control http://t.co/StksrcBK"
    rewrite = "RT @NBCNews: New Mexico, Colorado wildfires burn out of control http://t.co/G415N0Hi"
    other_quake = (
        "URGENTE: Sismo de magnitud 7.5 sacude Guatemala",
        "URGENTE: Sismo de magnitud 6.2 sacude Guatemala",
    )

    by_size = {k: jaccard(shingles(headline, k), shingles(rewrite, k)) for k in (3, 4, 5)}
    assert by_size[3] > by_size[4] > by_size[5]
    # k = 3 would join two reports of different magnitudes; k = 4 keeps them apart.
    assert jaccard(shingles(other_quake[0], 3), shingles(other_quake[1], 3)) >= 0.8
    assert jaccard_of_texts(*other_quake) < DEFAULT_THRESHOLD


# ---------------------------------------------------------------------------
# MinHash


def test_minhash_is_deterministic_and_pinned():
    signature = minhash("台風の義援金を装った詐欺アカウントに注意してください")
    assert signature.dtype == np.uint32 and signature.shape == (128,)
    # If this changes, every stored signature has changed meaning: bump the format.
    digest = hashlib.sha256(signature_to_bytes(signature)).hexdigest()
    assert digest == PINNED_SIGNATURE_SHA256


PINNED_SIGNATURE_SHA256 = "a6defa67e005889bc27176d6cb36431561eebeedf1dd74811e0c0900dd1aacf0"


def test_empty_text_has_no_signature():
    assert minhash("") is None
    assert minhash("!!! 🙏 https://t.co/x @user") is None


def test_batch_signatures_equal_single_ones():
    texts = [text for triple in REPOSTS.values() for text in triple] + ["", "ok", "x" * 5000]
    batch = minhash_many(texts)
    for text, signature in zip(texts, batch, strict=True):
        single = minhash(text)
        assert (single is None and signature is None) or np.array_equal(single, signature)


def test_the_estimate_tracks_the_exact_jaccard_similarity():
    generator = random.Random(3)

    def word() -> str:
        return "".join(generator.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(5))

    errors = []
    for _ in range(300):
        # Fresh words for every pair, so that the pairs' errors are independent.
        vocabulary = [word() for _ in range(12)]
        base = [generator.choice(vocabulary) for _ in range(30)]
        edited = [w if generator.random() > 0.3 else generator.choice(vocabulary) for w in base]
        a, b = " ".join(base), " ".join(edited)
        errors.append(jaccard_estimate(minhash(a), minhash(b)) - jaccard_of_texts(a, b))
    # 128 functions: the standard error of one estimate is at most 0.044 (at 0.5), so
    # the mean of 300 is within ±0.01 and no single one is off by 0.2.
    assert abs(float(np.mean(errors))) < 0.01
    assert max(abs(error) for error in errors) < 0.2


def test_signatures_survive_storage_as_bytes():
    signature = minhash("Scam alert: fake Red Cross accounts")
    stored = signature_to_bytes(signature)

    assert len(stored) == 6 + 128 * 4
    assert np.array_equal(signature_from_bytes(stored), signature)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda data: data[:3], "too short"),
        (lambda data: b"XX" + data[2:], "magic"),
        (lambda data: data[:2] + b"\x09" + data[3:], "format 9"),
        (lambda data: data[:-4], "bytes"),
    ],
)
def test_corrupt_signature_bytes_are_refused(corrupt, message):
    with pytest.raises(ValueError, match=message):
        signature_from_bytes(corrupt(signature_to_bytes(minhash("some text here"))))


def test_signatures_of_different_sizes_cannot_be_compared():
    with pytest.raises(ValueError, match="cannot be compared"):
        jaccard_estimate(minhash("abcdef"), MinHasher(64).signature("abcdef"))


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_any_text_hashes_identically_alone_and_in_a_batch(text):
    single = minhash(text)
    (batched,) = minhash_many([text])
    assert (single is None and batched is None) or np.array_equal(single, batched)


# ---------------------------------------------------------------------------
# LSH


def test_banding_for_the_default_threshold_keeps_pairs_at_the_threshold():
    bands, rows = lsh_bands(0.8, 128)

    assert (bands, rows) == (18, 7)
    assert 1 - (1 - 0.8**rows) ** bands >= 0.95
    assert 1 - (1 - 0.3**rows) ** bands < 0.01


@pytest.mark.parametrize("threshold", [0.5, 0.6, 0.7, 0.9])
def test_banding_reaches_the_recall_at_any_threshold(threshold):
    bands, rows = lsh_bands(threshold, 128)
    assert bands * rows <= 128
    assert 1 - (1 - threshold**rows) ** bands >= 0.95


def test_the_index_finds_reposts_among_unrelated_texts():
    index = LSHIndex()
    generator = random.Random(11)
    vocabulary = [f"word{i}" for i in range(2000)]
    for key in range(3000):
        text = " ".join(generator.choice(vocabulary) for _ in range(30))
        index.insert(key, minhash(text))
    for language, (original, _, _) in REPOSTS.items():
        index.insert(language, minhash(original))

    for language, (_, repost, different) in REPOSTS.items():
        matches = index.matches(minhash(repost))
        assert [match.key for match in matches] == [language]
        assert matches[0].similarity >= DEFAULT_THRESHOLD
        assert language not in {match.key for match in index.matches(minhash(different))}


def test_query_many_equals_query_and_remove_forgets():
    index = LSHIndex()
    texts = {language: triple[0] for language, triple in REPOSTS.items()}
    for language, text in texts.items():
        index.insert(language, minhash(text))
    index.insert("ja-copy", minhash(texts["ja"]))
    queries = [minhash(text) for text in texts.values()]

    assert index.query_many(queries) == [index.query(query) for query in queries]
    assert index.query(minhash(texts["ja"])) == {"ja", "ja-copy"}

    index.remove("ja")
    assert index.query(minhash(texts["ja"])) == {"ja-copy"}
    index.remove("ja-copy")
    index.remove("never-there")
    assert index.query(minhash(texts["ja"])) == set()
    assert len(index) == len(texts) - 1 and "ja" not in index


@settings(max_examples=40, deadline=None)
@given(
    stored=st.lists(st.lists(st.integers(0, 40), min_size=3, max_size=12), max_size=40),
    asked=st.lists(st.lists(st.integers(0, 40), min_size=3, max_size=12), max_size=5),
    pairs_per_call=st.sampled_from([1, 3, 10_000]),
)
def test_matches_many_confirms_exactly_the_candidates_at_the_threshold(
    stored, asked, pairs_per_call
):
    """Texts from a small vocabulary share bands often: every candidate is compared and
    only those at or above the threshold come back, most similar first, however the
    pairs are split between numpy calls."""
    index = LSHIndex()
    index._PAIRS_PER_CALL = pairs_per_call
    for key, words in enumerate(stored):
        index.insert(key, minhash(" ".join(f"w{w}" for w in words)))
    queries = [minhash(" ".join(f"w{w}" for w in words)) for words in asked]

    found = index.matches_many(queries)

    for query, matches in zip(queries, found, strict=True):
        expected = {}
        for key in index.query(query):
            same = np.count_nonzero(index._matrix[index._row_of[key]] == query)
            similarity = same / index.num_perm
            if similarity >= index.threshold:
                expected[key] = similarity
        assert {match.key: match.similarity for match in matches} == expected
        assert [m.similarity for m in matches] == sorted(expected.values(), reverse=True)


def test_inserting_a_key_again_replaces_its_signature():
    index = LSHIndex()
    index.insert("k", minhash(REPOSTS["en"][0]))
    index.insert("k", minhash(REPOSTS["ko"][0]))

    assert index.query(minhash(REPOSTS["en"][0])) == set()
    assert index.query(minhash(REPOSTS["ko"][0])) == {"k"}


def test_a_signature_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="takes 128"):
        LSHIndex().query(MinHasher(64).signature("some text"))
