"""Every possible membership: the distinct pairs of policy sets (today's, the proposal's) that a
device could get, whatever groups it is in and whichever assignment filters it matches.

The pair a membership gives depends only on the assignment targets it hits, and hits add up:
being in a group brings, on each side, the policies assigned to the group, those the group is
excluded from and the group's filtered assignments; matching a filter marks it matched. So the
search is over patterns of hits, not over the subsets of groups. Groups that bring the same
hits on both sides are one variable (a device in two of them is as in one), a group that brings
nothing is none, and the patterns of the first k variables grow into those of the first k + 1
by adding the next variable's hits to each (a worklist that stops growing as patterns
coincide). Each pattern keeps the fewest variables that reach it, so the membership shown for a
pair is a smallest one. Past ``LIMIT`` distinct patterns the search stops before the next
variable and says what it covered: every combination of the variables taken, the rest not hit.

The devices an assignment file names directly are one variable: a device is none of them or
one (an option each; an alias named twice, by name and by id, is searched as two devices, each
getting its own entry's policies). Each filter is taken as matching or not, independently of the
others, whether or not this version can evaluate it (Intune decides it on the device); filters
come last, and one is tried only where one of its assignments is in play. All-users assignments
are not device-scoped (the snapshot's reader already leaves them out, with a note).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from attrs import field, frozen

from ..assignment_filters import Match
from ..assignments import AssignedPolicies
from ..facts import Facts
from ..snapshot.scope import FilteredTarget, SnapshotPolicies, decided_scope

LIMIT = 10_000  # distinct hit patterns kept; past it the search stops and says so

Hit = tuple[str, int, str]  # (kind, side, id): a policy included or excluded, a filtered target in play, a match
_IN, _OUT, _TARGET, _MATCH = "in", "out", "target", "match"


@frozen
class Membership:
    """What a possible device is in: groups (one for each class of groups that bring the same
    policies), devices the assignment file names directly, the assignment filters it matches and
    those in play it does not match; every other group and filter: not."""

    groups: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    matching: tuple[str, ...] = ()
    not_matching: tuple[str, ...] = ()


@frozen
class MembershipPair:
    """A distinct pair of policy sets a possible device gets (ids today, under the proposal; empty
    on a side without assignments: every policy) and a smallest membership that gives it."""

    before: frozenset[str]
    after: frozenset[str]
    membership: Membership


@frozen
class MembershipSearch:
    """Every distinct pair found, and how far the search went: of the ``total`` combinations of
    the groups, devices named and filters the assignments name (each group in or not, at most one
    device named, each filter matching or not), the ``searched`` ones (the others join none of the
    variables the search did not reach)."""

    pairs: tuple[MembershipPair, ...]
    searched: int
    total: int
    limit: int = LIMIT  # the distinct memberships (patterns of hits) the search keeps at most
    assigned: tuple[bool, bool] = (False, False)  # whether today's, the proposal's policies have assignments
    group_names: Mapping[str, str] = field(factory=dict)  # what a snapshot names its groups (ids), by id

    @property
    def complete(self) -> bool:
        """Whether every combination was searched."""
        return self.searched == self.total


NOTHING_SEARCHED = MembershipSearch((), 1, 1)  # without assignments: one membership, every device


@frozen
class _Variable:
    """One membership variable: its options (the name each is shown by and the hits it adds; not
    taking any adds none), how many combinations of what it stands for it covers, and for a filter
    the targets it decides (a filter is tried only where one of them is in play; None: always)."""

    kind: str  # group, device or filter
    options: tuple[tuple[str, frozenset[Hit]], ...]
    combinations: int
    decides: frozenset[Hit] | None = None


class _Side:
    """One side's policies (today's or the proposal's) as a function of a pattern of hits."""

    def __init__(self, index: int, policy: Facts | AssignedPolicies | None) -> None:
        self.index = index
        self.assigned = policy if isinstance(policy, AssignedPolicies) else None
        self.filtered: tuple[FilteredTarget, ...] = policy.filtered if isinstance(policy, SnapshotPolicies) else ()

    def ids(self, hits: Iterable[Hit]) -> frozenset[str]:
        """The ids of the policies a device with these hits gets (none named without assignments)."""
        if self.assigned is None:
            return frozenset()
        included, excluded, naming, matched = set(), set(), [], set()
        for kind, side, name in hits:
            if kind == _MATCH:
                matched.add(name)
            elif side != self.index:
                continue
            elif kind == _IN:
                included.add(name)
            elif kind == _OUT:
                excluded.add(name)
            else:
                naming.append(self.filtered[int(name)])
        return decided_scope(included, excluded, naming, lambda t: Match(t.filter.filter_id in matched))[0]


