"""The argument parser: every subcommand and option, and nothing that runs them."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

from ..errors import suggest
from ..resources import installed_version

if TYPE_CHECKING:
    from _typeshed import SupportsWrite  # what argparse's own _print_message accepts

FORMATS = ("text", "json", "markdown", "sarif", "junit", "html")


class _VersionAction(argparse.Action):
    """``--version``; the installed version is looked up only when asked (it costs start-up time)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        print(f"{parser.prog} {installed_version()}")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    """argparse, with its messages shown like every other output (an echoed argument is masked)."""

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            from .output import shown  # noqa: PLC0415 - only when printing: building the parser stays light

            (file or sys.stderr).write(shown(message))

    def error(self, message: str) -> NoReturn:
        """A usage error, with "did you mean" for a misspelled option or command."""
        hint = _misspelling_hint(message, self)
        super().error(f"{message}; {hint}" if hint else message)


# What ``add_subparsers(parser_class=_Parser)`` returns: argparse names the class privately, typeshed types it so.
_Subcommands: TypeAlias = "argparse._SubParsersAction[_Parser]"


def _misspelling_hint(message: str, parser: argparse.ArgumentParser) -> str | None:
    choice = _INVALID_CHOICE.search(message)
    if choice:
        return suggest(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
    words = message.split(": ", 1)[1].split() if message.startswith("unrecognized arguments: ") else []
    known = _option_names(parser)
    for word in words:
        if not word.startswith("-"):
            continue
        option = word.split("=")[0]
        if option in known:  # spelt right: given to a command that does not take it, or before the command
            return (
                f"`{option}` is an option of {', '.join(_commands_with(parser, option))} only, after the command's name"
            )
        hint = suggest(option, known)
        if hint:
            return hint
    return None


def _commands_with(parser: argparse.ArgumentParser, option: str) -> list[str]:
    """The subcommands that take ``option``, by name."""
    return [
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, command in action.choices.items()
        if option in _option_names(command)
    ]


_INVALID_CHOICE = re.compile(r"invalid choice: '(.*)' \(choose from (.*)\)$")


def _option_names(parser: argparse.ArgumentParser) -> set[str]:
    """Every option of ``parser`` and of its subcommands."""
    names = {s for a in parser._actions for s in a.option_strings}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                names |= _option_names(command)
    return names


def format_name(text: str) -> str:
    """``--format`` values: ``table`` is an older name of ``text``, still accepted."""
    return "text" if text == "table" else text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = _Parser(
        prog="bitlocker-rules",
        description="Check Intune BitLocker policies against Windows device facts.",
        epilog=f"exit codes: {EXIT_CODES}",
    )
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="show the installed version and exit")
    _debug_option(parser, default=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    _check_command(sub)
    _rules_commands(sub)
    _lint_command(sub)
    _fmt_command(sub)
    _compare_command(sub)
    _repair_command(sub)
    _pull_command(sub)
    _apply_command(sub)
    _history_commands(sub)
    _lsp_command(sub)
    _test_command(sub)
    _plan_command(sub)
    completion = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print a completion script for the shell. bash: "
        "`source <(bitlocker-rules completion bash)`; zsh: "
        "`bitlocker-rules completion zsh > ~/.zfunc/_bitlocker-rules`; fish: "
        "`bitlocker-rules completion fish > ~/.config/fish/completions/bitlocker-rules.fish`",
    )
    completion.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete in")
    _debug_option(completion)
    return parser


EXIT_CODES = (
    "0 every rule passed; 1 a rule failed (or a finding, a conflict, a difference); 2 bad input or "
    "usage, or an output that cannot be written; 3 an internal error (a bug: please report it) or a "
    "worker process that died; 4 lint, compare or repair undecided within --timeout; 130 interrupted"
)


def _debug_option(command: argparse.ArgumentParser, default: bool | str = argparse.SUPPRESS) -> None:
    # SUPPRESS on the subcommands: their default would otherwise undo a --debug given before the command.
    command.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="on an internal error, show the traceback (secrets still masked)",
    )


