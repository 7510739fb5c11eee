"""A plan (``plan.Plan``, passed in duck-typed: ``plan`` ranks above this package) as text for a
terminal, JSON (``docs/schema/plan-1.json``) or Markdown; the HTML page is ``html.plan``.

Every format leads with the verdict and the causes (the settings that change and the conflicts
created or resolved), then today's fleet under the proposal as ``diff`` shows two runs (its
renderers' rows and headline), then every possible device.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from tabulate import tabulate

from .diff import RULE_HEADERS, change_line, diff_to_dict, headline, rule_rows
from .markdown import code, text
from .masking import masked_report

PLAN_SCHEMA = "bitlocker-rules/plan/1"
PLAN_RULE_HEADERS = (*RULE_HEADERS, "Unchanged")


def verdict(plan: Any) -> str:
    """The plan's first line: whether anything gets worse, on the fleet or on a possible device."""
    fleet = plan.fleet
    worse = [p.ruleset for p in plan.possible if p.worse]
    parts = []
    if fleet is not None:
        newly = fleet.diff.totals["newly_failing"]
        parts.append(
            f"{_devices(fleet.newly_failing_devices)} of today's fleet newly fail a rule ({newly} device-rule results)"
            if newly
            else "no device of today's fleet newly fails a rule"
        )
    parts.append(
        f"a possible device gets worse on {', '.join(dict.fromkeys(worse))}"
        if worse
        else "no possible device gets worse"
    )
    undecided = [f"{', '.join(dict.fromkeys(p.ruleset for p in plan.possible if p.worse is None))} undecided"]
    undecided = undecided if any(p.worse is None for p in plan.possible) else []
    if not plan.memberships.complete:
        undecided.append("not every group combination was searched")
    if undecided and not worse:
        parts[-1] = f"no possible device found worse, but {' and '.join(undecided)}"
    word = "REGRESSIONS" if plan.regressions else ("UNDECIDED" if plan.undecided else "NO REGRESSIONS")
    return f"{word} — {'; '.join(parts)}."


def _devices(count: int) -> str:
    return f"{count} device{'' if count == 1 else 's'}"


def proposal_line(plan: Any) -> str:
    """What the proposal does to today's policies."""
    p = plan.proposal
    done = [
        f"{word} {', '.join(ids)}"
        for word, ids in (("replaces", p.replaced), ("patches", p.patched), ("adds", p.added))
        if ids
    ]
    if p.assignments:
        done.append(f"assigns as {p.assignments} says")
    return "The proposal " + ("; ".join(done) if done else "changes nothing") + "."


def setting_line(move: Any) -> str:
    """``Compatible TPM startup PIN: Do not allow … → Require … (35 devices)``."""
    d = move.delta
    return f"{d.label}: {d.before} → {d.after} ({_devices(move.devices)})"


def conflict_line(move: Any) -> str:
    """A conflict created or resolved, naming each policy and its value."""
    return f"{'created' if move.created else 'resolved'}: {move.conflict.sentence()} ({_devices(move.devices)})"


def possible_groups(plan: Any) -> list[tuple[str, list[Any], list[str]]]:
    """The possible-device answers per pair of policy sets: (a heading naming both sides, the
    answers that found a device or are undecided, the rulesets no possible device gets worse on)."""
    groups: dict[tuple, tuple[str, list[Any], list[str]]] = {}
    for p in plan.possible:
        key = _pair_key(p)
        if key not in groups:
            groups[key] = (_pair_heading(p, plan.memberships), [], [])
        if p.worse is False:
            groups[key][2].append(f"{p.ruleset} ({p.note})" if p.note else p.ruleset)
        else:
            groups[key][1].append(p)
    # A membership's pair where no possible device gets worse is counted (memberships_line), not listed.
    return [group for key, group in groups.items() if key[2] is None or group[1]]


