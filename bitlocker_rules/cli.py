"""The ``bitlocker-rules`` command line. Exit codes: 0 pass, 1 a rule failed, 2 bad input or usage."""

from __future__ import annotations

import argparse
import json

import attrs
import contextlib
import functools
import shutil
import sys
from importlib.metadata import PackageNotFoundError, version
from collections.abc import Sequence
from pathlib import Path

from tabulate import tabulate

from .assignments import AssignedPolicies, AssignedPolicy, read_assignments
from .engine import Engine, load_ruleset, shipped_vocabulary
from .errors import BitLockerRulesError, Diagnostic, InputError, RulesError, redact, suggest
from .facts import Facts, merge_facts
from .importers import load_devices, load_policies
from .fleet import (device_record, evaluate_fleet, evaluate_fleet_parallel, fleet_device, json_line, read_fleet,
                    write_jsonl)
from .nodes import facts_read
from .outcome import InputRecord, Report, RuleTurnOff, SuggestedChange, at_or_above
from .printer import print_rule
from .requirements import coverage
from .resources import shipped_ruleset_paths
from .scenarios import ScenarioResolver, declared_by_rulesets
from . import report as renderers  # each renderer module loads on first use

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
FORMATS = ("table", "json", "markdown", "sarif", "junit", "html")
WORST_DEVICES = 50  # how many of the worst devices a fleet's HTML or Markdown report keeps


