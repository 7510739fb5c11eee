"""Benchmark: the results store. What ``--store`` adds to a fleet run, the file's size per run,
and trend queries over a year of daily runs.

    python benchmarks/bench_history.py [--devices 100000] [--runs 365] [--trend-devices 2000]
                                       [--jobs 1] [--write-runs 3] [--seed N] [--keep FOLDER]

1. Generates ``--devices`` seeded devices (``bench_fleet.generate``: a third passing, a third
   near misses, a third random). Not timed.
2. Times, each in a fresh process (wall time and peak RSS): ``check --fleet FILE --policy
   examples/policy-silent.json --quiet`` with ``--jsonl /dev/null`` (the same JSON lines, no
   store), then with ``--store`` into a new store (the first run adds its patterns, the next
   ones find them there). Prints the time ``--store`` adds and the file's size after each run.
   ``--write-runs`` (3) runs go into the same store: the size a run adds when its devices'
   results are known already.
3. Builds a store of ``--runs`` daily runs of ``--trend-devices`` devices: one real run, the
   others generated in bulk inside DuckDB from it (each run moves a few percent of the devices
   to another device's pattern, so the counts drift), then times, median of 3, in a fresh
   connection: ``history --rule SE-05`` (its query on ``rule_counts``), the same counts computed
   from the ``results`` view (every device of every run), one device's verdicts over the year,
   and diff of the last two runs (``Store.run_results`` twice + ``diff_runs``). Prints the
   file's size. ``--trend-devices 100000`` is the full size (36.5 million device rows: many
   more minutes, mostly generating).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]  # this checkout's package, and bench_fleet

import duckdb  # noqa: E402
from bench_fleet import generate  # noqa: E402

from bitlocker_rules.fleet import evaluate_fleet, fleet_device, json_text, read_fleet  # noqa: E402
from bitlocker_rules.fleet.job import FleetJob  # noqa: E402
from bitlocker_rules.history import RunWriter, Store, diff_runs, run_info  # noqa: E402

POLICY = ROOT / "examples" / "policy-silent.json"


def timed_cli(*argv: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one command in a fresh process."""
    code = (
        "import resource, runpy, sys, time\n"
        "sys.argv = ['bitlocker-rules', *sys.argv[1:]]\n"
        "start = time.perf_counter()\n"
        "try:\n    runpy.run_module('bitlocker_rules', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, check=False)
    seconds, rss = done.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(rss)


def write_runs(fleet: Path, folder: Path, jobs: int, runs: int) -> None:
    base = ["check", "--fleet", str(fleet), "--policy", str(POLICY), "--quiet", "--jobs", str(jobs)]
    plain, plain_rss = timed_cli(*base, "--jsonl", os.devnull)
    store = folder / "write.duckdb"
    print(f"  check --fleet --jsonl /dev/null (no store): {plain:6.2f} s, peak RSS {plain_rss / 1024:5.0f} MiB")
    sizes = []
    for n in range(1, runs + 1):
        seconds, rss = timed_cli(*base, "--store", str(store))
        sizes.append(store.stat().st_size)
        print(
            f"  check --fleet --store, run {n}:               {seconds:6.2f} s, peak RSS {rss / 1024:5.0f} MiB; "
            f"+{seconds - plain:5.2f} s for the store; file {sizes[-1] / 1e6:6.2f} MB"
        )
    if runs > 1:
        print(f"  the same fleet again adds {(sizes[-1] - sizes[0]) / (runs - 1) / 1e6:.2f} MB per run")
    with duckdb.connect(str(store), read_only=True) as db:
        patterns, entries = db.execute("SELECT count(*), (SELECT count(*) FROM entries) FROM patterns").fetchone()
    print(f"  distinct patterns (devices' results): {patterns:,}; distinct entries (rule results): {entries:,}")


def store_cost(fleet: Path, folder: Path) -> None:
    """In this process: the time the store's own code takes (staging each JSON line, the bulk
    load at the end), apart from the fleet's evaluation, which a loaded machine slows as much."""
    setup = FleetJob(None, [str(POLICY)]).build()
    spent = 0.0
    with RunWriter(
        str(folder / "cost.duckdb"), run_info(setup.engine, [str(POLICY)], None, str(fleet), "bench")
    ) as writer:

        def add(line: str) -> None:
            nonlocal spent
            start = time.perf_counter()
            writer.add(line)
            spent += time.perf_counter() - start

        start = time.perf_counter()
        rows = read_fleet(str(fleet), decode=False)
        summary = evaluate_fleet(rows, setup.engine, setup.policy, write=add, reader=fleet_device, encode=json_text)
        total = time.perf_counter() - start
        start = time.perf_counter()
        writer.finish(summary.failed_devices, summary.bad_row_count)
        load = time.perf_counter() - start
    print(
        f"  in one process: the fleet with its JSON lines {total - spent:6.2f} s; staging the lines {spent:5.2f} s "
        f"({spent / summary.devices * 1e6:.0f} us a device); the bulk load {load:5.2f} s"
    )


# The year of runs: each generated run is the real run with some devices moved to another
# device's pattern (a different few percent each day), so counts drift over the year.
_GENERATE = """
INSERT INTO runs SELECT r, TIMESTAMP '2026-01-01' + INTERVAL (r) DAY, TIMESTAMP '2026-01-01' + INTERVAL (r) DAY
    + INTERVAL 10 SECOND, tool_version, devices, failed_devices, bad_rows FROM runs, range(2, ?) t(r) WHERE run_id = 1;
INSERT INTO run_inputs SELECT r, role, name, sha256 FROM run_inputs, range(2, ?) t(r) WHERE run_id = 1;
INSERT INTO run_rulesets SELECT r, ruleset, path, sha256 FROM run_rulesets, range(2, ?) t(r) WHERE run_id = 1;
INSERT INTO run_rules SELECT r, position, ruleset, rule, title, severity
    FROM run_rules, range(2, ?) t(r) WHERE run_id = 1;
CREATE TEMP TABLE base AS SELECT row_number() OVER (ORDER BY row) AS n, row, device_id, pattern_id, policies
    FROM devices WHERE run_id = 1;
INSERT INTO devices SELECT d.r, d.row, d.device_id,
    CASE WHEN hash(d.r, d.n) % 100 < 3 THEN o.pattern_id ELSE d.pattern_id END, d.policies
    FROM (SELECT t.r, b.*, 1 + hash(t.r * 7919 + b.n) % {devices} AS other FROM base b, range(2, ?) t(r)) d
    JOIN base o ON o.n = d.other
    ORDER BY d.r, d.row;
INSERT INTO rule_counts SELECT per.run_id, e.rule,
    coalesce(sum(per.n) FILTER (WHERE e.status = 'pass'), 0), coalesce(sum(per.n) FILTER (WHERE e.status = 'fail'), 0),
    coalesce(sum(per.n) FILTER (WHERE e.status = 'unknown'), 0),
    coalesce(sum(per.n) FILTER (WHERE e.status = 'not_applicable'), 0)
    FROM (SELECT run_id, pattern_id, count(*) AS n FROM devices WHERE run_id > 1 GROUP BY run_id, pattern_id) per
    JOIN (SELECT pattern_id, unnest(entries) AS entry_id FROM patterns) p USING (pattern_id)
    JOIN entries e USING (entry_id) GROUP BY per.run_id, e.rule;
"""

QUERIES = {
    "history --rule SE-05 (rule_counts)": (
        "SELECT r.run_id, c.pass, c.fail, c.unknown FROM runs r JOIN rule_counts c USING (run_id) "
        "WHERE c.rule = 'SE-05' ORDER BY r.run_id"
    ),
    "SE-05 per run from the results view": (
        "SELECT run_id, count(*) FILTER (WHERE status = 'fail') FROM results WHERE rule = 'SE-05' "
        "GROUP BY run_id ORDER BY run_id"
    ),
    "every rule's failures per run (results view)": (
        "SELECT run_id, rule, count(*) FROM results WHERE status = 'fail' GROUP BY run_id, rule"
    ),
    "one device over the year": (
        "SELECT run_id, rule, status FROM results WHERE device = (SELECT min(device) FROM device_names) "
        "ORDER BY run_id, rule"
    ),
}


def trend(fleet: Path, folder: Path, runs: int) -> None:
    store = folder / "year.duckdb"
    timed_cli("check", "--fleet", str(fleet), "--policy", str(POLICY), "--quiet", "--store", str(store))
    start = time.perf_counter()
    with duckdb.connect(str(store)) as db:
        (devices,) = db.execute("SELECT count(*) FROM devices WHERE run_id = 1").fetchone()
        for statement in filter(str.strip, _GENERATE.format(devices=devices).split(";")):
            db.execute(statement, [runs + 1] if "?" in statement else [])
        db.execute("CHECKPOINT")
        devices, rows = db.execute("SELECT count(*), (SELECT count(*) FROM results) FROM devices").fetchone()
    print(f"  generated {runs} runs in {time.perf_counter() - start:.1f} s: {devices:,} device rows, {rows:,} results")
    print(f"  file {store.stat().st_size / 1e6:.1f} MB ({store.stat().st_size / runs / 1e6:.2f} MB per run)")
    for label, sql in QUERIES.items():
        times = []
        for _ in range(3):
            with duckdb.connect(str(store), read_only=True) as db:
                start = time.perf_counter()
                db.execute(sql).fetchall()
                times.append(time.perf_counter() - start)
        print(f"  {label:<46} {statistics.median(times):7.3f} s")
    times = []
    for _ in range(3):
        start = time.perf_counter()
        with Store(store) as opened:
            diff = diff_runs(opened.run_results(runs - 1, "previous"), opened.run_results(runs, "latest"))
        times.append(time.perf_counter() - start)
    print(
        f"  {'diff of the last two runs (read + compare)':<46} {statistics.median(times):7.3f} s "
        f"({len(diff.devices)} devices changed)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=365)
    parser.add_argument("--trend-devices", type=int, default=2_000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--write-runs", type=int, default=3, help="runs of the same fleet written into one store")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep", type=Path, help="keep the generated files and stores in this folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temp:
        folder = args.keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        sizes = sorted({args.devices, args.trend_devices})
        fleets = generate(sizes, args.seed, folder)
        print(f"Writing a run of {args.devices:,} devices (--jobs {args.jobs}):")
        write_runs(fleets[args.devices], folder, args.jobs, args.write_runs)
        store_cost(fleets[args.devices], folder)
        print(f"A year: {args.runs} runs of {args.trend_devices:,} devices:")
        trend(fleets[args.trend_devices], folder, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
