"""A run of rule test cases (``bitlocker-rules test``) as text, JSON or JUnit XML, with its coverage.

The records (``ruletests.TestRun``, ``CaseResult``, ``Mismatch``, ``Coverage``) rank with the
renderers, which cannot import them: they are read by their attributes, typed ``Any``. A
failed case shows each expectation it missed (expected, then actual) and the rule's
explanation: the conditions that decided its verdict, each with the rule text that reads it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import escape_controls
from ..outcome import Condition, RuleOutcome, Status
from .masking import masked_report
from .wording import plural, status_tag

TEST_SCHEMA = "bitlocker-rules/test/1"
_WHAT = {
    "verdict": "verdict",
    "reason": "decisive reason (fact)",
    "fix": "fix",
    "agreement": "compiled and interpreted verdicts",
}


def render_test_run(run: Any, fmt: str) -> str:
    """The run in ``fmt``: ``text``, ``json`` or ``junit``."""
    if fmt == "json":
        return masked_report(json.dumps(test_run_to_dict(run), indent=2, ensure_ascii=False) + "\n")
    if fmt == "junit":
        return masked_report(_junit(run))
    return masked_report("\n".join(_text(run)) + "\n")


# --- text


def _text(run: Any) -> list[str]:
    lines: list[str] = []
    for result in run.failed:
        lines += _failed_case(result)
    for file in run.files:
        results = [r for r in run.results if r.case.file == file.path]
        failed = sum(1 for r in results if not r.passed)
        lines.append(f"{file.path}: {plural(len(results), 'case')}, {len(results) - failed} passed, {failed} failed")
    lines.append(_summary(run))
    if run.coverage is not None:
        lines += ["", *coverage_lines(run.coverage)]
    elif run.without_cases:
        lines.append("No case file: " + ", ".join(run.without_cases))
    return lines


def _summary(run: Any) -> str:
    failed = len(run.failed)
    verdict = "FAIL" if failed else "PASS"
    return f"{verdict}: {plural(len(run.results), 'case')}, {len(run.results) - failed} passed, {failed} failed"


def _failed_case(result: Any) -> list[str]:
    case = result.case
    lines = [f"FAIL {case.file} case {case.name!r}"]
    for mismatch in result.mismatches:
        lines.append(f"  {mismatch.rule}: {_WHAT[mismatch.what]}")
        lines.append(f"    expected: {mismatch.expected}")
        lines.append(f"    actual:   {mismatch.actual}")
        if mismatch.outcome is not None:
            lines += ["    " + line for line in explanation(mismatch.outcome)]
    return [*lines, ""]


def explanation(outcome: RuleOutcome) -> list[str]:
    """A rule's explained outcome: its verdict, where it is, the conditions that decided it."""
    lines = [f"{outcome.rule} {outcome.title} [{status_tag(outcome)}]"]
    if outcome.location:
        lines.append(f"  rule: {outcome.location}")
    if outcome.caveat:
        lines.append(f"  unknown because {outcome.caveat}")
    for condition in (*outcome.applies_because, *outcome.reasons):
        lines += _condition(condition)
    if outcome.status is Status.FAIL and outcome.remediation:
        lines.append(f"  fix: {outcome.remediation}")
    return lines


def _condition(condition: Condition) -> list[str]:
    mark = "" if condition.decisive else " (not decisive)"
    lines = [f"  - {condition.sentence()}{mark}"]
    if condition.text:
        where = f"  ({condition.location})" if condition.location else ""
        lines.append(f"      rule text: {condition.text}{where}")
    return lines


def coverage_lines(coverage: Any) -> list[str]:
    """Coverage per rule file and rule, what each condition never decided, the rules no case names."""
    lines = ["Coverage: a condition covers an outcome when a case saw it decide that outcome."]
    for file in coverage.files:
        lines.append(f"{file.file}: {_share(file)}")
        for rule in file.rules:
            untested = "" if rule.tested else "  (no case names it)"
            lines.append(f"  {rule.rule}: {_share(rule)}{untested}")
            for condition in rule.conditions:
                if condition.missed:
                    never = ", ".join(s.value for s in condition.missed)
                    lines.append(f"    {condition.clause} {condition.text}  ({condition.location}): never {never}")
    lines.append(f"Total: {_share(coverage)}")
    untested = coverage.untested
    if untested:
        lines.append(f"Rules no case names ({len(untested)}): " + ", ".join(r.rule for r in untested))
    return lines


def _share(part: Any) -> str:
    return f"{part.covered} of {part.total} condition outcomes ({part.percent:.1f}%)"


# --- JSON


def test_run_to_dict(run: Any) -> dict[str, Any]:
    """The run as JSON data (schema ``docs/schema/test-1.json``)."""
    failed = len(run.failed)
    return {
        "schema": TEST_SCHEMA,
        "passed": not failed,
        "summary": {"cases": len(run.results), "passed": len(run.results) - failed, "failed": failed},
        "cases": [_case_dict(r) for r in run.results],
        "without_case_file": list(run.without_cases),
        "coverage": _coverage_dict(run.coverage) if run.coverage is not None else None,
    }


def _case_dict(result: Any) -> dict[str, Any]:
    return {
        "file": result.case.file,
        "name": result.case.name,
        "passed": result.passed,
        "checked": result.checked,
        "mismatches": [
            {
                "rule": m.rule,
                "what": m.what,
                "expected": m.expected,
                "actual": m.actual,
                "explanation": explanation(m.outcome) if m.outcome is not None else [],
            }
            for m in result.mismatches
        ],
    }


def _coverage_dict(coverage: Any) -> dict[str, Any]:
    return {
        "covered": coverage.covered,
        "total": coverage.total,
        "percent": coverage.percent,
        "files": [
            {
                "file": f.file,
                "covered": f.covered,
                "total": f.total,
                "percent": f.percent,
                "rules": [_rule_dict(r) for r in f.rules],
            }
            for f in coverage.files
        ],
        "untested_rules": [r.rule for r in coverage.untested],
    }


def _rule_dict(rule: Any) -> dict[str, Any]:
    return {
        "ruleset": rule.ruleset,
        "rule": rule.rule,
        "tested": rule.tested,
        "covered": rule.covered,
        "total": rule.total,
        "percent": rule.percent,
        "conditions": [
            {
                "text": c.text,
                "clause": c.clause,
                "location": str(c.location) if c.location else None,
                "possible": _values(c.possible),
                "decided": _values(c.decided),
            }
            for c in rule.conditions
        ],
    }


def _values(statuses: Iterable[Status]) -> list[str]:
    return [s.value for s in statuses]


# --- JUnit XML


def _junit(run: Any) -> str:
    suites = ET.Element("testsuites", name="bitlocker-rules test", tests=str(len(run.results)))
    suites.set("failures", str(len(run.failed)))
    for file in run.files:
        results = [r for r in run.results if r.case.file == file.path]
        suites.append(_suite(file.path, results))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _suite(path: str, results: Sequence[Any]) -> ET.Element:
    failed = sum(1 for r in results if not r.passed)
    suite = ET.Element("testsuite", name=path, tests=str(len(results)), failures=str(failed), errors="0")
    for result in results:
        case = ET.SubElement(suite, "testcase", classname=path, name=escape_controls(result.case.name))
        if not result.passed:
            first = result.mismatches[0]
            failure = ET.SubElement(
                case, "failure", message=escape_controls(f"{first.rule}: expected {first.expected}, got {first.actual}")
            )
            failure.text = "\n".join(escape_controls(line) for line in _failed_case(result))
    return suite
