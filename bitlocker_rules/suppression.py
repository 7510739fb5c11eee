"""Inline suppression of lint findings: ``# bitlocker-rules: ignore[CHECK, …] reason: WHY``.

A suppression comment at the end of a line applies to that line; on a line of its own, to the
next line that holds rule text. It hides the findings of the checks it names (by name, such as
``unused-definition``, or code, ``L106``) located on that line. A reason is required: a
suppression without one hides nothing and is itself a finding (L110, as is one that names an
unknown check), and a suppression that hid nothing is reported as unused (L111).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from attrs import frozen

from .analysis.results import CODES, Finding
from .errors import RulesError, suggest
from .source import Location, SourceText, Span
from .syntax import lexemes

_DIRECTIVE = re.compile(r"#\s*bitlocker-rules\s*:")
_IGNORE = re.compile(r"#\s*bitlocker-rules\s*:\s*ignore\[(?P<checks>[^\]]*)\](?P<rest>.*)$")
_REASON = re.compile(r"^\s*reason\s*:\s*(?P<reason>.*?)\s*$")
_UNSUPPRESSIBLE = {"L108", "L110", "L111"}  # lint's own state and the suppressions' findings


@frozen
class Suppression:
    """One well-formed suppression: the checks it hides on ``line`` of ``file``, and why."""

    file: str
    line: int
    checks: tuple[str, ...]
    reason: str
    place: Location


def suppressions(source: SourceText) -> tuple[list[Suppression], list[Finding]]:
    """The suppressions written in ``source``, and a finding for each malformed one."""
    try:
        tokens = lexemes(source.text)
    except RulesError:  # text that does not lex does not load either: lint reports that
        return [], []
    code_lines = sorted({source.position(t.span.start)[0] for t in tokens if t.kind != "COMMENT"})
    found: list[Suppression] = []
    problems: list[Finding] = []
    for token in tokens:
        if token.kind == "COMMENT" and _DIRECTIVE.match(token.text):
            made = _suppression(source, token.text.rstrip(), token.span, code_lines)
            if isinstance(made, Suppression):
                found.append(made)
            else:
                problems.append(made)
    return found, problems


def _suppression(source: SourceText, text: str, span: Span, code_lines: Sequence[int]) -> Suppression | Finding:
    place = source.location(Span(span.start, span.start + len(text)))
    ignore = _IGNORE.match(text)
    if ignore is None:
        return _bad(place, "a `bitlocker-rules:` comment must read `ignore[CHECK] reason: WHY`")
    checks = tuple(c.strip() for c in ignore["checks"].split(",") if c.strip())
    unknown = [c for c in checks if not _known(c)]
    if not checks or unknown:
        hint = suggest(unknown[0], [name for name, _, _ in CODES.values()]) if unknown else None
        what = f"no check `{unknown[0]}`" if unknown else "a suppression must name the checks it hides"
        return _bad(place, what + (f"; {hint}" if hint else ""))
    reason = _REASON.match(ignore["rest"])
    if reason is None or not reason["reason"]:
        return _bad(place, f"suppression of {', '.join(checks)} gives no reason: add `reason: …` after it")
    line = _applies_to(place.start_line, source, span, code_lines)
    return Suppression(source.name, line, checks, reason["reason"], place)


def _known(check: str) -> bool:
    return any(check in (code, name) for code, (name, _, _) in CODES.items() if code not in _UNSUPPRESSIBLE)


def _applies_to(line: int, source: SourceText, span: Span, code_lines: Sequence[int]) -> int:
    """The comment's own line when code comes before it there, else the next line with code."""
    if source.line_text(line)[: source.position(span.start)[1] - 1].strip():
        return line
    return next((c for c in code_lines if c > line), line)


def _bad(place: Location, message: str) -> Finding:
    return Finding("L110", "warning", message, (), (place,))


def apply_suppressions(findings: Iterable[Finding], sources: Mapping[str, SourceText]) -> list[Finding]:
    """``findings`` without those a suppression in ``sources`` (by file name) hides, with a
    finding for each malformed suppression and each that hid nothing."""
    written: list[Suppression] = []
    out: list[Finding] = []
    for source in sources.values():
        found, problems = suppressions(source)
        written += found
        out += problems
    used: set[int] = set()
    for finding in findings:
        hiding = [i for i, s in enumerate(written) if _hides(s, finding)]
        used.update(hiding)
        if not hiding:
            out.append(finding)
    out += [_unused(s) for i, s in enumerate(written) if i not in used]
    return out


def _hides(suppression: Suppression, finding: Finding) -> bool:
    if finding.code in _UNSUPPRESSIBLE or not ({finding.code, finding.name} & set(suppression.checks)):
        return False
    return any(loc.file == suppression.file and loc.start_line == suppression.line for loc in finding.locations)


def _unused(suppression: Suppression) -> Finding:
    checks = ", ".join(suppression.checks)
    return Finding(
        "L111",
        "warning",
        f"unused suppression: no {checks} finding on line {suppression.line}",
        (),
        (suppression.place,),
    )
