"""The command line as the shell expects it: pipes and ``-``, atomic outputs, exit codes for
crashes and interrupts, colour, escaped control characters, usage errors, completion."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitlocker_rules import cli
from bitlocker_rules.cli import main
from bitlocker_rules.cli.output import report_stream, wants_colour
from bitlocker_rules.errors import InputError
from bitlocker_rules.reading import (
    MAX_INPUT_BYTES,
    MAX_JSON_DEPTH,
    JsonLimitError,
    json_depth,
    loads_json,
    parse_json,
    parse_toml,
    read_json,
    too_deep,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
POLICY = str(EXAMPLES / "policy-silent.json")
READY = str(EXAMPLES / "device-ready.json")
LEGACY = str(EXAMPLES / "device-legacy.json")
PASSWORD = "123456-234567-345678-456789-567890-678901-789012-890123"


def run(*args: str, stdin: bytes | str | None = None, env: dict | None = None, timeout: float = 60):
    """The installed command as a shell runs it: a new process, real pipes."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    data = stdin.encode() if isinstance(stdin, str) else stdin
    done = subprocess.run(
        [sys.executable, "-m", "bitlocker_rules", *args],
        input=data,
        capture_output=True,
        env=environment,
        timeout=timeout,
        cwd=ROOT,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")
    )


# ---------------------------------------------------------------------------
# Inputs from standard input and pipes.


def test_policy_from_standard_input():
    piped = run(
        "check", "--rules", "silent_enablement", "--policy", "-", "--device", READY, stdin=Path(POLICY).read_bytes()
    )
    from_file = run("check", "--rules", "silent_enablement", "--policy", POLICY, "--device", READY)
    assert piped.returncode == from_file.returncode == 0, piped.stderr
    assert piped.stdout.splitlines()[2:] == from_file.stdout.splitlines()[2:]


def test_device_from_dev_stdin_pipe():
    result = run(
        "check",
        "--rules",
        "silent_enablement",
        "--policy",
        POLICY,
        "--device",
        "/dev/stdin",
        stdin=Path(LEGACY).read_bytes(),
    )
    assert result.returncode == 1, result.stderr
    assert "BIOS Mode is Legacy" in result.stdout


def test_standard_input_named_twice_is_a_usage_error():
    result = run("check", "--policy", "-", "--device", "-", stdin=b"{}")
    assert result.returncode == 2
    assert "standard input (-) can be read once" in result.stderr


def test_errors_in_standard_input_name_it():
    result = run("check", "--policy", "-", stdin='{"settings": {"policy.tpm_startup_pin": }}')
    assert result.returncode == 2
    assert result.stderr.startswith("<stdin>:1:")
    assert "malformed JSON" in result.stderr


def test_sarif_locates_findings_in_standard_input():
    startup_pin = EXAMPLES / "graph" / "endpoint-protection-startup-pin.json"
    result = run(
        "check",
        "--rules",
        "silent_enablement",
        "--policy",
        "-",
        "--device",
        str(EXAMPLES / "graph" / "managed-device.json"),
        "--format",
        "sarif",
        stdin=startup_pin.read_bytes(),
    )
    results = json.loads(result.stdout)["runs"][0]["results"]
    assert results, result.stderr
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    line = startup_pin.read_text(encoding="utf-8").splitlines()[region["startLine"] - 1]
    assert "tpmStartupPin" in line or "startupAuthenticationTpmPinUsage" in line


# ---------------------------------------------------------------------------
# Input limits: counted bytes, linear checks, clear errors.


def test_endless_input_stops_at_the_limit():
    started = time.monotonic()
    result = run("check", "--policy", "/dev/zero", timeout=60)
    assert result.returncode == 2
    assert f"larger than {MAX_INPUT_BYTES} bytes" in result.stderr
    assert time.monotonic() - started < 30


def test_depth_check_is_linear_on_escaped_quotes():
    text = "[" * 65 + '"' + '\\"' * 100_000
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        parse_json(text, "deep.json")
    assert time.monotonic() - started < 2
    assert caught.value.diagnostics[0].code in ("I004", "I005")


