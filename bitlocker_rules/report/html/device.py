"""One device's HTML page: the verdict, scenarios, causes, what is unknown and the fix first;
then the verdicts as a bar and a table, each failing or undecided rule explained in full, the
settings in conflict, the notes and the inputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ...outcome import (
    Cause,
    Condition,
    ConflictRecord,
    NoteOutcome,
    Report,
    RuleOutcome,
    Status,
    Undecided,
    ValueOrigin,
)
from ..masking import masked_report
from ..wording import (
    citations,
    conflict_fix,
    conflict_rows,
    device_causes,
    device_only,
    hidden_rows,
    other_conflicts,
    rules_broken,
    scenario_pending,
    shown_outcomes,
    value_from,
    verdict,
    waiver_lines,
)
from .charts import legend, status_bar
from .page import (
    CONFLICTS_LEAD,
    DEVICE_STATUS_NAMES,
    badge,
    card,
    code_span,
    escaped,
    fix_box,
    html_page,
    inputs_card,
    kpi,
    lead,
    rule_text_cell,
    ruleset_names,
    setting_cell,
    table,
)


def render_html(report: Report, *, verbose: bool = False) -> str:
    """The page for one device: the verdict, scenarios, causes, what is unknown and the fix
    first; then the rules that fail or could not be decided (every rule with ``verbose``),
    each explained, the conflicts, the notes and the inputs."""
    outcomes, conflicts = report.outcomes, {c.fact: c for c in report.conflicts}
    counts = {s: report.count(s) for s in Status}
    shown = shown_outcomes(report, verbose)
    # passing rules are explained only on request, and only those with reasons: the others would say nothing
    passes = [o for o in shown if o.status in (Status.PASS, Status.NOT_APPLICABLE) and o.reasons]
    subtitle = f"{len(outcomes)} rule{'' if len(outcomes) == 1 else 's'} of {ruleset_names(outcomes)}"
    body = [
        *_device_kpis(counts, report.waivers_given),
        *_verdict_card(report),
        *_causes_card(report),
        *_undecided_card(report.undecided()),
        *_fix_card(report),
        *_waivers_card(report),
        *_verdicts(report, counts, shown, verbose),
        *_rules_card(
            "Failing rules",
            [o for o in shown if o.status is Status.FAIL],
            conflicts,
            report,
            "The settings at fault, their values, what each rule needs, and the fix.",
        ),
        *_rules_card(
            "Rules that could not be decided",
            [o for o in shown if o.status is Status.UNKNOWN],
            conflicts,
            report,
            "A fact is missing, assigned policies disagree on a setting, or the sources do not settle the verdict.",
        ),
        *_rules_card(
            "Waived failures",
            [o for o in shown if o.status is Status.WAIVED],
            conflicts,
            report,
            "Failures a waiver accepts: the reasons stay, the check does not fail on them.",
        ),
        *_rules_card("Rules that pass or do not apply", passes, conflicts, report),
        *_conflicting_settings(other_conflicts(report)),
        *_notes(report.notes),
        *inputs_card(report.inputs),
    ]
    return masked_report(
        html_page(f"BitLocker rules: {report.subject or 'the given facts'}", "Device report", subtitle, body)
    )


def _device_kpis(counts: Mapping[Status, int], waivers_given: bool = False) -> list[str]:
    """The headline numbers: how many rules fail, are unknown, pass and do not apply (and are waived)."""
    return [
        '<div class="kpis">',
        kpi("Fail", counts[Status.FAIL], "fail"),
        *([kpi("Waived", counts[Status.WAIVED], "waived")] if waivers_given else []),
        kpi("Unknown", counts[Status.UNKNOWN], "unknown"),
        kpi("Pass", counts[Status.PASS], "pass"),
        kpi("Do not apply", counts[Status.NOT_APPLICABLE], "na"),
        "</div>",
    ]


def _waivers_card(report: Report) -> list[str]:
    """The failures waivers accept, each with its waiver, and the warnings about waivers."""
    said = waiver_lines(report)
    if not said:
        return []
    return card("Waivers", '<ul class="reasons">', *(f"<li>{escaped(line)}</li>" for line in said), "</ul>")


def _verdict_card(report: Report) -> list[str]:
    """The verdict in a sentence, then what the check is about: each scenario and how it was decided."""
    word, sentence = verdict(report)
    line = f'<p class="verdict"><span class="badge {word.lower()}">{word}</span> {escaped(sentence)}</p>'
    shown = report.relevant_scenarios()
    if not shown:
        return card("Verdict", line)
    items = []
    for scenario in shown:
        pending = scenario_pending(report, scenario)
        items.append(
            f"<li><b>{escaped(scenario.label)}</b>: {escaped(scenario.state)}, {escaped(scenario.provenance())}"
            + (f'. <span class="muted">{escaped(pending[0].upper() + pending[1:])}</span>' if pending else "")
            + "</li>"
        )
    return card("Verdict", line, "<h3>What this check is about</h3>", '<ul class="reasons">', *items, "</ul>")


def _causes_card(report: Report) -> list[str]:
    """Each distinct cause, worst first: the value at fault, the rules it breaks, the fix."""
    causes = report.causes()
    if not causes:
        return []
    return card(
        "Causes",
        lead("Each setting or device fact at fault, with the rules it breaks; the worst first."),
        *(_cause_block(number, cause, report) for number, cause in enumerate(causes, 1)),
    )


def _cause_block(number: int, cause: Cause, report: Report) -> str:
    """One cause: its value (or each policy's), the rules with what each needs, the fix and events."""
    kind = "unknown" if cause.kind == "conflict" else "fail"
    heading = f"{cause.label} is in conflict between policies" if cause.kind == "conflict" else cause.sentence()
    source = value_from(cause.origins, report.inputs) if cause.kind != "conflict" else ""
    where = " · ".join(filter(None, [rules_broken(cause), f"value from {source}" if source else ""]))
    parts = [
        f'<div class="rule {kind}"><div class="rule-head"><span class="chip{" fail" if kind == "fail" else ""}">'
        f'{number}</span><h3>{escaped(heading)}</h3><span class="badge sev">{escaped(cause.severity)}</span>'
        f'<span class="where">{escaped(where)}</span></div>'
    ]
    if cause.kind == "conflict":
        values = [[escaped(src), f"<b>{escaped(shown)}</b>"] for src, _, shown in cause.values]
        parts.append(table(["Policy", "Value"], values))
    rules = [
        [f'<span class="chip">{escaped(r.rule)}</span>', escaped(r.severity), escaped(r.title), escaped(r.required)]
        for r in cause.rules
    ]
    parts.append(table(["Rule", "Severity", "Title", "What the rule needs"], rules, widths=(10, 10, 45, 35)))
    parts += _cause_fix(cause)
    parts.append("</div>")
    return "".join(parts)


def _cause_fix(cause: Cause) -> list[str]:
    """A cause's fixes (a conflict's first) and its BitLocker event ids in a box; nothing when it has neither."""
    fixes = ([conflict_fix(cause)] if cause.kind == "conflict" else []) + list(cause.fixes)
    items = []
    if len(fixes) == 1:
        items.append(f"<b>Fix:</b> {escaped(fixes[0])}")
    elif fixes:
        items.append('<b>Fix:</b><ul class="reasons">' + "".join(f"<li>{escaped(fix)}</li>" for fix in fixes) + "</ul>")
    if cause.events:
        items.append(f"<b>BitLocker event ids:</b> {escaped(', '.join(str(e) for e in cause.events))}")
    return ['<div class="fix">' + "".join(f"<div>{item}</div>" for item in items) + "</div>"] if items else []


def _undecided_card(groups: Sequence[Undecided]) -> list[str]:
    """The rules that could not be decided, one row per set of missing facts (or caveat)."""
    if not groups:
        return []
    rows = [
        [
            "<br>".join(f"{escaped(label)} {code_span(fact)}" for fact, label in g.facts)
            if g.facts
            else escaped(g.caveat),
            "<br>".join(f'<span class="chip">{escaped(r.rule)}</span>{escaped(r.title)}' for r in g.rules),
        ]
        for g in groups
    ]
    total = sum(len(g.rules) for g in groups)
    return card(
        "What is not known",
        lead(
            escaped(
                f"{total} rule{'' if total == 1 else 's'} could not be decided. Give the missing facts to decide them."
            )
        ),
        table(["Missing", "Rules"], rows, widths=(45, 55)),
    )


def _fix_card(report: Report) -> list[str]:
    """The smallest policy change, the device prerequisites, and what would only turn a rule off."""
    parts = []
    if report.suggested_changes:
        parts += [
            lead("The fewest policy settings to change so that the failing rules pass:"),
            table(
                ["Setting", "Now", "Change to"],
                [[escaped(c.label), escaped(c.current), f"<b>{escaped(c.new)}</b>"] for c in report.suggested_changes],
            ),
        ]
    numbers, others = device_only(report)
    if numbers:  # already shown as causes: say which, rather than repeat them
        parts.append(f"<p>{escaped(device_causes(numbers))}</p>")
    if others:
        parts += [
            "<p>No policy setting can fix these; the device must change:</p>",
            '<ul class="reasons">',
            *(f"<li>{escaped(item)}</li>" for item in others),
            "</ul>",
        ]
    if report.turn_off_changes:
        parts += [
            "<p>Not a fix: these changes would only turn a rule off (it would no longer apply):</p>",
            '<ul class="reasons">',
            *(f"<li>{escaped(item.sentence())}</li>" for item in report.turn_off_changes),
            "</ul>",
        ]
    return card("The fix", *parts) if parts else []


def _verdicts(report: Report, counts: Mapping[Status, int], shown: Sequence[RuleOutcome], verbose: bool) -> list[str]:
    """The verdicts as one bar, the rules listed in a table, and what was left out."""
    hidden = hidden_rows(report, verbose)
    verdict_table = (
        table(
            ["Status", "Rule", "Severity", "Title", "Reason"],
            [
                [
                    badge(o.status, DEVICE_STATUS_NAMES),
                    f'<span class="chip">{escaped(o.rule)}</span>',
                    escaped(o.severity) + (' <span class="muted">advice</span>' if o.advice else ""),
                    escaped(o.title),
                    escaped(o.short_reason()),
                ]
                for o in shown
            ],
        )
        if shown
        else ""
    )
    heading = "Every rule" if verbose else "Rules that fail or could not be decided" if shown else "Verdicts"
    return card(
        heading,
        legend(DEVICE_STATUS_NAMES),
        status_bar(counts, len(report.outcomes), DEVICE_STATUS_NAMES),
        '<div style="height:16px"></div>',
        verdict_table,
        f'<p class="muted">{escaped(hidden)}</p>' if hidden else "",
    )


def _rules_card(
    heading: str,
    outcomes: Sequence[RuleOutcome],
    conflicts: Mapping[str, ConflictRecord],
    report: Report,
    introduction: str = "",
) -> list[str]:
    """A card that explains each of ``outcomes`` in full; nothing when there are none."""
    if not outcomes:
        return []
    return card(
        heading,
        *([lead(introduction)] if introduction else []),
        *(_device_rule(o, conflicts, report) for o in outcomes),
    )


def _conflicting_settings(conflicts: Sequence[ConflictRecord]) -> list[str]:
    """The settings the device's policies disagree on that no cause shows, one row per policy."""
    if not conflicts:
        return []
    return card(
        "Other settings in conflict",
        lead(CONFLICTS_LEAD + " No rule checked reads these."),
        table(
            ["Setting", "Fact", "Policy", "Value"],
            [row for c in conflicts for row in conflict_rows(c, escaped, code_span)],
        ),
    )


def _notes(notes: Sequence[NoteOutcome]) -> list[str]:
    """The notes that apply or may apply (those known not to apply are left out)."""
    shown = [n for n in notes if n.applies is not False]
    if not shown:
        return []
    return card("Notes", '<ul class="reasons">', *(_note_item(n) for n in shown), "</ul>")


def _note_item(note: NoteOutcome) -> str:
    """A note as a list item: the rule, its title, whether it only may apply, and why it matters."""
    return (
        f'<li><span class="chip">{escaped(note.rule)}</span><b>{escaped(note.title)}</b>'
        + (' <span class="muted">(may apply)</span>' if note.applies is None else "")
        + (f": {escaped(note.rationale)}" if note.rationale else "")
        + "</li>"
    )


def _device_rule(outcome: RuleOutcome, conflicts: Mapping[str, ConflictRecord], report: Report) -> str:
    """One rule in full: verdict, severity, what it encodes or advises on, its conditions and the fix."""
    kind = "na" if outcome.status is Status.NOT_APPLICABLE else outcome.status.value
    advice = '<span class="badge sev">advice</span>' if outcome.advice else ""
    head = (
        f'<div class="rule-head"><span class="chip{" fail" if kind == "fail" else ""}">{escaped(outcome.rule)}</span>'
        f"<h3>{escaped(outcome.title)}</h3>{badge(outcome.status, DEVICE_STATUS_NAMES)}"
        f'<span class="badge sev">{escaped(outcome.severity)}</span>{advice}'
        f'<span class="where">{escaped(outcome.location)}</span></div>'
    )
    cited = citations(outcome, report)
    cites = (
        '<ul class="cites">' + "".join(f"<li>{escaped(c[:1].upper() + c[1:])}</li>" for c in cited) + "</ul>"
        if cited
        else ""
    )
    caveat = (
        f'<p class="caveat"><b>Unknown because</b> {escaped(outcome.caveat.rstrip("."))}.</p>' if outcome.caveat else ""
    )
    rows = [_condition_row(c, conflicts) for c in outcome.reasons]
    conditions = (
        table(
            ["Setting", "Actual value", "What the rule needs", "Value from", "Rule text"],
            rows,
            widths=(21, 15, 16, 26, 22),
        )
        if rows
        else ""
    )
    fix = fix_box(outcome) if outcome.status in (Status.FAIL, Status.UNKNOWN) else ""
    return f'<div class="rule {kind}">{head}{cites}{caveat}{conditions}{fix}</div>'


def _condition_row(c: Condition, conflicts: Mapping[str, ConflictRecord]) -> list[str]:
    """A condition's row: the setting, its actual value, what the rule needs, where the value came from, the text."""
    setting = setting_cell(c)
    if not c.decisive:
        setting += '<br><span class="muted">also wrong; not needed for the verdict</span>'
    source = "<br>".join(_origin_html(o) for o in c.origins) if c.origins else '<span class="muted">not given</span>'
    return [setting, _actual_value(c, conflicts), escaped(c.required), source, rule_text_cell(c)]


def _actual_value(c: Condition, conflicts: Mapping[str, ConflictRecord]) -> str:
    """The value a condition found: each policy's when they conflict, or that it is missing."""
    if c.conflict and c.fact in conflicts:
        shown = "<br>".join(escaped(shown) for _, _, shown in conflicts[c.fact].values)
        return f'<span class="badge unknown">conflict</span><br>{shown}'
    if c.conflict:
        return f'<span class="badge unknown">conflict</span> {escaped(c.conflict)}'
    if c.missing:
        return '<span class="badge na">missing</span>'
    return f"<b>{escaped(c.actual)}</b>"


def _origin_html(origin: ValueOrigin) -> str:
    """The input's name, and its place in code below it."""
    return (
        f"{escaped(origin.input)}<br>{code_span(origin.place())}" if origin.path is not None else escaped(origin.text())
    )
