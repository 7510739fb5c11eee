"""Which scenarios a check is about: declared by the user, else inferred from the facts.

A rule about a scenario (its ``scenario`` clause) applies only when the scenario holds: the
checker adds ``scenario.<name>`` to its applicability, and this stage gives that fact its
value for each device. A declared scenario holds, and the scenarios it excludes do not. An
undeclared one is inferred with the vocabulary's ``inferred_on`` / ``inferred_off``
conditions (Kleene: an unknown condition infers nothing), or is off because a scenario that
excludes it holds; otherwise it stays unknown, so a rule about it never fails on a guess.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import nodes as n
from .cache import cache_key, cached
from .compiler import compile_ruleset
from .errors import Diagnostic, InputError, suggest
from .interpreter import Interpreter
from .outcome import Condition, Origins, ScenarioRecord, Status, ValueOrigin, origins_text
from .resources import grammar_text
from .source import SourceText
from .vocabulary import Scenario, Vocabulary

# Codes of the compiled inference conditions (the compiler's verdict codes of a one-condition rule).
_TRUE, _FALSE = 0, 1


class ScenarioResolver:
    """Resolves the scenarios of one check: the declared ones, and the inference for the rest.

    ``declared`` maps a scenario name to how it was declared, worded to follow "declared"
    (``with --scenario silent_enablement``, ``with --rules silent_enablement``, ``in the
    Python API``). InputError for an unknown name or for two declared scenarios that exclude
    each other.
    """

    def __init__(
        self, vocabulary: Vocabulary, declared: Mapping[str, str] | None = None, needed: Iterable[str] | None = None
    ) -> None:
        self.vocabulary = vocabulary
        self.scenarios = vocabulary.scenarios
        self.declared = dict(declared or {})
        _check_declared(self.declared, self.scenarios)
        self.excluded = {
            other: f"{self.scenarios[name].label} is declared {why}"
            for name, why in self.declared.items()
            for other in _excluded_by(name, self.scenarios)
        }
        self.inferred = [
            s for s in self.scenarios.values() if s.name not in self.declared and s.name not in self.excluded
        ]
        self.checks = _inference_ruleset(self.inferred, vocabulary)
        self.interpreter = Interpreter(self.checks, vocabulary)
        fixed = {self.scenarios[name].fact: True for name in self.declared}
        fixed.update((self.scenarios[name].fact, False) for name in self.excluded)
        self._full = _Plan(self.inferred, self.checks, fixed, self.scenarios)
        # Every device's evaluation infers only the scenarios its rules read (and those that
        # exclude them); a report's records infer them all.
        wanted = set(self.scenarios) if needed is None else set(needed)
        wanted |= {other for name in wanted for other in _excluded_by(name, self.scenarios)}
        fast = [s for s in self.inferred if s.name in wanted]
        self._fast = (
            self._full
            if len(fast) == len(self.inferred)
            else _Plan(fast, _inference_ruleset(fast, vocabulary), fixed, self.scenarios)
        )

    def excluded_by(self, name: str) -> set[str]:
        """The scenarios that cannot hold with ``name`` (exclusion goes both ways)."""
        return _excluded_by(name, self.scenarios)

    @property
    def codes(self) -> Callable[[Mapping[str, Any]], tuple[int, ...]] | None:
        """The compiled inference conditions of every undeclared scenario (None when all are declared)."""
        return self._full.codes

    def values(self, values: Mapping[str, Any]) -> dict[str, bool]:
        """The scenario facts the rules read that are known for ``values`` (an unknown one is left out)."""
        return self._fast.known(values)

    def records(
        self, values: Mapping[str, Any], origins: Mapping[str, Origins] | None = None
    ) -> tuple[ScenarioRecord, ...]:
        """Every scenario with its state and how it was decided, for a report; a scenario given
        in the input names the input when ``origins`` says where it came from."""
        given = {s.fact: values[s.fact] for s in self.scenarios.values() if s.fact in values}
        known = {**given, **self._full.known(values)}
        found = tuple(self._record(s, values, known) for s in self.scenarios.values())
        return self.inputs_named(found, origins) if origins else found

    def inputs_named(
        self, records: Iterable[ScenarioRecord], origins: Mapping[str, Origins]
    ) -> tuple[ScenarioRecord, ...]:
        """``records`` with the input named where a scenario was given in it (a report's words)."""
        return tuple(
            _evolve(r, r.how, f"in the input ({origins_text(origins[r.fact])})")
            if r.how == "declared" and r.name not in self.declared and origins.get(r.fact)
            else r
            for r in records
        )

    def origins(self, values: Mapping[str, Any]) -> dict[str, Origins]:
        """Where each known scenario fact came from, as a reason's source: how it was decided."""
        return origins_of(self.records(values))

    def _record(self, s: Scenario, values: Mapping[str, Any], known: Mapping[str, bool]) -> ScenarioRecord:
        record = ScenarioRecord(s.name, s.label, s.fact, known.get(s.fact), "unknown", "")
        if s.name in self.declared:
            return _evolve(record, "declared", self.declared[s.name])
        if s.name in self.excluded:
            return _evolve(record, "excluded", self.excluded[s.name])
        if s.fact in values:
            return ScenarioRecord(s.name, s.label, s.fact, bool(values[s.fact]), "declared", "in the input")
        index = self.inferred.index(s)
        if record.holds is True:
            return _evolve(record, "inferred", self._because(2 * index, values))
        if record.holds is False:
            codes = self.codes
            assert codes is not None, "a scenario is inferred, so its conditions are compiled"
            if codes(values)[2 * index + 1] == _TRUE:
                return _evolve(record, "inferred", self._because(2 * index + 1, values))
            return _evolve(record, "excluded", self._excluding(s, known))
        return _evolve(record, "unknown", self._unknown_because(index, values))

    def _because(self, index: int, values: Mapping[str, Any]) -> str:
        """The conditions that made inference condition ``index`` true, in the admin's words."""
        rule = self.checks.rules[index]
        _, reasons = self.interpreter.decide(rule.requires[0], values, {})
        return "; ".join(_phrase(c) for c in reasons if c.status is Status.PASS) or rule.title

    def _excluding(self, s: Scenario, known: Mapping[str, bool]) -> str:
        excluding = self.excluded_by(s.name)
        return " and ".join(
            f"{o.label} is in scope"
            for o in self.scenarios.values()
            if o.name in excluding and known.get(o.fact) is True
        )

    def _unknown_because(self, index: int, values: Mapping[str, Any]) -> str:
        """Why neither inference condition decided: the facts they would need."""
        missing: dict[str, None] = {}
        for rule in self.checks.rules[2 * index : 2 * index + 2]:
            _, reasons = self.interpreter.decide(rule.requires[0], values, {})
            missing.update((_phrase(c), None) for c in reasons if c.status is Status.UNKNOWN or c.missing)
        return "; ".join(missing) or "nothing in the input shows it"


class _Plan:
    """What inferring a set of scenarios reads for every device, computed once: the compiled
    conditions (two per scenario: in scope, out of scope) and who excludes whom."""

    def __init__(
        self,
        inferred: list[Scenario],
        checks: n.CheckedRuleset,
        fixed: dict[str, bool],
        scenarios: Mapping[str, Scenario],
    ) -> None:
        self.codes = compile_ruleset(checks) if inferred else None
        self.fixed = fixed
        on = {s.name: (2 * i, s.fact) for i, s in enumerate(inferred)}
        # Per scenario: its fact, its two condition codes, and the scenarios that exclude it
        # (each as its in-scope code and its fact: it holds when inferred or given so).
        self.steps = tuple(
            (s.fact, 2 * i, 2 * i + 1, tuple(on[o] for o in sorted(_excluded_by(s.name, scenarios)) if o in on))
            for i, s in enumerate(inferred)
        )

    def known(self, values: Mapping[str, Any]) -> dict[str, bool]:
        """The declared and excluded scenario facts, and those the inference decides for ``values``."""
        known = dict(self.fixed)
        if self.codes is None:
            return known
        codes = self.codes(values)
        for fact, on, off, excluders in self.steps:
            if fact in values:  # given by the input itself
                continue
            if codes[on] == _TRUE:
                known[fact] = True
                continue
            out = codes[off] == _TRUE
            for i, other in excluders:  # a plain loop: this runs for every device of a fleet
                if out:
                    break
                out = codes[i] == _TRUE or values.get(other) is True
            if out:
                known[fact] = False
        return known


def declared_by_rulesets(rulesets: Iterable[n.Ruleset], why: str = "with --rules {}") -> dict[str, str]:
    """The scenarios that naming these rulesets declares (their headers' ``scenario`` clauses)."""
    declared: dict[str, str] = {}
    for ruleset in rulesets:
        for name in ruleset.scenarios:
            declared.setdefault(name, why.format(ruleset.id))
    return declared


def _check_declared(declared: Mapping[str, str], scenarios: Mapping[str, Scenario]) -> None:
    problems = [
        Diagnostic(
            "I601", f"unknown scenario `{name}`", help=suggest(name, scenarios) or "scenarios: " + ", ".join(scenarios)
        )
        for name in declared
        if name not in scenarios
    ]
    if not problems:
        problems += [
            Diagnostic(
                "I602",
                f"scenarios `{a}` ({declared[a]}) and `{b}` ({declared[b]}) exclude each other",
                help="declare one of them",
            )
            for a in declared
            for b in declared
            if a < b and b in _excluded_by(a, scenarios)
        ]
    if problems:
        raise InputError(problems)


def _excluded_by(name: str, scenarios: Mapping[str, Scenario]) -> set[str]:
    """The scenarios that cannot hold with ``name`` (exclusion goes both ways)."""
    return set(scenarios[name].excludes) | {o.name for o in scenarios.values() if name in o.excludes}


def _inference_ruleset(inferred: list[Scenario], vocabulary: Vocabulary) -> n.CheckedRuleset:
    """The inference conditions as a checked ruleset of one-condition rules, two per scenario.

    A ruleset so that the compiler and the interpreter evaluate them as they do every rule;
    a scenario without a condition gets ``false`` (it infers nothing). Kept between runs
    for a vocabulary read from a file (see ``cache``).
    """
    if not vocabulary.fingerprint:
        return _parsed_inference(inferred, vocabulary)
    key = cache_key("scenarios", grammar_text(), vocabulary.fingerprint, *(s.name for s in inferred))
    return cached(key, n.Ruleset, lambda: _parsed_inference(inferred, vocabulary), pickle.dumps, pickle.loads)


def _parsed_inference(inferred: list[Scenario], vocabulary: Vocabulary) -> n.CheckedRuleset:
    # Imported here: a run that finds the inference cached never loads the parser.
    from .checker import check_condition  # noqa: PLC0415
    from .syntax import parse_condition  # noqa: PLC0415

    rules = []
    for s in inferred:
        for side, text in (("on", s.inferred_on), ("off", s.inferred_off)):
            where = f"{vocabulary.origin}: scenarios.{s.name}.inferred_{side}"
            expr: n.CheckedExpr = n.Const(False)
            if text.strip():
                expr = check_condition(parse_condition(text, where), vocabulary, SourceText(text, where))
            rules.append(n.Rule(f"scenario-{s.name}-{side}", f"{s.label}: inferred {side}", requires=(expr,)))
    return n.Ruleset("scenarios", "Scenario inference", rules=tuple(rules))


def _phrase(c: Condition) -> str:
    """``Warning for other disk encryption is Block``; ``no Action is given``."""
    if c.actual is not None:
        return f"{c.label} is {c.actual}"
    return f"no {c.label} is given" if c.required in ("a value", "no value") else f"{c.label} is not known"


def origins_of(records: Iterable[ScenarioRecord]) -> dict[str, Origins]:
    """Where each known scenario fact came from, as a reason's source: how it was decided."""
    return {r.fact: (ValueOrigin(note=r.provenance()),) for r in records if r.holds is not None}


def _evolve(record: ScenarioRecord, how: str, because: str) -> ScenarioRecord:
    return ScenarioRecord(record.name, record.label, record.fact, record.holds, how, because)
