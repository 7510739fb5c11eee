"""The phrases every device report shares, as plain text: the verdict, scenarios, citations.

The table, Markdown and HTML renderers say the same things in the same words; each escapes
the text for its own format. Nothing here reads the internal status names to the reader:
a rule that is ``not_applicable`` "does not apply".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ..errors import clip, escape_controls
from ..outcome import (
    Cause,
    ConflictRecord,
    InputRecord,
    Origins,
    Report,
    RuleOutcome,
    ScenarioRecord,
    Status,
    ValueOrigin,
)

STATUS_WORDS = {
    Status.PASS: "pass",
    Status.FAIL: "fail",
    Status.UNKNOWN: "unknown",
    Status.NOT_APPLICABLE: "does not apply",
    Status.WAIVED: "waived",
}


def shown_input(text: str, limit: int = 300) -> str:
    r"""Text that came from an input (a device name, a value, a problem with a fleet row) as a
    report shows it: control characters escaped (ESC as ``\u001b``), so it cannot drive a terminal,
    and shortened to about ``limit`` characters."""
    return escape_controls(clip(text, limit))


def plural(count: int, word: str, many: str = "") -> str:
    """``1 rule``, ``3 rules``; ``many`` for an irregular plural."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def verdict(report: Report) -> tuple[str, str]:
    """The verdict word (``FAIL`` or ``PASS``) and the sentence that follows it.

    ``10 rules fail; 5 causes. 19 unknown, 17 pass, 30 do not apply.`` Settings in conflict
    are counted apart from the causes of failures: they leave rules unknown, not failed.
    """
    causes = report.causes()
    conflicts = sum(1 for c in causes if c.kind == "conflict")
    failed = len(report.failed)
    if failed:
        head = (
            f"{plural(failed, 'rule')} {'fails' if failed == 1 else 'fail'}; {plural(len(causes) - conflicts, 'cause')}"
        )
    else:
        head = "no rule fails"
    if conflicts:
        head += f"; {plural(conflicts, 'setting')} in conflict between policies"
    return ("FAIL" if failed else "PASS"), f"{head}. {counts(report)}"


def counts(report: Report) -> str:
    """``19 unknown, 17 pass, 30 do not apply.`` (failures are in the verdict; zeros are left out)."""
    parts = []
    for status in (Status.WAIVED, Status.UNKNOWN, Status.PASS, Status.NOT_APPLICABLE):
        n = report.count(status)
        if n:
            word = ("does not apply" if n == 1 else "do not apply") if status is Status.NOT_APPLICABLE else status.value
            parts.append(f"{n} {word}")
    return (", ".join(parts) + ".") if parts else f"{plural(len(report.outcomes), 'rule')} checked."


def scenario_pending(report: Report, scenario: ScenarioRecord) -> str:
    """For a scenario out of scope: how many of its rules were not applied; for one that is not
    known: which rules were not evaluated, and how to declare it."""
    if scenario.holds is False:
        off = [o for o in report.outcomes if scenario.name in o.scenarios and o.status is Status.NOT_APPLICABLE]
        return f"{plural(len(off), 'rule')} about it {'was' if len(off) == 1 else 'were'} not applied." if off else ""
    rules = report.not_evaluated(scenario.name)
    if not rules:
        return ""
    ids = ", ".join(o.rule for o in rules)
    return (
        f"{plural(len(rules), 'rule')} about it {'was' if len(rules) == 1 else 'were'} not evaluated "
        f"({ids}); if the check is about it, declare it with --scenario {scenario.name}."
    )


def citations(outcome: RuleOutcome, report: Report) -> list[str]:
    """What the rule encodes (``encodes S9: title (document)``) and what it only advises on."""
    return [f"encodes {report.citation(ref).sentence()}" for ref in outcome.encodes] + [
        f"advice about {report.citation(ref).sentence()}" for ref in outcome.related
    ]


def status_tag(outcome: RuleOutcome) -> str:
    """``fail, error`` or ``unknown, warning, advice``: the verdict, severity and kind of a rule."""
    return ", ".join([STATUS_WORDS[outcome.status], outcome.severity] + (["advice"] if outcome.advice else []))


def value_from(origins: Origins, inputs: Sequence[InputRecord]) -> str:
    """Where a value came from, by file: ``examples/device-legacy.json $.facts.os_version``."""
    return "; ".join(o.text() for o in by_file(origins, inputs))


def by_file(origins: Origins, inputs: Sequence[InputRecord]) -> list[ValueOrigin]:
    """``origins`` with each input named by its file, each once.

    An origin names the input (``device 'NAME' (id)``); the file the input was read from says
    more to a reviewer, who can open it. Inputs not read from a file keep their names.
    """
    files = {i.name: i.file for i in inputs}
    return list(
        dict.fromkeys(
            attrs.evolve(o, input=files[o.input]) if o.path is not None and o.input in files else o for o in origins
        )
    )


