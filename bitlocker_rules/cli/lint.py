"""``lint``: the checker's diagnostics and the analyser's findings over rule files."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine import load_ruleset
from ..errors import RulesError
from ..resources import installed_version, shipped_ruleset_paths
from ..scenarios import ScenarioResolver, declared_by_rulesets
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
    loaded, findings, unreadable = [], [], False
    for target in _lint_targets(args.paths):
        try:
            loaded.append(load_ruleset(target, vocabulary))
        except RulesError as exc:
            findings += analysis.diagnostic_findings(exc.diagnostics)
            unreadable = True
    # As for check: naming a ruleset declares its scenarios, and the rules are read as they apply then.
    declared = {**(declared_by_rulesets(r.ruleset for r in loaded) if args.paths else {}), **declared_scenarios(args)}
    progress = Progress.on_terminal("lint")
    try:
        findings += analysis.lint(
            loaded,
            vocabulary,
            assumed=ScenarioResolver(vocabulary, declared).values({}),
            timeout=args.timeout,
            progress=progress.report,
        )
    finally:
        progress.done()
    if args.format == "json":
        text = json.dumps({"findings": [f.to_dict() for f in findings]}, indent=2, ensure_ascii=False) + "\n"
    elif args.format == "sarif":
        text = (
            json.dumps(analysis.findings_to_sarif(findings, installed_version()), indent=2, ensure_ascii=False) + "\n"
        )
    else:
        text = "\n".join(f.render() for f in findings) + "\n" + _lint_summary(findings, len(loaded))
    write_output(text, args.output)
    if unreadable:
        return EXIT_USAGE
    code = analysis.lint_exit_code(findings, args.fail_on)
    # A check that did not finish is neither a finding nor a clean bill: 4, unless a finding fails.
    return EXIT_UNDECIDED if code == EXIT_PASS and any(f.code == "L108" for f in findings) else code


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
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
    return f"{rulesets} ruleset(s) checked: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + "\n"
