"""The documentation stays true: generated pages are current and every example runs.

Conventions the docs follow (and this module reads):

- ```rules blocks in docs/language.md hold rule text that must parse and check against the
  shipped vocabulary. A block that starts with ``ruleset`` is a whole file; one that starts
  with ``rule``, ``note`` or ``define`` gets a ruleset header; anything else is one or more
  expressions separated by blank lines, each checked as the ``require`` of a minimal rule.
- ```rules-error blocks are read the same way and every expression (or the file) must raise
  ``RulesError``. ```rules-file blocks are whole files that must check.
- A rules block whose first line is ``# file: NAME``, and any block whose info string has
  ``file=NAME`` (```json file=policy.json), is written to NAME in the working folder of
  that page's ```console blocks.
- ```console blocks: lines starting with ``$ bitlocker-rules`` are commands, run as
  ``python -m bitlocker_rules`` in a scratch folder holding copies of examples/ and
  rulesets/; a trailing ``# exit N`` gives the expected exit code (0 otherwise). The lines
  after a command are its exact output (stdout, then stderr); a line ``…`` of its own stands
  for any number of lines the page leaves out.
- ```python blocks in docs/python-api.md run as-is, each in a fresh interpreter, from the
  repository root; a ```text output block right after one is exactly what it prints.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from bitlocker_rules import RulesError, compile_text
from bitlocker_rules.pages import generate
from bitlocker_rules.reference import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HEADER = 'ruleset doc_example "An example from the documentation"\n'
_FENCE = re.compile(r"^```([\w-]*)([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)
_EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")
_FILE = re.compile(r"^#\s*file:\s*(\S+)\s*$")
_FILE_ATTRIBUTE = re.compile(r"\bfile=(\S+)")

# Commands the docs describe as they should behave, which the library does not do yet.
# Each is a strict expected failure: fixing the bug makes the test pass and flags the entry.
KNOWN_BUGS: dict[str, str] = {}


class Block(NamedTuple):
    page: str
    tag: str
    text: str
    line: int
    info: str = ""

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(page: str, *tags: str) -> list[Block]:
    """The fenced blocks of ``docs/<page>`` with one of ``tags``, in order."""
    text = (DOCS / page).read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        if not tags or match.group(1) in tags:
            found.append(Block(page, match.group(1), match.group(3), line, match.group(2).strip()))
    return found


def params(page: str, *tags: str):
    return [pytest.param(b, id=b.id) for b in blocks(page, *tags)]


# ---------------------------------------------------------------------------
# Generated pages.


@pytest.mark.parametrize("page", sorted(COMMANDS))
def test_generated_page_is_current(page):
    path = DOCS / f"{page}.md"
    expected = generate(page)
    actual = path.read_text(encoding="utf-8") if path.exists() else ""
    assert actual == expected, f"docs/{page}.md is stale; regenerate it from the repository root with: {COMMANDS[page]}"


def test_rulesets_page_rule_texts_check():
    """The canonical rule text shown in docs/rulesets.md is itself valid rule text."""
    lines = (DOCS / "rulesets.md").read_text(encoding="utf-8").splitlines()
    sections = [number for number, line in enumerate(lines, start=1) if line.startswith("## ")]
    found = blocks("rulesets.md", "rules")
    assert found
    by_section: dict[int, list[Block]] = {}
    for block in found:
        section = max((n for n in sections if n < block.line), default=0)
        by_section.setdefault(section, []).append(block)
    for section_blocks in by_section.values():
        definitions = "".join(b.text for b in section_blocks if b.text.startswith("define "))
        for block in section_blocks:
            if not block.text.startswith("define "):
                compile_text(HEADER + definitions + block.text, f"docs/{block.id}")


# ---------------------------------------------------------------------------
# Rule text in docs/language.md.


def _significant(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.split()[0]
    return ""


def rule_sources(block: Block) -> list[str]:
    """Whole rule files for a block: the file itself, or each expression wrapped in a rule."""
    first = _significant(block.text)
    if first == "ruleset":
        return [block.text]
    if first in ("rule", "note", "define"):
        return [HEADER + block.text]
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", block.text) if _significant(p)]
    return [HEADER + f'rule DOC-1 "example"\n  require {p.strip()}\n' for p in paragraphs]


@pytest.mark.parametrize("block", params("language.md", "rules"))
def test_language_rules_examples_check(block):
    for index, text in enumerate(rule_sources(block)):
        try:
            compile_text(text, f"docs/{block.id}")
        except RulesError as exc:
            pytest.fail(f"example {index + 1} of the block at docs/{block.id} does not check:\n{exc.render()}")


@pytest.mark.parametrize("block", params("language.md", "rules-error"))
def test_language_error_examples_fail(block):
    for index, text in enumerate(rule_sources(block)):
        with pytest.raises(RulesError):
            compile_text(text, f"docs/{block.id}")
            pytest.fail(f"example {index + 1} of the block at docs/{block.id} checks, but should fail")


@pytest.mark.parametrize("block", params("language.md", "rules-file"))
def test_language_file_examples_check(block):
    assert _significant(block.text) == "ruleset", "a rules-file block is a whole file"
    compile_text(block.text, f"docs/{block.id}")


def test_language_page_has_examples_of_every_kind():
    tags = {b.tag for b in blocks("language.md")}
    assert {"rules", "rules-error", "rules-file", "console"} <= tags


# ---------------------------------------------------------------------------
# Commands in docs/cli.md and docs/language.md.


class Command(NamedTuple):
    line: str
    args: list[str]
    exit: int
    output: str


def commands(block: Block) -> list[Command]:
    found: list[Command] = []
    current: list[str] | None = None
    for raw in block.text.splitlines():
        if raw.startswith("$ "):
            if current is not None:
                found[-1] = found[-1]._replace(output="\n".join(current))
            command = raw[2:]
            match = _EXIT.search(command)
            code = int(match.group(1)) if match else 0
            command = _EXIT.sub("", command)
            words = shlex.split(command, comments=True)
            found.append(Command(raw, words, code, ""))
            current = []
        elif current is not None:
            current.append(raw)
    if current is not None and found:
        found[-1] = found[-1]._replace(output="\n".join(current))
    return found


@pytest.fixture
def workdir(tmp_path):
    """A scratch folder with the examples and rulesets, as the docs' commands expect."""
    for name in ("examples", "rulesets"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("NO_COLOR", None)
    env["COLUMNS"] = "100"  # argparse wraps --help to the terminal's width
    return env


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    assert args and args[0] == "bitlocker-rules", args
    return subprocess.run(
        [sys.executable, "-m", "bitlocker_rules", *args[1:]],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _write_named_files(page: str, folder: Path) -> None:
    for block in blocks(page):
        first = block.text.splitlines()[0] if block.text else ""
        match = _FILE_ATTRIBUTE.search(block.info) or (_FILE.match(first) if block.tag.startswith("rules") else None)
        if match:
            (folder / match.group(1)).write_text(block.text, encoding="utf-8")


def _console_params(page: str):
    found = []
    for block in blocks(page, "console"):
        for command in commands(block):
            if command.args[:1] != ["bitlocker-rules"]:
                continue
            words = " ".join(command.args[1:])
            bug = KNOWN_BUGS.get(words)
            marks = [pytest.mark.xfail(reason=bug, strict=True)] if bug else []
            found.append(pytest.param(block, command, id=f"{block.id}:{words}", marks=marks))
    return found


def test_known_bugs_are_on_the_page():
    documented = {" ".join(c.args[1:]) for b in blocks("cli.md", "console") for c in commands(b)}
    assert set(KNOWN_BUGS) <= documented


def test_cli_page_documents_every_exit_code():
    from bitlocker_rules.cli import status

    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    table = page.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert documented == {value for name, value in vars(status).items() if name.startswith("EXIT_")}
    # The examples show the codes a run on the shipped files gives; 3, 4 and 130 need a crash,
    # a time limit or a Ctrl-C (tests/test_cli_io.py, tests/test_analysis_bounds.py run them).
    assert {c.exit for b in blocks("cli.md", "console") for c in commands(b)} == {0, 1, 2}


def test_every_input_problem_code_is_in_the_table_once():
    # I601 once meant an unknown scenario, a damaged snapshot and a plan's bad patch, and I420
    # was on no page: a code a user looks up must name one kind of problem, and be there.
    table = re.findall(r"^\| (I\d{3}) \|", (DOCS / "input-formats.md").read_text(), re.MULTILINE)
    used = {c for p in (ROOT / "bitlocker_rules").rglob("*.py") for c in re.findall(r'"(I\d{3})"', p.read_text())}
    assert len(table) == len(set(table)), sorted(c for c in table if table.count(c) > 1)
    assert used <= set(table), sorted(used - set(table))


def test_cli_page_names_every_option():
    from bitlocker_rules.cli import build_parser

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    parser = build_parser()
    options = {s for a in parser._actions for s in a.option_strings}
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, subparser in sub.choices.items():
        assert f"`{name}`" in text or f"## {name}" in text or f"bitlocker-rules {name}" in text, name
        options |= {s for a in subparser._actions for s in a.option_strings}
    missing = sorted(o for o in options if f"`{o}" not in text)
    assert not missing, f"docs/cli.md does not describe {missing}"


# Pages whose console blocks show the exact output of each command.
EXACT_OUTPUT_PAGES = ("language.md", "input-formats.md", "cli.md", "authoring.md", "plan.md", "waivers.md")


@pytest.mark.parametrize(
    ("page", "block", "command"),
    [
        pytest.param(page, *p.values, id=p.id, marks=p.marks)
        for page in EXACT_OUTPUT_PAGES
        for p in _console_params(page)
    ],
)
def test_commands_print_what_the_page_shows(page, block, command, workdir):
    _write_named_files(page, workdir)
    result = run_cli(command.args, workdir)
    assert result.returncode == command.exit, (
        f"docs/{block.id}: `{command.line}` exited {result.returncode}\n{result.stdout}{result.stderr}"
    )
    shown = [line.rstrip() for line in command.output.strip("\n").splitlines()]
    actual = [line.rstrip() for line in (result.stdout + result.stderr).strip("\n").splitlines()]
    assert matches(shown, actual), f"docs/{block.id}: the output of `{command.line}` changed:\n" + "\n".join(actual)


ELISION = "…"  # a line of its own in a page's output: any number of lines the page leaves out


def matches(shown: list[str], actual: list[str]) -> bool:
    """``actual`` is what ``shown`` shows, an elision line standing for any run of lines."""
    if not shown:
        return not actual
    if shown[0] == ELISION:
        return any(matches(shown[1:], actual[start:]) for start in range(len(actual) + 1))
    return bool(actual) and actual[0] == shown[0] and matches(shown[1:], actual[1:])


@pytest.mark.parametrize(
    ("shown", "actual", "expected"),
    [
        (["a", "b"], ["a", "b"], True),
        (["a", "b"], ["a", "c"], False),
        (["a", ELISION, "d"], ["a", "b", "c", "d"], True),
        (["a", ELISION, "d"], ["a", "b", "c"], False),
        (["a", ELISION], ["a"], True),
        ([], ["a"], False),
    ],
)
def test_elision_stands_for_any_run_of_lines(shown, actual, expected):
    assert matches(shown, actual) is expected


# ---------------------------------------------------------------------------
# Python in docs/python-api.md.


def _python_params():
    """Each python block with the output block right after it (```text output), if any."""
    found = blocks("python-api.md", "python", "text")
    params = []
    for index, block in enumerate(found):
        if block.tag != "python":
            continue
        after = found[index + 1] if index + 1 < len(found) else None
        output = after.text if after is not None and after.tag == "text" and "output" in after.info else None
        params.append(pytest.param(block, output, id=block.id))
    return params


@pytest.mark.parametrize(("block", "output"), _python_params())
def test_python_api_examples_run(block, output):
    result = subprocess.run(
        [sys.executable, "-c", block.text],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"docs/{block.id} fails:\n{result.stderr}"
    if output is not None:
        assert result.stdout.rstrip("\n").splitlines() == output.rstrip("\n").splitlines(), (
            f"docs/{block.id}: the output block under this example is not what it prints"
        )


def test_python_api_page_has_examples():
    assert len(blocks("python-api.md", "python")) >= 5


# ---------------------------------------------------------------------------
# docs/architecture.md and the page set.


def test_architecture_page_names_every_module():
    package = ROOT / "bitlocker_rules"
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__main__"}
    modules |= {f"{p.name}/" for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    missing = sorted(m for m in modules if f"`{m}`" not in text)
    assert not missing, f"docs/architecture.md does not describe {missing}"


def test_readme_links_resolve():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in re.findall(r"`docs/([\w-]+\.md)`", text):
        assert (DOCS / name).is_file(), f"README.md names docs/{name}, which does not exist"


def _anchors(page: str) -> set[str]:
    """The heading anchors GitHub makes for a page (duplicates get -1, -2, …)."""
    text = _FENCE.sub("", (DOCS / page).read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+?)\s*$", text, re.M):
        anchor = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        anchors.add(anchor if count == 0 else f"{anchor}-{count}")
    return anchors


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_links_between_pages_resolve(page):
    text = _FENCE.sub("", (DOCS / page).read_text(encoding="utf-8"))
    broken = []
    for target, anchor in re.findall(r"\]\(([\w.-]*\.md|)(?:#([^)\s]+))?\)", text):
        name = target or page
        if not (DOCS / name).is_file():
            broken.append(f"{target}#{anchor}")
        elif anchor and anchor not in _anchors(name):
            broken.append(f"{name}#{anchor}")
    assert not broken, f"docs/{page} links to {broken}"
