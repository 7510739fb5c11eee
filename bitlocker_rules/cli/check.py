"""``check`` on one device: read the inputs, evaluate, attach the fix, render."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from ..engine import Engine
from ..errors import Diagnostic, InputError
from ..facts import Facts, merge_facts
from ..importers import ImportedDevice, ImportedPolicy, load_devices, load_policies
from ..outcome import InputRecord, Report, RuleTurnOff, SuggestedChange
from ..report import render_device  # the renderer of the format asked for loads on first use
from ..waivers import Waivers, waived
from .output import STANDARD_STREAM, say, usage_error, wants_colour, write_output
from .parser import declared_scenarios
from .waiving import device_waivers, say_notices

if TYPE_CHECKING:
    from ..analysis import Prerequisite, SettingChange


def run_check(args: argparse.Namespace) -> int:
    """``check``: evaluate, print a report, return 0/1."""
    if not args.policy and not args.device:
        return usage_error("check", "give at least one --policy or a --device (or a --fleet)")
    engine = Engine.load(args.rules, scenarios=declared_scenarios(args))
    policies, devices = read_parts(args, engine)
    facts, inputs = merged_inputs(policies, devices)
    waivers = device_waivers(args, engine, policies, devices)  # a bad waivers file: before anything runs
    report = attrs.evolve(engine.evaluate(facts, explain_all=args.verbose), inputs=inputs)
    if waivers is not None:
        report = _waived(report, waivers, devices, policies)
        say_notices(report.waiver_notices, args)
    if report.failed and args.format in ("text", "json", "markdown", "html"):
        report, why_no_fix = _with_fix(report, engine, facts)
        if why_no_fix and not args.quiet:
            say(f"note: no fix is suggested: {why_no_fix}")
    if not args.quiet:
        to_terminal = args.output in (None, STANDARD_STREAM) and sys.stdout.isatty()
        # A terminal's own width; a file or a pipe gets the renderer's fixed one, so saved reports are stable.
        width = shutil.get_terminal_size().columns if to_terminal else None
        colour = wants_colour(args.color, to_terminal) and args.format == "text"
        write_output(
            render_device(report, args.format, colour=colour, verbose=args.verbose, width=width),
            args.output,
            colour=colour,
        )
    return report.exit_code(args.fail_on)


def _waived(report: Report, waivers: Waivers, devices: list[ImportedDevice], policies: list[ImportedPolicy]) -> Report:
    """The report with the failures the waivers cover on this device waived, and their warnings."""
    keys = [k for d in devices for k in (d.device_name, d.device_id, d.azure_ad_device_id) if k]
    names = [k for p in policies for k in (p.policy_id, p.display_name) if k]
    report = waived(report, waivers.matcher().for_device(keys, (), names))
    used = {o.waiver.id for o in report.waived if o.waiver is not None}
    return attrs.evolve(report, waivers_given=True, waiver_notices=waivers.notices(used))


# How long check searches for its fix line: any rule text must get a prompt answer; a fix not
# found by then is left out (``repair`` itself searches longer, --timeout).
FIX_TIMEOUT = 2.0


def _with_fix(report: Report, engine: Engine, facts: Facts) -> tuple[Report, str]:
    """Attach the repair: the smallest policy change that makes the failing rules pass without
    weakening the policy, the device prerequisites, and apart the changes that would only
    turn a rule off. With it, why no fix is attached ("" when one is, or none is needed)."""
    from .. import analysis  # noqa: PLC0415 - loaded only when a rule failed

    # A rule decided per policy is not repaired on the merged settings: its fix is in the
    # policy that failed it (the reasons name it), which a merged view cannot express.
    per_policy = engine.per_policy_rules() if len(facts.profiles) > 1 else set()
    failing = [o.rule for o in report.failed if (o.ruleset, o.rule) not in per_policy]
    if not failing:
        return report, ""
    try:  # every rule is read: those that pass must keep passing
        result = analysis.repair(
            engine.rulesets, engine.vocabulary, analysed(engine, facts), targets=failing, timeout=FIX_TIMEOUT
        )
    except analysis.Undecided:
        return report, (
            f"the smallest change was not found within {FIX_TIMEOUT:g} s "
            "(`bitlocker-rules repair` searches longer: --timeout)"
        )
    except analysis.AnalysisError as exc:  # no fix rather than a guess
        return report, f"the rules cannot be analysed exactly ({exc.diagnostics[0].message})"
    changes = tuple(_suggested(c) for c in result.changes)
    prerequisites = tuple(f"{p.rule} {p.title}: " + "; ".join(_needs(p)) for p in result.prerequisites)
    turn_off = tuple(RuleTurnOff(t.rule, t.title, tuple(_suggested(c) for c in t.changes)) for t in result.turn_off)
    return attrs.evolve(
        report, suggested_changes=changes, device_prerequisites=prerequisites, turn_off_changes=turn_off
    ), ""


def analysed(engine: Engine, facts: Facts) -> Facts:
    """``facts`` as the rules read them (scenario and derived facts included), for a repair:
    those are not policy settings, so a repair keeps them as they are."""
    return attrs.evolve(facts, values=engine.resolved(facts.table))


def _suggested(change: SettingChange) -> SuggestedChange:
    """An analyser's SettingChange as a report's SuggestedChange."""
    return SuggestedChange(change.fact, change.label, change.old, change.new)


def _needs(prerequisite: Prerequisite) -> list[str]:
    """What the device lacks, in the evaluator's words (or the value it would need)."""
    failing = [c.sentence() for c in prerequisite.conditions if c.status.value != "pass"]
    return failing or [f"{label} must be {shown}" for _, label, shown in prerequisite.needed]


