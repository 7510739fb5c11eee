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

    # Set for every member below the class (plain attributes: read on the evaluators' hot paths).
    function: Callable[[Any, Any], bool]  # the Python comparison that decides ``left op right`` on known values
    flipped: Op  # the operator with its sides swapped: ``a op b`` is ``b op.flipped a``
    negated: Op  # the operator that holds exactly when this one does not (on known values)

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
for _op in Op:
    _op.function, _op.flipped, _op.negated = _FUNCTIONS[_op], _FLIPPED[_op], _NEGATED[_op]
del _op
