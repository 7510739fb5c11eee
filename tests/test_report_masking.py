"""Every renderer's output leaves through one door, ``report.masking.masked_report``.

What it returns is a ``MaskedText``: a renderer that returns text it did not pass through the
door (or joined something to it afterwards) returns a plain ``str``, and these tests fail.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import attrs
import pytest

from bitlocker_rules import report as renderers
from bitlocker_rules.engine import Engine
from bitlocker_rules.errors import SECRET_MASK, MaskedText, shortened
from bitlocker_rules.facts import merge_facts
from bitlocker_rules.fleet import FleetRow, evaluate_fleet
from bitlocker_rules.importers import load_devices, load_policies
from bitlocker_rules.outcome import InputRecord, Report, Status
from bitlocker_rules.report.diff import render_diff
from bitlocker_rules.report.history import render_runs, render_trend
from bitlocker_rules.report.html import render_fleet_html, render_html
from bitlocker_rules.report.json_report import render_fleet_json, render_json
from bitlocker_rules.report.junit import FleetCases, JUnitWriter, render_fleet_junit, render_junit
from bitlocker_rules.report.markdown import render_fleet_markdown, render_markdown
from bitlocker_rules.report.sarif import FleetSarif, render_sarif
from bitlocker_rules.report.table import render_fleet_table, render_table

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "123453-234564-345675-456786-567897-678908-789019-890120"
DIGITS = PASSWORD.replace("-", "")


@pytest.fixture(scope="module")
def device_report() -> Report:
    """A failing device report whose failing rules' titles hold a recovery password."""
    engine = Engine.load(["silent_enablement"])
    (policy,) = load_policies(ROOT / "examples" / "policy-startup-pin.json", engine.vocabulary)
    (device,) = load_devices(ROOT / "examples" / "device-legacy.json", engine.vocabulary)
    report = engine.evaluate(merge_facts([policy.facts, device.facts], name=device.name))
    outcomes = tuple(
        attrs.evolve(o, title=f"{o.title} {PASSWORD}") if o.status is Status.FAIL else o for o in report.outcomes
    )
    inputs = (
        InputRecord(policy.name, policy.origin, policy.kind),
        InputRecord(device.name, device.origin, device.kind),
    )
    return attrs.evolve(report, outcomes=outcomes, inputs=inputs)


@pytest.fixture(scope="module")
def fleet() -> tuple:
    """A fleet summary and its device records: one row holds a password in a bad value."""
    engine = Engine.load(["silent_enablement"])
    rows = [
        FleetRow(1, {"deviceName": "D-1", "facts": {"os_version": "1803", "tpm_present": True}}),
        FleetRow(2, {"deviceName": "D-2", "facts": {"os_version": PASSWORD}}),
    ]
    records: list[dict] = []
    summary = evaluate_fleet(rows, engine, None, write=records.append)
    return summary, records


DEVICE_RENDERERS = {
    "render_table": render_table,
    "render_json": render_json,
    "render_markdown": render_markdown,
    "render_sarif": render_sarif,
    "render_junit": render_junit,
    "render_html": render_html,
}
FLEET_RENDERERS = {
    "render_fleet_table": lambda summary, records: render_fleet_table(summary),
    "render_fleet_json": lambda summary, records: render_fleet_json(summary),
    "render_fleet_markdown": lambda summary, records: render_fleet_markdown(summary, devices=records),
    "render_fleet_html": lambda summary, records: render_fleet_html(summary, devices=records),
    "render_fleet_junit": lambda summary, records: render_fleet_junit(summary, FleetCases()),
    "FleetSarif.render": lambda summary, records: FleetSarif(()).render(summary.bad_rows),
}


