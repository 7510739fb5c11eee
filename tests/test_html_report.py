"""The HTML fleet report in a real browser: headless Chromium takes a screenshot of it.

Skipped when no ``chromium`` is on PATH (CI installs Debian's ``chromium`` package in
``.ci/run``; a failed install only skips this test). The page must render offline to a
non-trivial image; the browser runs with networking features off, so a page that needed the
network would render incomplete. ``UPDATE_GOLDEN=1`` also refreshes the screenshot kept in
``docs/img/fleet-report.png`` and then fails, so that someone looks at it before committing it.

The style sheet is a data file of the package, ``report/html/style.css``: every page inlines
it unchanged, and it is read once per process.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from bitlocker_rules.cli import main
from bitlocker_rules.report.html import page as html_page

ROOT = Path(__file__).resolve().parents[1]
STYLESHEET = ROOT / "bitlocker_rules" / "report" / "html" / "style.css"
SCREENSHOT = ROOT / "docs" / "img" / "fleet-report.png"
WIDTH, HEIGHT = 1280, 1600
CHROMIUM = shutil.which("chromium")

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not on PATH")


def screenshot(page: Path, png: Path, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=5000",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={WIDTH},{HEIGHT}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
@needs_chromium
def test_fleet_report_renders_in_headless_chromium(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    page = tmp_path / "fleet.html"
    code = main(
        [
            "check",
            "--rules",
            "silent_enablement",
            "--rules",
            "encryption_readiness",
            "--policy",
            "examples/policy-silent.json",
            "--fleet",
            "examples/fleet.jsonl",
            "--format",
            "html",
            "--output",
            str(page),
        ]
    )
    capsys.readouterr()
    assert code == 2  # the example fleet has a row that cannot be read
    png = tmp_path / "fleet.png"
    done = screenshot(page, png, tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    assert png.is_file(), done.stderr[-2000:]
    data = png.read_bytes()
    assert png_size(data) == (WIDTH, HEIGHT)
    # A blank or half-painted page compresses to a few kilobytes; the report is text and charts.
    assert len(data) > 60_000, f"suspiciously small screenshot: {len(data)} bytes"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        # An update run never passes: it writes the screenshot and says to look at it.
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(data)
        pytest.fail(
            f"UPDATE_GOLDEN=1 rewrote {SCREENSHOT.relative_to(ROOT)}: look at it before committing it, "
            "then run the tests again without UPDATE_GOLDEN",
            pytrace=False,
        )


def test_kept_screenshot_is_small():
    """docs/img/fleet-report.png is the page as last looked at; it stays small enough to ship."""
    assert SCREENSHOT.is_file(), "run UPDATE_GOLDEN=1 python -m pytest tests/test_html_report.py"
    data = SCREENSHOT.read_bytes()
    assert png_size(data) == (WIDTH, HEIGHT)
    assert len(data) < 300_000


def write_page(tmp_path: Path, monkeypatch, capsys, *inputs: str) -> str:
    """The HTML report of silent_enablement for ``inputs`` (example files), as written to a file."""
    monkeypatch.chdir(ROOT)
    page = tmp_path / "report.html"
    main(
        [
            "check",
            "--rules",
            "silent_enablement",
            "--policy",
            "examples/policy-silent.json",
            *inputs,
            "--format",
            "html",
            "--output",
            str(page),
        ]
    )
    capsys.readouterr()
    return page.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "inputs",
    [["--device", "examples/device-legacy.json"], ["--fleet", "examples/fleet.jsonl"]],
    ids=["device", "fleet"],
)
def test_page_inlines_the_stylesheet_file_unchanged(tmp_path, monkeypatch, capsys, inputs):
    css = STYLESHEET.read_text(encoding="utf-8")
    assert css.startswith(":root {") and css.endswith("}\n") and len(css.splitlines()) > 50
    text = write_page(tmp_path, monkeypatch, capsys, *inputs)
    assert text.count("<style>") == 1
    assert "<head>" in text and f"<style>\n{css}</style>\n</head>" in text


def test_stylesheet_is_read_once(tmp_path, monkeypatch, capsys):
    html_page.stylesheet.cache_clear()
    for name in ("device-legacy.json", "device-ready.json"):
        write_page(tmp_path, monkeypatch, capsys, "--device", f"examples/{name}")
    assert html_page.stylesheet.cache_info().misses == 1
    assert html_page.stylesheet.cache_info().hits >= 1
