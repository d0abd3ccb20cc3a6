"""Search across everything (docs/search.md): each kind found, need to know applied,
restricted hits counted for administrators only, the index kept in step by the services,
the page's queries pinned and its input bounded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st
from model_bakery import baker

from watchfloor.core.errors import InvalidInput
from watchfloor.core.fulltext import SHORT_QUERY_SCAN, query_terms, snippet
from watchfloor.escalations.inputs import SubjectInput
from watchfloor.escalations.services import add_note
from watchfloor.escalations.text_index import ESCALATION_TEXT
from watchfloor.web.search import (
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    RESULTS_PER_KIND,
    read_query,
    search_everything,
)

pytestmark = pytest.mark.django_db

LEGAL_TEAM = "legal"
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
MD5 = "098f6bcd4621d373cade4e832627b4f6"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def found(user, text: str) -> dict[str, Any]:
    """{kind: KindResults} for ``text`` as ``user`` searches it."""
    return {kind.kind: kind for kind in search_everything(user=user, query=read_query(text))}


def references(user, text: str, kind: str = "escalations") -> list[str]:
    results = found(user, text)
    return [hit.reference for hit in results[kind].hits] if kind in results else []


@pytest.fixture
def osaka(make_escalation):
    return make_escalation(
        title="大阪の地震で義援金詐欺が広がる",
        summary="Accounts pose as relief charities after the Osaka earthquake.",
        markets=["JP"],
        languages=["ja", "en"],
        source_detail="Notice from the regulator, ref MIC-2026-0457",
        subjects=[
            SubjectInput(kind="account", reference="@kansai_relief_fund", note="main account"),
            SubjectInput(kind="url", reference="https://donate-osaka.example.net/give?id=7"),
        ],
    )


# ---------------------------------------------------------------- the query


def test_a_query_is_bounded_and_errors_name_the_field():
    with pytest.raises(InvalidInput) as error:
        read_query("x" * (MAX_QUERY_LENGTH + 1))
    assert error.value.field == "q" and "200" in error.value.message
    with pytest.raises(InvalidInput) as error:
        read_query("   ")
    assert error.value.field == "q"
    with pytest.raises(InvalidInput) as error:
        read_query("scam\x00wave")
    assert error.value.field == "q"


def test_identifiers_are_recognised():
    assert read_query("WF-13").reference == ("WF", 13)
    assert read_query("wf13").reference == ("WF", 13)
    assert read_query("cr-4").reference == ("CR", 4)
    assert read_query("C-88").reference == ("C", 88)
    assert read_query(SHA256.upper()).hex_digest == SHA256
    assert read_query(MD5).hex_digest == MD5
    assert read_query("https://example.net/a").url == "https://example.net/a"
    assert read_query("typhoon scam").reference is None


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_any_text_is_either_refused_with_the_field_or_read_within_bounds(text):
    try:
        query = read_query(text)
    except InvalidInput as error:
        assert error.field == "q"
    else:
        assert 0 < len(query.text) <= MAX_QUERY_LENGTH
        assert 1 <= len(query.terms) <= 8
        assert all(term in query.text for term in query.terms)


def test_terms_are_distinct_whatever_their_case():
    assert query_terms("Scam scam SCAM wave", max_terms=8) == ("Scam", "wave")


def test_a_snippet_shows_where_the_term_is():
    body = "x " * 200 + "the kansai relief fund" + " y" * 200
    shown = snippet(body, ["KANSAI"])
    assert "kansai relief fund" in shown and shown.startswith("…") and shown.endswith("…")


# ---------------------------------------------------------------- each kind found


def test_an_escalation_is_found_by_reference(analyst, osaka):
    assert references(analyst, osaka.reference) == [osaka.reference]
    assert references(analyst, f"wf{osaka.pk}") == [osaka.reference]


def test_an_escalation_is_found_by_handle_url_domain_and_notice_number(analyst, osaka):
    for text in (
        "@kansai_relief_fund",
        "kansai_relief",
        "https://donate-osaka.example.net/give?id=7",
        "donate-osaka.example.net",
        "MIC-2026-0457",
    ):
        assert references(analyst, text) == [osaka.reference], text


def test_an_escalation_is_found_by_words_in_any_order_and_any_case(analyst, osaka, make_escalation):
    make_escalation(title="Unrelated spam burst", summary="Nothing about relief.")
    assert references(analyst, "OSAKA earthquake") == [osaka.reference]
    assert references(analyst, "earthquake osaka") == [osaka.reference]
    assert references(analyst, "osaka typhoon") == []


def test_an_escalation_is_found_by_a_japanese_phrase(analyst, osaka):
    assert references(analyst, "義援金詐欺") == [osaka.reference]
    assert references(analyst, "地震で義援金") == [osaka.reference]
    assert references(analyst, "東京の地震") == []


def test_a_two_character_japanese_word_is_found(analyst, osaka, make_escalation):
    """Trigrams need three characters: a two-character query looks through the newest
    rows (docs/search.md), so common two-character words are still found."""
    make_escalation(title="台風の被害", summary="")
    assert references(analyst, "地震") == [osaka.reference]
    assert references(analyst, "台風")  # the other one
    assert references(analyst, "津波") == []


def test_a_short_term_narrows_a_long_one(analyst, osaka, make_escalation):
    make_escalation(title="Earthquake scam in Kobe", summary="")
    assert references(analyst, "earthquake 地震") == [osaka.reference]


def test_a_note_is_found_and_shown_where_it_matched(analyst, osaka):
    add_note(escalation=osaka, body="Same ring as the 2024 Noto donation fraud.", actor=analyst)
    results = found(analyst, "Noto donation")
    assert [h.reference for h in results["escalations"].hits] == [osaka.reference]
    assert "Noto donation fraud" in results["escalations"].hits[0].detail


def test_like_wildcards_in_a_query_are_plain_characters(analyst, osaka, make_escalation):
    make_escalation(title="100% refund offer", summary="")
    assert len(references(analyst, "100%")) == 1
    assert references(analyst, "a_b") == []
    assert references(analyst, '"quoted"') == []


def test_a_crisis_is_found_by_reference_title_and_note(analyst, osaka):
    from watchfloor.crises.services import add_crisis_note, declare_crisis

    crisis = declare_crisis(actor=analyst, title="関西 donation fraud wave", summary="")
    add_crisis_note(crisis=crisis, body="Bank partner confirms mule accounts", actor=analyst)
    assert references(analyst, crisis.reference, "crises") == [crisis.reference]
    assert references(analyst, "donation fraud", "crises") == [crisis.reference]
    assert references(analyst, "mule accounts", "crises") == [crisis.reference]


def test_a_cluster_is_found_by_id_subject_url_and_hash(analyst):
    from watchfloor.signals.intake import ingest_signals

    ingest_signals(
        items=[
            {
                "id": "s-1",
                "received_at": "2026-11-24T00:00:00Z",
                "source": "user_report",
                "subject": {"kind": "account", "ref": "@kansai_relief_fund"},
                "url": "https://Donate-Osaka.example.net/give?id=7&utm_source=x",
                "media": {"md5": MD5, "sha256": SHA256},
                "text": "義援金はこちらへ",
            }
        ],
        producer="tests",
        actor=None,
    )
    from watchfloor.signals.models import Cluster

    cluster = Cluster.objects.get()
    for text in (
        f"C-{cluster.pk}",
        "@kansai_relief_fund",
        "account:@kansai_relief_fund",
        "https://donate-osaka.example.net/give?id=7",
        MD5,
        SHA256.upper(),
    ):
        assert references(analyst, text, "clusters") == [f"C-{cluster.pk}"], text


def test_partners_find_no_clusters(legal_partner, analyst):
    from watchfloor.signals.models import Cluster

    cluster = baker.make(Cluster, first_seen_at=datetime.now(UTC), last_seen_at=datetime.now(UTC))
    assert references(analyst, f"C-{cluster.pk}", "clusters") == [f"C-{cluster.pk}"]
    assert references(legal_partner, f"C-{cluster.pk}", "clusters") == []


def test_evidence_is_found_by_id_and_each_hash(analyst, osaka):
    from watchfloor.evidence.models import EvidenceItem

    item = baker.make(
        EvidenceItem,
        escalation=osaka,
        source="upload",
        kind="image",
        sha256=SHA256,
        md5=MD5,
        pdq="f" * 64,
        description="Donation flyer",
        added_at=datetime.now(UTC),
    )
    for text in (f"EV-{item.pk}", SHA256, MD5, "F" * 64):
        assert references(analyst, text, "evidence") == [f"EV-{item.pk}"], text


def test_a_bank_entry_is_found_by_its_hash(analyst):
    from watchfloor.banks.models import Bank, BankEntry

    bank = baker.make(Bank, name="csam-known", signal_type="md5", created_at=datetime.now(UTC))
    entry = baker.make(
        BankEntry, bank=bank, signal_type="md5", value=MD5, source="manual",
        added_at=bank.created_at,
    )  # fmt: skip
    assert references(analyst, MD5, "bank_entries") == [f"csam-known #{entry.pk}"]


# ---------------------------------------------------------------- need to know


@pytest.fixture
def restricted(make_escalation, other_analyst):
    return make_escalation(
        actor=other_analyst,
        title="Restricted kansai_relief insider leak",
        is_restricted=True,
    )


def test_a_restricted_escalation_is_neither_found_nor_counted_for_others(
    analyst, restricted, osaka
):
    results = found(analyst, "kansai_relief")
    assert [h.reference for h in results["escalations"].hits] == [osaka.reference]
    assert results["escalations"].total == 1
    assert results["escalations"].restricted == 0
    assert references(analyst, restricted.reference) == []
    assert "escalations" not in found(analyst, "insider leak")


def test_whoever_is_on_the_access_list_finds_it(other_analyst, restricted):
    assert references(other_analyst, "insider leak") == [restricted.reference]


def test_an_admin_sees_a_restricted_count_only(admin_user, restricted, osaka):
    results = found(admin_user, "kansai_relief")
    assert [h.reference for h in results["escalations"].hits] == [osaka.reference]
    assert results["escalations"].restricted == 1
    assert all(restricted.title not in h.title for h in results["escalations"].hits)
    by_reference = found(admin_user, restricted.reference)["escalations"]
    assert by_reference.hits == () and by_reference.restricted == 1


def test_restricted_crises_and_banks_are_withheld(analyst, admin_user, other_analyst):
    from watchfloor.banks.models import Bank, BankEntry
    from watchfloor.crises.services import declare_crisis

    declare_crisis(actor=other_analyst, title="Secret takedown wave", is_restricted=True)
    bank = baker.make(
        Bank, name="secret", signal_type="md5", is_restricted=True, created_at=datetime.now(UTC)
    )
    baker.make(BankEntry, bank=bank, signal_type="md5", value=MD5, source="manual",
               added_at=bank.created_at)  # fmt: skip
    assert found(analyst, "takedown wave") == {}
    assert found(analyst, MD5) == {}
    as_admin = found(admin_user, "takedown wave")
    assert as_admin["crises"].hits == () and as_admin["crises"].restricted == 1
    as_admin = found(admin_user, MD5)
    assert as_admin["bank_entries"].hits == () and as_admin["bank_entries"].restricted == 1


def test_evidence_of_a_restricted_escalation_is_withheld(analyst, admin_user, restricted):
    from watchfloor.evidence.models import EvidenceItem

    baker.make(EvidenceItem, escalation=restricted, source="upload", kind="image", sha256=SHA256,
               added_at=datetime.now(UTC))  # fmt: skip
    assert found(analyst, SHA256) == {}
    withheld = found(admin_user, SHA256)["evidence"]
    assert withheld.hits == () and withheld.restricted == 1


def test_partners_find_only_what_is_shared_with_their_team(make_escalation, legal_partner):
    shared = make_escalation(title="Shared relief fraud", shared_with_team_codes=[LEGAL_TEAM])
    make_escalation(title="Internal relief fraud")
    assert references(legal_partner, "relief fraud") == [shared.reference]


# ---------------------------------------------------------------- kept in step


def test_a_crisis_title_edit_moves_it_in_the_index(analyst):
    from watchfloor.crises.services import declare_crisis, update_crisis

    crisis = declare_crisis(actor=analyst, title="Typhoon donation scam", summary="")
    assert references(analyst, "typhoon", "crises") == [crisis.reference]
    update_crisis(
        crisis=crisis, actor=analyst, title="Earthquake donation scam", summary="",
        markets=[], languages=[],
    )  # fmt: skip
    assert references(analyst, "typhoon", "crises") == []
    assert references(analyst, "earthquake", "crises") == [crisis.reference]


def test_a_new_note_finds_its_escalation_at_once(analyst, osaka):
    assert references(analyst, "mule") == []
    add_note(escalation=osaka, body="Mule accounts at two banks.", actor=analyst)
    assert references(analyst, "mule") == [osaka.reference]


def test_a_merge_carries_the_notice_number_to_the_target(analyst, make_escalation, frozen_clock):
    from watchfloor.escalations.inputs import StatutoryTriggerInput
    from watchfloor.escalations.services import merge_escalation

    duplicate = make_escalation(
        title="Duplicate notice",
        markets=["JP"],
        statutory_triggers=[
            StatutoryTriggerInput(
                rule="jp-idpa-removal-request",
                received_at=datetime(2026, 11, 24, 0, 0, tzinfo=UTC),
                notice_reference="NOTICE-991",
            )
        ],
    )
    target = make_escalation(title="Main case", markets=["JP"])
    merge_escalation(duplicate=duplicate, into=target, actor=analyst)
    assert set(references(analyst, "NOTICE-991")) == {duplicate.reference, target.reference}


def test_rebuilding_the_index_gives_the_same_answers(analyst, osaka):
    before = references(analyst, "義援金")
    assert ESCALATION_TEXT.rebuild() >= 1
    assert references(analyst, "義援金") == before == [osaka.reference]


def test_a_filed_escalation_is_indexed_as_a_rebuild_would_index_it(make_escalation, frozen_clock):
    """Filing writes the index row from what it holds; a rebuild reads it back from the
    database. Both must give the same text, piece for piece and in the same order."""
    from datetime import timedelta

    from watchfloor.escalations.inputs import StatutoryTriggerInput

    escalation = make_escalation(
        title="Two notices about one account",
        summary="Removal requests under two rules.",
        source_detail="Forwarded by the regulator liaison",
        markets=["JP"],
        subjects=[
            SubjectInput(kind="account", reference="  @padded_handle ", note="primary"),
            SubjectInput(kind="url", reference="https://example.net/p/1"),
        ],
        statutory_triggers=[
            StatutoryTriggerInput(
                rule="jp-idpa-removal-request",
                received_at=frozen_clock - timedelta(hours=1),
                notice_reference="NOTICE-LATE",
            ),
            StatutoryTriggerInput(
                rule="jp-idpa-removal-request",
                received_at=frozen_clock - timedelta(days=3),
                notice_reference="NOTICE-EARLY",
            ),
        ],
    )

    def indexed() -> str:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT body FROM {ESCALATION_TEXT.table} WHERE {ESCALATION_TEXT._id} = %s",  # noqa: S608 (names are ours)
                [escalation.pk],
            )
            return cursor.fetchone()[0]

    filed = indexed()
    assert "@padded_handle\nprimary" in filed
    assert filed.index("NOTICE-EARLY") < filed.index("NOTICE-LATE")  # by due time
    ESCALATION_TEXT.rebuild()
    assert indexed() == filed


def test_results_per_kind_are_bounded_and_counted(analyst, make_escalation):
    for n in range(RESULTS_PER_KIND + 2):
        make_escalation(title=f"Bounded wave {n}")
    kind = found(analyst, "bounded wave")["escalations"]
    assert len(kind.hits) == RESULTS_PER_KIND
    assert kind.total == RESULTS_PER_KIND + 2
    assert kind.hits[0].title == f"Bounded wave {RESULTS_PER_KIND + 1}"  # newest first


@pytest.mark.parametrize("text", ["wave", "tide wave", "Bounded", "高潮", "no such word"])
def test_the_newest_matches_are_those_the_visible_rows_filtered_by_the_index_give(
    analyst, other_analyst, make_escalation, text
):
    """Read newest first from the index and looked up one by one (core.candidates), the
    hits are those of filtering the visible rows by the index and sorting them: the
    same ids in the same order, restricted rows passed over, the count capped alike."""
    from watchfloor.escalations.selectors import escalations_visible_to

    for n in range(RESULTS_PER_KIND + 4):
        make_escalation(
            actor=other_analyst if n % 3 == 0 else analyst,
            title=f"Bounded tide wave {n} 高潮" if n % 2 else f"Bounded wave {n}",
            is_restricted=n % 3 == 0,
        )
    visible = escalations_visible_to(analyst)
    terms = query_terms(text, max_terms=MAX_TERMS)
    gathered = list(
        visible.filter(ESCALATION_TEXT.matches(terms))
        .order_by("-pk")
        .values_list("pk", flat=True)[:RESULTS_PER_KIND]
    )
    newest = visible.filter(ESCALATION_TEXT.newest_matches(visible, terms, limit=RESULTS_PER_KIND))
    assert list(newest.order_by("-pk").values_list("pk", flat=True)) == gathered
    every = visible.filter(ESCALATION_TEXT.matches(terms)).count()
    for cap in (1, 5, every + 1):
        assert ESCALATION_TEXT.count_matches(visible, terms, limit=cap)[0] == min(every, cap)


@pytest.mark.parametrize("text", ["wave", "tide wave", "Bounded"])
def test_a_dense_search_past_its_cap_walks_the_visible_rows_to_the_same_hits(
    analyst, other_analyst, make_escalation, monkeypatch, text
):
    """Past the count's cap and lying densely, a kind's newest hits are found on
    PostgreSQL by walking the visible rows newest first and testing each one's row of the
    index (on SQLite the index reads them newest first already): the same hits in the same
    order as reading the index's matches, restricted rows passed over."""
    from watchfloor.core import fulltext
    from watchfloor.escalations.selectors import escalations_visible_to
    from watchfloor.web import search

    for n in range(RESULTS_PER_KIND + 4):
        make_escalation(
            actor=other_analyst if n % 3 == 0 else analyst,
            title=f"Bounded tide wave {n}" if n % 2 else f"Bounded wave {n}",
            is_restricted=n % 3 == 0,
        )
    terms = query_terms(text, max_terms=MAX_TERMS)
    visible = escalations_visible_to(analyst)
    expected = [
        f"WF-{pk}"
        for pk in visible.filter(ESCALATION_TEXT.matches(terms))
        .order_by("-pk")
        .values_list("pk", flat=True)[:RESULTS_PER_KIND]
    ]
    assert references(analyst, text) == expected  # under the cap: read from the index
    monkeypatch.setattr(search, "COUNT_CAP", 2)
    # Dense whatever the ids: PostgreSQL's keep climbing from test to test, and the density
    # is counted from id 1.
    monkeypatch.setattr(fulltext, "WALK_DENSITY", 0)
    with CaptureQueriesContext(connection) as queries:
        kind = found(analyst, text)["escalations"]
    assert [hit.reference for hit in kind.hits] == expected
    assert (kind.total, kind.total_is_capped) == (2, True)
    if connection.vendor != "postgresql":  # SQLite's FTS5 reads its matches newest first
        assert kind.hits and not any(
            "EXISTS (SELECT 1 FROM escalations_search_text" in q["sql"]
            for q in queries.captured_queries
        )
        return
    walked = [
        q["sql"]
        for q in queries.captured_queries
        if "EXISTS (SELECT 1 FROM escalations_search_text WHERE" in q["sql"]
    ]
    assert walked, "the newest hits were not found by walking the visible rows"


