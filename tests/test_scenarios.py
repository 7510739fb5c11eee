"""Scenarios, advice, disputed and unconfirmed rules: the language, the checker, the resolver
that declares or infers scenarios, the engine and the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bitlocker_rules import Engine, InputError, RulesError, Status, compile_text, parse_ruleset, print_ruleset
from bitlocker_rules.cli import main
from bitlocker_rules.outcome import ValueOrigin
from bitlocker_rules.scenarios import ScenarioResolver
from bitlocker_rules.vocabulary import build_vocabulary

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

VOCABULARY = build_vocabulary(
    {
        "enums": {"Usage": {"description": "", "members": [{"name": m, "label": m} for m in ("Blocked", "Required")]}},
        "facts": [
            {"name": "policy.warning", "type": "bool", "label": "Warning for other disk encryption blocked"},
            {"name": "policy.pin", "type": "enum Usage", "label": "Compatible TPM startup PIN"},
            {"name": "device.tpm_present", "type": "bool", "label": "TPM present"},
        ],
        "scenarios": {
            "silent": {"label": "Silent enablement", "excludes": ["interactive"], "inferred_on": "policy.warning"},
            "interactive": {
                "label": "Interactive startup",
                "inferred_on": "policy.warning == false and policy.pin == Required",
            },
            "rotation": {"label": "Rotation"},
        },
    }
)

RULES = """ruleset demo "Demo"
  scenario silent

rule D-1 "A startup PIN is not required"
  sources S9
  require policy.pin != Required

rule D-2 "A TPM is present"
  related S4
  scenario interactive
  when policy.pin == Required
  require device.tpm_present
