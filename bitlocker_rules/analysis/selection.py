"""The selected rules: each with its static summary, its compiled partial evaluator, and its
state as the reference interpreter computes it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .. import nodes as n
from ..errors import Diagnostic
from ..interpreter import Interpreter
from ..vocabulary import Vocabulary
from .evaluation import _EMPTY, _Compiler, _Ctx
from .logic import ALL, NOT_APPLICABLE, F, T, _AND, _STATES, _TRUTH_BIT, _and3, _state_bit, _verdict
from .records import AnalysisError
from .summary import _Info


class _Entry:
    """One selected rule with its compiled partial evaluator and static summary."""

    __slots__ = ("index", "ruleset", "rule", "interpreter", "path", "facts", "problems",
                 "app", "reqs", "info", "source")

    def __init__(self, index, ruleset: n.Ruleset, rule: n.Rule, interpreter: Interpreter, path: str) -> None:
        self.index = index
        self.ruleset = ruleset
        self.rule = rule
        self.interpreter = interpreter
        self.path = path
        self.source = ruleset.text
        self.facts = n.facts_read(rule.applicability, *rule.requirements)
        info = _Info(interpreter.vocabulary, ruleset.text)
        for expr in (rule.applicability, *rule.requirements):
            if expr is not None:
                info.walk(expr, ())
        self.info = info
        self.problems = tuple(info.problems)
        if not self.problems:
            compiler = _Compiler()
            self.app = None if rule.applicability is None else compiler.condition(rule.applicability)
            self.reqs = tuple(compiler.condition(r) for r in rule.requirements)

    @property
    def id(self) -> str:
        return self.rule.id

    def state(self, ctx: _Ctx) -> int:
        """The set of (applicability, requirement) states still possible."""
        if ctx.memo:
            ctx.memo.clear()  # the assignment may have changed since
        a = T if self.app is None else self.app(ctx, _EMPTY)
        if a == F:
            return _STATES[F][ALL]
        r = T
        for g in self.reqs:
            m = g(ctx, _EMPTY)
            if m == F:
                r = F
                break
            r = _AND[r][m]
        return _STATES[a][r]


class _Shapes:
    """A number for the shape of each checked tree: equal trees (spans aside) get one
    number. Each object is numbered once (by identity, without recursion), so trees that
    share definitions cost their graph, not the tree they expand to; comparing rules this
    way is linear where ``==`` on two separately loaded copies is not."""

    def __init__(self) -> None:
        self.numbers: dict[tuple, int] = {}
        self.seen: dict[int, tuple[int, object]] = {}  # id → (number, the object, kept alive)

    def rule(self, rule: n.Rule) -> int:
        """The number of what a rule means to the analyser: its applicability and requirements."""
        return self.of((rule.applicability, rule.requirements))

    def of(self, root: object) -> int:
        stack = [root]
        while stack:
            node = stack[-1]
            if id(node) in self.seen:
                stack.pop()
                continue
            parts = _parts(node)
            pending = [p for p in parts if _parts(p) is not None and id(p) not in self.seen]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            shape = (type(node), tuple((type(p), p) if _parts(p) is None else self.seen[id(p)][0] for p in parts))
            self.seen[id(node)] = (self.numbers.setdefault(shape, len(self.numbers)), node)
        return self.seen[id(root)][0]


def _parts(node: object) -> list | None:
    """What a tree node or tuple is made of (the fields equality reads), or None for a value."""
    if isinstance(node, tuple):
        return list(node)
    spec = getattr(type(node), "__attrs_attrs__", None)
    if spec is None:
        return None
    return [getattr(node, f.name) for f in spec if f.eq]


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


def _entries(rulesets: Iterable[Any], vocabulary: Vocabulary, rules: Iterable[str] | None = None) -> list[_Entry]:
    """Selected rules of LoadedRuleset-like objects (``.ruleset``, ``.path``, ``.interpreter``) or Rulesets."""
    wanted = None if rules is None else set(rules)
    found: list[_Entry] = []
    for item in rulesets:
        ruleset = getattr(item, "ruleset", item)
        interpreter = getattr(item, "interpreter", None) or Interpreter(ruleset, vocabulary)
        path = getattr(item, "path", None) or (ruleset.text.name if ruleset.text else ruleset.id)
        for rule in ruleset.rules:
            if rule.kind != "rule" or (wanted is not None and rule.id not in wanted):
                continue
            found.append(_Entry(len(found), ruleset, rule, interpreter, path))
    if wanted is not None:
        missing = wanted - {e.id for e in found}
        if missing:
            raise AnalysisError([Diagnostic("A001", f"no selected rule called `{r}`") for r in sorted(missing)])
    return found


def _interpreter_state(entry: _Entry, values: Mapping[str, Any]) -> int:
    """The (applicability, requirements) state bit, computed by the reference interpreter."""
    interp, rule = entry.interpreter, entry.rule
    a = T if rule.applicability is None else _TRUTH_BIT[interp.decide(rule.applicability, values, {})[0]]
    r = T
    for req in rule.requirements:
        r = _and3(r, _TRUTH_BIT[interp.decide(req, values, {})[0]])
    status = interp.verdict(rule, values)[0]
    if a == F:
        return _STATES[F][ALL] if status is NOT_APPLICABLE else 0
    if status is not _verdict(a, r):
        raise AssertionError(f"analysis bug: state of {entry.id} disagrees with the interpreter")
    return _state_bit(a, r)
