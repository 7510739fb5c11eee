"""Golden files: the exact ``check`` output (table and JSON) for the shipped examples.

Each case runs ``bitlocker-rules check --rules silent_enablement --policy P --device D
--format F`` in-process from the repository root (so every path in the output is relative)
and compares standard output byte for byte with ``tests/golden/<case>.<txt|json>``.
Output is deterministic: no absolute paths, and no colour because standard output is not
a terminal under pytest.

After an intended change of the output, regenerate the files and review the diff::

    UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py -q
    git diff tests/golden/
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bitlocker_rules.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

# case name -> (policy file, device file, expected exit code)
CASES = {
    "silent-ready": ("examples/policy-silent.json", "examples/device-ready.json", 0),
    "silent-legacy": ("examples/policy-silent.json", "examples/device-legacy.json", 1),
    "startup-pin-ready": ("examples/policy-startup-pin.json", "examples/device-ready.json", 1),
}
FORMATS = {"table": "txt", "json": "json"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_golden(case, fmt, capsys, monkeypatch):
    policy, device, expected_code = CASES[case]
    monkeypatch.chdir(ROOT)
    code = main(["check", "--rules", "silent_enablement", "--policy", policy, "--device", device,
                 "--format", fmt])
    out, err = capsys.readouterr()
    assert err == ""
    assert code == expected_code
    assert str(ROOT) not in out, "absolute path in the output"
    assert "\x1b[" not in out, "colour codes in the output"

    golden = GOLDEN / f"{case}.{FORMATS[fmt]}"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(out, encoding="utf-8", newline="\n")
    assert golden.is_file(), f"{golden} is missing; run UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py"
    expected = golden.read_text(encoding="utf-8")
    assert out == expected, (
        f"output differs from {golden.relative_to(ROOT)}; if the change is intended, "
        "regenerate with UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py"
    )


def test_no_stray_golden_files():
    """Every file in tests/golden/ belongs to a case, so none goes stale unnoticed."""
    expected = {f"{case}.{ext}" for case in CASES for ext in FORMATS.values()}
    present = {p.name for p in GOLDEN.iterdir()} if GOLDEN.is_dir() else set()
    assert present <= expected, f"unexpected golden files: {sorted(present - expected)}"
