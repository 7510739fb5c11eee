"""Running rule test cases: each case's facts through the engine, its expectations checked.

Every case is decided twice: by the compiled verdict functions alone (how ``check`` decides)
and with every rule explained by the interpreter (``explain_all``); a rule on which they
disagree fails the case. The explained outcomes are what a failure shows and what coverage counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from attrs import frozen

from ..engine import Engine, LoadedRuleset, load_ruleset, policy_view
from ..errors import Diagnostic, InputError
from ..facts import Facts, facts_from_mapping, merge_facts
from ..importers import load_devices, load_policies
from ..outcome import NoteOutcome, Report, RuleOutcome, Status
from ..resources import rulesets_dir
from ..scenarios import declared_by_rulesets
from ..verdict import Verdict
from ..vocabulary import Vocabulary
from .cases import Case, CaseFile, Expected, case_file_of, load_case_file
from .coverage import Coverage, CoverageCounter

NOTE_STATES = {True: "applies", False: "not_applicable", None: "unknown"}


@frozen
class Mismatch:
    """One expectation a case's run did not meet: what was expected, what happened, and the
    rule's explained outcome (None for a note)."""

    rule: str
    what: str  # "verdict", "reason", "fix" or "agreement" (compiled and interpreted verdicts differ)
    expected: str
    actual: str
    outcome: RuleOutcome | None = None


@frozen
class CaseResult:
    """A case, the expectations it did not meet (none: it passed), and its report with every
    rule explained."""

    case: Case
    mismatches: tuple[Mismatch, ...]
    checked: int  # how many rule and note verdicts the case checked
    report: Report

    @property
    def passed(self) -> bool:
        """Whether every expectation was met."""
        return not self.mismatches


@frozen
class TestRun:
    """Every case file run: the results in file order, the rule files no case file tests, and
    the coverage when asked for."""

    __test__ = False  # a record, not a pytest test class

    files: tuple[CaseFile, ...]
    results: tuple[CaseResult, ...]
    without_cases: tuple[str, ...] = ()  # rule files that have no case file
    coverage: Coverage | None = None

    @property
    def failed(self) -> tuple[CaseResult, ...]:
        """The cases that did not pass."""
        return tuple(r for r in self.results if not r.passed)


