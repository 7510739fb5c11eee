"""Benchmarks of the analyser (bitlocker_rules.analysis): medians of repeated runs.

    python benchmarks/bench_analysis.py [--quick]

1. lint of every shipped ruleset together (goal: under 2 s);
2. repair of one device (examples/policy-startup-pin.json + examples/device-ready.json),
   against silent_enablement and against every shipped ruleset (goal: under 50 ms);
3. scaling: lint, satisfiability and repair of 10, 100 and 1,000 generated rules over the
   shipped vocabulary. The generated rules are built to hold at one hidden assignment (as a
   real ruleset is meant to be satisfiable) except for a few deliberate contradictions, so
   lint has conflicts, redundancies and implications to find.
4. compare (issue 11): every ordered pair of shipped rulesets, A == B included, each side
   loaded on its own as `bitlocker-rules compare A B` does, and unions (all eight against all
   eight, against each single ruleset, and a few smaller unions); the worst pair is reported
   (goal: under 2 s each);
5. the pathological rule texts of issue 11 (a count between far-apart constants, a wide
   decimal range, 30 doubling definitions, 4,000 failing conditions to explain, lint of 1,000
   one-line rules), each analysed once.

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
from bitlocker_rules import nodes as n  # noqa: E402
from bitlocker_rules.engine import Engine, compile_text, shipped_vocabulary  # noqa: E402
from bitlocker_rules.facts import load_device_file, load_policy_file, merge_facts  # noqa: E402
from bitlocker_rules.interpreter import Interpreter  # noqa: E402
from bitlocker_rules.scenarios import ScenarioResolver  # noqa: E402
from bitlocker_rules.versions import WindowsVersion  # noqa: E402


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def show(label: str, seconds: float, goal: float | None = None, extra: str = "") -> None:
    verdict = "" if goal is None else f"  (goal < {_fmt(goal)}: {'met' if seconds < goal else 'MISSED'})"
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
        passing = [b for b in builds if b <= target_build]
        failing = [b for b in builds if b > target_build] or [99999]
        build = rng.choice(passing if holds else failing)
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


# --- compare: every pair --------------------------------------------------------------------


def compare_pairs() -> list[tuple[str, str]]:
    """Every ordered pair of shipped rulesets, A == B included, and unions of them."""
    names = sorted(p.stem for p in (ROOT / "rulesets").glob("*.rules"))
    every = ",".join(names)
    pairs = [(a, b) for a in names for b in names]
    pairs += [(every, every)] + [(every, name) for name in names] + [(name, every) for name in names]
    pairs += [
        (",".join(names[:4]), ",".join(names[4:])),
        (",".join(names[::2]), names[1]),
        ("tenant_attach,permissions", "encryption_readiness"),
    ]
    return pairs


def time_compare(a: str, b: str) -> tuple[float, str]:
    """One comparison as the command line makes it (each side loaded apart, scenarios either
    side declares assumed on both); the loading is not timed."""
    left, right = Engine.load(a.split(",")), Engine.load(b.split(","))
    declared = {**left.scenarios.declared, **right.scenarios.declared}
    assumed = ScenarioResolver(left.vocabulary, declared).values({})
    start = time.perf_counter()
    result = A.compare(left.rulesets, right.rulesets, left.vocabulary, assumed=assumed)
    return time.perf_counter() - start, result.relation


def run_compare_pairs() -> None:
    pairs = compare_pairs()
    timed = [(time_compare(a, b), a, b) for a, b in pairs]
    print(f"\nCompare: {len(pairs)} pairs of shipped rulesets and unions, each once")
    total = sum(seconds for (seconds, _), _, _ in timed)
    (worst, relation), a, b = max(timed)
    show(f"total of {len(pairs)} comparisons", total)
    show("worst pair", worst, goal=2.0, extra=f"  [{a} vs {b}: {relation}]")
    same = [seconds for (seconds, _), a, b in timed if a == b]
    show(f"worst of the {len(same)} identical pairs (no search)", max(same))


# --- the pathological inputs of issue 11 ----------------------------------------------------


def run_pathological(vocabulary) -> None:
    print("\nPathological rule texts (issue 11), each once")
    head = 'ruleset t "T"\nrule T-1 "t"\n'
    count = compile_text(
        head + "  require count(device.volumes) > 1 and count(device.volumes) < 1000000000\n", "count.rules", vocabulary
    )
    show(
        "count between 1 and 10^9: satisfiable + lint",
        _once(lambda: (A.check_satisfiable([count], vocabulary), A.lint([count], vocabulary))),
    )
    wide = compile_text(
        head + "  require device.tpm_version > 1.0 and device.tpm_version < 100000000000000.0\n",
        "wide.rules",
        vocabulary,
    )
    show(
        "decimal range 1.0 .. 10^14: satisfiable + lint",
        _once(lambda: (A.check_satisfiable([wide], vocabulary), A.lint([wide], vocabulary))),
    )
    lines = ['ruleset t "T"', "define d0 = policy.minimum_pin_length >= 8"]
    lines += [f"define d{i} = d{i - 1} and d{i - 1}" for i in range(1, 31)] + ['rule T-1 "t"', "  require d30"]
    doubling = "\n".join(lines) + "\n"
    show("30 doubling definitions: load, lint, repair, compare", _once(lambda: _doubling(doubling, vocabulary)))
    pin = n.FactRef("policy.minimum_pin_length")
    rule = n.Rule("T-1", "t", requires=(n.And(tuple(n.Compare(">=", pin, n.Const(8 + i)) for i in range(4000))),))
    interpreter = Interpreter(n.Ruleset("t", "T", rules=(rule,)), vocabulary)
    show(
        "4,000 failing conditions: explain (decisive reasons)",
        _once(lambda: interpreter.evaluate(rule, {"policy.minimum_pin_length": 6})),
    )
    many = compile_text(
        'ruleset t "T"\n'
        + "".join(f'rule L-{i} "r{i}" require policy.minimum_pin_length >= {i}\n' for i in range(1000)),
        "many.rules",
        vocabulary,
    )
    show("lint of 1,000 one-line rules", _once(lambda: A.lint([many], vocabulary)))


def _doubling(text: str, vocabulary) -> None:
    loaded = compile_text(text, "doubling.rules", vocabulary)
    A.lint([loaded], vocabulary)
    A.repair([loaded], vocabulary, {"policy.minimum_pin_length": 6})
    A.compare([loaded], [compile_text(text, "again.rules", vocabulary)], vocabulary)


def _once(fn) -> float:
    return median_seconds(fn, 1)


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
    facts = merge_facts(
        [
            load_policy_file(examples / "policy-startup-pin.json", vocabulary),
            load_device_file(examples / "device-ready.json", vocabulary),
        ]
    )
    # As `bitlocker-rules repair` does: the facts as the rules read them, scenario and derived
    # facts included (naming silent_enablement declares its scenario; without it, the startup
    # PIN policy is inferred to be about interactive startup, so the silent-enablement rules
    # do not apply to it).
    silent_facts = silent.resolved(facts.table)
    every_facts = every.resolved(facts.table)

    rule_count = sum(len(r.rules) for r in every.rulesets)
    print(f"Shipped rulesets: {len(every.rulesets)} files, {rule_count} rules")
    findings = A.lint(every.rulesets, vocabulary)
    show(
        "lint, every shipped ruleset together",
        median_seconds(lambda: A.lint(every.rulesets, vocabulary), repeat),
        goal=2.0,
        extra=f"  [{len(findings)} findings]",
    )
    show(
        "satisfiable, every shipped ruleset together",
        median_seconds(lambda: A.check_satisfiable(every.rulesets, vocabulary), repeat),
    )
    result = A.repair(silent.rulesets, vocabulary, silent_facts)
    show(
        "repair, one device, silent_enablement",
        median_seconds(lambda: A.repair(silent.rulesets, vocabulary, silent_facts), repeat * 3),
        goal=0.05,
        extra=f"  [{len(result.changes)} changes]",
    )
    result = A.repair(every.rulesets, vocabulary, every_facts)
    show(
        "repair, one device, every shipped ruleset",
        median_seconds(lambda: A.repair(every.rulesets, vocabulary, every_facts), repeat),
        goal=0.05,
        extra=f"  [{len(result.changes)} changes, {len(result.prerequisites)} prerequisites]",
    )
    fleet = [silent_facts] * 100
    show(
        "fleet repair, 100 devices, silent_enablement",
        median_seconds(lambda: A.fleet_repair(silent.rulesets, vocabulary, fleet), max(3, repeat // 3)),
    )

    print("\nScaling with generated rules (lint = per-rule checks + implications + conflicts)")
    print(f"  {'rules':>6} {'lint':>10} {'findings':>9} {'satisfiable':>12} {'repair':>10}")
    for count in (10, 100, 1000):
        loaded = compile_text(generated_rules(count), "generated.rules", vocabulary)
        reps = repeat if count <= 100 else 1
        # Each lambda is timed and dropped within its iteration: `loaded` is the current one.
        lint_s = median_seconds(lambda: A.lint([loaded], vocabulary), reps)  # noqa: B023 - called at once
        found = A.lint([loaded], vocabulary)
        sat_s = median_seconds(lambda: A.check_satisfiable([loaded], vocabulary), reps)  # noqa: B023 - called at once
        rep_s = median_seconds(lambda: A.repair([loaded], vocabulary, every_facts), reps)  # noqa: B023 - called at once
        print(f"  {count:>6} {_fmt(lint_s):>10} {len(found):>9} {_fmt(sat_s):>12} {_fmt(rep_s):>10}")
    run_compare_pairs()
    run_pathological(vocabulary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
