"""The fleet's work per device counted by a simulated CPU: figures the host's load cannot move.

    python benchmarks/bench_instructions.py [--small 3000] [--large 9000] [--seed N]
                                            [--policy examples/policy-silent.json]

``bench_fleet.py`` times its rows on the wall clock, which moves by ±20% on a shared machine.
This runs three of its in-process rows (``floor``, ``tool``, and ``tool-jsonl``: the tool writing
every device's JSON line) under valgrind's cachegrind, which counts what a run executes on a
simulated CPU: instructions, and misses of the first-level instruction and data caches and of the
last-level cache. Each row runs on two fleets from ``bench_fleet.generate`` (the smaller a prefix
of the larger); the difference over the devices in between is the cost of one device, with
start-up, loading and the first devices (an explanation memo still cold) left out. The runs are
deterministic: hash seed fixed, address space not randomised where ``setarch`` can turn it off,
the rulesets' build cache off.

Counts are not time. A miss costs more than an instruction, and cachegrind does not model branch
prediction or the real machine's caches, so a ratio of instructions is a floor under the ratio of
wall time, not a forecast of it: read both. Needs ``valgrind``; about 50 times slower than a
plain run (some minutes at the defaults).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_fleet  # the generator and the rows measured are bench_fleet's

MODES = {
    "floor": "floor: json.loads + hand typing + hand rules",
    "tool": "tool: read_fleet + evaluate_fleet",
    "tool-jsonl": "tool + write_jsonl(/dev/null)",
}
EVENTS = {  # cachegrind's event names, as shown
    "Ir": "instructions",
    "I1mr": "L1 instruction misses",
    "D1mr": "L1 data read misses",
    "D1mw": "L1 data write misses",
    "DLmr": "last-level data read misses",
}


def counts(mode: str, fleet: Path, policy: Path, folder: Path) -> dict[str, int]:
    """One row's run on ``fleet`` under cachegrind: its event totals."""
    out = folder / f"cachegrind.{mode}.{fleet.stem}.out"
    cmd = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=yes",
        f"--cachegrind-out-file={out}",
        sys.executable,
        str(Path(bench_fleet.__file__).resolve()),
        "--child",
        mode,
        str(fleet),
        str(policy),
    ]
    if shutil.which("setarch"):
        cmd = ["setarch", platform.machine(), "-R", *cmd]
    env = {**bench_fleet._env(), "PYTHONHASHSEED": "0", "BITLOCKER_RULES_CACHE": "off"}
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=bench_fleet.ROOT, env=env)
    if run.returncode != 0:
        raise SystemExit(f"{mode} on {fleet.name} failed under cachegrind:\n{run.stderr[-2000:]}")
    return summary(out.read_text(encoding="utf-8"))


def summary(text: str) -> dict[str, int]:
    """The event totals of a cachegrind output file (its ``events:`` and ``summary:`` lines)."""
    names: list[str] = []
    for line in text.splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith("summary:"):
            return dict(zip(names, map(int, line.split()[1:]), strict=True))
    raise SystemExit("no summary line in cachegrind's output")


def per_device(small: dict[str, int], large: dict[str, int], devices: int) -> dict[str, float]:
    """What one device adds: the difference of two runs over the devices between them."""
    return {event: (large[event] - small[event]) / devices for event in EVENTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=3000, help="devices in the smaller fleet (default 3000)")
    parser.add_argument("--large", type=int, default=9000, help="devices in the larger fleet (default 9000)")
    parser.add_argument("--seed", type=int, default=20240521)
    parser.add_argument("--policy", type=Path, default=bench_fleet.DEFAULT_POLICY)
    args = parser.parse_args(argv)
    if not shutil.which("valgrind"):
        print("bench_instructions: needs valgrind (cachegrind), which is not on PATH", file=sys.stderr)
        return 2
    if not 0 < args.small < args.large:
        parser.error("--small must be above 0 and below --large")
    print(
        f"bench_instructions: Python {platform.python_version()} on {platform.machine()}; "
        f"{args.small:,} and {args.large:,} devices; policy {args.policy}; seed {args.seed}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as name:
        folder = Path(name)
        fleets = bench_fleet.generate([args.small, args.large], args.seed, folder)
        jobs = {(mode, n): (mode, fleets[n], args.policy, folder) for mode in MODES for n in fleets}
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            done = {key: pool.submit(counts, *job) for key, job in jobs.items()}
            totals = {key: future.result() for key, future in done.items()}
    devices = args.large - args.small
    cost = {mode: per_device(totals[(mode, args.small)], totals[(mode, args.large)], devices) for mode in MODES}
    floor = cost["floor"]
    headers = ["row", *(f"{label} / device" for label in EVENTS.values()), "instructions vs floor"]
    rows = [
        [
            MODES[mode],
            *(f"{cost[mode][event]:,.0f}" for event in EVENTS),
            f"{cost[mode]['Ir'] / floor['Ir']:.2f}x",
        ]
        for mode in MODES
    ]
    print(bench_fleet._table(headers, rows))
    print(
        f"Per device: the run on {args.large:,} devices less the run on {args.small:,}, over the "
        f"{devices:,} devices between (start-up and the first devices left out)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
