"""A fleet over several processes: rows in batches, results written in row order.

The reading process only splits rows and writes what comes back; the workers decode, evaluate
and encode. What crosses between processes is compact: the rows' bytes, finished JSON lines,
and per batch the summary's counters and what a report's collector gathered (bounded), never
a device's whole report.
"""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ..assignments import AssignedPolicies
from ..engine import Engine
from ..errors import BitLockerRulesError, Diagnostic
from ..facts import Facts
from ..outcome import Report
from .devices import DeviceReader, device_facts
from .evaluation import VerdictPath, evaluate_rows
from .results import DeviceResult, FleetSummary, JsonLinesWriter, LineBlock, Tally, json_line, json_text
from .rows import FleetRow, JsonLine
from .waiving import FleetWaivers

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

_BATCH = 500

# What makes a process's engine and policies (picklable: each worker calls it once).
_EngineMaker = Callable[[], tuple[Engine, Facts | AssignedPolicies | None]]
# What a worker sends back per batch: the summary's counters, the results to write, what the collector gathered.
_BatchResult = tuple[FleetSummary, list[Any], Any]


class Collector(Protocol):
    """What a fleet report gathers beyond the counters, in bounded memory, in any process.

    ``add`` takes each device's result in row order; in a worker, ``take`` returns what was
    gathered since the last ``take`` (picklable), and the reading process ``merge``s those
    parts in row order, so the outcome is the one a single process would have gathered.
    """

    def add(self, result: DeviceResult) -> None: ...

    def take(self) -> Any: ...

    def merge(self, part: Any) -> None: ...


class WorkerError(BitLockerRulesError):
    """A worker process of ``--jobs`` ended without finishing its rows (killed, out of memory)."""


_worker_state: dict = {}


