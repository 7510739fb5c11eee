"""Candidate values: collections as bags of records, value identity, and a value as the
evaluators read it, as JSON writes it and as the admin reads it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..versions import WindowsVersion
from ..vocabulary import Fact, Vocabulary

# The most records a witness or a repair writes out for one collection: a count compared with
# 1000000000 is decided on bags (distinct records with multiplicities), but a witness that
# needs that many records is not written out.
MAX_RECORDS = 100_000


def too_large(assignment: Mapping[str, Any]) -> tuple[str, int] | None:
    """(fact, records) of a collection of ``assignment`` with more than MAX_RECORDS records."""
    for name, value in assignment.items():
        if isinstance(value, Bag) and sum(value.mult) > MAX_RECORDS:
            return name, sum(value.mult)
    return None


class Bag(tuple):
    """Distinct records with multiplicities: a collection of many records, stored compactly.

    Quantifiers look at the distinct records, counts add up the multiplicities;
    ``expand`` gives the plain tuple the interpreter reads.
    """

    mult: tuple[int, ...]

    def __new__(cls, records: Iterable[Any], mult: Iterable[int]) -> Bag:
        bag = super().__new__(cls, records)
        bag.mult = tuple(mult)
        return bag

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bag) and tuple(self) == tuple(other) and self.mult == other.mult

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def expand(self) -> tuple:
        return tuple(r for r, k in zip(self, self.mult) for _ in range(k))


def _plain(value: Any) -> Any:
    return value.expand() if isinstance(value, Bag) else value


def same_value(a: Any, b: Any) -> bool:
    """Whether two values are the same value: equal and of one type (``1`` is not ``True``)."""
    if a is None or b is None:
        return a is b
    return type(a) is type(b) and a == b


def typed_assignment(assignment: Mapping[str, Any]) -> dict[str, Any]:
    """An assignment as the evaluators read it: missing facts left out, bags expanded."""
    return {k: _plain(v) for k, v in assignment.items() if v is not None}


def shown_value(vocabulary: Vocabulary, name: str, value: Any) -> str:
    """A value of fact ``name`` in the admin's words (a collection as its records)."""
    if value is None:
        return "missing"
    decl = vocabulary.fact(name)
    if decl is None:
        return str(value)
    if decl.type.kind == "collection":
        if not value:
            return f"no {decl.item_label or 'item'}s"
        mult = getattr(value, "mult", None) or (1,) * len(value)
        total = sum(mult)
        head = f"{total} {decl.item_label or 'item'}{'' if total == 1 else 's'}"
        if not any(record for record in value):
            return head
        shown = "; ".join(
            _show_record(vocabulary, decl, record) + (f" × {k}" if k > 1 else "") for record, k in zip(value, mult)
        )
        return f"{head}: {shown}"
    return vocabulary.display(decl, value)


def _show_record(vocabulary: Vocabulary, decl: Fact, record: Mapping[str, Any]) -> str:
    parts = [f"{f.label}: {vocabulary.display(f, record[f.name])}" for f in decl.type.fields if f.name in record]
    return "{" + ", ".join(parts) + "}"


def raw_value(value: Any) -> Any:
    """A value as the policy JSON writes it (versions as text, collections as lists of records)."""
    if isinstance(value, WindowsVersion):
        return str(value)
    if isinstance(value, tuple):
        return [{k: raw_value(v) for k, v in record.items()} for record in _plain(value)]
    return value
