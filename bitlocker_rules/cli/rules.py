"""``rules`` and ``explain``: what the shipped rulesets hold."""

from __future__ import annotations

import argparse

from tabulate import tabulate

from ..citations import coverage
from ..engine import Engine
from ..errors import redact, suggest
from ..nodes import Rule, facts_read
from ..printer import print_rule
from .output import print_out, usage_error
from .status import EXIT_FAIL, EXIT_PASS


def run_rules(args: argparse.Namespace) -> int:
    """``rules``: list rulesets and rules, or the requirement coverage."""
    engine = Engine.load(args.rules)
    if args.coverage:
        return _print_coverage(engine)
    rows = [
        [
            loaded.id,
            rule.id,
            _kind(rule),
            rule.severity if rule.kind == "rule" else "",
            ", ".join(rule.encodes or rule.related),
            ", ".join(rule.scenarios),
            rule.title,
        ]
        for loaded in engine.rulesets
        for rule in loaded.ruleset.rules
    ]
    print_out(tabulate(_masked(rows), headers=["ruleset", "rule", "kind", "severity", "cites", "scenario", "title"]))
    return EXIT_PASS


def _masked(rows: list[list[str]]) -> list[list[str]]:
    """Cells masked before tabulate wraps them or sets their lines beside other columns, which
    would split a recovery password where the mask of the whole table cannot see it."""
    return [[redact(cell) for cell in row] for row in rows]


def _kind(rule: Rule) -> str:
    """``rule``, ``advice`` (cites only ``related`` ids), ``note``; ``disputed``/``unconfirmed`` marked."""
    kind = "advice" if rule.kind == "rule" and rule.related and not rule.encodes else rule.kind
    return kind + (" (disputed)" if rule.disputed else " (unconfirmed)" if rule.unconfirmed else "")


def _print_coverage(engine: Engine) -> int:
    """Each requirement and cause with the rules that encode it; advice is listed but does not count."""
    table = coverage(loaded.ruleset for loaded in engine.rulesets)
    rows = [
        [
            c.requirement.id,
            c.requirement.kind,
            c.requirement.title,
            ", ".join(c.rules) or "NOT ENCODED",
            ", ".join(c.advice),
            "yes" if c.requirement.deviation else "",
        ]
        for c in table
    ]
    print_out(
        tabulate(
            _masked(rows),
            headers=["id", "kind", "requirement", "encoded by", "advice", "deviation"],
            maxcolwidths=[None, None, 50, 40, 20, None],
        )
    )
    unencoded = [c.requirement for c in table if not c.covered]
    deviating = [r.id for r in unencoded if r.deviation]
    missing = [r.id for r in unencoded if not r.deviation]
    print_out(
        f"\n{len(table) - len(unencoded)} of {len(table)} encoded by a rule or note (advice does not count)"
        + (f"; not encoded, with a documented deviation: {', '.join(deviating)}" if deviating else "")
        + (f"; NOT ENCODED: {', '.join(missing)}" if missing else "")
    )
    return EXIT_FAIL if missing else EXIT_PASS


def run_explain(args: argparse.Namespace) -> int:
    """``explain``: one rule in full."""
    engine = Engine.load(args.rules)
    for loaded in engine.rulesets:
        for rule in loaded.ruleset.rules:
            if rule.id.lower() == args.rule_id.lower():
                facts = facts_read(rule.applicability, *rule.requires)
                print_out(f"{rule.id} (ruleset {loaded.id}, {loaded.path})\n")
                source = loaded.ruleset.text
                print_out(source.excerpt(rule.span).rstrip() if source and rule.span else print_rule(rule))
                print_out("\nfacts it reads:")
                for name in facts:
                    decl = engine.vocabulary.fact(name)
                    print_out(f"  {name}: {decl.label if decl else ''}")
                return EXIT_PASS
    known = [r.id for loaded in engine.rulesets for r in loaded.ruleset.rules]
    hint = suggest(args.rule_id, known)
    return usage_error("explain", f"no rule `{args.rule_id}`" + (f"; {hint}" if hint else ""))