def test_too_deep_json_is_located():
    with pytest.raises(InputError) as caught:
        parse_json('{"a": ' + "[" * 70 + "]" * 70 + "}", "deep.json")
    diagnostic = caught.value.diagnostics[0]
    assert diagnostic.code == "I004"
    assert diagnostic.location == "deep.json:1:70"  # the 64th array is the 65th level: the object and 63 arrays fit


_JSON = st.recursive(
    st.none() | st.integers() | st.text(alphabet='[]{}a\\"', max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet="[{k", max_size=3), inner, max_size=3),
    max_leaves=200,
)


@given(_JSON, st.integers(0, MAX_JSON_DEPTH + 3))
def test_the_depth_walk_and_the_bracket_count_never_let_too_deep_json_through(data, wrapping):
    # The oracle is the walk alone: the count may only skip it for text that cannot be too deep.
    for _ in range(wrapping):
        data = [data]
    text = json.dumps(data)
    assert json_depth(data) == min(_depth(data), MAX_JSON_DEPTH + 1)
    assert too_deep(text, data) == (_depth(data) > MAX_JSON_DEPTH)


@given(st.integers(0, 300), st.integers(0, 3), st.integers(MAX_JSON_DEPTH - 4, MAX_JSON_DEPTH + 4), st.booleans())
def test_a_deep_chain_beside_many_shallow_records_is_found(records, fields, chain, first):
    # The walk stops early when the containers left could not make a chain past the limit:
    # many records beside one deep chain must not make it stop before the chain's end.
    shallow = [{f"k{i}": [i] for i in range(fields)} for _ in range(records)]
    deep: Any = 0
    for _ in range(chain):
        deep = [deep]
    data = [deep, shallow] if first else [shallow, deep]
    text = json.dumps(data)
    assert too_deep(text, data) == (_depth(data) > MAX_JSON_DEPTH)


def _depth(value):  # the oracle: the definition, recursively (the data is shallow enough)
    if isinstance(value, dict):
        value = list(value.values())
    return 1 + max(map(_depth, value), default=0) if isinstance(value, list) else 0


def test_a_number_too_long_to_convert_is_an_input_error():
    with pytest.raises(InputError) as caught:
        parse_json('{"x": ' + "9" * 5000 + "}", "long.json")
    diagnostic = caught.value.diagnostics[0]
    assert (diagnostic.code, diagnostic.location) == ("I005", "long.json:1:7")
    assert "longer than 4300 digits" in diagnostic.message


_DEEP = "[" * 3000 + "]" * 3000  # past the decoders' recursion: a RecursionError once


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("a = " + _DEEP, "(at line 1, column 69)"),  # the 65th bracket
        ('x = "[[[[#"\n# [[[[[[[[[[\nb = ' + "{c = " * 70 + "1" + "}" * 70, "(at line 3, column 325)"),
        ("s = '''\n[[[[\n'''\nt = " + "[" * 65 + "]" * 65, "(at line 4, column 69)"),
        ('q = "\\\\"\nt = ' + "[" * 65 + "]" * 65, "(at line 2, column 69)"),  # an escaped backslash, then the quote
        ("[t]\n" + ".".join(["k"] * 70) + " = 1", "(at line 1, column 1)"),  # dotted keys: no bracket to point at
    ],
)
def test_toml_nested_too_deep_is_a_syntax_error_with_its_place(text, place):
    with pytest.raises(tomllib.TOMLDecodeError) as caught:
        parse_toml(text)
    assert str(caught.value) == f"nested deeper than {MAX_JSON_DEPTH} levels {place}"


