"""The checker: every problem of a file at once, located, with help."""

from __future__ import annotations

import pytest

from bitlocker_rules import RulesError, compile_text
from bitlocker_rules import nodes as n
from bitlocker_rules.versions import WindowsVersion

HEADER = 'ruleset t "Test"\n'


def diagnostics(text: str):
    with pytest.raises(RulesError) as info:
        compile_text(HEADER + text, "t.rules")
    return info.value.diagnostics


def only(text: str):
    found = diagnostics(text)
    assert len(found) == 1, [d.render() for d in found]
    return found[0]


def test_misspelled_fact_is_located_with_a_suggestion():
    d = only('rule A-1 "x"\n  require policy.tpm_startup_pn != Required\n')
    assert d.code == "E302"
    assert d.location == "t.rules:3:11"
    assert d.help == "did you mean `policy.tpm_startup_pin`?"
    rendered = d.render()
    assert "   3 |   require policy.tpm_startup_pn != Required" in rendered
    assert rendered.splitlines()[2].endswith("^" * len("policy.tpm_startup_pn"))


def test_fact_in_wrong_namespace_is_suggested_by_its_last_part():
    d = only('rule A-1 "x" require device.tpm_startup_pin != Required\n')
    assert "policy.tpm_startup_pin" in d.help


def test_misspelled_enum_member():
    d = only('rule A-1 "x" require policy.tpm_startup_pin != Requird\n')
    assert d.code == "E305"
    assert d.help == "did you mean `Required`?"


def test_member_of_the_wrong_enum():
    d = only('rule A-1 "x" require policy.tpm_startup_pin == Block\n')
    assert d.code == "E305"
    assert "ConfigurationUsage" in d.message


def test_version_compared_with_an_enum_member():
    d = only('rule A-1 "x" require device.os_version >= Required\n')
    assert d.code == "E306"


def test_two_facts_of_different_types():
    d = only('rule A-1 "x" require device.os_version == policy.tpm_startup_pin\n')
    assert d.code == "E410"


def test_ordering_an_enum_is_refused():
    d = only('rule A-1 "x" require policy.tpm_startup_pin < Required\n')
    assert d.code == "E404"


def test_quoted_member_gets_a_hint():
    d = only('rule A-1 "x" require policy.tpm_startup_pin == "Required"\n')
    assert d.code == "E412"


def test_unknown_release_name():
    d = only('rule A-1 "x" require device.os_version >= "Windows 12"\n')
    assert d.code == "E411"


def test_all_problems_are_reported_together_in_file_order():
    found = diagnostics(
        'rule A-1 "x" severity eror require device.os_versio >= 1809\n'
        'rule A-1 "y" require policy.tpm_startup_pin == Nope\n'
        'rule B-1 "z"\n'
    )
    assert [d.code for d in found] == ["E204", "E302", "E202", "E305", "E205"]
    assert [d.span.start for d in found] == sorted(d.span.start for d in found)


def test_undefined_and_duplicate_definitions():
    found = diagnostics('define a = device.tpm_present\ndefine a = device.tpm_ready\nrule A-1 "x" require a and b\n')
    assert {d.code for d in found} == {"E203", "E307"}


def test_definition_used_as_value():
    d = only('define a = device.tpm_present\nrule A-1 "x" require a == true\n')
    assert d.code == "E408"


def test_non_condition_in_require():
    d = only('rule A-1 "x" require device.tpm_version\n')
    assert d.code == "E401"


def test_collection_compared_directly():
    d = only('rule A-1 "x" require device.volumes == 1\n')
    assert d.code == "E409"


def test_unknown_record_field_and_shadowed_variable():
    found = diagnostics(
        'rule A-1 "x" require any v in device.volumes: v.protection == On\n'
        'rule A-2 "x" require any v in device.volumes: any v in device.volumes: v.drive_letter == "C:"\n'
    )
    assert [d.code for d in found] == ["E304", "E301"]
    assert "protection_status" in found[0].help


def test_note_cannot_require_and_rule_must():
    found = diagnostics('note N-1 "n" require device.tpm_present\nrule A-1 "x" severity error\n')
    assert [d.code for d in found] == ["E206", "E205"]


def test_nesting_limit_is_a_diagnostic_not_a_recursion_error():
    deep = "not " * 100 + "(device.tpm_present and " * 50 + "device.tpm_ready" + ")" * 50
    d = only(f'rule A-1 "x" require {deep}\n')
    assert d.code == "E002"


def test_parentheses_alone_do_not_nest():
    compile_text(HEADER + 'rule A-1 "x" require ' + "(" * 500 + "device.tpm_present" + ")" * 500 + "\n")


