"""diff: two runs of the shipped fleet with one device changed give exactly that device's
changes, from a store or from JSON Lines, in every format; diff(A, A) is empty and diff(B, A)
mirrors diff(A, B), against an oracle that compares the JSON Lines records as plain dicts."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_report_formats import _object_schemas, load_schema, validate

from bitlocker_rules.cli import main
from bitlocker_rules.history import diff_runs
from bitlocker_rules.history.runs import read_jsonl
from bitlocker_rules.report import diff_to_dict
from bitlocker_rules.report.diff import drift_headline, headline, render_diff_markdown, rule_rows

ROOT = Path(__file__).resolve().parent.parent
FLEET = ROOT / "examples" / "fleet.jsonl"
POLICY = ROOT / "examples" / "policy-silent.json"
CHANGED = "CONTOSO-SF-2443"  # the second row of the shipped fleet: UEFI, here made legacy BIOS
KEY = "123456-234567-345678-456789-567890-678901-789012-890123"


def changed_fleet(folder: Path) -> Path:
    lines = FLEET.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[1])
    assert row["deviceName"] == CHANGED and row["facts"]["firmware_mode"] == "UEFI"
    row["facts"]["firmware_mode"] = "LegacyBIOS"
    lines[1] = json.dumps(row)
    target = folder / "fleet-changed.jsonl"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Run 1: the shipped fleet; run 2: the same with one device changed (store and JSON Lines)."""
    folder = tmp_path_factory.mktemp("diff")
    store = folder / "runs.duckdb"
    paths = {"store": store, "old": folder / "old.jsonl", "new": folder / "new.jsonl"}
    for fleet, lines in ((FLEET, paths["old"]), (changed_fleet(folder), paths["new"])):
        argv = ["check", "--fleet", str(fleet), "--policy", str(POLICY), "--store", str(store), "--quiet"]
        assert main([*argv, "--jsonl", str(lines)]) == 2
    return paths