def test_a_short_query_reads_a_bounded_number_of_rows():
    sql, _ = ESCALATION_TEXT.matching_sql(["地震"])
    assert f"LIMIT {SHORT_QUERY_SCAN}" in sql


# ---------------------------------------------------------------- the queue's text filter


def test_the_queue_text_filter_uses_the_index(analyst, osaka, make_escalation):
    other = make_escalation(title="Typhoon wave", summary="")
    client = signed_in(analyst)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/", {"q": "kansai_relief"})
    assert osaka.title in page.content.decode()
    assert other.title not in page.content.decode()
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "escalations_search_text" in sql
    assert "LIKE '%kansai" not in sql.upper()


# ---------------------------------------------------------------- the page and the API


def test_the_page_groups_results_by_kind(analyst, osaka):
    from watchfloor.crises.services import declare_crisis

    declare_crisis(actor=analyst, title="大阪 relief fraud response", summary="")
    page = signed_in(analyst).get("/search", {"q": "relief"})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="search-escalations"' in html and 'id="search-crises"' in html
    assert html.index('id="search-escalations"') < html.index('id="search-crises"')
    assert osaka.title in html
    assert 'lang="ja"' in html


def test_the_page_shows_an_admin_the_restricted_count_without_titles(admin_user, restricted):
    html = signed_in(admin_user).get("/search", {"q": "insider leak"}).content.decode()
    assert 'data-restricted-count="1"' in html
    assert restricted.title not in html


