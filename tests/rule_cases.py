"""Shared machinery for the per-ruleset tests (``tests/test_ruleset_<name>.py``) and the checks
of the shipped rulesets' case files (``tests/test_rule_tests_shipped.py``).

The verdicts each shipped rule must give live in its ruleset's case file,
``rulesets/<name>.tests.toml``, run by ``bitlocker-rules test`` (docs/authoring.md): a baseline
on which no rule fails, the cases that make each rule pass and the one that makes it fail, a
rule about a scenario out of it and in it, when each note applies. ``RulesetCases`` reads that
file, so a per-ruleset test module starts from the same baseline; ``text_problems`` holds the
checks of a rule's texts and citations that are not verdicts:

* the texts of every rule and note cite only ids of ``rulesets/requirements.toml``, cite with
  ``sources`` or ``related`` (not both), carry no working-paper words ("seed", "reference
  1.2", section numbers), say "Microsoft Entra" (the old name only in brackets after it), and
  a remediation that names a policy setting walks the admin center to it (``A > B``).

Every evaluation here also runs with ``explain_all=True``: the compiled verdict function and
the explaining interpreter must agree on every rule.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bitlocker_rules import Engine, Report, RuleOutcome, Status, Vocabulary
from bitlocker_rules import nodes as n
from bitlocker_rules.ruletests import CASE_SUFFIX, Case, load_case_file

Changes = Mapping[str, Any]

RULESETS = Path(__file__).resolve().parents[1] / "rulesets"
REQUIREMENTS = RULESETS / "requirements.toml"
DISPUTED = "the sources disagree: "
UNCONFIRMED = "not confirmed by the sources: "


def citable_ids() -> set[str]:
    """Every id ``rulesets/requirements.toml`` lists: requirements, causes and documents."""
    data = tomllib.loads(REQUIREMENTS.read_text(encoding="utf-8"))
    return {item["id"] for table in ("requirements", "causes", "documents") for item in data[table]}


class RulesetCases:
    """A ruleset, its case file (``rulesets/<name>.tests.toml``) and the baseline facts of it.

    ``engine`` is the engine a user gets with ``Engine.load([ruleset])``: naming the ruleset
    declares the scenarios of its header. ``undeclared`` holds the same rules with no scenario
    declared, so every scenario is inferred from the facts (or given by the input).
    """

    def __init__(self, ruleset: str) -> None:
        self.ruleset = ruleset
        self.engine = Engine.load([ruleset])
        (self.loaded,) = self.engine.rulesets
        self.undeclared = Engine([self.loaded])
        self.file = load_case_file(RULESETS / f"{ruleset}{CASE_SUFFIX}", self.engine.vocabulary)
        self.base = dict(self.case("baseline").facts)

    def case(self, name: str) -> Case:
        """The case called ``name`` in the ruleset's case file."""
        (found,) = [c for c in self.file.cases if c.name == name]
        return found

    def failing_case(self, rule: str) -> Case:
        """The (first) case that makes ``rule`` fail (``<rule> fails: …``)."""
        return next(c for c in self.file.cases if c.name.startswith(f"{rule} fails"))

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in self.loaded.rules]

    @property
    def note_ids(self) -> list[str]:
        return [r.id for r in self.loaded.notes]

    @property
    def unconfirmed(self) -> set[str]:
        """Rules that never pass (where they would, they are unknown with a caveat)."""
        return {r.id for r in self.loaded.rules if r.unconfirmed}

    def rule(self, rule_id: str) -> n.Rule:
        (found,) = [r for r in self.loaded.ruleset.rules if r.id == rule_id]
        return found

    def facts(self, changes: Changes | None = None, remove: Sequence[str] = ()) -> dict[str, Any]:
        values = {**self.base, **(changes or {})}
        for name in remove:
            values.pop(name, None)
        return values

    def evaluate(
        self, changes: Changes | None = None, remove: Sequence[str] = (), *, engine: Engine | None = None
    ) -> Report:
        return evaluated(engine or self.engine, self.facts(changes, remove))

    def failing_report(self, rule: str) -> Report:
        """The report on the facts of the case that makes ``rule`` fail."""
        return evaluated(self.engine, dict(self.failing_case(rule).facts))

    def status(
        self, rule: str, changes: Changes | None = None, remove: Sequence[str] = (), *, engine: Engine | None = None
    ) -> Status:
        return outcome(self.evaluate(changes, remove, engine=engine), rule).status

    def note(
        self, note: str, changes: Changes | None = None, remove: Sequence[str] = (), *, engine: Engine | None = None
    ) -> bool | None:
        (found,) = [o for o in self.evaluate(changes, remove, engine=engine).notes if o.rule == note]
        return found.applies


