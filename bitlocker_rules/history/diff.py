"""``diff``: what changed between two runs, as records the renderers in ``report/`` format.

Per device present in both runs and per rule, a change is classified by the two verdicts:
*newly failing* (did not fail, fails now), *fixed* (failed, fails no longer: its new verdict
says how), *newly unknown* (was decided, is unknown now) and *no longer unknown*; a rule that
failed in both is *still failing*. Devices only in the new run *appeared*, only in the old one
*left*. Every device pair is compared once per distinct pair of patterns (most devices share
one), so a diff of 100,000 devices costs what its distinct situations cost.

The diff of B against A mirrors the diff of A against B: newly failing and fixed swap, newly
unknown and no longer unknown swap, appeared and left swap, and each cause's gains and losses.

Between two snapshots the diff also carries the policy drift (``drift.Drift``, ``with_drift``):
what changed in the policies themselves, beside what changed in the devices' results.

A run of ``check --waivers`` records waived failures (``waived``): a failure that a waiver
accepts in the new run is *waived*, not fixed (it still fails underneath); one whose waiver
no longer applies is *no longer waived* (and newly failing when it fails again); a waived
failure that passes now is fixed. These kinds, and the ``waived`` counts, appear only when a
run of the two has waived results, so a diff of runs without waivers is as it always was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import attrs
from attrs import frozen

from .drift import Drift
from .runs import STATUSES, WAIVED, Pattern, RuleResult, RunResults

CHANGES = ("newly_failing", "fixed", "newly_unknown", "no_longer_unknown")
WAIVER_CHANGES = ("waived", "no_longer_waived")  # only in a diff where a run has waived results
_FAILED = ("fail", WAIVED)  # failed, whether a waiver accepts it or not


@frozen
class RuleChange:
    """One rule on one device: its verdict before and after (None: the run did not evaluate it)."""

    rule: str
    before: str | None
    after: str | None
    kinds: tuple[str, ...]  # which of CHANGES (and WAIVER_CHANGES) it is


@frozen
class DeviceChange:
    """A device present in both runs whose results changed: the changes, and the rules still failing."""

    device: str
    changes: tuple[RuleChange, ...]
    still_failing: tuple[str, ...]


@frozen
class DevicePresence:
    """A device only one run has: the rules it failed there."""

    device: str
    failing: tuple[str, ...]


@frozen
class RuleMoves:
    """One rule: its counts in each run, and how many devices moved each way."""

    rule: str
    before: Mapping[str, int]
    after: Mapping[str, int]
    moves: Mapping[str, int]  # CHANGES and still_failing -> devices


@frozen
class CauseMoves:
    """One reason (a cause of failing or unknown rules): on how many device-rule results it
    appeared and from how many it went, among devices present in both runs."""

    reason_id: str
    text: str
    gained: int
    lost: int


@frozen
class Diff:
    """Everything that changed from the old run to the new one."""

    old: str
    new: str
    devices_before: int
    devices_after: int
    devices: tuple[DeviceChange, ...]
    appeared: tuple[DevicePresence, ...]
    left: tuple[DevicePresence, ...]
    rules: tuple[RuleMoves, ...]
    causes: tuple[CauseMoves, ...]
    totals: Mapping[str, int]  # CHANGES, still_failing, appeared, left -> how many (device-rule pairs, devices)
    drift: Drift | None = None  # between two snapshots: what changed in the policies
    waivers: bool = False  # a run has waived results: WAIVER_CHANGES and the waived counts are in the totals and rules

    @property
    def empty(self) -> bool:
        """Nothing changed in the devices' results (see ``drifted`` for the policies)."""
        return not (self.devices or self.appeared or self.left)

    @property
    def drifted(self) -> bool:
        """Between two snapshots, some policy changed."""
        return self.drift is not None and not self.drift.empty

    @property
    def new_failures(self) -> bool:
        """Something fails that did not: a rule newly failing on a device, or a device that appeared failing."""
        return bool(self.totals["newly_failing"]) or any(p.failing for p in self.appeared)


def change_kinds(before: str | None, after: str | None) -> tuple[str, ...]:
    """Which of ``CHANGES`` a rule's move from verdict ``before`` to ``after`` is (none: no change)."""
    kinds = []
    if after == "fail" and before != "fail":
        kinds.append("newly_failing")
    if before in _FAILED and after not in _FAILED:
        kinds.append("fixed")
    if after == WAIVED and before != WAIVED:
        kinds.append("waived")
    if before == WAIVED and after != WAIVED:
        kinds.append("no_longer_waived")
    if after == "unknown" and before != "unknown":
        kinds.append("newly_unknown")
    if before == "unknown" and after != "unknown":
        kinds.append("no_longer_unknown")
    return tuple(kinds)