def test_constants_are_typed():
    loaded = compile_text(
        HEADER + 'rule A-1 "x" require device.os_version >= 1809 and device.tpm_version >= 1'
        ' and device.os_version < "Windows 11" and device.os_version != 10.0.19045.3000\n'
    )
    consts = [e.right.value for e in loaded.rules[0].requires[0].operands]
    assert consts == [
        WindowsVersion(10, 0, 17763),
        1.0,
        WindowsVersion(10, 0, 22000),
        WindowsVersion(10, 0, 19045, 3000),
    ]
    assert isinstance(loaded.rules[0].requires[0].operands[0].left, n.FactRef)


def test_bool_fact_alone_is_a_condition():
    loaded = compile_text(HEADER + 'rule A-1 "x" require device.tpm_present\n')
    assert loaded.rules[0].requires[0] == n.Compare("==", n.FactRef("device.tpm_present"), n.Const(True))


def test_duplicate_ids_across_rulesets(tmp_path):
    from bitlocker_rules import Engine

    path = tmp_path / "dup.rules"
    path.write_text('ruleset dup "Dup"\nrule SE-09 "x" require device.tpm_present\n')
    with pytest.raises(RulesError) as info:
        Engine.load(["silent_enablement", str(path)])
    assert info.value.diagnostics[0].code == "E207"


def test_an_integer_fact_compares_with_a_decimal_fact():
    """Guards the numeric mix between two facts (language.md, Types: compatible types are "the
    same enumeration, the same scalar type, or two numbers (integer and decimal mix)"): not
    only a literal, which is converted, but a fact of the other numeric type, compared by value."""
    loaded = compile_text(HEADER + 'rule A-1 "x" require policy.minimum_pin_length >= device.tpm_version\n')
    assert loaded.verdicts({"policy.minimum_pin_length": 2, "device.tpm_version": 2.0}) == (0,)
    assert loaded.verdicts({"policy.minimum_pin_length": 1, "device.tpm_version": 1.2}) == (1,)


def test_two_facts_of_different_enumerations_do_not_compare():
    """Guards E410 between enumerations (language.md, Types: both sides are "the same
    enumeration"): two enum facts compare only when they share one, as the documented
    `policy.tpm_startup == policy.tpm_startup_pin` does."""
    d = only('rule A-1 "x" require policy.tpm_startup_pin == device.firmware_mode\n')
    assert d.code == "E410"
    compile_text(HEADER + 'rule A-1 "x" require policy.tpm_startup == policy.tpm_startup_pin\n')


def test_a_fact_inside_a_set_is_refused():
    """Guards E405 (language.md, Membership: "the items are constants of the operand's type"):
    a fact of the right type among the items is still not a constant."""
    d = only('rule A-1 "x" require policy.tpm_startup in {Allowed, policy.tpm_startup_pin}\n')
    assert d.code == "E405"


def test_a_quantifier_may_not_bind_a_definition_s_name():
    """Guards E301 for definitions (language.md, Quantifiers: "a name may not reuse a
    definition's name"): inside the body the bare name would mean the record, not the
    definition, so the checker refuses it rather than pick one."""
    d = only('define v = device.tpm_present\nrule A-1 "x" require any v in device.volumes: v.protection_status == On\n')
    assert d.code == "E301"


def chain(links: int, require: str) -> str:
    """Definitions d0 … d<links>, each `not` the one before, and a rule requiring ``require``."""
    defines = ["define d0 = device.tpm_present"] + [f"define d{k} = not d{k - 1}" for k in range(1, links + 1)]
    return "\n".join(defines) + f'\nrule A-1 "x" require {require}\n'


def test_a_condition_may_nest_exactly_to_the_limit_once_expanded():
    """Guards the bound of E213 (checker.MAX_DEPTH, "the limit is 256"): 256 levels are allowed,
    257 are not. Levels are nodes on the longest path, counted by hand: d0's body
    (`tpm_present == true`) is 2, each `not d` adds 2 (the `not` and the reference), so
    d<k>'s body is 2 + 2k; a rule's reference to it adds 1, and a `not` 1 more."""
    compile_text(HEADER + chain(126, "not d126"))  # 1 + 1 + (2 + 2 * 126) = 256
    d = only(chain(127, "d127"))  # 1 + (2 + 2 * 127) = 257; d127's own body is 256
    assert (d.code, d.message) == (
        "E213",
        "rule A-1 nests 257 levels deep once its definitions are expanded; the limit is 256",
    )
