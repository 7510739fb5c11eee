"""Benchmark: ``pull`` of a generated tenant from a local Graph, client CPU against wall time.

    python benchmarks/bench_pull.py [--devices 10000] [--groups 300] [--policies 24]
                                    [--concurrency 4] [--page-size 1000] [--seed N]
                                    [--latency SECONDS]

The local Graph of the tests (``tests/graph_fake.py``: a threaded werkzeug server on
127.0.0.1 speaking Graph's shapes) runs in a process of its own, so the time this process
spends on the CPU is the client's alone (requests, JSON parsing, scrubbing, writing the
snapshot). Prints the requests sent, requests and devices per second, the wall time, and the
client's CPU time as a share of the wall time: the issue's goal is a pull limited by the server,
the client under 20 % of the wall time. Each device is read alone (Graph fills
``hardwareInformation`` only then), 20 to a ``$batch`` request. The local server answers in a
few milliseconds; Graph takes tens to hundreds: ``--latency`` makes the local server take that
long over each answer (once for a batch), to measure the client against a server as slow as
the real one.

The exit code is 1 when the snapshot is incomplete or its device count is wrong, else 0.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def serve(args: argparse.Namespace, ready: multiprocessing.Queue) -> None:
    """The local Graph over a generated tenant, until the parent ends this process."""
    from graph_fake import BATCHED, LocalGraph, Tenant

    started = time.perf_counter()
    tenant = Tenant(seed=args.seed, policies=args.policies, groups=args.groups, devices=args.devices)
    local = LocalGraph(tenant, page_size=args.page_size)
    if args.latency:
        # once per HTTP request (a batch's requests are answered together), answering nothing
        local.fake.faults.append(lambda request: None if request.environ.get(BATCHED) else time.sleep(args.latency))
    ready.put((local.url, time.perf_counter() - started))
    while True:
        time.sleep(3600)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--groups", type=int, default=300)
    parser.add_argument("--policies", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the server takes over each answer")
    args = parser.parse_args()

    from bitlocker_rules.tenant import Pacing, PullOptions, pull, read_manifest
    from bitlocker_rules.tenant.signin import EnvironmentToken

    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    server = context.Process(target=serve, args=(args, ready), daemon=True)
    server.start()
    try:
        url, generated = ready.get(timeout=600)
        print(
            f"tenant: {args.devices} devices, {args.groups} groups, {args.policies} policies of each kind "
            f"(generated in {generated:.1f} s, server in its own process)"
        )
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "snapshot"
            tokens = EnvironmentToken("T", {"T": "good-token"})
            wall, cpu = time.perf_counter(), time.process_time()
            result = pull(PullOptions(out, url, concurrency=args.concurrency), tokens, pacing=Pacing())
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            manifest = read_manifest(out)
            size = sum(p.stat().st_size for p in out.iterdir())
    finally:
        server.kill()
    devices = result.counts.get("managed_devices", 0)
    print(
        f"pull: {result.requests} requests in {wall:.1f} s: {result.requests / wall:.0f} requests/s, "
        f"{devices / wall:.0f} devices/s, concurrency {args.concurrency}, server latency {args.latency * 1000:.0f} ms"
    )
    print(f"client CPU: {cpu:.1f} s = {100 * cpu / wall:.0f} % of the wall time (goal: under 20 %)")
    print(f"snapshot: {size / 1e6:.1f} MB, {sum(result.counts.values())} records, complete={manifest['complete']}")
    return 0 if manifest["complete"] and devices == args.devices else 1


if __name__ == "__main__":
    sys.exit(main())
