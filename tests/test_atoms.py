"""The interpreter decides atoms and words only those it cites (issue 12).

One walk records a rule's decision as a formula of atoms; the verdict, the masked verdicts
and the search for decisive reasons are evaluations of that formula, and ``phrasing`` turns
the cited atoms, and only those, into conditions.
"""

from __future__ import annotations

import pytest

from bitlocker_rules import phrasing
from bitlocker_rules.engine import compile_text
from bitlocker_rules.interpreter import Formula, Interpreter
from bitlocker_rules.outcome import Condition, Status
from bitlocker_rules.phrasing import Atom, CollectionAtom, Constant
from bitlocker_rules.vocabulary import shipped_vocabulary

# One requirement that fails on its last of many conditions, and one on two of them.
MANY = " and ".join(f"policy.minimum_pin_length >= {n}" for n in range(1, 41))
RULES = f"""ruleset atoms "atoms"

rule A-01 "one of many fails"
  severity error
  require {MANY} and policy.minimum_pin_length >= 99

rule A-02 "two fail"
  severity error
  require policy.minimum_pin_length >= 98 and policy.minimum_pin_length >= 99

rule A-03 "leaves that are not tests"
  severity error
  require true and (all v in device.volumes: v.protection_status == On)
"""
VALUES = {"policy.minimum_pin_length": 50}


@pytest.fixture(scope="module")
def compiled():
    return compile_text(RULES, "atoms.rules", shipped_vocabulary())


def rule(compiled, rule_id):
    return next(r for r in compiled.ruleset.rules if r.id == rule_id)


def counting(monkeypatch, cls, name) -> list:
    """Calls of ``cls.name`` from now on, one entry each."""
    calls: list = []
    original = getattr(cls, name)

    def counted(self, *args):
        calls.append(args)
        return original(self, *args)

    monkeypatch.setattr(cls, name, counted)
    return calls


def test_only_the_cited_atoms_are_worded(compiled, monkeypatch):
    # Each of the 41 atoms was worded as it was decided; the verdict cites one.
    worded = []
    monkeypatch.setattr(phrasing, "Condition", lambda *args, **kw: worded.append(args) or Condition(*args, **kw))
    outcome = compiled.interpreter.evaluate(rule(compiled, "A-01"), VALUES)
    assert outcome.status is Status.FAIL
    assert [c.text for c in outcome.reasons] == ["policy.minimum_pin_length >= 99"]
    assert len(worded) == 1


def test_each_atom_is_decided_once_per_evaluation(compiled, monkeypatch):
    # The search for decisive reasons recorded the rule again, deciding every atom twice.
    decided = counting(monkeypatch, Interpreter, "compare_atom")
    outcome = compiled.interpreter.evaluate(rule(compiled, "A-02"), VALUES)
    assert outcome.status is Status.FAIL and len(outcome.reasons) == 2
    assert sum(c.decisive for c in outcome.reasons) == 1
    assert len(decided) == 2


def test_the_walk_records_atoms_not_words(compiled):
    formula = Formula(compiled.interpreter, rule(compiled, "A-03"), {"device.volumes": ()})
    formula.requirements  # noqa: B018 - recorded when first asked for
    leaves = formula.leaves
    assert [type(leaf) for leaf in leaves] == [Constant, CollectionAtom]
    assert [leaf.truth for leaf in leaves] == [True, True]  # `all` over no volumes holds
    formula = Formula(compiled.interpreter, rule(compiled, "A-02"), VALUES)
    formula.requirements  # noqa: B018
    assert all(isinstance(leaf, Atom) for leaf in formula.leaves)
    assert [leaf.truth for leaf in formula.leaves] == [False, False]
    assert [leaf.operands[0] for leaf in formula.leaves] == [(50, "policy.minimum_pin_length")] * 2
