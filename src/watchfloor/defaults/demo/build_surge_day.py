"""Build ``surge_day.jsonl``, the demo's replayable surge (see surge_day.SOURCE.txt).

    python build_surge_day.py PATH/TO/crisislex [--output surge_day.jsonl]

Real part: the CrisisLexT26 tweets labelled for the 2012 Costa Rica earthquake (M7.6,
14:42 UTC on 5 September 2012) posted in the four hours after it, verbatim, each at the
time its id encodes (a tweet id is a snowflake: ``(id >> 22) + 1288834974657`` is the
posting time in milliseconds since the Unix epoch). They come in as a crisis-watch
detector's hits.

Synthetic part (made-up text, accounts and links; fixed random seed): a steady APAC
background of reports from 08:00 UTC, a regulator notice, a partner referral, and two
scam waves that ride the earthquake (a fake relief page in the Philippines, a fake
donation site in Japan).

Running it again gives the same file.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

EVENT = "2012_Costa_Rica_earthquake"
QUAKE = datetime(2012, 9, 5, 14, 42, tzinfo=UTC)
DAY_START = datetime(2012, 9, 5, 8, 0, tzinfo=UTC)
TWEETS_FROM = datetime(2012, 9, 5, 14, 40, tzinfo=UTC)
TWEETS_UNTIL = TWEETS_FROM + timedelta(hours=4)
TWITTER_EPOCH_MS = 1288834974657

# (market, language, policy hint, text): what an ordinary APAC shift sees.
BACKGROUND = [
    ("JP", "ja", "scams_fraud", "副業で月50万円稼げると勧誘してくるアカウントです。"),
    ("JP", "ja", "phishing_malware", "宅配業者を装ったメッセージの偽サイトへのリンクです。"),
    ("JP", "ja", "abuse_harassment", "特定の人への嫌がらせの投稿を繰り返しています。"),
    ("KR", "ko", "scams_fraud", "고수익을 보장한다는 투자 사기 계정입니다."),
    ("KR", "ko", "phishing_malware", "택배 문자를 사칭한 피싱 링크입니다."),
    ("TW", "zh-Hant", "impersonation", "這個帳號假冒客服騙取驗證碼。"),
    ("HK", "zh-Hant", "scams_fraud", "這是假的投資群組，叫人先轉帳。"),
    ("PH", "tl", "scams_fraud", "Scam po ito, humihingi ng bayad bago ipadala ang premyo."),
    ("PH", "en", "phishing_malware", "Fake e-wallet promo, the link asks for your PIN."),
    ("ID", "id", "scams_fraud", "Akun ini menipu dengan investasi bodong berbunga tinggi."),
    ("ID", "id", "phishing_malware", "Tautan phishing yang mengaku dari bank."),
    ("MY", "ms", "impersonation", "Akaun ini menyamar sebagai pegawai bank."),
    ("SG", "en", "scams_fraud", "Job scam: pays you to like videos, then asks for a deposit."),
    ("SG", "zh-Hans", "impersonation", "这个账号冒充政府官员要求转账。"),
    ("TH", "th", "scams_fraud", "บัญชีนี้หลอกให้โอนเงินลงทุนคริปโต"),
    ("VN", "vi", "scams_fraud", "Tài khoản này lừa đảo đầu tư tiền ảo."),
    ("IN", "hi", "scams_fraud", "यह खाता नकली नौकरी का झांसा देकर पैसे मांग रहा है।"),
    ("IN", "en", "phishing_malware", "Fake loan app link asking for the OTP."),
    ("AU", "en", "abuse_harassment", "This account keeps posting abuse at a local teacher."),
    ("NZ", "en", "impersonation", "Someone is pretending to be our community helpline."),
]
PH_WAVE = [
    ("en", "Fake relief page collecting e-wallet donations for the earthquake victims."),
    ("tl", "Nanghihingi ng donasyon para sa lindol pero scam ito, hindi totoong charity."),
    ("en", "This earthquake donation account is a scam, it just opened today."),
    ("tl", "Huwag magpadala ng pera dito, pekeng relief drive ito para sa lindol."),
]
JP_WAVE = [
    "地震の義援金を装った詐欺サイトです。振り込まないでください。",
    "コスタリカ地震の募金をかたる偽サイトです。",
    "義援金詐欺です。公式の団体とは関係ありません。",
]


def snowflake_time(tweet_id: int) -> datetime:
    return datetime.fromtimestamp(((tweet_id >> 22) + TWITTER_EPOCH_MS) / 1000, tz=UTC)


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def real_tweets(crisislex: Path) -> list[dict]:
    path = crisislex / EVENT / f"{EVENT}-tweets_labeled.csv"
    signals = []
    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        next(reader)
        for tweet_id, text, source, kind, informativeness in reader:
            at = snowflake_time(int(tweet_id))
            if not TWEETS_FROM <= at < TWEETS_UNTIL:
                continue
            signals.append(
                {
                    "id": f"crisislex-{tweet_id}",
                    "received_at": stamp(at),
                    "source": "detector",
                    "subject": {"kind": "post", "ref": f"tweet:{tweet_id}"},
                    "text": text,
                    "policy_hint": "crisis_misinformation",
                    "attributes": {
                        "detector": "crisis-watch",
                        "crisislex": [source.strip(), kind.strip(), informativeness.strip()],
                    },
                }
            )
    return signals


def synthetic(rng: random.Random) -> list[dict]:
    signals: list[dict] = []
    number = 0

    def add(at: datetime, **fields) -> None:
        nonlocal number
        number += 1
        signal = {
            "id": f"demo-{number:05d}",
            "received_at": stamp(at),
            "reporter": f"user:{rng.randrange(10_000, 99_999)}",
        }
        signal.update(fields)
        signals.append(signal)

    # The background: about one report a minute, a few subjects reported more than once.
    repeated = [f"post:{rng.randrange(10**9, 10**10)}" for _ in range(12)]
    at = DAY_START
    end = TWEETS_UNTIL
    while at < end:
        market, language, policy, text = rng.choice(BACKGROUND)
        subject = (
            rng.choice(repeated)
            if rng.random() < 0.15
            else (f"post:{rng.randrange(10**9, 10**10)}")
        )
        add(
            at,
            source=rng.choice(["user_report"] * 8 + ["trusted_flagger", "detector"]),
            subject={"kind": "post", "ref": subject},
            text=text,
            market=market,
            language=language,
            policy_hint=policy,
        )
        at += timedelta(seconds=rng.randint(30, 150))

    # A regulator notice and a partner referral: trusted sources open escalations at once.
    add(
        DAY_START + timedelta(hours=2, minutes=15),
        source="regulator",
        subject={"kind": "account", "ref": "acct:demo_abuser_au"},
        text="Removal notice: cyber-abuse posts targeting a teacher (synthetic demo notice).",
        market="AU",
        language="en",
        policy_hint="abuse_harassment",
        attributes={"notice_reference": "DEMO-AU-0001"},
    )
    add(
        DAY_START + timedelta(hours=4),
        source="partner_referral",
        subject={"kind": "url", "ref": "https://bank-verify.example/sg/login"},
        url="https://bank-verify.example/sg/login",
        text="Customer Service: users report a fake bank login page spreading in replies.",
        market="SG",
        language="en",
        policy_hint="phishing_malware",
        attributes={"partner_team": "customer_service"},
    )

    # Scam waves riding the earthquake, 35 and 55 minutes after it.
    wave_start = QUAKE + timedelta(minutes=35)
    for index in range(70):
        language, text = PH_WAVE[index % len(PH_WAVE)]
        add(
            wave_start + timedelta(seconds=index * 15 + rng.randint(0, 10)),
            source="user_report",
            subject={"kind": "account", "ref": "acct:demo_quake_relief_ph"},
            url="https://relief-donate.example/ph?utm_source=share",
            text=text,
            market="PH",
            language=language,
            policy_hint="scams_fraud",
            reach={"impressions": rng.randint(200, 4_000)},
        )
    wave_start = QUAKE + timedelta(minutes=55)
    for index in range(45):
        add(
            wave_start + timedelta(seconds=index * 20 + rng.randint(0, 10)),
            source="user_report",
            subject={"kind": "post", "ref": f"post:{rng.randrange(10**9, 10**10)}"},
            url="https://kifu-jishin.example/donate",
            text=JP_WAVE[index % len(JP_WAVE)],
            market="JP",
            language="ja",
            policy_hint="scams_fraud",
        )
    return signals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crisislex", type=Path, help="the CrisisLexT26 directory")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("surge_day.jsonl"))
    options = parser.parse_args()
    rng = random.Random(20120905)  # noqa: S311 (a fixed seed for a reproducible file)
    signals = real_tweets(options.crisislex) + synthetic(rng)
    signals.sort(key=lambda s: (s["received_at"], s["id"]))
    with options.output.open("w", encoding="utf-8", newline="\n") as stream:
        for signal in signals:
            stream.write(json.dumps(signal, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {len(signals)} signals to {options.output}")


if __name__ == "__main__":
    main()
