"""``--jobs`` over a regular JSON Lines file: the file cut into ranges of whole lines, each read by
the process that evaluates it, the results merged in range order. Rows, their numbers, every
output byte and every summary are what one process reading the whole file gives."""

from __future__ import annotations

import codecs
import itertools
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bitlocker_rules
import bitlocker_rules.fleet.parallel as fleet_parallel
import bitlocker_rules.fleet.ranges as fleet_ranges
import bitlocker_rules.fleet.rows as fleet_rows
from bitlocker_rules.cli import main
from bitlocker_rules.cli.output import ShownStream
from bitlocker_rules.fleet import read_fleet
from bitlocker_rules.fleet.ranges import line_ranges
from bitlocker_rules.fleet.rows import read_line_range

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = Path(bitlocker_rules.__file__).resolve().parent.parent
POLICY = str(ROOT / "examples" / "policy-silent.json")
SE = ("--rules", "silent_enablement")
KEY = "123456-234567-345678-456789-567890-678901-789012-890123"


def device(name: str, **facts) -> bytes:
    body = {"os_version": "22H2", "join_type": "AzureADJoined", "firmware_mode": "UEFI", **facts}
    return json.dumps({"deviceName": name, "facts": body}, ensure_ascii=False).encode()


def awkward_fleet() -> bytes:
    """Every kind of line a range boundary can fall on or inside."""
    lines = [codecs.BOM_UTF8 + device("BOM-FIRST") + b"\n"]
    for i in range(60):
        if i % 7 == 3:
            lines.append(b"\n")  # a blank line: counted, not a row
        if i % 11 == 5:
            lines.append(b"{not json, a malformed row\n")
        if i % 13 == 6:
            lines.append(device(f"CRLF-{i}") + b"\r\n")
        if i % 17 == 8:
            lines.append(device(f"LONG-{i}-" + "x" * 5000) + b"\n")  # spans several small ranges
        if i % 19 == 9:
            lines.append(device(f"UTF8-{i}-Zoë-é€😀") + b"\n")
        lines.append(device(f"PC-{i:03d}", os_version="1803" if i % 5 == 0 else "22H2") + b"\n")
    lines.append(device("LAST-WITHOUT-NEWLINE"))
    return b"".join(lines)


@pytest.fixture()
def small_ranges(monkeypatch):
    """Ranges of about ``size`` bytes, so a small file has many (forked workers inherit it)."""

    def use(size: int) -> None:
        monkeypatch.setattr(fleet_ranges, "MIN_RANGE_BYTES", size)
        monkeypatch.setattr(fleet_ranges, "RANGE_BYTES", size)

    return use


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 100, 333, 1000, 4999, 5001, 20000, 1 << 20])
def test_the_ranges_read_every_row_as_one_reading_of_the_file(tmp_path, small_ranges, size):
    path = tmp_path / "fleet.jsonl"
    path.write_bytes(awkward_fleet())
    small_ranges(size)
    ranges = list(line_ranges(path, 2) or [])
    assert ranges[0].start == len(codecs.BOM_UTF8) and ranges[-1].end == path.stat().st_size
    assert all(a.end == b.start for a, b in itertools.pairwise(ranges))  # no byte left out, none read twice
    rows = [row for r in ranges for row in read_line_range(path, r.start, r.end, r.before)]
    assert rows == list(read_fleet(path, decode=False))
    if size <= 1000:
        assert len(ranges) > 10


