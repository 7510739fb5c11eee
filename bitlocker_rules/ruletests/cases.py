"""Rule test case files (``<name>.tests.toml`` beside ``<name>.rules``): read, checked, resolved.

A case file is TOML an author writes by hand (docs/authoring.md, "Testing rules"): the rule
files it tests (default: the ``.rules`` file of the same stem beside it), and ``[[case]]``
tables, each with a name, facts (inline tables named by the vocabulary's namespaces, as
``policy.tpm_startup_pin = "Required"``, and/or Intune export and device files), the
expected verdict of each rule it names and, for the rules it does not name, the verdicts they
may have (``others``). A case may extend an earlier one: it inherits its facts, files,
scenarios, expectations and ``others``, and its own keys replace them one by one.

Every problem of a file is reported at once, each with the TOML path of the bad field and,
for a misspelled key, fact, rule id or verdict, the closest correct one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen

from ..engine import LoadedRuleset, load_ruleset
from ..errors import Diagnostic, InputError, ProblemList, RulesError, suggest
from ..facts import facts_from_mapping
from ..jsonpath import JsonPath
from ..outcome import Status
from ..reading import parse_toml
from ..vocabulary import Vocabulary

CASE_SUFFIX = ".tests.toml"
RULE_VERDICTS = tuple(s.value for s in Status)  # pass, fail, unknown, not_applicable
NOTE_VERDICTS = ("applies", "not_applicable", "unknown")  # a note applies, does not, or cannot tell
FILE_KEYS = ("rules", "scenarios", "case")
CASE_KEYS = ("name", "extends", "scenarios", "policy_files", "device_files", "unset", "expect", "others")
EXPECT_KEYS = ("verdict", "reason", "fix")


@frozen
class Expected:
    """What a case expects of one rule or note: its verdict (one of ``verdicts``) and,
    optionally, the fact of a decisive reason and words its fix contains."""

    rule: str
    verdicts: tuple[str, ...]
    reason: str = ""
    fix: str = ""
    note: bool = False


@frozen
class Case:
    """One test case, its ``extends`` already resolved: every fact, file and expectation it has.

    ``facts`` are the inline facts as written (fact name → TOML value), ``unset`` the facts
    taken away from an extended case; ``scenarios`` None declares what naming the case file's
    rulesets declares. ``others`` are the verdicts every rule not in ``expected`` may have
    (empty: those rules are not checked).
    """

    name: str
    file: str
    index: int  # its place among the file's [[case]] tables
    facts: Mapping[str, Any]
    unset: tuple[str, ...] = ()
    policy_files: tuple[str, ...] = ()
    device_files: tuple[str, ...] = ()
    scenarios: tuple[str, ...] | None = None
    expected: tuple[Expected, ...] = ()
    others: tuple[str, ...] = ()

    @property
    def path(self) -> JsonPath:
        """Where the case is in its file: ``$.case[3]``."""
        return ("case", self.index)


@frozen
class CaseFile:
    """A case file: the rulesets it tests, loaded, and its cases in file order."""

    path: str
    rulesets: tuple[LoadedRuleset, ...]
    cases: tuple[Case, ...]
    scenarios: tuple[str, ...] | None = None


def is_case_file(path: Path) -> bool:
    """Whether ``path`` names a case file (``*.tests.toml``)."""
    return path.name.endswith(CASE_SUFFIX)


def case_file_of(rules: Path) -> Path:
    """The case file beside a rule file: ``silent_enablement.rules`` → ``silent_enablement.tests.toml``."""
    return rules.with_name(rules.stem + CASE_SUFFIX)


def load_case_file(path: str | Path, vocabulary: Vocabulary) -> CaseFile:
    """Read and check a case file; InputError (or RulesError for its rule files) listing every problem."""
    path = Path(path)
    name = str(path)
    data = _toml(path, name)
    problems = ProblemList()  # past its limit counted: no "did you mean" search per unknown key
    _unknown_keys(data, FILE_KEYS, (), name, problems)
    before = len(problems)
    rulesets = _rulesets(data, path, vocabulary, problems)
    # A rule file that did not load has its own problems above; its rule ids cannot be checked.
    rules_read = len(problems) == before
    scenarios = _scenarios(data.get("scenarios"), ("scenarios",), name, vocabulary, problems)
    raw_cases = data.get("case", [])
    if not isinstance(raw_cases, list) or not all(isinstance(c, dict) for c in raw_cases):
        problems.append(Diagnostic("K103", "`case` must be [[case]] tables", file=name, path=("case",)))
        raw_cases = []
    elif not raw_cases:
        problems.append(Diagnostic("K104", "the file has no [[case]] table", file=name, help=_CASE_HELP))
    reader = _CaseReader(name, vocabulary, rulesets, problems, rules_read)
    cases = tuple(reader.case(raw, i) for i, raw in enumerate(raw_cases))
    if problems:
        raise problems.error()
    return CaseFile(name, rulesets, tuple(c for c in cases if c is not None), scenarios)


def _inherited(base: Case, own: Case, raw: Mapping[str, Any]) -> Case:
    """``own``, a case as written, over the case it extends: each key it gives replaces the
    inherited one (facts and expectations one by one)."""
    return attrs.evolve(
        own,
        facts={**{k: v for k, v in base.facts.items() if k not in own.unset}, **own.facts},
        # What the extended case took away stays away, unless this case gives it again.
        unset=tuple(dict.fromkeys([*(u for u in base.unset if u not in own.facts), *own.unset])),
        policy_files=own.policy_files or base.policy_files,
        device_files=own.device_files or base.device_files,
        scenarios=own.scenarios if "scenarios" in raw else base.scenarios,
        expected=tuple({e.rule: e for e in (*base.expected, *own.expected)}.values()),
        others=own.others if "others" in raw else base.others,
    )


_CASE_HELP = 'write [[case]] tables: a name, the facts (policy.x = …, device.y = …), expect = { RULE-ID = "pass" }'


def _toml(path: Path, name: str) -> dict[str, Any]:
    try:
        return parse_toml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Diagnostic("K101", f"cannot read the case file: {exc}", file=name)]) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Diagnostic("K102", f"not valid TOML: {exc}", file=name)]) from None


def _unknown_keys(
    table: Mapping[str, Any], allowed: Iterable[str], where: JsonPath, file: str, problems: ProblemList
) -> None:
    allowed = tuple(allowed)
    for key in table:
        if key not in allowed and not problems.counted():
            hint = suggest(key, allowed) or "expected one of: " + ", ".join(allowed)
            problems.append(Diagnostic("K105", f"unknown key `{key}`", file=file, path=(*where, key), help=hint))


def _strings(value: Any, where: JsonPath, file: str, problems: ProblemList) -> tuple[str, ...] | None:
    """A list of strings (one string is a list of one); None, with a problem, otherwise."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    problems.append(Diagnostic("K106", "expected a string or a list of strings", file=file, path=where))
    return None