def _check_command(sub: _Subcommands) -> None:
    check = sub.add_parser(
        "check", help="evaluate rulesets on a policy and a device, or on a fleet", epilog=f"exit codes: {EXIT_CODES}"
    )
    _rules_option(check)
    check.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="FILE",
        help="a policy export: Graph endpoint protection, settings catalog, OMA-URI, "
        "or the project's JSON (repeatable; several policies are merged; - reads standard input)",
    )
    check.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="FILE",
        help="device facts: Graph managedDevice, encryption report row, recovery keys, "
        "CSP status, or the project's JSON (repeatable: parts of one device; - reads standard input)",
    )
    _scenario_option(check)
    check.add_argument(
        "--fleet",
        metavar="FILE",
        help="many devices: JSON Lines, a JSON array or CSV (one device per row), read as a stream "
        "(- reads standard input)",
    )
    check.add_argument(
        "--snapshot",
        metavar="DIR",
        help="every device of a tenant snapshot (bitlocker-rules pull) with the policies its assignments give it, "
        "as --fleet reports it",
    )
    check.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="with --fleet: use N processes (at most the processors available)",
    )
    check.add_argument(
        "--jsonl",
        metavar="FILE",
        help="with --fleet: also write each device's result as one JSON line to FILE (- is standard output)",
    )
    check.add_argument(
        "--store",
        metavar="FILE",
        help="with --fleet: append the run (each device's verdicts and reasons) to this results store, "
        "a DuckDB file made if missing (see `history` and `diff`)",
    )
    check.add_argument(
        "--waivers",
        metavar="FILE",
        help="accepted risks (TOML, see docs/waivers.md): a failure a waiver covers is reported as waived, "
        "apart, and does not fail the check",
    )
    check.add_argument(
        "--today",
        metavar="DATE",
        help="with --waivers: the day expiry dates are compared with, YYYY-MM-DD "
        "(default: $BITLOCKER_RULES_TODAY, else today in UTC)",
    )
    check.add_argument(
        "--assignments",
        metavar="FILE",
        help="with --fleet: which --policy applies to which device or group (default: every policy to every device)",
    )
    check.add_argument(
        "--format",
        type=format_name,
        choices=FORMATS,
        default=None,
        help="text (default, unless the configuration's format says; for a terminal), json, markdown, sarif "
        "(policy findings located in the input files), junit (test cases) or html (one self-contained page)",
    )
    check.add_argument(
        "--output",
        metavar="FILE",
        help="write the report here (- is standard output); with --fleet too: the report in "
        "--format, each device's JSON line goes to --jsonl",
    )
    check.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text report: auto (default) colours a terminal unless NO_COLOR is set",
    )
    check.add_argument("--verbose", action="store_true", help="explain passing rules too")
    check.add_argument("--quiet", action="store_true", help="print nothing; only the exit code tells")
    _fail_on_option(check, "a failed rule", "info")
    _config_options(check)
    _debug_option(check)


def _rules_commands(sub: _Subcommands) -> None:
    rules = sub.add_parser("rules", help="list the shipped rulesets and their rules")
    rules.add_argument(
        "--rules",
        action="append",
        metavar="NAME|FILE",
        help="only these rulesets: a shipped name or a .rules file (repeatable)",
    )
    rules.add_argument(
        "--coverage", action="store_true", help="list every requirement and failure cause with the rules that encode it"
    )
    _debug_option(rules)

    explain = sub.add_parser("explain", help="show a rule's text, sources and the facts it reads")
    explain.add_argument("rule_id", metavar="RULE_ID", help="the rule's id, such as SE-01 (any case)")
    _rules_option(explain, "where to look for the rule")
    _debug_option(explain)


