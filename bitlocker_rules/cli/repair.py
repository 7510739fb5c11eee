"""``repair``: the smallest policy change that makes the rules pass, on a device or a fleet."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from ..errors import BitLockerRulesError
from ..facts import merge_facts
from ..fleet import fleet_device, read_fleet
from ..fleet.job import FleetJob, device_policies
from ..snapshot import TenantSnapshot, device_reader, devices_path, read_snapshot
from .check import analysed, read_inputs
from .output import Progress, write_output
from .parser import declared_scenarios
from .status import EXIT_FAIL, EXIT_PASS, EXIT_UNDECIDED, EXIT_USAGE

if TYPE_CHECKING:
    from ..analysis import Repair, Undecided
    from ..emit import Emitted


def run_repair(args: argparse.Namespace) -> int:
    """``repair``: the smallest policy change that makes the rules pass (0 when it is enough,
    1 when it is not, 4 when none was found within --timeout)."""
    from .. import analysis  # noqa: PLC0415 - only lint, compare and repair need the analyser

    refused = _emit_problem(args)
    if refused:
        print(f"bitlocker-rules repair: {refused}", file=sys.stderr)
        return EXIT_USAGE
    engine = Engine.load(args.rules, scenarios=declared_scenarios(args))
    if args.fleet or args.snapshot:
        return _repair_fleet(args, engine)
    if not args.device and not args.policy:
        print("bitlocker-rules repair: give --policy and --device files (or --fleet)", file=sys.stderr)
        return EXIT_USAGE
    facts, _ = read_inputs(args, engine)
    progress = Progress.on_terminal("repair", args.quiet)
    try:
        result = analysis.repair(
            engine.rulesets, engine.vocabulary, analysed(engine, facts), timeout=args.timeout, progress=progress.report
        )
    except analysis.Undecided as exc:
        return _undecided(args, exc, f"Repair for {facts.name or 'the given facts'}")
    finally:
        progress.done()
    written = _emit(args, engine, {c.fact: c.new_value for c in result.changes})
    if not args.quiet:
        text = (
            json.dumps({**result.to_dict(), **_emitted_json(written)}, indent=2, ensure_ascii=False) + "\n"
            if args.format == "json"
            else _repair_text(result, facts.name) + _emitted_text(written)
        )
        write_output(text, None)
    return EXIT_PASS if result.complete else EXIT_FAIL


def _emit_problem(args: argparse.Namespace) -> str | None:
    """Why --emit cannot be given with these inputs (None when it can)."""
    if args.emit is None or args.snapshot:
        return None
    if "-" in args.policy:
        return (
            "--emit writes each change in the shape its policy came in, named by its file or Graph id: "
            "a --policy read from standard input (-) has neither; save it to a file and give that"
        )
    if not args.policy:
        return "--emit writes the change into the policies it came from: give --policy files or --snapshot"
    return None


def _emit(
    args: argparse.Namespace, engine: Engine, changes: dict[str, Any], tenant: TenantSnapshot | None = None
) -> list[tuple[Path, Emitted]] | None:
    """With --emit DIR: each changed policy's request written into DIR (None without --emit), the
    policies being the --policy files or, with ``tenant``, the snapshot's records as it stored them."""
    if args.emit is None:
        return None
    from ..emit import emit_files, emit_repair, write_emitted  # noqa: PLC0415 - only --emit needs the emitter

    if not changes:
        emitted: tuple[Emitted, ...] = ()
    elif tenant is not None:
        emitted = emit_repair(tenant.policy_records(), changes, engine.vocabulary)
    else:
        emitted = emit_files(args.policy, changes, engine.vocabulary)
    return list(zip(write_emitted(args.emit, emitted), emitted, strict=True))


def _emitted_json(written: list[tuple[Path, Emitted]] | None) -> dict[str, Any]:
    if written is None:
        return {}
    return {"emitted": [{"file": str(path), "method": e.method, "url": e.url} for path, e in written]}


def _emitted_text(written: list[tuple[Path, Emitted]] | None) -> str:
    if written is None:
        return ""
    if not written:
        return "\nNothing written to --emit: the repair changes no policy setting.\n"
    lines = ["", "Written (bitlocker-rules apply DIR sends the Graph requests):"]
    for path, item in written:
        action = f"{item.method} {item.url}" if item.method else "the repaired policy JSON"
        lines.append(f"  - {path}: {action}")
    return "\n".join(lines) + "\n"


