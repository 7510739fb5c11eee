"""The selected rules: each with its static summary, its compiled partial evaluator, and its
state as the interpreter computes it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .. import nodes as n
from ..errors import Diagnostic
from ..interpreter import Interpreter
from ..vocabulary import Vocabulary
from .evaluation import NO_BINDINGS, MaskCompiler, SearchContext
from .logic import (
    ALL,
    AND,
    NOT_APPLICABLE,
    STATES,
    TRUTH_BIT,
    F,
    T,
    and3,
    state_bit,
    verdict_of,
)
from .results import AnalysisError
from .summary import RuleInfo


class Entry:
    """One selected rule with its compiled partial evaluator and static summary."""

    __slots__ = (
        "app",
        "facts",
        "index",
        "info",
        "interpreter",
        "path",
        "problems",
        "reqs",
        "rule",
        "ruleset",
        "source",
    )

    def __init__(
        self, index: int, ruleset: n.CheckedRuleset, rule: n.CheckedRule, interpreter: Interpreter, path: str
    ) -> None:
        self.index = index
        self.ruleset = ruleset
        self.rule = rule
        self.interpreter = interpreter
        self.path = path
        self.source = ruleset.text
        self.facts = n.facts_read(rule.applicability, *rule.requires)
        info = RuleInfo(interpreter.vocabulary, ruleset.text)
        for expr in (rule.applicability, *rule.requires):
            if expr is not None:
                info.walk(expr, ())
        self.info = info
        self.problems = tuple(info.problems)
        if not self.problems:
            compiler = MaskCompiler()
            self.app = None if rule.applicability is None else compiler.condition(rule.applicability)
            self.reqs = tuple(compiler.condition(r) for r in rule.requires)

    @property
    def id(self) -> str:
        return self.rule.id

    def state(self, ctx: SearchContext) -> int:
        """The set of (applicability, requirement) states still possible."""
        if ctx.memo:
            ctx.memo.clear()  # the assignment may have changed since
        a = T if self.app is None else self.app(ctx, NO_BINDINGS)
        if a == F:
            return STATES[F][ALL]
        r = T
        for g in self.reqs:
            m = g(ctx, NO_BINDINGS)
            if m == F:
                r = F
                break
            r = AND[r][m]
        return STATES[a][r]


def meaning(rule: n.CheckedRule) -> tuple:
    """What a rule means to the analyser, as a key: its applicability and requirements.

    Nodes compare structurally (spans aside) and cache their hash, each pair of objects
    compared once, so rules that share definitions cost their graph, not the tree they
    expand to, also between two separately loaded copies of a rule file.
    """
    return (rule.applicability, rule.requires)


def assuming(rulesets: Iterable[Any], assumed: Mapping[str, bool]) -> list[Any]:
    """The rulesets (LoadedRuleset-like or Rulesets) with the assumed scenario facts
    (``scenario.x`` → bool) decided, so the analyser reads the rules as they apply then."""
    if not assumed:
        return list(rulesets)
    found = []
    for item in rulesets:
        ruleset = getattr(item, "ruleset", item)
        specialised = attrs.evolve(ruleset, rules=tuple(n.assume_scenarios(r, assumed) for r in ruleset.rules))
        found.append(specialised if item is ruleset else attrs.evolve(item, ruleset=specialised))
    return found


def selected_entries(
    rulesets: Iterable[Any], vocabulary: Vocabulary, rules: Iterable[str] | None = None
) -> list[Entry]:
    """Selected rules of LoadedRuleset-like objects (``.ruleset``, ``.path``, ``.interpreter``) or Rulesets."""
    wanted = None if rules is None else set(rules)
    found: list[Entry] = []
    for item in rulesets:
        ruleset = getattr(item, "ruleset", item)
        interpreter = getattr(item, "interpreter", None) or Interpreter(ruleset, vocabulary)
        path = getattr(item, "path", None) or (ruleset.text.name if ruleset.text else ruleset.id)
        for rule in ruleset.rules:
            if rule.kind != "rule" or (wanted is not None and rule.id not in wanted):
                continue
            found.append(Entry(len(found), ruleset, rule, interpreter, path))
    if wanted is not None:
        missing = wanted - {e.id for e in found}
        if missing:
            raise AnalysisError([Diagnostic("A001", f"no selected rule called `{r}`") for r in sorted(missing)])
    return found


def interpreter_state(entry: Entry, values: Mapping[str, Any]) -> int:
    """The (applicability, requirements) state bit, computed by the interpreter."""
    interp, rule = entry.interpreter, entry.rule
    a = T if rule.applicability is None else TRUTH_BIT[interp.decide(rule.applicability, values, {})[0]]
    r = T
    for req in rule.requires:
        r = and3(r, TRUTH_BIT[interp.decide(req, values, {})[0]])
    status = interp.verdict(rule, values)[0]
    if a == F:
        return STATES[F][ALL] if status is NOT_APPLICABLE else 0
    if status is not verdict_of(a, r):
        raise AssertionError(f"analysis bug: state of {entry.id} disagrees with the interpreter")
    return state_bit(a, r)