"""


def loaded(text: str = RULES):
    return compile_text(text, "demo.rules", VOCABULARY)


def statuses(engine: Engine, values: dict) -> dict[str, Status]:
    return {o.rule: o.status for o in engine.evaluate(engine.facts(values)).outcomes}


# ---- the language -----------------------------------------------------------------------------


def test_scenario_clauses_parse_and_print_back():
    ruleset = parse_ruleset(
        RULES + '\nrule D-3 "x"\n  disputed "they differ"\n  require policy.warning\n'
        '\nrule D-4 "y"\n  unconfirmed "not named"\n  require policy.warning\n'
    )
    assert ruleset.scenarios == ("silent",)
    assert [r.scenarios for r in ruleset.rules] == [(), ("interactive",), (), ()]
    assert ruleset.rules[1].related == ("S4",) and ruleset.rules[1].encodes == ()
    assert ruleset.rules[2].disputed == "they differ" and ruleset.rules[3].unconfirmed == "not named"
    assert parse_ruleset(print_ruleset(ruleset)) == ruleset


def test_a_rule_applies_only_in_its_scenario_its_own_clause_or_its_ruleset_s():
    checked = loaded().ruleset
    assert [r.scenarios for r in checked.rules] == [("silent",), ("interactive",)]
    # A checked tree prints each rule's scenarios as a clause (never as the fact it reads), and
    # checks to the same rules again.
    text = print_ruleset(checked)
    assert "scenario.silent" not in text
    assert compile_text(text, "again.rules", VOCABULARY).ruleset.rules == checked.rules


def test_the_scenario_condition_points_at_the_clause():
    engine = Engine([loaded()], VOCABULARY, scenarios={"interactive": "with --scenario interactive"})
    (d1,) = [
        o
        for o in engine.evaluate(engine.facts({"policy.pin": "Blocked"}), explain_all=True).outcomes
        if o.rule == "D-1"
    ]
    assert d1.status is Status.NOT_APPLICABLE
    (reason,) = d1.reasons
    assert reason.text == "scenario silent" and str(reason.location) == "demo.rules:2:3"
    assert reason.sentence() == (
        "The rule does not apply: Silent enablement (scenario) is out of scope (it applies when it is in scope)"
    )


@pytest.mark.parametrize(
    "text, code, message, hint",
    [
        (
            'ruleset d "D"\n  scenario silnt\nrule D-1 "x"\n  require policy.warning\n',
            "E210",
            "unknown scenario `silnt`",
            "did you mean `silent`?",
        ),
        (
            'ruleset d "D"\nrule D-1 "x"\n  scenario rotatoin\n  require policy.warning\n',
            "E210",
            "unknown scenario `rotatoin`",
            "did you mean `rotation`?",
        ),
        (
            'ruleset d "D"\nrule D-1 "x"\n  sources S1\n  related S2\n  require policy.warning\n',
            "E209",
            "rule D-1 has both `sources` and `related`",
            None,
        ),
        (
            'ruleset d "D"\nrule D-1 "x"\n  disputed "a"\n  unconfirmed "b"\n  require policy.warning\n',
            "E211",
            "rule D-1 is both `disputed` and `unconfirmed`",
            None,
        ),
        ('ruleset d "D"\nnote D-1 "x"\n  disputed "a"\n', "E212", "note D-1 cannot be `disputed`", None),
    ],
)
def test_clause_mistakes_are_located_errors(text, code, message, hint):
    with pytest.raises(RulesError) as info:
        compile_text(text, "bad.rules", VOCABULARY)
    (found,) = [d for d in info.value.diagnostics if d.code == code]
    assert found.message == message and found.span is not None
    if hint:
        assert hint in found.help
    if code == "E210":  # the caret sits under the misspelled name itself
        assert text[found.span.start : found.span.end] in ("silnt", "rotatoin")


def test_a_disputed_failure_and_an_unconfirmed_pass_are_unknown_with_the_reason():
    ruleset = loaded(
        'ruleset d "D"\nrule D-1 "x"\n  disputed "the pages disagree"\n  require policy.warning\n'
        'rule D-2 "y"\n  unconfirmed "no page names it"\n  require policy.warning\n'
    )
    engine = Engine([ruleset], VOCABULARY)
    report = engine.evaluate(engine.facts({"policy.warning": False}))
    d1, d2 = report.outcomes
    assert (d1.status, d2.status) == (Status.UNKNOWN, Status.FAIL)
    assert d1.caveat == "the sources disagree: the pages disagree" and d1.short_reason() == d1.caveat
    report = engine.evaluate(engine.facts({"policy.warning": True}))
    d1, d2 = report.outcomes
    assert (d1.status, d2.status) == (Status.PASS, Status.UNKNOWN)
    assert d2.caveat == "not confirmed by the sources: no page names it"
    assert list(engine.verdicts({"policy.warning": True})) == [(0, 2)]


def test_disputed_and_unconfirmed_leave_a_rule_that_does_not_apply_or_is_unknown_as_it_is():
    """Guards the caveats' reach (language.md, the four verdicts: `disputed` turns a failure
    into unknown, `unconfirmed` a pass, nothing else): a rule that does not apply stays
    `not_applicable` and an unknown one stays unknown, with no caveat, in the report and the codes."""
    when = "  when policy.warning\n  require policy.pin != Required\n"
    ruleset = loaded(
        f'ruleset d "D"\nrule D-1 "x"\n  disputed "the pages disagree"\n{when}'
        f'rule D-2 "y"\n  unconfirmed "no page names it"\n{when}'
    )
    engine = Engine([ruleset], VOCABULARY)
    for values, status, code in (
        ({"policy.warning": False}, Status.NOT_APPLICABLE, 3),
        ({"policy.warning": True}, Status.UNKNOWN, 2),
    ):
        outcomes = engine.evaluate(engine.facts(values)).outcomes
        assert [(o.status, o.caveat) for o in outcomes] == [(status, ""), (status, "")]
        assert list(engine.verdicts(values)) == [(code, code)]


def test_advice_rules_say_so():
    engine = Engine([loaded()], VOCABULARY, scenarios=["interactive"])
    outcomes = {o.rule: o for o in engine.evaluate(engine.facts({"policy.pin": "Required"})).outcomes}
    assert outcomes["D-2"].advice and outcomes["D-2"].related == ("S4",)
    assert not outcomes["D-1"].advice and outcomes["D-1"].encodes == ("S9",)


# ---- declaring and inferring scenarios -------------------------------------------------------


def test_inferred_on_infers_a_scenario_and_excludes_the_other():
    resolver = ScenarioResolver(VOCABULARY, {})
    assert resolver.values({"policy.warning": True}) == {"scenario.silent": True, "scenario.interactive": False}
    records = {r.name: r for r in resolver.records({"policy.warning": True})}
    assert records["silent"].sentence() == (
        "Silent enablement: in scope, inferred from Warning for other disk encryption blocked is Yes"
    )
    assert records["interactive"].how == "excluded" and records["interactive"].holds is False
    assert records["rotation"].holds is None and records["rotation"].how == "unknown"


def test_nothing_to_infer_from_leaves_a_scenario_unknown_never_off():
    resolver = ScenarioResolver(VOCABULARY, {})
    assert resolver.values({}) == {}
    records = {r.name: r for r in resolver.records({})}
    assert records["silent"].state == "not known"
    assert "Warning for other disk encryption blocked is not known" in records["silent"].because


def test_a_declared_scenario_holds_and_the_one_it_excludes_does_not():
    resolver = ScenarioResolver(VOCABULARY, {"interactive": "with --scenario interactive"})
    assert resolver.values({"policy.warning": True}) == {"scenario.interactive": True, "scenario.silent": False}
    records = {r.name: r for r in resolver.records({"policy.warning": True})}
    assert records["interactive"].provenance() == "declared with --scenario interactive"
    assert records["silent"].provenance() == ("because Interactive startup is declared with --scenario interactive")


def test_an_input_may_give_a_scenario_itself():
    resolver = ScenarioResolver(VOCABULARY, {})
    assert resolver.values({"scenario.silent": False, "policy.warning": True}) == {"scenario.interactive": False}
    (silent, *_) = resolver.records(
        {"scenario.silent": False}, {"scenario.silent": (ValueOrigin("device 'PC'", ("facts",)),)}
    )
    assert silent.how == "declared" and silent.holds is False and "device 'PC'" in silent.because


def test_a_scenario_the_input_gives_as_holding_puts_the_one_it_excludes_out_of_scope():
    """Guards the exclusion of a scenario by one the input declares (language.md, Scenarios: an
    input's `"scenario.x": true` declares it, and declaring one puts the other out of scope), in
    both directions of `excludes` and on every path: the resolver, the report and `decide`.
    Nothing here infers either scenario, so only the exclusion can put one out of scope."""
    resolver = ScenarioResolver(VOCABULARY, {})
    assert resolver.values({"scenario.silent": True}) == {"scenario.interactive": False}
    assert resolver.values({"scenario.interactive": True}) == {"scenario.silent": False}
    # Given false, a scenario excludes nothing: the other stays not known.
    assert resolver.values({"scenario.silent": False}) == {}
    interactive_only = (
        'ruleset d "D"\nrule D-2 "A TPM is present"\n  scenario interactive\n  require device.tpm_present\n'
    )
    engine = Engine([loaded(interactive_only)], VOCABULARY)
    values = {"scenario.silent": True, "device.tpm_present": False}
    assert statuses(engine, values) == {"D-2": Status.NOT_APPLICABLE}
    assert engine.decide(engine.facts(values)).status is Status.PASS
    assert engine.passes(engine.facts(values)) is True


def test_a_declared_scenario_puts_the_one_it_excludes_out_of_scope_in_decide():
    """Guards the decision function's value for a scenario excluded by a declared one (language.md,
    Scenarios: declaring one puts the other out of scope): D-1 is about silent enablement, which
    declaring interactive startup excludes, so its failing PIN setting fails nothing, even where
    the input would infer silent enablement; the report, `decide` and `passes` agree."""
    engine = Engine([loaded()], VOCABULARY, scenarios=["interactive"])
    values = {"policy.warning": True, "policy.pin": "Required", "device.tpm_present": True}
    assert statuses(engine, values) == {"D-1": Status.NOT_APPLICABLE, "D-2": Status.PASS}
    assert engine.decide(engine.facts(values)).status is Status.PASS
    assert engine.passes(engine.facts(values)) is True


def test_declaring_an_unknown_or_two_exclusive_scenarios_is_an_input_error():
    with pytest.raises(InputError) as info:
        ScenarioResolver(VOCABULARY, {"silnt": "with --scenario silnt"})
    assert info.value.diagnostics[0].code == "I601" and "did you mean `silent`?" in info.value.diagnostics[0].help
    with pytest.raises(InputError) as info:
        ScenarioResolver(VOCABULARY, {"silent": "a", "interactive": "b"})
    assert info.value.diagnostics[0].code == "I602"


def test_rules_follow_the_declared_or_inferred_scenario():
    engine = Engine([loaded()], VOCABULARY)
    assert statuses(engine, {"policy.warning": True, "policy.pin": "Required"})["D-1"] is Status.FAIL
    assert statuses(engine, {"policy.warning": False, "policy.pin": "Required"})["D-1"] is Status.NOT_APPLICABLE
    # Neither declared nor inferable: never a failure on a guess.
    assert statuses(engine, {"policy.pin": "Required"})["D-1"] is Status.UNKNOWN
    declared = Engine([loaded()], VOCABULARY, scenarios=["silent"])
    assert statuses(declared, {"policy.pin": "Required"})["D-1"] is Status.FAIL


def test_naming_a_ruleset_declares_its_scenario(tmp_path):
    path = tmp_path / "demo.rules"
    path.write_text(RULES, encoding="utf-8")
    named = Engine.load([str(path)], VOCABULARY)
    assert named.scenarios.declared == {"silent": "with --rules demo"}
    assert Engine.load(None).scenarios.declared == {}


# ---- the shipped rules and the command line ----------------------------------------------------


def test_the_shipped_vocabulary_infers_silent_enablement_from_the_silent_setting():
    engine = Engine.load()
    report = engine.evaluate({"policy.warning_for_other_disk_encryption": "Block"})
    (silent,) = [s for s in report.scenarios if s.name == "silent_enablement"]
    assert silent.sentence() == (
        "Silent enablement: in scope, inferred from Warning for other disk encryption is Block"
    )


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


PIN = str(EXAMPLES / "policy-startup-pin.json")
READY = str(EXAMPLES / "device-ready.json")


def test_an_interactive_pin_policy_fails_no_silent_rule(capsys):
    code, out, _ = run(capsys, "check", "--policy", PIN, "--device", READY, "--format", "json")
    assert code == 0, out
    declared, _, _ = run(capsys, "check", "--scenario", "interactive_startup", "--policy", PIN, "--device", READY)
    assert declared == 0


def test_declaring_silent_enablement_fails_the_pin_rule(capsys):
    for argv in (("--rules", "silent_enablement"), ("--scenario", "silent_enablement")):
        code, out, _ = run(capsys, "check", *argv, "--policy", PIN, "--device", READY, "--format", "json")
        assert code == 1
        assert {r["rule"]: r["status"] for r in json.loads(out)["results"]}["SE-09"] == "fail"


def test_scenario_mistakes_exit_2_with_a_suggestion(capsys):
    code, _, err = run(capsys, "check", "--scenario", "silent_enablemnt", "--policy", PIN)
    assert code == 2 and "did you mean `silent_enablement`?" in err
    code, _, err = run(
        capsys, "check", "--scenario", "silent_enablement", "--scenario", "interactive_startup", "--policy", PIN
    )
    assert code == 2 and "exclude each other" in err


def test_the_help_lists_the_shipped_scenarios(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out.replace("\n", " ")
    for name in Engine.load().vocabulary.scenarios:
        assert name in out


def test_a_fleet_summary_counts_each_scenario_over_its_devices(capsys):
    _, out, _ = run(
        capsys,
        "check",
        "--policy",
        str(EXAMPLES / "policy-silent.json"),
        "--fleet",
        str(EXAMPLES / "fleet.jsonl"),
        "--format",
        "json",
    )
    import json

    scenarios = {s["name"]: s for s in json.loads(out)["scenarios"]}
    devices = json.loads(out)["devices"]
    assert scenarios["silent_enablement"] == {
        "name": "silent_enablement",
        "label": "Silent enablement",
        "in_scope": devices,
        "out_of_scope": 0,
        "not_known": 0,
    }
    rotation = scenarios["key_rotation"]
    assert rotation["in_scope"] + rotation["out_of_scope"] + rotation["not_known"] == devices
    _, table, _ = run(capsys, "check", "--policy", PIN, "--fleet", str(EXAMPLES / "fleet.jsonl"))
    assert f"  - Interactive startup authentication: in scope on {devices} devices" in table
    assert f"  - Silent enablement: out of scope on {devices} devices" in table


def test_a_report_says_the_rules_of_a_scenario_out_of_scope_were_not_applied_and_why(capsys):
    code, out, _ = run(capsys, "check", "--scenario", "interactive_startup", "--policy", PIN, "--device", READY)
    assert code == 0
    text = " ".join(out.split())
    assert (
        "Silent enablement: out of scope, because Interactive startup authentication is declared with "
        "--scenario interactive_startup. "
    ) in text
    assert re.search(r"\. \d+ rules about it were not applied\.", text)


def test_a_report_works_out_its_scenarios_once(monkeypatch):
    """Engine.evaluate builds the scenario records once, for the report and for the reasons'
    origins alike (it built them twice for a device with a failing rule), and a scenario given in
    the input still names the input in the report but not in a reason's origin."""
    engine = Engine.load()
    calls = []
    real = ScenarioResolver._record
    monkeypatch.setattr(ScenarioResolver, "_record", lambda self, s, *a: calls.append(s.name) or real(self, s, *a))
    facts = engine.facts({"policy.require_device_encryption": "NotConfigured", "scenario.silent_enablement": True})
    facts = type(facts)(facts.values, {"scenario.silent_enablement": (ValueOrigin("d.json", ("facts", "x")),)})
    report = engine.evaluate(facts)
    assert report.failed and len(calls) == len(set(calls)) == len(report.scenarios)
    given = next(s for s in report.scenarios if s.fact == "scenario.silent_enablement")
    assert given.because == "in the input (d.json $.facts.x)"
