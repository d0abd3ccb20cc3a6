"""What the triage score reads in a text: the cues in words and the wording n-grams.

``CUES`` is the vocabulary of the hand-made features (eyewitness accounts, requests for
help, casualties, warnings, prayers, jokes...), each a short list of terms in the
languages of ``signals.triage``'s docstring; ``cue_values`` finds them in a text, and
``ngram_buckets`` hashes its character n-grams. The weights and the score built from
them are ``signals.triage``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np

from watchfloor.signals.text import links_in, normalise_text, shingle_hashes

NGRAM_SIZES = (2, 3, 4)


@dataclass(frozen=True)
class Cue:
    label: str
    # +1: may only raise the score; -1: may only lower it; 0: either.
    sign: int
    terms: tuple[str, ...]


# Terms are normalised like the texts (so "I'm" is "i m" and ｗｗ is ww). A term of Latin,
# Cyrillic or Greek letters matches whole words; a trailing "*" makes it a prefix
# ("injur*": injured, injuries). Terms in other scripts (written without spaces, or with
# particles attached) match anywhere. The lists are written from general knowledge of
# each language, not from the evaluation's mistakes.
# fmt: off
CUES: dict[str, Cue] = {
    "eyewitness": Cue(
        "first-person eyewitness cue",
        +1,
        (
            # en
            "i felt", "we felt", "just felt", "felt it", "felt that", "i saw", "we saw",
            "i heard", "we heard", "just heard", "i can see", "i see", "i m at", "im at",
            "here in", "my house", "our house", "my street", "my building", "my office",
            "outside my", "near my", "we re ok", "i m ok", "im ok", "we are safe",
            "shaking", "shook", "i m in", "we re in",
            # ja
            "揺れた", "揺れてる", "揺れている", "今揺れ", "今の地震", "私の", "うちの",
            "家が", "目の前", "近所", "見た", "聞こえた", "停電した",
            # ko
            "나는", "우리 집", "우리집", "방금", "흔들렸", "흔들려", "느꼈", "봤어", "들었",
            "지금 여기",
            # zh
            "我们", "我家", "我在", "刚才", "感觉到", "震感", "看到", "听到", "摇晃",
            # th
            "ฉัน", "บ้านผม", "บ้านฉัน", "รู้สึกได้", "สั่น", "เห็น", "ได้ยิน",
            # id / ms
            "saya", "aku", "kami", "rumah saya", "rumahku", "terasa", "merasakan",
            "barusan", "goyang",
            # hi
            "मैं", "मेरे घर", "महसूस", "झटके", "देखा", "सुना",
            # vi, fil
            "tôi", "chúng tôi", "nhà tôi", "cảm thấy", "ramdam", "bahay namin",
            # es, pt, it, fr
            "sentí", "sentimos", "se sintió", "se sintio", "mi casa", "aquí en",
            "aqui en", "estoy", "estamos", "eu vi", "minha casa", "aqui em", "estou",
            "ho sentito", "abbiamo sentito", "casa mia", "j ai senti", "chez moi",
            "j ai vu",
        ),
    ),
    "help_request": Cue(
        "request for help",
        +1,
        (
            "help", "need", "needs", "needed", "rescu*", "trapped", "stranded", "sos",
            "urgent*", "please send", "looking for",
            "助けて", "救助", "求む", "必要です", "足りない", "救援", "閉じ込め", "取り残",
            "도와주세요", "도움", "구조", "필요", "갇혀", "고립", "긴급",
            "救命", "求助", "需要", "被困", "急需", "帮助",
            "ช่วยด้วย", "ช่วยเหลือ", "ต้องการ", "ติดอยู่", "กู้ภัย",
            "tolong", "bantuan", "butuh", "membutuhkan", "terjebak", "darurat",
            "मदद", "बचाओ", "बचाव", "फंसे", "ज़रूरत", "जरूरत", "सहायता",
            "cứu", "giúp", "mắc kẹt", "tulong", "saklolo", "kailangan",
            "ayuda", "auxilio", "rescate", "atrapad*", "necesit*", "urgente", "socorro",
            "ajuda", "resgate", "precisa*", "aiuto", "soccors*", "intrappolat*",
            "bisogno", "aide", "secours", "besoin",
        ),
    ),
    "casualties": Cue(
        "casualties",
        +1,
        (
            "dead", "death*", "died", "dies", "killed", "kills", "injur*", "hurt",
            "wounded", "missing", "victim*", "casualt*", "fatalit*", "bodies", "toll",
            "hospital*",
            "死者", "死亡", "亡くな", "負傷", "けが", "怪我", "重傷", "軽傷", "行方不明",
            "犠牲", "遺体", "心肺停止",
            "사망", "숨져", "부상", "다쳐", "실종", "희생", "사상자", "시신",
            "遇难", "丧生", "受伤", "伤者", "失踪", "罹难", "伤亡", "遗体",
            "เสียชีวิต", "บาดเจ็บ", "สูญหาย", "ศพ",
            "tewas", "meninggal", "korban", "luka", "hilang", "jenazah",
            "मौत", "मृत", "मारे", "घायल", "लापता", "हताहत", "शव",
            "tử vong", "bị thương", "mất tích", "thiệt mạng", "nạn nhân",
            "patay", "namatay", "sugatan", "nawawala", "biktima",
            "muert*", "fallecid*", "herid*", "víctima*", "victima*", "desaparecid*",
            "mortos", "morto", "mortes", "feridos", "ferido", "vítima*", "vitima*",
            "morti", "morto", "vittim*", "ferit*", "dispers*", "decedut*",
            "tué*", "blessé*", "victime*", "disparu*", "décès",
        ),
    ),
    "damage": Cue(
        "damage",
        +1,
        (
            "damag*", "destroy*", "collaps*", "flood*", "fire", "fires", "burn*",
            "explosion*", "exploded", "blast", "derail*", "crash*", "wreck*", "rubble",
            "debris", "power out*", "outage*", "blackout", "cracked",
            "倒壊", "崩れ", "被害", "損壊", "浸水", "冠水", "火災", "火事", "停電", "断水",
            "全壊", "半壊", "土砂", "決壊", "爆発", "脱線",
            "붕괴", "피해", "파손", "침수", "화재", "정전", "단수", "폭발", "탈선", "산사태",
            "倒塌", "损坏", "损毁", "受损", "火灾", "停电", "爆炸", "脱轨", "滑坡", "破坏",
            "เสียหาย", "พังทลาย", "ถล่ม", "น้ำท่วม", "ไฟไหม้", "ไฟดับ", "ระเบิด",
            "rusak", "runtuh", "roboh", "banjir", "kebakaran", "padam", "meledak",
            "longsor", "hancur",
            "नुकसान", "क्षति", "ढह", "बाढ़", "आग", "धमाका", "विस्फोट",
            "thiệt hại", "sập", "ngập", "cháy", "mất điện",
            "nasira", "gumuho", "baha", "sunog", "pagsabog",
            "daño*", "daños", "derrumb*", "destru*", "inund*", "incendio*", "explosi*",
            "colaps*", "descarril*", "dano*", "desab*", "alagad*", "incêndio*", "explos*",
            "danni", "crollat*", "crollo", "crolli", "distrutt*", "allagat*", "alluvion*",
            "dégât*", "dommage*", "effondr*", "détrui*", "inond*", "incendie*",
        ),
    ),
    "official_advice": Cue(
        "warning or official advice",
        +1,
        (
            "warning*", "alert*", "advisory", "evacuat*", "police", "officials",
            "official", "authorities", "fire department", "firefighters", "emergency",
            "red cross", "governor", "mayor", "closed", "closure*", "shelter*",
            "stay away", "avoid", "update*", "confirmed", "breaking",
            "警報", "注意報", "避難", "警察", "消防", "気象庁", "自衛隊", "政府", "発表",
            "速報", "通行止め", "津波",
            "경보", "주의보", "대피", "경찰", "소방", "당국", "정부", "발표", "속보", "통제",
            "预警", "警报", "撤离", "疏散", "警方", "官方", "通报", "快讯", "封闭",
            "เตือนภัย", "ประกาศ", "อพยพ", "ตำรวจ", "เจ้าหน้าที่", "รัฐบาล", "ด่วน",
            "peringatan", "waspada", "evakuasi", "mengungsi", "polisi", "bnpb", "bpbd",
            "pemerintah", "petugas", "siaga",
            "चेतावनी", "अलर्ट", "निकासी", "पुलिस", "प्रशासन", "सरकार", "अधिकारी",
            "cảnh báo", "sơ tán", "công an", "chính quyền", "khẩn cấp",
            "babala", "lumikas", "pulis", "awtoridad", "ndrrmc", "pagasa", "phivolcs",
            "alerta", "aviso", "evacu*", "policía", "policia", "bomberos", "autoridades",
            "gobierno", "protección civil", "proteccion civil", "cruz roja",
            "última hora", "ultima hora", "polícia", "bombeiros", "governo",
            "defesa civil", "allerta", "allarme", "polizia", "vigili del fuoco",
            "protezione civile", "autorità", "alerte", "évacu*", "pompiers", "autorités",
            "gouvernement",
        ),
    ),
    "donations": Cue(
        "donations or volunteering",
        +1,
        (
            "donat*", "volunteer*", "relief", "fundrais*", "supplies", "blood",
            "募金", "寄付", "義援金", "ボランティア", "献血", "支援物資",
            "기부", "모금", "성금", "자원봉사", "헌혈", "구호",
            "捐款", "捐赠", "募捐", "志愿者", "献血", "物资",
            "บริจาค", "อาสาสมัคร",
            "donasi", "sumbangan", "relawan", "donor darah", "posko",
            "दान", "स्वयंसेवक", "राहत", "रक्तदान",
            "quyên góp", "tình nguyện", "cứu trợ", "donasyon", "boluntaryo",
            "donar", "donación", "donacion*", "donativo*", "voluntari*", "víveres",
            "viveres", "acopio", "sangre", "doação", "doações", "doar", "voluntário*",
            "sangue", "donazion*", "donare", "volontari*", "raccolta fondi", "dons",
            "bénévole*", "don du sang",
        ),
    ),
    "media": Cue(
        "photo or video",
        +1,
        (
            "photo*", "pic", "pics", "picture*", "video*", "footage", "image*",
            "youtube", "instagram", "livestream*",
            "写真", "動画", "映像", "画像", "中継",
            "사진", "영상", "동영상",
            "照片", "视频", "图片", "直播",
            "ภาพ", "รูป", "คลิป", "วิดีโอ",
            "foto", "fotos", "gambar", "फोटो", "तस्वीर", "वीडियो", "ảnh", "litrato",
            "imágenes", "imagenes", "vídeo*", "imagens", "immagini", "vidéo*",
        ),
    ),
    "link": Cue("link to a report", +1, ()),
    "casualty_figures": Cue("casualty figures", +1, ()),
    "official_source": Cue("official or trusted source", +1, ()),
    "prayer": Cue(
        "prayers or condolences",
        -1,
        (
            "pray*", "thoughts", "rip", "r i p", "god bless", "bless*", "condolence*",
            "sympathy", "sympathies", "heart goes out", "hearts go out", "amen",
            "stay safe", "hope everyone", "hope all", "my heart",
            "祈り", "祈る", "祈って", "冥福", "お悔やみ", "無事で", "無事を祈", "頑張れ",
            "がんばれ", "心が痛",
            "기도", "명복", "애도", "힘내", "무사하길",
            "祈祷", "祈福", "保佑", "默哀", "哀悼", "一路走好",
            "อธิษฐาน", "ขอให้ปลอดภัย", "ภาวนา", "เป็นกำลังใจ", "ไว้อาลัย",
            "doa", "berdoa", "turut berduka", "semoga", "innalillahi", "prayfor*",
            "प्रार्थना", "दुआ", "श्रद्धांजलि", "भगवान",
            "cầu nguyện", "chia buồn", "dasal", "ipagdasal", "panalangin",
            "rezar", "rezo*", "oración", "oracion", "oremos", "dios", "condolencias",
            "fuerza", "orar", "oração", "oracao", "deus", "força", "condolências",
            "preghier*", "pregare", "preghiamo", "dio", "condoglianze", "prière*",
            "prions", "prier", "dieu", "condoléances",
        ),
    ),
    "joke": Cue(
        "joke or laughter",
        -1,
        (
            "lol", "lmao", "lmfao", "rofl", "haha*", "hehe*", "jk", "joke*", "kidding",
            "funny", "meme*",
            "笑", "ww", "www", "ワロタ", "草",
            "ㅋㅋ", "ㅎㅎ", "웃기",
            "哈哈", "笑死", "搞笑",
            "ตลก", "ฮ่า",
            "wkwk*", "lucu", "ngakak",
            "हाहा", "मज़ाक", "मजाक",
            "hihi", "buồn cười", "biro",
            "jaja*", "jeje*", "broma*", "chiste*", "kkkk*", "rsrs*", "piada*",
            "ahah*", "scherz*", "mdr", "ptdr", "blague*",
        ),
    ),
    "bare_retweet": Cue("bare retweet", -1, ()),
    "question": Cue("question", 0, ()),
    "short_text": Cue("very short or no text", 0, ()),
}
# fmt: on

# Sources whose reports count as official or trusted (contract.SOURCES).
TRUSTED_SOURCES = frozenset(
    {
        "government",
        "regulator",
        "law_enforcement",
        "external_alert",
        "trusted_flagger",
        "partner_referral",
        "media",
    }
)
FEATURE_LABELS: dict[str, str] = {name: cue.label for name, cue in CUES.items()} | {
    "wording": "wording (character patterns)"
}
FEATURES: tuple[str, ...] = tuple(CUES)

_LAUGHING = re.compile("[\U0001f602\U0001f923\U0001f606\U0001f639]")
_BARE_RETWEET = re.compile(r"^\s*rt\s*@", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_SPACED_TERM = re.compile(r"^[\sa-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff\u1e00-\u1eff*]+$")
_DENSE_LETTER = re.compile(
    "[\u0e00-\u0e7f\u0900-\u097f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    "\u1100-\u11ff\u3130-\u318f]"
)


def _term_needle(term: str) -> str:
    """What to look for in the normalised text padded with a space on each side: a term
    in a spaced script between spaces (whole words; a "*" prefix only after one), other
    terms as they are."""
    prefix = term.endswith("*")
    core = normalise_text(term.rstrip("*"))
    if not core:
        raise ValueError(f"triage cue term {term!r} is empty once normalised")
    if _SPACED_TERM.match(core):
        return " " + core + ("" if prefix else " ")
    return core


@cache
def _cue_needles() -> dict[str, tuple[str, ...]]:
    # Substring tests (C-level) rather than one regex alternation per cue: ten times
    # faster on a tweet, and the same matches (the normalised text has single spaces).
    return {
        name: tuple(dict.fromkeys(_term_needle(term) for term in cue.terms))
        for name, cue in CUES.items()
        if cue.terms
    }


def cue_values(text: str, *, has_link: bool = False, has_media: bool = False) -> dict[str, float]:
    """The text's hand-made features (0 or 1 each; ``official_source`` is the
    cluster's, not the text's, and is left out)."""
    normalised = normalise_text(text)
    folded = unicodedata.normalize("NFKC", text)
    padded = f" {normalised} "
    values = {
        name: 1.0 if any(needle in padded for needle in needles) else 0.0
        for name, needles in _cue_needles().items()
    }
    if _LAUGHING.search(folded):
        values["joke"] = 1.0
    if has_media:
        values["media"] = 1.0
    values["link"] = 1.0 if has_link or links_in(folded) else 0.0
    values["casualty_figures"] = 1.0 if values["casualties"] and _DIGIT.search(normalised) else 0.0
    values["bare_retweet"] = 1.0 if _BARE_RETWEET.match(folded) else 0.0
    values["question"] = 1.0 if "?" in folded else 0.0
    words = len(normalised.split())
    dense = len(_DENSE_LETTER.findall(normalised))
    # No text at all (only a link or media) counts too: there is nothing to read.
    values["short_text"] = 1.0 if words < 4 and dense < 12 else 0.0
    return values


def ngram_buckets(text: str, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """The text's character n-grams hashed to ``buckets`` (indexes, values): each distinct
    bucket once, its value its share of the n-grams over their root-sum-square, so a long
    text does not outweigh a short one."""
    normalised = _DIGIT.sub("0", normalise_text(text))
    if not normalised:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    # "_" marks word edges (shingle_hashes drops spaces).
    marked = "_" + normalised.replace(" ", "_") + "_"
    hashes = np.concatenate([shingle_hashes(marked, size) for size in NGRAM_SIZES])
    indexes, counts = np.unique(hashes % np.uint64(buckets), return_counts=True)
    values = counts.astype(np.float64)
    values /= math.sqrt(float(np.dot(values, values)))
    return indexes.astype(np.int64), values