def _version() -> str:
    try:
        return version("bitlocker-rules")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    """``--version``; the installed version is looked up only when asked (it costs start-up time)."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog} {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="bitlocker-rules",
        description="Check Intune BitLocker policies against Windows device facts.",
    )
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="show the installed version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="evaluate rulesets on a policy and a device")
    check.add_argument("--rules", action="append", metavar="NAME|FILE",
                       help="a shipped ruleset name or a .rules file (repeatable; default: every shipped ruleset)")
    check.add_argument("--policy", action="append", default=[], metavar="FILE",
                       help="a policy export: Graph endpoint protection, settings catalog, OMA-URI, "
                            "or the project's JSON (repeatable; several policies are merged)")
    check.add_argument("--device", action="append", default=[], metavar="FILE",
                       help="device facts: Graph managedDevice, encryption report row, recovery keys, "
                            "CSP status, or the project's JSON (repeatable: parts of one device)")
    _scenario_option(check)
    check.add_argument("--fleet", metavar="FILE",
                       help="many devices: JSON Lines, a JSON array or CSV (one device per row), read as a stream")
    check.add_argument("--jobs", type=int, default=1, metavar="N", help="with --fleet: use N processes")
    check.add_argument("--assignments", metavar="FILE",
                       help="with --fleet: which --policy applies to which device or group "
                            "(default: every policy to every device)")
    check.add_argument("--format", choices=FORMATS, default="table",
                       help="table (default), json, markdown, sarif (policy findings located in the input "
                            "files), junit (one test case per rule and device) or html (one self-contained page)")
    check.add_argument("--output", metavar="FILE",
                       help="write the report here; with --fleet and --format table or json, "
                            "one JSON line per device (the summary goes to standard output)")
    check.add_argument("--verbose", action="store_true", help="explain passing rules too")
    check.add_argument("--quiet", action="store_true", help="print nothing; only the exit code tells")
    check.add_argument("--fail-on", choices=("error", "warning", "info"), default="info",
                       help="lowest severity of a failed rule that makes the exit code 1 (default: info)")
    check.set_defaults(run=run_check)

    rules = sub.add_parser("rules", help="list the shipped rulesets and their rules")
    rules.add_argument("--rules", action="append", metavar="NAME|FILE", help="only these rulesets")
    rules.add_argument("--coverage", action="store_true",
                       help="list every seed requirement and failure cause with the rules that cover it")
    rules.set_defaults(run=run_rules)

    explain = sub.add_parser("explain", help="show a rule's text, sources, rationale and remediation")
    explain.add_argument("rule_id", metavar="RULE_ID")
    explain.add_argument("--rules", action="append", metavar="NAME|FILE")
    explain.set_defaults(run=run_explain)

    lint_cmd = sub.add_parser("lint", help="check rule files: errors, rules that can never pass or fail, "
                                           "redundant rules, rulesets that contradict each other")
    lint_cmd.add_argument("paths", nargs="*", metavar="NAME|FILE|DIR",
                          help="rule files, folders of them, or shipped ruleset names (default: every shipped ruleset)")
    _scenario_option(lint_cmd)
    lint_cmd.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    lint_cmd.add_argument("--output", metavar="FILE")
    lint_cmd.add_argument("--fail-on", choices=("error", "warning", "info"), default="warning",
                          help="lowest severity of a finding that makes the exit code 1 (default: warning)")
    lint_cmd.set_defaults(run=run_lint)

    compare_cmd = sub.add_parser("compare", help="is ruleset A stricter than, looser than, equivalent to "
                                                 "or incomparable with ruleset B?")
    compare_cmd.add_argument("a", metavar="A", help="a shipped ruleset name or a .rules file (comma-separate several)")
    compare_cmd.add_argument("b", metavar="B", help="the same for the other side")
    _scenario_option(compare_cmd)
    compare_cmd.add_argument("--format", choices=("text", "json"), default="text")
    compare_cmd.set_defaults(run=run_compare)

    repair_cmd = sub.add_parser("repair", help="the fewest policy settings to change so the rules pass on a device")
    repair_cmd.add_argument("--rules", action="append", metavar="NAME|FILE")
    repair_cmd.add_argument("--policy", action="append", default=[], metavar="FILE")
    repair_cmd.add_argument("--device", action="append", default=[], metavar="FILE")
    _scenario_option(repair_cmd)
    repair_cmd.add_argument("--fleet", metavar="FILE", help="the one change that makes the most devices pass")
    repair_cmd.add_argument("--format", choices=("text", "json"), default="text")
    repair_cmd.add_argument("--quiet", action="store_true")
    repair_cmd.add_argument("--verbose", action="store_true")
    repair_cmd.set_defaults(run=run_repair)
    return parser


def _scenario_option(command: argparse.ArgumentParser) -> None:
    names = ", ".join(shipped_vocabulary().scenarios)
    command.add_argument("--scenario", action="append", default=[], metavar="NAME",
                         help=f"what the check is about ({names}; repeatable). Rules about a scenario "
                              "apply only in it; undeclared scenarios are inferred from the policies, and "
                              "naming a scenario's ruleset with --rules declares it")


def declared_scenarios(args: argparse.Namespace) -> dict[str, str]:
    """The scenarios declared with --scenario, each with how it was declared."""
    return {name: f"with --scenario {name}" for name in getattr(args, "scenario", ())}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BitLockerRulesError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_PASS


def run_check(args: argparse.Namespace) -> int:
    """``check``: evaluate, print a report, return 0/1."""
    if args.fleet:
        return run_fleet(args)
    if args.assignments:
        print("bitlocker-rules check: --assignments goes with --fleet", file=sys.stderr)
        return EXIT_USAGE
    if not args.policy and not args.device:
        print("bitlocker-rules check: give at least one --policy or a --device", file=sys.stderr)
        return EXIT_USAGE
    engine = Engine.load(args.rules, scenarios=declared_scenarios(args))
    facts, inputs = _read_inputs(args, engine)
    report = attrs.evolve(engine.evaluate(facts, explain_all=args.verbose), inputs=inputs)
    if report.failed and args.format in ("table", "json", "markdown", "html"):
        report = _with_fix(report, engine, facts)
    if not args.quiet:
        to_terminal = args.output is None and sys.stdout.isatty()
        # A terminal's own width; a file or a pipe gets the renderer's fixed one, so saved reports are stable.
        width = shutil.get_terminal_size().columns if to_terminal else None
        _write(render_device(report, args.format, colour=to_terminal, verbose=args.verbose, width=width), args.output)
    return report.exit_code(args.fail_on)


def _with_fix(report: Report, engine: Engine, facts: Facts) -> Report:
    """Attach the repair: the smallest policy change that makes the failing rules pass without
    weakening the policy, the device prerequisites, and apart the changes that would only
    turn a rule off."""
    from . import analysis  # loaded only when a rule failed

    # A rule decided per policy is not repaired on the merged settings: its fix is in the
    # policy that failed it (the reasons name it), which a merged view cannot express.
    per_policy = engine.per_policy_rules() if len(facts.profiles) > 1 else set()
    failing = [o.rule for o in report.failed if (o.ruleset, o.rule) not in per_policy]
    if not failing:
        return report
    try:  # every rule is read: those that pass must keep passing
        result = analysis.repair(engine.rulesets, engine.vocabulary, _analysed(engine, facts), targets=failing)
    except analysis.AnalysisError:
        return report  # a rule the analyser cannot decide exactly: no fix rather than a guess
    changes = tuple(_suggested(c) for c in result.changes)
    prerequisites = tuple(f"{p.rule} {p.title}: " + "; ".join(_needs(p)) for p in result.prerequisites)
    turn_off = tuple(RuleTurnOff(t.rule, t.title, tuple(_suggested(c) for c in t.changes)) for t in result.turn_off)
    return attrs.evolve(report, suggested_changes=changes, device_prerequisites=prerequisites,
                        turn_off_changes=turn_off)


def _analysed(engine: Engine, facts: Facts) -> Facts:
    """``facts`` as the rules read them (scenario and derived facts included), for a repair:
    those are not policy settings, so a repair keeps them as they are."""
    return attrs.evolve(facts, values=engine.resolved(facts.table))


def _suggested(change) -> SuggestedChange:
    """An analyser's SettingChange as a report's SuggestedChange."""
    return SuggestedChange(change.fact, change.label, change.old, change.new)


def _needs(prerequisite) -> list[str]:
    """What the device lacks, in the evaluator's words (or the value it would need)."""
    failing = [c.sentence() for c in prerequisite.conditions if c.status.value != "pass"]
    return failing or [f"{label} must be {shown}" for _, label, shown in prerequisite.needed]


