"""The implication relation between rules as sets of bits (rule index → an integer whose bit
b is set when the rule implies rule b): its equivalence classes, and the implications that
do not follow from two others. A thousand rules in a chain imply each other half a million
times; one integer per rule keeps that cheap."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from .unionfind import UnionFind


def bits(mask: int) -> Iterator[int]:
    """The positions of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _converse(relation: Mapping[int, int]) -> dict[int, int]:
    """b → the rules that imply b."""
    back: dict[int, int] = {}
    for a, targets in relation.items():
        for b in bits(targets):
            back[b] = back.get(b, 0) | 1 << a
    return back


def equivalence_classes(order: Sequence[int], implied: Mapping[int, int]) -> list[list[int]]:
    """The rules of ``order`` grouped by mutual implication, each class and the classes in that order."""
    back = _converse(implied)
    union: UnionFind[int] = UnionFind()
    for a in order:
        for b in bits(implied.get(a, 0) & back.get(a, 0)):
            union.union(a, b)
    classes: dict[int, list[int]] = {}
    for a in order:
        classes.setdefault(union.find(a), []).append(a)
    return list(classes.values())


def between_classes(classes: Sequence[Sequence[int]], implied: Mapping[int, int]) -> dict[int, int]:
    """The implications between classes, each class by its first rule."""
    if all(len(members) == 1 for members in classes):
        return {a: targets for a, targets in implied.items() if targets}
    head = {a: members[0] for members in classes for a in members}
    edges: dict[int, int] = {}
    for a, targets in implied.items():
        for b in bits(targets):
            if head[a] != head[b]:
                edges[head[a]] = edges.get(head[a], 0) | 1 << head[b]
    return edges


def not_transitive(edges: Mapping[int, int]) -> list[tuple[int, int]]:
    """The implications a ⇒ b, in order, that do not follow from some a ⇒ c ⇒ b."""
    found = []
    for a in sorted(edges):
        through = 0
        for c in bits(edges[a]):
            through |= edges.get(c, 0)
        found += [(a, b) for b in bits(edges[a] & ~through)]
    return found
