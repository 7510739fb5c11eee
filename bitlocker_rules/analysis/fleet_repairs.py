"""The one policy-setting change, set on every device of a fleet, that makes the most devices
satisfy every selected rule."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..vocabulary import Vocabulary
from .analyzer import Analyzer, values_of
from .domains import MergedInfo, fact_domains
from .evaluation import NO_BINDINGS, SearchContext, with_missing
from .logic import goal_mask
from .repair import is_policy_setting, setting_change
from .results import Deadline, FleetChange, FleetRepair, SettingChange
from .selection import Entry, interpreter_state
from .values import same_value, typed_assignment

_SATISFIED = goal_mask("satisfied")


def fleet_repair(
    rulesets: Iterable[Any],
    vocabulary: Vocabulary,
    devices: Iterable[Any],
    *,
    rules: Iterable[str] | None = None,
    top: int = 5,
    timeout: float | Deadline | None = None,
) -> FleetRepair:
    """The one policy-setting change (fact → value, set on every device) that makes the most
    devices satisfy every selected rule. ``devices`` are Facts records or values mappings
    (each with its own effective policy settings). ``timeout`` (seconds, or a ``Deadline``;
    None: no limit): past it ``Undecided`` is raised."""
    analyzer = Analyzer(rulesets, vocabulary, rules, Deadline.of(timeout))
    entries = analyzer.select()
    fleet = [dict(values_of(d)) for d in devices]
    settings = list(dict.fromkeys(f for e in entries for f in e.facts if is_policy_setting(vocabulary, f)))
    domains = _fleet_domains(entries, vocabulary, fleet)
    base = [[_satisfied(e, values) for e in entries] for values in fleet]
    before = sum(all(row) for row in base)
    ranking = [FleetChange(None, before)]
    for fact in settings:
        analyzer.deadline.step(f"setting {fact} on every device")
        ranking += _fleet_changes(analyzer, entries, fleet, base, fact, domains.get(fact, ()))
    ranking.sort(key=lambda c: -c.devices_satisfied)
    best = ranking[0]
    if best.change is not None and best.devices_satisfied == before:
        best = FleetChange(None, before)
    if best.change is not None:
        _confirm_fleet(entries, fleet, best.change)
    return FleetRepair(best, before, len(fleet), tuple(ranking[:top]))


def _fleet_domains(
    entries: Sequence[Entry], vocabulary: Vocabulary, fleet: Sequence[Mapping[str, Any]]
) -> dict[str, tuple]:
    """Each setting's candidate values for the fleet. A setting compared with a device fact may
    need to equal (or pass) a device's value of it, so the value sets are made with each
    distinct device's values of those facts fixed, and joined."""
    linked = _compared_with_settings(entries, vocabulary)
    found: dict[str, list] = {}
    seen: set[str] = set()
    for values in fleet or [{}]:
        fixed = {f: values.get(f) for f in linked}
        key = repr(sorted(fixed.items()))
        if key in seen:
            continue
        seen.add(key)
        for fact, options in fact_domains(entries, vocabulary, fixed).items():
            known = found.setdefault(fact, [])
            known += [v for v in options if not any(same_value(v, w) for w in known)]
    return {fact: tuple(options) for fact, options in found.items()}


def _compared_with_settings(entries: Sequence[Entry], vocabulary: Vocabulary) -> list[str]:
    """The device facts (collections by their fields) the rules compare with a setting."""
    linked: dict[str, None] = {}
    for members in MergedInfo.of(entries).components():
        if any(t[0] == "f" and is_policy_setting(vocabulary, t[1]) for t in members):
            linked.update((t[1], None) for t in members if not (t[0] == "f" and is_policy_setting(vocabulary, t[1])))
    return list(linked)


def _satisfied(e: Entry, values: Mapping[str, Any]) -> bool:
    """Whether ``e`` is satisfied under ``values`` (absent facts missing)."""
    ctx = SearchContext(with_missing(values, e.facts), NO_BINDINGS)
    return bool(e.state(ctx) & _SATISFIED)


def _fleet_changes(
    analyzer: Analyzer,
    entries: Sequence[Entry],
    fleet: Sequence[Mapping[str, Any]],
    base: Sequence[Sequence[bool]],
    fact: str,
    values: Iterable[Any],
) -> list[FleetChange]:
    """Each value of one setting, set on every device, with how many devices then satisfy
    every rule (``base``: which rules each device satisfies now)."""
    touching = [i for i, e in enumerate(entries) if fact in e.facts]
    others = [i for i in range(len(entries)) if i not in touching]
    # A device that fails a rule not reading ``fact`` fails it whatever value ``fact`` takes.
    ready = [d for d, row in enumerate(base) if all(row[i] for i in others)]
    olds = {repr(fleet[d].get(fact)) for d in range(len(fleet))}
    old = fleet[0].get(fact) if len(olds) == 1 and fleet else None
    found = []
    for value in values:
        analyzer.deadline.check()
        count = sum(1 for d in ready if all(_satisfied(entries[i], {**fleet[d], fact: value}) for i in touching))
        change = setting_change(analyzer, fact, old, value)
        if len(olds) > 1:
            change = SettingChange(change.fact, change.label, "(varies)", change.new, None, value)
        found.append(FleetChange(change, count))
    return found


def _confirm_fleet(entries: Sequence[Entry], fleet: Sequence[Mapping[str, Any]], change: SettingChange) -> None:
    """Check with the interpreter, device by device, the fleet evaluation of ``change``."""
    for values in fleet:
        after = typed_assignment({**values, change.fact: change.new_value})
        ok = all(interpreter_state(e, after) & _SATISFIED for e in entries)
        if ok != all(_satisfied(e, {**values, change.fact: change.new_value}) for e in entries):
            raise AssertionError("analysis bug: fleet evaluation disagrees with the interpreter")