class _PairDiff:
    """What changes between two patterns (computed once per distinct pair)."""

    __slots__ = ("changes", "gained", "lost", "still")

    def __init__(self, old: Pattern, new: Pattern) -> None:
        self.changes: list[RuleChange] = []
        self.gained: Counter = Counter()
        self.lost: Counter = Counter()
        if old.results == new.results:  # the same results (most devices from one run to the next)
            self.still = [r.rule for r in old.results if r.status == "fail"]
            return
        self.still = []
        if [r.rule for r in old.results] == [r.rule for r in new.results]:  # the same rules, in order
            pairs: list[tuple[str, RuleResult | None, RuleResult | None]] = [
                (a.rule, b, a) for b, a in zip(old.results, new.results)
            ]
        else:
            before, after = old.by_rule(), new.by_rule()
            order = [r.rule for r in new.results] + [r.rule for r in old.results if r.rule not in after]
            pairs = [(rule, before.get(rule), after.get(rule)) for rule in order]
        for rule, b, a in pairs:
            if b == a:
                if a is not None and a.status == "fail":
                    self.still.append(rule)
                continue
            status_b, status_a = b.status if b else None, a.status if a else None
            kinds = change_kinds(status_b, status_a)
            if kinds:
                self.changes.append(RuleChange(rule, status_b, status_a, kinds))
            elif status_b == status_a == "fail":
                self.still.append(rule)
            reasons_b, reasons_a = set(b.reasons if b else ()), set(a.reasons if a else ())
            self.gained.update(reasons_a - reasons_b)
            self.lost.update(reasons_b - reasons_a)


def diff_runs(old: RunResults, new: RunResults) -> Diff:
    """The diff of two runs' results."""
    pairs: dict[tuple[int, int], _PairDiff] = {}
    devices: list[DeviceChange] = []
    moves: dict[str, Counter] = {}
    gained: Counter = Counter()
    lost: Counter = Counter()
    waivers = _has_waived(old) or _has_waived(new)
    changes = (*CHANGES, *WAIVER_CHANGES) if waivers else CHANGES
    totals: Counter = Counter(dict.fromkeys((*changes, "still_failing", "appeared", "left"), 0))
    for key, new_pattern in new.devices.items():
        old_pattern = old.devices.get(key)
        if old_pattern is None:
            continue
        pair = pairs.get((old_pattern, new_pattern))
        if pair is None:
            pair = pairs[(old_pattern, new_pattern)] = _PairDiff(old.patterns[old_pattern], new.patterns[new_pattern])
        for change in pair.changes:
            counter = moves.setdefault(change.rule, Counter())
            counter.update(change.kinds)
            totals.update(change.kinds)
        for rule in pair.still:
            moves.setdefault(rule, Counter())["still_failing"] += 1
        totals["still_failing"] += len(pair.still)
        gained.update(pair.gained)
        lost.update(pair.lost)
        if pair.changes:
            devices.append(DeviceChange(key.text(), tuple(pair.changes), tuple(pair.still)))
    appeared = _presence(new, old)
    left = _presence(old, new)
    totals["appeared"], totals["left"] = len(appeared), len(left)
    texts = {**old.reasons, **new.reasons}
    causes = tuple(
        CauseMoves(rid, texts.get(rid, ""), gained[rid], lost[rid])
        for rid in sorted(
            set(gained) | set(lost), key=lambda rid: (-(gained[rid] + lost[rid]), texts.get(rid, ""), rid)
        )
    )
    return Diff(
        old.label,
        new.label,
        len(old.devices),
        len(new.devices),
        tuple(devices),
        appeared,
        left,
        _rule_moves(old, new, moves, waivers),
        causes,
        dict(totals),
        waivers=waivers,
    )


def with_drift(diff: Diff, drift: Drift) -> Diff:
    """The diff of two snapshots' checks, with their policies' drift."""
    return attrs.evolve(diff, drift=drift)


def _has_waived(run: RunResults) -> bool:
    """Whether any device of the run has a waived result (its distinct patterns are read)."""
    return any(r.status == WAIVED for pattern in run.patterns.values() for r in pattern.results)


def _presence(here: RunResults, there: RunResults) -> tuple[DevicePresence, ...]:
    """The devices ``here`` has and ``there`` has not, with the rules they fail."""
    failing: dict[int, tuple[str, ...]] = {}
    found = []
    for key, pattern in here.devices.items():
        if key in there.devices:
            continue
        if pattern not in failing:
            failing[pattern] = tuple(r.rule for r in here.patterns[pattern].results if r.status == "fail")
        found.append(DevicePresence(key.text(), failing[pattern]))
    return tuple(found)


def _counts(run: RunResults) -> dict[str, Counter]:
    """Per rule, the run's devices by verdict (counted per pattern, then multiplied)."""
    per_pattern = Counter(run.devices.values())
    totals: dict[tuple[str, str], int] = {}
    get = totals.get
    for pattern, devices in per_pattern.items():
        for result in run.patterns[pattern].results:
            key = (result.rule, result.status)
            totals[key] = get(key, 0) + devices
    counts: dict[str, Counter] = {}
    for (rule, status), devices in totals.items():
        counts.setdefault(rule, Counter())[status] = devices
    return counts


def _rule_moves(old: RunResults, new: RunResults, moves: dict[str, Counter], waivers: bool) -> tuple[RuleMoves, ...]:
    before, after = _counts(old), _counts(new)
    order = list(after) + [rule for rule in before if rule not in after]
    statuses = (*STATUSES, WAIVED) if waivers else STATUSES
    kinds = (*CHANGES, *WAIVER_CHANGES, "still_failing") if waivers else (*CHANGES, "still_failing")
    return tuple(
        RuleMoves(
            rule,
            {s: before.get(rule, Counter())[s] for s in statuses},
            {s: after.get(rule, Counter())[s] for s in statuses},
            {k: moves.get(rule, Counter())[k] for k in kinds},
        )
        for rule in order
    )
