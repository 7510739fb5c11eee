"""``lint``: the checker's diagnostics and the analyser's findings over rule files."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import ProjectConfig
from ..engine import load_ruleset
from ..errors import Diagnostic, InputError, RulesError, suggest
from ..resources import installed_version, shipped_ruleset_paths
from ..rule_diagnostics import finding_diagnostic
from ..scenarios import ScenarioResolver, declared_by_rulesets
from ..source import SourceText
from ..suppression import apply_suppressions
from ..vocabulary import shipped_vocabulary
from .output import Progress, write_output
from .parser import declared_scenarios
from .status import EXIT_PASS, EXIT_UNDECIDED, EXIT_USAGE

if TYPE_CHECKING:
    from ..analysis import Finding


def run_lint(args: argparse.Namespace) -> int:
    """``lint``: the checker's diagnostics and the analyser's findings over every file given."""
    from .. import analysis  # noqa: PLC0415 - only lint, compare and repair need the analyser

    vocabulary = shipped_vocabulary()
    targets = _lint_targets(args.paths)
    loaded, diagnostics = [], list[Diagnostic]()
    for target in targets:
        try:
            loaded.append(load_ruleset(target, vocabulary))
        except RulesError as exc:
            diagnostics += exc.diagnostics
    # As for check: naming a ruleset declares its scenarios, and the rules are read as they apply then.
    declared = {**(declared_by_rulesets(r.ruleset for r in loaded) if args.paths else {}), **declared_scenarios(args)}
    progress = Progress.on_terminal("lint")
    try:
        found = analysis.lint(
            loaded,
            vocabulary,
            assumed=ScenarioResolver(vocabulary, declared).values({}),
            timeout=args.timeout,
            progress=progress.report,
        )
    finally:
        progress.done()
    sources = {r.path: r.ruleset.text for r in loaded if r.ruleset.text is not None}
    shown = _selected(apply_suppressions(found, sources), args)
    findings = analysis.diagnostic_findings(diagnostics) + shown
    write_output(_lint_text(args.format, findings, diagnostics, sources, len(targets)), args.output)
    if diagnostics:
        return EXIT_USAGE
    code = analysis.lint_exit_code(findings, args.fail_on)
    # A check that did not finish is neither a finding nor a clean bill: 4, unless a finding fails.
    return EXIT_UNDECIDED if code == EXIT_PASS and any(f.code == "L108" for f in findings) else code


def _selected(findings: Sequence[Finding], args: argparse.Namespace) -> list[Finding]:
    """The findings of the checks the configuration enables (all, when it names none) and
    does not disable; a check it names that does not exist is an error naming the key."""
    from ..analysis.results import CODES  # noqa: PLC0415 - see run_lint

    enable, disable = getattr(args, "lint_enable", ()), getattr(args, "lint_disable", ())
    names = [name for name, _, _ in CODES.values()]
    for key, checks in (("enable", enable), ("disable", disable)):
        for check in checks:
            if check not in CODES and check not in names:
                raise InputError(
                    [
                        Diagnostic(
                            "C004",
                            f"no lint check `{check}`",
                            file=args.config_file,
                            path=f"{getattr(args, 'config_table', '')}lint.{key}",
                            help=suggest(check, names) or "lint checks: " + ", ".join(names),
                        )
                    ]
                )

    config = ProjectConfig(lint_enable=tuple(enable), lint_disable=tuple(disable))
    return [f for f in findings if config.lint_wanted(f.code, f.name)]


def _lint_text(
    form: str,
    findings: Sequence[Finding],
    diagnostics: Sequence[Diagnostic],
    sources: Mapping[str, SourceText],
    files: int,
) -> str:
    """The findings in ``form``: text shows each as ``check`` shows a diagnostic, with the
    line of rule text, a caret under the place and the help."""
    from .. import analysis  # noqa: PLC0415 - see run_lint

    if form == "json":
        return json.dumps({"findings": [f.to_dict() for f in findings]}, indent=2, ensure_ascii=False) + "\n"
    if form == "sarif":
        sarif = analysis.findings_to_sarif(findings, installed_version())
        return json.dumps(sarif, indent=2, ensure_ascii=False) + "\n"
    shown = [d.render() for d in diagnostics]
    shown += [finding_text(f, sources) for f in findings[len(diagnostics) :]]
    return "".join(block + "\n\n" for block in shown) + _lint_summary(findings, files)


def finding_text(finding: Finding, sources: Mapping[str, SourceText]) -> str:
    """A finding as a diagnostic reads: where, what, the rule text with a caret, help, and
    the further places it concerns."""
    diagnostic = finding_diagnostic(finding, sources)
    if diagnostic is None:
        help_text = finding.details.get("help")
        return finding.render() + (f"\n  help: {help_text}" if help_text else "")
    return "\n".join([diagnostic.render(), *(f"  see also {loc}" for loc in finding.locations[1:])])


def _lint_targets(paths: Sequence[str]) -> list[str]:
    if not paths:
        return list(shipped_ruleset_paths())
    found: list[str] = []
    for path in paths:
        found += [str(p) for p in sorted(Path(path).glob("*.rules"))] if _is_folder(path) else [path]
    return _each_once(found)


def _each_once(targets: list[str]) -> list[str]:
    """The targets without repeats: a file named twice (or as a name and a path) is linted once,
    as its rules, linted against themselves, would only report each other."""
    shipped = shipped_ruleset_paths()
    seen: set[str] = set()
    kept = []
    for target in targets:
        try:
            key = str((shipped[target] if target in shipped else Path(target)).resolve())
        except OSError:  # a name the system cannot look up: the load reports it
            key = target
        if key not in seen:
            seen.add(key)
            kept.append(target)
    return kept


def _is_folder(path: str) -> bool:
    """True for a folder; a name the system cannot look up (too long) is read as a file and fails there."""
    try:
        return Path(path).is_dir()
    except OSError:
        return False


def _lint_summary(findings: Sequence[Finding], rulesets: int) -> str:
    """``N ruleset(s) checked: …``: every file given counts, also one that did not load."""
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
    return f"{rulesets} ruleset(s) checked: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + "\n"