def _rulesets(
    data: Mapping[str, Any], path: Path, vocabulary: Vocabulary, problems: ProblemList
) -> tuple[LoadedRuleset, ...]:
    """The rule files a case file tests: ``rules`` (shipped names, or paths beside it), or the
    ``.rules`` file of its stem beside it."""
    file = str(path)
    if "rules" not in data:
        beside = path.with_name(path.name.removesuffix(CASE_SUFFIX) + ".rules")
        if not beside.is_file():
            hint = 'name the rule files it tests: rules = ["NAME.rules"]'
            problems.append(
                Diagnostic("K107", f"no rule file {beside.name} beside the case file", file=file, help=hint)
            )
            return ()
        return _loaded([str(beside)], vocabulary, problems)
    given = _strings(data["rules"], ("rules",), file, problems) or ()
    loaded: list[LoadedRuleset] = []
    for i, target in enumerate(given):
        found = _loaded(
            [str(path.parent / target) if (path.parent / target).is_file() else target], vocabulary, problems
        )
        if not found:  # the rule file's own problems are above; this says where the case file names it
            problems.append(Diagnostic("K107", f"cannot load `{target}`", file=file, path=("rules", i)))
        loaded += found
    return tuple(loaded)


def _loaded(targets: Iterable[str], vocabulary: Vocabulary, problems: ProblemList) -> tuple[LoadedRuleset, ...]:
    """Each rule file loaded; the problems of those that do not load (located in the rule file)."""
    loaded = []
    for target in targets:
        try:
            loaded.append(load_ruleset(target, vocabulary))
        except RulesError as exc:
            problems.extend(exc.diagnostics)
    return tuple(loaded)


