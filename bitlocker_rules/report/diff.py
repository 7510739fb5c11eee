"""A diff of two fleet runs (``history.Diff``, passed in duck-typed: ``history`` has this
package's rank) as text for a terminal, JSON (``docs/schema/diff-1.json``) or Markdown; the
HTML page is ``html.diff``. A diff of two snapshots also carries the policies' drift
(``history.Drift``), which every format shows right after the headline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from .markdown import code, text
from .masking import masked_report

DIFF_SCHEMA = "bitlocker-rules/diff/1"
CHANGE_WORDS = {
    "newly_failing": "newly failing",
    "fixed": "fixed",
    "newly_unknown": "newly unknown",
    "no_longer_unknown": "no longer unknown",
    "still_failing": "still failing",
    "waived": "waived",  # failed, and a waiver accepts it now (not fixed)
    "no_longer_waived": "no longer waived",
}
_WAIVER_KINDS = ("waived", "no_longer_waived")  # in a diff only when a run has waived results
_MOVES = ("newly_failing", "fixed", "newly_unknown", "no_longer_unknown")


def diff_to_dict(diff: Any) -> dict:
    """The diff as JSON-ready data (``docs/schema/diff-1.json``)."""
    return {
        "schema": DIFF_SCHEMA,
        "old": {"run": diff.old, "devices": diff.devices_before},
        "new": {"run": diff.new, "devices": diff.devices_after},
        "totals": dict(diff.totals),
        "devices": [
            {
                "device": d.device,
                "changes": [
                    {"rule": c.rule, "before": c.before, "after": c.after, "kinds": list(c.kinds)} for c in d.changes
                ],
                "still_failing": list(d.still_failing),
            }
            for d in diff.devices
        ],
        "appeared": [{"device": p.device, "failing": list(p.failing)} for p in diff.appeared],
        "left": [{"device": p.device, "failing": list(p.failing)} for p in diff.left],
        "rules": [
            {"rule": r.rule, "before": dict(r.before), "after": dict(r.after), **dict(r.moves)} for r in diff.rules
        ],
        "causes": [{"reason_id": c.reason_id, "text": c.text, "gained": c.gained, "lost": c.lost} for c in diff.causes],
        "drift": drift_to_dict(diff.drift) if diff.drift is not None else None,
    }


def drift_to_dict(drift: Any) -> dict:
    """A snapshot diff's policy drift as JSON-ready data (``drift`` in ``docs/schema/diff-1.json``)."""
    return {
        "old": drift.old,
        "new": drift.new,
        "policies": [
            {
                "policy_id": p.policy_id,
                "name": p.name,
                "kind": p.kind,
                "change": p.change,
                "settings": [
                    {"label": s.label, "key": s.key, "before": s.before, "after": s.after} for s in p.settings
                ],
                "assignments_added": [_target_dict(t) for t in p.assigned],
                "assignments_removed": [_target_dict(t) for t in p.unassigned],
            }
            for p in drift.policies
        ],
    }


def _target_dict(target: Any) -> dict:
    return {
        "target": target.target,
        "group_id": target.group_id,
        "group": target.group,
        "filter_id": target.filter_id,
        "filter": target.filter,
        "filter_type": target.filter_type,
    }


KIND_WORDS = {"device_configuration": "device configuration", "configuration_policy": "settings catalog"}
NOT_SET = "(not set)"


def drift_headline(drift: Any) -> str:
    """``Policies: 2 changed (3 settings; assignments: 1 added, 0 removed), 1 added, 0 removed.``
    or ``No policy changed.``"""
    if drift.empty:
        return "No policy changed."
    count = {c: sum(p.change == c for p in drift.policies) for c in ("changed", "added", "removed")}
    changed = [p for p in drift.policies if p.change == "changed"]
    settings = sum(len(p.settings) for p in changed)
    added, removed = sum(len(p.assigned) for p in changed), sum(len(p.unassigned) for p in changed)
    return (
        f"Policies: {count['changed']} changed ({_plural(settings, 'setting')}; assignments: {added} added, "
        f"{removed} removed), {count['added']} added, {count['removed']} removed."
    )


def _plural(n: int, one: str, many: str = "") -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def policy_title(policy: Any) -> str:
    """``EP BitLocker 3 (device configuration 7c90…, changed)``."""
    kind = KIND_WORDS.get(policy.kind, policy.kind.replace("_", " "))
    return f"{policy.name} ({kind} {policy.policy_id}, {policy.change})"