def _history_records() -> tuple:
    """A diff, runs and a rule's trend whose names hold a recovery password (history's records)."""
    from bitlocker_rules.history import RunInput, RunRow, TrendPoint, diff_runs
    from bitlocker_rules.history.runs import read_jsonl

    def run(status: str) -> str:
        entry = {"rule": "R-1", "status": status, "reasons": [f"key {PASSWORD}"]} if status == "fail" else None
        results = [entry or {"rule": "R-1", "status": status}]
        return json.dumps({"row": 1, "device": f"PC {PASSWORD}", "summary": {}, "results": results}) + "\n"

    diff = diff_runs(read_jsonl(io.StringIO(run("pass")), "old"), read_jsonl(io.StringIO(run("fail")), "new"))
    runs = [
        RunRow(
            1,
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:01Z",
            "1",
            1,
            1,
            0,
            ("r",),
            (RunInput("fleet", PASSWORD, None),),
        )
    ]
    return diff, runs, [TrendPoint(1, PASSWORD, {"pass": 1, "fail": 0, "unknown": 0, "not_applicable": 0})]


HISTORY_RENDERERS = {
    "render_diff": lambda diff, runs, trend: [render_diff(diff, fmt) for fmt in ("text", "json", "markdown", "html")],
    "render_runs": lambda diff, runs, trend: [render_runs(runs, fmt, PASSWORD) for fmt in ("text", "json")],
    "render_trend": lambda diff, runs, trend: [render_trend("R-1", trend, fmt, PASSWORD) for fmt in ("text", "json")],
}


def test_every_renderer_is_held_to_the_door():
    listed = {name for name in renderers.__all__ if name.startswith("render_")} - {"render_device", "render_fleet"}
    elsewhere = {"render_test_run"}  # held to the door in tests/test_rule_tests.py
    assert (
        listed
        == set(DEVICE_RENDERERS) | set(FLEET_RENDERERS) - {"FleetSarif.render"} | set(HISTORY_RENDERERS) | elsewhere
    )


@pytest.mark.parametrize("name", HISTORY_RENDERERS)
def test_a_history_renderer_returns_what_the_door_masked(name):
    for out in HISTORY_RENDERERS[name](*_history_records()):
        assert type(out) is MaskedText, name
        assert DIGITS not in out.replace("\\", "").replace("-", ""), name


@pytest.mark.parametrize("name", DEVICE_RENDERERS)
def test_a_device_renderer_returns_what_the_door_masked(device_report, name):
    out = DEVICE_RENDERERS[name](device_report)
    assert type(out) is MaskedText, name
    shown = out.replace("\\", "")  # Markdown escapes the mask's stars
    assert SECRET_MASK in shown and DIGITS not in shown.replace("-", "")


@pytest.mark.parametrize("name", FLEET_RENDERERS)
def test_a_fleet_renderer_returns_what_the_door_masked(fleet, name):
    summary, records = fleet
    assert summary.bad_rows  # the row with the password is a bad row every format lists
    out = FLEET_RENDERERS[name](summary, records)
    assert type(out) is MaskedText, name
    shown = out.replace("\\", "")  # Markdown escapes the mask's stars
    assert SECRET_MASK in shown and DIGITS not in shown.replace("-", "")


def test_the_junit_writer_writes_each_suite_through_the_door(device_report):
    stream = io.StringIO()
    writes: list[str] = []
    stream.write = lambda text: writes.append(text) or len(text)  # type: ignore[method-assign]
    writer = JUnitWriter(stream)
    writer.add(device_report)
    writer.close()
    suites = writes[1:-1]
    assert suites and all(type(text) is MaskedText for text in suites)
    assert any(SECRET_MASK in text for text in suites)


@pytest.mark.parametrize("cut", [52, 60, 70, 100])
def test_a_value_shortened_for_a_message_is_masked_before_the_cut(cut):
    text = shortened("x" * 50 + PASSWORD + " and more", cut)
    assert len(text) <= cut and not any(group in text for group in PASSWORD.split("-"))
    whole = "x" * 50 + SECRET_MASK + " and more"
    assert text == (whole if len(whole) <= cut else whole[: cut - 3] + "...")
