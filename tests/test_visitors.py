"""Every walk over the tree handles every node class: no node falls through unnoticed."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import attrs
import pytest

import bitlocker_rules
from bitlocker_rules import nodes as n
from bitlocker_rules.nodes import EXPRESSIONS, Visitor

# The walks the restructuring put on the visitor; each must stay one (a test cannot pass vacuously).
EXPECTED = {
    "bitlocker_rules.checker": {"_Checker", "_Operand"},
    "bitlocker_rules.interpreter": {"Interpreter", "_Operand"},
    "bitlocker_rules.compiler": {"_Emitter", "_Value", "_Truth", "_SimpleAtoms"},
    "bitlocker_rules.analysis.evaluation": {"MaskCompiler", "_Getter"},
    "bitlocker_rules.analysis.wording": {"_Collect"},
    "bitlocker_rules.printer": {"_Printer"},
    "bitlocker_rules.nodes": {"_Negation", "_Assumed"},
    "bitlocker_rules.analysis.summary": {"_Walk"},
}
DECLARATIONS = {n.Definition, n.Rule, n.Ruleset}


def _visitors() -> list[type]:
    for info in pkgutil.walk_packages(bitlocker_rules.__path__, "bitlocker_rules."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found, stack = [], list(Visitor.__subclasses__())
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


def test_expressions_lists_every_node_class():
    classes = {
        cls for _, cls in inspect.getmembers(n, inspect.isclass) if cls.__module__ == n.__name__ and attrs.has(cls)
    }
    assert classes - DECLARATIONS == set(EXPRESSIONS)


def test_the_walks_are_visitors():
    found = {(cls.__module__, cls.__name__) for cls in _visitors()}
    assert {(module, name) for module, names in EXPECTED.items() for name in names} <= found


@pytest.mark.parametrize("visitor", _visitors(), ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_every_visitor_handles_every_node_class(visitor):
    assert visitor.unhandled() == ()
    both = [kind.__name__ for kind in visitor.cannot_meet if hasattr(visitor, f"visit_{kind.__name__}")]
    assert both == [], "a class is handled and also said not to be met"


def test_a_visitor_without_a_handler_is_found_and_raises():
    class Partial(Visitor[str]):
        def visit_Const(self, e):
            return "const"

    assert Partial.unhandled() == tuple(kind for kind in EXPRESSIONS if kind is not n.Const)
    assert Partial().visit(n.Const(True)) == "const"
    with pytest.raises(TypeError, match="Partial has no handler for Not"):
        Partial().visit(n.Not(n.Const(True)))


def test_a_class_that_cannot_be_met_raises_when_met():
    class Leaves(Visitor[str]):
        cannot_meet = (n.Name,)

    with pytest.raises(TypeError, match="a Name cannot stand here"):
        Leaves().visit(n.Name(("x",)))