def diff_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["diff", *argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_one_device_changed_gives_exactly_its_changes(runs, capsys):
    store = runs["store"]
    for argv in (
        [f"{store}#1", f"{store}#2"],
        [f"{store}#previous", f"{store}#latest"],
        ["previous", "latest", "--store", str(store)],
        [str(runs["old"]), str(runs["new"])],
    ):
        code, data = diff_json(capsys, *argv)
        assert code == 0
        assert validate(data, load_schema("diff-1.json")) == []
        assert [d["device"] for d in data["devices"]] == [f"device '{CHANGED}'"]
        changes = data["devices"][0]["changes"]
        assert [(c["rule"], c["before"], c["after"], c["kinds"]) for c in changes] == [
            ("ER-08", "pass", "fail", ["newly_failing"]),
            ("SE-05", "pass", "fail", ["newly_failing"]),
        ]
        assert data["appeared"] == data["left"] == []
        assert data["totals"]["newly_failing"] == 2 and data["totals"]["fixed"] == 0
        moved = {r["rule"]: r for r in data["rules"] if r["newly_failing"] or r["fixed"]}
        assert set(moved) == {"ER-08", "SE-05"}
        assert moved["SE-05"]["after"]["fail"] == moved["SE-05"]["before"]["fail"] + 1
        assert [(c["text"], c["gained"], c["lost"]) for c in data["causes"]] == [
            ("BIOS Mode is Legacy; the rule needs UEFI", 2, 0)
        ]


def test_fail_on_new_failures_gates_only_new_failures(runs, capsys):
    old, new = str(runs["old"]), str(runs["new"])
    assert main(["diff", old, new, "--fail-on", "new-failures"]) == 1
    assert main(["diff", new, old, "--fail-on", "new-failures"]) == 0  # fixed, nothing new
    assert main(["diff", old, old, "--fail-on", "new-failures"]) == 0
    assert main(["diff", old, new]) == 0  # without --fail-on the exit code says nothing changed or not
    capsys.readouterr()


def test_the_reverse_diff_says_fixed(runs, capsys):
    _, data = diff_json(capsys, str(runs["new"]), str(runs["old"]))
    changes = data["devices"][0]["changes"]
    assert [(c["rule"], c["before"], c["after"], c["kinds"]) for c in changes] == [
        ("ER-08", "fail", "pass", ["fixed"]),
        ("SE-05", "fail", "pass", ["fixed"]),
    ]


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_every_format_names_the_device_and_its_changes(runs, capsys, tmp_path, fmt):
    target = tmp_path / f"diff.{fmt}"
    assert main(["diff", str(runs["old"]), str(runs["new"]), "--format", fmt, "--output", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert CHANGED in text and "SE-05" in text and "ER-08" in text and "newly failing" in text.lower()
    assert "BIOS Mode is Legacy; the rule needs UEFI" in text
    if fmt == "html":
        assert text.startswith("<!DOCTYPE html>") and "<script" not in text


def test_the_diff_schema_closes_every_object():
    for node in _object_schemas(load_schema("diff-1.json")):
        assert node.get("additionalProperties") is False, node
        # Only a diff where a run has waived results (check --waivers) has the waivers' counts.
        assert set(node["properties"]) - set(node["required"]) <= {"waived", "no_longer_waived"}, node
        assert set(node["required"]) <= set(node["properties"]), node


def test_bad_inputs_exit_2(runs, capsys, tmp_path):
    store = runs["store"]
    for argv, message in (
        ([str(store), str(runs["new"])], "a results store holds many runs: say which"),
        ([f"{store}#7", str(runs["new"])], "no run '7' in the store (it has runs 1 to 2)"),
        ([str(tmp_path / "missing.jsonl"), str(runs["new"])], "cannot read the run"),
        (["1", "next", "--store", str(store)], "no run 'next'"),
    ):
        assert main(["diff", *argv]) == 2
        assert message in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"row": 1}\n')
    assert main(["diff", str(bad), str(runs["new"])]) == 2
    assert "not a device record of check --fleet --jsonl" in capsys.readouterr().err


def test_output_never_overwrites_a_run(runs, capsys):
    copy = runs["old"].read_text(encoding="utf-8")
    assert main(["diff", str(runs["old"]), str(runs["new"]), "--output", str(runs["old"])]) == 2
    assert runs["old"].read_text(encoding="utf-8") == copy
    capsys.readouterr()


def test_recovery_passwords_are_masked_in_every_format(capsys, tmp_path):
    old, new = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    old.write_text(json.dumps(record(f"PC {KEY}", {"R-1": ("pass", ())})) + "\n")
    new.write_text(json.dumps(record(f"PC {KEY}", {"R-1": ("fail", (f"Key is {KEY}",))})) + "\n")
    for fmt in ("text", "json", "markdown", "html"):
        assert main(["diff", str(old), str(new), "--format", fmt]) == 0
        out = capsys.readouterr().out
        assert "R-1" in out and KEY not in out and "123456" not in out


# Properties: diff(A, A) is empty; diff(B, A) mirrors diff(A, B); both agree with an oracle that
# compares the JSON Lines records as plain dicts.

STATUS = st.sampled_from(["pass", "fail", "unknown", "not_applicable"])
RULES = ["R-1", "R-2", "R-3"]
REASONS = ["a is off", "b is missing", "c is old"]


def record(device: str, results: dict[str, tuple[str, tuple[str, ...]]], row: int = 1) -> dict:
    counts = Counter(status for status, _ in results.values())
    entries = []
    for rule, (status, reasons) in results.items():
        entry: dict = {"rule": rule, "status": status}
        if status in ("fail", "unknown"):
            entry["reasons"] = list(reasons)
        entries.append(entry)
    summary = {s: counts.get(s, 0) for s in ("pass", "fail", "unknown", "not_applicable")}
    return {"row": row, "device": device, "summary": summary, "results": entries}


@st.composite
def fleets(draw) -> list[dict]:
    names = draw(st.lists(st.sampled_from([f"device 'PC-{i}'" for i in range(6)]), unique=True, max_size=6))
    rules = draw(st.lists(st.sampled_from(RULES), unique=True, min_size=1))
    return [
        record(
            name,
            {
                rule: (draw(STATUS), tuple(draw(st.lists(st.sampled_from(REASONS), unique=True, max_size=2))))
                for rule in rules
            },
            row,
        )
        for row, name in enumerate(names, 1)
    ]


def as_run(records: list[dict], label: str):
    return read_jsonl(io.StringIO("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)), label)


def oracle(old: list[dict], new: list[dict]) -> dict:
    """What changed, from the records alone: (device, rule, kind) triples, devices that came and went."""
    before = {r["device"]: {e["rule"]: e for e in r["results"]} for r in old}
    after = {r["device"]: {e["rule"]: e for e in r["results"]} for r in new}
    triples, gained, lost = set(), Counter(), Counter()
    for device in before.keys() & after.keys():
        for rule in before[device].keys() | after[device].keys():
            b = before[device].get(rule, {}).get("status")
            a = after[device].get(rule, {}).get("status")
            for kind, holds in (
                ("newly_failing", a == "fail" and b != "fail"),
                ("fixed", b == "fail" and a != "fail"),
                ("newly_unknown", a == "unknown" and b != "unknown"),
                ("no_longer_unknown", b == "unknown" and a != "unknown"),
            ):
                if holds:
                    triples.add((device, rule, kind))
            rb = set(before[device].get(rule, {}).get("reasons", ()))
            ra = set(after[device].get(rule, {}).get("reasons", ()))
            gained.update(ra - rb)
            lost.update(rb - ra)
    return {
        "triples": triples,
        "appeared": set(after) - set(before),
        "left": set(before) - set(after),
        "gained": dict(gained),
        "lost": dict(lost),
    }


def observed(diff) -> dict:
    data = diff_to_dict(diff)
    return {
        "triples": {(d["device"], c["rule"], k) for d in data["devices"] for c in d["changes"] for k in c["kinds"]},
        "appeared": {p["device"] for p in data["appeared"]},
        "left": {p["device"] for p in data["left"]},
        "gained": {c["text"]: c["gained"] for c in data["causes"] if c["gained"]},
        "lost": {c["text"]: c["lost"] for c in data["causes"] if c["lost"]},
    }


MIRROR = {
    "newly_failing": "fixed",
    "fixed": "newly_failing",
    "newly_unknown": "no_longer_unknown",
    "no_longer_unknown": "newly_unknown",
}


@settings(deadline=None)
@given(fleets())
def test_a_run_against_itself_changes_nothing(a):
    diff = diff_runs(as_run(a, "A"), as_run(a, "A again"))
    assert diff.empty and not diff.new_failures
    assert not diff.causes
    assert all(diff.totals[k] == 0 for k in ("newly_failing", "fixed", "newly_unknown", "no_longer_unknown"))


@settings(deadline=None)
@given(fleets(), fleets())
def test_a_diff_agrees_with_the_oracle_and_mirrors_its_reverse(a, b):
    forward = diff_runs(as_run(a, "A"), as_run(b, "B"))
    backward = diff_runs(as_run(b, "B"), as_run(a, "A"))
    seen, expected = observed(forward), oracle(a, b)
    assert seen == expected
    back = observed(backward)
    assert back["triples"] == {(d, r, MIRROR[k]) for d, r, k in seen["triples"]}
    assert (back["appeared"], back["left"]) == (seen["left"], seen["appeared"])
    assert (back["gained"], back["lost"]) == (seen["lost"], seen["gained"])
    assert forward.totals["still_failing"] == backward.totals["still_failing"]
    for rule_forward, rule_backward in zip(
        sorted(forward.rules, key=lambda r: r.rule), sorted(backward.rules, key=lambda r: r.rule)
    ):
        assert (rule_forward.before, rule_forward.after) == (rule_backward.after, rule_backward.before)
        assert rule_forward.moves["newly_failing"] == rule_backward.moves["fixed"]
    assert validate(diff_to_dict(forward), load_schema("diff-1.json")) == []


def test_records_read_are_masked_however_they_were_written():
    # A JSON Lines file written by another tool may hold a password: names and reasons are masked on reading.
    run = as_run([record(f"PC {KEY}", {"R-1": ("fail", (f"Key is {KEY}",))})], "A")
    assert KEY not in repr(list(run.devices)) and KEY not in repr(run.reasons)
    assert [key.device for key in run.devices] == ["PC ******-******-******-******-******-******-******-******"]


def test_devices_of_one_name_are_matched_in_order():
    same = "device 'PC-1'"
    old = [record(same, {"R-1": ("pass", ())}, 1), record(same, {"R-1": ("pass", ())}, 2)]
    new = [record(same, {"R-1": ("pass", ())}, 1), record(same, {"R-1": ("fail", ("a is off",))}, 2)]
    diff = diff_runs(as_run(old, "A"), as_run(new, "B"))
    assert [d.device for d in diff.devices] == ["device 'PC-1' (2nd of that name)"]
    assert not diff.appeared and not diff.left


def test_names_are_escaped_in_markdown_and_html(capsys, tmp_path):
    name = "device '<script>x</script> | *PC*'"
    old, new = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    old.write_text(json.dumps(record(name, {"R-1": ("pass", ())})) + "\n")
    new.write_text(json.dumps(record(name, {"R-1": ("fail", ("a <b> | c",))})) + "\n")
    assert main(["diff", str(old), str(new), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "<script>" not in markdown and "\\<script\\>" in markdown and "\\| \\*PC\\*" in markdown
    assert "a \\<b\\> \\| c" in markdown
    assert main(["diff", str(old), str(new), "--format", "html"]) == 0
    html = capsys.readouterr().out
    assert "<script>" not in html and "&lt;script&gt;" in html


# --- what the text and Markdown diffs say, against a hand-counted pair of runs ---------------

HAND_OLD = [
    record(
        "device 'PC-1'",
        {
            "R-1": ("pass", ()),
            "R-2": ("fail", ("b is off",)),
            "R-3": ("fail", ("c is off",)),
            "R-5": ("fail", ("e is off",)),
        },
        1,
    ),
    record("device 'PC-2'", {"R-1": ("fail", ("a is off",))}, 2),
    record("device 'PC-3'", {"R-1": ("fail", ("a is off",)), "R-4": ("fail", ("d is off",))}, 3),
    record("device 'PC-5'", {"R-1": ("pass", ())}, 4),
]
HAND_NEW = [
    record(
        "device 'PC-1'",
        {
            "R-1": ("fail", ("a is off",)),
            "R-2": ("fail", ("b is off",)),
            "R-3": ("fail", ("c is off",)),
            "R-5": ("fail", ("e is off",)),
        },
        1,
    ),
    record("device 'PC-2'", {"R-1": ("pass", ())}, 2),
    record("device 'PC-4'", {"R-1": ("pass", ())}, 3),
    record("device 'PC-5'", {"R-1": ("fail", ("a is off",))}, 4),
]


def hand_diff():
    return diff_runs(as_run(HAND_OLD, "A"), as_run(HAND_NEW, "B"))


def test_the_headline_counts_each_kind_of_change_by_hand():
    """By hand: R-1 newly fails on PC-1 and PC-5 and is fixed on PC-2; PC-1 still fails R-2, R-3 and R-5;
    PC-4 appeared and PC-3 left."""
    assert headline(hand_diff()) == (
        "2 newly failing, 1 fixed, 0 newly unknown, 0 no longer unknown (device-rule results); "
        "3 still failing; 1 device appeared, 1 left."
    )


def test_each_device_row_says_its_move_in_time_order():
    """A device's change reads old → new: PC-1 went pass → fail (newly failing), PC-2 fail → pass
    (fixed); the other way round would call a fix a new failure."""
    rows = {
        cells[0]: cells[1:]
        for line in render_diff_markdown(hand_diff()).splitlines()
        if (cells := [c.strip() for c in line.strip("|").split("|")]) and cells[0].startswith("device")
    }
    assert rows["device 'PC-1'"] == ["R-1", "pass → fail", "newly failing"]
    assert rows["device 'PC-2'"] == ["R-1", "fail → pass", "fixed"]


def test_the_moved_rules_table_by_hand():
    """R-1: failing on PC-2, PC-3 before and PC-1, PC-5 after; 2 newly failing, 1 fixed. R-4 moved on
    no device but fails on one fewer (PC-3 left): it is listed too, as a rule whose failures changed."""
    rows = {row[0]: row[1:] for row in rule_rows(hand_diff())}
    assert rows["R-1"] == [2, 2, 2, 1, 0, 0, 0]
    assert rows["R-4"] == [1, 0, 0, 0, 0, 0, 0]
    assert "R-2" not in rows and "R-3" not in rows  # still failing on the same device: not moved


def test_drift_headline_counts_assignments_added_and_removed():
    """A changed policy with one target added and two removed says so, in that order."""
    policy = SimpleNamespace(
        change="changed", settings=[object()], assigned=[object()], unassigned=[object(), object()]
    )
    drift = SimpleNamespace(empty=False, policies=[policy])
    assert drift_headline(drift) == (
        "Policies: 1 changed (1 setting; assignments: 1 added, 2 removed), 0 added, 0 removed."
    )


def test_no_device_appeared_is_said_in_the_plural():
    """With no device come or gone the headline says "0 devices appeared" (English takes the
    plural for zero), as for two or more."""
    diff = diff_runs(as_run(HAND_OLD[:2], "A"), as_run(HAND_NEW[:2], "B"))
    assert headline(diff).endswith("; 0 devices appeared, 0 left.")
