"""Benchmarks of the analyser (bitlocker_rules.analysis): medians of repeated runs.

    python benchmarks/bench_analysis.py [--quick]

1. lint of every shipped ruleset together (goal: under 2 s);
2. repair of one device (examples/policy-startup-pin.json + examples/device-ready.json),
   against silent_enablement and against every shipped ruleset (goal: under 50 ms);
3. scaling: lint, satisfiability and repair of 10, 100 and 1,000 generated rules over the
   shipped vocabulary. The generated rules are built to hold at one hidden assignment (as a
   real ruleset is meant to be satisfiable) except for a few deliberate contradictions, so
   lint has conflicts, redundancies and implications to find.

The machine is shared and noisy: figures are medians; no timing assertion lives in tests.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bitlocker_rules import analysis as A  # noqa: E402
from bitlocker_rules.engine import Engine, compile_text, shipped_vocabulary  # noqa: E402
from bitlocker_rules.facts import load_device_file, load_policy_file, merge_facts  # noqa: E402
from bitlocker_rules.versions import WindowsVersion  # noqa: E402


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def show(label: str, seconds: float, goal: float | None = None, extra: str = "") -> None:
    verdict = "" if goal is None else ("  (goal < %s: %s)" % (_fmt(goal), "met" if seconds < goal else "MISSED"))
    print(f"  {label:<58} {_fmt(seconds):>10}{verdict}{extra}")


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


# --- generated rules ------------------------------------------------------------------------


def generated_rules(count: int, seed: int = 7) -> str:
    """``count`` rules over the shipped vocabulary's scalar facts, true at a hidden target."""
    vocabulary = shipped_vocabulary()
    rng = random.Random(seed)
    # Scenario facts are read through `scenario` clauses, never written in conditions (`scenario`
    # is a keyword of the rule language).
    facts = [f for f in vocabulary.facts.values() if f.namespace != "scenario"]
    enums = [f for f in facts if f.type.kind == "enum"]
    bools = [f for f in facts if f.type.kind == "bool"]
    target = {f.name: rng.choice(f.type.enum.member_names) for f in enums}
    target |= {f.name: rng.random() < 0.5 for f in bools}
    builds = [17134, 17763, 18363, 19041, 19045, 22000, 22631]
    target_build = rng.choice(builds)
    lines = ['ruleset generated "Generated rules"', ""]

    def enum_condition(fact, holds: bool = True) -> str:
        members = fact.type.enum.member_names
        value = target[fact.name]
        others = [m for m in members if m != value]
        form = rng.random()
        if not holds:
            return f"{fact.name} == {rng.choice(others)}" if others else f"{fact.name} is missing"
        if form < 0.4 or not others:
            return f"{fact.name} == {value}"
        if form < 0.7:
            picked = sorted({value, *rng.sample(others, min(len(others), rng.randint(1, 2)))})
            return f"{fact.name} in {{{', '.join(picked)}}}"
        return f"{fact.name} != {rng.choice(others)}"

    def bool_condition(fact, holds: bool = True) -> str:
        value = target[fact.name] if holds else not target[fact.name]
        return fact.name if value else f"not {fact.name}"

    def condition(holds: bool = True) -> str:
        kind = rng.random()
        if kind < 0.6:
            return enum_condition(rng.choice(enums), holds)
        if kind < 0.85:
            return bool_condition(rng.choice(bools), holds)
        build = rng.choice([b for b in builds if b <= target_build] if holds else [b for b in builds if b > target_build] or [99999])
        return f"device.os_version >= {WindowsVersion(10, 0, build)}"

    for i in range(count):
        contradiction = rng.random() < 0.02
        lines.append(f'rule G-{i:04d} "Generated rule {i}"')
        form = rng.random()
        if form < 0.35:
            lines.append(f"  when {condition(rng.random() < 0.7)}")
        if form > 0.8:
            lines.append(f"  require ({condition()}) or ({condition()})")
        else:
            lines.append(f"  require {condition(not contradiction)}")
            if rng.random() < 0.3:
                lines.append(f"  require {condition()}")
    return "\n".join(lines) + "\n"


# --- runs -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else 9
    vocabulary = shipped_vocabulary()
    every = Engine.load()
    silent = Engine.load(["silent_enablement"])
    examples = ROOT / "examples"
    facts = merge_facts([load_policy_file(examples / "policy-startup-pin.json", vocabulary),
                         load_device_file(examples / "device-ready.json", vocabulary)])
    # As `bitlocker-rules repair` does: the facts as the rules read them, scenario and derived
    # facts included (naming silent_enablement declares its scenario; without it, the startup
    # PIN policy is inferred to be about interactive startup, so the silent-enablement rules
    # do not apply to it).
    silent_facts = silent.resolved(facts.table)
    every_facts = every.resolved(facts.table)

    rule_count = sum(len(r.rules) for r in every.rulesets)
    print(f"Shipped rulesets: {len(every.rulesets)} files, {rule_count} rules")
    findings = A.lint(every.rulesets, vocabulary)
    show("lint, every shipped ruleset together", median_seconds(lambda: A.lint(every.rulesets, vocabulary), repeat),
         goal=2.0, extra=f"  [{len(findings)} findings]")
    show("satisfiable, every shipped ruleset together",
         median_seconds(lambda: A.check_satisfiable(every.rulesets, vocabulary), repeat))
    result = A.repair(silent.rulesets, vocabulary, silent_facts)
    show("repair, one device, silent_enablement", median_seconds(
        lambda: A.repair(silent.rulesets, vocabulary, silent_facts), repeat * 3), goal=0.05,
        extra=f"  [{len(result.changes)} changes]")
    result = A.repair(every.rulesets, vocabulary, every_facts)
    show("repair, one device, every shipped ruleset", median_seconds(
        lambda: A.repair(every.rulesets, vocabulary, every_facts), repeat), goal=0.05,
        extra=f"  [{len(result.changes)} changes, {len(result.prerequisites)} prerequisites]")
    fleet = [silent_facts] * 100
    show("fleet repair, 100 devices, silent_enablement", median_seconds(
        lambda: A.fleet_repair(silent.rulesets, vocabulary, fleet), max(3, repeat // 3)))

    print("\nScaling with generated rules (lint = per-rule checks + implications + conflicts)")
    print(f"  {'rules':>6} {'lint':>10} {'findings':>9} {'satisfiable':>12} {'repair':>10}")
    for count in (10, 100, 1000):
        loaded = compile_text(generated_rules(count), "generated.rules", vocabulary)
        reps = repeat if count <= 100 else 1
        lint_s = median_seconds(lambda: A.lint([loaded], vocabulary), reps)
        found = A.lint([loaded], vocabulary)
        sat_s = median_seconds(lambda: A.check_satisfiable([loaded], vocabulary), reps)
        rep_s = median_seconds(lambda: A.repair([loaded], vocabulary, every_facts), reps)
        print(f"  {count:>6} {_fmt(lint_s):>10} {len(found):>9} {_fmt(sat_s):>12} {_fmt(rep_s):>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
