"""Golden files: the exact ``check`` output in every format for the shipped examples.

Each device case runs ``bitlocker-rules check --rules silent_enablement --policy P --device D
--format F`` in-process from the repository root (so every path in the output is relative)
and compares standard output byte for byte with ``tests/golden/<case>.<ext>`` (``txt`` for
the table, ``json``, ``md`` for Markdown, ``sarif``, ``xml`` for JUnit, ``html``). Each fleet
case runs ``check --fleet examples/fleet.jsonl`` the same way. Output is deterministic: no
absolute paths, no dates, and no colour because standard output is not a terminal under
pytest.

After an intended change of the output, regenerate the files and review the diff::

    UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py -q
    git diff tests/golden/

An update run never passes: a case whose file it rewrote fails (naming the file to review), a
case whose file was already right is skipped. Only a run without ``UPDATE_GOLDEN`` compares
the output with a file, so no run compares a file with the output it was just written from.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bitlocker_rules.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

# case name -> (policy file or files, device file, expected exit code)
CASES = {
    "silent-ready": ("examples/policy-silent.json", "examples/device-ready.json", 0),
    "silent-legacy": ("examples/policy-silent.json", "examples/device-legacy.json", 1),
    "startup-pin-ready": ("examples/policy-startup-pin.json", "examples/device-ready.json", 1),
    # Two policies that disagree on three settings: conflicts, unknown rules, failures.
    "conflict-legacy": (
        ("examples/policy-silent.json", "examples/policy-startup-pin.json"),
        "examples/device-legacy.json",
        1,
    ),
}
FORMATS = {"table": "txt", "json": "json", "markdown": "md", "sarif": "sarif", "junit": "xml", "html": "html"}

# fleet case name -> (arguments after `check`, expected exit code, formats). The example fleet
# has a row that cannot be read, so the exit code is 2 and every format shows that row.
# JUnit has one test case per rule (devices counted, a few named): its case checks one ruleset.
FLEET = ["--policy", "examples/policy-silent.json", "--fleet", "examples/fleet.jsonl"]
FLEET_CASES = {
    "fleet": (
        ["--rules", "silent_enablement", "--rules", "encryption_readiness", *FLEET],
        2,
        ("table", "json", "markdown", "sarif", "html"),
    ),
    "fleet-silent": (["--rules", "silent_enablement", *FLEET], 2, ("junit",)),
}

# Golden files whose case is in another test module (a snapshot the test builds).
OTHER_GOLDEN = {"snapshot.sarif": "tests/test_sarif_devices.py::test_the_snapshot_sarif_golden"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_golden(case, fmt, capsys, monkeypatch):
    policies, device, expected_code = CASES[case]
    policies = [policies] if isinstance(policies, str) else list(policies)
    monkeypatch.chdir(ROOT)
    code = main(
        [
            "check",
            "--rules",
            "silent_enablement",
            *(a for p in policies for a in ("--policy", p)),
            "--device",
            device,
            "--format",
            fmt,
        ]
    )
    out, err = capsys.readouterr()
    assert err == ""
    assert code == expected_code
    assert str(ROOT) not in out, "absolute path in the output"
    assert "\x1b[" not in out, "colour codes in the output"

    compare(out, GOLDEN / f"{case}.{FORMATS[fmt]}")


@pytest.mark.parametrize(("case", "fmt"), [(c, f) for c, (_, _, formats) in FLEET_CASES.items() for f in formats])
def test_golden_fleet(case, fmt, capsys, monkeypatch):
    argv, expected_code, _ = FLEET_CASES[case]
    monkeypatch.chdir(ROOT)
    code = main(["check", *argv, "--format", fmt])
    out, err = capsys.readouterr()
    assert err == ""
    assert code == expected_code
    assert str(ROOT) not in out, "absolute path in the output"
    assert "\x1b[" not in out, "colour codes in the output"
    compare(out, GOLDEN / f"{case}.{FORMATS[fmt]}")


def compare(out: str, golden: Path) -> None:
    if UPDATE:
        update(out, golden)
    assert golden.is_file(), f"{golden} is missing; run UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py"
    expected = golden.read_text(encoding="utf-8")
    assert out == expected, (
        f"output differs from {golden.relative_to(ROOT)}; if the change is intended, "
        "regenerate with UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py"
    )


def update(out: str, golden: Path) -> None:
    """Write ``out`` to ``golden``, then fail (the file changed: review it) or skip (it did not)."""
    old = golden.read_text(encoding="utf-8") if golden.is_file() else None
    if old == out:
        pytest.skip(f"UPDATE_GOLDEN=1: {golden.relative_to(ROOT)} is already up to date")
    GOLDEN.mkdir(exist_ok=True)
    golden.write_text(out, encoding="utf-8", newline="\n")
    pytest.fail(
        f"UPDATE_GOLDEN=1 rewrote {golden.relative_to(ROOT)}: review `git diff tests/golden/`, "
        "then run the tests again without UPDATE_GOLDEN",
        pytrace=False,
    )


def test_update_mode_never_passes(tmp_path, monkeypatch):
    """An update writes the file and fails, or skips when nothing changed: it never passes."""
    monkeypatch.setattr(sys.modules[__name__], "GOLDEN", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    golden = tmp_path / "case.txt"
    with pytest.raises(pytest.fail.Exception, match=r"rewrote case\.txt"):
        update("new output\n", golden)
    assert golden.read_text(encoding="utf-8") == "new output\n"
    with pytest.raises(pytest.skip.Exception, match="already up to date"):
        update("new output\n", golden)


def test_no_stray_golden_files():
    """Every file in tests/golden/ belongs to a case, so none goes stale unnoticed."""
    expected = {f"{case}.{ext}" for case in CASES for ext in FORMATS.values()}
    expected |= {f"{case}.{FORMATS[fmt]}" for case, (_, _, formats) in FLEET_CASES.items() for fmt in formats}
    expected |= set(OTHER_GOLDEN)
    present = {p.name for p in GOLDEN.iterdir()} if GOLDEN.is_dir() else set()
    assert present <= expected, f"unexpected golden files: {sorted(present - expected)}"
