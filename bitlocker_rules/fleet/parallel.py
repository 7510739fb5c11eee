"""A fleet over several processes: rows in batches, results written in row order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..engine import Engine
from ..facts import Facts
from ..assignments import AssignedPolicies
from ..outcome import Report
from .devices import DeviceReader, device_facts
from .evaluation import _evaluate_rows, _VerdictPath
from .records import FleetSummary, _Tally
from .rows import FleetRow

_BATCH = 500


_worker_state: dict = {}


def evaluate_fleet_parallel(
    rows: Iterable[FleetRow],
    jobs: int,
    make_engine: Callable[[], tuple[Engine, Facts | AssignedPolicies | None]],
    *,
    write: Callable[[Any], None] | None = None,
    progress: Callable[[int], None] | None = None,
    reader: DeviceReader = device_facts,
    record: Callable[[int, Report], Any] | None = None,
    encode: Callable[[Any], Any] | None = None,
) -> FleetSummary:
    """``evaluate_fleet`` over ``jobs`` processes; rows are read and results written in order.

    At most ``2 * jobs`` batches are in flight, so memory stays flat however large the fleet.
    ``make_engine`` must be picklable (a module-level function or a functools.partial of one).
    Results are encoded in the workers: a JSON line crosses between processes far more
    cheaply than the record it was made from.
    """
    from concurrent.futures import ProcessPoolExecutor

    summary: FleetSummary | None = None
    done = 0
    options = (reader, record, encode, write is not None)
    with ProcessPoolExecutor(jobs, initializer=_start_worker, initargs=(make_engine,)) as pool:
        pending = []
        for batch in _batches(rows, _BATCH):
            pending.append(pool.submit(_run_batch, [(r.number, r.data) for r in batch], *options))
            if len(pending) >= 2 * jobs:
                summary, done = _collect(pending.pop(0), summary, done, write, progress)
        for future in pending:
            summary, done = _collect(future, summary, done, write, progress)
    if summary is None:
        engine, _ = make_engine()
        summary = _Tally(engine).summary()
    return summary


def _batches(rows: Iterable[FleetRow], size: int) -> Iterator[list[FleetRow]]:
    batch: list[FleetRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _collect(future, summary, done, write, progress):
    part, records = future.result()
    if write is not None:
        for record in records:
            write(record)
    done += part.devices + len(part.bad_rows)
    if progress is not None:
        progress(done)
    return (part if summary is None else summary.merge(part)), done


def _start_worker(make_engine) -> None:
    _worker_state["engine"], _worker_state["policy"] = make_engine()


def _run_batch(batch: list[tuple[int, Any]], reader: DeviceReader, record, encode, wanted: bool):
    engine, policy = _worker_state["engine"], _worker_state["policy"]
    codes = None
    if record is None:  # one path per worker: its record entries are made once, not once per batch
        codes = _worker_state.get("codes") or _worker_state.setdefault("codes", _VerdictPath(engine, policy))
    results: list = []
    rows = [FleetRow(number, data) for number, data in batch]
    summary = _evaluate_rows(rows, engine, policy, codes, results.append if wanted else None, None, reader,
                             record, encode)
    return summary, results
