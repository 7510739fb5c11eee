"""No module imports another module's private (``_name``) names: what is shared is public and documented."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bitlocker_rules"
# The modules kept clean so far; the rest of the package follows as issue 12 reaches it.
CHECKED = sorted(
    [
        *PACKAGE.glob("analysis/*.py"),
        *(PACKAGE / f"{name}.py" for name in ("nodes", "operators", "checker", "interpreter", "compiler", "printer")),
    ]
)


def private_imports(path: Path) -> list[str]:
    """The private names ``path`` imports from the package's modules."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("bitlocker_rules")):
            found += [
                f"{node.module}.{alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
    return found


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_names_are_imported(path):
    assert private_imports(path) == []


def test_the_check_sees_a_private_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from .evaluation import _Ctx, Public\nfrom ..nodes import Name\n")
    assert private_imports(module) == ["evaluation._Ctx"]