def _read_inputs(args: argparse.Namespace, engine: Engine) -> tuple[Facts, tuple[InputRecord, ...]]:
    """The merged facts of every --policy and --device file, and what each file was."""
    policies = [p for path in args.policy for p in load_policies(path, engine.vocabulary)]
    devices = [_one_device(path, engine) for path in args.device]
    _show_notices([*policies, *devices], args)
    subject = devices[0].name if devices else " + ".join(p.name for p in policies)
    facts = merge_facts([*(p.facts for p in policies), *(d.facts for d in devices)], name=subject)
    return facts, tuple(InputRecord(item.name, item.origin, item.kind) for item in [*policies, *devices])


def run_lint(args: argparse.Namespace) -> int:
    """``lint``: the checker's diagnostics and the analyser's findings over every file given."""
    from . import analysis  # only lint, compare and repair need the analyser

    vocabulary = shipped_vocabulary()
    loaded, findings, unreadable = [], [], False
    for target in _lint_targets(args.paths):
        try:
            loaded.append(load_ruleset(target, vocabulary))
        except RulesError as exc:
            findings += analysis.diagnostic_findings(exc.diagnostics)
            unreadable = True
    # As for check: naming a ruleset declares its scenarios, and the rules are read as they apply then.
    declared = {**(declared_by_rulesets(r.ruleset for r in loaded) if args.paths else {}), **declared_scenarios(args)}
    findings += analysis.lint(loaded, vocabulary, assumed=ScenarioResolver(vocabulary, declared).values({}))
    if args.format == "json":
        text = json.dumps({"findings": [f.to_dict() for f in findings]}, indent=2, ensure_ascii=False) + "\n"
    elif args.format == "sarif":
        text = json.dumps(analysis.findings_to_sarif(findings, _version()), indent=2, ensure_ascii=False) + "\n"
    else:
        text = "\n".join(f.render() for f in findings) + "\n" + _lint_summary(findings, len(loaded))
    _write(text, args.output)
    return EXIT_USAGE if unreadable else analysis.lint_exit_code(findings, args.fail_on)


def _lint_targets(paths: Sequence[str]) -> list[str]:
    if not paths:
        return list(shipped_ruleset_paths())
    found: list[str] = []
    for path in paths:
        folder = Path(path)
        found += [str(p) for p in sorted(folder.glob("*.rules"))] if folder.is_dir() else [path]
    return found


def _lint_summary(findings, rulesets: int) -> str:
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
    return f"{rulesets} ruleset(s) checked: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + "\n"


def run_compare(args: argparse.Namespace) -> int:
    """``compare``: the relation between two selections of rules, with a witness per difference."""
    from . import analysis  # only lint, compare and repair need the analyser

    a = Engine.load(args.a.split(","))
    b = Engine.load(args.b.split(","))
    # The scenarios either side declares hold on both: the sides are compared where they apply.
    declared = {**a.scenarios.declared, **b.scenarios.declared, **declared_scenarios(args)}
    assumed = ScenarioResolver(a.vocabulary, declared).values({})
    result = analysis.compare(a.rulesets, b.rulesets, a.vocabulary, assumed=assumed)
    if args.format == "json":
        _write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", None)
    else:
        _write(_comparison_text(result, args.a, args.b), None)
    return EXIT_PASS if result.relation == "equivalent" else EXIT_FAIL