def setting_cells(setting: Any) -> tuple[str, str, str, str]:
    """A setting's change as four cells: its label, before, after, and the key Graph knows it by."""
    before, after = (NOT_SET if value is None else value for value in (setting.before, setting.after))
    return setting.label, before, after, setting.key


def target_text(target: Any) -> str:
    """``group Devices 3 (1127…)``, ``with filter Filter 1 (include)`` when filtered."""
    text = target.target
    if target.group_id:
        text += f" {target.group} ({target.group_id})" if target.group != target.group_id else f" {target.group_id}"
    if target.filter_id:
        text += f", with filter {target.filter} ({target.filter_type})"
    return text


def assignment_cells(policy: Any) -> list[tuple[str, str]]:
    """A policy's assignments that changed: ``added`` or ``removed``, and the target."""
    return [("added", target_text(t)) for t in policy.assigned] + [
        ("removed", target_text(t)) for t in policy.unassigned
    ]


SETTING_HEADERS = ("Setting", "Before", "After", "Graph key")


def render_diff_json(diff: Any) -> str:
    """The diff as JSON."""
    return masked_report(json.dumps(diff_to_dict(diff), indent=2, ensure_ascii=False) + "\n")


def headline(diff: Any) -> str:
    """``2 newly failing, 1 fixed, 0 newly unknown, 0 no longer unknown (device-rule results); 14
    still failing; 1 device appeared, 0 left.`` or ``Nothing changed.``"""
    if diff.empty:
        return "Nothing changed." if diff.drift is None else "No device's results changed."
    totals = diff.totals
    kinds = ("newly_failing", "fixed", "newly_unknown", "no_longer_unknown", *_waiver_kinds(diff))
    moved = ", ".join(f"{totals[k]} {CHANGE_WORDS[k]}" for k in kinds)
    appeared = f"{totals['appeared']} device{'s' if totals['appeared'] != 1 else ''} appeared"
    return f"{moved} (device-rule results); {totals['still_failing']} still failing; {appeared}, {totals['left']} left."


def moved_rules(diff: Any) -> list[Any]:
    """The rules some device moved on, or whose failing or unknown devices are more or fewer
    (a device that came or went)."""
    return [
        r
        for r in diff.rules
        if any(r.moves[k] for k in (*_MOVES, *_waiver_kinds(diff)))
        or any(r.before[s] != r.after[s] for s in ("fail", "unknown"))
    ]


def _waiver_kinds(diff: Any) -> tuple[str, ...]:
    """The waivers' kinds of change, when a run of the diff has waived results."""
    return _WAIVER_KINDS if getattr(diff, "waivers", False) else ()


def change_line(change: Any) -> tuple[str, str, str]:
    """A rule's change as three cells: the rule, ``pass → fail``, what kind of change it is."""
    before = change.before or "(not evaluated)"
    after = change.after or "(not evaluated)"
    return change.rule, f"{before} → {after}", ", ".join(CHANGE_WORDS[k] for k in change.kinds)


def rule_rows(diff: Any) -> list[list[Any]]:
    """One row per moved rule: fails before and after, then the moves."""
    return [
        [
            r.rule,
            r.before["fail"],
            r.after["fail"],
            r.moves["newly_failing"],
            r.moves["fixed"],
            r.moves["newly_unknown"],
            r.moves["no_longer_unknown"],
            r.moves["still_failing"],
            *(r.moves[k] for k in _waiver_kinds(diff)),
        ]
        for r in moved_rules(diff)
    ]


def rule_headers(diff: Any) -> tuple[str, ...]:
    """The columns of ``rule_rows``: with waived results, the waivers' moves too."""
    return (*RULE_HEADERS, "Waived", "No longer waived") if _waiver_kinds(diff) else RULE_HEADERS


RULE_HEADERS = (
    "Rule",
    "Failing before",
    "Failing after",
    "Newly failing",
    "Fixed",
    "Newly unknown",
    "No longer unknown",
    "Still failing",
)
CAUSE_HEADERS = ("On more results", "On fewer results", "Reason", "Id")