def rules_broken(cause: Cause) -> str:
    """``breaks 4 rules`` or, for a setting in conflict, ``leaves 2 rules unknown``."""
    if cause.kind == "conflict":
        return f"leaves {plural(len(cause.rules), 'rule')} unknown"
    return f"breaks {plural(len(cause.rules), 'rule')}"


def conflict_fix(cause: Cause) -> str:
    """The first step for a setting in conflict: one value in every policy."""
    return f"Give {cause.label} the same value in every assigned policy."


def hidden_rows(report: Report, verbose: bool) -> str:
    """What the rules table leaves out unless ``--verbose``: passing rules, rules that do not
    apply, and rules not evaluated because their scenario is not known."""
    if verbose:
        return ""
    passed, na = report.count(Status.PASS), report.count(Status.NOT_APPLICABLE)
    pending = sum(1 for o in report.outcomes if o.pending_scenarios)
    parts = [
        f"{plural(passed, 'rule')} that {'passes' if passed == 1 else 'pass'}" if passed else "",
        f"{plural(na, 'rule')} that {'does' if na == 1 else 'do'} not apply" if na else "",
        f"{plural(pending, 'rule')} not evaluated (scenario not known)" if pending else "",
    ]
    parts = [p for p in parts if p]
    if not parts:
        return ""
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Not listed: {listed}; --verbose lists every rule."


def shown_outcomes(report: Report, verbose: bool) -> list[RuleOutcome]:
    """The rules a report lists one by one: those that fail or could not be decided (not the
    ones whose scenario is not known), or every rule with ``verbose``."""
    if verbose:
        return list(report.outcomes)
    return [
        o
        for o in report.outcomes
        if o.status in (Status.FAIL, Status.WAIVED) or (o.status is Status.UNKNOWN and not o.pending_scenarios)
    ]


def fleet_waiver_lines(summary: Any) -> list[str]:
    """What a fleet report says of its waivers (a ``fleet.FleetSummary``, read by its attributes):
    how many failures each waived, then each warning; nothing when no waivers file was given."""
    if not summary.waivers_given:
        return []
    lines = [f"{waiver} waived {plural(n, 'failure')}" for waiver, n in sorted(summary.waived_by.items())]
    return lines + [f"warning: {n.sentence()}" for n in summary.waiver_notices]


def waiver_lines(report: Report) -> list[str]:
    """What a report says of its waivers: each waived rule with its waiver, then each warning
    (a waiver expired, or waived nothing); nothing when no waivers file was given."""
    lines = [f"{o.rule} {o.title}: {o.waiver.sentence()}" for o in report.waived if o.waiver is not None]
    return lines + [f"warning: {n.sentence()}" for n in report.waiver_notices]


def device_only(report: Report) -> tuple[list[int], list[str]]:
    """The numbers (from 1, in ``report.causes()`` order) of the causes only a device change
    can fix, and the device prerequisites none of those causes already shows.

    A prerequisite starts with its rule id (``ER-03 The TPM is ready for use: …``); a cause
    whose every rule is a prerequisite is one no policy setting can fix.
    """
    prerequisites = {item.split(" ", 1)[0]: item for item in report.device_prerequisites}
    numbers = [
        i
        for i, cause in enumerate(report.causes(), 1)
        if cause.kind != "conflict" and all(r.rule in prerequisites for r in cause.rules)
    ]
    shown = {r.rule for i, cause in enumerate(report.causes(), 1) if i in numbers for r in cause.rules}
    return numbers, [item for rule, item in prerequisites.items() if rule not in shown]


def device_causes(numbers: Sequence[int]) -> str:
    """``Causes 1, 2 and 5 above are device prerequisites: …``, for the numbers ``device_only`` gives."""
    one = len(numbers) == 1
    listed = str(numbers[0]) if one else ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"
    what = "is a device prerequisite" if one else "are device prerequisites"
    return (
        f"{'Cause' if one else 'Causes'} {listed} above {what}: no policy setting can fix "
        f"{'it' if one else 'them'}; the device must change."
    )


def other_conflicts(report: Report) -> list[ConflictRecord]:
    """The settings in conflict that no cause shows (no rule checked reads them)."""
    shown = {c.fact for c in report.causes() if c.kind == "conflict"}
    return [c for c in report.conflicts if c.fact not in shown]


def conflict_rows(
    conflict: ConflictRecord, text: Callable[[str], str], code: Callable[[str], str], extra: Sequence[str] = ()
) -> list[list[str]]:
    """A conflict as table rows, one per policy (setting, fact, policy, value), in a format's
    own escaping: the setting, the fact and the ``extra`` cells on the first row only."""
    return [
        [
            text(conflict.label) if i == 0 else "",
            code(conflict.fact) if i == 0 else "",
            text(source),
            text(shown),
            *(extra if i == 0 else [""] * len(extra)),
        ]
        for i, (source, _, shown) in enumerate(conflict.values)
    ]
