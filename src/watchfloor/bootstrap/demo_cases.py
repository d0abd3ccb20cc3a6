"""The demo day's escalations, as a story: each case's filing (synthetic text, no real
people) and what the floor then does to it, hour by hour. ``load_demo_scenario`` in
:mod:`watchfloor.bootstrap.demo` plays them through the real services in time order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from watchfloor.core import clock
from watchfloor.escalations.decisions import approve_decision, record_decision
from watchfloor.escalations.editing import final_decision_id
from watchfloor.escalations.inputs import StatutoryTriggerInput, SubjectInput
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.services import (
    add_note,
    assign_escalation,
    link_escalations,
    transition_escalation,
)
from watchfloor.people.models import User


@dataclass
class DemoCase:
    key: str
    opened_hours_ago: float
    fields: dict[str, Any]
    # (hours ago, what to do) — applied in time order across all cases.
    steps: list[
        tuple[float, Callable[[Escalation, dict[str, User], dict[str, Escalation]], Any]]
    ] = field(default_factory=list)


def _ago(hours: float):
    return clock.now() - timedelta(hours=hours)


def demo_cases() -> list[DemoCase]:
    """Every case of the demo day, each with its later steps."""

    def move(*statuses: str, reason: str = ""):
        def run(case, users, _cases):
            for status in statuses:
                transition_escalation(
                    escalation=case, to_status=status, actor=users["analyst"], reason=reason
                )

        return run

    def assign(username: str):
        return lambda case, users, _c: assign_escalation(
            escalation=case, owner=users[username], actor=users["lead"]
        )

    def note(username: str, body: str):
        return lambda case, users, _c: add_note(escalation=case, body=body, actor=users[username])

    def decide(policy: str, action: str, scope: str, rationale: str, countries=None, approve=True):
        def run(case, users, _c):
            decision = record_decision(
                escalation=case,
                actor=users["analyst"],
                supersedes=final_decision_id(case),
                policy_code=policy,
                action_code=action,
                scope=scope,
                rationale=rationale,
                countries=countries or [],
            )
            if approve and decision.state == decision.State.PENDING_APPROVAL:
                approve_decision(decision=decision, actor=users["lead"], comment="Agreed.")

        return run

    def link_to(other_key: str):
        return lambda case, users, cases: link_escalations(
            escalation=case,
            other=cases[other_key],
            actor=users["analyst"],
            reason="same campaign",
        )

    return [
        DemoCase(
            key="au_notice",
            opened_hours_ago=21,
            fields=dict(
                type_code="regulator_notice",
                title="eSafety removal notice: cyber-abuse posts targeting a Brisbane teacher",
                summary=(
                    "Removal notice received from the eSafety Commissioner for 14 posts and "
                    "2 accounts. Notice reference in the regulator portal. Legal to confirm scope."
                ),
                markets=["AU"],
                languages=["en"],
                source_kind="regulator",
                source_detail="eSafety Commissioner portal",
                subjects=[
                    SubjectInput("account", "@demo_harasser_01"),
                    SubjectInput("post", "post/8841200017"),
                ],
                rubric_answers={
                    "harm": "moderate",
                    "legal_exposure": "statutory_notice",
                    "vulnerability": "some",
                    "reach": "limited",
                },
                statutory_triggers=[
                    StatutoryTriggerInput(
                        rule="au-osa-removal-notice",
                        received_at=_ago(21),
                        notice_reference="DEMO-ESAFETY-0042",
                    )
                ],
                shared_with_team_codes=["legal"],
            ),
            steps=[
                (20.5, move("triaged")),
                (20, assign("analyst2")),
                (
                    19,
                    note("legal", "Notice is valid on its face; 12 of 14 posts clearly in scope."),
                ),
            ],
        ),
        DemoCase(
            key="jp_account",
            opened_hours_ago=0.7,
            fields=dict(
                type_code="high_profile_account_compromise",
                title="市の公式アカウントが乗っ取られ、偽の避難指示を投稿",
                summary=(
                    "A city government's official account is posting a fake evacuation order "
                    "and a phishing link. "
                    "公式アカウントから偽の避難指示とフィッシングURLが投稿されている。"
                ),
                markets=["JP"],
                languages=["ja"],
                source_kind="partner_team",
                source_team_code="public_policy",
                source_detail="Public Policy Japan",
                subjects=[
                    SubjectInput("account", "@demo_city_official"),
                    SubjectInput("url", "https://demo-phish.example/login"),
                ],
                rubric_answers={
                    "harm": "severe",
                    "imminence": "ongoing",
                    "reach": "viral",
                    "subject_profile": "head_of_state_or_critical",
                    "public_attention": "national",
                },
                is_high_visibility=True,
                shared_with_team_codes=["communications"],
            ),
            steps=[
                (0.6, move("triaged")),
                (0.6, assign("analyst")),
                (0.5, move("investigating")),
                (
                    0.4,
                    note(
                        "analyst", "Account locked pending owner verification. ログイン元は海外IP。"
                    ),
                ),
            ],
        ),
        DemoCase(
            key="ph_scam",
            opened_hours_ago=9,
            fields=dict(
                type_code="scam_campaign",
                title="Typhoon relief donation scams in Tagalog and Vietnamese",
                summary=(
                    "Fake relief charities ask for e-wallet donations after the typhoon. "
                    '"Tulong para sa mga nasalanta" / "Quyên góp cứu trợ bão" posts with the '
                    "same payment handle."
                ),
                markets=["PH", "VN"],
                languages=["tl", "vi", "en"],
                source_kind="user_report",
                subjects=[SubjectInput("url", "https://relief-demo.example/donate")],
                rubric_answers={
                    "harm": "moderate",
                    "reach": "significant",
                    "vulnerability": "some",
                    "public_attention": "national",
                },
            ),
            steps=[
                (8.5, move("triaged", "investigating")),
                (8, assign("analyst2")),
                (
                    6,
                    decide(
                        "scams_fraud",
                        "remove_content",
                        "All posts with the payment handle",
                        "Impersonates relief charities to collect money: scam policy 2.1.",
                    ),
                ),
            ],
        ),
        DemoCase(
            key="ph_scam_2",
            opened_hours_ago=5,
            fields=dict(
                type_code="scam_campaign",
                title="Second wave: relief scam accounts re-registered",
                summary="New accounts reuse the same donation page after the first takedown.",
                markets=["PH"],
                languages=["tl"],
                source_kind="detector",
                rubric_answers={"harm": "moderate", "reach": "limited"},
            ),
            steps=[(4.5, link_to("ph_scam"))],
        ),
        DemoCase(
            key="kr_threat",
            opened_hours_ago=1.5,
            fields=dict(
                type_code="imminent_threat_to_life",
                title="불꽃축제 공격 예고 게시물 — credible threat against a fireworks festival",
                summary=(
                    "A post names the festival, a time and a weapon. 게시자는 같은 내용을 "
                    "세 번 재게시. Law-enforcement response team engaged."
                ),
                markets=["KR"],
                languages=["ko"],
                source_kind="user_report",
                subjects=[SubjectInput("post", "post/7730019921")],
                rubric_answers={
                    "harm": "catastrophic",
                    "imminence": "imminent",
                    "reach": "significant",
                    "public_attention": "national",
                },
                shared_with_team_codes=["law_enforcement_response"],
            ),
            steps=[
                (1.4, move("triaged")),
                (1.4, assign("lead")),
                (1.3, move("investigating")),
                (
                    1.0,
                    decide(
                        "violent_threats",
                        "refer_law_enforcement",
                        "The post and the poster's account",
                        "Specific, credible threat with time and place; emergency referral.",
                    ),
                ),
            ],
        ),
        DemoCase(
            key="sg_media",
            opened_hours_ago=3,
            fields=dict(
                type_code="media_inquiry",
                title="Press inquiry: how we handle deepfake scam ads in Singapore",
                summary="A national daily asks for comment by 18:00 SGT.",
                markets=["SG"],
                languages=["en", "zh-Hans"],
                source_kind="media",
                rubric_answers={"public_attention": "national"},
                shared_with_team_codes=["communications"],
            ),
            steps=[(2.5, move("triaged", "awaiting_partner"))],
        ),
        DemoCase(
            key="in_order",
            opened_hours_ago=2.2,
            fields=dict(
                type_code="government_legal_demand",
                title="MeitY order: remove morphed video of a state minister",
                summary="Government order under the IT Rules; 3-hour clock. हिंदी में कैप्शन।",
                markets=["IN"],
                languages=["hi", "en"],
                source_kind="government",
                rubric_answers={
                    "harm": "moderate",
                    "legal_exposure": "order_with_short_deadline",
                    "subject_profile": "official",
                    "public_attention": "national",
                },
                statutory_triggers=[
                    StatutoryTriggerInput(
                        rule="in-itrules-3-1-d",
                        received_at=_ago(2.2),
                        notice_reference="DEMO-MEITY-2026-118",
                    )
                ],
                shared_with_team_codes=["legal"],
            ),
            steps=[(2.0, move("triaged")), (1.9, assign("analyst"))],
        ),
        DemoCase(
            key="my_ack",
            opened_hours_ago=2,
            fields=dict(
                type_code="regulator_notice",
                title="MCMC notice: harmful content about a Penang flood (acknowledgement overdue)",
                summary="Notice arrived by email overnight and was logged late.",
                markets=["MY"],
                languages=["ms"],
                source_kind="regulator",
                rubric_answers={"harm": "low", "legal_exposure": "statutory_notice"},
                statutory_triggers=[StatutoryTriggerInput(rule="my-osa-ack", received_at=_ago(2))],
            ),
        ),
        DemoCase(
            key="th_flood",
            opened_hours_ago=14,
            fields=dict(
                type_code="crisis_misinformation",
                title="False dam-collapse warning spreading in Thai",
                summary="ข่าวปลอม: เขื่อนแตก — a false dam-collapse warning with an old video.",
                markets=["TH"],
                languages=["th"],
                source_kind="trusted_flagger",
                rubric_answers={
                    "harm": "severe",
                    "imminence": "likely",
                    "reach": "viral",
                    "public_attention": "national",
                },
            ),
            steps=[(13, move("triaged", "investigating")), (12.5, assign("analyst2"))],
        ),
        DemoCase(
            key="tw_election",
            opened_hours_ago=30,
            fields=dict(
                type_code="coordinated_manipulation",
                title="Coordinated accounts pushing a fake poll before the local election",
                summary="約 200 個帳號同時轉發相同的假民調圖片。",
                markets=["TW"],
                languages=["zh-Hant"],
                source_kind="detector",
                rubric_answers={
                    "harm": "moderate",
                    "reach": "significant",
                    "public_attention": "national",
                },
            ),
            steps=[
                (29, move("triaged", "investigating")),
                (
                    26,
                    decide(
                        "platform_manipulation",
                        "suspend_account",
                        "The 212 accounts in the network",
                        "Inauthentic network: shared creation pattern and synchronised posting.",
                        approve=True,
                    ),
                ),
                (25.5, move("decided", "actioned")),
            ],
        ),
        DemoCase(
            key="hk_doxxing",
            opened_hours_ago=6,
            fields=dict(
                type_code="doxxing_at_risk_person",
                title="Home address of a journalist posted with threats",
                summary="Restricted: the subject is an at-risk person. Preserve evidence.",
                markets=["HK"],
                languages=["zh-Hant", "yue"],
                source_kind="trusted_flagger",
                rubric_answers={
                    "harm": "severe",
                    "imminence": "likely",
                    "vulnerability": "minors_or_at_risk",
                },
                is_restricted=True,
                access_usernames=["lead", "analyst"],
            ),
            steps=[(5.5, move("triaged")), (5, assign("analyst"))],
        ),
        DemoCase(
            key="id_urgent",
            opened_hours_ago=3.2,
            fields=dict(
                type_code="regulator_notice",
                title="Komdigi urgent request: gambling promotion posts (Bahasa Indonesia)",
                summary="Permintaan mendesak: konten promosi judi online. Urgent 4-hour request.",
                markets=["ID"],
                languages=["id"],
                source_kind="regulator",
                rubric_answers={"harm": "low", "legal_exposure": "order_with_short_deadline"},
                statutory_triggers=[
                    StatutoryTriggerInput(rule="id-mr5-urgent", received_at=_ago(3.2))
                ],
            ),
            steps=[(3.0, move("triaged")), (3.0, assign("analyst"))],
        ),
        DemoCase(
            key="nz_vip",
            opened_hours_ago=26,
            fields=dict(
                type_code="vip_partner_escalation",
                title="Partner NGO reports impersonation of its helpline account",
                summary="Resolved: impersonating account removed; NGO informed.",
                markets=["NZ"],
                languages=["en", "mi"],
                source_kind="partner_team",
                source_team_code="customer_service",
                rubric_answers={"harm": "low", "reach": "minimal"},
            ),
            steps=[
                (25, move("triaged", "investigating")),
                (
                    24,
                    decide(
                        "impersonation",
                        "suspend_account",
                        "The impersonating account",
                        "Clear impersonation of a verified helpline.",
                    ),
                ),
                (23.5, move("decided", "actioned", "closed")),
            ],
        ),
    ]