def render_diff_table(diff: Any) -> str:
    """The diff as text for a terminal."""
    lines = [
        f"Changes from {diff.old} ({diff.devices_before} devices) to {diff.new} ({diff.devices_after} devices)",
        "",
        headline(diff),
    ]
    if diff.drift is not None:
        lines += _drift_lines(diff.drift)
    if diff.devices:
        lines += ["", "Devices whose results changed:"]
        for device in diff.devices:
            lines.append(f"  {device.device}")
            lines += [f"    {rule:<8} {move:<28} {kinds}" for rule, move, kinds in map(change_line, device.changes)]
            if device.still_failing:
                lines.append(f"    still failing: {', '.join(device.still_failing)}")
    lines += _presence_lines("Devices that appeared", diff.appeared)
    lines += _presence_lines("Devices that left", diff.left)
    rows = rule_rows(diff)
    if rows:
        lines += ["", "Rules that moved:", tabulate(rows, headers=rule_headers(diff), disable_numparse=True)]
    if diff.causes:
        lines += [
            "",
            "Causes that moved (how many device-rule results gained or lost each reason):",
            tabulate(
                [[f"+{c.gained}", f"-{c.lost}", c.text, c.reason_id] for c in diff.causes],
                headers=CAUSE_HEADERS,
                disable_numparse=True,
            ),
        ]
    return masked_report("\n".join(lines) + "\n")


def _drift_lines(drift: Any) -> list[str]:
    lines = ["", f"Policy drift from {drift.old} to {drift.new}:", drift_headline(drift)]
    for policy in drift.policies:
        lines += ["", f"  {policy_title(policy)}"]
        if policy.settings:
            rows = [setting_cells(s) for s in policy.settings]
            lines += [
                "    " + line for line in tabulate(rows, headers=SETTING_HEADERS, disable_numparse=True).splitlines()
            ]
        lines += [f"    assignment {how}: {target}" for how, target in assignment_cells(policy)]
    return lines


def _presence_lines(title: str, devices: Sequence[Any]) -> list[str]:
    if not devices:
        return []
    lines = ["", f"{title}:"]
    for p in devices:
        lines.append(f"  {p.device}" + (f": fails {', '.join(p.failing)}" if p.failing else ": fails nothing"))
    return lines


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A Markdown table, each cell made safe (``markdown.text``: one line, punctuation escaped)."""
    cells = [[text(cell) for cell in row] for row in rows]
    return tabulate(cells, headers=list(headers), tablefmt="github", disable_numparse=True).splitlines()


def render_diff_markdown(diff: Any) -> str:
    """The diff as a Markdown page for a reviewer."""
    lines = [
        "# Fleet changes",
        "",
        f"From {code(diff.old, table=False)} ({diff.devices_before} devices) to {code(diff.new, table=False)} "
        f"({diff.devices_after} devices).",
        "",
        f"**{text(headline(diff))}**",
    ]
    if diff.drift is not None:
        lines += _drift_markdown(diff.drift)
    if diff.devices:
        lines += ["", "## Devices whose results changed", ""]
        changes = [(d.device, *change_line(c)) for d in diff.devices for c in d.changes]
        lines += _md_table(("Device", "Rule", "Verdict", "Change"), changes)
    for title, devices in (("Devices that appeared", diff.appeared), ("Devices that left", diff.left)):
        if devices:
            lines += ["", f"## {title}", ""]
            lines += _md_table(
                ("Device", "Failing rules"), [(p.device, ", ".join(p.failing) or "none") for p in devices]
            )
    rows = rule_rows(diff)
    if rows:
        lines += ["", "## Rules that moved", "", *_md_table(rule_headers(diff), rows)]
    if diff.causes:
        lines += ["", "## Causes that moved", ""]
        lines += _md_table(CAUSE_HEADERS, [(f"+{c.gained}", f"-{c.lost}", c.text, c.reason_id) for c in diff.causes])
    return masked_report("\n".join(lines) + "\n")


def _drift_markdown(drift: Any) -> list[str]:
    lines = [
        "",
        "## Policy drift",
        "",
        f"From {code(drift.old, table=False)} to {code(drift.new, table=False)}: **{text(drift_headline(drift))}**",
    ]
    for policy in drift.policies:
        lines += ["", f"### {text(policy_title(policy))}"]
        if policy.settings:
            lines += ["", *_md_table(SETTING_HEADERS, [setting_cells(s) for s in policy.settings])]
        if policy.assigned or policy.unassigned:
            lines += ["", *_md_table(("Assignment", "Target"), assignment_cells(policy))]
    return lines


def render_diff(diff: Any, fmt: str) -> str:
    """The diff in ``fmt``: text, json, markdown or html."""
    if fmt == "json":
        return render_diff_json(diff)
    if fmt == "markdown":
        return render_diff_markdown(diff)
    if fmt == "html":
        from .html.diff import render_diff_html  # noqa: PLC0415 - only an HTML diff pays for the page

        return render_diff_html(diff)
    return render_diff_table(diff)
