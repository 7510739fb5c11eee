"""Evaluating a fleet: each row's device with its policies, counted and recorded.

By default no Report is built: the compiled verdict codes are counted by rule, and only the
rules that failed or are unknown are explained (through the engine's memo), their record
entries made once per distinct explanation.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from .. import nodes as n
from ..assignments import AssignedPolicies
from ..engine import Engine, conflict_record, mark_conflicts, policy_view
from ..errors import BitLockerRulesError, Diagnostic, redact
from ..facts import Facts, merge_facts
from ..outcome import Report, RuleOutcome, Status
from .devices import DeviceReader, _RowTyper, device_facts, device_subject, fleet_device
from .records import (_STATUSES, DeviceRecord, FleetSummary, _record, _Tally, device_record, failure_reasons,
                      outcome_entry)
from .rows import BadRow, FleetRow, JsonLine, _decoded


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
) -> FleetSummary:
    """Evaluate every row; ``write`` gets one result per device as it is made.

    ``policy`` is the policy facts every device shares, or ``AssignedPolicies`` saying which
    policies each device gets (from an assignment file).

    The result is ``record(row number, report)``. By default it is ``device_record``'s
    JSON-ready record, made from verdict codes without building a Report (the records share
    their per-rule entries: treat them as read-only). A renderer that needs the whole report
    passes its own ``record``. ``encode``, when given, turns each result into what ``write``
    gets (``json_line`` for JSON Lines); ``evaluate_fleet_parallel`` runs it in the worker
    processes, so both must be module-level functions there.
    """
    codes = _VerdictPath(engine, policy) if record is None else None
    return _evaluate_rows(rows, engine, policy, codes, write, progress, reader, record, encode)


def _evaluate_rows(rows, engine, policy, codes, write, progress, reader, record, encode) -> FleetSummary:
    tally = _Tally(engine)
    for row in rows:
        result = _evaluate_row(row, engine, policy, reader, tally, codes, record, write is not None)
        if result is not None and write is not None:
            write(encode(result) if encode is not None else result)
        if progress is not None:
            progress(tally.devices + len(tally.bad_rows))
    return tally.summary()


def _evaluate_row(row: FleetRow, engine, policy, reader, tally, codes, record, wanted: bool) -> Any:
    """One row's result (None when it was bad, or when no result is wanted)."""
    if isinstance(row.data, JsonLine):
        row = FleetRow(row.number, _decoded(row.number, row.data.text))
    if isinstance(row.data, BadRow):
        tally.bad_rows.append(row.data)
        return None
    try:
        if codes is not None:
            return codes.evaluate(row, reader, wanted, tally)
        device = reader(row.data, engine, row.number)
    except BitLockerRulesError as exc:
        tally.bad_rows.append(BadRow(row.number, redact("; ".join(_row_problem(d) for d in exc.diagnostics))))
        return None
    report = engine.evaluate(_merged(_policy_for(policy, row.data)[0], device), subject=device.name)
    tally.add(report)
    return record(row.number, report) if wanted else None  # a renderer's record: whole reports, no policy list


def _merged(policy: Facts | None, device: Facts) -> Facts:
    return merge_facts([policy, device], name=device.name) if policy else device


def _row_problem(d: Diagnostic) -> str:
    where = f"{d.path}: " if d.path else ""
    return f"{where}{d.message}" + (f" ({d.help})" if d.help else "")


class _Detail:
    """What a fleet needs of one explained outcome: its failure reasons and its record entry."""

    __slots__ = ("outcome", "reasons", "entry", "text")

    def __init__(self, outcome: RuleOutcome, shown: RuleOutcome) -> None:
        self.outcome = outcome  # held, so that its id is not reused while this is cached
        self.reasons = failure_reasons(shown) if shown.status is Status.FAIL else ()
        self.entry = outcome_entry(shown)
        self.text = json.dumps(self.entry, ensure_ascii=False)