def _lint_command(sub: _Subcommands) -> None:
    lint = sub.add_parser(
        "lint",
        help="check rule files: errors, rules that can never pass or fail, "
        "redundant rules, rulesets that contradict each other",
    )
    lint.add_argument(
        "paths",
        nargs="*",
        metavar="NAME|FILE|DIR",
        help="rule files, folders of them, or shipped ruleset names (default: every shipped ruleset)",
    )
    _scenario_option(lint)
    lint.add_argument(
        "--format",
        type=format_name,
        choices=("text", "json", "sarif"),
        default=None,
        help="text (default), json, or sarif (for code-scanning tools)",
    )
    lint.add_argument("--output", metavar="FILE", help="write the findings here (- is standard output)")
    _fail_on_option(lint, "a finding", "warning")
    _timeout_option(lint)
    _config_options(lint)
    _debug_option(lint)


def _fmt_command(sub: _Subcommands) -> None:
    fmt = sub.add_parser(
        "fmt",
        help="rewrite rule files in canonical layout, comments kept",
        epilog="exit codes: 0 done (or nothing to change); 1 with --check, a file would change; "
        "2 a file cannot be read or does not parse (it is left as it is)",
    )
    fmt.add_argument(
        "paths",
        nargs="+",
        metavar="FILE|DIR",
        help="rule files, or folders: every .rules file below them (- formats standard input to standard output)",
    )
    fmt.add_argument("--check", action="store_true", help="change nothing; list the files that would change, exit 1")
    fmt.add_argument("--diff", action="store_true", help="change nothing; show each change as a unified diff")
    fmt.add_argument(
        "--line-length",
        type=_positive,
        default=None,
        metavar="N",
        help="break texts and conditions that would pass N columns (default: the configuration's "
        "fmt.line-length, else 100)",
    )
    fmt.add_argument("--quiet", action="store_true", help="no summary on standard error")
    _config_options(fmt)
    _debug_option(fmt)


def _compare_command(sub: _Subcommands) -> None:
    compare = sub.add_parser(
        "compare", help="is ruleset A stricter than, looser than, equivalent to or incomparable with ruleset B?"
    )
    compare.add_argument("a", metavar="A", help="a shipped ruleset name or a .rules file (comma-separate several)")
    compare.add_argument("b", metavar="B", help="the same for the other side")
    _scenario_option(compare)
    compare.add_argument(
        "--format",
        type=format_name,
        choices=("text", "json"),
        default="text",
        help="text (default) or json (the relation and a witness per difference)",
    )
    _timeout_option(compare)
    _debug_option(compare)


def _repair_command(sub: _Subcommands) -> None:
    repair = sub.add_parser("repair", help="the fewest policy settings to change so the rules pass on a device")
    _rules_option(repair)
    repair.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="FILE",
        help="a policy export, as for check (repeatable; - reads standard input)",
    )
    repair.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="FILE",
        help="device facts, as for check (repeatable; - reads standard input)",
    )
    _scenario_option(repair)
    repair.add_argument(
        "--fleet",
        metavar="FILE",
        help="instead of one device: the one change that makes the most devices of a fleet pass",
    )
    repair.add_argument(
        "--assignments",
        metavar="FILE",
        help="with --fleet: which --policy applies to which device or group (default: every policy to every device)",
    )
    repair.add_argument(
        "--snapshot",
        metavar="DIR",
        help="as --fleet, for every device of a tenant snapshot with the policies its assignments give it",
    )
    repair.add_argument(
        "--format", type=format_name, choices=("text", "json"), default="text", help="text (default) or json"
    )
    repair.add_argument(
        "--emit",
        metavar="DIR",
        help="write the change to each --policy it touches into DIR, in that policy's shape: a Graph request "
        "(apply DIR sends it) or the project's policy JSON (docs/emit.md)",
    )
    repair.add_argument("--quiet", action="store_true", help="print nothing; only the exit code tells")
    repair.add_argument("--verbose", action="store_true", help="say what each input was read as")
    _timeout_option(repair)
    _debug_option(repair)


AUTH_METHODS = ("default", "device-code", "client-secret", "certificate", "token-env")
GRAPH_URL = "https://graph.microsoft.com"


