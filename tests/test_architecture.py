"""Imports point one way: from the edge (cli) toward the leaves (source, errors)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bitlocker_rules"

# Lower rank = closer to the leaves. A module may import only modules of lower rank.
# fmt: off
RANK = {
    "source": 0, "operators": 0, "config": 3, "errors": 1, "versions": 1, "resources": 1, "cache": 1, "jsonpath": 1,
    "vocabulary": 2, "nodes": 2, "outcome": 2, "reading": 2, "assignment_filters": 2,
    "syntax": 3, "printer": 3, "facts": 3, "phrasing": 3, "waivers": 3, "formatter": 4,
    "verdict": 3,
    "checker": 4, "interpreter": 4, "compiler": 4, "reference": 4, "citations": 3,
    "importers": 4, "assignments": 4, "analysis": 5, "scenarios": 5, "snapshot": 5, "emit": 6, "suppression": 6,
    "engine": 6, "fleet": 7, "report": 7, "pages": 7, "tenant": 7, "history": 7, "lsp": 7, "ruletests": 7,
    "rule_diagnostics": 7,
    "plan": 8,  # composes the fleet, the history's diff records and the analysis
    "cli": 9, "__main__": 10, "__init__": 11,
}
# fmt: on


# Inside the analysis package, the same rule between its own modules (bottom to top).
# fmt: off
ANALYSIS_RANK = {
    "logic": 0, "values": 0, "unionfind": 0, "summary": 0,
    "results": 1, "evaluation": 1, "relations": 1,
    "selection": 2,
    "domains": 3, "search": 3, "wording": 3,
    "analyzer": 4, "lowering": 4, "tables": 4,
    "lint": 5, "sarif": 5, "compare": 5, "repair": 5,
    "fleet_repairs": 6,
    "__init__": 7,
}
# fmt: on


def local_imports(path: Path) -> set[str]:
    """Top-level package modules that ``path`` imports (a subpackage's own modules excluded).

    Relative imports (``from .x import y``, ``from .. import x``) and absolute ones (``from
    bitlocker_rules.x import y``, ``import bitlocker_rules.x``), wherever they are: at the top,
    inside a function, or under ``if TYPE_CHECKING``.
    """
    depth = len(path.relative_to(PACKAGE).parts)  # 1 for a module, 2 inside a subpackage
    return imports_in(path.read_text(), depth)


def imports_in(code: str, depth: int) -> set[str]:
    """Top-level package modules that ``code``, a module ``depth`` folders into the package, imports."""
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found.update(_package_module(alias.name) for alias in node.names if _in_package(alias.name))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _in_package(node.module or ""):
            inner = _package_module(node.module or "")
            found.update([inner] if inner else [alias.name for alias in node.names])
        elif isinstance(node, ast.ImportFrom) and node.level == depth:
            base = (node.module or "").split(".")[0]
            found.update([base] if base else [alias.name for alias in node.names])
    return found


def _in_package(dotted: str) -> bool:
    return dotted.split(".")[0] == PACKAGE.name


def _package_module(dotted: str) -> str:
    """``bitlocker_rules.engine.x`` -> ``engine``; the package itself -> ``""``."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_absolute_imports_are_read():
    # The imports of a module of the package are found however they are written.
    code = (
        "from bitlocker_rules.engine import Engine\nimport bitlocker_rules.cli.output\n"
        "from bitlocker_rules import syntax\ndef f():\n    from .checker import check\n"
    )
    assert imports_in(code, depth=1) == {"engine", "cli", "syntax", "checker"}
    assert imports_in("from ..vocabulary import Fact\nfrom .rows import x\n", depth=2) == {"vocabulary"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else path.stem


def test_every_module_has_a_rank():
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    assert modules <= set(RANK), modules - set(RANK)


def test_imports_point_toward_the_leaves():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        me = module_name(path)
        for other in local_imports(path):
            if other != me and RANK.get(other, 99) >= RANK[me]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {other}")
    assert not wrong, wrong


def sibling_imports(path: Path) -> set[str]:
    """Modules of its own subpackage that ``path`` imports (``from .x import`` or ``from . import x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.update([node.module.split(".")[0]] if node.module else [alias.name for alias in node.names])
    return found


# Inside the fleet package: reading rows and devices, then records, then one process, then several.
# fmt: off
FLEET_RANK = {"job": 0, "rows": 0, "devices": 0, "waiving": 0, "ranges": 1, "results": 1, "evaluation": 2, "parallel": 3,
              "__init__": 4}
# fmt: on


# Inside the command line: output and the parser, then one module per command, then dispatch.
# fmt: off
CLI_RANK = {"status": 0, "output": 1, "parser": 2, "inputs": 2, "configured": 2, "completion": 3, "check": 3, "rules": 3,
            "lint": 3, "fmt": 3, "compare": 3, "fleet": 3, "pull": 3, "apply": 3, "history": 3, "lsp": 3, "rule_tests": 3,
            "plan": 3, "repair": 4, "__init__": 5, "waiving": 2}
# fmt: on


# Inside the tenant package: errors and tables, then signing in and the snapshot, the client, the pull.
# fmt: off
TENANT_RANK = {"failures": 0, "pacing": 0, "scrub": 0, "connection": 0, "sent_text": 1, "clouds": 1, "endpoints": 1, "signin": 2,
               "snapshot": 1, "client": 3, "pull": 4, "apply": 4, "__init__": 5}
# fmt: on


# Inside the vocabulary: the declarations' records, converting values, the whole, loading it.
# fmt: off
VOCABULARY_RANK = {"declarations": 0, "conversion": 1, "strengths": 1, "model": 2, "loading": 3, "__init__": 4}
# fmt: on


# Inside the HTML report: the page's pieces, the charts drawn with them, then each page.
# fmt: off
HTML_RANK = {"page": 0, "charts": 1, "device": 2, "fleet": 2, "diff": 2, "plan": 2, "__init__": 3}
# fmt: on


# Inside the language server: positions and the text at the cursor, a document read, what each
# request answers, then the server.
# fmt: off
LSP_RANK = {"positions": 0, "context": 0, "document": 0, "formatting": 1, "diagnostics": 1, "hover": 1,
            "completion": 2, "navigation": 2, "server": 3, "__init__": 4}
# fmt: on


# Inside the history: its records, a run staged, the store (the only SQL), then what uses the store.
# fmt: off
HISTORY_RANK = {"runs": 0, "drift": 0, "recorder": 1, "diff": 1, "store": 2, "sources": 3, "writer": 3, "__init__": 4}
# fmt: on

# Inside the emit package: the inverse values and the request files, then one writer per shape.
# fmt: off
EMIT_RANK = {"values": 0, "requests": 0, "profile": 1, "catalog": 1, "omauri": 1, "settings": 1, "intents": 2, "__init__": 3}
# fmt: on


# Inside the rule tests: case files and coverage, then the runner that uses both.
# fmt: off
RULETESTS_RANK = {"cases": 0, "coverage": 0, "runner": 1, "__init__": 2}
# fmt: on


# Inside the plan: patches, then the two states and the possible devices, the fleet's pass, the whole plan.
# fmt: off
PLAN_RANK = {"patches": 0, "memberships": 0, "possible": 1, "proposal": 1, "records": 2, "devices": 3, "run": 4,
             "__init__": 5}
# fmt: on


# Inside the snapshot: its files and the filters' scope, then the policies read and the devices joined, the package.
# fmt: off
SNAPSHOT_RANK = {"files": 0, "scope": 0, "devices": 1, "reading": 1, "__init__": 2}
# fmt: on


@pytest.mark.parametrize(
    "package, ranks",
    [
        ("analysis", ANALYSIS_RANK),
        ("snapshot", SNAPSHOT_RANK),
        ("fleet", FLEET_RANK),
        ("cli", CLI_RANK),
        ("vocabulary", VOCABULARY_RANK),
        ("report/html", HTML_RANK),
        ("tenant", TENANT_RANK),
        ("history", HISTORY_RANK),
        ("lsp", LSP_RANK),
        ("emit", EMIT_RANK),
        ("ruletests", RULETESTS_RANK),
        ("plan", PLAN_RANK),
    ],
)
def test_subpackage_imports_point_one_way(package, ranks):
    folder = PACKAGE / package
    modules = {p.stem for p in folder.glob("*.py")}
    assert modules == set(ranks), modules ^ set(ranks)
    wrong = [
        f"{package}/{path.name} imports {other}"
        for path in folder.glob("*.py")
        for other in sibling_imports(path)
        if ranks[other] >= ranks[path.stem]
    ]
    assert not wrong, wrong


def test_only_syntax_imports_lark():
    # The rule language's parser, and the parser of Intune's assignment filter rules.
    users = [p.name for p in PACKAGE.rglob("*.py") if "import lark" in p.read_text() or "from lark" in p.read_text()]
    assert sorted(users) == ["assignment_filters.py", "syntax.py"]


# Modules that speak HTTP (or sign in to do so): only the tenant package may import them.
HTTP_MODULES = ("requests", "urllib3", "http.client", "urllib.request", "azure", "msal", "httpx", "aiohttp", "socket")


def test_only_tenant_speaks_http():
    speakers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            if any(n == m or n.startswith(m + ".") for n in names for m in HTTP_MODULES):
                speakers.add(str(path.relative_to(PACKAGE).parent))
    assert speakers == {"tenant"}, speakers


def test_no_eval_or_exec_anywhere():
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("eval", "exec"), f"{path.name} calls {node.func.id}"


def test_only_the_store_writes_sql():
    # The history's store is the one module that speaks SQL (and imports DuckDB).
    users = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if "import duckdb" in p.read_text()]
    sql = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if any(word in p.read_text() for word in ("SELECT ", "INSERT INTO", "CREATE TABLE"))
    ]
    assert users == ["history/store.py"]
    assert sql == ["history/store.py"]


def test_grammar_lives_in_its_file():
    for path in PACKAGE.rglob("*.py"):
        assert "%import common" not in path.read_text(), path