def _pair_heading(p: Any, search: Any) -> str:
    """Who gets the pair: ``Devices that get …`` (the fleet's), or a membership that would."""
    assigned = search.assigned
    if not (p.policies_before or p.policies_after or any(assigned)):
        return "Devices that get every policy"
    # A side without assignments gives every device every policy (its names are left out).
    today, proposal = (
        ", ".join(names) or ("no policy" if side else "every policy")
        for names, side in zip((p.policies_before, p.policies_after), assigned)
    )
    gets = f"get {today} today" + ("" if today == proposal else f" and {proposal} under the proposal")
    if p.membership is None:
        return f"Devices that {gets}"
    return f"{membership_words(p.membership, search.group_names)} would {gets}"


def membership_words(m: Any, group_names: Mapping[str, str] | None = None) -> str:
    """A possible membership: ``A device in groups Pilot and Finance only, matching filter `Dell```;
    a group a snapshot names by id with its name, ``Finance (3f2e…)``, where ``group_names`` has it."""
    groups = [group_text(g, group_names or {}) for g in m.groups]
    where = [f"{_words('group', groups)} only" if groups else "in no group"]
    where += [f"named {_words('', m.devices)}"] if m.devices else []
    where += [f"matching {_words('filter', m.matching, '`')}"] if m.matching else []
    where += [f"not matching {_words('filter', m.not_matching, '`')}"] if m.not_matching else []
    return "A device " + ", ".join(where)


def group_text(group: str, group_names: Mapping[str, str]) -> str:
    """A group as reports name one whose name is known: ``Finance (3f2e…)``; else as given."""
    name = group_names.get(group)
    return f"{name} ({group})" if name and name != group else group


def _words(noun: str, names: Sequence[str], quote: str = "") -> str:
    """``group Pilot``, ``groups Pilot and Finance``, ``groups A, B and C``."""
    quoted = [f"{quote}{name}{quote}" for name in names]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"
    word = f"{noun}{'' if len(names) == 1 else 's'} " if noun else ""
    return ("in " if noun == "group" else "") + word + listed


def memberships_line(plan: Any) -> str | None:
    """How far the search of every possible membership went (None when there was nothing to search)."""
    search = plan.memberships
    if search.total <= 1:
        return None
    found = {(p.policies_before, p.policies_after, p.membership) for p in plan.possible if p.membership}
    listed = {
        (p.policies_before, p.policies_after, p.membership)
        for p in plan.possible
        if p.membership and p.worse is not False
    }
    pairs = f"{len(found)} pair{'' if len(found) == 1 else 's'} of policy sets no device of today's fleet gets"
    if len(found) > len(listed):
        pairs += f"; no possible device gets worse under {len(found) - len(listed)} of them (not listed)"
    if search.complete:
        combinations = f"{_count(search.total)} combinations of groups, devices named and filters"
        return f"Every possible membership was searched ({combinations}): {pairs}."
    return (
        f"Not every group combination was searched: {_count(search.searched)} of {_count(search.total)} "
        f"(past {search.limit:,} distinct memberships the search stops; the rest are not counted as safe): {pairs}."
    )


def _pair_key(p: Any) -> tuple:
    return (p.policies_before, p.policies_after, p.membership)


def _count(number: int) -> str:
    return f"{number:,}" if number < 10**15 else f"about {number:.3g}"


def possible_line(p: Any) -> str:
    """One ruleset's possible-device answer that found a device or is undecided."""
    if p.worse is None:
        return f"{p.ruleset}: {p.note}"
    size = "the smallest such device" if p.smallest else "such a device (time ran out making it smaller)"
    return (
        f"{p.ruleset}: a device that satisfies it today fails {', '.join(p.failing)} under the proposal; "
        f"{size} sets {len(p.witness)} fact{'' if len(p.witness) == 1 else 's'}, every other one missing"
        + (f" ({p.note})" if p.note else "")
    )


def safe_line(rulesets: Sequence[str]) -> str:
    """The rulesets no possible device gets worse on."""
    return f"no device that satisfies it today fails it under the proposal: {'; '.join(rulesets)}"