def read_inputs(args: argparse.Namespace, engine: Engine) -> tuple[Facts, tuple[InputRecord, ...]]:
    """The merged facts of every --policy and --device file, and what each file was."""
    return merged_inputs(*read_parts(args, engine))


def read_parts(args: argparse.Namespace, engine: Engine) -> tuple[list[ImportedPolicy], list[ImportedDevice]]:
    """Every --policy and --device file as imported (their notices said)."""
    policies = [p for path in args.policy for p in load_policies(path, engine.vocabulary)]
    devices = [_one_device(path, engine) for path in args.device]
    show_notices([*policies, *devices], args)
    return policies, devices


def merged_inputs(
    policies: list[ImportedPolicy], devices: list[ImportedDevice]
) -> tuple[Facts, tuple[InputRecord, ...]]:
    """The merged facts of the policies and the device's parts, and what each file was."""
    read: list[ImportedPolicy | ImportedDevice] = [*policies, *devices]
    subject = devices[0].name if devices else " + ".join(p.name for p in policies)
    facts = merge_facts([*(p.facts for p in policies), *(d.facts for d in devices)], name=subject)
    return facts, tuple(InputRecord(item.name, item.origin, item.kind) for item in read)


def _one_device(path: str, engine: Engine) -> ImportedDevice:
    parts = load_devices(path, engine.vocabulary)
    if len(parts) != 1:
        raise InputError(
            [
                Diagnostic(
                    "I409",
                    f"{len(parts)} devices in one --device file",
                    file=path,
                    help="use --fleet FILE for many devices",
                )
            ]
        )
    return parts[0]


def show_notices(inputs: Iterable[ImportedPolicy | ImportedDevice], args: argparse.Namespace) -> None:
    """Say what each input was read as and what was skipped: nothing is dropped silently."""
    if args.quiet:
        return
    for item in inputs:
        skipped = list(item.notices)
        if not skipped and not args.verbose:
            continue
        line = f"note: {item.origin}: read as {item.kind}" + (f" ({item.api_version})" if item.api_version else "")
        if skipped:
            line += f"; {len(skipped)} notice{'s' if len(skipped) != 1 else ''}"
            line += "" if args.verbose else " (--verbose lists them)"
        say(line)
        if args.verbose:
            for notice in skipped:
                say(f"  {notice.location}: {notice.message}")