def evaluated(engine: Engine, values: Mapping[str, Any]) -> Report:
    """The report on ``values``; the compiled and interpreted verdicts must agree."""
    report = engine.evaluate(engine.facts(values))
    explained = engine.evaluate(engine.facts(values), explain_all=True)
    fast = {o.rule: o.status for o in report.outcomes}
    slow = {o.rule: o.status for o in explained.outcomes}
    assert fast == slow, f"compiled and interpreted verdicts differ for {values}"
    return report


def short(changes: Changes) -> str:
    """A variant as an assertion message: long values cut."""
    text = repr(dict(changes))
    return text if len(text) < 300 else text[:300] + "…"


def with_status(report: Report, status: Status) -> set[str]:
    return {o.rule for o in report.outcomes if o.status is status}


def failing(report: Report) -> set[str]:
    return with_status(report, Status.FAIL)


def unknown(report: Report) -> set[str]:
    return with_status(report, Status.UNKNOWN)


def outcome(report: Report, rule: str) -> RuleOutcome:
    (found,) = [o for o in report.outcomes if o.rule == rule]
    return found


def failed_labels(found: RuleOutcome) -> list[str]:
    """Labels of the requirements that did not hold (what a reviewer reads as the fault)."""
    return [c.label for c in found.reasons if c.status is Status.FAIL and c.role == "require"]


# --- texts ---------------------------------------------------------------------------------------

# A dotted number a rule text may carry: a TPM version ("TPM 1.2"), a Windows version
# ("10.0.17763") or an OS build with its revision ("17763.529"). Any other one ("5.3", "2.7")
# reads as a section number of a working paper.
_DOTTED = re.compile(r"(?<![\w.])(\d+(?:\.\d+)+)")
_ALLOWED_DOTTED = re.compile(r"^(?:10\.0\.\d+(?:\.\d+)?|\d{5}\.\d+)$")


def text_problems(rule: n.Rule, vocabulary: Vocabulary, known: set[str]) -> list[str]:
    """What is wrong with a rule's (or note's) texts and citations; empty when nothing is."""
    problems = []
    if bool(rule.encodes) == bool(rule.related):
        problems.append("cites with both `sources` and `related`" if rule.encodes else "cites nothing")
    problems += [
        f"cites {ref}, which rulesets/requirements.toml does not list"
        for ref in (*rule.encodes, *rule.related)
        if ref not in known
    ]
    texts = {
        "title": rule.title,
        "rationale": rule.rationale,
        "remediation": rule.remediation,
        "disputed": rule.disputed,
        "unconfirmed": rule.unconfirmed,
    }
    for name, text in texts.items():
        for word in re.findall(r"\b(seeds?|references?)\b", text, flags=re.IGNORECASE):
            problems.append(f"{name} says {word!r}")
        for match in _DOTTED.finditer(text):
            number = match.group(1)
            before = text[: match.start()].rstrip()
            if not (_ALLOWED_DOTTED.match(number) or before.endswith("TPM")):
                problems.append(f"{name} carries the section number {number}")
        for old in re.finditer(r"Azure AD|Azure Active Directory", text):
            # The old name may follow the new one in brackets: "Microsoft Entra ID (Azure AD)".
            if name in ("title", "remediation") or text[max(0, old.start() - 1)] != "(":
                problems.append(f"{name} says {old.group()!r} instead of Microsoft Entra")
    if rule.kind == "rule" and not rule.remediation:
        problems.append("has no remediation")
    if not rule.rationale:
        problems.append("has no rationale")
    settings = [f.label for f in vocabulary.facts.values() if f.name.startswith("policy.")]
    named = [label for label in settings if re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])", rule.remediation)]
    if named and " > " not in rule.remediation:
        problems.append(f"remediation names {max(named, key=len)!r} without the path to it in the admin center (A > B)")
    return problems
