"""The terminal report: the verdict and its causes first, then the details, fitted to a width.

For one device it opens with the verdict, what the check is about (the scenarios), the
distinct causes of the failures (a setting or fact with its value, the rules it breaks, the
fix), what could not be decided grouped by what is missing, and the smallest policy change;
then the rules that fail or could not be decided, one row each and then in full. Passing
rules and rules that do not apply are counted, and listed only with ``verbose``. Every line
is wrapped to ``width`` columns: the command line gives the terminal's width, or
``DEFAULT_WIDTH`` when the report goes to a file or a pipe, so saved reports are stable.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import Any

from ..errors import escape_controls, redact
from ..outcome import Cause, Condition, Report, RuleOutcome, Status, Undecided
from .fleet_detail import fleet_scenarios, sorted_conflicts
from .masking import masked_report
from .wording import (
    citations,
    conflict_fix,
    device_causes,
    device_only,
    fleet_waiver_lines,
    hidden_rows,
    other_conflicts,
    plural,
    rules_broken,
    scenario_pending,
    shown_input,
    shown_outcomes,
    status_tag,
    value_from,
    verdict,
    waiver_lines,
)

DEFAULT_WIDTH = 100  # columns, when the report does not go to a terminal
_MIN_WIDTH = 60  # narrower terminals get this width: below it the tables cannot keep their columns apart
_COLOURS = {Status.PASS: "32", Status.FAIL: "31", Status.UNKNOWN: "33", Status.NOT_APPLICABLE: "2", Status.WAIVED: "35"}
_LABELS = {
    Status.PASS: "pass",
    Status.FAIL: "FAIL",
    Status.UNKNOWN: "unknown",
    Status.NOT_APPLICABLE: "n/a",
    Status.WAIVED: "waived",
}


def render_table(report: Report, *, colour: bool = False, verbose: bool = False, width: int | None = None) -> str:
    """The report for a terminal: verdict, scenarios, causes, unknowns, the fix, then the details.

    Lines are wrapped to ``width`` columns (``DEFAULT_WIDTH`` when None).
    """
    width = max(width or DEFAULT_WIDTH, _MIN_WIDTH)
    sections = [
        _headline(report, colour, width),
        _scenarios(report, width),
        _causes(report, width),
        _undecided(report.undecided(), width),
        _the_fix(report, width),
        _waivers(report, width),
        _rules(report, colour, verbose, width),
        *(_details(o, report, width) for o in _explained(report, verbose)),
        _conflicts(report, width),
        _notes(report, width),
    ]
    return masked_report("\n".join(line for section in sections for line in section) + "\n")


def _wrap(text: str, width: int, indent: str = "", hanging: str | None = None) -> list[str]:
    """``text`` as lines of at most ``width`` columns. Only a word longer than a whole line is
    broken (a JSON path in a narrow terminal); hyphenated words stay whole.

    Masked before it is wrapped: a recovery password split over two lines would escape the mask;
    control characters are escaped first too, so the lines keep their width on screen.
    """
    lines = textwrap.wrap(
        escape_controls(redact(text)),
        width,
        initial_indent=indent,
        subsequent_indent=indent if hanging is None else hanging,
        break_on_hyphens=False,
    )
    return lines or [indent.rstrip()]


def _paint(text: str, status: Status, colour: bool) -> str:
    return f"\x1b[{_COLOURS[status]}m{text}\x1b[0m" if colour else text


def _headline(report: Report, colour: bool, width: int) -> list[str]:
    """What was checked, then the verdict in one sentence."""
    word, sentence = verdict(report)
    painted = _paint(word, Status.FAIL if word == "FAIL" else Status.PASS, colour)
    lines = _wrap(f"{word} — {sentence}", width)
    lines[0] = lines[0].replace(word, painted, 1)
    return [*_wrap(f"BitLocker rules for {report.subject or 'the given facts'}", width), "", *lines]


def _scenarios(report: Report, width: int) -> list[str]:
    """What the check is about: each scenario, whether it holds and how that was decided."""
    shown = report.relevant_scenarios()
    if not shown:
        return []
    lines = ["", "What this check is about:"]
    for scenario in shown:
        text = scenario.sentence()
        pending = scenario_pending(report, scenario)
        lines += _wrap(text + (f". {pending[0].upper()}{pending[1:]}" if pending else ""), width, "  - ", "    ")
    return lines


def _causes(report: Report, width: int) -> list[str]:
    """Each distinct cause, worst first: the value at fault, the rules it breaks and the fix."""
    causes = report.causes()
    if not causes:
        return []
    lines = ["", "Causes, worst first:"]
    for number, cause in enumerate(causes, 1):
        lines += ["", *_cause(number, cause, report, width)]
    return lines


def _cause(number: int, cause: Cause, report: Report, width: int) -> list[str]:
    """One cause: its value (or each policy's), the rules with what each needs, fix, events, source."""
    mark = f"{number:>2}. "
    pad = " " * len(mark)
    if cause.kind == "conflict":
        lines = _wrap(f"{cause.label} ({cause.fact}) is in conflict between policies:", width, mark, pad)
        for source, _, shown in cause.values:
            lines += _wrap(f"{source} sets {shown}", width, pad + "  ", pad + "    ")
    else:
        lines = _wrap(cause.sentence(), width, mark, pad)
    lines.append(f"{pad}{rules_broken(cause)}:")
    rule_width = max((len(r.rule) for r in cause.rules), default=0)
    for ref in cause.rules:
        head = f"{pad}  {ref.rule:<{rule_width}}  {ref.severity:<7}  "
        needs = f" (needs {ref.required})" if ref.required else ""
        lines += _wrap(f"{ref.title}{needs}", width, head, " " * len(head))
    fixes = ([conflict_fix(cause)] if cause.kind == "conflict" else []) + list(cause.fixes)
    for i, fix in enumerate(fixes):
        lines += _wrap(fix, width, pad + ("fix: " if i == 0 else "     "), pad + "     ")
    if cause.events:
        lines.append(f"{pad}events: {', '.join(str(e) for e in cause.events)}")
    source = value_from(cause.origins, report.inputs) if cause.kind != "conflict" else ""
    if source:
        lines += _wrap(f"value from: {source}", width, pad, pad + "  ")
    return lines


def _undecided(groups: Sequence[Undecided], width: int) -> list[str]:
    """The rules that could not be decided, grouped by the facts they miss (or their caveat)."""
    if not groups:
        return []
    total = sum(len(g.rules) for g in groups)
    lines = ["", f"Not known ({plural(total, 'rule')} could not be decided):"]
    for group in groups:
        if group.facts:
            named = ", ".join(f"{label} ({fact})" for fact, label in group.facts)
            reason = f"{named} {'is' if len(group.facts) == 1 else 'are'} not known"
        else:
            reason = group.caveat[:1].upper() + group.caveat[1:].rstrip(".")  # a colon follows
        lines += _wrap(f"{reason}:", width, "  - ", "    ")
        for ref in group.rules:
            lines += _wrap(f"{ref.rule} {ref.title}", width, "      ", "        ")
    return lines


def _the_fix(report: Report, width: int) -> list[str]:
    """The smallest policy change, the device prerequisites, and what would only turn a rule off."""
    lines = []
    if report.suggested_changes:
        lines += ["", "Smallest policy change that makes the failing rules pass:"]
        for change in report.suggested_changes:
            lines += _wrap(change.sentence(), width, "  - ", "    ")
    numbers, others = device_only(report)
    if numbers:  # already shown as causes: say which, rather than repeat them
        lines += ["", *_wrap(device_causes(numbers), width)]
    if others:
        lines += ["", "Device prerequisites (no policy setting can fix these):"]
        for item in others:
            lines += _wrap(item, width, "  - ", "    ")
    if report.turn_off_changes:
        lines += ["", "Not a fix: changes that would only turn a rule off (it would no longer apply):"]
        for turn_off in report.turn_off_changes:
            lines += _wrap(turn_off.sentence(), width, "  - ", "    ")
    return lines


def _explained(report: Report, verbose: bool) -> list[RuleOutcome]:
    """The rules explained in full: those listed, when there is something to say about them."""
    open_ = (Status.FAIL, Status.UNKNOWN, Status.WAIVED)
    return [o for o in shown_outcomes(report, verbose) if o.status in open_ or o.reasons]


def _waivers(report: Report, width: int) -> list[str]:
    """The failures waivers accept (each with its waiver), and the warnings about waivers."""
    said = waiver_lines(report)
    if not said:
        return []
    lines = ["", "Waivers (failures accepted as risks; each rule's reasons are below):"]
    for line in said:
        lines += _wrap(line, width, "  - ", "    ")
    return lines


def _rules(report: Report, colour: bool, verbose: bool, width: int) -> list[str]:
    """One row per rule listed (failing and unknown, or all), and what was left out."""
    shown = shown_outcomes(report, verbose)
    heading = "Every rule:" if verbose else "Rules that fail or could not be decided:"
    lines = ["", heading] if shown else []
    if shown:
        rows = [
            [_paint(_LABELS[o.status], o.status, colour), o.rule, o.severity, o.title, o.short_reason()] for o in shown
        ]
        lines.append(_fit(rows, ["status", "rule", "severity", "title", "reason"], width, flexible=(3, 4)))
    hidden = hidden_rows(report, verbose)
    if hidden:
        lines += ["", *_wrap(hidden, width)]
    return lines


def _fit(rows: list[list[str]], headers: list[str], width: int, flexible: tuple[int, int]) -> str:
    """A table no wider than ``width``: the two ``flexible`` columns wrap, sharing the room so
    that the table has the fewest lines.

    Cells are masked and escaped before they are wrapped, as in ``_wrap`` (the status column's
    colour codes are the renderer's own and stay).
    """
    rows = [[escape_controls(redact(cell), keep_colour=True) for cell in row] for row in rows]
    # tabulate pads a header by two columns at least (its MIN_PADDING)
    natural = [
        max([len(h) + 2] + [max((len(line) for line in _plain(row[i]).splitlines()), default=0) for row in rows])
        for i, h in enumerate(headers)
    ]
    room = width - 2 * (len(headers) - 1) - sum(w for i, w in enumerate(natural) if i not in flexible)
    first, second = flexible
    limits = _split(
        room,
        [_plain(row[first]) for row in rows],
        [_plain(row[second]) for row in rows],
        natural[first],
        natural[second],
    )
    maxwidths: list[int | None] = [None] * len(headers)
    for i, limit in zip(flexible, limits):
        maxwidths[i] = limit if limit < natural[i] else None
    from tabulate import tabulate  # noqa: PLC0415 - its import costs a passing device's start-up ~15 ms

    return tabulate(
        rows,
        headers=headers,
        tablefmt="simple",
        disable_numparse=True,
        maxcolwidths=maxwidths if any(maxwidths) else None,
    )


def _split(
    room: int, firsts: Sequence[str], seconds: Sequence[str], first_wants: int, second_wants: int, least: int = 12
) -> tuple[int, int]:
    """The widths of two wrapping columns within ``room``: the split that gives the fewest lines
    (each row as tall as its taller cell); on a tie, the wider first column."""
    if first_wants + second_wants <= room:
        return first_wants, second_wants
    best: tuple[int, int, int] | None = None  # (lines, -first width, first width)
    first_cells, second_cells = [_Cell(text) for text in firsts], [_Cell(text) for text in seconds]
    for left in range(max(least, room - second_wants), min(first_wants, room - least) + 1):
        lines = sum(max(a.height(left), b.height(room - left)) for a, b in zip(first_cells, second_cells))
        if best is None or (lines, -left) < best[:2]:
            best = (lines, -left, left)
    left = best[2] if best else max(least, room // 2)
    return left, max(least, room - left)


class _Cell:
    """A cell's text, split into textwrap's chunks once: ``_split`` asks its height at many widths."""

    _wrapper = textwrap.TextWrapper()

    def __init__(self, text: str) -> None:
        self.chunks = self._wrapper._split_chunks(text) if text else []

    def height(self, width: int) -> int:
        """How many lines the text takes wrapped to ``width`` (as ``textwrap.wrap``, so as tabulate wraps a cell)."""
        if not self.chunks:
            return 1
        self._wrapper.width = width
        return max(1, len(self._wrapper._wrap_chunks(list(self.chunks))))


def _plain(text: str) -> str:
    """``text`` without colour codes, to measure it."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _details(outcome: RuleOutcome, report: Report, width: int) -> list[str]:
    """One rule in full: what it encodes, the conditions that decided it, the fix and the events."""
    lines = ["", *_wrap(f"{outcome.rule} {outcome.title} [{status_tag(outcome)}]", width, "", "  ")]
    for cited in citations(outcome, report):
        lines += _wrap(cited, width, "  ", "    ")
    if outcome.location:
        lines.append(f"  rule: {outcome.location}")
    if outcome.caveat:
        lines += _wrap(f"unknown because {outcome.caveat}", width, "  ", "    ")
    for condition in outcome.reasons:
        lines += _condition(condition, width)
    if outcome.waiver is not None:
        lines += _wrap(outcome.waiver.sentence(), width, "  ", "    ")
    if outcome.status in (Status.FAIL, Status.WAIVED) and outcome.remediation:
        lines += _wrap(f"fix: {outcome.remediation}", width, "  ", "       ")
    if outcome.events:
        lines.append(f"  events: {', '.join(str(e) for e in outcome.events)}")
    return lines


def _condition(condition: Condition, width: int) -> list[str]:
    """A deciding condition as a sentence, with the rule text that reads it."""
    lines = _wrap(condition.sentence(), width, "  - ", "    ")
    if condition.text:
        where = f"  ({condition.location})" if condition.location else ""
        lines += _wrap(f"rule text: {condition.text}{where}", width, "      ", "        ")
    return lines


def _conflicts(report: Report, width: int) -> list[str]:
    """The settings the policies disagree on that no cause shows: each with its fact, then every
    policy's value."""
    others = other_conflicts(report)
    if not others:
        return []
    lines = ["", "Other settings in conflict (no rule checked reads them):"]
    for conflict in others:
        lines += _wrap(f"{conflict.label} ({conflict.fact}):", width, "  - ", "    ")
        for source, _, shown in conflict.values:
            lines += _wrap(f"{source}: {shown}", width, "      ", "        ")
    return lines


def _notes(report: Report, width: int) -> list[str]:
    """The notes that apply or may apply."""
    applicable = [note for note in report.notes if note.applies is not False]
    if not applicable:
        return []
    lines = ["", "Notes:"]
    for note in applicable:
        lines += _wrap(f"{note.rule} {note.title}: {note.rationale}", width, "  - ", "    ")
    return lines


def render_fleet_table(summary: Any, *, bad_row_limit: int = 20) -> str:
    """A fleet summary: per rule, how many devices pass, fail, are unknown or not applicable."""
    # Text cells masked before tabulate lays them out: a cell of several lines is set beside the
    # other columns, so a password split over its lines would escape the mask of the whole table.
    rows = [
        [
            redact(t.ruleset),
            redact(t.rule),
            t.severity,
            t.counts["pass"],
            t.counts["fail"],
            t.counts["unknown"],
            t.counts["not_applicable"],
            *([t.counts["waived"]] if summary.waivers_given else []),
            redact(t.title),
        ]
        for t in summary.rules
    ]
    devices = f"{summary.devices} device{'' if summary.devices == 1 else 's'}"
    parts = [
        f"Fleet: {devices} evaluated, {summary.failed_devices} failing at least one rule"
        + (f", {summary.bad_row_count} rows not read" if summary.bad_rows else ""),
        *_unscoped_line(summary.unscoped_devices),
        "",
    ]
    scenarios = fleet_scenarios(summary)
    if scenarios:
        parts += ["What the checks are about (declared, or inferred device by device):"]
        parts += [f"  - {s.sentence()}" for s in scenarios] + [""]
    from tabulate import tabulate  # noqa: PLC0415 - see _fit

    waived = ["waived"] if summary.waivers_given else []
    headers = ["ruleset", "rule", "severity", "pass", "fail", "unknown", "n/a", *waived, "title"]
    parts.append(tabulate(rows, headers=headers))
    parts += _fleet_waivers(summary)
    conflicts = sorted_conflicts(summary.conflicts)
    if conflicts:
        parts += ["", "Policy conflicts (these settings are unknown on the devices that get them):"]
        parts += [f"  {c.devices:>7}  {shown_input(c.record.sentence())}" for c in conflicts]
    reasons = summary.top_reasons()
    if reasons:
        parts += ["", "Most common failure reasons:"]
        parts += [f"  {count:>7}  {shown_input(reason)}" for reason, count in reasons]
    if summary.bad_rows:
        parts += ["", "Rows that could not be read:"]
        listed = summary.bad_rows[:bad_row_limit]
        parts += [f"  row {bad.number}: {shown_input(bad.message, 1000)}" for bad in listed]
        if summary.bad_row_count > len(listed):
            parts.append(f"  … and {summary.bad_row_count - len(listed)} more")
    return masked_report("\n".join(parts) + "\n")


def _fleet_waivers(summary: Any) -> list[str]:
    """How many failures each waiver waived, and the warnings about waivers."""
    if not summary.waivers_given:
        return []
    lines = ["", "Waivers (failures accepted, counted as waived above):"]
    return lines + [f"  - {shown_input(line)}" for line in fleet_waiver_lines(summary)]


def _unscoped_line(devices: int) -> list[str]:
    """The devices their assignments give no BitLocker policy (checked on their own facts alone)."""
    if not devices:
        return []
    return [
        f"{devices} device{'' if devices == 1 else 's'} in no BitLocker policy's scope (no policy is assigned to them)"
    ]
