"""The language server's pure functions, without the protocol: positions, the text at the
cursor, a document read, diagnostics, hover, completion, definitions, symbols, formatting."""

from __future__ import annotations

import pytest
from lsprotocol import types

from bitlocker_rules.citations import registry
from bitlocker_rules.config import ProjectConfig, config_for
from bitlocker_rules.formatter import format_text
from bitlocker_rules.lsp.completion import completions
from bitlocker_rules.lsp.context import after_dot, bindings, code_only, compared, word_at
from bitlocker_rules.lsp.diagnostics import lsp_diagnostics
from bitlocker_rules.lsp.document import parse_document, read_document, with_earlier
from bitlocker_rules.lsp.formatting import formatted
from bitlocker_rules.lsp.hover import hover_at
from bitlocker_rules.lsp.navigation import definition_at, document_symbols
from bitlocker_rules.lsp.positions import UTF8, UTF16, UTF32, LineIndex
from bitlocker_rules.resources import shipped_ruleset_paths
from bitlocker_rules.source import Span
from bitlocker_rules.syntax import parse_ruleset
from bitlocker_rules.vocabulary import shipped_vocabulary

VOCABULARY = shipped_vocabulary()
REQUIREMENTS = registry()
PASSWORD = "123453-234564-345675-456786-567897-678908-789019-890120"

RULES = """ruleset demo "Demo rules"

define administrator = device.user_role == Administrator

rule DM-01 "The firmware runs in UEFI mode"
  severity error
  sources S5
  when administrator
  require device.firmware_mode == UEFI

rule DM-02 "Every volume is protected"
  require all v in device.volumes: v.protection_status == On

note DM-03 "A startup PIN"
  when policy.tpm_startup_pin in {Required, Allowed}
"""


def read(text: str = RULES):
    return read_document(text, "demo.rules", VOCABULARY)


def offset_in(text: str, word: str, after: str = "") -> int:
    """The offset of the middle of ``word``, first found after ``after``."""
    return text.index(word, text.index(after)) + len(word) // 2


# --- positions


def test_positions_count_code_units_of_the_encoding():
    text = 'a\nrule X-1 "é🔒" x'
    index = LineIndex(text)
    x = text.rindex("x")
    assert index.position(x, UTF16) == (1, 15)  # 🔒 is two UTF-16 units
    assert index.position(x, UTF8) == (1, 18)  # é two bytes, 🔒 four
    assert index.position(x, UTF32) == (1, 14)
    for encoding in (UTF8, UTF16, UTF32):
        assert index.offset(*index.position(x, encoding), encoding) == x


def test_a_position_past_a_line_end_is_its_end():
    index = LineIndex("ab\ncd")
    assert index.offset(0, 99) == 2
    assert index.offset(9, 0) == 5
    assert index.offset_of_column(2, 2) == 4
    assert index.range(Span(1, 4)) == types.Range(types.Position(0, 1), types.Position(1, 1))


# --- the text at the cursor


def test_the_word_at_the_cursor():
    line = 'require device.os_version >= 10.0.17763 # device.tpm_present "x"'
    assert word_at(line, 10).text == "device.os_version"
    assert word_at(line, line.index("10.0") + 2).text == "10.0.17763"
    assert word_at(line, line.index("tpm_present")) is None  # in a comment
    assert word_at('rule SE-05 "the device.tpm_present"', 22) is None  # in a quoted text
    assert word_at("SE-05 x", 2).text == "SE-05"
    assert word_at("a  b", 2) is None


def test_code_only_blanks_texts_and_cuts_comments():
    assert code_only('rule X-1 "a # \\" b" # c') == 'rule X-1 "        " '


def test_what_the_text_before_the_cursor_is_typing():
    assert after_dot("  require device.os_", 20).before == "device"
    assert after_dot("  require device.os_", 20).typed == "os_"
    assert after_dot("  require device", 16) is None
    assert after_dot('  rule X-1 "device.', 19) is None  # in a quoted text
    typing = compared("  require device.firmware_mode == UE", 36)
    assert (typing.before, typing.typed) == ("device.firmware_mode", "UE")
    assert compared("  when x.volume_type in {Fixed, Re", 34).before == "x.volume_type"
    assert compared("  require device.firmware_mode", 30) is None