def _undecided(args: argparse.Namespace, exc: Undecided, title: str) -> int:
    """Say that no repair was found within the time limit (JSON: ``undecided``); exit code 4."""
    message = exc.diagnostics[0].message
    if not args.quiet:
        text = (
            json.dumps({"complete": False, "undecided": message}, indent=2, ensure_ascii=False) + "\n"
            if args.format == "json"
            else f"{title}\n\n{message[0].upper()}{message[1:]}: no repair was found "
            f"in time; --timeout gives the search more time.\n"
        )
        write_output(text, None)
    return EXIT_UNDECIDED


def _repair_text(result: Repair, subject: str) -> str:
    lines = [f"Repair for {subject or 'the given facts'}"]
    if result.changes:
        lines += ["", f"Change {len(result.changes)} policy setting{'s' if len(result.changes) != 1 else ''}:"]
        for change in result.changes:
            also = f"  (or: {', '.join(change.alternatives)})" if change.alternatives else ""
            lines.append(f"  - {change.sentence()}{also}")
    elif result.complete:
        lines += ["", "Nothing to change: no selected rule fails."]
    if result.prerequisites:
        lines += ["", "Device prerequisites (no policy setting makes these pass):"]
        for item in result.prerequisites:
            needed = "; ".join(f"{label}: {shown}" for _, label, shown in item.needed)
            lines.append(f"  - {item.rule} {item.title}" + (f" — needs {needed}" if needed else ""))
            lines += [f"      {c.sentence()}" for c in item.conditions]
    if result.conflicts:
        lines += ["", "Rules that no policy can satisfy together on this device:"]
        lines += [f"  - {conflict.message()}" for conflict in result.conflicts]
    if result.turn_off:
        lines += ["", "Not a fix: changes that would only turn a rule off (it would no longer apply):"]
        lines += [f"  - {item.sentence()}" for item in result.turn_off]
    return "\n".join(lines) + "\n"


def _repair_fleet(args: argparse.Namespace, engine: Engine) -> int:
    from .. import analysis  # noqa: PLC0415 - only lint, compare and repair need the analyser

    # Every --policy for every device, or the policies an --assignments file or a snapshot gives each
    # (the snapshot read here, once, as FleetJob reads it: --emit writes into its records).
    tenant = read_snapshot(args.snapshot, engine.vocabulary) if args.snapshot is not None else None
    policy = (
        tenant.policies_per_device()
        if tenant is not None
        else FleetJob(policies=args.policy, assignments=args.assignments).setup(engine).policy
    )
    fleet = args.fleet if args.snapshot is None else str(devices_path(args.snapshot))
    reader = fleet_device if args.snapshot is None else device_reader(args.snapshot)
    devices, bad = [], 0
    for row in read_fleet(fleet):
        try:
            device = reader(row.data, engine, row.number)
        except BitLockerRulesError:
            bad += 1
            continue
        policies = device_policies(policy, row.data)
        devices.append(analysed(engine, merge_facts([policies, device]) if policies else device))
    try:
        result = analysis.fleet_repair(engine.rulesets, engine.vocabulary, devices, timeout=args.timeout)
    except analysis.Undecided as exc:
        return _undecided(args, exc, f"Repair for the {len(devices)} devices of {args.fleet or args.snapshot}")
    best = result.best
    written = _emit(args, engine, {best.change.fact: best.change.new_value} if best.change else {}, tenant)
    if args.format == "json":
        document = {**result.to_dict(), "unreadable_rows": bad, **_emitted_json(written)}  # left out, said so
        write_output(json.dumps(document, indent=2, ensure_ascii=False) + "\n", None)
    else:
        change = best.change.sentence() if best.change else "no single change helps"
        write_output(
            f"{result.before} of {result.total} devices satisfy every rule now; with one change, "
            f"{best.devices_satisfied}:\n  {change}\n"
            + (f"{bad} rows could not be read\n" if bad else "")
            + _emitted_text(written),
            None,
        )
    return EXIT_USAGE if bad else EXIT_PASS
