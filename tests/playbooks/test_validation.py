"""`playbooks validate`: every kind of mistake, reported with file, path and line."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from watchfloor.catalog.loader import read_catalog
from watchfloor.playbooks.loader import PlaybookLibraryError, read_library

MINIMAL = """
    code: drill
    name: Drill
    summary: A playbook for tests.
    applies_to:
      escalation_types: [scam_campaign]
    roles:
      - {code: lead, name: Lead}
    steps:
      - id: first
        title: First
        owner: {role: lead}
        due: {after: PT1H, from: opened}
      - id: second
        title: Second
        owner: {team: legal}
        after: [first]
    exit_criteria:
      - Done.
"""


@pytest.fixture(scope="module")
def catalog_files():
    return read_catalog(Path(settings.WATCHFLOOR_CATALOG_DIR)).catalog


def problems(library_dir: Path, catalog) -> list[str]:
    with pytest.raises(PlaybookLibraryError) as caught:
        read_library(catalog=catalog, playbook_dir=library_dir)
    return [str(problem) for problem in caught.value.problems]


def only(library_dir: Path, catalog) -> str:
    found = problems(library_dir, catalog)
    assert len(found) == 1, found
    return found[0]


def test_the_default_library_is_valid_and_covers_every_escalation_type(catalog_files):
    library = read_library(catalog=catalog_files)
    types = {t.code for t in catalog_files.escalation_types.escalation_types}
    covered = {code for f in library.playbooks for code in f.spec.applies_to.escalation_types}
    assert covered == types
    languages = {lang for f in library.templates for lang in f.spec.bodies}
    assert {"en", "ja", "ko", "id", "zh-Hant", "zh-Hans", "th", "hi"} <= languages
    # Every template a playbook names exists, and every playbook file is named by its code.
    assert all(f.path.stem == f.spec.code for f in library.playbooks)


def test_a_minimal_playbook_is_valid(write_playbook, library_dir, catalog_files):
    write_playbook("drill", MINIMAL)
    library = read_library(catalog=catalog_files, playbook_dir=library_dir)
    assert "drill" in {f.spec.code for f in library.playbooks}


def test_malformed_yaml_is_reported_with_its_line(write_playbook, library_dir, catalog_files):
    write_playbook("drill", MINIMAL.replace("name: Drill", "name: Drill: the sequel"))
    problem = only(library_dir, catalog_files)
    assert problem.startswith("drill.yaml:2: not valid YAML")
    assert "put text that contains ': '" in problem


def test_an_unknown_field_is_refused(write_playbook, library_dir, catalog_files):
    write_playbook(
        "drill", MINIMAL.replace("    exit_criteria:", "    owner_notes: x\n    exit_criteria:")
    )
    problem = only(library_dir, catalog_files)
    assert problem.startswith("drill.yaml:17: owner_notes: unknown field 'owner_notes'")


def test_unknown_role_team_and_template(write_playbook, library_dir, catalog_files):
    text = MINIMAL.replace("owner: {role: lead}", "owner: {role: commander}").replace(
        "owner: {team: legal}", "owner: {team: lawyers}\n        templates: [nope]"
    )
    write_playbook("drill", text)
    found = problems(library_dir, catalog_files)
    assert found[0].startswith("drill.yaml:11: steps[0].owner.role: unknown role 'commander'")
    assert "use one of lead" in found[0]
    assert found[1].startswith("drill.yaml:15: steps[1].owner.team: unknown team 'lawyers'")
    assert "communications, customer_service, law_enforcement_response, legal" in found[1]
    assert found[2].startswith("drill.yaml:16: steps[1].templates[0]: unknown template 'nope'")


def test_a_cycle_in_step_dependencies(write_playbook, library_dir, catalog_files):
    text = MINIMAL.replace("due: {after: PT1H, from: opened}", "after: [second]")
    write_playbook("drill", text)
    problem = only(library_dir, catalog_files)
    assert problem.startswith("drill.yaml:12: steps[0].after:")
    assert "cycle: first → second → first" in problem


def test_an_unreachable_step(write_playbook, library_dir, catalog_files):
    text = MINIMAL.replace(
        "    applies_to:\n      escalation_types: [scam_campaign]",
        "    applies_to:\n      escalation_types: [scam_campaign]\n      severity_at_least: SEV2",
    ).replace("after: [first]", "after: [first]\n        when: {severity_at_most: SEV3}")
    write_playbook("drill", text)
    problem = only(library_dir, catalog_files)
    assert problem.startswith("drill.yaml:18: steps[1].when: step 'second' is unreachable")
    assert "SEV0–SEV2" in problem


def test_a_step_for_another_type_is_unreachable(write_playbook, library_dir, catalog_files):
    write_playbook(
        "drill", MINIMAL.replace("after: [first]", "after: [first]\n        when: {types: [ncii]}")
    )
    assert "unreachable: the playbook only applies to scam_campaign" in only(
        library_dir, catalog_files
    )


def test_an_offset_after_the_statutory_deadline_it_serves(
    write_playbook, library_dir, catalog_files
):
    # India's rule 3(2)(b): two hours for NCII complaints.
    text = MINIMAL.replace(
        "due: {after: PT1H, from: opened}",
        "due: {after: PT90M, from: opened}\n        serves: in-itrules-3-2-b",
    ).replace(
        "after: [first]",
        "after: [first]\n        serves: in-itrules-3-2-b\n"
        "        due: {after: PT45M, from: previous_step}",
    )
    write_playbook("drill", text)
    problem = only(library_dir, catalog_files)
    assert problem.startswith("drill.yaml:19: steps[1].due: step 'second' serves in-itrules-3-2-b")
    assert "the law allows 2 hours, but can fall due 135 min after the escalation opened" in problem


def test_business_time_is_checked_at_its_worst_case(write_playbook, library_dir, catalog_files):
    # 20 business hours can take far longer than the 24 hours eSafety allows.
    text = MINIMAL.replace(
        "due: {after: PT1H, from: opened}",
        "due: {after: 20 business hours, from: opened}\n        serves: au-osa-removal-notice",
    )
    write_playbook("drill", text)
    assert "steps[0].due: step 'first' serves au-osa-removal-notice" in only(
        library_dir, catalog_files
    )


def test_counting_forward_from_the_deadline_it_serves(write_playbook, library_dir, catalog_files):
    text = MINIMAL.replace(
        "due: {after: PT1H, from: opened}",
        "due: {after: PT1H, from: statutory}\n        serves: statutory",
    )
    write_playbook("drill", text)
    problem = only(library_dir, catalog_files)
    assert "serves the statutory deadline but falls due 1 hour after it" in problem


def test_before_needs_a_deadline_and_previous_step_needs_a_previous_step(
    write_playbook, library_dir, catalog_files
):
    write_playbook(
        "drill",
        MINIMAL.replace("due: {after: PT1H, from: opened}", "due: {before: PT1H, from: opened}"),
    )
    assert "'before' counts back from a deadline" in only(library_dir, catalog_files)
    write_playbook(
        "drill",
        MINIMAL.replace(
            "due: {after: PT1H, from: opened}", "due: {after: PT1H, from: previous_step}"
        ),
    )
    assert "steps[0].due.from: the first step has no previous step" in only(
        library_dir, catalog_files
    )


def test_a_template_with_an_unknown_variable(write_template, library_dir, catalog_files):
    write_template(
        "drill_notice",
        """
        code: drill_notice
        name: Drill notice
        purpose: Tests.
        audience: internal
        channel: email
        inputs:
          - {name: contact, label: Contact}
        bodies:
          en:
            body: "{{ reference }} for {{ contact }}"
          ja:
            body: "{{ refrence }} の件 {{ title }"
        """,
    )
    found = problems(library_dir, catalog_files)
    assert found[0].startswith(
        "drill_notice.yaml:12: bodies.ja.body: unknown variable '{{ refrence }}'"
    )
    assert "declare it under inputs" in found[0]
    assert "'{{' or '}}' that is not a variable" in found[1]


def test_a_template_needs_english(write_template, library_dir, catalog_files):
    write_template(
        "drill_notice",
        """
        code: drill_notice
        name: Drill notice
        purpose: Tests.
        audience: internal
        channel: email
        bodies:
          ja: {body: "本文"}
        """,
    )
    assert "every template needs an 'en' body" in only(library_dir, catalog_files)


def test_file_name_and_code_must_agree(write_playbook, library_dir, catalog_files):
    write_playbook("drill_two", MINIMAL)
    assert "code 'drill' differs from the file name" in only(library_dir, catalog_files)


def test_the_command_reports_problems_on_stderr_and_fails(db, write_playbook, library_dir):
    write_playbook("drill", MINIMAL.replace("owner: {team: legal}", "owner: {team: lawyers}"))
    stderr = StringIO()
    with pytest.raises(CommandError, match="has 1 problem; fix them and validate again"):
        call_command("playbooks", "validate", str(library_dir), stderr=stderr)
    assert "drill.yaml:15: steps[1].owner.team: unknown team 'lawyers'" in stderr.getvalue()


def test_the_command_summarises_a_valid_library(db, library_dir):
    stdout = StringIO()
    call_command("playbooks", "validate", str(library_dir), stdout=stdout)
    assert "the playbook library is valid" in stdout.getvalue()
    assert "violent_attack_content: 9 steps, auto-start" in stdout.getvalue()


def test_a_translation_must_use_the_variables_of_the_english_text(
    write_template, library_dir, catalog_files
):
    write_template(
        "drill_notice",
        """
        code: drill_notice
        name: Drill notice
        purpose: Tests.
        audience: partner_team
        channel: ticket
        inputs:
          - {name: contact, label: Contact}
        bodies:
          en:
            subject: "{{ reference }}: our answer"
            body: "We reviewed {{ title }}. Ask {{ contact }}."
          ko:
            subject: "{{ reference }}: 회신"
            body: "{{ title }} 건을 검토했습니다. 담당: {{ owner }}"
        """,
    )
    assert only(library_dir, catalog_files) == (
        "drill_notice.yaml:14: bodies.ko.body: the 'ko' body lacks {{ contact }} and adds "
        "{{ owner }}: every language must use the variables of the English body"
    )
