"""The one operator table: each Op's function, flip and negation agree, and no module keeps another table."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from bitlocker_rules.operators import Op
from bitlocker_rules.versions import WindowsVersion

PACKAGE = Path(__file__).resolve().parent.parent / "bitlocker_rules"
SAMPLES = [(-1, 0, 1, 2.5), ("a", "b"), (WindowsVersion(10, 0, 19041, 0), WindowsVersion(10, 0, 22621, 0))]


@pytest.mark.parametrize("op", list(Op))
def test_flipped_swaps_the_sides_and_negated_is_the_opposite(op):
    for values in SAMPLES:
        for a, b in itertools.product(values, repeat=2):
            assert op.flipped.function(b, a) == op.function(a, b)
            assert op.negated.function(a, b) == (not op.function(a, b))


def test_an_op_is_its_symbol():
    assert [Op(op.symbol) for op in Op] == list(Op)
    assert {f"{op}" for op in Op} == {"==", "!=", "<", "<=", ">", ">="}
    assert [op for op in Op if op.ordered] == [Op.LT, Op.LE, Op.GT, Op.GE]


def test_no_module_keeps_its_own_operator_table():
    # A table of operators keyed or valued by their symbols: `"<": ">"`, `"<=": operator.le`, ...
    table = re.compile(r'"(?:==|!=|<=?|>=?)"\s*:\s*(?:"|operator\.)')
    found = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "operators.py" and table.search(path.read_text())
    ]
    assert found == []