def plan_rule_rows(plan: Any) -> list[list[Any]]:
    """``diff``'s rows of the rules that moved, with the devices whose verdict of each did not change."""
    return [[*row, plan.fleet.unchanged.get(row[0], 0)] for row in rule_rows(plan.fleet.diff)]


def plan_to_dict(plan: Any) -> dict:
    """The plan as JSON-ready data (``docs/schema/plan-1.json``)."""
    p = plan.proposal
    return {
        "schema": PLAN_SCHEMA,
        "regressions": plan.regressions,
        "undecided": plan.undecided,
        "proposal": {
            "replaced": list(p.replaced),
            "patched": list(p.patched),
            "added": list(p.added),
            "assignments": p.assignments,
            "notes": list(p.notes),
        },
        "fleet": None if plan.fleet is None else _fleet_dict(plan.fleet),
        "possible": [_possible_dict(x, plan.memberships.group_names) for x in plan.possible],
        "memberships": {
            "complete": plan.memberships.complete,
            "searched": plan.memberships.searched,
            "total": plan.memberships.total,
            "limit": plan.memberships.limit,
        },
        "timeout": plan.timeout,
    }


def _fleet_dict(fleet: Any) -> dict:
    return {
        "diff": diff_to_dict(fleet.diff),
        "changed_devices": fleet.changed_devices,
        "newly_failing_devices": fleet.newly_failing_devices,
        "settings_changed_devices": fleet.settings_changed_devices,
        "settings": [
            {"setting": m.delta.fact, "label": m.delta.label, "before": m.delta.before, "after": m.delta.after,
             "devices": m.devices}
            for m in fleet.settings
        ],
        "conflicts": [
            {"change": "created" if m.created else "resolved", "setting": m.conflict.fact, "label": m.conflict.label,
             "policies": [{"policy": s, "value": v, "shown": shown} for s, v, shown in m.conflict.values],
             "devices": m.devices}
            for m in fleet.conflicts
        ],
        "unchanged": dict(fleet.unchanged),
        "bad_rows": [{"row": n, "problem": problem} for n, problem in fleet.bad_rows],
        "bad_rows_not_listed": fleet.bad_rows_not_listed,
    }  # fmt: skip


def _possible_dict(p: Any, group_names: Mapping[str, str]) -> dict:
    return {
        "ruleset": p.ruleset,
        "policies_before": list(p.policies_before),
        "policies_after": list(p.policies_after),
        "worse": p.worse,
        "failing": list(p.failing),
        "witness": [{"fact": w.fact, "label": w.label, "value": w.value, "raw": w.raw} for w in p.witness],
        "smallest": p.smallest,
        "note": p.note,
        "membership": None if p.membership is None else {
            "groups": list(p.membership.groups),
            "group_names": [group_names.get(g) for g in p.membership.groups],
            "devices": list(p.membership.devices),
            "matching": list(p.membership.matching), "not_matching": list(p.membership.not_matching),
        },
    }  # fmt: skip