def test_the_first_range_is_small_the_middle_large_and_the_last_small(tmp_path, monkeypatch):
    """Guided sizes: the range the reading process evaluates alone and the last ones, which a
    process may wait for another to finish, are small; the others large. (Fails with ranges of
    one size.)"""
    monkeypatch.setattr(fleet_ranges, "RANGE_BYTES", 16_000)
    monkeypatch.setattr(fleet_ranges, "MIN_RANGE_BYTES", 500)
    monkeypatch.setattr(fleet_ranges, "FIRST_RANGE_BYTES", 2_000)
    line = device("PC-0000", os_version="22H2") + b"\n"
    path = tmp_path / "fleet.jsonl"
    path.write_bytes(line * 5_000)
    processes = 2
    ranges = list(line_ranges(path, processes) or [])
    sizes = [r.end - r.start for r in ranges]
    assert sizes[0] <= 2_000 and max(sizes) > 15_000
    for r, size in zip(ranges[1:], sizes[1:], strict=True):  # each at most its share of what is left, cut at a line end
        left = path.stat().st_size - r.start
        assert size <= max(500, min(16_000, left // (fleet_ranges.SHARES_LEFT * processes)))
    assert all(size <= 500 for size in sizes[-3:])
    assert sum(sizes) == path.stat().st_size and [r.before for r in ranges] == [r.start // len(line) for r in ranges]


def test_a_line_longer_than_any_range_is_read_whole_by_one_range(tmp_path, small_ranges):
    path = tmp_path / "fleet.jsonl"
    path.write_bytes(device("A") + b"\n" + device("LONG-" + "y" * 50_000) + b"\n" + device("C"))
    small_ranges(1000)
    ranges = list(line_ranges(path, 2) or [])
    long = [r for r in ranges if r.end - r.start > 50_000]
    assert len(long) == 1 and long[0].before == 1
    assert [r.number for r in read_line_range(path, long[0].start, long[0].end, long[0].before)] == [2]


def test_a_line_over_the_row_limit_is_the_same_bad_row(tmp_path, small_ranges, monkeypatch):
    monkeypatch.setattr(fleet_rows, "MAX_ROW_BYTES", 2000)
    path = tmp_path / "fleet.jsonl"
    path.write_bytes(device("A") + b"\n" + device("HUGE-" + "z" * 200_000) + b"\n" + device("C") + b"\n")
    small_ranges(500)
    ranges = list(line_ranges(path, 2) or [])
    rows = [row for r in ranges for row in read_line_range(path, r.start, r.end, r.before)]
    assert rows == list(read_fleet(path, decode=False))
    assert "line 2: longer than" in rows[1].data.message and rows[2].number == 3


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("fleet.csv", b"deviceName,os_version\nA,22H2\n"),
        ("fleet.json", b'  [{"deviceName": "A"}]'),
        ("fleet.jsonl", codecs.BOM_UTF16_LE + device("A").decode().encode("utf-16-le")),
    ],
)
def test_what_only_a_stream_reads_has_no_ranges(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    assert line_ranges(path, 2) is None


def test_a_pipe_has_no_ranges(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert line_ranges(fifo, 2) is None  # told by its type: nothing is opened for reading
    assert line_ranges("-", 2) is None


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


_EVALUATE_RANGE = fleet_parallel._run_range
_PIDS = {"file": ""}  # set before the workers are forked, so they inherit it


def _noted(*args):  # module level: the pool pickles it by name
    with open(_PIDS["file"], "a") as out:
        out.write(f"{os.getpid()}\n")
    return _EVALUATE_RANGE(*args)


def _pids_of(monkeypatch, tmp_path: Path) -> Path:
    """A file to which each process appends its id as it evaluates a range."""
    monkeypatch.setitem(_PIDS, "file", str(tmp_path / "pids"))
    monkeypatch.setattr(fleet_parallel, "_run_range", _noted)
    return tmp_path / "pids"


def _one_and_two_processes(capsys, tmp_path: Path, fleet: Path, fmt: str) -> list[tuple]:
    """``check --fleet`` in ``fmt`` with --jobs 1, then 2: each run's exit code, output, error
    output and JSON Lines."""
    outputs = []
    for jobs in ("1", "2"):
        lines = tmp_path / f"lines-{jobs}.jsonl"
        args = ("check", *SE, "--policy", POLICY, "--fleet", str(fleet), "--format", fmt, "--jobs", jobs)
        outputs.append((*_run(capsys, *args, "--jsonl", str(lines)), lines.read_bytes()))
    return outputs


@pytest.mark.parametrize("fmt", ["json", "table", "markdown", "html", "sarif", "junit"])
def test_two_processes_reading_ranges_write_what_one_process_writes(capsys, tmp_path, small_ranges, monkeypatch, fmt):
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_bytes(awkward_fleet())
    small_ranges(700)
    seen = _pids_of(monkeypatch, tmp_path)
    outputs = _one_and_two_processes(capsys, tmp_path, fleet, fmt)
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == 2  # the malformed rows
    assert len(set(seen.read_text().split())) == 2  # this process and a worker each evaluated ranges


@pytest.mark.parametrize("fmt", ["json", "sarif", "markdown"])
def test_ranges_of_guided_sizes_write_what_one_process_writes(capsys, tmp_path, monkeypatch, fmt):
    """A small first range, large ones, then shrinking ones (a line longer than some of them):
    the same bytes as one process."""
    monkeypatch.setattr(fleet_ranges, "RANGE_BYTES", 3_000)
    monkeypatch.setattr(fleet_ranges, "MIN_RANGE_BYTES", 150)
    monkeypatch.setattr(fleet_ranges, "FIRST_RANGE_BYTES", 400)
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_bytes(awkward_fleet() * 3)
    sizes = [r.end - r.start for r in line_ranges(fleet, 2) or []]
    assert sizes[0] < 1_000 and max(sizes) > 2_500 and sizes[-1] < 1_000
    seen = _pids_of(monkeypatch, tmp_path)
    outputs = _one_and_two_processes(capsys, tmp_path, fleet, fmt)
    assert outputs[0] == outputs[1]
    assert len(set(seen.read_text().split())) == 2


def test_a_bad_rows_line_number_after_a_boundary_is_its_line_in_the_file(capsys, tmp_path, small_ranges):
    fleet = tmp_path / "fleet.jsonl"
    data = awkward_fleet()
    fleet.write_bytes(data)
    small_ranges(300)
    code, out, _ = _run(
        capsys, "check", *SE, "--policy", POLICY, "--fleet", str(fleet), "--format", "json", "--jobs", "2"
    )
    expected = [n for n, text in enumerate(data.split(b"\n"), 1) if text.startswith(b"{not json")]
    listed = json.loads(out)["bad_rows"]
    assert code == 2 and [bad["row"] for bad in listed] == expected
    assert all(bad["message"].startswith(f"line {bad['row']}, column 2: malformed JSON") for bad in listed)


def test_range_outputs_go_through_files_that_are_removed(capsys, tmp_path, small_ranges, monkeypatch):
    monkeypatch.setattr(fleet_parallel, "_SMALL_BLOCK", 0)  # every range's lines through a file
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setenv("TMPDIR", str(spool))
    monkeypatch.setattr("tempfile.tempdir", None)
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_bytes(awkward_fleet() + b"\n" + device(f"WITH-KEY {KEY}") + b"\n")
    small_ranges(500)
    appended = []  # the files this process appended
    real = ShownStream.append_file
    monkeypatch.setattr(ShownStream, "append_file", lambda self, path: appended.append(path) or real(self, path))
    written = []
    for jobs in ("1", "2"):
        lines = tmp_path / f"lines-{jobs}.jsonl"
        _run(capsys, "check", *SE, "--policy", POLICY, "--fleet", str(fleet), "--jobs", jobs, "--jsonl", str(lines))
        written.append(lines.read_bytes())
    assert written[0] == written[1]
    assert b"WITH-KEY" in written[1] and b"123456" not in written[1]  # masked in the worker, as here
    assert appended and all(Path(name).parent.parent == spool for name in appended)
    assert list(spool.iterdir()) == []


_READING = os.getpid()


def _die_in_a_worker(*args):  # forked workers run this; the reading process evaluates its share
    if os.getpid() != _READING:
        os._exit(9)
    return _EVALUATE_RANGE(*args)


def test_a_dead_worker_reading_ranges_is_one_clear_error(capsys, monkeypatch, tmp_path, small_ranges):
    monkeypatch.setattr(fleet_parallel, "_run_range", _die_in_a_worker)
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_bytes(awkward_fleet())
    small_ranges(500)
    code, _, err = _run(capsys, "check", *SE, "--policy", POLICY, "--fleet", str(fleet), "--jobs", "2")
    assert code == 3
    assert re.search(
        r"--jobs 2: error\[P001\]: a worker process ended before its rows were evaluated \(exit code 9\); "
        r"\d+ rows were evaluated and written, the rest were not",
        err,
    )
    assert "Traceback" not in err


def test_a_fleet_from_a_pipe_is_read_as_before(tmp_path):
    """Standard input has no ranges: the reading process sends rows to the workers."""
    data = awkward_fleet()
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_bytes(data)
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT))
    common = [sys.executable, "-m", "bitlocker_rules", "check", *SE, "--policy", POLICY, "--format", "json"]
    piped = subprocess.run([*common, "--fleet", "-", "--jobs", "2"], input=data, capture_output=True, env=env)
    read = subprocess.run([*common, "--fleet", str(fleet), "--jobs", "1"], capture_output=True, env=env)
    assert piped.returncode == read.returncode == 2
    assert piped.stdout == read.stdout


def _slow_in_a_worker(*args):  # forked workers run this: the reading process gets ahead of them
    if os.getpid() != _READING:
        time.sleep(0.05)
    return _EVALUATE_RANGE(*args)


def test_ranges_evaluated_ahead_of_a_slow_worker_are_written_in_order(capsys, tmp_path, small_ranges, monkeypatch):
    monkeypatch.setattr(fleet_parallel, "_run_range", _slow_in_a_worker)
    monkeypatch.setattr(fleet_parallel, "_HELD_RANGES", 2)  # then it waits for the worker's range
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_bytes(awkward_fleet())
    small_ranges(300)
    outputs = []
    for jobs in ("1", "2"):
        lines = tmp_path / f"lines-{jobs}.jsonl"
        args = ("check", *SE, "--policy", POLICY, "--fleet", str(fleet), "--format", "json", "--jobs", jobs)
        outputs.append((*_run(capsys, *args, "--jsonl", str(lines)), lines.read_bytes()))
    assert outputs[0] == outputs[1]


def test_this_process_holds_its_waiting_lines_in_memory_up_to_a_bound_then_in_files(
    capsys, tmp_path, small_ranges, monkeypatch
):
    """Ranges this process evaluates ahead of a slow worker keep their JSON lines in memory while
    they fit in ``_HELD_BYTES`` (no write and read back), in files beyond; written in order."""
    monkeypatch.setattr(fleet_parallel, "_run_range", _slow_in_a_worker)
    monkeypatch.setattr(fleet_parallel, "_HELD_BYTES", 6_000)
    held: list[int] = []  # this process's held bytes after each range it evaluated, and at the end
    own, close = fleet_parallel._Run.own, fleet_parallel._Run.close

    def noted_own(run, *args, **kwargs):
        result = own(run, *args, **kwargs)
        held.append(run.held)
        return result

    monkeypatch.setattr(fleet_parallel._Run, "own", noted_own)
    monkeypatch.setattr(fleet_parallel._Run, "close", lambda run: held.append(run.held) or close(run))
    spooled: list[str] = []  # only this process's are seen here: a worker appends to its own copy
    spool = fleet_parallel._LineSpool.__init__
    monkeypatch.setattr(
        fleet_parallel._LineSpool, "__init__", lambda self, path: spooled.append(path) or spool(self, path)
    )
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_bytes(awkward_fleet())
    small_ranges(300)
    outputs = _one_and_two_processes(capsys, tmp_path, fleet, "json")
    assert outputs[0] == outputs[1]
    assert max(held) <= 6_000 and any(held)  # some held in memory, never past the bound
    assert spooled  # and some went to files
    assert held[-1] == 0  # every held block was written
