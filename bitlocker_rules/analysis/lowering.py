"""Lowering a policy setting: which values are weaker than a setting's value now (the
vocabulary's strength orders), value sets that lower nothing, and the inclusion-minimal sets
of settings a group of rules cannot reach its goals without lowering.

A repair may lower a setting only when the rules leave no other way: among all repairs, only
those whose set of lowered settings is inclusion-minimal are allowed (no repair lowers a
proper subset of it). The minimal sets are the minimal hitting sets of the *cores*: sets of
settings that cannot all keep their strength. Cores are found one at a time, each from a
candidate set that fails, and shrunk by deletion; the search stops when every minimal
hitting set of the cores found works (implicit hitting sets).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from typing import Any

from attrs import frozen

from ..vocabulary import Strength, Vocabulary
from .results import Deadline
from .search import Constraint, backtrack
from .values import same_value


@frozen
class Lowering:
    """Which changes lower a setting: each policy setting's strength and its value now."""

    strengths: Mapping[str, Strength]
    current: Mapping[str, Any]

    @classmethod
    def of(cls, vocabulary: Vocabulary, current: Mapping[str, Any]) -> Lowering:
        """The strengths the vocabulary declares for the settings of ``current``."""
        strengths = {}
        for name in current:
            decl = vocabulary.fact(name)
            if decl is not None and decl.strength is not None:
                strengths[name] = decl.strength
        return cls(strengths, dict(current))

    def lowers(self, fact: str, value: Any) -> bool:
        """Whether giving ``fact`` the value ``value`` lowers it (a weaker or incomparable value)."""
        strength = self.strengths.get(fact)
        return strength is not None and strength.lowers(self.current.get(fact), value)

    def stronger(self, fact: str, value: Any, other: Any) -> bool:
        """Whether ``value`` is strictly stronger than ``other`` for ``fact``."""
        strength = self.strengths.get(fact)
        return strength is not None and strength.at_least(value, other) and not strength.at_least(other, value)

    def weakest(self, fact: str, value: Any) -> bool:
        """Whether no value of ``fact`` is weaker than ``value`` (Not configured, or missing)."""
        strength = self.strengths.get(fact)
        if strength is None or value is None:
            return value is None
        return strength.order == "chains" and not strength.below.get(value)

    def preferred(self, fact: str, values: Sequence[Any]) -> list[Any]:
        """``values`` with those that lower ``fact`` last, the smallest lowering first (fewest of
        the values stronger than it): Require → Allow before Require → Do not allow."""
        keep = [v for v in values if not self.lowers(fact, v)]
        lower = [v for v in values if self.lowers(fact, v)]
        lower.sort(key=lambda v: (v is None, sum(self.stronger(fact, w, v) for w in lower)))
        return keep + lower


def repair_domains(domains: Mapping[str, tuple], lowering: Lowering, vocabulary: Vocabulary) -> dict[str, tuple]:
    """The value sets of a repair: the value now first, then the values that lower nothing,
    then the lowering ones, smallest lowering first.

    An enum or bool setting with a strength gets every member: the value sets keep one
    member for all those the rules do not name, but those members differ in strength.
    """
    out = {}
    for fact, values in domains.items():
        decl = vocabulary.fact(fact)
        if fact in lowering.strengths and decl is not None and decl.type.kind in ("enum", "bool"):
            members = decl.type.enum.member_names if decl.type.enum else (True, False)
            values = tuple(values) + tuple(m for m in members if not any(same_value(m, v) for v in values))
        now = lowering.current.get(fact)
        rest = [v for v in values if not same_value(v, now)]
        out[fact] = (now, *lowering.preferred(fact, rest)) if fact in lowering.current else tuple(values)
    return out


def restricted_domains(domains: Mapping[str, tuple], lowering: Lowering, free: Container[str]) -> dict[str, tuple]:
    """The value sets without the values that lower a setting, except for the settings in ``free``."""
    return {
        f: values if f in free else tuple(v for v in values if not lowering.lowers(f, v))
        for f, values in domains.items()
    }


def minimal_lowerings(
    group: Sequence[Constraint],
    fixed: Mapping[str, Any],
    domains: Mapping[str, tuple],
    lowering: Lowering,
    deadline: Deadline | None = None,
) -> list[frozenset[str]]:
    """Every inclusion-minimal set of settings the group can reach its goals by lowering
    (``[frozenset()]`` when it needs to lower none), smallest first.

    ``group`` must be satisfiable with ``domains`` (prepared with ``fixed``).
    """
    candidates = frozenset(f for f, values in domains.items() if any(lowering.lowers(f, v) for v in values))

    def works(free: frozenset[str]) -> bool:
        return backtrack(group, fixed, restricted_domains(domains, lowering, free), deadline=deadline) is not None

    cores: list[frozenset[str]] = []
    while True:
        sets = _hitting_sets(cores)
        failed = next((s for s in sets if not works(s)), None)
        if failed is None:
            return sets
        cores.append(_core(candidates - failed, candidates, works))


def _core(kept: frozenset[str], candidates: frozenset[str], works: Callable[[frozenset[str]], bool]) -> frozenset[str]:
    """A minimal set of settings, among ``kept`` (which cannot all keep their strength), that
    cannot all keep it: each setting that is not needed is dropped in turn."""
    core = set(kept)
    for fact in sorted(kept):
        trial = core - {fact}
        if not works(candidates - trial):
            core = trial
    if not core:
        raise AssertionError("analysis bug: a group that fails with every setting free to lower")
    return frozenset(core)


def _hitting_sets(cores: Sequence[frozenset[str]]) -> list[frozenset[str]]:
    """The inclusion-minimal sets that meet every core (Berge's algorithm), smallest first."""
    sets: set[frozenset[str]] = {frozenset()}
    for core in cores:
        grown: set[frozenset[str]] = set()
        for s in sets:
            grown.update([s] if s & core else (s | {f} for f in core))
        sets = {s for s in grown if not any(other < s for other in grown)}
    return sorted(sets, key=lambda s: (len(s), sorted(s)))
