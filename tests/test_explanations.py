"""Explanations are complete, sufficient and minimal (issue 6), checked on generated rules and facts.

For every rule that fails or does not apply:

- complete: the reasons cite every condition that failed. With every cited condition unknown
  the verdict is no longer forced, so no condition the reasons leave out decides it (citing
  only the first failing operand of a false `and` leaves the second forcing the failure);
- sufficient: the conditions marked ``decisive`` alone force the verdict, and the verdict
  stays the same for *every* value of the facts they do not cite, collections included:
  checked against the brute-force table of every assignment over small domains
  (``test_analysis.Case``), not against one random replacement;
- minimal: leave any one decisive condition out too and the verdict is no longer forced.
"""

from __future__ import annotations

import strategies as S
from hypothesis import given
from hypothesis import strategies as st
from test_analysis import cases
from test_properties import Loaded, parse_expr, ruleset_of

from bitlocker_rules import nodes as n
from bitlocker_rules.interpreter import Interpreter, identity
from bitlocker_rules.outcome import STATUS_BY_CODE, Status

EXPLAINED = (Status.FAIL, Status.NOT_APPLICABLE)


class Dropping(Interpreter):
    """An interpreter that treats the conditions in ``drop`` as unknown (and every other one as it is)."""

    def __init__(self, interpreter: Interpreter, drop) -> None:
        super().__init__(interpreter.ruleset, interpreter.vocabulary)
        self.drop = frozenset(identity(c) for c in drop)

    def kept(self, truth, leaf):
        return None if identity(self.phrasing.worded(leaf)) in self.drop else truth


def cited_facts(rule: n.Rule, conditions) -> set[str]:
    """Every fact the cited conditions read: both sides of a comparison, the body of a count,
    and the collection of every quantifier a cited condition sits in (a condition on a record,
    or evaluated once per record, holds for the records there were)."""
    spans = {c.span for c in conditions}
    found: set[str] = set()
    stack = [(e, ()) for e in (rule.applicability, *rule.requires) if e is not None]
    while stack:
        node, within = stack.pop()
        if getattr(node, "span", None) in spans:
            found.update(n.facts_read(node), n.fields_read(node), within)
        if isinstance(node, (n.Quantified, n.Count)):
            found_in = (*within, *n.facts_read(node.collection))
            stack.append((node.collection, within))
            stack.extend((child, found_in) for child in n.children(node) if child is not node.collection)
            if isinstance(node, n.Quantified) and node.span in spans:
                found.update(n.facts_read(node.collection))
            continue
        children = (node.body,) if isinstance(node, n.DefinitionRef) else n.children(node)
        stack.extend((child, within) for child in children)
    return found


def explained_outcomes(interpreter, rules, values):
    for rule in rules:
        outcome = interpreter.evaluate(rule, values)
        if outcome.status in EXPLAINED:
            yield rule, outcome


def assert_complete(interpreter, rule, outcome, values) -> None:
    """With every cited condition unknown, the verdict is no longer the one explained."""
    cited = outcome.reasons if outcome.status is Status.FAIL else (*outcome.applies_because, *outcome.reasons)
    assert cited, outcome
    assert Dropping(interpreter, cited).verdict(rule, values)[0] is not outcome.status, (
        "a condition the reasons leave out still forces the verdict",
        outcome.reasons,
    )


def assert_minimal(interpreter, rule, outcome, values) -> list:
    """The decisive conditions force the verdict, and none of them can be left out; returns them."""
    decisive = [c for c in (*outcome.applies_because, *outcome.reasons) if c.decisive]
    assert decisive, outcome
    assert interpreter.masked(decisive).verdict(rule, values)[0] is outcome.status
    for condition in decisive:
        rest = [c for c in decisive if c is not condition]
        assert interpreter.masked(rest).verdict(rule, values)[0] is not outcome.status
    return decisive


@given(case=cases(), data=st.data())
def test_explanations_are_complete_sufficient_and_minimal_on_small_domains(case, data):
    values, now, _ = data.draw(st.sampled_from(case.table), label="values")
    rules = [r for r in case.checked.rules if r.kind == "rule"]
    for rule, outcome in explained_outcomes(case.interpreter, rules, values):
        assert now[case.ids.index(rule.id)] is outcome.status, "the compiled verdict differs"
        assert_complete(case.interpreter, rule, outcome, values)
        decisive = assert_minimal(case.interpreter, rule, outcome, values)
        # Sufficient: every assignment that agrees on the facts the decisive conditions cite
        # (any value, or missing, for the others; any collection when none is cited) has
        # the same verdict.
        keep = cited_facts(rule, decisive)
        index = case.ids.index(rule.id)
        for row, statuses, _ in case.table:
            if all(row.get(f) == values.get(f) for f in keep):
                assert statuses[index] is outcome.status, (rule.id, keep, row)


@given(ruleset=S.typed_rulesets(), facts=S.fact_values())
def test_explanations_are_complete_and_minimal(ruleset, facts):
    loaded = Loaded(ruleset)
    for rule, outcome in explained_outcomes(loaded.interpreter, loaded.rules, facts):
        assert_complete(loaded.interpreter, rule, outcome, facts)
        assert_minimal(loaded.interpreter, rule, outcome, facts)


