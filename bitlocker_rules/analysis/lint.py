"""Lint: semantic findings per rule, per pair and over the selection; the checker's
diagnostics as findings; the exit code findings give."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from attrs import evolve, frozen

from .. import nodes as n
from ..errors import Diagnostic
from ..outcome import at_or_above
from ..source import Location, Span
from ..vocabulary import Vocabulary
from . import relations
from .analyzer import Analyzer
from .domains import fact_domains
from .evaluation import NO_BINDINGS, SearchContext, with_missing
from .logic import APPLICABLE, FAIL, GOAL_WORDS, PASS, goal_mask
from .results import CODES, AnalysisError, Deadline, Finding, Undecided, location_of, requirement_fields
from .selection import Entry, assuming, meaning
from .tables import Tables, table_masks

MAX_CONFLICTS = 50
# rule index → state (pass, fail, satisfied…) → an assignment that reaches it, or None
Witnesses = Mapping[int, Mapping[str, Mapping[str, Any] | None]]


_SAMPLES = 96


def lint(
    rulesets: Iterable[Any],
    vocabulary: Vocabulary,
    *,
    rules: Iterable[str] | None = None,
    implication: bool = True,
    assumed: Mapping[str, bool] | None = None,
    timeout: float | Deadline | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Finding]:
    """Semantic findings for the selected rules (the checker's diagnostics come from loading).

    Per rule: can never pass (L101), can never fail (L102), never applicable (L103). Per
    pair: implied by another rule (L104; *satisfied* = pass or not applicable, so A implies B
    when every assignment satisfying A satisfies B), equivalent (L105). Per file: unused
    definitions (L106). Over the whole selection: minimal sets of rules that cannot be
    satisfied together (L107), condition by condition. Rules the analyser cannot decide
    are reported (L100) and left out of the rest. ``assumed`` decides scenario facts
    (``scenario.x`` → bool, the declared scenarios and those they exclude) for the
    conflicts: rulesets contradict each other when their scenarios hold together. A rule
    is useless, redundant or equivalent only if it is so in every scenario, so the other
    findings read the rules as written.

    ``timeout`` (seconds, or a ``Deadline``; None: no limit): the checks still running when
    it passes are reported as one finding L108 (undecided), after every finding made by
    then, the cheap ones (L100, L106) first; ``progress`` is told what is being checked.
    """
    rulesets = list(rulesets)
    analyzer = Analyzer(rulesets, vocabulary, rules, Deadline.of(timeout, progress))
    findings = _unused_definitions(analyzer)
    findings += [_unsupported(e) for e in analyzer.entries if e.problems]
    try:
        _semantic_findings(analyzer, rulesets, rules, implication, assumed, findings)
    except Undecided as exc:
        findings.append(
            _finding(
                "L108",
                f"{exc.diagnostics[0].message}: lint stopped there; the findings "
                "before this one hold, others may be missing",
                [],
                details={"time_limit": exc.limit, "doing": exc.doing},
            )
        )
    return findings


def _semantic_findings(
    analyzer: Analyzer,
    rulesets: list[Any],
    rules: Iterable[str] | None,
    implication: bool,
    assumed: Mapping[str, bool] | None,
    findings: list[Finding],
) -> None:
    """Append to ``findings`` what lint finds per rule, per pair and over the selection."""
    usable = [e for e in analyzer.entries if not e.problems]
    tables = Tables.of(usable, analyzer.vocabulary, analyzer.deadline)
    per_rule = _check_each_rule(analyzer, usable, tables, findings)
    analyzer.deadline.step("sampling assignments")
    samples = _samples(analyzer, usable, per_rule.can)
    bits = {e.index: _satisfied_bits(e, samples, analyzer.deadline) for e in usable if e.index in per_rule.can}
    if implication:
        _implications(analyzer, per_rule.healthy, per_rule.can, bits, tables, findings)
    if assumed:
        scoped = Analyzer(assuming(rulesets, assumed), analyzer.vocabulary, rules, analyzer.deadline)
        holdable = {e.index for e in per_rule.holdable}
        entries = [
            e for e in scoped.entries if e.index in holdable and scoped.satisfiable([e], GOAL_WORDS["satisfied"])
        ]
        samples = _samples(scoped, entries, {e.index: per_rule.can[e.index] for e in entries})
        scoped_tables = Tables.of(entries, scoped.vocabulary, scoped.deadline)
        _conflicts(
            scoped,
            entries,
            {e.index: _satisfied_bits(e, samples, scoped.deadline) for e in entries},
            scoped_tables,
            findings,
        )
    else:
        _conflicts(analyzer, per_rule.holdable, bits, tables, findings)


@frozen
class _PerRule:
    """What lint learns from each rule on its own."""

    can: dict[int, dict[str, dict[str, Any] | None]]  # rule index → state → a witness, or None
    healthy: list[Entry]  # rules that can pass and can fail: checked for implications
    holdable: list[Entry]  # rules that can be satisfied: checked for conflicts


def _check_each_rule(analyzer: Analyzer, entries: Sequence[Entry], tables: Tables, findings: list[Finding]) -> _PerRule:
    """The states each rule can reach; appends to ``findings`` one for each rule that never
    applies, never passes or never fails (or that the analyser cannot decide after all)."""
    can: dict[int, dict[str, dict[str, Any] | None]] = {}
    healthy: list[Entry] = []
    holdable: list[Entry] = []
    for i, e in enumerate(entries):
        analyzer.deadline.step(f"rule {e.id} on its own ({i + 1} of {len(entries)})")
        try:
            found = _reachable(analyzer, e, tables)
        except Undecided:
            raise
        except AnalysisError as exc:
            findings.append(_finding("L100", exc.diagnostics[0].message + f" (rule {e.id} is not analysed)", [e]))
            continue
        can[e.index] = found
        finding = _useless(e, found)
        if finding is None:
            healthy.append(e)
        else:
            findings.append(finding)
        if found["satisfied"] is not None:
            holdable.append(e)
    return _PerRule(can, healthy, holdable)


def _unsupported(e: Entry) -> Finding:
    """L100 for a rule outside the fragment the analyser decides."""
    return _finding(
        "L100",
        e.problems[0].message + f" (rule {e.id} is not analysed)",
        [e],
        details={"problems": [d.code for d in e.problems]},
        span=e.problems[0].span,
    )


def _useless(e: Entry, found: Mapping[str, dict[str, Any] | None]) -> Finding | None:
    """L103, L101 or L102 when the rule never applies, never passes or never fails, else None."""
    if e.rule.applicability is not None and found["applicable"] is None:
        return _finding(
            "L103", f"{e.id} never applies: its `when` condition can never be true", [e], span=e.rule.applicability.span
        )
    if found["pass"] is None:
        return _finding("L101", f"{e.id} can never pass: whenever it applies it fails or is unknown", [e])
    if found["fail"] is None:
        return _finding("L102", f"{e.id} can never fail, so it checks nothing", [e])
    return None


def _finding(
    code: str,
    message: str,
    entries: Sequence[Entry],
    details: Mapping[str, Any] | None = None,
    span: Span | None = None,
    severity: str | None = None,
) -> Finding:
    """A Finding about ``entries``, located at each rule's id (the first rule at ``span`` if given)."""
    locations = []
    for i, e in enumerate(entries):
        at = span if (i == 0 and span is not None) else e.rule.spans.get("id", e.rule.span)
        where = location_of(e.path, e.source, at)
        if where is not None:
            locations.append(where)
    info = {"rulesets": [e.ruleset.id for e in entries], **(details or {})}
    return Finding(code, severity or CODES[code][2], message, tuple(e.id for e in entries), tuple(locations), info)


def _reachable(analyzer: Analyzer, e: Entry, tables: Tables) -> dict[str, dict[str, Any] | None]:
    """For one rule: an assignment reaching each interesting state, or None when none does."""
    goals = {
        "pass": goal_mask(PASS),
        "fail": goal_mask(FAIL),
        "satisfied": goal_mask("satisfied"),
        "not_satisfied": goal_mask("not_satisfied"),
    }
    if e.rule.applicability is not None:
        goals["applicable"] = APPLICABLE
    if tables.has(e):
        return {name: tables.witness(e, mask) for name, mask in goals.items()}
    return {name: analyzer.solve([(e, mask)]) for name, mask in goals.items()}


def _unused_definitions(analyzer: Analyzer) -> list[Finding]:
    findings = []
    seen = set()
    for item in analyzer.rulesets:
        ruleset = getattr(item, "ruleset", item)
        if id(ruleset) in seen:
            continue
        seen.add(id(ruleset))
        path = getattr(item, "path", None) or (ruleset.text.name if ruleset.text else ruleset.id)
        used: set[str] = set()
        stack = [x for r in ruleset.rules for x in (r.applicability, *r.requires) if x is not None]
        while stack:
            node = stack.pop()
            if isinstance(node, n.DefinitionRef):
                if node.name in used:
                    continue
                used.add(node.name)
            stack.extend(n.children(node))
        for d in ruleset.definitions:
            if d.name not in used:
                where = location_of(path, ruleset.text, d.span)
                findings.append(
                    Finding(
                        "L106",
                        "warning",
                        f"definition `{d.name}` is never used by a rule or note",
                        (),
                        (where,) if where else (),
                        {"rulesets": [ruleset.id], "definition": d.name},
                    )
                )
    return findings


def _samples(analyzer: Analyzer, entries: Sequence[Entry], can: Witnesses) -> list[Mapping[str, Any]]:
    """Assignments to refute implications cheaply: every witness found so far, plus random ones."""
    samples: list[Mapping[str, Any]] = []
    rng = random.Random(20240611)
    for e in entries:
        for assignment in (can.get(e.index) or {}).values():
            if assignment is not None:
                samples.append(assignment)
    if len(samples) > _SAMPLES:
        samples = rng.sample(samples, _SAMPLES)
    pools: dict[str, tuple] = {}
    for e in entries:
        if e.index not in can:
            continue
        try:
            domains = fact_domains([e], analyzer.vocabulary, {})
        except AnalysisError:
            continue
        for name, values in domains.items():
            if len(values) > len(pools.get(name, ())):
                pools[name] = values
    for _ in range(_SAMPLES if pools else 0):
        samples.append({name: rng.choice(values) for name, values in pools.items()})
    return samples


def _satisfied_bits(e: Entry, samples: Sequence[Mapping[str, Any]], deadline: Deadline) -> int:
    """Bit i set when the rule is satisfied on sample i (unknown facts count as missing)."""
    deadline.check()
    goal = GOAL_WORDS["satisfied"]
    out = 0
    for i, sample in enumerate(samples):
        ctx = SearchContext(with_missing(sample, e.facts), NO_BINDINGS)
        if e.state(ctx) & goal:
            out |= 1 << i
    return out


def _holds(e: Entry, assignment: Mapping[str, Any], goal: int) -> bool:
    """Whether ``e`` certainly reaches ``goal`` under ``assignment`` (absent facts missing)."""
    state = e.state(SearchContext(with_missing(assignment, e.facts), NO_BINDINGS))
    return bool(state & goal) and not state & ~goal


def _readers(entries: Sequence[Entry]) -> dict[str, list[Entry]]:
    """Each fact → the entries that read it."""
    readers: dict[str, list[Entry]] = {}
    for e in entries:
        for f in set(e.facts):
            readers.setdefault(f, []).append(e)
    return readers


def _implications(
    analyzer: Analyzer,
    entries: Sequence[Entry],
    can: Witnesses,
    bits: Mapping[int, int],
    tables: Tables,
    findings: list[Finding],
) -> None:
    """L104 and L105: rules implied by, or equivalent to, another rule they share a fact with
    (appended to ``findings``; those proved so far when time runs out). Rules with the same
    conditions are equivalent without a search: one of them stands for the others."""
    same = _same_conditions(entries)
    distinct = [e for e in entries if e.index in same]
    readers = _readers(distinct)
    masks = table_masks(tables, distinct, GOAL_WORDS["satisfied"])
    tabled: dict[str, list[tuple[int, int]]] = {}  # fact → (index, mask) of the rules of its table
    for e in distinct:
        if e.index in masks:
            tabled.setdefault(tables.fact[e.index], []).append((e.index, masks[e.index]))
    untabled = {f: [b for b in readers[f] if b.index not in masks] for f in readers}
    implied: dict[int, int] = {}  # rule index → the rules it implies, as bits
    try:
        for i, a in enumerate(distinct):
            analyzer.deadline.step(f"rules implied by {a.id} ({i + 1} of {len(distinct)})")
            found = 0
            mine = masks.get(a.index)
            if mine is not None:  # read off the table: exact, no search
                for b, theirs in tabled[tables.fact[a.index]]:
                    if b != a.index and not mine & ~theirs:
                        found |= 1 << b
            partners = {
                b.index: b
                for f in set(a.facts)
                for b in (readers[f] if mine is None else untabled[f])
                if b.index != a.index
            }
            for other in partners.values():
                if _implies(analyzer, a, other, can, bits):
                    found |= 1 << other.index
            implied[a.index] = found
    finally:
        findings += _implication_findings(entries, _with_same(implied, same))


def _same_conditions(entries: Sequence[Entry]) -> dict[int, int]:
    """For the first of each group of entries with the same conditions: the group, as bits."""
    first: dict[tuple, int] = {}
    groups: dict[int, int] = {}
    for e in entries:
        head = first.setdefault(meaning(e.rule), e.index)
        groups[head] = groups.get(head, 0) | 1 << e.index
    return groups


def _with_same(implied: Mapping[int, int], same: Mapping[int, int]) -> dict[int, int]:
    """The implications among the first of each group, extended to every member of the groups
    (which imply each other)."""
    full: dict[int, int] = {}
    for head, targets in implied.items():
        reached = 0
        for b in relations.bits(targets):
            reached |= same[b]
        for member in relations.bits(same[head]):
            full[member] = reached | same[head] & ~(1 << member)
    return full


def _implies(analyzer: Analyzer, a: Entry, b: Entry, can: Witnesses, bits: Mapping[int, int]) -> bool:
    """Whether every assignment that satisfies ``a`` satisfies ``b``."""
    if bits[a.index] & ~bits[b.index]:
        return False  # a sample satisfies a and not b
    broken = GOAL_WORDS["not_satisfied"]
    if any(_holds(b, w, broken) for w in (can[a.index]["pass"], can[a.index]["satisfied"]) if w):
        return False  # a's own witnesses satisfy a and not b
    return analyzer.solve([(a, GOAL_WORDS["satisfied"]), (b, broken)]) is None


def _implication_findings(entries: Sequence[Entry], implied: Mapping[int, int]) -> list[Finding]:
    """Equivalent rules as one finding per class; one-way implications between classes,
    without those that follow from two others (A ⇒ C ⇒ B makes A ⇒ B redundant to say)."""
    index = {e.index: e for e in entries}
    classes = relations.equivalence_classes([e.index for e in entries], implied)
    findings = [_equivalent([index[i] for i in members]) for members in classes if len(members) > 1]
    edges = relations.between_classes(classes, implied)
    findings += [_redundant(index[b], index[a]) for a, b in relations.not_transitive(edges)]
    return findings


def _equivalent(members: Sequence[Entry]) -> Finding:
    """L105 for one class of equivalent rules (a warning within a ruleset, else info)."""
    rulesets = [m.ruleset for m in members]
    same = len({id(r) for r in rulesets}) < len(rulesets)
    names = ", ".join(m.id for m in members[:-1]) + f" and {members[-1].id}"
    where = (
        ""
        if len({id(r) for r in rulesets}) == 1
        else " (rulesets " + ", ".join(dict.fromkeys(r.id for r in rulesets)) + " overlap)"
    )
    verb = (
        "are equivalent: every assignment satisfies both or neither"
        if len(members) == 2
        else "are equivalent: every assignment satisfies all of them or none"
    )
    return _finding("L105", f"{names} {verb}{where}", members, severity="warning" if same else "info")


def _redundant(rule: Entry, implied_by: Entry) -> Finding:
    """L104 for a rule that another implies (a warning within a ruleset, else info)."""
    same = implied_by.ruleset is rule.ruleset
    where = "" if same else f" (ruleset {implied_by.ruleset.id} and ruleset {rule.ruleset.id} overlap)"
    return _finding(
        "L104",
        f"{rule.id} is redundant: every assignment that satisfies {implied_by.id} also satisfies {rule.id}{where}",
        [rule, implied_by],
        details={"implied_by": implied_by.id},
        severity="warning" if same else "info",
    )


def _conflicts(
    analyzer: Analyzer, entries: Sequence[Entry], bits: Mapping[int, int], tables: Tables, findings: list[Finding]
) -> None:
    """Minimal sets of satisfiable rules that cannot be satisfied together (appended to
    ``findings``; those found so far when time runs out)."""
    cores: list[list[Entry]] = []
    try:
        _conflicting_pairs(analyzer, entries, bits, tables, cores)
        # Then larger cores among what remains once one rule of each pair is set aside:
        # read off the tables among rules of one fact, then searched among all the rest
        # unless a quick assignment satisfies them all.
        removed = {core[-1].index for core in cores}
        rest = [e for e in entries if e.index not in removed]
        cores += _table_conflicts(tables, rest)
        removed |= {core[-1].index for core in cores}
        rest = [e for e in rest if e.index not in removed]
        analyzer.deadline.step(f"conflicts among {len(rest)} rules")
        if not _all_satisfiable(analyzer, rest, tables):
            cores += analyzer.split(rest, GOAL_WORDS["satisfied"])[1][:MAX_CONFLICTS]
    finally:
        findings += [_conflict_finding(analyzer, core) for core in cores]


def _conflicting_pairs(
    analyzer: Analyzer, entries: Sequence[Entry], bits: Mapping[int, int], tables: Tables, cores: list[list[Entry]]
) -> None:
    """Append to ``cores`` every pair of rules sharing a fact that cannot be satisfied together."""
    satisfied = GOAL_WORDS["satisfied"]
    readers = _readers(entries)
    masks = table_masks(tables, entries, satisfied)
    for i, a in enumerate(entries):
        analyzer.deadline.step(f"rules in conflict with {a.id} ({i + 1} of {len(entries)})")
        for b in {b.index: b for f in set(a.facts) for b in readers[f] if b.index > a.index}.values():
            if bits[a.index] & bits[b.index]:
                continue  # a sample satisfies both
            if tables.shared(a, b):
                if not masks[a.index] & masks[b.index]:
                    cores.append([a, b])
                continue
            if analyzer.solve([(a, satisfied), (b, satisfied)]) is None:
                cores.append([a, b])


def _table_conflicts(tables: Tables, entries: Sequence[Entry]) -> list[list[Entry]]:
    """Minimal conflicting sets among rules of one fact, read off their tables: in order, each
    rule that satisfies nothing together with the rules kept before it is left out, with a
    minimal set of those rules (each shrunk by deletion, in order), then itself."""
    masks = table_masks(tables, entries, GOAL_WORDS["satisfied"])
    cores: list[list[Entry]] = []
    kept: dict[str, list[Entry]] = {}
    for e in entries:
        if e.index not in masks:
            continue
        group = kept.setdefault(tables.fact[e.index], [])
        if _common(masks, group) & masks[e.index]:
            group.append(e)
        else:
            cores.append(_mask_core(masks, group, masks[e.index]) + [e])
    return cores


def _common(masks: Mapping[int, int], entries: Sequence[Entry]) -> int:
    """The values every entry of ``entries`` is satisfied on (all values for none)."""
    common = -1
    for e in entries:
        common &= masks[e.index]
    return common


def _mask_core(masks: Mapping[int, int], kept: Sequence[Entry], mask: int) -> list[Entry]:
    """A minimal subset of ``kept`` satisfied on no value of ``mask``, by deletion in order
    (what is kept so far and what is still to try, each as one mask)."""
    after = [-1] * (len(kept) + 1)
    for i in range(len(kept) - 1, -1, -1):
        after[i] = after[i + 1] & masks[kept[i].index]
    core, before = [], mask
    for i, e in enumerate(kept):
        if before & after[i + 1]:  # needed: without it some value would satisfy them all
            core.append(e)
            before &= masks[e.index]
    return core


def _all_satisfiable(analyzer: Analyzer, entries: Sequence[Entry], tables: Tables) -> bool:
    """True when a quick assignment satisfies every entry: each tabled fact at a value that
    satisfies all of its rules, the other rules searched with those values fixed (False
    proves nothing)."""
    satisfied = GOAL_WORDS["satisfied"]
    masks = table_masks(tables, entries, satisfied)
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        if e.index in masks:
            groups.setdefault(tables.fact[e.index], []).append(e)
    chosen = {}
    for fact, members in groups.items():
        common = _common(masks, members)
        if not common:
            return False
        chosen[fact] = tables.values[fact][(common & -common).bit_length() - 1]
    others = [(e, satisfied) for e in entries if e.index not in masks]
    return analyzer.solve(others, chosen) is not None


def _conflict_finding(analyzer: Analyzer, core: Sequence[Entry]) -> Finding:
    """L107 for one minimal set of rules that cannot be satisfied together."""
    record = analyzer.conflict(core)
    rulesets = list(dict.fromkeys(record.rulesets))
    if len(rulesets) > 1:
        lead = "rulesets " + " and ".join(rulesets) + " contradict each other: "
    else:
        lead = f"rules of ruleset {rulesets[0]} contradict each other: "
    finding = _finding(
        "L107",
        lead + record.message(),
        core,
        details={
            "requirements": [requirement_fields(r) for r in record.requirements],
        },
    )
    # Point at the conditions that clash (the first one of each rule), not at the rule ids.
    at = {r.rule: r.location for r in reversed(record.requirements) if r.location is not None}
    return evolve(finding, locations=tuple(at.get(e.id) or loc for e, loc in zip(core, finding.locations)))


def diagnostic_findings(diagnostics: Iterable[Diagnostic]) -> list[Finding]:
    """The checker's (or parser's) diagnostics as findings, for one lint report."""
    out = []
    for d in diagnostics:
        locations: tuple[Location, ...] = ()
        if d.source is not None and d.span is not None:
            locations = (location_of(d.source.name, d.source, d.span),)
        elif d.file:
            locations = (Location(d.file, 1, 1, 1, 1),)
        details = {"help": d.help} if d.help else {}
        out.append(Finding(d.code, d.severity, d.message, (), locations, details))
    return out


def lint_exit_code(findings: Iterable[Finding], fail_on: str = "warning") -> int:
    """0 when no finding is at or above ``fail_on`` (error, warning, info), else 1. An
    undecided check (L108) is not a finding about the rules: it never makes the code 1."""
    return int(any(at_or_above(f.severity, fail_on) for f in findings if f.code != "L108"))
