"""The one policy-setting change, set on every device of a fleet, that makes the most devices
satisfy every selected rule."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..vocabulary import Vocabulary
from .analyzer import Analyzer, _values_of
from .domains import _domains
from .evaluation import _EMPTY, _complete, _Ctx
from .logic import goal_mask
from .records import Deadline, FleetChange, FleetRepair, SettingChange
from .repair import _change, _policy
from .selection import _Entry, _interpreter_state
from .values import _typed


_SATISFIED = goal_mask("satisfied")


def fleet_repair(rulesets: Iterable[Any], vocabulary: Vocabulary, devices: Iterable[Any], *,
                 rules: Iterable[str] | None = None, top: int = 5,
                 timeout: float | Deadline | None = None) -> FleetRepair:
    """The one policy-setting change (fact → value, set on every device) that makes the most
    devices satisfy every selected rule. ``devices`` are Facts records or values mappings
    (each with its own effective policy settings). ``timeout`` (seconds, or a ``Deadline``;
    None: no limit): past it ``Undecided`` is raised."""
    analyzer = Analyzer(rulesets, vocabulary, rules, Deadline.of(timeout))
    entries = analyzer.select()
    fleet = [dict(_values_of(d)) for d in devices]
    settings = list(dict.fromkeys(f for e in entries for f in e.facts if _policy(vocabulary, f)))
    domains = _domains(entries, vocabulary, {})
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


def _satisfied(e: _Entry, values: Mapping[str, Any]) -> bool:
    """Whether ``e`` is satisfied under ``values`` (absent facts missing)."""
    ctx = _Ctx(_complete(values, e.facts), _EMPTY)
    return bool(e.state(ctx) & _SATISFIED)


def _fleet_changes(analyzer: Analyzer, entries: Sequence[_Entry], fleet: Sequence[Mapping[str, Any]],
                   base: Sequence[Sequence[bool]], fact: str, values: Iterable[Any]) -> list[FleetChange]:
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
        change = _change(analyzer, fact, old, value)
        if len(olds) > 1:
            change = SettingChange(change.fact, change.label, "(varies)", change.new, None, value)
        found.append(FleetChange(change, count))
    return found


def _confirm_fleet(entries: Sequence[_Entry], fleet: Sequence[Mapping[str, Any]], change: SettingChange) -> None:
    """Check with the interpreter, device by device, the fleet evaluation of ``change``."""
    for values in fleet:
        after = _typed({**values, change.fact: change.new_value})
        ok = all(_interpreter_state(e, after) & _SATISFIED for e in entries)
        if ok != all(_satisfied(e, {**values, change.fact: change.new_value}) for e in entries):
            raise AssertionError("analysis bug: fleet evaluation disagrees with the interpreter")
