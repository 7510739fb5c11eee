"""Which policies a snapshot's device gets when assignments carry assignment filters.

An assignment with an assignment filter is decided device by device (``SnapshotPolicies``): the
filter's rule (``assignment_filters``) is evaluated on the device's managedDevice record, with
Intune's precedence between exclude filters, no filter and include filters; where a filter
cannot be decided (a property the record lacks or this version cannot read faithfully, an
operator such as ``-match``, a rule that cannot be parsed) the assignment applies as if it had
no filter, and each decision is recorded (``SnapshotPolicies.scope``, a device's ``filters``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from attrs import frozen

from ..assignment_filters import FilterSyntaxError, Match, Rule, parse_filter, problems
from ..assignments import AssignedPolicies, AssignedPolicy, Assignments, device_keys
from ..facts import Facts


def assignment_filter(record: Mapping[str, Any]) -> AssignmentFilter:
    """A Graph ``deviceAndAppManagementAssignmentFilter`` with its rule parsed (or why it cannot be)."""
    name = str(record.get("displayName") or record["id"])
    rule = record.get("rule")
    if not isinstance(rule, str):
        return AssignmentFilter(str(record["id"]), name, None, ("the filter has no rule",))
    try:
        parsed = parse_filter(rule)
    except FilterSyntaxError as exc:
        why = f"its rule cannot be read at column {exc.column}: {exc}"
        return AssignmentFilter(str(record["id"]), name, None, (why,))
    return AssignmentFilter(str(record["id"]), name, parsed, problems(parsed))


@frozen
class AssignmentFilter:
    """An assignment filter: its id, name, parsed rule (None when it cannot be parsed), and what
    of it can never be evaluated here (a property or operator; empty: all of it can)."""

    filter_id: str
    name: str
    rule: Rule | None
    unevaluable: tuple[str, ...] = ()

    def match(self, device: Mapping[str, Any]) -> Match:
        """The rule on a managedDevice record (None: not evaluated, with why)."""
        return self.rule.evaluate(device) if self.rule is not None else Match(None, self.unevaluable)


@frozen
class FilteredTarget:
    """An assignment with a filter: its policy, its group (None: all devices), the filter and its mode."""

    policy_id: str
    group: str | None
    members: frozenset[str]
    mode: str  # include or exclude
    filter: AssignmentFilter


@frozen
class FilterDecision:
    """What an assignment filter decided for one device and policy: ``applied`` (the policy is
    given), ``not applied``, or ``not evaluated`` (given as if the assignment had no filter), and why."""

    policy_id: str
    filter: str
    mode: str
    outcome: str
    why: tuple[str, ...] = ()

    def text(self) -> str:
        """The decision in a sentence (the filter's name in backticks)."""
        if self.outcome == NOT_EVALUATED:
            return f"filter `{self.filter}` ({self.mode}) not evaluated ({'; '.join(self.why)}): applied as if absent"
        matched = (self.outcome == APPLIED) == (self.mode == "include")
        verdict = "the policy applies" if self.outcome == APPLIED else "the policy does not apply"
        return f"filter `{self.filter}` ({self.mode}) {'matched' if matched else 'did not match'}: {verdict}"


class SnapshotPolicies(AssignedPolicies):
    """``AssignedPolicies`` with a snapshot's assignment filters evaluated on each device's record.

    Intune's precedence for one policy and one device (Filter reports and troubleshooting,
    "Filters and assignment conflict resolution"): an excluded group wins; then an assignment
    with an exclude filter (the policy applies unless the device matches one of them); then an
    assignment with no filter; then include filters (the policy applies if the device matches
    one of them). A filter that cannot be decided for the device leaves its assignment applied
    as if it had no filter, and says so (``scope``).
    """

    def __init__(
        self, assignments: Assignments, policies: Sequence[AssignedPolicy], filtered: Sequence[FilteredTarget]
    ) -> None:
        super().__init__(assignments, policies)
        self.filtered = tuple(filtered)
        self.names = {p.policy_id: p.facts.name or p.policy_id for p in self.policies}

    def policy_ids(self, data: Any) -> frozenset[str]:
        """The ids of the policies the device of managedDevice row ``data`` gets."""
        return self.scope(data)[0] if self.filtered else super().policy_ids(data)

    def chosen_in_scope(self, data: Any) -> tuple[frozenset[str], Facts | None, tuple[str, ...], tuple[str, ...]]:
        """``chosen``, with each filter decision on the device in words, naming its policy."""
        if not self.filtered:
            return super().chosen_in_scope(data)
        ids, decisions = self.scope(data)
        return (*self.merged(ids), tuple(f"{self.names[d.policy_id]}: {d.text()}" for d in decisions))

    def scope(self, data: Any) -> tuple[frozenset[str], tuple[FilterDecision, ...]]:
        """The ids of the policies the device gets, and each filter decision on the way."""
        keys = device_keys(data)
        ids, excluded = self.assignments.included_and_excluded(keys)
        folded = {k.casefold() for k in keys}
        naming = [t for t in self.filtered if t.group is None or not folded.isdisjoint(t.members)]
        device = data if isinstance(data, dict) else {}
        return decided_scope(ids, excluded, naming, lambda target: target.filter.match(device))


def decided_scope(
    included: set[str], excluded: set[str], naming: Sequence[FilteredTarget], match: Callable[[FilteredTarget], Match]
) -> tuple[frozenset[str], tuple[FilterDecision, ...]]:
    """The ids of the policies a device gets from the policies assigned to it without a filter
    (``included``), those its groups are excluded from, and the filtered assignments that name it
    (``naming``), each filter's result on it given by ``match``; and each filter decision."""
    given = included - excluded
    by_policy: dict[str, list[FilteredTarget]] = defaultdict(list)
    for target in naming:
        if target.policy_id not in excluded:
            by_policy[target.policy_id].append(target)
    decisions: list[FilterDecision] = []
    for policy_id, targets in by_policy.items():
        if filtered_policy(policy_id, targets, policy_id in given, match, decisions):
            given.add(policy_id)
        else:
            given.discard(policy_id)
    return frozenset(given), tuple(decisions)


def filtered_policy(
    policy_id: str,
    targets: list[FilteredTarget],
    unfiltered: bool,
    match: Callable[[FilteredTarget], Match],
    decisions: list,
) -> bool:
    """Whether ``policy_id`` applies, given the filtered assignments that name the device and each
    one's filter result on it (Intune's precedence: exclude filters, then no filter, then include
    filters; within a mode, any match)."""
    excluding = [t for t in targets if t.mode == "exclude"]
    if not excluding and unfiltered:
        return True
    including = not excluding  # a match applies the policy (include) or withholds it (exclude)
    results = [(t, match(t)) for t in excluding or targets]
    matched = next((t for t, r in results if r.value is True), None)
    unknown = next(((t, r) for t, r in results if r.value is None), None)
    if matched is None and unknown is not None:
        target, result = unknown
        decisions.append(FilterDecision(policy_id, target.filter.name, target.mode, NOT_EVALUATED, result.unknown))
        return True
    target = matched or results[0][0]
    applies = including == (matched is not None)
    decisions.append(FilterDecision(policy_id, target.filter.name, target.mode, APPLIED if applies else NOT_APPLIED))
    return applies


APPLIED, NOT_APPLIED, NOT_EVALUATED = "applied", "not applied", "not evaluated"


def filter_notes(filtered: Sequence[FilteredTarget]) -> list[str]:
    """A note for each filter that cannot always be evaluated, naming what of it cannot."""
    seen: dict[str, AssignmentFilter] = {t.filter.filter_id: t.filter for t in filtered}
    return [
        f"assignment filter `{f.name}` is not evaluated where it depends on what this version cannot read "
        f"({'; '.join(f.unevaluable)}); there its assignments apply as if they had no filter"
        for f in seen.values()
        if f.unevaluable
    ]
