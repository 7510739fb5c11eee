"""The comparison operators of the rule language: one table, read by every evaluator.

Each ``Op`` is its symbol as written (``Op("<=") is Op.LE``), with the Python function that
decides it, the operator seen from the other side (``a < b`` is ``b > a``) and its negation
(``not a < b`` is ``a >= b``; exact for known values, and an unknown stays unknown).
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable
from typing import Any


class Op(enum.StrEnum):
    """A comparison operator; its value is the symbol the rule text writes."""

    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    @property
    def symbol(self) -> str:
        """The operator as written in rule text and in Python (the two agree)."""
        return self.value

    @property
    def function(self) -> Callable[[Any, Any], bool]:
        """The Python comparison that decides ``left op right`` on known values."""
        return _FUNCTIONS[self]

    @property
    def flipped(self) -> Op:
        """The operator with its sides swapped: ``a op b`` is ``b op.flipped a``."""
        return _FLIPPED[self]

    @property
    def negated(self) -> Op:
        """The operator that holds exactly when this one does not (on known values)."""
        return _NEGATED[self]

    @property
    def ordered(self) -> bool:
        """Whether the operator needs ordered values (``<`` and the like; not ``==``/``!=``)."""
        return self not in (Op.EQ, Op.NE)


_FUNCTIONS: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq, Op.NE: operator.ne, Op.LT: operator.lt,
    Op.LE: operator.le, Op.GT: operator.gt, Op.GE: operator.ge,
}  # fmt: skip
_FLIPPED = {Op.EQ: Op.EQ, Op.NE: Op.NE, Op.LT: Op.GT, Op.LE: Op.GE, Op.GT: Op.LT, Op.GE: Op.LE}
_NEGATED = {Op.EQ: Op.NE, Op.NE: Op.EQ, Op.LT: Op.GE, Op.LE: Op.GT, Op.GT: Op.LE, Op.GE: Op.LT}
