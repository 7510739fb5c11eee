"""Disjoint sets: terms that share constants, rules and constraints that share free facts."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)


class UnionFind(Generic[Key]):
    """Disjoint sets of keys (tuples, or rule indexes), with path halving."""

    def __init__(self) -> None:
        self.parent: dict[Key, Key] = {}

    def find(self, x: Key) -> Key:
        """The representative of ``x``'s set (``x`` joins as a set of its own when new)."""
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: Key, b: Key) -> None:
        """Join the sets of ``a`` and ``b``."""
        self.parent[self.find(a)] = self.find(b)