def render_plan_json(plan: Any) -> str:
    """The plan as JSON."""
    return masked_report(json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n")


def render_plan_table(plan: Any) -> str:
    """The plan as text for a terminal: the verdict, the causes, the fleet, every possible device."""
    lines = [verdict(plan), "", proposal_line(plan), *(f"  note: {n}" for n in plan.proposal.notes)]
    fleet = plan.fleet
    if fleet is not None:
        lines += [
            "",
            f"What changes for today's fleet ({_devices(fleet.settings_changed_devices)} get other settings):",
        ]
        lines += [f"  {setting_line(m)}" for m in fleet.settings] or ["  no effective setting changes"]
        lines += [f"  conflict {conflict_line(m)}" for m in fleet.conflicts]
        lines += ["", f"Today's fleet ({_devices(fleet.diff.devices_before)}): {headline(fleet.diff)}"]
        rows = plan_rule_rows(plan)
        if rows:
            lines += ["", tabulate(rows, headers=PLAN_RULE_HEADERS, disable_numparse=True)]
        if fleet.diff.devices:
            lines += ["", _shown_devices(fleet) + ":"]
            for device in fleet.diff.devices:
                lines.append(f"  {device.device}")
                lines += [f"    {r:<8} {move:<28} {kinds}" for r, move, kinds in map(change_line, device.changes)]
        lines += [f"  row {n} not read: {problem}" for n, problem in fleet.bad_rows]
        if fleet.bad_rows_not_listed:
            lines.append(f"  and {fleet.bad_rows_not_listed} more rows not read")
    lines += ["", "Every possible device (exact analysis over the vocabulary's domain):"]
    searched = memberships_line(plan)
    lines += [f"  {searched}"] if searched else []
    for heading, found, safe in possible_groups(plan):
        lines.append(f"  {heading}:")
        for p in found:
            lines.append(f"    {possible_line(p)}")
            lines += [f"        {w.label}: {w.value}" for w in p.witness]
        if safe:
            lines.append(f"    {safe_line(safe)}")
    return masked_report("\n".join(lines) + "\n")


def _shown_devices(fleet: Any) -> str:
    shown = len(fleet.diff.devices)
    more = (
        f" (the first {shown} of {fleet.changed_devices}; --jsonl has every one)"
        if fleet.changed_devices > shown
        else ""
    )
    return f"Devices whose results change{more}"


def _md_rows(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    cells = [[text(cell) for cell in row] for row in rows]
    return tabulate(cells, headers=list(headers), tablefmt="github", disable_numparse=True).splitlines()


def render_plan_markdown(plan: Any) -> str:
    """The plan as a Markdown page for a reviewer."""
    lines = ["# Policy change plan", "", f"**{text(verdict(plan))}**", "", text(proposal_line(plan))]
    lines += [f"- {text(n)}" for n in plan.proposal.notes]
    fleet = plan.fleet
    if fleet is not None:
        lines += ["", "## What changes", ""]
        lines += _md_rows(
            ("Setting", "Today", "Proposal", "Devices"),
            [(m.delta.label, m.delta.before, m.delta.after, m.devices) for m in fleet.settings],
        ) if fleet.settings else ["No effective setting changes."]  # fmt: skip
        lines += [f"- Conflict {text(conflict_line(m))}" for m in fleet.conflicts]
        lines += ["", "## Today's fleet", "", text(headline(fleet.diff))]
        rows = plan_rule_rows(plan)
        if rows:
            lines += ["", *_md_rows(PLAN_RULE_HEADERS, rows)]
        if fleet.diff.devices:
            lines += ["", f"### {text(_shown_devices(fleet))}", ""]
            lines += _md_rows(
                ("Device", "Rule", "Verdict", "Change"),
                [(d.device, *change_line(c)) for d in fleet.diff.devices for c in d.changes],
            )
        lines += [f"- Row {n} not read: {text(problem)}" for n, problem in fleet.bad_rows]
        if fleet.bad_rows_not_listed:
            lines.append(f"- And {fleet.bad_rows_not_listed} more rows not read")
    lines += ["", "## Every possible device"]
    searched = memberships_line(plan)
    lines += ["", text(searched)] if searched else []
    for heading, found, safe in possible_groups(plan):
        lines += ["", f"### {text(heading)}", ""]
        for p in found:
            lines.append(f"- {text(possible_line(p))}")
            lines += [f"  - {text(w.label)}: {code(w.value, table=False)}" for w in p.witness]
        if safe:
            lines.append(f"- {text(safe_line(safe))}")
    return masked_report("\n".join(lines) + "\n")


def render_plan(plan: Any, fmt: str) -> str:
    """The plan in ``fmt``: text, json, markdown or html."""
    if fmt == "json":
        return render_plan_json(plan)
    if fmt == "markdown":
        return render_plan_markdown(plan)
    if fmt == "html":
        from .html.plan import render_plan_html  # noqa: PLC0415 - only an HTML plan pays for the page

        return render_plan_html(plan)
    return render_plan_table(plan)
