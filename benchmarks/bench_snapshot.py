"""Benchmark: ``check --snapshot`` against ``check --fleet`` on the same devices and policies.

    python benchmarks/bench_snapshot.py [--devices 100000] [--pulled 2000] [--groups 200]
                                        [--policies 24] [--jobs 1] [--repeat 3] [--seed N]

A generated tenant of ``--pulled`` devices (``tests/graph_fake.py``) is pulled from the local
Graph into a snapshot; its ``managed_devices.jsonl`` is then repeated up to ``--devices`` rows
(each copy keeps its Entra device id, so it is in the same groups and gets the same policies).
The same data is written as files: each policy of the snapshot as a ``--policy`` file (an intent
as the Endpoint protection profile its settings make), an ``--assignments`` file giving each
device the policies its assignments and filters give it, and as the ``--fleet`` each device's
records (managedDevice, encryption report row, recovery keys) as one Graph page. Both commands run
in a process of their own (``--quiet``: only the evaluation, no report), best of ``--repeat``;
the ratio snapshot / fleet is the issue's measure (goal: within 1.2x). The peak resident memory
of each command is shown too (the snapshot's join indexes its report rows and keys).

The exit code is 1 when the two runs do not give the same fleet summary, else 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def pulled(args: argparse.Namespace, folder: Path) -> None:
    """A generated tenant pulled into ``folder`` from the local Graph."""
    from graph_fake import LocalGraph, Tenant

    from bitlocker_rules.tenant import Pacing, PullOptions, pull
    from bitlocker_rules.tenant.signin import EnvironmentToken

    tenant = Tenant(seed=args.seed, policies=args.policies, groups=args.groups, devices=args.pulled)
    local = LocalGraph(tenant, page_size=1000)
    try:
        tokens = EnvironmentToken("GRAPH_TOKEN", {"GRAPH_TOKEN": "good-token"})
        pull(PullOptions(folder, local.url, concurrency=4), tokens, pacing=Pacing(sleep=lambda s: None))
    finally:
        local.stop()


def records(folder: Path, kind: str) -> list[dict]:
    path = folder / f"{kind}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def as_files(snapshot: Path, folder: Path) -> list[str]:
    """The snapshot's policies as --policy files and an --assignments file giving each device the
    policies the snapshot's assignments and filters give it (by device name)."""
    from bitlocker_rules.engine import Engine
    from bitlocker_rules.snapshot import POLICY_KINDS, intent_as_profile, read_snapshot

    arguments = []
    for kind, _ in POLICY_KINDS:
        # In id order, as check --snapshot reads each kind (a conflict names its policies in this order).
        for n, policy in enumerate(sorted(records(snapshot, kind), key=lambda p: p["id"])):
            path = folder / f"{kind}-{n:04d}.json"
            path.write_text(json.dumps(intent_as_profile(policy, []) if kind == "intents" else policy))
            arguments += ["--policy", str(path)]
    scope = read_snapshot(snapshot, Engine.load().vocabulary).policies_per_device()
    devices = {d["deviceName"]: sorted(scope.policy_ids(d)) for d in records(snapshot, "managed_devices")}
    (folder / "assignments.json").write_text(json.dumps({"devices": {k: v for k, v in devices.items() if v}}))
    return [*arguments, "--assignments", str(folder / "assignments.json")]


def device_pages(snapshot: Path, folder: Path) -> Path:
    """The snapshot's devices as a --fleet whose row is a Graph page of one device's records: its
    managedDevice, its encryption report row and its recovery keys (joined here by their ids)."""
    states = {s["id"]: s for s in records(snapshot, "encryption_states")}
    keys = defaultdict(list)
    for key in records(snapshot, "recovery_keys"):
        keys[key["deviceId"]].append(key)
    path = folder / "devices.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        for line in (snapshot / "managed_devices.jsonl").open(encoding="utf-8"):
            device = json.loads(line)
            joined = [*([states[device["id"]]] if device["id"] in states else []), *keys[device["azureADDeviceId"]]]
            stream.write(json.dumps({"value": [device, *joined]} if joined else device) + "\n")
    return path


def grown(snapshot: Path, devices: int) -> None:
    """The snapshot's device file repeated up to ``devices`` rows."""
    path = snapshot / "managed_devices.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    with path.open("w", encoding="utf-8") as stream:
        for n in range(devices):
            stream.write(lines[n % len(lines)])


# Runs the command and, as it exits, writes its peak resident memory (VmHWM, the new image's own:
# a child's ru_maxrss on Linux also counts the parent it was forked from) to the file in argv[1].
_PEAK = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as status, open(out, "w") as stream:
        stream.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(peak)
sys.argv[0] = "bitlocker-rules"
runpy.run_module("bitlocker_rules", run_name="__main__")
"""


def timed(argv: list[str], repeat: int) -> tuple[float, int]:
    """The best wall time of ``bitlocker-rules argv`` in a fresh process, and the most memory
    (peak resident set, bytes) any of its runs held."""
    best, peak = float("inf"), 0
    with tempfile.NamedTemporaryFile() as hwm:
        for _ in range(repeat):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", _PEAK, hwm.name, *argv], cwd=ROOT, check=False)
            best = min(best, time.perf_counter() - started)
            peak = max(peak, int(Path(hwm.name).read_text() or 0) * 1024)  # kB
            if done.returncode not in (0, 1):
                raise SystemExit(f"bitlocker-rules {' '.join(argv[:3])} … exited {done.returncode}")
    return best, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--pulled", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--policies", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        snapshot, files = Path(scratch) / "snapshot", Path(scratch) / "files"
        files.mkdir()
        pulled(args, snapshot)
        grown(snapshot, args.devices)
        given = as_files(snapshot, files)
        fleet = ["--fleet", str(device_pages(snapshot, files))]
        common = ["--quiet", "--jobs", str(args.jobs), "--format", "json"]
        outputs = {name: str(files / f"{name}.json") for name in ("snapshot", "fleet")}
        snapshot_time, snapshot_peak = timed(
            ["check", "--snapshot", str(snapshot), *common, "--output", outputs["snapshot"]], args.repeat
        )
        fleet_time, fleet_peak = timed(["check", *given, *fleet, *common, "--output", outputs["fleet"]], args.repeat)
        same = json.loads(Path(outputs["snapshot"]).read_text()) == json.loads(Path(outputs["fleet"]).read_text())
    policies = given.count("--policy")
    print(f"{args.devices} devices, {policies} policies, --jobs {args.jobs}, best of {args.repeat}")
    print(
        f"  check --snapshot: {snapshot_time:6.2f} s  ({args.devices / snapshot_time:,.0f} devices/s), "
        f"peak RSS {snapshot_peak / 2**20:.0f} MB"
    )
    print(
        f"  check --fleet:    {fleet_time:6.2f} s  ({args.devices / fleet_time:,.0f} devices/s), "
        f"peak RSS {fleet_peak / 2**20:.0f} MB"
    )
    print(f"  ratio snapshot / fleet: {snapshot_time / fleet_time:.2f}x (goal: at most 1.2x)")
    print(f"  same summary: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
