"""What README.md shows is true: its Python example runs, its commands exit as it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(tag: str) -> list[str]:
    return re.findall(rf"```{tag}\n(.*?)```", README, re.S)


def run_cli(command: str) -> subprocess.CompletedProcess:
    args = command.split()[1:]  # drop "bitlocker-rules"
    return subprocess.run([sys.executable, "-m", "bitlocker_rules", *args], cwd=ROOT, capture_output=True, text=True)


def test_the_two_set_up_commands_are_there():
    sh = blocks("sh")
    assert any("pip install ." in b and "bitlocker-rules check" in b for b in sh)
    assert any("pip install -e '.[test]'" in b and "python -m pytest" in b for b in sh)


def test_main_job_command_fails_the_legacy_device_with_exit_1():
    (main_job,) = [b for b in blocks("sh") if "bitlocker-rules check" in b]
    command = main_job.strip().split("&& ")[-1]
    result = run_cli(command)
    assert result.returncode == 1, result.stderr
    assert "BIOS Mode is Legacy" in result.stdout


def test_shown_output_lines_come_from_the_tool():
    shown = blocks("")[0]
    command = shown.splitlines()[0].removeprefix("$ ")
    result = run_cli(command)
    for line in shown.splitlines()[1:]:
        if line.strip() and line.strip() != "...":
            assert line.rstrip() in result.stdout, line


def test_python_example_runs():
    for code in blocks("python"):
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
