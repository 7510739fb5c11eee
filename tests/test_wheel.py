"""The built wheel carries grammar/ and rulesets/ and works outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    (built,) = out.glob("bitlocker_rules-*.whl")
    return built


def test_wheel_contains_grammar_rulesets_marker_and_stylesheet(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "bitlocker_rules/_data/grammar/bitlocker_rules.lark" in names
    assert "bitlocker_rules/_data/rulesets/vocabulary.toml" in names
    assert "bitlocker_rules/_data/rulesets/silent_enablement.rules" in names
    assert "bitlocker_rules/py.typed" in names
    assert "bitlocker_rules/report/html/style.css" in names  # the HTML report's style sheet, read at run time


def check_installed(env_dir: Path, tmp_path: Path, *options: str) -> subprocess.CompletedProcess:
    """The installed ``bitlocker-rules check`` of the example legacy device, outside the checkout."""
    example = ROOT / "examples"
    return subprocess.run(
        [
            str(env_dir / "bin" / "bitlocker-rules"),
            "check",
            "--rules",
            "silent_enablement",
            "--policy",
            str(example / "policy-silent.json"),
            "--device",
            str(example / "device-legacy.json"),
            *options,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
    )


def test_installed_wheel_checks_a_ruleset_outside_the_checkout(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # The runtime dependencies come from the index (or pip's cache); the project from the wheel.
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)
    result = check_installed(env_dir, tmp_path)
    assert result.returncode == 1, result.stderr
    assert "BIOS Mode is Legacy" in result.stdout
    where = subprocess.run(
        [str(python), "-c", "import bitlocker_rules.resources as r; print(r.grammar_path())"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert "_data" in where.stdout and str(ROOT) not in where.stdout
    page = check_installed(env_dir, tmp_path, "--format", "html")
    assert page.returncode == 1, page.stderr
    assert "<style>\n:root {" in page.stdout  # the style sheet is read from the installed package