def _comparison_text(result, a: str, b: str) -> str:
    joiner = {"equivalent": "to", "stricter": "than", "looser": "than"}.get(result.relation, "with")
    lines = [f"{a} is {result.relation} {joiner} {b}"]
    for difference, (yes, no) in ((result.a_not_b, (a, b)), (result.b_not_a, (b, a))):
        if difference is None:
            continue
        lines += ["", f"A device and policy that satisfy {yes} but not {no} "
                      f"(fails {', '.join(difference.failing_rules)}):"]
        lines += [f"  {label}: {shown}" for _, label, shown in difference.witness.shown]
    return "\n".join(lines) + "\n"


def run_repair(args: argparse.Namespace) -> int:
    """``repair``: the smallest policy change that makes the rules pass (0 when it is enough)."""
    from . import analysis  # only lint, compare and repair need the analyser

    engine = Engine.load(args.rules, scenarios=declared_scenarios(args))
    if args.fleet:
        return _repair_fleet(args, engine)
    if not args.device and not args.policy:
        print("bitlocker-rules repair: give --policy and --device files (or --fleet)", file=sys.stderr)
        return EXIT_USAGE
    facts, _ = _read_inputs(args, engine)
    result = analysis.repair(engine.rulesets, engine.vocabulary, _analysed(engine, facts))
    if not args.quiet:
        text = (json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n" if args.format == "json"
                else _repair_text(result, facts.name))
        _write(text, None)
    return EXIT_PASS if result.complete else EXIT_FAIL


def _repair_text(result, subject: str) -> str:
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
    from . import analysis  # only lint, compare and repair need the analyser

    policy = policy_facts(args.policy, engine)
    devices, bad = [], 0
    for row in read_fleet(args.fleet):
        try:
            device = fleet_device(row.data, engine, row.number)
        except BitLockerRulesError:
            bad += 1
            continue
        devices.append(_analysed(engine, merge_facts([policy, device]) if policy else device))
    result = analysis.fleet_repair(engine.rulesets, engine.vocabulary, devices)
    if args.format == "json":
        _write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", None)
    else:
        best = result.best
        change = best.change.sentence() if best.change else "no single change helps"
        _write(f"{result.before} of {result.total} devices satisfy every rule now; with one change, "
               f"{best.devices_satisfied}:\n  {change}\n" + (f"{bad} rows could not be read\n" if bad else ""), None)
    return EXIT_USAGE if bad else EXIT_PASS


def render_device(report: Report, fmt: str, *, colour: bool = False, verbose: bool = False,
                  width: int | None = None) -> str:
    """One device's report in ``fmt`` (one of FORMATS); ``width`` (columns) for the table, else its default."""
    if fmt == "json":
        return renderers.render_json(report)
    if fmt == "markdown":
        return renderers.render_markdown(report, verbose=verbose)
    if fmt == "sarif":
        return renderers.render_sarif(report)
    if fmt == "junit":
        return renderers.render_junit(report, verbose=verbose)
    if fmt == "html":
        return renderers.render_html(report, verbose=verbose)
    return renderers.render_table(report, colour=colour, verbose=verbose, width=width)


def _one_device(path: str, engine: Engine):
    parts = load_devices(path, engine.vocabulary)
    if len(parts) != 1:
        raise InputError([Diagnostic("I409", f"{len(parts)} devices in one --device file", file=path,
                                     help="use --fleet FILE for many devices")])
    return parts[0]


def _show_notices(inputs, args: argparse.Namespace) -> None:
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
        print(redact(line), file=sys.stderr)
        if args.verbose:
            for notice in skipped:
                print(redact(f"  {notice.location}: {notice.message}"), file=sys.stderr)


