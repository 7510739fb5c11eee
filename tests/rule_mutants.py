"""A mutation run over rule files: does each rule's case file notice a small change to the rule?

Usage (from the repository root, with the project's virtual environment active)::

    python tests/rule_mutants.py                          # every mutant of every shipped ruleset
    python tests/rule_mutants.py key_rotation permissions # some rulesets
    python tests/rule_mutants.py --sample 40 --seed 3     # an even sample
    python tests/rule_mutants.py --list                   # print the mutants, run nothing

Each mutant changes one thing in one expression (a ``require``, a ``when`` or a ``define``,
continuation lines included) of one rule file: a comparison turned into its neighbour (``>=``
and ``>``, ``<=`` and ``<``, ``==`` and ``!=``), ``and`` and ``or`` swapped, ``in`` and ``not
in``, ``any`` and ``all``, ``is missing`` and ``is present``, ``true`` and ``false``, a ``not``
or an ``implies`` taken away, one member dropped from a set, a number one up or one down (a
release name the release before or after), an enum member replaced by another member of its
enum, a whole ``when`` deleted. The mutated file and its case file are copied to a folder of
their own, and the cases run as ``bitlocker-rules test`` runs them:

* ``caught``: a case fails;
* ``missed``: every case passes, so nothing checks what the change broke;
* ``invalid``: the mutated file does not load (a type error, an unknown member): no mutant.

The full run over the shipped rulesets (about 720 mutants) takes about 5 minutes on two
cores; ``tests/test_rule_mutants.py`` runs a fixed sample of it in CI.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from attrs import frozen

from bitlocker_rules.errors import BitLockerRulesError
from bitlocker_rules.ruletests import run_tests
from bitlocker_rules.vocabulary import Vocabulary, shipped_vocabulary

RULESETS = Path(__file__).resolve().parents[1] / "rulesets"

# A line that starts an expression, and the keywords that end one (a continuation line is
# anything else that is not blank).
_STARTS = re.compile(r"(require|when)\b|define ")
_ENDS = (
    "rationale",
    "remediation",
    "severity",
    "sources",
    "events",
    "note",
    "rule ",
    "related",
    "disputed",
    "unconfirmed",
    "scenario",
    "ruleset",
    "source",
    "#",
    '"',
)
_SWAPS = (
    (r"(?<= )>=(?= )", ">"),
    (r"(?<= )>(?= )", ">="),
    (r"(?<= )<=(?= )", "<"),
    (r"(?<= )<(?= )", "<="),
    (r"(?<= )==(?= )", "!="),
    (r"(?<= )!=(?= )", "=="),
    (r"(?<= )and(?= )", "or"),
    (r"(?<= )or(?= )", "and"),
    (r"\bnot in\b", "in"),
    (r"(?<!not )\bin \{", "not in {"),
    (r"\ball (?=\w+ in)", "any "),
    (r"\bany (?=\w+ in)", "all "),
    (r"\bis missing\b", "is present"),
    (r"\bis present\b", "is missing"),
    (r"\btrue\b", "false"),
    (r"\bfalse\b", "true"),
    (r"\bnot (?!in\b)", ""),
    (r"\bimplies\b", "and"),
)
_NUMBER = re.compile(r"(?<![\w.\"-])(\d+)(?![\w.\"])")
_MEMBER = re.compile(r"(?<![\w.\"])([A-Z][A-Za-z0-9]+)(?![\w\"])")
_SET = re.compile(r"\{([^{}]*)\}")
_QUOTED = re.compile(r'"[^"]*"')


@frozen
class Mutant:
    """One changed rule file: which ruleset, where (1-based line), in what, and how."""

    ruleset: str
    line: int
    subject: str  # the rule's id, or "define NAME"
    change: str
    text: str  # the whole mutated rule file

    @property
    def name(self) -> str:
        """How a report names the mutant."""
        return f"{self.ruleset}:{self.line} {self.subject}: {self.change}"


def expression_lines(lines: Sequence[str]) -> Iterator[int]:
    """The indexes of the lines that hold a rule expression."""
    inside = False
    for i, line in enumerate(lines):
        text = line.strip()
        if _STARTS.match(text):
            inside = True
            yield i
        elif inside and text and not text.startswith(_ENDS):
            yield i
        else:
            inside = False


def line_mutants(
    line: str, enums: Sequence[Sequence[str]], releases: Sequence[str]
) -> Iterator[tuple[str | None, str]]:
    """Each mutant of one expression line: the new line (None: the line deleted) and the change."""
    quoted = [m.span() for m in _QUOTED.finditer(line)]

    def in_quotes(start: int) -> bool:
        return any(a <= start < b for a, b in quoted)

    for pattern, replacement in _SWAPS:
        for m in re.finditer(pattern, line):
            yield f"{line[: m.start()]}{replacement}{line[m.end() :]}", f"{m.group(0)!r} -> {replacement!r}"
    for m in _SET.finditer(line):
        items = [item.strip() for item in m.group(1).split(",")]
        for k in range(len(items)) if len(items) > 1 else ():  # a set of one cannot lose its member
            rest = ", ".join(items[:k] + items[k + 1 :])
            yield f"{line[: m.start()]}{{{rest}}}{line[m.end() :]}", f"{items[k]} dropped from the set"
    for m in _NUMBER.finditer(line):
        if not in_quotes(m.start()):
            for other in _neighbours(m.group(1), releases):
                yield f"{line[: m.start()]}{other}{line[m.end() :]}", f"{m.group(1)} -> {other}"
    for m in _MEMBER.finditer(line):
        if not in_quotes(m.start()):
            others = sorted({o for members in enums if m.group(1) in members for o in members} - {m.group(1)})
            for other in others:
                yield f"{line[: m.start()]}{other}{line[m.end() :]}", f"{m.group(1)} -> {other}"
    if line.strip().startswith("when "):
        yield None, "the when deleted"


def _neighbours(number: str, releases: Sequence[str]) -> list[str]:
    """A release name's releases before and after it; any other number one down and one up."""
    if number in releases:
        k = releases.index(number)
        return [releases[j] for j in (k - 1, k + 1) if 0 <= j < len(releases)]
    return [str(int(number) - 1), str(int(number) + 1)]