def test_the_page_names_a_bad_query(analyst):
    page = signed_in(analyst).get("/search", {"q": "x" * 201})
    assert page.status_code == 400
    assert "at most 200 characters" in page.content.decode()
    assert 'aria-invalid="true"' in page.content.decode()


def test_the_header_has_the_search_box(analyst):
    html = signed_in(analyst).get("/").content.decode()
    assert 'role="search"' in html and 'action="/search"' in html


# The session and the user; escalations and crises (each the count, the list, then the
# bodies for the snippets); clusters (one key lookup); the header's "needs me" (three).
PINNED_QUERIES = 12


def test_the_page_makes_a_fixed_number_of_queries(
    analyst, make_escalation, django_assert_num_queries
):
    from watchfloor.crises.services import declare_crisis

    for n in range(3):
        make_escalation(title=f"Pinned relief {n}")
        declare_crisis(actor=analyst, title=f"Pinned relief crisis {n}", summary="")
    client = signed_in(analyst)
    client.get("/search", {"q": "pinned relief"})  # warm the session and caches
    with django_assert_num_queries(PINNED_QUERIES):
        page = client.get("/search", {"q": "pinned relief"})
    assert page.content.decode().count('class="search-hit"') == 6
    for n in range(3, 6):
        make_escalation(title=f"Pinned relief {n}")
    with django_assert_num_queries(PINNED_QUERIES):
        client.get("/search", {"q": "pinned relief"})


def test_the_api_answers_by_kind_and_names_bad_input(analyst, admin_user, osaka, restricted):
    body = signed_in(analyst).get("/api/v1/search", {"q": "kansai_relief"}).json()
    assert body["query"] == "kansai_relief"
    (kind,) = body["results"]
    assert kind["kind"] == "escalations" and kind["count"] == 1
    assert kind["restricted_count"] is None
    assert kind["items"][0]["reference"] == osaka.reference
    body = signed_in(admin_user).get("/api/v1/search", {"q": "kansai_relief"}).json()
    assert body["results"][0]["restricted_count"] == 1
    assert all(i["reference"] != restricted.reference for i in body["results"][0]["items"])
    error = signed_in(analyst).get("/api/v1/search", {"q": "x" * 201})
    assert error.status_code in (400, 422) and error.json()["field"] == "q"
    error = signed_in(analyst).get("/api/v1/search", {"q": ""})
    assert error.status_code in (400, 422) and error.json()["field"] == "q"