class _AuthAction(argparse.Action):
    """``--auth METHOD``, or ``--auth token-env NAME``: the one method that takes a name."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        words = list(values or [])
        method = words[0] if words else ""
        if method not in AUTH_METHODS:
            parser.error(f"argument --auth: invalid choice: {method!r} (choose from {', '.join(AUTH_METHODS)})")
        if method == "token-env" and len(words) != 2:
            parser.error(
                "argument --auth: token-env needs the name of the variable holding the token: --auth token-env NAME"
            )
        if method != "token-env" and len(words) != 1:
            parser.error(f"argument --auth: {method} takes no name (only token-env NAME does)")
        setattr(namespace, self.dest, words)


def _pull_command(sub: _Subcommands) -> None:
    pull = sub.add_parser(
        "pull",
        help="read a tenant's BitLocker policies, assignments, groups and devices from Microsoft Graph into a folder",
        description="Sign in to Microsoft Graph and write a snapshot folder: one JSON Lines file per kind of "
        "record and manifest.json (docs/tenant.md). Exit code 0 when the snapshot is complete, 2 when it is not "
        "(the manifest says why; --resume continues it).",
    )
    pull.add_argument(
        "--out",
        metavar="DIR",
        required=True,
        help="the snapshot folder (new or empty; with --resume, the one to continue)",
    )
    _graph_options(pull)
    pull.add_argument(
        "--concurrency", type=_positive, default=4, metavar="N", help="requests in flight at once (default: 4)"
    )
    pull.add_argument("--resume", action="store_true", help="continue the incomplete snapshot in --out")
    pull.add_argument("--quiet", action="store_true", help="no progress and no summary; only the exit code tells")
    _debug_option(pull)


def _graph_options(command: argparse.ArgumentParser) -> None:
    """How a command that speaks to Graph signs in, where Graph is, and how long a request may take."""
    command.add_argument(
        "--auth",
        action=_AuthAction,
        nargs="+",
        default=["default"],
        metavar=("METHOD", "NAME"),
        help="how to sign in: default (environment, managed identity, Azure CLI), device-code, client-secret or "
        "certificate (AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH), "
        "or token-env NAME (a token in the environment variable NAME)",
    )
    command.add_argument(
        "--graph-url",
        default=GRAPH_URL,
        metavar="URL",
        help=f"the Graph service root of the tenant's cloud (default: {GRAPH_URL}); "
        "sign-in uses that cloud's authority",
    )
    command.add_argument(
        "--request-timeout",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="give up on one request after this long, then retry it (default: 60)",
    )


def _apply_command(sub: _Subcommands) -> None:
    apply = sub.add_parser(
        "apply",
        help="send the Graph requests repair --emit wrote (a dry run unless --yes)",
        description="Read the files repair --emit wrote into DIR, sign in as pull does, check the permission "
        "(DeviceManagementConfiguration.ReadWrite.All) and read each target policy; then show each request "
        "(the default, a dry run) or, with --yes, send it (docs/emit.md). Exit code 0 when every request was "
        "shown or sent, 2 when a file, the sign-in, the permission or Graph refused.",
    )
    apply.add_argument("dir", metavar="DIR", help="the folder repair --emit wrote (or one of its files)")
    apply.add_argument("--yes", action="store_true", help="send the requests (without it nothing is written)")
    _graph_options(apply)
    apply.add_argument("--quiet", action="store_true", help="print nothing; only the exit code tells")
    _debug_option(apply)


def _positive(text: str) -> int:
    """A whole number of at least 1 (argparse reports anything else as a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _lsp_command(sub: _Subcommands) -> None:
    lsp = sub.add_parser(
        "lsp",
        help="run the language server for rule files (editors start it; it speaks LSP over standard input and output)",
    )
    # vscode-languageclient adds --stdio when it talks over standard input and output, the only transport here.
    lsp.add_argument("--stdio", action="store_true", help="talk over standard input and output (the default)")
    _debug_option(lsp)


def _history_commands(sub: _Subcommands) -> None:
    history = sub.add_parser("history", help="list the runs in a results store, or one rule's counts over time")
    history.add_argument("store", metavar="FILE", help="a results store (written by check --fleet --store)")
    history.add_argument("--rule", metavar="RULE_ID", help="a rule's pass, fail and unknown counts in each run")
    history.add_argument(
        "--format", type=format_name, choices=("text", "json"), default="text", help="text (default) or json"
    )
    history.add_argument("--output", metavar="FILE", help="write the listing here (- is standard output)")
    _debug_option(history)

    diff = sub.add_parser(
        "diff",
        help="what changed between two fleet runs: newly failing, fixed, newly unknown, devices that came and went",
        epilog="a run is FILE#RUN (a run of a results store: its number, latest or previous), RUN with "
        "--store FILE, or a JSON Lines file of check --fleet --jsonl; OLD and NEW may instead be two "
        "snapshot folders (bitlocker-rules pull): both are checked, and the policies' drift is shown too",
    )
    diff.add_argument("old", metavar="OLD", help="the earlier run (or snapshot)")
    diff.add_argument("new", metavar="NEW", help="the later run (or snapshot)")
    _rules_option(diff, "with two snapshots, the rules both are checked against")
    _scenario_option(diff)
    diff.add_argument(
        "--jobs", type=int, default=None, metavar="N", help="with two snapshots: check each in N processes"
    )
    diff.add_argument("--store", metavar="FILE", help="the results store OLD and NEW are runs of")
    diff.add_argument(
        "--format",
        type=format_name,
        choices=("text", "json", "markdown", "html"),
        default="text",
        help="text (default), json, markdown or html (one self-contained page)",
    )
    diff.add_argument("--output", metavar="FILE", help="write the diff here (- is standard output)")
    diff.add_argument(
        "--fail-on",
        choices=("new-failures", "drift"),
        default=None,
        help="new-failures: exit code 1 when a rule newly fails on a device (or a new device fails one); "
        "drift (two snapshots): exit code 1 when a policy changed; "
        "without it the exit code is 0 whatever changed",
    )
    _debug_option(diff)


def _test_command(sub: _Subcommands) -> None:
    test = sub.add_parser(
        "test",
        help="run the rules' test cases (NAME.tests.toml beside NAME.rules), with coverage",
        epilog="exit codes: 0 every case passed (and coverage reached --fail-under); 1 a case failed or "
        "coverage is below --fail-under; 2 a case file, rule file or input it names is bad",
    )
    test.add_argument(
        "paths",
        nargs="*",
        metavar="FILE|DIR",
        help="case files, rule files (their NAME.tests.toml) or folders of them (default: the shipped rulesets)",
    )
    test.add_argument(
        "--format",
        type=format_name,
        choices=("text", "json", "junit"),
        default="text",
        help="text (default), json, or junit (JUnit XML for CI)",
    )
    test.add_argument("--output", metavar="FILE", help="write the results here (- is standard output)")
    test.add_argument(
        "--coverage",
        action="store_true",
        help="for each rule, which of its conditions the cases saw decide each outcome; per file and in total",
    )
    test.add_argument(
        "--fail-under",
        type=_percentage,
        metavar="PERCENT",
        help="exit code 1 when the total coverage is below PERCENT (implies --coverage)",
    )
    _debug_option(test)


def _percentage(text: str) -> float:
    """A percentage from 0 to 100 (argparse reports anything else as a usage error)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"a percentage is from 0 to 100, not {text}")
    return value


def _plan_command(sub: _Subcommands) -> None:
    plan = sub.add_parser(
        "plan",
        help="the effect of a proposed policy change on every device of a fleet and on every possible device",
        epilog="exit codes: 0 nothing gets worse (or no --fail-on); 1 with --fail-on regressions, a device of the "
        "fleet or a possible device newly fails a rule; 2 bad input or usage; 4 with --fail-on regressions, "
        "nothing got worse but a possible-device question was undecided within --timeout",
    )
    _rules_option(plan)
    plan.add_argument(
        "--policy", action="append", default=[], metavar="FILE", help="today's policy exports (repeatable)"
    )
    plan.add_argument("--fleet", metavar="FILE", help="today's devices: JSON Lines, a JSON array or CSV")
    plan.add_argument("--assignments", metavar="FILE", help="today's assignment file (with --fleet)")
    plan.add_argument(
        "--snapshot", metavar="DIR", help="today's state from a tenant snapshot: its policies, assignments and devices"
    )
    _scenario_option(plan)
    plan.add_argument(
        "--proposal-policy",
        action="append",
        default=[],
        metavar="FILE",
        help="a changed policy (same id, or display name, as one of today's: it replaces it) or a new one (repeatable)",
    )
    plan.add_argument(
        "--patch",
        action="append",
        default=[],
        metavar="FILE",
        help='a Graph PATCH body applied over one of today\'s policies: {"policy": ID, "patch": {...}}, '
        "or a bare body in a file named ID.json (repeatable; see docs/plan.md)",
    )
    plan.add_argument(
        "--proposal-assignments", metavar="FILE", help="the proposal's assignment file, in place of today's"
    )
    plan.add_argument(
        "--format",
        type=format_name,
        choices=("text", "json", "markdown", "html"),
        default="text",
        help="text (default), json, markdown or html (one self-contained page)",
    )
    plan.add_argument("--output", metavar="FILE", help="write the plan here (- is standard output)")
    plan.add_argument("--jsonl", metavar="FILE", help="also write each device's plan as one JSON line to FILE")
    plan.add_argument(
        "--timeout",
        type=_seconds,
        default=PLAN_TIMEOUT,
        metavar="SECONDS",
        help="how long the possible-device questions may take together before they are said undecided "
        f"(default: {PLAN_TIMEOUT:g})",
    )
    plan.add_argument(
        "--fail-on",
        choices=("regressions",),
        default=None,
        help="regressions: exit code 1 when a device of the fleet, or a possible device, newly fails a rule",
    )
    _debug_option(plan)


# How long plan's possible-device questions take together before they are said undecided.
PLAN_TIMEOUT = 5.0


def _rules_option(command: argparse.ArgumentParser, purpose: str = "the rules to check") -> None:
    command.add_argument(
        "--rules",
        action="append",
        metavar="NAME|FILE",
        help=f"{purpose}: a shipped ruleset name or a .rules file (repeatable; default: every shipped ruleset)",
    )


def _fail_on_option(command: argparse.ArgumentParser, what: str, default: str) -> None:
    # default None: the project configuration's fail-on applies when the option is not given.
    command.add_argument(
        "--fail-on",
        choices=("error", "warning", "info"),
        default=None,
        help=f"lowest severity of {what} that makes the exit code 1 (default: the configuration's fail-on, "
        f"else {default})",
    )


def _config_options(command: argparse.ArgumentParser) -> None:
    group = command.add_mutually_exclusive_group()
    group.add_argument(
        "--config",
        metavar="FILE",
        help="the project configuration (default: the nearest bitlocker-rules.toml, or pyproject.toml with "
        "[tool.bitlocker-rules], from the working folder up)",
    )
    group.add_argument("--no-config", action="store_true", help="read no project configuration")


# How long lint, compare and repair search before answering "undecided" (exit code 4).
DEFAULT_TIMEOUT = 30.0


def _timeout_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"stop searching after this long and answer undecided, exit code 4 (default: {DEFAULT_TIMEOUT:g})",
    )


def _seconds(text: str) -> float:
    """A positive number of seconds (argparse reports anything else as a usage error)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"the time limit must be a positive number of seconds, not {text}")
    return value


def _scenario_option(command: argparse.ArgumentParser) -> None:
    from ..vocabulary import shipped_vocabulary  # noqa: PLC0415 - read when the parser is built, not imported

    names = ", ".join(shipped_vocabulary().scenarios)
    command.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help=f"what the check is about ({names}; repeatable). Rules about a scenario "
        "apply only in it; undeclared scenarios are inferred from the policies, and "
        "naming a scenario's ruleset with --rules declares it",
    )


def declared_scenarios(args: argparse.Namespace) -> dict[str, str]:
    """The scenarios declared with --scenario, each with how it was declared."""
    return {name: f"with --scenario {name}" for name in getattr(args, "scenario", ())}
