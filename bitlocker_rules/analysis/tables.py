"""Truth tables of the rules that read a single free scalar fact: each rule's state on every
value of that fact's value set, shared by every such rule.

The value set is built from the constants of all the rules that read the fact, so it is
exact for each of them (more constants only cut the intervals finer): whether a rule can
reach a state, whether one rule implies another and whether two conflict are then read off
the tables, with no search. Lint asks these questions of every rule and every pair; with a
thousand rules on one setting that is a million questions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..vocabulary import Vocabulary
from .domains import fact_domains
from .evaluation import SearchContext
from .results import Deadline
from .selection import Entry


class Tables:
    """Per entry that reads one free scalar fact: the fact, and per value of its shared
    value set the entry's state (one state bit, every fact being assigned)."""

    def __init__(self) -> None:
        self.fact: dict[int, str] = {}  # entry index → the fact it reads
        self.values: dict[str, tuple] = {}  # fact → its shared value set
        self.states: dict[int, list[int]] = {}  # entry index → state bit per value
        self.masks: dict[tuple[int, int], int] = {}  # (entry index, goal) → ``mask``

    @classmethod
    def of(cls, entries: Sequence[Entry], vocabulary: Vocabulary, deadline: Deadline) -> Tables:
        """The tables of every entry of ``entries`` (all decidable) that reads one scalar fact."""
        tables = cls()
        groups: dict[str, list[Entry]] = {}
        for e in entries:
            if len(e.facts) == 1 and vocabulary.facts[e.facts[0]].type.kind != "collection":  # read: declared
                groups.setdefault(e.facts[0], []).append(e)
        for fact, members in groups.items():
            deadline.step(f"the truth table of {fact}, which {len(members)} of the rules read alone")
            values = fact_domains(members, vocabulary, {})[fact]
            contexts = [SearchContext({fact: v}, {}) for v in values]
            tables.values[fact] = values
            for e in members:
                tables.states[e.index] = _states(e, contexts, deadline)
                tables.fact[e.index] = fact
        return tables

    def has(self, e: Entry) -> bool:
        """Whether ``e`` has a table."""
        return e.index in self.fact

    def shared(self, a: Entry, b: Entry) -> bool:
        """Whether ``a`` and ``b`` have tables over the same fact (so one value set decides both)."""
        fact = self.fact.get(a.index)
        return fact is not None and fact == self.fact.get(b.index)

    def mask(self, e: Entry, goal: int) -> int:
        """Bit i set when ``e`` reaches ``goal`` on the fact's i-th value."""
        found = self.masks.get((e.index, goal))
        if found is None:
            reached = "".join("1" if state & goal else "0" for state in reversed(self.states[e.index]))
            found = self.masks[(e.index, goal)] = int(reached or "0", 2)
        return found

    def witness(self, e: Entry, goal: int) -> dict[str, Any] | None:
        """An assignment (the fact → a value) under which ``e`` reaches ``goal``, or None."""
        fact = self.fact[e.index]
        for value, state in zip(self.values[fact], self.states[e.index]):
            if state & goal:
                return {fact: value}
        return None


def _states(e: Entry, contexts: Sequence[SearchContext], deadline: Deadline) -> list[int]:
    """``e``'s state on each context, the deadline checked every few: one rule of thousands of
    conditions on one fact has thousands of values, each evaluated over every condition."""
    states: list[int] = []
    for start in range(0, len(contexts), _CHECKED_EVERY):
        deadline.check()
        states += [e.state(ctx) for ctx in contexts[start : start + _CHECKED_EVERY]]
    return states


_CHECKED_EVERY = 64  # values between two readings of the clock: about 0.1 s of work at 4,000 conditions a rule


def table_masks(tables: Tables, entries: Sequence[Entry], goal: int) -> Mapping[int, int]:
    """``tables.mask`` of each entry of ``entries`` that has a table, by entry index."""
    return {e.index: tables.mask(e, goal) for e in entries if tables.has(e)}