def discover(paths: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """The case files for ``paths`` (case files, rule files, folders searched recursively;
    default: the shipped rulesets) and the rule files found that have no case file."""
    targets = [Path(p) for p in paths] or [rulesets_dir()]
    cases: list[Path] = []
    lonely: list[Path] = []
    missing = [t for t in targets if not t.exists()]
    if missing:
        raise InputError(
            [Diagnostic("K100", "no such file or folder", file=str(t), help=_TARGETS_HELP) for t in missing]
        )
    for target in targets:
        if target.is_dir():
            cases += sorted(target.rglob("*.tests.toml"))
            lonely += [r for r in sorted(target.rglob("*.rules")) if not case_file_of(r).is_file()]
        elif target.suffix == ".rules" and case_file_of(target).is_file():
            cases.append(case_file_of(target))
        elif target.suffix == ".rules":
            lonely.append(target)
        else:  # a case file (any other file is read as one, and refused as TOML or by its keys)
            cases.append(target)
    return list(dict.fromkeys(map(_shown, cases))), list(dict.fromkeys(map(_shown, lonely)))


_TARGETS_HELP = "give case files (NAME.tests.toml), rule files (NAME.rules) or folders of them"


def _shown(path: Path) -> Path:
    """``path`` relative to the working folder when it is inside it (as reports name files)."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except (ValueError, OSError):
        return path


def run_tests(paths: Sequence[str | Path], vocabulary: Vocabulary, *, with_coverage: bool = False) -> TestRun:
    """Run every case of the case files ``paths`` lead to; InputError (or RulesError) when a
    case file, a rule file or an input file it names cannot be read."""
    found, lonely = discover(paths)
    files = _case_files(found, vocabulary)
    counter = CoverageCounter()
    results = tuple(result for file in files for result in _FileRunner(file, vocabulary, counter).run())
    untested = tuple(str(p) for p in lonely)
    coverage = None
    if with_coverage:
        rulesets = [r for f in files for r in f.rulesets] + [load_ruleset(p, vocabulary) for p in lonely]
        coverage = counter.coverage(rulesets)
    return TestRun(files, results, untested, coverage)


def _case_files(paths: Iterable[Path], vocabulary: Vocabulary) -> tuple[CaseFile, ...]:
    """Every case file read; InputError with the problems of all of them, not only the first."""
    files: list[CaseFile] = []
    problems: list[Diagnostic] = []
    for path in paths:
        try:
            files.append(load_case_file(path, vocabulary))
        except InputError as exc:
            problems += exc.diagnostics
    if problems:
        raise InputError(problems)
    return tuple(files)


class _FileRunner:
    """The cases of one file, with an engine per set of declared scenarios."""

    def __init__(self, file: CaseFile, vocabulary: Vocabulary, counter: CoverageCounter) -> None:
        self.file = file
        self.vocabulary = vocabulary
        self.counter = counter
        self.engines: dict[tuple[str, ...] | None, Engine] = {}

    def run(self) -> Iterable[CaseResult]:
        """Each case's result, in file order."""
        return [self.result(case) for case in self.file.cases]

    def engine(self, case: Case) -> Engine:
        """The engine of the case's declared scenarios (by default, as naming its rulesets declares)."""
        declared = case.scenarios if case.scenarios is not None else self.file.scenarios
        if declared not in self.engines:
            scenarios = (
                dict.fromkeys(declared, "in the case file")
                if declared is not None
                else declared_by_rulesets((r.ruleset for r in self.file.rulesets), "by the case file's rules ({})")
            )
            self.engines[declared] = Engine(self.file.rulesets, self.vocabulary, scenarios)
        return self.engines[declared]

    def result(self, case: Case) -> CaseResult:
        """Evaluate the case (compiled, and every rule explained) and check its expectations."""
        engine = self.engine(case)
        facts = case_facts(case, self.vocabulary)
        explained = engine.evaluate(facts, explain_all=True)
        mismatches = list(_disagreements(compiled_statuses(engine, facts), explained))
        expected = {e.rule: e for e in case.expected}
        checked = 0
        for outcome in explained.outcomes:
            want = expected.get(outcome.rule)
            if want is None and not case.others:
                continue
            checked += 1
            self.counter.count(outcome, named=want is not None)
            mismatches += _rule_mismatches(outcome, want) if want else _other_mismatch(outcome, case.others)
        for note in explained.notes:
            want = expected.get(note.rule)
            if want is not None:
                checked += 1
                mismatches += _note_mismatch(note, want)
        return CaseResult(case, tuple(mismatches), checked, explained)


def case_facts(case: Case, vocabulary: Vocabulary) -> Facts:
    """The case's facts: its policy and device files merged (as ``check`` merges them), its
    inline facts over them, the facts it unsets taken away."""
    inline = facts_from_mapping(case.facts, vocabulary, origin=case.file, path=(*case.path,), name=case.name)
    parts = [p.facts for path in case.policy_files for p in load_policies(path, vocabulary)]
    parts += [d.facts for path in case.device_files for d in load_devices(path, vocabulary)]
    if not parts:
        return inline
    read = merge_facts(parts, name=case.name)
    gone = set(case.unset) | set(inline.values)
    return Facts(
        {**{k: v for k, v in read.values.items() if k not in case.unset}, **inline.values},
        {**{k: v for k, v in read.origins.items() if k not in case.unset}, **inline.origins},
        tuple(c for c in read.conflicts if c.fact not in gone),
        name=case.name,
        profiles=read.profiles,
    )


def compiled_statuses(engine: Engine, facts: Facts) -> dict[tuple[str, str], Status]:
    """Every rule's verdict by the compiled functions alone, as ``check`` decides it (each rule
    that reads a per-policy fact decided per policy)."""
    values = engine.resolved(facts.table)
    views = [policy_view(values, p.table) for p in facts.profiles]
    return {
        (loaded.id, rule.id): Verdict(code).status
        for loaded in engine.rulesets
        for rule, code in zip(loaded.rules, engine.verdicts_per_policy(loaded, values, views)[0], strict=True)
    }


def _disagreements(compiled: Mapping[tuple[str, str], Status], explained: Report) -> Iterable[Mismatch]:
    """Rules whose compiled verdict is not the interpreter's (a bug in the engine, not the case)."""
    for outcome in explained.outcomes:
        fast = compiled[(outcome.ruleset, outcome.rule)]
        if fast is not outcome.status:
            yield Mismatch(
                outcome.rule, "agreement", f"compiled {fast.value}", f"interpreted {outcome.status.value}", outcome
            )


def _rule_mismatches(outcome: RuleOutcome, want: Expected) -> list[Mismatch]:
    if outcome.status.value not in want.verdicts:
        return [Mismatch(outcome.rule, "verdict", " or ".join(want.verdicts), outcome.status.value, outcome)]
    found = []
    if want.reason and not any(_about(c.fact, want.reason) for c in _decisive(outcome)):
        cited = ", ".join(dict.fromkeys(c.fact for c in _decisive(outcome))) or "none"
        found.append(Mismatch(outcome.rule, "reason", want.reason, cited, outcome))
    if want.fix and want.fix not in outcome.remediation:
        found.append(Mismatch(outcome.rule, "fix", want.fix, outcome.remediation or "no fix", outcome))
    return found


def _decisive(outcome: RuleOutcome) -> list:
    return [c for c in (*outcome.reasons, *outcome.applies_because) if c.decisive]


def _about(cited: str, fact: str) -> bool:
    """Whether a cited condition's fact is ``fact`` (a record field of it: ``device.volumes[1].x``)."""
    return cited == fact or cited.startswith(fact + "[")


def _other_mismatch(outcome: RuleOutcome, allowed: tuple[str, ...]) -> list[Mismatch]:
    if outcome.status.value in allowed:
        return []
    return [Mismatch(outcome.rule, "verdict", " or ".join(allowed), outcome.status.value, outcome)]


def _note_mismatch(note: NoteOutcome, want: Expected) -> list[Mismatch]:
    actual = NOTE_STATES[note.applies]
    return [] if actual in want.verdicts else [Mismatch(note.rule, "verdict", " or ".join(want.verdicts), actual)]


def rulesets_of(run: TestRun) -> tuple[LoadedRuleset, ...]:
    """Every ruleset the run's case files test, each once."""
    return tuple({r.path: r for f in run.files for r in f.rulesets}.values())
