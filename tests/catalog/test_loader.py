"""Reading a catalog directory: the default catalog, and how each kind of mistake is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from watchfloor.catalog.loader import CatalogError, Problem, read_catalog
from watchfloor.catalog.schema import format_location
from watchfloor.core.errors import InvalidInput
from watchfloor.severity.rubric import parse_iso_duration

ESCALATION_TYPES = {
    "violent_attack_content",
    "imminent_threat_to_life",
    "self_harm_imminent_risk",
    "child_safety",
    "doxxing_at_risk_person",
    "ncii",
    "high_profile_account_compromise",
    "scam_campaign",
    "phishing_malware_campaign",
    "coordinated_manipulation",
    "crisis_misinformation",
    "government_legal_demand",
    "regulator_notice",
    "law_enforcement_emergency_request",
    "media_inquiry",
    "vip_partner_escalation",
    "policy_gap",
    "natural_disaster",
}


def problems_in(directory: Path) -> list[Problem]:
    with pytest.raises(CatalogError) as caught:
        read_catalog(directory)
    return caught.value.problems


def where(problem: Problem) -> tuple[str, str, int | None]:
    return problem.file, problem.path, problem.line


def only_problem(directory: Path) -> Problem:
    problems = problems_in(directory)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


@pytest.fixture(scope="module")
def loaded():
    return read_catalog(Path(settings.WATCHFLOOR_CATALOG_DIR))


class TestDefaultCatalog:
    def test_it_validates_with_everything_the_other_apps_rely_on(self, loaded):
        catalog = loaded.catalog
        assert {t.code for t in catalog.escalation_types.escalation_types} == ESCALATION_TYPES
        assert [area.code for area in catalog.policies.areas] == ["safety", "cybercrime"]
        assert catalog.counts()["policies"] == 14
        assert [a.code for a in catalog.enforcement_actions.actions] == [
            "no_action",
            "label_interstitial",
            "reduce_reach",
            "remove_content",
            "withhold_in_countries",
            "suspend_account",
            "refer_law_enforcement",
        ]
        withhold = next(
            a for a in catalog.enforcement_actions.actions if a.code == "withhold_in_countries"
        )
        assert withhold.needs_countries
        assert {(t.code, t.kind) for t in catalog.teams.teams} == {
            ("site_policy", "site_policy"),
            ("legal", "partner"),
            ("public_policy", "partner"),
            ("communications", "partner"),
            ("customer_service", "partner"),
            ("law_enforcement_response", "partner"),
        }

    def test_severity_targets_are_the_agreed_ones(self, loaded):
        targets = {
            s.name: (s.label, s.sla.acknowledge, s.sla.first_action, s.sla.resolve)
            for s in loaded.catalog.rubric.severities
        }
        assert targets == {
            "SEV0": ("Crisis", "PT15M", "PT1H", "PT24H"),
            "SEV1": ("Critical", "PT30M", "PT4H", "P3D"),
            "SEV2": ("High", "PT2H", "PT24H", "P7D"),
            "SEV3": ("Moderate", "1 business day", "P3D", "P14D"),
            "SEV4": ("Low", "P3D", "P7D", "P30D"),
        }

    def test_every_rule_without_a_figure_in_law_has_an_internal_target(self, loaded):
        rules = loaded.catalog.statutory_rules.rules
        assert len(rules) == 29
        for rule in rules:
            if rule.deadline_kind == "fixed":
                assert rule.deadline is not None, rule.id
            else:
                assert rule.deadline is None, rule.id
                assert parse_iso_duration(rule.internal_target), rule.id

    def test_comparator_jurisdictions_are_markets(self, loaded):
        codes = {market.code for market in loaded.catalog.markets.markets}
        assert {"EU", "DE", "US", "JP", "SG", "AU", "IN"} <= codes

    def test_the_digest_is_stable_and_covers_only_catalog_files(self, loaded, catalog_dir, edit):
        assert read_catalog(catalog_dir).digest == loaded.digest
        (catalog_dir / "NOTES.txt").write_text("not part of the catalog")
        assert read_catalog(catalog_dir).digest == loaded.digest
        edit("teams.yaml", "name: Legal", "name: Legal & Compliance")
        assert read_catalog(catalog_dir).digest != loaded.digest


class TestProblemsNameFilePathAndLine:
    def test_malformed_yaml(self, catalog_dir, edit):
        line = edit("teams.yaml", "    kind: partner\n", "    kind: [partner\n")
        problem = only_problem(catalog_dir)
        assert problem.file == "teams.yaml"
        assert problem.line is not None and line <= problem.line <= line + 2
        assert problem.message.startswith("not valid YAML")

    def test_unquoted_text_with_a_colon(self, catalog_dir, edit):
        line = edit("teams.yaml", "name: Legal\n", "name: Legal: APAC\n")
        problem = only_problem(catalog_dir)
        assert (problem.file, problem.line) == ("teams.yaml", line)
        assert "in quotes" in problem.message

    def test_tabs(self, catalog_dir, edit):
        line = edit("teams.yaml", "    kind: partner\n", "\tkind: partner\n")
        problem = only_problem(catalog_dir)
        assert (problem.file, problem.line) == ("teams.yaml", line)
        assert "spaces, not tabs" in problem.message

    def test_unknown_field_lists_the_fields_allowed_there(self, catalog_dir, edit):
        line = edit("markets.yaml", "    name: Japan\n", "    name: Japan\n    colour: red\n")
        problem = only_problem(catalog_dir)
        assert where(problem) == ("markets.yaml", "markets[0].colour", line + 1)
        assert problem.message == (
            "unknown field 'colour'; the fields here are code, name, time_zones, languages, "
            "regulators, bounding_boxes"
        )

    def test_a_markets_bounding_box_must_have_its_south_below_its_north(self, catalog_dir, edit):
        line = edit(
            "markets.yaml",
            "{south: 24.0, west: 122.9, north: 45.6, east: 146.0}",
            "{south: 50.0, west: 122.9, north: 45.6, east: 146.0}",
        )
        problem = only_problem(catalog_dir)
        assert where(problem)[:2] == ("markets.yaml", "markets[0].bounding_boxes[0]")
        assert where(problem)[2] == line
        assert "south (50.0) must be less than north (45.6)" in problem.message

    def test_unknown_field_inside_the_rubric(self, catalog_dir, edit):
        line = edit("rubric.yaml", "    weight: 5\n", "    weight: 5\n    wieght: 6\n")
        problem = only_problem(catalog_dir)
        assert where(problem) == ("rubric.yaml", "factors[0].wieght", line + 1)
        assert "label, question, weight, options" in problem.message

    def test_bad_time_zone(self, catalog_dir, edit):
        line = edit("markets.yaml", "time_zones: [Asia/Tokyo]", "time_zones: [Asia/Tokio]")
        problem = only_problem(catalog_dir)
        assert where(problem) == ("markets.yaml", "markets[0].time_zones[0]", line)
        assert "'Asia/Tokio' is not an IANA time zone" in problem.message

    def test_bad_language_tag(self, catalog_dir, edit):
        line = edit("markets.yaml", "languages: [ko, en]", "languages: [ko, EN_us]")
        problem = only_problem(catalog_dir)
        assert (problem.path, problem.line) == ("markets[1].languages[1]", line)
        assert "BCP 47" in problem.message

    def test_bad_duration(self, catalog_dir, edit):
        line = edit("statutory_rules.yaml", "deadline: PT72H", "deadline: 72 hours")
        problem = only_problem(catalog_dir)
        assert where(problem) == ("statutory_rules.yaml", "rules[5].deadline", line)
        assert "'72 hours' is not an ISO 8601 duration" in problem.message

    def test_bad_sla_target_in_the_rubric(self, catalog_dir, edit):
        line = edit("rubric.yaml", "resolve: P14D", "resolve: 14 days")
        problem = only_problem(catalog_dir)
        assert where(problem) == ("rubric.yaml", "severities[3].sla.resolve", line)

    def test_qualitative_rule_without_internal_target(self, catalog_dir, edit):
        edit("statutory_rules.yaml", "    internal_target: PT1H\n", "")
        rule_line = edit("statutory_rules.yaml", "  - id: au-avm\n", "  - id: au-avm\n")
        problem = only_problem(catalog_dir)
        assert (problem.path, problem.line) == ("rules[7].internal_target", rule_line)
        assert "needs internal_target" in problem.message

    def test_unknown_policy_reference(self, catalog_dir, edit):
        line = edit(
            "escalation_types.yaml",
            "default_policy: violent_threats",
            "default_policy: violent_threat",
        )
        problem = only_problem(catalog_dir)
        assert where(problem) == (
            "escalation_types.yaml",
            "escalation_types[1].default_policy",
            line,
        )
        assert "unknown policy 'violent_threat'" in problem.message
        assert "violent_threats" in problem.message

    def test_unknown_jurisdiction(self, catalog_dir, edit):
        line = edit("statutory_rules.yaml", "jurisdiction: TH", "jurisdiction: XX")
        problem = only_problem(catalog_dir)
        assert (problem.file, problem.line) == ("statutory_rules.yaml", line)
        assert problem.path.endswith(".jurisdiction")
        assert "add it to markets.yaml" in problem.message

    def test_floor_naming_an_unknown_escalation_type(self, catalog_dir, edit):
        line = edit(
            "rubric.yaml", "escalation_types: [child_safety]", "escalation_types: [child_safty]"
        )
        problem = only_problem(catalog_dir)
        assert where(problem) == ("rubric.yaml", "floors[3].when.escalation_types[0]", line)

    def test_duplicate_codes(self, catalog_dir, edit):
        line = edit("teams.yaml", "code: public_policy", "code: legal")
        problem = only_problem(catalog_dir)
        assert (problem.path, problem.line) == ("teams[2].code", line)
        assert "'legal' is already used at teams[1].code" in problem.message

    def test_repeated_yaml_key(self, catalog_dir, edit):
        line = edit("markets.yaml", "    name: Japan\n", "    name: Japan\n    name: Nippon\n")
        problem = only_problem(catalog_dir)
        assert (problem.path, problem.line) == ("markets[0].name", line + 1)
        assert f"first on line {line}" in problem.message

    def test_factor_options_out_of_order(self, catalog_dir, edit):
        factor_line = edit("rubric.yaml", "  - code: imminence\n", "  - code: imminence\n")
        edit(
            "rubric.yaml",
            '{value: likely, label: "Likely within a day", points: 2}',
            '{value: likely, label: "Likely within a day", points: 1}',
        )
        problem = only_problem(catalog_dir)
        assert where(problem) == ("rubric.yaml", "factors[1]", factor_line)
        assert "mildest to worst" in problem.message

    def test_severity_bands_out_of_order(self, catalog_dir, edit):
        line = edit("rubric.yaml", "min_score: 28", "min_score: 50")
        problem = only_problem(catalog_dir)
        assert where(problem) == ("rubric.yaml", "severities[2].min_score", line)
        assert "lower than the previous severity's (45)" in problem.message

    def test_floor_naming_an_answer_the_factor_does_not_have(self, catalog_dir, edit):
        line = edit("rubric.yaml", "{imminence: ongoing}", "{imminence: livestreamed}")
        problem = only_problem(catalog_dir)
        assert (problem.path, problem.line) == ("floors[0].when.factors_at_least.imminence", line)
        assert "choose one of none, possible, likely, imminent, ongoing" in problem.message

    def test_a_number_where_text_is_expected(self, catalog_dir, edit):
        line = edit("catalog.yaml", 'version: "2026.11"', "version: 2026.11")
        problem = only_problem(catalog_dir)
        assert where(problem) == ("catalog.yaml", "version", line)
        assert "put the value in quotes" in problem.message

    def test_missing_required_field_points_at_its_entry(self, catalog_dir, edit):
        line = edit(
            "enforcement_actions.yaml", "  - code: reduce_reach\n", "  - code: reduce_reach\n"
        )
        edit("enforcement_actions.yaml", "    position: 30\n", "")
        problem = only_problem(catalog_dir)
        assert (problem.path, problem.line) == ("actions[2].position", line)
        assert problem.message == "missing required field 'position'"

    def test_missing_and_empty_files(self, catalog_dir):
        (catalog_dir / "teams.yaml").unlink()
        (catalog_dir / "markets.yaml").write_text("")
        problems = problems_in(catalog_dir)
        assert [(p.file, p.line) for p in problems] == [("markets.yaml", 1), ("teams.yaml", None)]
        assert "file is missing" in problems[1].message
        assert "got nothing" in problems[0].message

    def test_every_problem_is_reported_at_once(self, catalog_dir, edit):
        edit("markets.yaml", "time_zones: [Asia/Tokyo]", "time_zones: [Asia/Tokio]")
        edit("statutory_rules.yaml", "deadline: PT72H", "deadline: 72 hours")
        edit("teams.yaml", "    kind: partner\n", "    kind: [partner\n")
        assert [p.file for p in problems_in(catalog_dir)] == [
            "markets.yaml",
            "statutory_rules.yaml",
            "teams.yaml",
        ]

    def test_not_a_directory(self, tmp_path):
        problem = only_problem(tmp_path / "nowhere")
        assert "is not a directory" in problem.message


def test_catalog_error_is_invalid_input_and_reads_like_a_compiler_error(catalog_dir, edit):
    line = edit("markets.yaml", "time_zones: [Asia/Tokyo]", "time_zones: [Asia/Tokio]")
    with pytest.raises(InvalidInput) as caught:
        read_catalog(catalog_dir)
    assert isinstance(caught.value, CatalogError)
    assert str(caught.value.problems[0]).startswith(
        f"markets.yaml:{line}: markets[0].time_zones[0]: 'Asia/Tokio'"
    )
    assert "1 problem:" in caught.value.message


@pytest.mark.parametrize(
    ("location", "text"),
    [
        ((), ""),
        (("version",), "version"),
        (("factors", 2, "options", 1, "points"), "factors[2].options[1].points"),
        (("floors", 0, "when", "factors_at_least", "harm"), "floors[0].when.factors_at_least.harm"),
    ],
)
def test_format_location(location, text):
    assert format_location(location) == text
