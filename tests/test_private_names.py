"""No module imports another module's private (``_name``) names: what is shared is public and documented."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bitlocker_rules"
CHECKED = sorted(PACKAGE.rglob("*.py"))  # every module of the package


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(path: Path) -> list[str]:
    """The private names ``path`` takes from the package's other modules: imported by name, or
    read as an attribute of a module it imported (``from . import nodes as n``; ``n._walk``)."""
    tree = ast.parse(path.read_text())
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("bitlocker_rules")):
            found += [f"{node.module}.{alias.name}" for alias in node.names if _private(alias.name)]
            modules.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            modules.update(
                alias.asname or alias.name for alias in node.names if alias.name.startswith("bitlocker_rules")
            )
    return found + [
        f"{node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in modules
        and _private(node.attr)
    ]


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_names_are_imported(path):
    assert private_imports(path) == []


def test_the_check_sees_a_private_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from .evaluation import _Ctx, Public\nfrom .. import nodes as n\nn.walk(n._assumed)\n")
    assert private_imports(module) == ["evaluation._Ctx", "n._assumed"]
