"""Explanations are minimal and sufficient (issue 6), checked on generated rules and facts.

For every rule that fails or does not apply, the conditions marked ``decisive``:
- suffice: with every other condition unknown the verdict is the same, and changing any
  fact they do not cite (to any generated value, or to missing) leaves the verdict as it is;
- are minimal: leave any one of them out too and the verdict is no longer forced.
"""

from __future__ import annotations

from hypothesis import given, strategies as st

import strategies as S
from bitlocker_rules import nodes as n
from bitlocker_rules.outcome import Status
from test_properties import Loaded


def cited_facts(rule, conditions) -> set[str]:
    """Every fact the cited conditions read (both sides of a comparison, the body of a count).
    Collections count as context: a condition on a record holds for the records there were."""
    spans = {c.span for c in conditions}
    found, stack = set(COLLECTIONS), [e for e in (rule.applicability, *rule.requirements) if e is not None]
    while stack:
        node = stack.pop()
        if getattr(node, "span", None) in spans:
            found.update(n.facts_read(node))
        stack.extend((node.body,) if isinstance(node, n.DefinitionRef) else n.children(node))
    return found


COLLECTIONS = {name for name, fact in S.VOCABULARY.facts.items() if fact.type.kind == "collection"}


@given(ruleset=S.typed_rulesets(), facts=S.fact_values(), other=S.fact_values())
def test_decisive_conditions_are_sufficient_and_minimal(ruleset, facts, other):
    loaded = Loaded(ruleset)
    for rule in loaded.rules:
        outcome = loaded.interpreter.evaluate(rule, facts)
        if outcome.status not in (Status.FAIL, Status.NOT_APPLICABLE):
            continue
        decisive = [c for c in (*outcome.applies_because, *outcome.reasons) if c.decisive]
        assert decisive, outcome
        # Sufficient: the decisive conditions alone force the verdict ...
        assert loaded.interpreter.masked(decisive).verdict(rule, facts)[0] is outcome.status
        # ... whatever the facts they do not cite are.
        keep = cited_facts(rule, decisive)
        changed = {k: v for k, v in facts.items() if k in keep}
        changed.update({k: v for k, v in other.items() if k not in keep})
        assert loaded.interpreter.verdict(rule, changed)[0] is outcome.status
        assert loaded.compiled_statuses(changed)[rule.id] is outcome.status
        # Minimal: without any one of them the verdict is no longer forced.
        for condition in decisive:
            rest = [c for c in decisive if c is not condition]
            assert loaded.interpreter.masked(rest).verdict(rule, facts)[0] is not outcome.status


@given(ruleset=S.typed_rulesets(), facts=S.fact_values())
def test_every_failing_rule_names_a_failing_condition(ruleset, facts):
    loaded = Loaded(ruleset)
    for rule in loaded.rules:
        outcome = loaded.interpreter.evaluate(rule, facts)
        if outcome.status is Status.FAIL:
            assert outcome.reasons
        if outcome.status is Status.UNKNOWN:
            # Unknown either because of a missing fact, or because the sources disagree (a
            # disputed rule that fails) or do not confirm a pass: then the caveat says so.
            assert outcome.caveat or any(c.missing or c.status is Status.UNKNOWN for c in outcome.reasons)


def test_a_condition_that_decides_both_when_and_a_requirement_is_cited_once():
    # `when` and the condition of an `implies` both read d0: one reason, not two alike.
    from test_properties import parse_expr

    off = {"policy.flag": False, "policy.enabled": False}
    ruleset = n.Ruleset("props", "", definitions=(n.Definition("d0", parse_expr("not policy.flag")),), rules=(
        n.Rule("K-0", "", applicability=parse_expr("d0"), requirements=(parse_expr("d0 implies policy.enabled"),)),))
    loaded = Loaded(ruleset)
    outcome = loaded.interpreter.evaluate(loaded.rules[0], off)
    assert outcome.status is Status.FAIL
    assert [c.text for c in outcome.applies_because] == ["policy.flag"]
    assert [c.text for c in outcome.reasons] == ["policy.enabled"]