def mutants(ruleset: str, text: str, vocabulary: Vocabulary) -> Iterator[Mutant]:
    """Every mutant of one rule file's text, in file order."""
    enums = [[member.name for member in enum.members] for enum in vocabulary.enums.values()]
    releases = [r for r in vocabulary.releases if r.isalnum()]
    lines = text.split("\n")
    for i in expression_lines(lines):
        subject = _subject(lines, i)
        for new, change in line_mutants(lines[i], enums, releases):
            mutated = lines[:i] + ([] if new is None else [new]) + lines[i + 1 :]
            yield Mutant(ruleset, i + 1, subject, change, "\n".join(mutated))


def _subject(lines: Sequence[str], index: int) -> str:
    """The rule or definition the expression line at ``index`` belongs to."""
    for line in reversed(lines[: index + 1]):
        text = line.strip()
        if text.startswith("define "):
            return f"define {text.split()[1]}"
        if text.startswith(("rule ", "note ")):
            return text.split()[1]
    return ""


def outcome(mutant: Mutant, folder: Path, vocabulary: Vocabulary) -> str:
    """``caught``, ``missed`` or ``invalid``: the mutant's rule file beside a copy of its case file."""
    (folder / f"{mutant.ruleset}.rules").write_text(mutant.text, encoding="utf-8")
    cases = folder / f"{mutant.ruleset}.tests.toml"
    if not cases.exists():
        shutil.copy(RULESETS / cases.name, cases)
    try:
        run = run_tests([cases], vocabulary)
    except BitLockerRulesError:
        return "invalid"
    return "caught" if run.failed else "missed"


def shipped_mutants(names: Sequence[str], vocabulary: Vocabulary) -> list[Mutant]:
    """Every mutant of the shipped rulesets ``names`` (all of them when empty)."""
    names = names or sorted(p.stem for p in RULESETS.glob("*.rules"))
    return [m for name in names for m in mutants(name, (RULESETS / f"{name}.rules").read_text("utf-8"), vocabulary)]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the mutants; exit code 1 when any is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rulesets", nargs="*", help="shipped ruleset names (default: all)")
    parser.add_argument("--sample", type=int, help="run this many mutants, drawn evenly")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed")
    parser.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    args = parser.parse_args(argv)
    vocabulary = shipped_vocabulary()
    chosen = shipped_mutants(args.rulesets, vocabulary)
    if args.sample:
        chosen = sorted(random.Random(args.seed).sample(chosen, min(args.sample, len(chosen))), key=chosen.index)
    if args.list:
        print("\n".join(m.name for m in chosen))
        return 0
    counts: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as folder:
        for mutant in chosen:
            result = outcome(mutant, Path(folder), vocabulary)
            counts[result] += 1
            if result == "missed":
                print(f"missed  {mutant.name}", flush=True)
    print(", ".join(f"{counts[k]} {k}" for k in ("caught", "missed", "invalid")))
    return 1 if counts["missed"] else 0


if __name__ == "__main__":
    sys.exit(main())