def test_quantifier_variables_are_in_scope_inside_their_item_only():
    text = 'rule A-1 "a"\n  require any v in device.volumes: count(w in policy.x: w.y)'
    assert bindings(text, len(text)) == {"v": "device.volumes", "w": "policy.x"}
    later = text + '\nrule A-2 "b"\n  require v.'
    assert bindings(later, len(later)) == {}


# --- a document read


def test_a_document_that_does_not_parse_has_its_syntax_error_and_no_tree():
    document = read(RULES + "\nrule DM-04 'single quotes'\n")
    assert document.parsed is None and document.checked is None
    assert [f.code for f in document.findings] == ["E101"]


def test_a_document_that_does_not_check_has_its_parsed_tree_and_every_checker_error():
    document = read(RULES.replace("firmware_mode", "firmware_mod").replace("== On", "== Of"))
    assert document.parsed is not None and document.checked is None
    assert [f.code for f in document.findings] == ["E302", "E305"]


def test_a_document_that_checks_has_lints_findings():
    twice = RULES + '\nrule DM-05 "Again"\n  when administrator\n  require device.firmware_mode == UEFI\n'
    document = read(twice)
    assert document.checked is not None
    assert [f.code for f in document.findings] == ["L105"]


def test_a_reading_for_requests_only_parses():
    document = parse_document(RULES.replace("firmware_mode", "firmware_mod"), "demo.rules")
    assert document.parsed is not None and document.checked is None and document.findings is None
    assert lsp_diagnostics(document, "file:///demo.rules") == []
    assert hover_at(document, offset_in(RULES, "administrator", "when"), VOCABULARY, REQUIREMENTS) is not None
    assert parse_document(RULES + "\nrule", "demo.rules").parsed is None
    at = RULES.index("DM-01") + 1  # one character of byte-order mark before it
    assert parse_document("\ufeff" + RULES, "demo.rules").parsed.rules[0].spans["id"] == Span(at, at + 5)


def test_a_byte_order_mark_keeps_every_offset():
    text = "\ufeff" + RULES.replace("firmware_mode", "firmware_mod")
    (diagnostic,) = lsp_diagnostics(read(text), "file:///demo.rules")
    start = text.index("device.firmware_mod")
    assert diagnostic.range.start == types.Position(*LineIndex(text).position(start))
    (ruleset,) = document_symbols(read(text))
    assert ruleset.children[1].selection_range.start == types.Position(4, 5)  # DM-01, from the tree's spans


