"""Benchmark: ``plan`` over a fleet against one ``check --fleet`` run on the same devices.

    python benchmarks/bench_plan.py [--devices 20000] [--full] [--repeat 3] [--seed N]
                                    [--policy examples/policy-silent.json] [--jsonl]

The devices are generated as ``bench_fleet.py`` generates them (seeded; a third built to pass,
a third near misses, a third random). The proposal is a patch of the policy that requires a
startup PIN (``{"policy": ID, "patch": {"settings": {"tpm_startup_pin": "Required"}}}``), so a
third or more of the devices change. Both commands run in a fresh process each, best of
``--repeat`` (wall time, start-up included):

- check: ``python -m bitlocker_rules check --fleet FILE --policy POLICY --quiet``;
- plan: ``python -m bitlocker_rules plan --policy POLICY --fleet FILE --patch PATCH --format json
  --output FILE`` (the possible-device questions included; ``--jsonl`` adds ``--jsonl /dev/null``
  to plan and to check).

The ratio plan / check is the issue's measure (goal: within 2.5x; ``--full`` is 100,000
devices). Before timing, the plan's per-rule fail counts of today's side are checked against the
check's JSON report; the exit code is 1 when they differ, else 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_fleet import generate  # noqa: E402

GOAL_RATIO = 2.5


def command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "bitlocker_rules", *args]


def timed(argv: list[str], repeat: int) -> float:
    """The best wall time of ``repeat`` runs, each in a fresh process."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(command(argv), capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if result.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(argv[:2])} exited {result.returncode}: {result.stderr.strip()}")
        best = min(best, elapsed)
    return best


def same_counts(fleet: Path, policy: Path, patch: Path, folder: Path) -> bool:
    """Whether the plan's today side counts the same failures per rule as ``check --fleet``."""
    check_json, plan_json = folder / "check.json", folder / "plan.json"
    check = ["check", "--fleet", str(fleet), "--policy", str(policy), "--format", "json", "--output", str(check_json)]
    plan = ["plan", "--policy", str(policy), "--fleet", str(fleet), "--patch", str(patch), "--format", "json"]
    for argv in (check, [*plan, "--output", str(plan_json)]):
        subprocess.run(command(argv), check=False, capture_output=True)
    checked = {r["rule"]: r["fail"] for r in json.loads(check_json.read_text())["rules"]}
    planned = {r["rule"]: r["before"]["fail"] for r in json.loads(plan_json.read_text())["fleet"]["diff"]["rules"]}
    return checked == planned


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--full", action="store_true", help="100,000 devices")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--policy", type=Path, default=ROOT / "examples" / "policy-silent.json")
    parser.add_argument("--jsonl", action="store_true", help="both commands also write --jsonl /dev/null")
    args = parser.parse_args()
    devices = 100_000 if args.full else args.devices
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fleet = generate([devices], args.seed, folder)[devices]
        policy_id = json.loads(args.policy.read_text(encoding="utf-8"))["id"]
        patch = folder / "pin-required.json"
        patch.write_text(json.dumps({"policy": policy_id, "patch": {"settings": {"tpm_startup_pin": "Required"}}}))
        if not same_counts(fleet, args.policy, patch, folder):
            print("plan and check --fleet disagree on today's failures per rule")
            return 1
        extra = ["--jsonl", "/dev/null"] if args.jsonl else []
        check = timed(["check", "--fleet", str(fleet), "--policy", str(args.policy), "--quiet", *extra], args.repeat)
        plan_argv = ["plan", "--policy", str(args.policy), "--fleet", str(fleet), "--patch", str(patch)]
        plan_argv += ["--format", "json", "--output", str(folder / "plan-timed.json"), *extra]
        plan = timed(plan_argv, args.repeat)
        changed = json.loads((folder / "plan.json").read_text())["fleet"]["changed_devices"]
    ratio = plan / check
    print(f"{devices:,} devices ({changed:,} change), best of {args.repeat}, wall time with start-up:")
    print(f"  check --fleet  {check:7.2f} s  {devices / check:9,.0f} devices/s")
    print(f"  plan           {plan:7.2f} s  {devices / plan:9,.0f} devices/s")
    print(
        f"  plan / check   {ratio:7.2f}x  (goal: within {GOAL_RATIO}x: {'met' if ratio <= GOAL_RATIO else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