def run_fleet(args: argparse.Namespace) -> int:
    """``check --fleet``: evaluate every device row; a summary and JSON Lines, or a report in another format."""
    if args.device:
        print("bitlocker-rules check: give --device or --fleet, not both", file=sys.stderr)
        return EXIT_USAGE
    if args.jobs < 1:
        print("bitlocker-rules check: --jobs must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    make_engine = functools.partial(fleet_engine, tuple(args.rules or ()) or None, tuple(args.policy),
                                    args.assignments, declared_scenarios(args))
    engine, policy = make_engine()
    if isinstance(policy, AssignedPolicies) and not args.quiet:
        for policy_id in policy.assignments.unassigned:
            print(redact(f"note: {args.assignments}: no device or group is assigned policy {policy_id}"),
                  file=sys.stderr)
    rows = read_fleet(args.fleet, decode=False)  # each process decodes the rows it evaluates
    progress = _progress if sys.stderr.isatty() and not args.quiet else None

    def evaluate(write, record=None, encode=None):
        if args.jobs == 1:
            return evaluate_fleet(rows, engine, policy, write=write, progress=progress, reader=fleet_device,
                                  record=record, encode=encode)
        return evaluate_fleet_parallel(rows, args.jobs, make_engine, write=write, progress=progress,
                                       reader=fleet_device, record=record, encode=encode)

    if args.format in ("table", "json"):
        with _jsonl_output(args.output) as write:
            summary = evaluate(write, encode=json_line)
        if progress:
            print(file=sys.stderr)
        if not args.quiet:
            sys.stdout.write(renderers.render_fleet_json(summary) if args.format == "json" else renderers.render_fleet_table(summary))
    else:
        summary = _fleet_report(args, evaluate, engine)
        if progress:
            print(file=sys.stderr)
    if summary.bad_rows:
        return EXIT_USAGE
    return EXIT_FAIL if any(
        t.counts["fail"] and at_or_above(t.severity, args.fail_on) for t in summary.rules
    ) else EXIT_PASS


def _fleet_report(args: argparse.Namespace, evaluate, engine: Engine):
    """A fleet as Markdown, HTML, JUnit or SARIF, written to --output (or standard output).

    Reports stream past: HTML and Markdown keep the worst devices (at most WORST_DEVICES) and one
    example outcome per rule, SARIF one entry per distinct policy finding, and JUnit writes each
    device's test cases as soon as they are made, so memory stays flat however large the fleet.
    """
    if args.quiet and args.output is None:  # nothing to write: only the exit code is wanted
        return evaluate(None)
    inputs = tuple(InputRecord(p.name, p.origin, p.kind)
                   for path in args.policy for p in load_policies(path, engine.vocabulary))
    inputs += (InputRecord("fleet", args.fleet, "fleet"),)
    if args.format == "junit":
        with _report_stream(args.output) as stream:
            writer = renderers.JUnitWriter(stream, fleet=True)
            summary = evaluate(lambda item: writer.add(item[1]), _numbered_report)
            writer.close()
        return summary
    if args.format == "sarif":
        sarif = renderers.FleetSarif(inputs)
        summary = evaluate(lambda item: sarif.add(item[1]), _numbered_report)
        text = sarif.render(summary.bad_rows)
    else:
        worst, examples = renderers.WorstDevices(WORST_DEVICES), renderers.RuleExamples()

        def keep(item):
            worst.add(device_record(*item))
            examples.add(item[1])

        summary = evaluate(keep, _numbered_report)
        render = renderers.render_fleet_html if args.format == "html" else renderers.render_fleet_markdown
        text = render(summary, devices=worst.devices(), examples=examples.outcomes(), inputs=inputs,
                      limit=WORST_DEVICES)
    _write(text, args.output)
    return summary


def _numbered_report(number: int, report: Report) -> tuple[int, Report]:
    """A fleet result that keeps the whole report (module level: worker processes pickle it)."""
    return number, report


def _open_output(path: str):
    """The --output file, opened for writing; a clear error (exit 2) when it cannot be."""
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise InputError([Diagnostic("I006", f"cannot write the report: {exc.strerror}", file=path)]) from None


@contextlib.contextmanager
def _report_stream(path: str | None):
    """Where a streamed report goes: the --output file, or standard output."""
    if path is None:
        yield sys.stdout
        return
    with _open_output(path) as stream:
        yield stream


def fleet_engine(rules, policies, assignments: str | None = None, scenarios: dict[str, str] | None = None
                 ) -> tuple[Engine, Facts | AssignedPolicies | None]:
    """The engine and the policies of a fleet run (also built in each worker process).

    Without an assignment file every policy applies to every device: their merged facts.
    """
    engine = Engine.load(list(rules) if rules else None, scenarios=scenarios)
    if assignments is None:
        return engine, policy_facts(policies, engine)
    given = [AssignedPolicy(p.policy_id or p.display_name or f"{path}#{i}", p.display_name, p.facts)
             for path in policies for i, p in enumerate(load_policies(path, engine.vocabulary))]
    return engine, AssignedPolicies(read_assignments(assignments, given), given)