def _scenarios(
    value: Any, where: JsonPath, file: str, vocabulary: Vocabulary, problems: ProblemList
) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = _strings(value, where, file, problems)
    for i, name in enumerate(names or ()):
        if name not in vocabulary.scenarios:
            hint = suggest(name, vocabulary.scenarios) or "scenarios: " + ", ".join(vocabulary.scenarios)
            problems.append(Diagnostic("K108", f"unknown scenario `{name}`", file=file, path=(*where, i), help=hint))
    return names


class _CaseReader:
    """Reads the ``[[case]]`` tables of one file in order, each against the cases before it."""

    def __init__(
        self,
        file: str,
        vocabulary: Vocabulary,
        rulesets: tuple[LoadedRuleset, ...],
        problems: ProblemList,
        rules_read: bool = True,
    ) -> None:
        self.file = file
        # False when a rule file did not load: an expectation of one of its rules is not blamed
        # (one problem in the rule file, not one per case naming its rules).
        self.rules_read = rules_read
        self.vocabulary = vocabulary
        self.problems = problems
        self.namespaces = tuple(sorted({f.namespace for f in vocabulary.facts.values()}))
        self.rules = {r.id for loaded in rulesets for r in loaded.rules}
        self.notes = {r.id for loaded in rulesets for r in loaded.notes}
        self.by_name: dict[str, Case] = {}
        self.broken: set[str] = set()  # cases with problems: those extending them are not blamed for it

    def problem(self, code: str, message: str, where: JsonPath, hint: str | None = None) -> None:
        self.problems.append(Diagnostic(code, message, file=self.file, path=where, help=hint))

    def case(self, raw: Mapping[str, Any], index: int) -> Case | None:
        """The case at ``$.case[index]``, extends resolved; None (with problems) when it cannot be read."""
        where: JsonPath = ("case", index)
        before = len(self.problems)
        _unknown_keys(raw, (*CASE_KEYS, *self.namespaces), where, self.file, self.problems)
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            self.problem("K110", "a case needs a name (a non-empty string)", (*where, "name"))
            return None
        if name in self.by_name:
            self.problem("K111", f"two cases are called {name!r}", (*where, "name"), "give each case its own name")
        base = self.extended(raw.get("extends"), where)
        own = Case(
            name=name,
            file=self.file,
            index=index,
            facts=self.facts(raw, where),
            unset=self.unset(raw.get("unset", []), (*where, "unset")),
            policy_files=self.files(raw.get("policy_files"), (*where, "policy_files")),
            device_files=self.files(raw.get("device_files"), (*where, "device_files")),
            scenarios=_scenarios(
                raw.get("scenarios"), (*where, "scenarios"), self.file, self.vocabulary, self.problems
            ),
            expected=tuple(self.expectations(raw.get("expect", {}), (*where, "expect"))),
            others=self.verdicts(raw["others"], (*where, "others")) if "others" in raw else (),
        )
        if len(self.problems) > before:
            self.broken.add(name)
            return None
        case = own if base is None else _inherited(base, own, raw)
        self.by_name[name] = case
        return case

    def extended(self, name: Any, where: JsonPath) -> Case | None:
        if name is None or name in self.broken:
            return None
        if isinstance(name, str) and name in self.by_name:
            return self.by_name[name]
        hint = suggest(name, self.by_name) if isinstance(name, str) else None
        self.problem(
            "K112",
            f"`extends` names no earlier case: {name!r}",
            (*where, "extends"),
            hint or "a case extends a case written above it, by its name",
        )
        return None

    def facts(self, raw: Mapping[str, Any], where: JsonPath) -> dict[str, Any]:
        """The case's inline facts, each table checked against the vocabulary (names, values)."""
        found: dict[str, Any] = {}
        for namespace in self.namespaces:
            table = raw.get(namespace)
            if table is None:
                continue
            if not isinstance(table, dict):
                self.problem("K113", f"`{namespace}` must be a table of {namespace} facts", (*where, namespace))
                continue
            try:  # the vocabulary's own checks: unknown facts with "did you mean", values of the fact's type
                facts_from_mapping(
                    table,
                    self.vocabulary,
                    origin=self.file,
                    default_namespace=namespace,
                    allowed=(namespace,),
                    path=(*where, namespace),
                )
            except InputError as exc:
                self.problems.extend(exc.diagnostics)
            found.update({f"{namespace}.{key}": value for key, value in table.items()})
        return found

    def unset(self, value: Any, where: JsonPath) -> tuple[str, ...]:
        names = _strings(value, where, self.file, self.problems) or ()
        for i, name in enumerate(names):
            if self.vocabulary.fact(name) is None:
                self.problem("K114", f"unknown fact `{name}`", (*where, i), suggest(name, self.vocabulary.facts))
        return names

    def files(self, value: Any, where: JsonPath) -> tuple[str, ...]:
        if value is None:
            return ()
        names = _strings(value, where, self.file, self.problems) or ()
        folder = Path(self.file).parent
        for i, name in enumerate(names):
            if not (folder / name).is_file():
                self.problem("K115", f"no file {name} beside the case file", (*where, i))
        return tuple(str(folder / name) for name in names)

    def verdicts(self, value: Any, where: JsonPath, allowed: tuple[str, ...] = RULE_VERDICTS) -> tuple[str, ...]:
        """A verdict, or a list of verdicts any of which will do; () when one is not a verdict."""
        names = _strings(value, where, self.file, self.problems) or ()
        known = [
            self.verdict(name, allowed, (*where, i) if isinstance(value, list) else where)
            for i, name in enumerate(names)
        ]
        return names if all(known) else ()

    def verdict(self, name: Any, allowed: tuple[str, ...], where: JsonPath) -> bool:
        if isinstance(name, str) and name in allowed:
            return True
        hint = suggest(name, allowed) if isinstance(name, str) else None
        self.problem("K116", f"{name!r} is not a verdict", where, hint or "expected one of: " + ", ".join(allowed))
        return False

    def expectations(self, table: Any, where: JsonPath) -> list[Expected]:
        if not isinstance(table, dict):
            self.problem("K117", '`expect` must be a table: { RULE-ID = "verdict" }', where)
            return []
        return [e for rule, spec in table.items() if (e := self.expectation(rule, spec, (*where, rule))) is not None]

    def expectation(self, rule: str, spec: Any, where: JsonPath) -> Expected | None:
        note = rule in self.notes
        if rule not in self.rules and not note:
            if not self.rules_read:
                return None
            hint = suggest(rule, self.rules | self.notes) or "rules: " + ", ".join(sorted(self.rules))
            self.problem("K118", f"no rule or note `{rule}` in the rule files tested", where, hint)
            return None
        allowed: tuple[str, ...] = NOTE_VERDICTS if note else RULE_VERDICTS
        if isinstance(spec, (str, list)):
            verdicts = self.verdicts(spec, where, allowed)
            return Expected(rule, verdicts, note=note) if verdicts else None
        if not isinstance(spec, dict) or "verdict" not in spec:
            self.problem("K119", "expected a verdict, or a table { verdict = …, reason = …, fix = … }", where)
            return None
        _unknown_keys(spec, EXPECT_KEYS, where, self.file, self.problems)
        reason, fix = spec.get("reason", ""), spec.get("fix", "")
        if not isinstance(reason, str) or (reason and self.vocabulary.fact(reason) is None):
            close = suggest(reason, self.vocabulary.facts) if isinstance(reason, str) else None
            self.problem("K120", f"`reason` must name a fact: {reason!r}", (*where, "reason"), close)
            return None
        if not isinstance(fix, str):
            self.problem("K121", "`fix` must be a string: words the rule's fix contains", (*where, "fix"))
            return None
        verdicts = self.verdicts(spec["verdict"], (*where, "verdict"), allowed)
        return Expected(rule, verdicts, reason, fix, note) if verdicts else None