def test_toml_within_the_limit_reads_as_tomllib_reads_it():
    text = "a = " + "[" * 63 + "1" + "]" * 63 + '\n[t]\nb = { c = [1, "]]"] }\n'
    assert parse_toml(text) == tomllib.loads(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_DEEP, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"),
        ("[" * 65 + "]" * 65, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"),
        (b"[" * 65 + b"]" * 65, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"),
        ('{"x": ' + "9" * 5000 + "}", "a JSON number longer than 4300 digits"),
    ],
)
def test_json_within_a_larger_input_is_held_to_the_same_limits(text, message):
    with pytest.raises(JsonLimitError, match=message):
        loads_json(text)
    assert loads_json("[" * 64 + "]" * 64) is not None  # the limit itself is allowed


@pytest.mark.parametrize(
    ("command", "name", "content", "said"),
    [
        (["test", "{dir}/p.rules"], "p.tests.toml", '[[case]]\nname = "x"\nfoo = ' + _DEEP, "error[K102]"),
        (
            ["check", "--policy", POLICY, "--device", READY, "--waivers", "{file}"],
            "w.toml",
            "[[waivers]]\nid = " + _DEEP,
            "error[W010]",
        ),
        (
            ["check", "--config", "{file}", "--policy", POLICY, "--device", READY],
            "c.toml",
            "[check]\nrules = " + _DEEP,
            "error[C002]",
        ),
        (["lint", "--config", "{file}", "permissions"], "c.toml", "[lint]\nenable = " + _DEEP, "error[C002]"),
        (
            ["diff", "{file}", "{file}"],
            "run.jsonl",
            '{"row": 1, "device": "d", "results": ' + _DEEP + "}\n",
            "error[H001]",
        ),
        (["diff", "{file}", "{file}"], "run.jsonl", '{"row": ' + _DEEP + ', "device": "d"}\n', "error[H001]"),
    ],
)
def test_input_nested_too_deep_is_bad_input_in_every_command(tmp_path, command, name, content, said):
    # Each once ended in "internal error (RecursionError ...)", exit 3.
    shutil.copy(ROOT / "rulesets" / "permissions.rules", tmp_path / "p.rules")
    (tmp_path / name).write_text(content, encoding="utf-8")
    args = [a.format(dir=tmp_path, file=tmp_path / name) for a in command]
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and "nested deeper than 64 levels" in result.stderr
    assert "internal error" not in result.stderr


@pytest.mark.parametrize(
    ("command", "name", "content", "said"),
    [
        (["test", "{dir}/p.rules"], "p.tests.toml", '[[case]]\nname = "x"\nfoo = ' + "9" * 5000, "error[K102]"),
        (
            ["check", "--policy", POLICY, "--device", READY, "--waivers", "{file}"],
            "w.toml",
            "x = " + "9" * 5000,
            "W010",
        ),
        (["check", "--config", "{file}", "--policy", POLICY, "--device", READY], "c.toml", "x = " + "9" * 5000, "C002"),
    ],
)
def test_a_toml_number_too_long_to_convert_is_bad_input(tmp_path, command, name, content, said):
    # tomllib's int() raised a bare ValueError past 4,300 digits: an internal error, exit 3.
    shutil.copy(ROOT / "rulesets" / "permissions.rules", tmp_path / "p.rules")
    (tmp_path / name).write_text(content, encoding="utf-8")
    result = run(*[a.format(dir=tmp_path, file=tmp_path / name) for a in command])
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and "a number longer than 4300 digits" in result.stderr


def test_a_key_given_twice_is_refused_with_its_place():
    with pytest.raises(InputError) as caught:
        parse_json('{"settings": {"a": 1,\n  "a": 2}, "a": 3}', "twice.json")
    diagnostic = caught.value.diagnostics[0]
    assert (diagnostic.code, diagnostic.location) == ("I007", "twice.json:2:3")


def test_the_same_key_in_two_objects_is_fine():
    assert parse_json('[{"a": 1}, {"a": 2}, {"b": {"a": 3}}]') == [{"a": 1}, {"a": 2}, {"b": {"a": 3}}]


def test_utf16_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "policy.json"
    path.write_bytes(Path(POLICY).read_text(encoding="utf-8").encode("utf-16"))
    assert read_json(path)[0] == json.loads(Path(POLICY).read_text(encoding="utf-8"))


def test_invalid_utf8_is_located(tmp_path):
    path = tmp_path / "policy.json"
    path.write_bytes(b'{"settings":\n  {"x": "\xff"}}')
    with pytest.raises(InputError) as caught:
        read_json(path)
    assert "byte 0xff at line 2, column 10" in caught.value.diagnostics[0].message


def test_a_long_line_shows_a_window_around_the_error():
    with pytest.raises(InputError) as caught:
        parse_json('{"x": "' + "a" * 10_000 + '", }', "wide.json")
    snippet = caught.value.render().splitlines()[1]
    assert len(snippet) < 120
    assert snippet.endswith("…") or snippet.rstrip().endswith("}")


# ---------------------------------------------------------------------------
# Outputs: standard output, atomic files, never an input.


def test_output_dash_is_standard_output(tmp_path):
    result = run("check", "--policy", POLICY, "--device", READY, "--format", "json", "--output", "-")
    assert result.returncode == 0
    assert json.loads(result.stdout)["schema"] == "bitlocker-rules/report/1"
    assert not (ROOT / "-").exists()


@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "PYTHONUNBUFFERED"])
def test_json_lines_to_standard_output_are_the_lines_of_a_file(tmp_path, unbuffered):
    # Standard output's lines are batched a megabyte at a time and the last batch written at the
    # end: none is lost, with PYTHONUNBUFFERED (a raw stream underneath) too. A raw stream that
    # takes part of a write: test_fleet.py's test_encoded_lines_reach_a_raw_stream_whole_and_in_order.
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_bytes((EXAMPLES / "fleet.jsonl").read_bytes() * 6)  # about 1.8 MB of lines: more than one batch
    file, report = tmp_path / "lines.jsonl", tmp_path / "report.json"
    common = ("check", "--policy", POLICY, "--fleet", str(fleet), "--quiet")
    env = {"PYTHONUNBUFFERED": unbuffered}
    to_file = run(*common, "--jsonl", str(file), "--format", "json", "--output", str(report), env=env)
    assert to_file.returncode == 2  # the fleet's one bad row, six times
    to_stdout = run(*common, "--jsonl", "-", env=env)
    assert to_stdout.returncode == 2 and to_stdout.stderr == ""
    lines = to_stdout.stdout.splitlines()
    assert len(lines) == json.loads(report.read_text())["devices"] and len(to_stdout.stdout) > 1 << 20
    assert [json.loads(line)["row"] for line in lines] == sorted({json.loads(line)["row"] for line in lines})
    assert to_stdout.stdout.encode() == file.read_bytes()