def policy_facts(paths, engine: Engine) -> Facts | None:
    """Every policy in the given files, merged (None when there is none)."""
    parts = [p.facts for path in paths for p in load_policies(path, engine.vocabulary)]
    return merge_facts(parts, name="policies") if parts else None


def _progress(done: int) -> None:
    if done % 1000 == 0:
        print(f"\r{done} devices", end="", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _jsonl_output(path: str | None):
    if path is None:
        yield None
        return
    with _open_output(path) as stream:
        yield write_jsonl(stream)


def run_rules(args: argparse.Namespace) -> int:
    """``rules``: list rulesets and rules, or the requirement coverage."""
    engine = Engine.load(args.rules)
    if args.coverage:
        return _print_coverage(engine)
    rows = [
        [loaded.id, rule.id, _kind(rule), rule.severity if rule.kind == "rule" else "",
         ", ".join(rule.sources or rule.related), ", ".join(rule.scenarios), rule.title]
        for loaded in engine.rulesets
        for rule in loaded.ruleset.rules
    ]
    _print(tabulate(rows, headers=["ruleset", "rule", "kind", "severity", "cites", "scenario", "title"]))
    return EXIT_PASS


def _kind(rule) -> str:
    """``rule``, ``advice`` (cites only ``related`` ids), ``note``; ``disputed``/``unconfirmed`` marked."""
    kind = "advice" if rule.kind == "rule" and rule.related and not rule.sources else rule.kind
    return kind + (" (disputed)" if rule.disputed else " (unconfirmed)" if rule.unconfirmed else "")


def _print_coverage(engine: Engine) -> int:
    """Each requirement and cause with the rules that encode it; advice is listed but does not count."""
    table = coverage(loaded.ruleset for loaded in engine.rulesets)
    rows = [[c.requirement.id, c.requirement.kind, c.requirement.title, ", ".join(c.rules) or "NOT ENCODED",
             ", ".join(c.advice), "yes" if c.requirement.deviation else ""]
            for c in table]
    _print(tabulate(rows, headers=["id", "kind", "requirement", "encoded by", "advice", "deviation"],
                    maxcolwidths=[None, None, 50, 40, 20, None]))
    unencoded = [c.requirement for c in table if not c.covered]
    deviating = [r.id for r in unencoded if r.deviation]
    missing = [r.id for r in unencoded if not r.deviation]
    _print(f"\n{len(table) - len(unencoded)} of {len(table)} encoded by a rule or note (advice does not count)"
           + (f"; not encoded, with a documented deviation: {', '.join(deviating)}" if deviating else "")
           + (f"; NOT ENCODED: {', '.join(missing)}" if missing else ""))
    return EXIT_FAIL if missing else EXIT_PASS


def run_explain(args: argparse.Namespace) -> int:
    """``explain``: one rule in full."""
    engine = Engine.load(args.rules)
    for loaded in engine.rulesets:
        for rule in loaded.ruleset.rules:
            if rule.id.lower() == args.rule_id.lower():
                facts = facts_read(rule.applicability, *rule.requirements)
                _print(f"{rule.id} (ruleset {loaded.id}, {loaded.path})\n")
                source = loaded.ruleset.text
                _print(source.excerpt(rule.span).rstrip() if source and rule.span else print_rule(rule))
                _print("\nfacts it reads:")
                for name in facts:
                    decl = engine.vocabulary.fact(name)
                    _print(f"  {name}: {decl.label if decl else ''}")
                return EXIT_PASS
    known = [r.id for loaded in engine.rulesets for r in loaded.ruleset.rules]
    hint = suggest(args.rule_id, known)
    print(f"bitlocker-rules explain: no rule `{args.rule_id}`" + (f"; {hint}" if hint else ""), file=sys.stderr)
    return EXIT_USAGE


def _write(text: str, output: str | None) -> None:
    text = redact(text)
    if output is None:
        sys.stdout.write(text)
        return
    with _open_output(output) as stream:
        stream.write(text)


def _print(text: str = "") -> None:
    """Print to standard output with secrets masked (rule text may quote anything)."""
    print(redact(text))