def possible_memberships(
    before: Facts | AssignedPolicies | None, after: Facts | AssignedPolicies | None, limit: int = LIMIT
) -> MembershipSearch:
    """Every distinct pair of policy sets a device in any groups, matching any filters, gets
    under ``before`` and ``after`` (nothing to search when neither side has assignments)."""
    sides = (_Side(0, before), _Side(1, after))
    if all(side.assigned is None for side in sides):
        return NOTHING_SEARCHED
    targets = _targets(sides)
    variables, inert = _variables(targets)
    start: dict[frozenset[Hit], Chosen] = {_canonical(sides, targets.start): ()}
    patterns, taken = _grown(start, variables, limit, lambda hits: _canonical(sides, hits))
    searched = math.prod(v.combinations for v in variables[:taken])
    total = math.prod(v.combinations for v in variables)
    found = _pairs(sides, patterns, variables)
    assigned = (sides[0].assigned is not None, sides[1].assigned is not None)
    return MembershipSearch(found, inert * searched, inert * total, limit, assigned)


@frozen
class _Targets:
    """What the assignments of both sides target: the hits every device has, and the hits each
    group, each device named and each filter (its name, the filtered targets it decides) brings."""

    start: frozenset[Hit]
    groups: dict[str, set[Hit]]
    devices: dict[str, set[Hit]]
    filters: dict[str, tuple[str, set[Hit]]]  # by filter id


def _targets(sides: Sequence[_Side]) -> _Targets:
    """Both sides' assignment targets as the hits each brings."""
    start: set[Hit] = set()
    groups: dict[str, set[Hit]] = {}
    devices: dict[str, set[Hit]] = {}
    filters: dict[str, tuple[str, set[Hit]]] = {}
    for side in sides:
        if side.assigned is None:
            continue
        assignments, s = side.assigned.assignments, side.index
        start.update((_IN, s, p) for p in assignments.all_devices)
        for group in assignments.groups:
            hits = groups.setdefault(group.name, set())
            hits.update((_IN, s, p) for p in group.policies)
            hits.update((_OUT, s, p) for p in group.excluded_from)
        for key, ids in assignments.devices.items():
            devices.setdefault(key, set()).update((_IN, s, p) for p in ids)
        for i, target in enumerate(side.filtered):
            hit = (_TARGET, s, str(i))
            (start if target.group is None else groups.setdefault(target.group, set())).add(hit)
            filters.setdefault(target.filter.filter_id, (target.filter.name, set()))[1].add(hit)
    return _Targets(frozenset(start), groups, devices, filters)


def _variables(targets: _Targets) -> tuple[list[_Variable], int]:
    """The variables (group classes, the devices named, filters: in that order) and the
    combinations of what brings nothing (groups, devices)."""
    classes = _classes(targets.groups)
    inert = 2 ** len(classes.pop(frozenset(), []))
    variables = [_Variable("group", ((names[0], hits),), 2 ** len(names)) for hits, names in classes.items()]
    named = _classes(targets.devices)
    named.pop(frozenset(), None)
    if named:  # one device is at most one of those named: one variable, an option each
        options = tuple((names[0], hits) for hits, names in named.items())
        variables.append(_Variable("device", options, len(targets.devices) + 1))
    else:
        inert *= len(targets.devices) + 1
    variables += [
        _Variable("filter", ((name, frozenset({(_MATCH, -1, fid)})),), 2, frozenset(decides))
        for fid, (name, decides) in sorted(targets.filters.items())
    ]
    return variables, inert