@given(ruleset=S.typed_rulesets(), facts=S.fact_values())
def test_every_failing_rule_names_a_failing_condition(ruleset, facts):
    loaded = Loaded(ruleset)
    for rule in loaded.rules:
        outcome = loaded.interpreter.evaluate(rule, facts)
        if outcome.status is Status.FAIL:
            assert any(c.status is Status.FAIL for c in outcome.reasons), outcome.reasons
        if outcome.status is Status.UNKNOWN:
            # Unknown either because of a missing fact, or because the sources disagree (a
            # disputed rule that fails) or do not confirm a pass: then the caveat says so.
            assert outcome.caveat or any(c.missing or c.status is Status.UNKNOWN for c in outcome.reasons)


# --- every failing operand is cited: examples ---------------------------------------------------

OFF = {"policy.flag": False, "policy.enabled": False, "device.tpm_present": False}


def cited(condition_text: str, values: dict, *, applicability: str | None = None) -> list[str]:
    """The texts of the reasons of rule K-0, whose requirement is ``condition_text``."""
    when = parse_expr(applicability) if applicability else None
    loaded = Loaded(ruleset_of(parse_expr(condition_text), applicability=when))
    (rule,) = loaded.rules
    outcome = loaded.interpreter.evaluate(rule, values)
    assert STATUS_BY_CODE[loaded.compiled(values)[0]] is outcome.status
    return [c.text for c in outcome.reasons]


def test_a_false_and_cites_every_false_operand():
    assert cited("policy.flag and policy.enabled and device.tpm_present", OFF) == [
        "policy.flag",
        "policy.enabled",
        "device.tpm_present",
    ]
    assert cited("policy.flag and true and policy.enabled", OFF) == ["policy.flag", "policy.enabled"]


def test_a_false_or_cites_every_operand():
    assert cited("policy.flag or policy.enabled", OFF) == ["policy.flag", "policy.enabled"]


def test_several_failing_requirements_are_all_cited():
    two = n.Rule("K-0", "", requires=(parse_expr("policy.flag"), parse_expr("policy.enabled")))
    loaded = Loaded(n.Ruleset("props", "", rules=(two,)))
    outcome = loaded.interpreter.evaluate(loaded.rules[0], OFF)
    assert [c.text for c in outcome.reasons] == ["policy.flag", "policy.enabled"]


def test_a_rule_that_does_not_apply_cites_every_false_condition_of_when():
    assert cited("policy.flag", OFF, applicability="policy.enabled and device.tpm_present") == [
        "policy.enabled",
        "device.tpm_present",
    ]


def test_a_condition_that_decides_both_when_and_a_requirement_is_cited_once():
    # `when` and the condition of an `implies` both read d0: one reason, not two alike.
    ruleset = n.Ruleset(
        "props",
        "",
        definitions=(n.Definition("d0", parse_expr("not policy.flag")),),
        rules=(n.Rule("K-0", "", applicability=parse_expr("d0"), requires=(parse_expr("d0 implies policy.enabled"),)),),
    )
    loaded = Loaded(ruleset)
    outcome = loaded.interpreter.evaluate(loaded.rules[0], OFF)
    assert outcome.status is Status.FAIL
    assert [c.text for c in outcome.applies_because] == ["policy.flag"]
    assert [c.text for c in outcome.reasons] == ["policy.enabled"]


def test_a_condition_reached_twice_through_definitions_is_cited_once():
    # `when d1 implies d0` with d1 = `d0 implies ...`: the atom of d0 that makes the rule not
    # apply was cited twice (once through each use of d0), and both copies marked decisive.
    # Found by the minimality property.
    text = (
        'ruleset a ""\n\ndefine d0 = policy.flag == false and policy.flag == false and policy.flag\n\n'
        'define d1 = d0 implies policy.flag\n\nrule R-0 ""\n  severity error\n  when d1 implies d0\n'
        "  require policy.flag == false\n"
    )
    from bitlocker_rules.engine import compile_text

    compiled = compile_text(text, "<generated>", S.VOCABULARY)
    rule = compiled.ruleset.rules[0]
    outcome = compiled.interpreter.evaluate(rule, {"policy.flag": False})
    assert outcome.status is Status.NOT_APPLICABLE
    assert [c.text for c in outcome.reasons] == ["policy.flag"]
    assert_minimal(compiled.interpreter, rule, outcome, {"policy.flag": False})


# --- a negation is worded by its negated operator, never as "not" + the phrase ------------------

NEGATIONS = [
    # (the requirement, the value, what the rule needs)
    ("not (policy.tpm_startup_pin != Required)", "Blocked", "Require startup PIN with TPM"),
    ("not (policy.tpm_startup_pin == Required)", "Required", "anything but Require startup PIN with TPM"),
    (
        "not (policy.tpm_startup_pin in {Required, Allowed})",
        "Required",
        "none of: Require startup PIN with TPM, Allow startup PIN with TPM",
    ),
    ("not not (policy.tpm_startup_pin == Required)", "Blocked", "Require startup PIN with TPM"),
]


def test_a_negated_condition_says_what_the_rule_needs_in_the_negated_operators_words():
    from bitlocker_rules.engine import compile_text
    from bitlocker_rules.vocabulary import shipped_vocabulary

    for requirement, value, needed in NEGATIONS:
        text = f'ruleset neg "negations"\n\nrule N-01 "negated"\n  severity error\n  require {requirement}\n'
        compiled = compile_text(text, "neg.rules", shipped_vocabulary())
        outcome = compiled.interpreter.evaluate(compiled.ruleset.rules[0], {"policy.tpm_startup_pin": value})
        assert outcome.status is Status.FAIL, requirement
        (reason,) = outcome.reasons
        assert reason.required == needed, requirement
        assert reason.sentence().endswith(f"; the rule needs {needed}"), reason.sentence()
