"""How long `bitlocker-rules check` takes for one device, start-up included, and where it goes.

    python benchmarks/bench_startup.py [--runs 15] [--clock wall|cpu]

Runs the CLI as a subprocess on the shipped example (examples/policy-silent.json with
examples/device-legacy.json, every shipped ruleset) with Python's bytecode cache on:

* ``python -c pass``: the interpreter alone, the floor;
* ``check``, warm cache: the built rulesets read back from the cache (every run after the first);
* ``check``, cold cache: an empty cache folder each run (the first run after an install or edit);
* ``check``, cache off: ``BITLOCKER_RULES_CACHE=off``.

Then one warm run under ``python -X importtime``: the modules that cost most to import (their
own time, without the modules they import), and the totals for this package and for the rest.
The figures are medians; ``--clock cpu`` counts the child's user and system time instead of the
wall clock (steadier on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = [
    "-m",
    "bitlocker_rules",
    "check",
    "--policy",
    str(ROOT / "examples" / "policy-silent.json"),
    "--device",
    str(ROOT / "examples" / "device-legacy.json"),
    "--color",
    "never",
]


def environment(cache: str) -> dict[str, str]:
    """The child's environment: this checkout first, bytecode cache on, the given cache folder."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["BITLOCKER_RULES_CACHE"] = cache
    return env


def timed(args: list[str], env: dict[str, str], clock: str) -> float:
    """Seconds one run of ``python args`` takes (wall, or the child's CPU time)."""
    start = time.perf_counter()
    before = os.times()
    subprocess.run([sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = os.times()
    if clock == "cpu":
        return (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return time.perf_counter() - start


def median_ms(runs: int, args: list[str], env_for_run, clock: str) -> float:
    """The median over ``runs`` runs, in milliseconds; ``env_for_run(i)`` gives each run's environment."""
    return 1000 * statistics.median(timed(args, env_for_run(i), clock) for i in range(runs))


def import_costs(env: dict[str, str]) -> list[tuple[str, int, int]]:
    """(module, own microseconds, cumulative microseconds) of one run under ``-X importtime``."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", *CHECK], env=env, capture_output=True, text=True, check=False
    )
    rows = re.findall(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", run.stderr)
    return [(name, int(own), int(total)) for own, total, _, name in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        warm = environment(str(Path(scratch) / "warm"))
        timed(CHECK, warm, args.clock)  # fills the bytecode cache and the rulesets cache
        floor = median_ms(args.runs, ["-c", "pass"], lambda i: warm, args.clock)
        figures = {
            "python -c pass": floor,
            "check, warm cache": median_ms(args.runs, CHECK, lambda i: warm, args.clock),
            "check, cold cache": median_ms(
                args.runs, CHECK, lambda i: environment(str(Path(scratch) / f"cold{i}")), args.clock
            ),
            "check, cache off": median_ms(args.runs, CHECK, lambda i: environment("off"), args.clock),
        }
        costs = import_costs(warm)
    print(f"{args.runs} runs each, {args.clock} clock, medians")
    for label, ms in figures.items():
        print(f"  {label:<20} {ms:7.1f} ms")
    ours = sum(own for name, own, _ in costs if name.startswith("bitlocker_rules"))
    rest = sum(own for name, own, _ in costs if not name.startswith("bitlocker_rules"))
    print(f"imports (warm run): this package {ours / 1000:.1f} ms, everything else {rest / 1000:.1f} ms")
    print("  the 15 costliest modules, own time:")
    for name, own, total in sorted(costs, key=lambda row: -row[1])[:15]:
        print(f"    {own / 1000:6.1f} ms  (with its imports {total / 1000:6.1f} ms)  {name}")


if __name__ == "__main__":
    main()