def _classes(hits_by_name: dict[str, set[Hit]]) -> dict[frozenset[Hit], list[str]]:
    """Names that bring the same hits, together (in the order of their names)."""
    classes: dict[frozenset[Hit], list[str]] = {}
    for name, hits in sorted(hits_by_name.items()):
        classes.setdefault(frozenset(hits), []).append(name)
    return classes


Chosen = tuple[tuple[int, int], ...]  # (variable, option) of each variable taken


def _canonical(sides: Sequence[_Side], hits: frozenset[Hit]) -> frozenset[Hit]:
    """``hits`` without what can no longer change either side: a policy the device's groups are
    excluded from stays withheld (its inclusions and filtered assignments are dropped), and a
    policy assigned without a filter makes its include filters moot (its exclude filters decide)."""
    excluded = {(s, name) for kind, s, name in hits if kind == _OUT}
    included = {(s, name) for kind, s, name in hits if kind == _IN}

    def matters(hit: Hit) -> bool:
        kind, s, name = hit
        if kind == _IN:
            return (s, name) not in excluded
        if kind != _TARGET:
            return True
        target = sides[s].filtered[int(name)]
        return (s, target.policy_id) not in excluded and not (
            target.mode == "include" and (s, target.policy_id) in included
        )

    return frozenset(filter(matters, hits))


def _grown(
    patterns: dict[frozenset[Hit], Chosen],
    variables: Sequence[_Variable],
    limit: int,
    canonical: Callable[[frozenset[Hit]], frozenset[Hit]],
) -> tuple[dict[frozenset[Hit], Chosen], int]:
    """Every pattern of hits the variables reach (each ``canonical``), each with the fewest
    variables reaching it, and how many variables were taken (all, unless the next one would pass
    ``limit`` patterns)."""
    for index, variable in enumerate(variables):
        grown = _with_variable(patterns, index, variable, limit, canonical)
        if grown is None:
            return patterns, index
        patterns = grown
    return patterns, len(variables)


def _with_variable(
    patterns: dict[frozenset[Hit], Chosen],
    index: int,
    variable: _Variable,
    limit: int,
    canonical: Callable[[frozenset[Hit]], frozenset[Hit]],
) -> dict[frozenset[Hit], Chosen] | None:
    """The patterns with each option of ``variable`` added to each, or None past ``limit``."""
    grown = dict(patterns)
    for hits, chosen in patterns.items():
        if variable.decides is not None and hits.isdisjoint(variable.decides):
            continue  # a filter none of whose assignments is in play changes nothing
        for option, (_, adds) in enumerate(variable.options):
            reached, taken = canonical(hits | adds), (*chosen, (index, option))
            if reached not in grown or len(taken) < len(grown[reached]):
                grown[reached] = taken
                if len(grown) > limit:
                    return None
    return grown


def _pairs(
    sides: Sequence[_Side], patterns: dict[frozenset[Hit], Chosen], variables: Sequence[_Variable]
) -> tuple[MembershipPair, ...]:
    """Each distinct pair of policy sets with a smallest membership giving it (smallest first)."""
    best: dict[tuple[frozenset[str], frozenset[str]], tuple[Chosen, frozenset[Hit]]] = {}
    for hits, chosen in sorted(patterns.items(), key=lambda item: (len(item[1]), item[1])):
        best.setdefault((sides[0].ids(hits), sides[1].ids(hits)), (chosen, hits))
    return tuple(
        MembershipPair(before, after, _membership(sides, variables, chosen, hits))
        for (before, after), (chosen, hits) in best.items()
    )


def _membership(
    sides: Sequence[_Side], variables: Sequence[_Variable], chosen: Chosen, hits: frozenset[Hit]
) -> Membership:
    """The membership of the options ``chosen``: a group for each class, the filters in play matched or not."""
    named: dict[str, list[str]] = {"group": [], "device": [], "filter": []}
    for index, option in chosen:
        named[variables[index].kind].append(variables[index].options[option][0])
    in_play = {sides[s].filtered[int(i)].filter.name for kind, s, i in hits if kind == _TARGET}
    return Membership(
        tuple(named["group"]),
        tuple(named["device"]),
        tuple(named["filter"]),
        tuple(sorted(in_play.difference(named["filter"]))),
    )