class _VerdictPath:
    """The default fleet path: verdict codes per device; only failed and unknown rules explained.

    It counts and writes what ``_Tally.add`` and ``device_record`` make of the full report
    (the tests compare both), without building a Report: passing and not applicable rules
    need no explanation, and the explanations of the others are memoised by the engine. A
    device whose own facts conflict or overlap its policies' takes the report path.
    """

    def __init__(self, engine: Engine, policy: Facts | AssignedPolicies | None) -> None:
        self.engine, self.policy = engine, policy
        self.plan = tuple((loaded, loaded.rules) for loaded in engine.rulesets)
        self.typer = _RowTyper(engine.vocabulary)
        self.fixed = [  # per rule, the entries of a pass (code 0) and not applicable (3), with their text
            {code: _fixed_entry(rule, code) for code in (0, 3)} for _, rules in self.plan for rule in rules
        ]
        self.contexts: dict[int, _PolicyContext] = {}

    def evaluate(self, row: FleetRow, reader: DeviceReader, wanted: bool, tally: _Tally) -> dict | None:
        """Count one device; its record when ``wanted``. Raises InputError for a bad row."""
        policy, names = _policy_for(self.policy, row.data)
        context = self.contexts.get(id(policy))
        if context is None:  # one per distinct set of merged policies; it holds them, so ids stay theirs
            context = self.contexts[id(policy)] = _PolicyContext(policy, self.engine)
        values = self.typer.values(row.data) if reader in (device_facts, fleet_device) else None
        if values is None:
            device = reader(row.data, self.engine, row.number)
            if device.conflicts or not context.taken.isdisjoint(device.values):
                report = self.engine.evaluate(_merged(policy, device), subject=device.name, sources=False)
                tally.add(report)
                return device_record(row.number, report, names) if wanted else None
            values, subject = dict(device.table), device.name
        else:
            subject = ""
        if context.base:
            values = {**context.base, **values}
        # A dict of this row's own (the typer's, a copy of the device's, or the merge): resolved in place.
        return self._count(self.engine.resolve(values), row, subject, wanted, tally, context, names)

    def _count(self, values: dict, row: FleetRow, subject: str, wanted: bool, tally: _Tally,
               context: _PolicyContext, names: tuple[str, ...] | None = None) -> dict | None:
        counts, fixed = tally.counts, self.fixed
        results: list[dict] = []
        texts: list[str] = []
        index = 0
        failed = False
        views = [policy_view(values, table) for table in context.profiles] if context.profiles else None
        decided_on: dict[int, int] = {}
        for loaded, rules in self.plan:
            if views is None:
                codes = loaded.verdicts(values)
            else:
                codes, decided_on = self.engine.verdicts_per_policy(loaded, values, views)
            first = index
            for rule, code in zip(rules, codes):
                counts[index][code] += 1
                if code == 1 or code == 2:
                    if decided_on and index - first in decided_on:  # decided on one policy's own settings
                        view = views[decided_on[index - first]]
                        detail = self._detail(loaded, rule, view, context, per_policy=True)
                    else:
                        detail = self._detail(loaded, rule, values, context)
                    if code == 1:
                        failed = True
                        tally.reasons.update(detail.reasons)
                    if wanted:
                        results.append(detail.entry)
                        texts.append(detail.text)
                elif wanted:
                    entry, text = fixed[index][code]
                    results.append(entry)
                    texts.append(text)
                index += 1
        tally.devices += 1
        tally.failed_devices += failed
        tally.count_scenarios(values)
        if context.records:
            tally.conflicts.update(context.records)
        if not wanted:
            return None
        statuses = Counter(entry["status"] for entry in results)
        subject = subject or device_subject(row.data, row.number)
        return DeviceRecord(_record(row.number, subject, statuses, results, names), texts)

    def _detail(self, loaded, rule: n.Rule, values: dict, context: _PolicyContext, per_policy: bool = False) -> _Detail:
        outcome = self.engine.explain(loaded, rule, values)
        details = context.policy_details if per_policy else context.details
        detail = details.get(id(outcome))
        if detail is None or detail.outcome is not outcome:
            conflicts = {} if per_policy else context.conflicts  # one policy's own settings conflict with nothing
            shown = mark_conflicts(outcome, conflicts, self.engine.vocabulary) if conflicts else outcome
            if len(details) >= _DETAILS_LIMIT:
                details.clear()
            detail = details[id(outcome)] = _Detail(outcome, shown)
        return detail


class _PolicyContext:
    """One set of merged policies as the default path uses it: values, conflicts, explained entries."""

    __slots__ = ("policy", "base", "taken", "conflicts", "records", "details", "profiles", "policy_details")

    def __init__(self, policy: Facts | None, engine: Engine) -> None:
        self.policy = policy
        self.profiles = tuple(p.table for p in policy.profiles) if policy else ()  # each policy's own settings
        self.policy_details: dict[int, _Detail] = {}
        self.base = dict(policy.table) if policy else {}
        self.taken = frozenset(policy.values).union(c.fact for c in policy.conflicts) if policy else frozenset()
        conflicts = engine.conflicts(policy) if policy else ()
        self.conflicts = {c.fact: c for c in conflicts}
        self.records = tuple(conflict_record(c, engine.vocabulary) for c in conflicts)
        self.details: dict[int, _Detail] = {}


def _policy_for(policy: Facts | AssignedPolicies | None, data: Any) -> tuple[Facts | None, tuple[str, ...] | None]:
    """The merged policies a row's device gets, and their names when an assignment file chose them."""
    return policy.for_row(data) if isinstance(policy, AssignedPolicies) else (policy, None)


def _fixed_entry(rule: n.Rule, code: int) -> tuple[dict, str]:
    entry = {"rule": rule.id, "status": _STATUSES[code].value}
    return entry, json.dumps(entry, ensure_ascii=False)


_DETAILS_LIMIT = 50_000