def test_output_naming_an_input_is_refused_and_the_input_kept(tmp_path):
    policy = tmp_path / "policy.json"
    shutil.copy(POLICY, policy)
    before = policy.read_bytes()
    code = main(["check", "--policy", str(policy), "--device", READY, "--output", str(policy)])
    assert code == 2
    assert policy.read_bytes() == before


def test_an_interrupted_report_leaves_the_previous_one(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("the previous report\n")
    with pytest.raises(KeyboardInterrupt), report_stream(str(target)) as stream:
        stream.write("half of a new report")
        raise KeyboardInterrupt
    assert target.read_text() == "the previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]  # no temporary file left behind


def test_a_written_report_keeps_the_replaced_files_permissions(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("old")
    target.chmod(0o640)
    assert main(["check", "--policy", POLICY, "--device", READY, "--output", str(target)]) == 0
    assert target.stat().st_mode & 0o777 == 0o640
    assert target.read_text().startswith("BitLocker rules for")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_a_clear_error():
    to_file = run("check", "--policy", POLICY, "--device", READY, "--output", "/dev/full")
    assert to_file.returncode == 2
    assert to_file.stderr.strip() == "/dev/full: error[I006]: cannot write the report: No space left on device"
    with open("/dev/full", "w") as full:
        to_stdout = subprocess.run(
            [sys.executable, "-m", "bitlocker_rules", "rules"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert to_stdout.returncode == 2
    assert "Traceback" not in to_stdout.stderr
    assert "cannot write the report: No space left on device" in to_stdout.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_json_lines_to_a_full_standard_output_are_a_clear_error():
    # Each device's line is written as it is made: the stream's buffer fills, and a write fails.
    command = [sys.executable, "-m", "bitlocker_rules", "check", "--quiet", "--policy", POLICY]
    with open("/dev/full", "w") as full:
        out = subprocess.run(
            [*command, "--fleet", str(EXAMPLES / "fleet.jsonl"), "--jsonl", "-"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == "standard output: error[I006]: cannot write the report: No space left on device"


def _read_one_line_then_close(*args: str) -> tuple[int, str]:
    """Run the command, read one line of its output and close the pipe (like ``| head -1``): its
    exit code and what it said on standard error."""
    reader = subprocess.Popen(
        [sys.executable, "-m", "bitlocker_rules", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    reader.stdout.readline()
    reader.stdout.close()
    stderr = reader.stderr.read().decode()
    return reader.wait(timeout=60), stderr


def test_a_closed_pipe_ends_quietly():
    assert _read_one_line_then_close("rules") == (0, "")


def test_a_pipe_closed_while_a_fleet_writes_its_lines_ends_quietly():
    # 300 KB of JSON lines: the pipe breaks under a line's write (ShownStream.write), not at the end
    fleet = ("check", "--fleet", "examples/fleet.jsonl", "--policy", "examples/policy-silent.json")
    assert _read_one_line_then_close(*fleet, "--jsonl", "-", "--output", os.devnull) == (0, "")


# ---------------------------------------------------------------------------
# Crashes and interrupts: their own exit codes, one line, no traceback unless asked.


def _crash(monkeypatch, exception: BaseException):
    from bitlocker_rules.cli import check

    def broken(*args, **kwargs):
        raise exception

    monkeypatch.setattr(check, "render_device", broken)


def test_an_internal_error_is_one_line_and_exit_3(monkeypatch, capsys):
    _crash(monkeypatch, RuntimeError(f"unexpected state {PASSWORD}"))
    assert main(["check", "--policy", POLICY, "--device", READY]) == cli.EXIT_CRASH == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "internal error (RuntimeError: unexpected state ******-" in err
    assert "please report it" in err and "--debug" in err
    assert PASSWORD not in err


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback_masked(monkeypatch, capsys, where):
    _crash(monkeypatch, RuntimeError(f"unexpected state {PASSWORD}"))
    args = ["check", "--policy", POLICY, "--device", READY]
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    assert main(args) == 3
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "RuntimeError" in err and PASSWORD not in err


def test_ctrl_c_in_process_exits_130(monkeypatch, capsys):
    _crash(monkeypatch, KeyboardInterrupt())
    assert main(["check", "--policy", POLICY, "--device", READY]) == 130
    assert capsys.readouterr().err == "bitlocker-rules: interrupted\n"


def test_sigint_while_reading_a_pipe_exits_130():
    process = subprocess.Popen(
        [sys.executable, "-m", "bitlocker_rules", "check", "--policy", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=_default_sigint,
    )
    _wait_until_reading_standard_input(process.pid)
    process.send_signal(signal.SIGINT)
    # Standard input stays open, as a terminal's does: closing it now could end the read with
    # end-of-file before the signal is seen, a race of the test, not of the program.
    process.wait(timeout=60)
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err.decode()) == (130, "bitlocker-rules: interrupted\n")


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.4])
def test_sigint_while_starting_is_the_one_line_or_the_interpreters_default(delay):
    """Ctrl-C during start-up: the one line and 130, or, while the interpreter is still importing
    (before ``main``'s handlers exist), its own default: killed by the signal. Never an exit code
    of ours for an interrupt we did not handle."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bitlocker_rules", "check", "--policy", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=_default_sigint,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    # Before the package's own code runs, the interpreter's default applies (killed by SIGINT,
    # its traceback through whatever it was importing; interrupted while importing runpy itself,
    # on a busy machine, it says so and exits 1); from then on, the one line and 130.
    assert (
        (process.returncode, err.decode()) == (130, "bitlocker-rules: interrupted\n")
        or process.returncode == -signal.SIGINT
        or (process.returncode == 1 and err.decode().startswith("Could not import runpy module"))
    )


def _default_sigint() -> None:
    """A shell runs background jobs with SIGINT ignored, and the child would inherit that (Python
    then installs no KeyboardInterrupt handler): give the child the default, as a terminal does."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# The read system call's number, by machine: where /proc shows a process blocked in it.
_READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}


def _wait_until_reading_standard_input(pid: int, limit: float = 60.0) -> None:
    """Block until ``pid`` waits in read() on descriptor 0 (Linux), so a signal finds it there
    however slowly a loaded machine starts it; elsewhere wait a generous moment."""
    number = _READ_SYSCALL.get(platform.machine())
    path = Path(f"/proc/{pid}/syscall")
    deadline = time.monotonic() + limit
    while number is not None and time.monotonic() < deadline:
        try:
            fields = path.read_text().split()
        except OSError:
            break
        if fields[:2] == [number, "0x0"]:
            return
        time.sleep(0.05)
    time.sleep(3)


# ---------------------------------------------------------------------------
# Colour, control characters, usage.


def test_colour_follows_the_option_and_no_color():
    assert wants_colour("always", False) and not wants_colour("never", True)
    assert wants_colour("auto", True) and not wants_colour("auto", False)


def test_no_color_turns_automatic_colour_off(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_colour("auto", True)
    assert wants_colour("always", True)


def test_colour_always_colours_a_pipe_and_never_does_not():
    coloured = run("check", "--policy", POLICY, "--device", LEGACY, "--color", "always")
    plain = run("check", "--policy", POLICY, "--device", LEGACY, "--color", "never")
    assert "\x1b[31mFAIL\x1b[0m" in coloured.stdout
    assert "\x1b" not in plain.stdout


HOSTILE = "\x1b]0;PWNED\x07\x1b[2J"


def test_control_characters_from_a_device_never_reach_the_terminal(tmp_path):
    device = tmp_path / "device.json"
    device.write_text(
        json.dumps(
            {
                "deviceName": f"LAPTOP{HOSTILE}",
                "facts": {f"device.os_version{HOSTILE}": "10.0.19045", "device.firmware_mode": f"UEFI{HOSTILE}"},
            }
        )
    )
    for colour in ("always", "never"):
        result = run("check", "--policy", POLICY, "--device", str(device), "--color", colour, "--verbose")
        for stream in (result.stdout, result.stderr):
            assert "\x07" not in stream and "\x1b]" not in stream and "\x1b[2J" not in stream
        assert "\\u001b]0;PWNED" in result.stdout + result.stderr


@pytest.mark.parametrize("fmt", ["json", "markdown", "html", "junit", "sarif"])
def test_control_characters_are_escaped_in_every_format(tmp_path, fmt):
    device = tmp_path / "device.json"
    device.write_text(
        json.dumps({"deviceName": f"LAPTOP{HOSTILE}\u202e", "facts": {"device.os_version": "10.0.19045"}})
    )
    result = run("check", "--policy", POLICY, "--device", str(device), "--format", fmt)
    assert not any(ch in result.stdout for ch in "\x1b\x07\u202e")
    if fmt in ("json", "sarif"):
        json.loads(result.stdout)  # still valid JSON


def test_table_is_still_accepted_as_the_text_format(capsys):
    assert main(["check", "--policy", POLICY, "--device", READY, "--format", "table"]) == 0
    table = capsys.readouterr().out
    assert main(["check", "--policy", POLICY, "--device", READY, "--format", "text"]) == 0
    assert capsys.readouterr().out == table


def test_jobs_without_a_fleet_is_a_usage_error(capsys):
    assert main(["check", "--policy", POLICY, "--jobs", "2"]) == 2
    assert capsys.readouterr().err == "bitlocker-rules check: --jobs goes with --fleet\n"


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["check", "--frmat", "json"], "did you mean `--format`?"),
        (["chek"], "did you mean `check`?"),
        (["lint", "--format", "sarf"], "did you mean `sarif`?"),
        # An option spelt right that this command does not take: "did you mean `--quiet`?" named it back.
        (
            ["plan", "--quiet"],
            "`--quiet` is an option of check, fmt, repair, pull, apply only, after the command's name",
        ),
        (["lint", "--jobs=2", "r.rules"], "`--jobs` is an option of check, diff only, after the command's name"),
        (
            ["--quiet", "check", "--policy", "p.json"],
            "`--quiet` is an option of check, fmt, repair, pull, apply only, after the command's name",
        ),
    ],
)
def test_usage_errors_suggest_the_nearest_name(capsys, args, hint):
    with pytest.raises(SystemExit) as caught:
        main(args)
    assert caught.value.code == 2
    assert capsys.readouterr().err.rstrip().endswith(hint)


def test_echoed_arguments_are_masked(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--format", PASSWORD])
    assert main(["explain", f"X{HOSTILE}{PASSWORD}"]) == 2
    err = capsys.readouterr().err
    assert PASSWORD not in err and "\x1b" not in err


def test_every_option_of_every_command_has_help_text():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    missing = [
        f"{name} {action.option_strings or action.dest}"
        for name, command in commands.items()
        for action in command._actions
        if not action.help
    ]
    assert not missing, missing


def test_sarif_of_check_names_the_tool_version(capsys):
    from bitlocker_rules.resources import installed_version

    main(["check", "--policy", POLICY, "--device", LEGACY, "--format", "sarif"])
    driver = json.loads(capsys.readouterr().out)["runs"][0]["tool"]["driver"]
    assert driver["version"] == installed_version()


# ---------------------------------------------------------------------------
# Shell completion, run in each shell.


def _script(shell: str, tmp_path: Path) -> Path:
    result = run("completion", shell)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "_bitlocker-rules"
    path.write_text(result.stdout)
    return path


def _bash_complete(script: Path, words: list[str]) -> list[str]:
    line = " ".join(f"'{w}'" for w in words)
    program = (
        f"source '{script}'; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
        "_bitlocker_rules; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    result = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_options_and_values(tmp_path):
    script = _script("bash", tmp_path)
    assert {"check", "lint", "compare", "completion"} <= set(_bash_complete(script, ["bitlocker-rules", ""]))
    assert _bash_complete(script, ["bitlocker-rules", "check", "--for"]) == ["--format"]
    assert _bash_complete(script, ["bitlocker-rules", "lint", "--format", ""]) == ["text", "json", "sarif"]
    assert "silent_enablement" in _bash_complete(script, ["bitlocker-rules", "check", "--rules", "sil"])
    assert "interactive_startup" in _bash_complete(script, ["bitlocker-rules", "check", "--scenario", "i"])
    assert "SE-09" in _bash_complete(script, ["bitlocker-rules", "explain", "SE-"])


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed (.ci/run installs it)")
def test_fish_completes_commands_options_and_values(tmp_path):
    script = _script("fish", tmp_path)

    def complete(line: str) -> list[str]:
        result = subprocess.run(
            ["fish", "--no-config", "-c", f"source '{script}'; complete -C '{line}'"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PATH": os.environ["PATH"]},
        )
        assert result.returncode == 0, result.stderr
        return [entry.split("\t")[0] for entry in result.stdout.splitlines()]

    assert "check" in complete("bitlocker-rules ")
    assert complete("bitlocker-rules lint --format ") == ["json", "sarif", "text"]
    assert "SE-09" in complete("bitlocker-rules explain SE-0")
    assert "--fail-on" in complete("bitlocker-rules check --fa")


# The driver types into an interactive zsh on a pseudo-terminal (zpty) and polls its output
# with deadlines: no read waits for ever. The setup line's marker is printed as READY but typed
# as REA''DY, so its echo (by the terminal, by zle, once or twice) is never taken for the
# shell's answer, and the line is typed again if the shell dropped it while starting. It prints
# all it read and exits 1 when the answer did not come in time.
ZSH_DRIVER = r"""
zmodload zsh/zpty zsh/datetime zsh/zselect
zpty z 'zsh -f -i'
integer tries
wait_for() {  # wait_for TEXT SECONDS: read until TEXT is in $all, for at most SECONDS
  local chunk
  float deadline=$(( EPOCHREALTIME + $2 ))
  while (( EPOCHREALTIME < deadline )); do
    if zpty -r -t z chunk; then all+=$chunk; continue; fi
    [[ $all == *"$1"* ]] && return 0
    zselect -t 5  # 50 ms
  done
  [[ $all == *"$1"* ]]
}
local all=""
for tries in 1 2 3; do
  zpty -w z "PS1='>'; fpath=(%(folder)s \$fpath); autoload -Uz compinit; compinit -u -D; print REA''DY"
  wait_for READY 10 && break
done
if [[ $all != *READY* ]]; then print -r -- "no READY from the shell: $all"; zpty -d z; exit 1; fi
all=""
zpty -w -n z "%(line)s"$'\t'
wait_for "%(expect)s" 20
integer found=$?
print -r -- "$all"
zpty -d z
exit $found
"""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (.ci/run installs it)")
@pytest.mark.parametrize(
    ("line", "expect"),
    [
        ("bitlocker-rules lint --format ", "sarif"),
        ("bitlocker-rules explain SE-0", "A startup PIN is not required"),
        ("bitlocker-rules compare --fo", "--format"),
    ],
)
def test_zsh_completes_in_a_real_shell(tmp_path, line, expect):
    _zsh_completes(tmp_path, line, expect)


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (.ci/run installs it)")
def test_zsh_driver_ends_wherever_the_terminal_wraps_its_typed_line(tmp_path):
    """The driver once waited for its marker twice, in the echo of the typed line and in the
    answer; where zle wrapped the echo at the 80th column inside the marker, it waited for ever
    (the test timed out in full runs whose temporary folder had such a length). The folders here
    put the wrap at every place of the typed marker (a prompt of one column, an 80-column
    terminal: with the old protocol, folders of 84 to 87 characters hung)."""
    wraps = 82 + 80 * max(0, -(-(len(str(tmp_path)) + 4 - 82) // 80))  # the first window past tmp_path
    for length in range(wraps, wraps + 10):
        folder = tmp_path / f"{length:02d}".ljust(length - len(str(tmp_path)) - 1, "x")
        folder.mkdir()
        assert len(str(folder)) == length
        _zsh_completes(folder, "bitlocker-rules lint --format ", "sarif")


def _zsh_completes(folder: Path, line: str, expect: str) -> None:
    """Type ``line`` and a tab into an interactive zsh with the completion script in ``folder``,
    and see ``expect`` offered. The shells run with nothing of this process's or the user's but
    PATH: no startup file (``-f``, and HOME and ZDOTDIR an empty folder), no variable an earlier
    test or the user's session set, no standard input, a session of their own (no terminal to
    stop them)."""
    _script("zsh", folder)
    driver = folder / "driver.zsh"
    driver.write_text(ZSH_DRIVER % {"folder": folder, "line": line, "expect": expect})
    home = folder / "home"
    home.mkdir()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {"PATH": path, "HOME": str(home), "ZDOTDIR": str(home), "TERM": "xterm", "LANG": "C.UTF-8", "PS1": ">"}
    try:
        result = subprocess.run(
            ["zsh", "-f", str(driver)],
            capture_output=True,
            text=True,
            timeout=90,  # the driver's own deadlines end it within about 50 s
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"zsh did not finish within {exc.timeout:g} s (its driver's deadlines did not end it)")
    assert result.returncode == 0 and expect in result.stdout, (result.stdout[-2000:], result.stderr[-2000:])
    assert "_arguments" not in result.stdout  # no error from zsh's completion system


# ---------------------------------------------------------------------------
# The examples folder's README names only files that are there.


def test_graph_examples_readme_lists_the_files_it_has():
    folder = EXAMPLES / "graph"
    text = (folder / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([\w.-]+\.json)`", text))
    assert listed == {p.name for p in folder.glob("*.json")}
    for path in re.findall(r"`((?:tests|examples)/[\w./-]+)`", text):
        assert (ROOT / path).exists(), path


@pytest.mark.parametrize("form", ["text", "json", "markdown", "sarif", "junit", "html"])
def test_a_lone_surrogate_in_an_input_is_shown_escaped_in_every_format(form):
    # JSON may carry "\ud800", which is no character: every output must still encode (it crashed
    # with UnicodeEncodeError, exit 3, in four formats), and shows it as its escape.
    policy = Path(POLICY).read_text(encoding="utf-8").replace('"id": "', '"id": "\\ud800', 1)
    done = run("check", "--rules", "policy_types", "--policy", "-", "--device", READY, "--format", form, stdin=policy)
    assert done.returncode in (0, 1), done.stderr
    assert "\ufffd" not in done.stdout + done.stderr
