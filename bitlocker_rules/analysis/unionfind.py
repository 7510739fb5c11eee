"""Disjoint sets: terms that share constants, rules and constraints that share free facts."""

from __future__ import annotations


class UnionFind:
    """Disjoint sets of tuples, with path halving."""

    def __init__(self) -> None:
        self.parent: dict[tuple, tuple] = {}

    def find(self, x: tuple) -> tuple:
        """The representative of ``x``'s set (``x`` joins as a set of its own when new)."""
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: tuple, b: tuple) -> None:
        """Join the sets of ``a`` and ``b``."""
        self.parent[self.find(a)] = self.find(b)