def usable_cores() -> int:
    """How many processors this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def evaluate_fleet_parallel(
    rows: Iterable[FleetRow],
    jobs: int,
    make_engine: _EngineMaker,
    *,
    write: Callable[[Any], None] | None = None,
    progress: Callable[[int], None] | None = None,
    reader: DeviceReader = device_facts,
    record: Callable[[int, Report], Any] | None = None,
    encode: Callable[[Any], Any] | None = None,
    collector: Collector | None = None,
    built: tuple[Engine, Facts | AssignedPolicies | None] | None = None,
    waivers: FleetWaivers | None = None,
) -> FleetSummary:
    """``evaluate_fleet`` over ``jobs`` processes; rows are read and results written in order.

    At most ``2 * jobs`` batches are in flight, so memory stays flat however large the fleet.
    ``make_engine`` must be picklable (a module-level function or a functools.partial of one),
    and so must ``collector`` (given empty: each worker gathers into a copy of its own).
    Results are encoded in the workers: a JSON line crosses between processes far more
    cheaply than the record it was made from. A worker that dies raises ``WorkerError``.

    ``built`` is what ``make_engine`` makes, when the caller has made it already: where worker
    processes are forked (Linux), this process evaluates the first batch with it, and the
    workers start from it as it then is (explanations, record parts and caches warm) rather
    than each building and warming its own.

    ``waivers`` (picklable, sent once to each worker) turn the failures they cover into ``waived``.
    """
    # Imported here: they cost start-up time, which a fleet run with one process does not pay.
    import multiprocessing  # noqa: PLC0415 - see above
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415 - see above
    from concurrent.futures.process import BrokenProcessPool  # noqa: PLC0415 - see above

    summary: FleetSummary | None = None
    done = 0
    blocks = isinstance(write, JsonLinesWriter) and (encode is json_text or encode is json_line)
    options = (reader, record, encode, write is not None, blocks)
    batches = _batches(rows, _BATCH)
    context = multiprocessing.get_context()
    empty = _copied(collector)  # what each worker gathers into: forked workers get the object, not a pickle
    workers: dict = {}  # the worker processes, kept to say how one ended
    try:
        if built is not None and context.get_start_method() == "fork":
            _worker_state.update(engine=built[0], policy=built[1], collector=_copied(empty), waivers=waivers)
            first = next(batches, None)
            if first is not None:
                result = _run_batch(_packed(first), *options)
                summary, done = _merged(result, summary, done, write, progress, collector)
        pool = ProcessPoolExecutor(
            jobs, mp_context=context, initializer=_start_worker, initargs=(make_engine, empty, waivers)
        )
        with pool:
            pending = []
            for batch in batches:
                pending.append(pool.submit(_run_batch, _packed(batch), *options))
                workers.update(getattr(pool, "_processes", None) or {})
                if len(pending) >= 2 * jobs:
                    summary, done = _merged(pending.pop(0).result(), summary, done, write, progress, collector)
            for future in pending:
                summary, done = _merged(future.result(), summary, done, write, progress, collector)
    except BrokenProcessPool:
        raise WorkerError([_dead_worker(workers.values(), jobs, done)]) from None
    finally:
        _worker_state.clear()  # this process's share of the work holds its engine no longer
    if summary is None:
        engine, _ = make_engine()
        tally = Tally(engine)
        tally.waivers_given = waivers is not None
        summary = tally.summary()
    return summary


def _dead_worker(workers: Iterable[BaseProcess], jobs: int, done: int) -> Diagnostic:
    # The pool ends the other workers itself (SIGTERM) once one has died: name the first death.
    codes = sorted((p.exitcode for p in workers if p.exitcode), key=lambda code: code == -signal.SIGTERM)
    how = f" ({_exit_status(codes[0])})" if codes else ""
    return Diagnostic(
        "P001",
        f"a worker process ended before its rows were evaluated{how}; {done} rows were "
        "evaluated and written, the rest were not",
        file=f"--jobs {jobs}",
        help="the system may have stopped it (out of memory?): run again with fewer --jobs",
    )


def _exit_status(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _batches(rows: Iterable[FleetRow], size: int) -> Iterator[list[FleetRow]]:
    batch: list[FleetRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _packed(batch: list[FleetRow]) -> list[tuple[int, Any, str | None]]:
    """A batch as plain data: an undecoded JSON line crosses as its bytes (far cheaper to pickle)."""
    return [
        (row.number, row.data.raw, row.data.encoding) if type(row.data) is JsonLine else (row.number, row.data, None)
        for row in batch
    ]


def _unpacked(batch: list[tuple[int, Any, str | None]]) -> list[FleetRow]:
    return [
        FleetRow(number, JsonLine(data, encoding) if encoding is not None else data) for number, data, encoding in batch
    ]


def _merged(
    result: _BatchResult,
    summary: FleetSummary | None,
    done: int,
    write: Callable[[Any], None] | None,
    progress: Callable[[int], None] | None,
    collector: Collector | None,
) -> tuple[FleetSummary, int]:
    """One batch's result written and merged, in row order."""
    part, results, gathered = result
    if write is not None:
        for result in results:
            write(result)
    if collector is not None:
        collector.merge(gathered)
    done += part.devices + part.bad_row_count
    if progress is not None:
        progress(done)
    return (part if summary is None else summary.merge(part)), done


def _start_worker(make_engine: _EngineMaker, collector: Collector | None, waivers: FleetWaivers | None = None) -> None:
    if "engine" not in _worker_state:  # not forked from a process that evaluated with its engine
        _worker_state["engine"], _worker_state["policy"] = make_engine()
    _worker_state["collector"] = collector  # given empty, as every worker's own
    _worker_state["waivers"] = waivers


def _copied(collector: Collector | None) -> Collector | None:
    """An empty collector's copy, as a worker gets it (this process gathers into the given one)."""
    return pickle.loads(pickle.dumps(collector)) if collector is not None else None


def _run_batch(
    batch: list[tuple[int, Any, str | None]],
    reader: DeviceReader,
    record: Callable[[int, Report], Any] | None,
    encode: Callable[[Any], Any] | None,
    wanted: bool,
    blocks: bool = False,
) -> _BatchResult:
    engine, policy, collector = _worker_state["engine"], _worker_state["policy"], _worker_state["collector"]
    codes = None
    if record is None:  # one path per worker: its record entries are made once, not once per batch
        codes = _worker_state.get("codes") or _worker_state.setdefault("codes", VerdictPath(engine, policy))
    results: list = []
    summary = evaluate_rows(
        _unpacked(batch),
        engine,
        policy,
        codes,
        results.append if wanted else None,
        None,
        reader,
        record,
        encode,
        collector.add if collector is not None else None,
        _worker_state.get("waivers"),
    )
    if results and blocks:  # JSON lines for a JsonLinesWriter: sent back shown and encoded, in one block
        results = [LineBlock.of(results)]
    return summary, results, collector.take() if collector is not None else None
