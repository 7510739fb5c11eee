"""Fleet input hardened: pipes and standard input, every bad row its own error, nothing dropped
silently, bounded memory; the command's fleet options (--jsonl, --format json, --jobs); every
report format the same with one process or several, in bounded size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import tracemalloc
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor as Pool
from pathlib import Path

import pytest

import bitlocker_rules
import bitlocker_rules.fleet.parallel as fleet_parallel
import bitlocker_rules.fleet.rows as fleet_rows
from bitlocker_rules import Engine
from bitlocker_rules.cli import main
from bitlocker_rules.fleet import BadRow, evaluate_fleet, fleet_device, read_fleet

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = Path(bitlocker_rules.__file__).resolve().parent.parent  # the code under test, also in subprocesses
EXAMPLES = ROOT / "examples"
POLICY = str(EXAMPLES / "policy-silent.json")
FLEET = str(EXAMPLES / "fleet.jsonl")
SE = ("--rules", "silent_enablement")


def row(name: str, **facts) -> dict:
    return {
        "deviceName": name,
        "facts": {"os_version": "22H2", "join_type": "AzureADJoined", "firmware_mode": "UEFI", **facts},
    }


def line(name: str, **facts) -> bytes:
    return json.dumps(row(name, **facts)).encode() + b"\n"


def rows_of(path: Path) -> list:
    return list(read_fleet(path))


def bad(rows: list) -> dict[int, str]:
    return {r.number: r.data.message for r in rows if isinstance(r.data, BadRow)}


def names(rows: list) -> list[str]:
    return [r.data["deviceName"] for r in rows if not isinstance(r.data, BadRow)]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def command(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """The command in a subprocess, run from elsewhere, so that it imports the package under test."""
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bitlocker_rules", *argv],
        input=stdin,
        capture_output=True,
        cwd=tempfile.gettempdir(),
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load(["silent_enablement"])


# ---------------------------------------------------------------------------------------------
# Pipes and standard input: nothing seeks.


@pytest.mark.parametrize("fleet", ["/dev/stdin", "-"])
def test_a_fleet_is_read_from_a_pipe_and_from_standard_input(fleet):
    head = b"".join(Path(FLEET).read_bytes().splitlines(keepends=True)[:3])
    result = command("check", "--policy", POLICY, "--fleet", fleet, "--format", "json", stdin=head)
    assert result.returncode in (0, 1), result.stderr.decode()
    assert b"Traceback" not in result.stderr
    assert json.loads(result.stdout)["devices"] == 3


def test_a_json_array_is_told_from_json_lines_in_a_pipe_without_seeking():
    array = json.dumps([row("A"), row("B", firmware_mode="LegacyBIOS")], indent=2).encode()
    result = command("check", *SE, "--policy", POLICY, "--fleet", "-", "--format", "json", stdin=b"\n \n" + array)
    assert result.returncode == 1, result.stderr.decode()
    assert json.loads(result.stdout)["devices"] == 2


def test_the_reader_never_seeks(tmp_path):
    fifo = tmp_path / "fleet"  # a named pipe: it cannot seek, and its name says nothing of the format
    os.mkfifo(fifo)
    data = b"  \n" + json.dumps([row("A"), row("B")]).encode()
    writer = threading.Thread(target=fifo.write_bytes, args=(data,))
    writer.start()
    try:
        assert names(rows_of(fifo)) == ["A", "B"]
    finally:
        writer.join(timeout=10)


# ---------------------------------------------------------------------------------------------
# One bad row is that row's error; the others are read.


def test_a_number_too_long_to_read_is_that_rows_error(tmp_path):
    path = tmp_path / "fleet.jsonl"
    path.write_bytes(
        line("A") + b'{"deviceName": "B", "facts": {"system_partition_mb": ' + b"9" * 5000 + b"}}\n" + line("C")
    )
    rows = rows_of(path)
    assert names(rows) == ["A", "C"]
    assert bad(rows) == {2: "line 2: a number too long to read (over 4,300 digits)"}


def test_a_row_nested_a_thousand_deep_is_that_rows_error(tmp_path, engine):
    path = tmp_path / "fleet.jsonl"
    deep = b'{"deviceName": "B", "facts": {"os_version": ' + b"[" * 1000 + b"]" * 1000 + b"}}\n"
    path.write_bytes(line("A") + deep + line("C"))
    rows = rows_of(path)
    assert names(rows) == ["A", "C"]
    assert bad(rows) == {2: "line 2: JSON nested too deeply to read"}
    summary = evaluate_fleet(read_fleet(path), engine, reader=fleet_device)
    assert summary.devices == 2 and [b.number for b in summary.bad_rows] == [2]


def test_a_row_nested_deeply_but_readable_is_a_bad_value_not_a_crash(tmp_path, engine):
    path = tmp_path / "fleet.jsonl"
    path.write_bytes(b'{"deviceName": "B", "facts": {"os_version": ' + b"[" * 400 + b"]" * 400 + b"}}\n" + line("C"))
    summary = evaluate_fleet(read_fleet(path), engine, reader=fleet_device)
    assert summary.devices == 1 and [b.number for b in summary.bad_rows] == [1]


def test_a_csv_cell_over_the_csv_limit_is_that_rows_error(tmp_path):
    path = tmp_path / "fleet.csv"
    path.write_text("deviceName,os_version\nA,22H2\nB," + "x" * 140_000 + "\nC,1809\n")
    rows = rows_of(path)
    assert names(rows) == ["A", "C"]
    assert bad(rows) == {3: "row 3: a cell longer than 131,072 characters"}


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv"])
def test_text_that_is_not_utf8_is_that_rows_error(tmp_path, suffix):
    path = tmp_path / f"fleet{suffix}"
    if suffix == ".csv":
        path.write_bytes(b"deviceName,os_version\nA,22H2\nB\xff\xfe,22H2\nC,22H2\n")
        expected = {3: "row 3: not UTF-8 text"}
    elif suffix == ".json":
        path.write_bytes(
            b"["
            + json.dumps(row("A")).encode()
            + b",\n"
            + json.dumps(row("B")).encode()[:-2]
            + b', "x": "\xff"}}'
            + b",\n"
            + json.dumps(row("C")).encode()
            + b"]"
        )
        expected = {2: "element 2 (line 2, column 1): not UTF-8 text"}
    else:
        path.write_bytes(line("A") + b'{"deviceName": "B\xc3"}\n' + line("C"))
        expected = {2: "line 2, column 18: not UTF-8 text"}
    rows = rows_of(path)
    assert names(rows) == ["A", "C"] and bad(rows) == expected


@pytest.mark.parametrize("bom, codec", [(b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")])
def test_utf16_with_a_byte_order_mark_is_read(tmp_path, bom, codec, monkeypatch):
    monkeypatch.setattr(fleet_rows, "_CHUNK", 7)  # odd chunks split characters
    path = tmp_path / "fleet.jsonl"
    text = json.dumps(row("Ä")) + "\r\n" + json.dumps(row("B")) + "\r\n"
    path.write_bytes(bom + text.encode(codec))
    assert names(rows_of(path)) == ["Ä", "B"]
    # A lone surrogate (not UTF-16) is its row's error.
    path.write_bytes(
        bom
        + (json.dumps(row("A")) + "\n").encode(codec)
        + '{"a": "'.encode(codec)
        + b"\x00\xd8"[:: 1 if codec.endswith("le") else -1]
        + '"}\n'.encode(codec)
        + (json.dumps(row("C")) + "\n").encode(codec)
    )
    rows = rows_of(path)
    assert names(rows) == ["A", "C"] and bad(rows) == {2: "line 2, column 8: not UTF-16 text"}


def test_binary_bytes_are_that_rows_error(tmp_path):
    path = tmp_path / "fleet.jsonl"
    path.write_bytes(line("A") + b"\x00\x01\x02\x03\x00binary\n" + line("C"))
    rows = rows_of(path)
    assert names(rows) == ["A", "C"]
    assert bad(rows) == {2: "line 2, column 1: malformed JSON: Expecting value"}
    csv_path = tmp_path / "fleet.csv"
    csv_path.write_bytes(b"deviceName,os_version\nA,22H2\nB\x00,22H2\nC,22H2\n")
    rows = rows_of(csv_path)
    assert names(rows) == ["A", "C"] and bad(rows) == {3: "row 3: a NUL character (is this a binary file?)"}


# ---------------------------------------------------------------------------------------------
# Nothing is dropped without a notice.


def test_extra_and_missing_csv_cells_are_reported(tmp_path):
    path = tmp_path / "fleet.csv"
    path.write_text(
        "deviceName,os_version,join_type\nA,22H2,AzureADJoined\nB,Contoso, Ltd,22H2,AzureADJoined\n"
        "C,22H2\nD,22H2,AzureADJoined\n"
    )
    rows = rows_of(path)
    assert names(rows) == ["A", "D"]
    assert bad(rows) == {
        3: "row 3: 5 cells, but the header names 3 columns (a comma in a cell that is not quoted?)",
        4: "row 4: 2 cells, but the header names 3 columns (a comma in a cell that is not quoted?)",
    }


def test_an_unterminated_quote_does_not_swallow_the_rest_of_the_file(tmp_path, engine):
    path = tmp_path / "fleet.csv"
    path.write_text('deviceName,os_version\nA,22H2\n"B,22H2\nC,22H2\nD,1809\n"E ""quoted""\nF",22H2\n')
    rows = rows_of(path)
    assert names(rows) == ["A", "C", "D", 'E "quoted"\nF']  # a quoted line end is a cell's
    assert bad(rows) == {
        3: "row 3: a quote opened on this line is not closed where a cell ends; the lines after it are read as rows"
    }
    summary = evaluate_fleet(read_fleet(path), engine, reader=fleet_device)
    assert summary.exit_code == 2 and summary.devices == 4
    path.write_text('deviceName,os_version\nA,22H2\n"B,22H2\nC,22H2\n')  # never closed
    assert bad(rows_of(path)) == {
        3: "row 3: a quote opened on this line is not closed where a cell ends; the lines after it are read as rows"
    }


@pytest.mark.parametrize("text", ['deviceName,os_version\nA,22H2\n"B,22H2\n', '"deviceName,os_version\n'])
def test_a_quote_opened_on_the_last_line_is_that_rows_error(tmp_path, text):
    path = tmp_path / "fleet.csv"
    path.write_text(text)  # no line after it to take (the header's own, or a device's): was a TypeError
    number = text.count("\n")
    assert bad(rows_of(path)) == {
        number: f"row {number}: a quote opened on this line is not closed before the file ends"
    }


def test_blank_csv_rows_are_reported_not_devices(tmp_path):
    path = tmp_path / "fleet.csv"
    path.write_text("deviceName,os_version\nA,22H2\n,\n\n  \nB,22H2\n")
    rows = rows_of(path)
    assert names(rows) == ["A", "B"]
    assert bad(rows) == {3: "row 3: every cell is empty, so it describes no device"}


def test_duplicate_json_keys_are_that_rows_error(tmp_path):
    path = tmp_path / "fleet.jsonl"
    path.write_bytes(
        line("A") + b'{"deviceName": "B", "facts": {"os_version": "1809", "os_version": "22H2"}}\n' + line("C")
    )
    rows = rows_of(path)
    assert names(rows) == ["A", "C"]
    assert bad(rows) == {2: 'line 2: the key "os_version" is given twice in one object'}
    array = tmp_path / "fleet.json"
    array.write_text('[{"deviceName": "A"}, {"deviceName": "B", "deviceName": "C"}, {"deviceName": "D"}]')
    rows = rows_of(array)
    assert names(rows) == ["A", "D"]
    assert bad(rows) == {2: 'element 2 (line 1, column 23): the key "deviceName" is given twice in one object'}


def test_duplicate_csv_columns_are_reported(tmp_path):
    path = tmp_path / "fleet.csv"
    path.write_text("deviceName,os_version,os_version\nA,22H2,22H2\nB,1809,22H2\nC,,22H2\n")
    rows = rows_of(path)
    assert names(rows) == ["A", "C"]
    assert bad(rows) == {
        1: "row 1 (the header): column `os_version` is given twice (columns 2 and 3)",
        3: "row 3: column `os_version` is given twice with different values",
    }


@pytest.mark.parametrize("cut", [12, 40, 60])
def test_a_truncated_json_line_says_where_it_ends(tmp_path, cut):
    path = tmp_path / "fleet.jsonl"
    text = json.dumps(row("B"))
    path.write_bytes(line("A") + text[:cut].encode())
    (message,) = bad(rows_of(path)).values()
    assert "cut off" in message
    assert not message.startswith("line 2, column 1:")


def test_a_huge_value_is_shortened_in_the_summary(capsys, tmp_path):
    path = tmp_path / "fleet.jsonl"
    path.write_bytes(
        json.dumps({"deviceName": "A", "facts": {"x" * 1_000_000: 1, "os_version": "y" * 1_000_000}}).encode() + b"\n"
    )
    code, out, _ = run(capsys, "check", *SE, "--fleet", str(path))
    assert code == 2
    assert len(out) < 10_000 and "more characters)" in out


def test_control_characters_from_the_input_never_reach_the_terminal(capsys, tmp_path):
    attack = "\u001b]0;PWNED\u0007\u001b[2J"
    path = tmp_path / "fleet.jsonl"
    path.write_text(
        json.dumps({"deviceName": attack, "facts": {attack: 1}})
        + "\n"
        + json.dumps({"deviceName": attack, "facts": {"os_version": "1803", "user_role": "StandardUser"}})
        + "\n"
        + json.dumps({"deviceName": "x", "facts": {"os_version": attack}})
        + "\n"
    )
    for fmt in ("table", "markdown", "json"):
        _, out, err = run(capsys, "check", *SE, "--fleet", str(path), "--format", fmt)
        assert "\x1b" not in out and "\x07" not in out and "\x1b" not in err, fmt
        assert "\\u001b" in out, fmt


# ---------------------------------------------------------------------------------------------
# Bounded memory: a row longer than the limit is its error, an endless line is skipped, not kept.


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv"])
def test_a_row_longer_than_the_limit_is_that_rows_error(tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(fleet_rows, "MAX_ROW_BYTES", 2000)
    monkeypatch.setattr(fleet_rows, "_CHUNK", 256)
    long = row("B", note="z" * 5000)
    path = tmp_path / f"fleet{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps([row("A"), long, row("C")]))
    elif suffix == ".csv":
        path.write_text("deviceName,os_version\nA,22H2\nB," + "9" * 5000 + "\nC,22H2\n")
    else:
        path.write_text("\n".join(json.dumps(r) for r in (row("A"), long, row("C"))) + "\n")
    rows = rows_of(path)
    assert names(rows) == ["A", "C"]
    (message,) = bad(rows).values()
    assert "longer than" in message


def test_an_endless_line_does_not_grow_memory(monkeypatch):
    monkeypatch.setattr(fleet_rows, "MAX_ROW_BYTES", 1 << 20)
    chunk = b"\x00" * (1 << 16)

    def endless():  # 64 MiB without a newline, then one row
        for _ in range(1024):
            yield chunk
        yield b"\n" + line("A")

    tracemalloc.start()
    lines = list(fleet_rows._lines(endless(), "fleet.jsonl"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [number for number, _ in lines] == [1, 2] and lines[0][1] is None
    assert peak < 8 << 20


# ---------------------------------------------------------------------------------------------
# The command: --format json writes the fleet document wherever it goes, --jsonl the device lines.


def test_format_json_with_output_writes_the_fleet_document(capsys, tmp_path):
    target = tmp_path / "fleet.json"
    code, out, _ = run(
        capsys, "check", *SE, "--policy", POLICY, "--fleet", FLEET, "--format", "json", "--output", str(target)
    )
    assert code == 2 and out == ""
    assert json.loads(target.read_text())["schema"] == "bitlocker-rules/fleet/1"


def test_jsonl_writes_one_line_per_device_beside_any_report(capsys, tmp_path):
    page, lines = tmp_path / "fleet.html", tmp_path / "devices.jsonl"
    code, out, _ = run(
        capsys,
        "check",
        *SE,
        "--policy",
        POLICY,
        "--fleet",
        FLEET,
        "--format",
        "html",
        "--output",
        str(page),
        "--jsonl",
        str(lines),
    )
    assert code == 2 and out == ""
    assert page.read_text().lower().startswith("<!doctype html>")
    records = [json.loads(text) for text in lines.read_text().splitlines()]
    assert len(records) == 40 and {r["row"] for r in records} == set(range(1, 42)) - {18}


def test_jsonl_to_standard_output_needs_the_report_elsewhere(capsys):
    code, _, err = run(capsys, "check", *SE, "--fleet", FLEET, "--jsonl", "-")
    assert code == 2 and "--jsonl - and the report would both go to standard output" in err


def test_jsonl_goes_with_fleet(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "check",
        *SE,
        "--policy",
        POLICY,
        "--device",
        str(EXAMPLES / "device-ready.json"),
        "--jsonl",
        str(tmp_path / "x.jsonl"),
    )
    assert code == 2 and "--jsonl goes with --fleet" in err


def test_jsonl_naming_an_input_is_refused(capsys, tmp_path):
    path = tmp_path / "fleet.jsonl"
    path.write_bytes(line("A") + line("B"))
    code, _, err = run(capsys, "check", *SE, "--fleet", str(path), "--jsonl", str(path))
    assert code == 2 and "--jsonl names an input file" in err
    assert path.read_bytes() == line("A") + line("B")


def test_jobs_are_capped_at_the_processors_available(capsys, tmp_path, monkeypatch):
    import concurrent.futures

    cores = len(os.sched_getaffinity(0))
    started = []
    monkeypatch.setattr(
        concurrent.futures, "ProcessPoolExecutor", lambda jobs, **kw: started.append(jobs) or Pool(jobs, **kw)
    )
    # One more than the processors (--jobs 100000 used to start 100,000 processes).
    code, out, err = run(
        capsys, "check", *SE, "--policy", POLICY, "--fleet", FLEET, "--jobs", str(cores + 1), "--format", "json"
    )
    assert f"note: --jobs {cores + 1} is more than the {cores} processors available; using {cores}" in err
    assert code == 2 and json.loads(out)["devices"] == 40
    # A pool of --jobs workers, or (a fleet file read by ranges) of one fewer beside this
    # process; none when this process alone has the whole (small) file.
    assert started in ([cores], [cores - 1], [])


_READING = os.getpid()
_EVALUATE_BATCH = fleet_parallel._run_batch


def _die_in_a_worker(*args):  # the workers are forked: they run this; the reading process its first batch
    if os.getpid() != _READING:
        os._exit(9)
    return _EVALUATE_BATCH(*args)


def test_a_dead_worker_is_one_clear_error(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(fleet_parallel, "_run_batch", _die_in_a_worker)
    monkeypatch.setattr(fleet_parallel, "line_ranges", lambda path, jobs: None)  # rows sent, as from a pipe
    rows = Path(FLEET).read_text().splitlines(keepends=True)
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_text("".join(rows[i % len(rows)] for i in range(1200)))  # more than the first batch of 500
    code, _, err = run(capsys, "check", *SE, "--policy", POLICY, "--fleet", str(fleet), "--jobs", "2")
    assert code == 3  # the crash code: the environment failed, not the input
    assert "--jobs 2: error[P001]: a worker process ended before its rows were evaluated (exit code 9); 500 rows" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# Every format the same with one process or several; JUnit bounded.


@pytest.fixture(scope="module")
def big_fleet(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "fleet.jsonl"
    source = [json.loads(text) for text in Path(FLEET).read_text().splitlines() if "Windows 95" not in text]
    with path.open("w") as out:
        for i in range(1300):  # three batches of 500
            device = dict(source[i % len(source)], deviceName=f"PC-{i:04d}")
            out.write(json.dumps(device) + "\n")
        out.write("{not json\n")
    return path


@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "html", "sarif", "junit"])
def test_every_format_is_the_same_with_two_processes(capsys, tmp_path, big_fleet, fmt):
    outputs = []
    for jobs in ("1", "2"):
        lines = tmp_path / f"lines-{jobs}.jsonl"
        code, out, _ = run(
            capsys,
            "check",
            "--rules",
            "silent_enablement",
            "--rules",
            "encryption_readiness",
            "--policy",
            POLICY,
            "--fleet",
            str(big_fleet),
            "--format",
            fmt,
            "--jobs",
            jobs,
            "--jsonl",
            str(lines),
        )
        outputs.append((code, out, lines.read_text()))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == 2


def test_the_junit_report_does_not_grow_with_the_fleet(capsys, tmp_path, big_fleet):
    small = tmp_path / "small.jsonl"
    small.write_text("".join(big_fleet.read_text().splitlines(keepends=True)[:130]))
    sizes = []
    for path in (small, big_fleet):
        _, out, _ = run(capsys, "check", *SE, "--policy", POLICY, "--fleet", str(path), "--format", "junit")
        ET.fromstring(out)
        sizes.append(len(out.encode()))
    assert sizes[1] < sizes[0] * 1.2  # ten times the devices: a few more digits, the same devices named
    assert sizes[1] / 1300 < 30  # bytes per device


def test_rows_that_cannot_be_read_are_listed_up_to_a_limit_and_counted(capsys, tmp_path, monkeypatch):
    import bitlocker_rules.fleet.results as records

    monkeypatch.setattr(records, "BAD_ROWS_LISTED", 5)
    path = tmp_path / "fleet.jsonl"
    path.write_bytes(b"".join(line(f"D{i}") if i % 2 else b"{bad\n" for i in range(24)))
    code, out, _ = run(capsys, "check", *SE, "--fleet", str(path), "--format", "json")
    document = json.loads(out)
    assert code == 2 and document["devices"] == 12
    assert len(document["bad_rows"]) == 5 and document["bad_rows_not_listed"] == 7
    schema = json.loads((ROOT / "docs" / "schema" / "fleet-1.json").read_text())
    assert set(document) <= set(schema["properties"])
    _, table, _ = run(capsys, "check", *SE, "--fleet", str(path))
    assert "12 rows not read" in table and "… and 7 more" in table


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_endless_line_stops_the_reading_with_one_error(capsys, jobs):
    # /dev/zero as a fleet is one line that never ends: it was skipped for ever (the adversarial
    # run's hang); past 256 MiB without a line end reading stops, exit 2.
    code, _, err = run(capsys, "check", "--policy", POLICY, "--fleet", "/dev/zero", "--jobs", jobs)
    assert code == 2
    assert err.startswith("/dev/zero: error[I009]: line 1: no line end within 256 MiB; the rest is not read")


@pytest.mark.parametrize("options", [["--format", "markdown"], ["--format", "html"], ["--jobs", "2"]])
def test_policies_from_standard_input_are_read_once_for_a_fleet(tmp_path, options):
    # The report naming its inputs and each --jobs worker read the policies again: from standard
    # input that second read found nothing (I005 malformed JSON; with --jobs, a dead worker, exit 3).
    result = command(
        "check",
        *SE,
        "--policy",
        "-",
        "--fleet",
        str(EXAMPLES / "fleet.jsonl"),
        *options,
        "--output",
        str(tmp_path / "report"),
        stdin=Path(POLICY).read_bytes(),
    )
    assert result.returncode == 2 and b"row 18" not in result.stderr  # the example's one bad row, in the report
    assert result.stderr == b""
    assert (tmp_path / "report").stat().st_size > 0


def test_jsonl_and_output_naming_one_file_is_refused(capsys, tmp_path):
    target = str(tmp_path / "both")
    code, _, err = run(
        capsys,
        "check",
        "--policy",
        POLICY,
        "--fleet",
        str(EXAMPLES / "fleet.jsonl"),
        "--jsonl",
        target,
        "--output",
        target,
    )
    assert code == 2 and "--jsonl and --output name the same file" in err


def test_jsonl_and_output_both_thrown_away_is_accepted(capsys, tmp_path):
    # Both to the null device (timing a run, checking only its exit code) replaces nothing.
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_bytes(line("A") + line("B"))
    code, out, err = run(
        capsys, "check", "--policy", POLICY, "--fleet", str(fleet), "--jsonl", os.devnull, "--output", os.devnull
    )
    assert (code, out, err) == (0, "", "")


def test_a_row_nested_past_a_device_files_limit_is_that_rows_error(capsys, tmp_path):
    # Rows promised the limits a device file has, but only a nesting deep enough to exhaust
    # Python's recursion was refused: 70 levels were evaluated as a device.
    deep: dict = {}
    inner = deep
    for _ in range(70):
        inner["a"] = {}
        inner = inner["a"]
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_bytes(line("A") + json.dumps({"deviceName": "B", "extra": deep}).encode() + b"\n")
    code, out, _ = run(capsys, "check", *SE, "--policy", POLICY, "--fleet", str(fleet))
    assert code == 2 and "row 2" in out and "nested deeper than 64 levels" in out