@pytest.mark.parametrize("name", ["silent_enablement", "recovery_keys"])
def test_every_prefix_of_a_shipped_file_is_answered_without_an_error(name):
    # What an editor sends while a file is typed: the functions answer every part, parsed or not.
    text = shipped_ruleset_paths()[name].read_text(encoding="utf-8")
    for end in range(0, len(text), 151):
        prefix = text[:end]
        document = read_document(prefix, "typed.rules", VOCABULARY, lint_seconds=0.5)
        assert document.findings or end == 0 or prefix.strip() == "" or document.checked is not None
        lsp_diagnostics(document, "file:///typed.rules")
        for offset in (end, end // 2, end // 3):
            hover_at(document, offset, VOCABULARY, REQUIREMENTS)
            completions(document, offset, VOCABULARY, REQUIREMENTS)
            definition_at(document, offset)
        document_symbols(document)
        formatted(document)


# --- diagnostics


def test_a_diagnostic_has_its_range_severity_code_and_help():
    text = RULES.replace("firmware_mode", "firmware_mod")
    (diagnostic,) = lsp_diagnostics(read(text), "file:///demo.rules")
    start = text.index("device.firmware_mod")
    line = text.count("\n", 0, start)
    column = start - text.rfind("\n", 0, start) - 1
    assert diagnostic.range == types.Range(
        types.Position(line, column), types.Position(line, column + len("device.firmware_mod"))
    )
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert (diagnostic.code, diagnostic.source) == ("E302", "bitlocker-rules")
    assert diagnostic.message == "unknown fact `device.firmware_mod`\nhelp: did you mean `device.firmware_mode`?"


def test_a_finding_about_two_rules_points_at_the_second_too():
    twice = RULES + '\nrule DM-05 "Again"\n  when administrator\n  require device.firmware_mode == UEFI\n'
    (diagnostic,) = lsp_diagnostics(read(twice), "file:///demo.rules")
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    assert diagnostic.range.start == types.Position(4, 5)  # DM-01's id
    (other,) = diagnostic.related_information
    assert other.location.uri == "file:///demo.rules"
    assert other.location.range.start == types.Position(16, 5)  # DM-05's id


def test_a_diagnostic_masks_a_recovery_password():
    text = RULES.replace("device.firmware_mode == UEFI", f"device.firmware_mode == {PASSWORD.replace('-', '_')}")
    messages = " ".join(d.message for d in lsp_diagnostics(read(text), "file:///demo.rules"))
    assert messages and "123453" not in messages


# --- hover


def hover(text: str, word: str, after: str = ""):
    found = hover_at(read(text), offset_in(text, word, after), VOCABULARY, REQUIREMENTS)
    return found.markdown if found is not None else None


def test_hover_on_a_fact_shows_its_label_type_members_origins_and_description():
    text = hover(RULES, "tpm_startup_pin")
    assert text.startswith("**Compatible TPM startup PIN** `policy.tpm_startup_pin`")
    assert "Type: enum ConfigurationUsage" in text
    assert "- `Required`: Require" in text
    assert "CSP node: `./Device/Vendor/MSFT/BitLocker/SystemDrivesRequireStartupAuthentication`" in text
    assert ", data id `ConfigurePINUsageDropDown_Name`" in text
    assert "Graph property: `bitLockerSystemDrivePolicy.startupAuthenticationTpmPinUsage` on" in text
    assert "Settings catalog id: `device_vendor_msft_bitlocker_" in text
    assert VOCABULARY.fact("policy.tpm_startup_pin").description in text


def test_hover_covers_the_whole_dotted_name():
    start = RULES.index("device.firmware_mode")
    found = hover_at(read(), start + 3, VOCABULARY, REQUIREMENTS)
    assert (found.start, found.end) == (start, start + len("device.firmware_mode"))


def test_hover_on_a_collection_lists_its_fields_and_on_a_field_shows_it():
    assert "- `protection_status`: Protection status (enum ProtectionStatus)" in hover(RULES, "volumes")
    assert hover(RULES, "protection_status").startswith("**Protection status** `protection_status`")


def test_hover_on_a_member_shows_its_label_for_the_fact_compared():
    label = VOCABULARY.fact("policy.tpm_startup_pin").member_label("Required")
    assert label != VOCABULARY.enums["ConfigurationUsage"].member("Required").label  # the fact's own word
    assert hover(RULES, "Required") == f"`Required`: **{label}** (Compatible TPM startup PIN, enum ConfigurationUsage)"
    assert hover(RULES, "UEFI", "require").startswith("`UEFI`: **UEFI** (BIOS Mode, enum FirmwareMode)")


def test_hover_on_a_source_id_shows_the_requirements_title():
    assert hover(RULES, "S5").startswith(f"**S5**: {REQUIREMENTS['S5'].title}")


def test_hover_on_a_scenario_shows_its_label_and_description():
    scenario = VOCABULARY.scenarios["silent_enablement"]
    text = 'ruleset demo "Demo"\n  scenario silent_enablement\n'
    assert hover(text, "silent_enablement") == (
        f"**{scenario.label}** (scenario `silent_enablement`, the fact `scenario.silent_enablement`)\n\n"
        f"{scenario.description}"
    )


def test_hover_on_a_defined_name_shows_its_condition():
    assert hover(RULES, "administrator", "when") == (
        "```\ndefine administrator = device.user_role == Administrator\n```"
    )


def test_hover_in_a_text_or_on_a_keyword_says_nothing():
    assert hover(RULES, "firmware", '"The') is None
    assert hover(RULES, "severity") is None


def test_hover_works_on_the_parts_of_a_document_that_does_not_parse():
    text = RULES + "\nrule DM-04 'broken"
    assert read(text).parsed is None
    assert hover(text, "firmware_mode").startswith("**BIOS Mode**")


def test_hover_masks_a_recovery_password():
    text = RULES.replace(
        "define administrator = device.user_role == Administrator",
        f'define administrator = device.computer_name == "{PASSWORD}"',
    )
    assert read(text).parsed is not None
    shown = hover(text, "administrator", "when")
    assert "computer_name" in shown and "123453" not in shown


# --- completion


def labels(text: str, offset: int | None = None) -> list[str]:
    return [
        item.label
        for item in completions(read(text), len(text) if offset is None else offset, VOCABULARY, REQUIREMENTS)
    ]


def test_completion_after_a_namespace_lists_its_facts():
    listed = labels(RULES + '\nrule DM-04 "x"\n  require policy.')
    assert listed == [name.split(".", 1)[1] for name in VOCABULARY.facts if name.startswith("policy.")]
    item = completions(read(RULES + "\ndefine x = policy.tpm_s"), len(RULES) + 23, VOCABULARY, REQUIREMENTS)
    pin = next(i for i in item if i.label == "tpm_startup_pin")
    assert pin.detail == "Compatible TPM startup PIN (enum ConfigurationUsage)"
    assert pin.documentation.value.startswith("**Compatible TPM startup PIN**")


def test_completion_after_a_quantifier_variable_lists_the_record_fields():
    listed = labels(RULES + '\nrule DM-04 "x"\n  require any vol in device.volumes: vol.')
    assert listed == [f.name for f in VOCABULARY.fact("device.volumes").type.fields]


def test_completion_after_a_comparison_lists_the_members_with_their_labels():
    items = completions(
        read(RULES + "\ndefine x = policy.tpm_startup_pin != "), len(RULES) + 37, VOCABULARY, REQUIREMENTS
    )
    assert [(i.label, i.detail) for i in items] == [
        (m, VOCABULARY.fact("policy.tpm_startup_pin").member_label(m))
        for m in VOCABULARY.fact("policy.tpm_startup_pin").type.enum.member_names
    ]
    in_set = RULES + "\ndefine x = device.firmware_mode in {UEFI, "
    assert labels(in_set) == ["UEFI", "LegacyBIOS"]
    assert labels(RULES + "\ndefine x = device.tpm_present == ") == ["true", "false"]
    assert labels(RULES + "\ndefine x = device.os_version >= ") == []


def test_completion_in_a_clause_lists_what_it_names():
    assert labels(RULES + '\nrule DM-04 "x"\n  severity w') == ["error", "warning", "info"]
    items = completions(read(RULES + '\nrule DM-04 "x"\n  sources S5, F'), len(RULES) + 31, VOCABULARY, REQUIREMENTS)
    assert [i.label for i in items] == list(REQUIREMENTS)
    assert next(i for i in items if i.label == "S5").detail == REQUIREMENTS["S5"].title
    assert labels(RULES + "\n  related intune-") == list(REQUIREMENTS)
    assert labels('ruleset demo "Demo"\n  scenario silent_enablement, ') == list(VOCABULARY.scenarios)
    assert labels(RULES + '\nrule DM-04 "x"\n  sources S5\n  require ')[0] == "policy"  # the clause has ended


def test_completion_elsewhere_offers_namespaces_definitions_and_keywords():
    listed = labels(RULES, RULES.index("administrator", RULES.index("when")))
    assert {"policy", "device", "administrator", "require", "any", "count"} <= set(listed)
    second = RULES.replace("define administrator", "define uefi = device.firmware_mode == UEFI\ndefine administrator")
    listed = labels(second, second.index("administrator", second.index("when")))
    assert {"uefi", "administrator"} <= set(listed)  # every definition, not the first alone


# --- definitions and symbols


def test_definition_of_a_defined_name_is_its_define():
    start = RULES.index("administrator")
    assert definition_at(read(), offset_in(RULES, "administrator", "when")) == Span(start, start + 13)
    assert definition_at(read(), offset_in(RULES, "firmware_mode")) is None


def test_symbols_are_the_ruleset_with_its_definitions_rules_and_notes():
    (ruleset,) = document_symbols(read())
    assert (ruleset.name, ruleset.detail, ruleset.kind) == ("demo", "Demo rules", types.SymbolKind.Module)
    assert [(s.name, s.detail, s.kind) for s in ruleset.children] == [
        ("administrator", "define", types.SymbolKind.Constant),
        ("DM-01", "The firmware runs in UEFI mode", types.SymbolKind.Function),
        ("DM-02", "Every volume is protected", types.SymbolKind.Function),
        ("DM-03", "A startup PIN", types.SymbolKind.Event),
    ]
    rule = ruleset.children[1]
    assert rule.range == types.Range(types.Position(4, 0), types.Position(8, 38))
    assert rule.selection_range == types.Range(types.Position(4, 5), types.Position(4, 10))
    assert document_symbols(read(RULES + "\nrule")) == []


def test_while_a_change_does_not_parse_the_outline_keeps_what_lies_before_it():
    typing = with_earlier(read(RULES + '\nrule DM-04 "x"\n  require device.'), read())
    assert typing.parsed is None
    (ruleset,) = document_symbols(typing)
    assert [s.name for s in ruleset.children] == ["administrator", "DM-01", "DM-02", "DM-03"]
    assert definition_at(typing, offset_in(RULES, "administrator", "when")) == definition_at(
        read(), offset_in(RULES, "administrator", "when")
    )
    assert formatted(typing) is None  # a tree of another text is never printed over this one
    # A change inside DM-02: what comes after it in the earlier tree is no longer trusted.
    broken = RULES.replace("v.protection_status == On", "v.protection_status ==")
    (ruleset,) = document_symbols(with_earlier(read(broken), typing))
    assert [s.name for s in ruleset.children] == ["administrator", "DM-01"]
    assert ruleset.range.end.line <= broken[: broken.index("v.protection")].count("\n")
    assert document_symbols(with_earlier(read(broken), None)) == []


# --- formatting


def test_formatting_gives_the_canonical_text_which_parses_to_the_same_tree():
    messy = RULES.replace("\n  severity error", "  severity   error").replace("rule DM-02", "\n\nrule DM-02")
    text = formatted(read(messy))
    assert text == formatted(read(text))
    assert parse_ruleset(text) == parse_ruleset(RULES)
    assert 'rule DM-01 "The firmware runs in UEFI mode"\n  severity error\n  sources S5\n' in text


def test_formatting_is_fmt_s_and_keeps_comments_and_leaves_an_error():
    commented = "# rules of the security office\n" + RULES
    assert formatted(read(commented)) == format_text(commented)
    assert "# rules of the security office" in formatted(read(commented))
    assert formatted(read(RULES + "\nrule")) is None


def test_diagnostics_honour_the_file_s_suppressions_as_lint_does():
    staged = 'ruleset staged "Rules being introduced"\n\ndefine pin_required = policy.tpm_startup_pin == Required\n'
    assert [f.code for f in read(staged).findings] == ["L106"]  # the unused definition
    hidden = staged.replace(
        "\ndefine", "\n# bitlocker-rules: ignore[unused-definition] reason: used next release\ndefine"
    )
    assert read(hidden).findings == ()
    unreasoned = hidden.replace(" reason: used next release", "")
    assert sorted(f.code for f in read(unreasoned).findings) == ["L106", "L110"]


def test_diagnostics_follow_the_project_configuration_beside_the_file(tmp_path):
    staged = 'ruleset staged "Rules being introduced"\n\ndefine pin_required = policy.tpm_startup_pin == Required\n'
    (tmp_path / "rules").mkdir()
    (tmp_path / "bitlocker-rules.toml").write_text('[lint]\ndisable = ["unused-definition"]\n')
    config = config_for(tmp_path / "rules" / "staged.rules")
    assert read_document(staged, "staged.rules", VOCABULARY, config=config).findings == ()
    assert [f.code for f in read_document(staged, "staged.rules", VOCABULARY).findings] == ["L106"]
    (tmp_path / "bitlocker-rules.toml").write_text(
        "[lint]\ndisabled = 1\n"
    )  # unreadable: ignored here, lint reports it
    assert config_for(tmp_path / "rules" / "staged.rules") == ProjectConfig()
