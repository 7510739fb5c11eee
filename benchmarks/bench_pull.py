"""Benchmark: ``pull`` of a generated tenant from a local Graph, client CPU against wall time.

    python benchmarks/bench_pull.py [--devices 10000] [--groups 300] [--policies 24]
                                    [--concurrency 4] [--page-size 1000] [--seed N]
                                    [--latency SECONDS] [--close] [--spaced]

The local Graph of the tests (``tests/graph_fake.py``'s ``FakeGraph``, speaking Graph's shapes
on 127.0.0.1) runs in a process of its own, over HTTP/1.1 connections kept alive as Graph keeps
them (``--close``: the tests' werkzeug server, which closes every connection after its answer), so the time this process
spends on the CPU is the client's alone (requests, JSON parsing, scrubbing, writing the
snapshot). Prints the requests sent, requests and devices per second, the wall time, and the
client's CPU time as a share of the wall time: the issue's goal is a pull limited by the server,
the client under 20 % of the wall time. Each device is read alone (Graph fills
``hardwareInformation`` only then), 20 to a ``$batch`` request. The local server answers in a
few milliseconds; Graph takes tens to hundreds: ``--latency`` makes the local server take that
long over each answer (once for a batch), to measure the client against a server as slow as
the real one. The server writes its JSON without spaces, as Graph does; ``--spaced`` spaces it
as Python's ``json.dumps`` does (as the fake did before), which costs the client more to read.

The exit code is 1 when the snapshot is incomplete or its device count is wrong, else 0.
"""

from __future__ import annotations

import argparse
import http.server
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


class KeptAliveGraph:
    """The tests' fake Graph served over HTTP/1.1 connections kept alive between answers, as Graph does.

    The tests' server (``graph_fake.LocalGraph``: pytest-httpserver, that is werkzeug's development
    server) sends ``Connection: close`` with every answer, so each request of a pull opens a new TCP
    connection and the client's CPU goes on socket set-up that Graph never makes it pay (about a
    fifth of it). This server answers with the same ``FakeGraph``; only the transport differs."""

    def __init__(self, tenant: Any, page_size: int) -> None:
        from graph_fake import FakeGraph

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _KeptAliveHandler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.fake = FakeGraph(tenant, self.url, page_size)
        self.server.fake = self.fake  # type: ignore[attr-defined]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class _KeptAliveHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # connections stay open unless the client asks otherwise
    disable_nagle_algorithm = True  # the headers and the body are two writes: no delayed-ACK stall

    def answer(self) -> None:
        from werkzeug.test import EnvironBuilder
        from werkzeug.wrappers import Request

        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        environ = EnvironBuilder(
            path=self.path, method=self.command, headers=list(self.headers.items()), data=body
        ).get_environ()
        response = self.server.fake(Request(environ))  # type: ignore[attr-defined]
        data = response.get_data()
        self.send_response(response.status_code)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(args: argparse.Namespace, ready: multiprocessing.Queue) -> None:
    """The local Graph over a generated tenant, until the parent ends this process."""
    from graph_fake import BATCHED, LocalGraph, Tenant

    started = time.perf_counter()
    tenant = Tenant(seed=args.seed, policies=args.policies, groups=args.groups, devices=args.devices)
    local = LocalGraph(tenant, page_size=args.page_size) if args.close else KeptAliveGraph(tenant, args.page_size)
    local.fake.separators = None if args.spaced else (",", ":")
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
    parser.add_argument(
        "--close",
        action="store_true",
        help="serve with the tests' server, which closes each connection after its answer (werkzeug's behaviour)",
    )
    parser.add_argument("--spaced", action="store_true", help="answer JSON spaced as Python spaces it (Graph does not)")
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
        f"{devices / wall:.0f} devices/s, concurrency {args.concurrency}, server latency {args.latency * 1000:.0f} ms, "
        f"connections {'closed after each answer' if args.close else 'kept alive'}, "
        f"JSON {'spaced' if args.spaced else 'compact, as Graph writes it'}"
    )
    print(f"client CPU: {cpu:.2f} s = {100 * cpu / wall:.1f} % of the wall time (goal: under 20 %)")
    print(f"snapshot: {size / 1e6:.1f} MB, {sum(result.counts.values())} records, complete={manifest['complete']}")
    return 0 if manifest["complete"] and devices == args.devices else 1


if __name__ == "__main__":
    sys.exit(main())
