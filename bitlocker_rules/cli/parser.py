"""The argument parser: every subcommand and option, and nothing that runs them."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version

from ..engine import shipped_vocabulary

FORMATS = ("table", "json", "markdown", "sarif", "junit", "html")


def installed_version() -> str:
    try:
        return version("bitlocker-rules")
    except PackageNotFoundError:
        return "unknown (not installed)"

class _VersionAction(argparse.Action):
    """``--version``; the installed version is looked up only when asked (it costs start-up time)."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog} {installed_version()}")
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
                       help="many devices: JSON Lines, a JSON array or CSV (one device per row), read as a stream "
                            "(- for standard input)")
    check.add_argument("--jobs", type=int, default=1, metavar="N",
                       help="with --fleet: use N processes (at most the processors available)")
    check.add_argument("--jsonl", metavar="FILE",
                       help="with --fleet: also write each device's result as one JSON line to FILE "
                            "(- for standard output)")
    check.add_argument("--assignments", metavar="FILE",
                       help="with --fleet: which --policy applies to which device or group "
                            "(default: every policy to every device)")
    check.add_argument("--format", choices=FORMATS, default="table",
                       help="table (default), json, markdown, sarif (policy findings located in the input "
                            "files), junit (one test case per rule) or html (one self-contained page)")
    check.add_argument("--output", metavar="FILE",
                       help="write the report here instead of standard output (with --fleet too: the "
                            "summary or report in --format; each device's JSON line goes to --jsonl)")
    check.add_argument("--verbose", action="store_true", help="explain passing rules too")
    check.add_argument("--quiet", action="store_true", help="print nothing; only the exit code tells")
    check.add_argument("--fail-on", choices=("error", "warning", "info"), default="info",
                       help="lowest severity of a failed rule that makes the exit code 1 (default: info)")

    rules = sub.add_parser("rules", help="list the shipped rulesets and their rules")
    rules.add_argument("--rules", action="append", metavar="NAME|FILE", help="only these rulesets")
    rules.add_argument("--coverage", action="store_true",
                       help="list every seed requirement and failure cause with the rules that cover it")

    explain = sub.add_parser("explain", help="show a rule's text, sources, rationale and remediation")
    explain.add_argument("rule_id", metavar="RULE_ID")
    explain.add_argument("--rules", action="append", metavar="NAME|FILE")

    lint_cmd = sub.add_parser("lint", help="check rule files: errors, rules that can never pass or fail, "
                                           "redundant rules, rulesets that contradict each other")
    lint_cmd.add_argument("paths", nargs="*", metavar="NAME|FILE|DIR",
                          help="rule files, folders of them, or shipped ruleset names (default: every shipped ruleset)")
    _scenario_option(lint_cmd)
    lint_cmd.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    lint_cmd.add_argument("--output", metavar="FILE")
    lint_cmd.add_argument("--fail-on", choices=("error", "warning", "info"), default="warning",
                          help="lowest severity of a finding that makes the exit code 1 (default: warning)")

    compare_cmd = sub.add_parser("compare", help="is ruleset A stricter than, looser than, equivalent to "
                                                 "or incomparable with ruleset B?")
    compare_cmd.add_argument("a", metavar="A", help="a shipped ruleset name or a .rules file (comma-separate several)")
    compare_cmd.add_argument("b", metavar="B", help="the same for the other side")
    _scenario_option(compare_cmd)
    compare_cmd.add_argument("--format", choices=("text", "json"), default="text")

    repair_cmd = sub.add_parser("repair", help="the fewest policy settings to change so the rules pass on a device")
    repair_cmd.add_argument("--rules", action="append", metavar="NAME|FILE")
    repair_cmd.add_argument("--policy", action="append", default=[], metavar="FILE")
    repair_cmd.add_argument("--device", action="append", default=[], metavar="FILE")
    _scenario_option(repair_cmd)
    repair_cmd.add_argument("--fleet", metavar="FILE", help="the one change that makes the most devices pass")
    repair_cmd.add_argument("--format", choices=("text", "json"), default="text")
    repair_cmd.add_argument("--quiet", action="store_true")
    repair_cmd.add_argument("--verbose", action="store_true")
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
