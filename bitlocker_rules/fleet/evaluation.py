"""Evaluating a fleet: each row's device with its policies, counted and recorded.

By default no Report is built: the compiled verdict codes are counted per ruleset (by
distinct codes tuple), and only the rules that failed or are unknown are explained (through
the engine's memo; only the failed ones when no record is wanted). What a ruleset contributes
to a device's record (its entries, their JSON text, the failure reasons) is made once per
distinct combination of verdict codes and explanations, and shared by every device with it:
a device finds it by the values its failed and unknown rules read, without asking the engine
for each rule's explanation.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import getitem
from typing import Any

import attrs

from .. import nodes as n
from ..assignments import AssignedPolicies
from ..engine import (
    Engine,
    Explained,
    LoadedRuleset,
    Reads,
    conflict_record,
    deciding_values,
    mark_conflicts,
    policy_view,
    shown_outcome,
)
from ..errors import (
    UNLISTED_PROBLEMS,
    BitLockerRulesError,
    Diagnostic,
    ShownText,
    clip,
    joined_values,
    redact,
    shown_text,
)
from ..facts import Conflict, Facts, merge_facts
from ..outcome import Origins, Report, RuleOutcome, Status
from ..source import RecordPlace
from ..verdict import CODES, OPEN, STATUSES, Verdict
from ..vocabulary import Vocabulary
from ..waivers import Waiver, waived
from .devices import DeviceReader, RowTyper, device_facts, device_subject, fleet_device, row_places
from .results import (
    DeviceRecord,
    DeviceResult,
    FleetSummary,
    Tally,
    device_record,
    failure_reasons,
    json_head,
    json_line,
    json_text,
    outcome_entry,
    record_from_parts,
    waived_entry,
)
from .rows import BadRow, FleetRow, JsonLine, decoded_row
from .waiving import FleetWaivers

Collect = Callable[[DeviceResult], None]


def evaluate_fleet(
    rows: Iterable[FleetRow],
    engine: Engine,
    policy: Facts | AssignedPolicies | None = None,
    *,
    write: Callable[[dict], None] | None = None,
    progress: Callable[[int], None] | None = None,
    reader: DeviceReader = device_facts,
    record: Callable[[int, Report], Any] | None = None,
    encode: Callable[[Any], Any] | None = None,
    collect: Collect | None = None,
    waivers: FleetWaivers | None = None,
) -> FleetSummary:
    """Evaluate every row; ``write`` gets one result per device as it is made.

    ``policy`` is the policy facts every device shares, or ``AssignedPolicies`` saying which
    policies each device gets (from an assignment file).

    The result is ``record(row number, report)``. By default it is ``device_record``'s
    JSON-ready record, made from verdict codes without building a Report (the records share
    their per-rule entries: treat them as read-only). A renderer that needs the whole report
    passes its own ``record``. ``encode``, when given, turns each result into what ``write``
    gets (``json_line`` for JSON Lines); ``evaluate_fleet_parallel`` runs it in the worker
    processes, so both must be module-level functions there. ``collect``, when given, gets a
    ``DeviceResult`` for each device, in row order: what a fleet report keeps beyond the
    counters (the worst devices, an example of each rule's failure, findings) is gathered
    from these, and the whole report is built only for the devices it asks it of.

    ``waivers``, when given, turn each failure they cover into ``waived`` after the device is
    evaluated (its records, its counts and what ``collect`` gets).
    """
    codes = VerdictPath(engine, policy) if record is None else None
    return evaluate_rows(rows, engine, policy, codes, write, progress, reader, record, encode, collect, waivers)


def evaluate_rows(
    rows: Iterable[FleetRow],
    engine: Engine,
    policy: Facts | AssignedPolicies | None,
    codes: VerdictPath | None,
    write: Callable[[Any], None] | None,
    progress: Callable[[int], None] | None,
    reader: DeviceReader,
    record: Callable[[int, Report], Any] | None,
    encode: Callable[[Any], Any] | None,
    collect: Collect | None,
    waivers: FleetWaivers | None = None,
) -> FleetSummary:
    """``evaluate_fleet``'s loop, for one process or one worker's batch: ``codes`` is the default
    path (None when ``record`` makes each result from the whole report)."""
    tally = Tally(engine)
    tally.waivers_given = waivers is not None
    wanted = write is not None or collect is not None
    write_line = _line_writer(write, encode)
    for row in rows:
        result = _evaluate_row(row, engine, policy, reader, tally, codes, record, wanted, collect, waivers)
        if result is not None and write is not None:
            if write_line is not None and type(result) is _Counted:
                write_line(result.line_data())
            else:
                write(output(result, encode))
        if progress is not None:
            progress(tally.rows())
    return tally.summary()


def _line_writer(
    write: Callable[[Any], None] | None, encode: Callable[[Any], Any] | None
) -> Callable[[bytes], Any] | None:
    """Where ``write`` takes a device's JSON line as encoded bytes (``line_writer``, as the command
    line's JSON Lines writer does), that writer: the default path then writes each line from its
    parts' bytes, encoded once per part, not once per device. None otherwise."""
    if encode is not json_text and encode is not json_line:
        return None
    make = getattr(write, "line_writer", None)
    return make() if make is not None else None


def output(result: Any, encode: Callable[[Any], Any] | None) -> Any:
    """What ``write`` gets for one result: a device counted on the default path becomes its JSON
    line straight from its parts (no record is built for it), or its record."""
    if type(result) is _Counted:
        if encode is json_text or encode is json_line:
            return result.line()  # shown already: masked and escaped
        result = result.record()
    return encode(result) if encode is not None else result


def _evaluate_row(
    row: FleetRow,
    engine: Engine,
    policy: Facts | AssignedPolicies | None,
    reader: DeviceReader,
    tally: Tally,
    codes: VerdictPath | None,
    record: Callable[[int, Report], Any] | None,
    wanted: bool,
    collect: Collect | None,
    waivers: FleetWaivers | None = None,
) -> Any:
    """One row's result (None when it was bad, or when no result is wanted)."""
    if isinstance(row.data, JsonLine):
        row = FleetRow(row.number, decoded_row(row.number, row.data.raw, row.data.encoding))
    if isinstance(row.data, BadRow):
        tally.bad(row.data)
        return None
    try:
        if codes is not None:
            return codes.evaluate(row, reader, wanted, tally, collect, waivers)
        device = reader(row.data, engine, row.number)
    except BitLockerRulesError as exc:
        tally.bad(BadRow(row.number, _row_message(exc.diagnostics)))
        return None
    chosen, merged, _, _ = _policy_for(policy, row.data)
    report = _waived(engine.evaluate(_merged(merged, device), subject=device.name), waivers, row.data, chosen)
    tally.add(report)
    _count_scope(policy, chosen, tally)
    if collect is not None:
        collect(_report_result(row, report, None, places=_places(reader, row, engine)))
    if not wanted:
        return None
    assert record is not None, "evaluate_rows is given a record whenever it is given no codes"
    return record(row.number, report)  # a renderer's record: whole reports, no policy list


def _merged(policy: Facts | None, device: Facts) -> Facts:
    return merge_facts([policy, device], name=device.name) if policy else device


def _row_message(diagnostics: Sequence[Diagnostic]) -> str:
    """A bad row's problems in one line that a report shows whole (it clips a row's line at
    1,000 characters): the first problems, as many as fit in ``_ROW_MESSAGE_BUDGET``, then how
    many more there are, and the count of those not even listed (I010) always at the end."""
    counts = [_row_problem(d) for d in diagnostics if d.code == UNLISTED_PROBLEMS]
    listed = [d for d in diagnostics if d.code != UNLISTED_PROBLEMS]
    shown: list[str] = []
    size = sum(len(text) + 2 for text in counts) + _MORE_PROBLEMS_SIZE
    for d in listed:
        text = _row_problem(d)
        if shown and size + len(text) > _ROW_MESSAGE_BUDGET:
            break
        shown.append(text)
        size += len(text) + 2
    more = [f"{len(listed) - len(shown)} more problems of this row not shown here"] if len(shown) < len(listed) else []
    return redact("; ".join([*shown, *more, *counts]))


def _row_problem(d: Diagnostic) -> str:
    """One diagnostic of a bad row, its parts shortened (a row can hold a value of any length)."""
    where = f"{clip(d.path, 200)}: " if d.path else ""
    return f"{where}{clip(d.message, 300)}" + (f" ({clip(d.help, 200)})" if d.help else "")


def _waived(report: Report, waivers: FleetWaivers | None, data: Any, chosen: frozenset[str]) -> Report:
    """A device's report with the failures its waivers cover ``waived`` (as it is without waivers)."""
    if waivers is None:
        return report
    return attrs.evolve(waived(report, waivers.for_row(data, chosen)), waivers_given=True)


def _report_result(
    row: FleetRow,
    report: Report,
    policies: tuple[str, ...] | None,
    scope: tuple[str, ...] = (),
    *,
    places: Callable[[], Mapping[str, RecordPlace]],
) -> DeviceResult:
    """A device evaluated through its whole report, as a collector sees it."""
    shown = [o for o in report.outcomes if o.status in (Status.FAIL, Status.UNKNOWN, Status.WAIVED)]
    badness = (report.count(Status.FAIL), report.count(Status.UNKNOWN))
    number = row.number
    return DeviceResult(
        number,
        report.subject,
        badness,
        shown,
        lambda: device_record(number, report, policies, scope),
        lambda: report,
        places,
    )


def _places(reader: DeviceReader, row: FleetRow, engine: Engine) -> Callable[[], Mapping[str, RecordPlace]]:
    """Where the facts of ``row``'s device are, when asked: the reader's own answer (a snapshot's
    reader knows the records it joined), else the row's (``row_places``)."""
    places = getattr(reader, "places", row_places)
    return lambda: places(row.data, engine, row.number)


class _Detail:
    """What a fleet needs of one explained outcome: its failure reasons, its record entry and
    the entry's JSON text (secrets masked); for collectors, the outcome with where its values came from."""

    __slots__ = ("_conflicts", "_origins", "_shown", "_vocabulary", "data", "entry", "outcome", "reasons")

    def __init__(
        self,
        outcome: RuleOutcome,
        shown: RuleOutcome,
        origins: Mapping[str, Origins],
        conflicts: Mapping[str, Conflict],
        vocabulary: Vocabulary,
    ) -> None:
        self.outcome = outcome
        self.reasons = failure_reasons(shown) if shown.status is Status.FAIL else ()
        self.entry = outcome_entry(shown)
        # Shown and encoded once, for every line it is in.
        self.data = shown_text(json.dumps(self.entry, ensure_ascii=False)).encode()
        self._origins, self._conflicts, self._vocabulary = origins, conflicts, vocabulary
        self._shown: RuleOutcome | None = None

    @property
    def sourced(self) -> RuleOutcome:
        """The outcome as a report shows it: policy files named, conflicts marked (made on first use)."""
        if self._shown is None:
            self._shown = shown_outcome(self.outcome, self._origins, self._conflicts, self._vocabulary)
        return self._shown


class _Part:
    """What one ruleset gives a device's record and the fleet's counters, for one combination
    of verdict codes and explanations (shared by every device that has it). Its JSON text is
    made at once, encoded (every JSON line uses it, most written as bytes); as a string and its
    list of entries only when asked."""

    __slots__ = ("_entries", "_text", "data", "details", "failed", "plan", "reasons", "statuses")

    def __init__(self, plan: _CodesPlan, details: list[_Detail]) -> None:
        self.plan, self.details = plan, tuple(details)
        datas: list[Any] = list(map(getitem, plan.path.datas, plan.codes))  # picked in C; None where open, set next
        for i, detail in zip(plan.open, details):
            datas[i] = detail.data
        # Each entry's text is shown and a JSON object: their join is shown (see joined_values), as is.
        self.data = b", ".join(datas)
        self.failed, self.statuses = plan.failed, plan.statuses
        self.reasons = tuple(itertools.chain.from_iterable([d.reasons for d in details]))
        self._entries: list[dict] | None = None
        self._text: ShownText | None = None

    @property
    def text(self) -> ShownText:
        """The entries' JSON text as a string (decoded on first use: a line made as text, a record)."""
        if self._text is None:
            self._text = ShownText(self.data.decode())
        return self._text

    @property
    def entries(self) -> list[dict]:
        """The ruleset's entries of a device record, in rule order."""
        if self._entries is None:
            entries: list[Any] = list(map(getitem, self.plan.path.entries, self.plan.codes))  # None where open
            for i, detail in zip(self.plan.open, self.details):
                entries[i] = detail.entry
            self._entries = entries
        return self._entries


class _RulesetPath:
    """One ruleset on the default path: its rules, their fixed entries, a plan per codes tuple."""

    def __init__(self, index: int, loaded: LoadedRuleset, engine: Engine, per_policy: set[tuple[str, str]]) -> None:
        self.index, self.loaded, self.rules = index, loaded, loaded.rules
        self.per_policy = any((loaded.id, rule.id) in per_policy for rule in loaded.rules)
        self.engine = engine
        # Per rule, by verdict code: its fixed entry and the entry's text, shown and encoded (None
        # for the open codes, whose entries are explained).
        fixed = [
            {code: _fixed_entry(rule, code) for code in (Verdict.PASS, Verdict.NOT_APPLICABLE)} for rule in self.rules
        ]
        self.entries: list[tuple[dict | None, ...]] = [
            tuple(made[code][0] if code in made else None for code in Verdict) for made in fixed
        ]
        self.datas: list[tuple[bytes | None, ...]] = [
            tuple(made[code][1] if code in made else None for code in Verdict) for made in fixed
        ]
        self.plans: dict[tuple[int, ...], _CodesPlan] = {}

    def plan(self, codes: tuple[int, ...]) -> _CodesPlan:
        """The plan for one codes tuple (made once)."""
        plan = self.plans.get(codes)
        if plan is None:
            if len(self.plans) >= _PLANS_LIMIT:
                self.plans.clear()
            plan = self.plans[codes] = _CodesPlan(self, codes)
        return plan


class _CodesPlan:
    """A ruleset's verdict codes on a device: which rules need explaining (those that failed or
    are unknown; only the failed ones when no record is made), and the part when none does."""

    __slots__ = ("codes", "failed", "failing", "fixed", "open", "path", "reads", "statuses", "uses")

    def __init__(self, path: _RulesetPath, codes: tuple[int, ...]) -> None:
        self.path, self.codes = path, codes
        # Picked in C: a large ruleset makes a plan for about every other device (its codes hardly repeat).
        self.open = tuple(itertools.compress(itertools.count(), map(OPEN.__contains__, codes)))
        self.failing = tuple(itertools.compress(itertools.count(), map(_FAIL.__eq__, codes)))
        self.failed = bool(self.failing)
        self.statuses = tuple(map(codes.count, _CODE_ORDER))
        self.fixed = None if self.open else self.part([])
        self.reads: Reads | None = None  # what the open rules' explanations read together (made on second use)
        self.uses = 0  # counted until the second use (and on, when the explanations are not memoised)

    def key(self, values: Mapping[str, Any]) -> tuple | None:
        """The values the open rules' explanations read, as a key: devices that agree on it share
        one part. None on the plan's first use (many codes tuples of a large ruleset are seen
        once, and no part is kept for them yet) or when the explanations are not memoised."""
        reads = self.reads
        if reads is None:
            self.uses += 1
            if self.uses != 2:
                return None
            reads = self.reads = self.path.engine.reads([self.path.rules[i] for i in self.open])
            if reads is None:
                return None
        return reads.key(values)

    def part(self, details: list[_Detail]) -> _Part:
        """The part with ``details`` for the open rules, in order."""
        return _Part(self, details)


class VerdictPath:
    """The default fleet path: verdict codes per device; only failed and unknown rules explained.

    It counts and writes what ``Tally.add`` and ``device_record`` make of the full report
    (the tests compare both), without building a Report: passing and not applicable rules
    need no explanation, and the explanations of the others are memoised by the engine. A
    device whose own facts conflict or overlap its policies' takes the report path.
    """

    def __init__(self, engine: Engine, policy: Facts | AssignedPolicies | None) -> None:
        self.engine, self.policy = engine, policy
        per_policy = engine.per_policy_rules()
        self.rulesets = tuple(_RulesetPath(i, loaded, engine, per_policy) for i, loaded in enumerate(engine.rulesets))
        self.typer = RowTyper(engine.vocabulary)
        self.contexts: dict[frozenset[str], _PolicyContext] = {}  # by the ids of the policies chosen
        # A part with some failures waived, made once per part and waivers (devices share both).
        self.waived_parts: dict[tuple, _WaivedPart] = {}

    def evaluate(
        self,
        row: FleetRow,
        reader: DeviceReader,
        wanted: bool,
        tally: Tally,
        collect: Collect | None = None,
        waivers: FleetWaivers | None = None,
    ) -> dict | _Counted | None:
        """Count one device; its record (or what it is made from) when ``wanted``. Raises InputError
        for a bad row. ``waivers`` turn the failures they cover into ``waived``."""
        chosen, policy, names, scope = _policy_for(self.policy, row.data)
        context = self._context(chosen, policy)
        values = self.typer.values(row.data) if reader in (device_facts, fleet_device) else None
        if values is None:
            device = reader(row.data, self.engine, row.number)
            if device.conflicts or not context.taken.isdisjoint(device.values):
                report = self.engine.evaluate(
                    _merged(policy, device), subject=device.name, with_origins=collect is not None
                )
                report = _waived(report, waivers, row.data, chosen)
                tally.add(report)
                _count_scope(self.policy, chosen, tally)
                if collect is not None:
                    collect(_report_result(row, report, names, scope, places=_places(reader, row, self.engine)))
                return device_record(row.number, report, names, scope) if wanted else None
            values, subject = dict(device.table), device.name
        else:
            subject = ""
        if context.base:
            values = {**context.base, **values}
        # A dict of this row's own (the typer's, a copy of the device's, or the merge): resolved in place.
        # With waivers every part is made: which failures are waived is read from them.
        parts = self._count(self.engine.resolve(values), tally, context, wanted or waivers is not None)
        _count_scope(self.policy, chosen, tally)
        waived_count = None
        if waivers is not None:
            parts, waived_count = self._waive(parts, waivers.for_row(row.data, chosen), tally)
        if not wanted:
            return None
        counted = _Counted(
            row.number, subject or device_subject(row.data, row.number), names, parts, waived_count, scope
        )
        if collect is not None:
            engine = self.engine

            def whole_report() -> Report:
                device = reader(row.data, engine, row.number)
                return _waived(
                    engine.evaluate(_merged(policy, device), subject=counted.subject), waivers, row.data, chosen
                )

            statuses = counted.statuses()
            collect(
                DeviceResult(
                    row.number,
                    counted.subject,
                    (statuses[1], statuses[2]),
                    [d.sourced for part in parts for d in part.details],
                    counted.record,
                    whole_report,
                    _places(reader, row, engine),
                )
            )
        return counted

    def _waive(self, parts: list[Any], covered: Mapping[str, Waiver], tally: Tally) -> tuple[list[Any], int]:
        """The parts with each failure a waiver covers waived (counted so), and how many were."""
        if not covered:
            return parts, 0
        waived_count, unwaived = 0, False
        shown: list[Any] = []
        for path, part in zip(self.rulesets, parts):
            plan = part.plan
            chosen = {i: covered[path.rules[i].id] for i in plan.failing if path.rules[i].id in covered}
            unwaived = unwaived or len(chosen) < len(plan.failing)
            if not chosen:
                shown.append(part)
                continue
            for i, waiver in chosen.items():
                tally.waive(tally.firsts[path.index] + i, waiver.id, part.details[plan.open.index(i)].reasons)
            waived_count += len(chosen)
            shown.append(self._waived_part(part, chosen))
        if waived_count and not unwaived:
            tally.failed_devices -= 1  # every failure of the device is waived
        return shown, waived_count

    def _waived_part(self, part: _Part, chosen: dict[int, Waiver]) -> _WaivedPart:
        key = (part, *((i, w.id) for i, w in chosen.items()))  # a part by identity: it is shared, never copied
        made = self.waived_parts.get(key)
        if made is None:
            if len(self.waived_parts) >= _PARTS_LIMIT:
                self.waived_parts.clear()
            made = self.waived_parts[key] = _WaivedPart(part, chosen)
        return made

    def count(self, values: dict, tally: Tally, wanted: bool = True) -> list[_Part]:
        """Count one device's verdicts from its resolved values, policies' included (``Engine.resolve``),
        when every device gets every policy (no assignment file); the parts of its record when ``wanted``."""
        policy = self.policy if not isinstance(self.policy, AssignedPolicies) else None
        return self._count(values, tally, self._context(_EVERY_POLICY, policy), wanted)

    def _context(self, chosen: frozenset[str], policy: Facts | None) -> _PolicyContext:
        context = self.contexts.get(chosen)
        if context is None:  # one per distinct set of policies
            context = self.contexts[chosen] = _PolicyContext(policy, self.engine)
        return context

    def _count(self, values: dict, tally: Tally, context: _PolicyContext, wanted: bool = True) -> list[_Part]:
        """Count one device's verdicts, reasons and scenarios; the parts of its record when ``wanted``."""
        parts: list[_Part] = []
        failed = False
        views = [policy_view(values, table) for table in context.profiles] if context.profiles else None
        by_codes = tally.by_codes
        for path in self.rulesets:  # _verdicts inlined: this loop is the fleet's hot path
            if views is not None and path.per_policy:
                codes, decided_on = self.engine.verdicts_per_policy(path.loaded, values, views)
            else:
                codes, decided_on = path.loaded.verdicts(values), None
            plan = path.plans.get(codes) or path.plan(codes)
            seen = by_codes[path.index]  # counted by plan: its hash is its identity's, not a tuple's of every code
            seen[plan] = seen.get(plan, 0) + 1
            if len(seen) > _CODES_LIMIT:
                tally.fold_codes(path.index)
            if plan.fixed is not None:
                parts.append(plan.fixed)
            elif wanted:
                part = self._part(plan, values, views, decided_on, context)
                if part.failed:
                    failed = True
                    tally.count_reasons(part.reasons)
                parts.append(part)
            elif plan.failing:  # counted only: the reasons of the failures, nothing else is explained
                failed = True
                for detail in self._details(plan, plan.failing, values, views, decided_on, context):
                    tally.count_reasons(detail.reasons)
        tally.devices += 1
        tally.failed_devices += failed
        tally.count_scenarios(values)
        if context.records:
            tally.conflicts.update(context.records)
        return parts

    def _verdicts(
        self, path: _RulesetPath, values: dict, views: list[dict] | None
    ) -> tuple[tuple[int, ...], dict[int, int] | None]:
        """A ruleset's verdict codes on resolved values; rules read per policy decided on ``views``."""
        if views is not None and path.per_policy:
            return self.engine.verdicts_per_policy(path.loaded, values, views)
        return path.loaded.verdicts(values), None

    def device_codes(
        self, data: Any, values: Mapping[str, Any] | None, device: Facts | None = None
    ) -> tuple[frozenset[str], tuple[tuple[int, ...], ...]]:
        """The verdict codes of every ruleset for one fleet row's device under this path's policies,
        counted nowhere: the ids of the policies it gets, and one codes tuple per ruleset.

        The device is typed once by the caller: ``values`` (the row typed by ``RowTyper``, left
        unchanged) or, when the typer did not take the row, ``device`` (its facts as read). A
        plan evaluates each device so under today's policies and under the proposal's.
        """
        chosen, policy, _, _ = _policy_for(self.policy, data)
        context = self._context(chosen, policy)
        if values is None:
            assert device is not None, "device_codes needs the typed values or the device's facts"
            if device.conflicts or not context.taken.isdisjoint(device.values):
                report = self.engine.evaluate(_merged(policy, device), subject=device.name)
                return chosen, report_codes(report, self.engine)
            values = device.table
        resolved = self.engine.resolve({**context.base, **values})
        views = [policy_view(resolved, table) for table in context.profiles] if context.profiles else None
        return chosen, tuple(self._verdicts(path, resolved, views)[0] for path in self.rulesets)

    def _details(
        self,
        plan: _CodesPlan,
        indexes: tuple[int, ...],
        values: dict,
        views: list[dict] | None,
        decided_on: dict[int, int] | None,
        context: _PolicyContext,
    ) -> list[_Detail]:
        """The explanations of some of a ruleset's rules; those decided on one policy's own settings, on them."""
        loaded, rules = plan.path.loaded, plan.path.rules
        if not decided_on:  # nothing decided per policy (most devices): no choice to make per rule
            slot, explanation = context.slot, self.engine.explanation
            return [
                explained.derived.get(slot) or self._detail(explained, None, context)
                for explained in (explanation(loaded, rules[i], values) for i in indexes)
            ]
        details = []
        for i in indexes:
            on, profile = deciding_values(i, values, views, decided_on)
            explained = self.engine.explanation(loaded, rules[i], on)
            slot = context.slot if profile is None else (context.slot, profile)
            details.append(explained.derived.get(slot) or self._detail(explained, profile, context))
        return details

    def _part(
        self,
        plan: _CodesPlan,
        values: dict,
        views: list[dict] | None,
        decided_on: dict[int, int] | None,
        context: _PolicyContext,
    ) -> _Part:
        """The part for these codes and values: a device that agreed on every value its open rules
        read already had it (no rule is explained again); else its rules are explained, and the
        part is kept by those values, or by its explanations (by identity) when they are no key."""
        parts = context.parts[plan.path.index]
        read = plan.key(values) if not decided_on else None
        key: tuple | None = None
        if read is not None:
            key = (plan, read)
            try:
                part = parts.get(key)
            except TypeError:  # a value given through the Python API that cannot be a key
                key = part = None
            if part is not None:
                return part
        details = self._details(plan, plan.open, values, views, decided_on, context)
        if key is None:
            if not decided_on and plan.uses == 1:  # a codes tuple's first device: no later one asks by
                return plan.part(details)  # its explanations, and most tuples of a large ruleset come once
            key = (plan, *details)
            part = parts.get(key)
            if part is not None:
                return part
        if len(parts) >= _PARTS_LIMIT:  # per ruleset: a ruleset of many distinct parts clears only its own
            parts.clear()
        part = parts[key] = plan.part(details)
        return part

    def _detail(self, explained: Explained, profile: int | None, context: _PolicyContext) -> _Detail:
        """One rule's explanation as the fleet uses it, made once and kept with the engine's
        memoised explanation, for this set of policies (and the policy it was decided on, if
        any: its origins are that policy's, and its own settings conflict with nothing)."""
        conflicts = context.conflicts if profile is None else {}
        origins = context.origins if profile is None else context.profile_origins[profile]
        outcome = explained.outcome
        shown = mark_conflicts(outcome, conflicts, self.engine.vocabulary) if conflicts else outcome
        detail = _Detail(outcome, shown, origins, conflicts, self.engine.vocabulary)
        explained.derived[context.slot if profile is None else (context.slot, profile)] = detail
        return detail


class _WaivedDetail:
    """A failure's explanation as its waiver leaves it: the outcome ``waived``, the waiver named."""

    __slots__ = ("_shown", "detail", "waiver")

    def __init__(self, detail: _Detail, waiver: Waiver) -> None:
        self.detail, self.waiver = detail, waiver
        self._shown: RuleOutcome | None = None

    @property
    def sourced(self) -> RuleOutcome:
        """The waived outcome as a report shows it, its reasons kept (made on first use)."""
        if self._shown is None:
            self._shown = attrs.evolve(self.detail.sourced, status=Status.WAIVED, waiver=self.waiver.applied())
        return self._shown


class _WaivedPart:
    """A ruleset's part of a device's record with some failures waived: made once per part and
    waivers (``VerdictPath._waived_part``), shared by the devices that have both."""

    __slots__ = ("data", "details", "entries", "plan", "statuses", "text")

    def __init__(self, part: _Part, chosen: Mapping[int, Waiver]) -> None:
        self.plan, self.statuses = part.plan, part.statuses  # the verdicts' counts: _Counted moves the waived
        entries = list(part.entries)
        for i, waiver in chosen.items():
            entries[i] = waived_entry(entries[i], waiver.id)
        self.entries = entries
        self.text = joined_values([shown_text(json.dumps(e, ensure_ascii=False)) for e in entries], ", ")
        self.data = self.text.encode()
        by_rule = {part.plan.open.index(i): waiver for i, waiver in chosen.items()}
        self.details = tuple(_WaivedDetail(d, by_rule[k]) if k in by_rule else d for k, d in enumerate(part.details))


class _Counted:
    """A device counted on the default path: what its record and its JSON line are made from."""

    __slots__ = ("_record", "names", "number", "parts", "scope", "subject", "waived")

    def __init__(
        self,
        number: int,
        subject: str,
        names: tuple[str, ...] | None,
        parts: list[Any],
        waived: int | None = None,
        scope: tuple[str, ...] = (),
    ) -> None:
        self.number, self.subject, self.names, self.parts, self.scope = number, subject, names, parts, scope
        self.waived = waived  # failures waived (None: the run has no waivers, nothing is counted so)
        self._record: DeviceRecord | None = None

    def statuses(self) -> list[int]:
        """How many rules passed, failed, are unknown, do not apply (and were waived, in a run with waivers)."""
        totals = list(map(sum, zip(*[part.statuses for part in self.parts]))) or [0, 0, 0, 0]  # summed in C
        if self.waived is not None:
            totals[1] -= self.waived
            totals.append(self.waived)
        return totals

    def record(self) -> DeviceRecord:
        """The device record (made once)."""
        if self._record is None:
            results = list(itertools.chain.from_iterable(part.entries for part in self.parts))
            statuses = _WAIVED_STATUSES if self.waived is not None else STATUSES
            counts = dict(zip((s.value for s in statuses), self.statuses()))
            record = record_from_parts(
                self.number, self.subject, counts, results, self.names, statuses=statuses, scope=self.scope
            )
            self._record = DeviceRecord(record, [part.text for part in self.parts if part.data])
        return self._record

    def line(self) -> ShownText:
        """``json_text(self.record())``, the same text, shown, without making the record: its
        parts were shown once when they were made, so only the head is shown here."""
        texts = ", ".join([part.text for part in self.parts if part.data])
        # Every piece is shown and starts and ends with a bracket: the line is shown (see joined_values).
        return ShownText(f"{self._head()}{texts}]}}")

    def line_data(self) -> bytes:
        """``line()`` encoded as UTF-8 and ended by a newline, joined from the parts' bytes: a
        line written as bytes is not copied through a string, an encoder and a text buffer."""
        data = b", ".join([part.data for part in self.parts if part.data])
        return b"".join([self._head().encode(), data, _LINE_END])

    def _head(self) -> ShownText:
        """The record's JSON text up to its results, shown."""
        return shown_text(json_head(self.number, self.subject, self.names, self.statuses(), self.scope))


class _PolicyContext:
    """One set of merged policies as the default path uses it: values, conflicts, explained entries."""

    __slots__ = (
        "base",
        "conflicts",
        "origins",
        "parts",
        "policy",
        "profile_origins",
        "profiles",
        "records",
        "slot",
        "taken",
    )

    def __init__(self, policy: Facts | None, engine: Engine) -> None:
        self.policy = policy
        self.profiles = tuple(p.table for p in policy.profiles) if policy else ()  # each policy's own settings
        self.profile_origins = tuple(p.origins for p in policy.profiles) if policy else ()
        self.origins = policy.origins if policy else {}
        self.base = dict(policy.table) if policy else {}
        self.taken = frozenset(policy.values).union(c.fact for c in policy.conflicts) if policy else frozenset()
        conflicts = engine.conflicts(policy) if policy else ()
        self.conflicts = {c.fact: c for c in conflicts}
        self.records = tuple(conflict_record(c, engine.vocabulary) for c in conflicts)
        self.slot = object()  # this set of policies' key among what callers keep with an explanation
        self.parts: list[dict[tuple, _Part]] = [{} for _ in engine.rulesets]  # per ruleset, by index


def report_codes(report: Report, engine: Engine) -> tuple[tuple[int, ...], ...]:
    """A whole report's verdicts as codes, one tuple per ruleset of ``engine`` (as ``verdicts`` gives them)."""
    status = {(o.ruleset, o.rule): o.status for o in report.outcomes}
    return tuple(tuple(int(CODES[status[(loaded.id, rule.id)]]) for rule in loaded.rules) for loaded in engine.rulesets)


def _policy_for(
    policy: Facts | AssignedPolicies | None, data: Any
) -> tuple[frozenset[str], Facts | None, tuple[str, ...] | None, tuple[str, ...]]:
    """The policies a row's device gets: the ids of those an assignment file chose (none
    without one), their merged facts, their names (None without an assignment file), and what
    decided its scope beyond its groups, in words (a snapshot's assignment filters)."""
    if isinstance(policy, AssignedPolicies):
        return policy.chosen_in_scope(data)
    return _EVERY_POLICY, policy, None, ()


def _count_scope(policy: Facts | AssignedPolicies | None, chosen: frozenset[str], tally: Tally) -> None:
    """Count a device that assignments give no policy at all (out of every policy's scope)."""
    if not chosen and isinstance(policy, AssignedPolicies):
        tally.unscoped += 1


def _fixed_entry(rule: n.Rule, code: int) -> tuple[dict, bytes]:
    entry = {"rule": rule.id, "status": STATUSES[code].value}
    return entry, shown_text(json.dumps(entry, ensure_ascii=False)).encode()


_WAIVED_STATUSES = (*STATUSES, Status.WAIVED)
_ROW_MESSAGE_BUDGET = 900  # under the 1,000 characters at which a report clips a bad row's line
_MORE_PROBLEMS_SIZE = 50  # room kept for "N more problems of this row not shown here"
_LINE_END = b"]}\n"  # a device record's results and the record closed, then the line
_FAIL = int(Verdict.FAIL)
_CODE_ORDER = tuple(int(code) for code in Verdict)  # a plan's statuses: how many rules have each code
_EVERY_POLICY: frozenset[str] = frozenset()  # without an assignment file: every device gets every policy
_PARTS_LIMIT = 500  # per set of policies and ruleset: each part holds its ruleset's entries and their text
# (kilobytes; 20,000 for all rulesets together held 45 MB more at 40,000 devices with --jsonl, for no
# measurable speed). Per ruleset, the one with a new part for every other device (encryption_readiness)
# no longer empties the others'. 100,000 devices with --jsonl: peak RSS 40 MB, 39 MB with 2,000 for all
# (44 MB with 1,000 per ruleset, for 6% fewer explanations asked)
_PLANS_LIMIT = 5_000  # per ruleset
_CODES_LIMIT = 5_000  # distinct codes tuples counted per ruleset before they are folded into per-rule counts
