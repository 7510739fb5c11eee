"""The results store: check --fleet --store appends runs that history lists and that match the
JSON lines of the same run; its schema is versioned, and a store of another version is refused."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import duckdb
import pytest

import bitlocker_rules.history.store as store_module
from bitlocker_rules.cli import main
from bitlocker_rules.history import SCHEMA_VERSION, Store, StoreError, reason_id

ROOT = Path(__file__).resolve().parent.parent
FLEET = ROOT / "examples" / "fleet.jsonl"
POLICY = ROOT / "examples" / "policy-silent.json"


def check(store: Path, fleet: Path = FLEET, *extra: str) -> int:
    return main(["check", "--fleet", str(fleet), "--policy", str(POLICY), "--store", str(store), "--quiet", *extra])


def table(store: Path, sql: str) -> list[tuple]:
    with Store(store) as opened:
        return opened.query(sql)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    """A store with two runs of the shipped fleet (one process, then two), and the second's JSON lines."""
    folder = tmp_path_factory.mktemp("history")
    store, lines = folder / "runs.duckdb", folder / "run.jsonl"
    assert check(store) == 2  # the shipped fleet has a row that cannot be read
    assert check(store, FLEET, "--jobs", "2", "--jsonl", str(lines)) == 2
    return store, lines


def test_the_store_holds_each_run_as_its_json_lines_say(two_runs):
    store, lines = two_runs
    records = [json.loads(line) for line in lines.read_text(encoding="utf-8").splitlines()]
    for run in (1, 2):  # one process and two give the same rows
        stored = table(store, f"SELECT device, rule, status FROM results WHERE run_id = {run} ORDER BY row, rule")
        expected = sorted((r["device"], e["rule"], e["status"]) for r in records for e in r["results"])
        assert sorted(stored) == expected
        reasons = table(store, f"SELECT device, rule, reason_id, text FROM result_reasons WHERE run_id = {run}")
        expected_reasons = sorted(
            (r["device"], e["rule"], reason_id(text), text)
            for r in records
            for e in r["results"]
            for text in e.get("reasons", ())
        )
        assert sorted(reasons) == expected_reasons


def test_a_run_records_its_inputs_rulesets_and_counts(two_runs):
    store, lines = two_runs
    inputs = table(store, "SELECT role, name, sha256 FROM run_inputs WHERE run_id = 1 ORDER BY role")
    assert inputs == [
        ("fleet", str(FLEET), hashlib.sha256(FLEET.read_bytes()).hexdigest()),
        ("policy", str(POLICY), hashlib.sha256(POLICY.read_bytes()).hexdigest()),
    ]
    rulesets = table(store, "SELECT ruleset, path, sha256 FROM run_rulesets WHERE run_id = 1")
    assert len(rulesets) >= 5
    assert all(sha == hashlib.sha256(Path(path).read_bytes()).hexdigest() for _, path, sha in rulesets)
    runs = table(store, "SELECT run_id, devices, failed_devices, bad_rows FROM runs ORDER BY run_id")
    records = [json.loads(line) for line in lines.read_text(encoding="utf-8").splitlines()]
    failed = sum(1 for r in records if r["summary"]["fail"])
    assert runs == [(1, len(records), failed, 1), (2, len(records), failed, 1)]
    counts = {
        rule: (p, f, u, n)
        for rule, p, f, u, n in table(
            store, "SELECT rule, pass, fail, unknown, not_applicable FROM rule_counts WHERE run_id = 2"
        )
    }
    se05 = [e["status"] for r in records for e in r["results"] if e["rule"] == "SE-05"]
    assert counts["SE-05"] == tuple(se05.count(s) for s in ("pass", "fail", "unknown", "not_applicable"))


def test_patterns_and_entries_are_kept_once_per_store(two_runs):
    store, _ = two_runs
    # The second run of the same fleet adds no pattern and no entry: its devices name the first run's.
    per_run = table(store, "SELECT run_id, count(DISTINCT pattern_id) FROM devices GROUP BY run_id ORDER BY run_id")
    (patterns,) = table(store, "SELECT count(*) FROM patterns")[0]
    assert per_run[0][1] == per_run[1][1] == patterns
    (names, devices) = table(
        store, "SELECT (SELECT count(*) FROM device_names), count(*) FROM devices WHERE run_id = 1"
    )[0]
    assert names == devices  # each name once, however many runs name it
    assert (
        table(store, "SELECT count(*), count(DISTINCT digest), count(DISTINCT (rule, status)) FROM entries")[0][:2]
        == (
            table(store, "SELECT count(DISTINCT entry_id) FROM (SELECT unnest(entries) AS entry_id FROM patterns)")[0][
                0
            ],
        )
        * 2
    )


def test_history_lists_runs_as_text_and_json(two_runs, capsys):
    store, _ = two_runs
    assert main(["history", str(store)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^1\s+\d{4}-\d\d-\d\dT", text, re.M) and re.search(r"^2\s+", text, re.M)
    assert main(["history", str(store), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "bitlocker-rules/history/1"
    assert [r["run"] for r in data["runs"]] == [1, 2]
    assert {i["role"] for i in data["runs"][0]["inputs"]} == {"policy", "fleet"}


def test_history_of_a_rule_gives_its_counts_per_run(two_runs, capsys):
    store, _ = two_runs
    assert main(["history", str(store), "--rule", "se-05", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = table(
        store, "SELECT pass, fail, unknown, not_applicable FROM rule_counts WHERE rule = 'SE-05' ORDER BY run_id"
    )
    assert [(r["pass"], r["fail"], r["unknown"], r["not_applicable"]) for r in data["runs"]] == expected
    assert data["rule"] == "SE-05"
    assert main(["history", str(store), "--rule", "SE-5"]) == 2
    assert "no run in the store evaluated a rule 'SE-5'" in capsys.readouterr().err


def test_a_run_without_store_pays_nothing(tmp_path, monkeypatch):
    # Without --store the history package is not even imported.
    import sys

    for name in [m for m in sys.modules if m.startswith("bitlocker_rules.history")]:
        monkeypatch.delitem(sys.modules, name)
    main(["check", "--fleet", str(FLEET), "--policy", str(POLICY), "--quiet"])
    assert not any(m.startswith("bitlocker_rules.history") for m in sys.modules)


def _with_version(path: Path, version: int) -> None:
    with duckdb.connect(str(path)) as db:
        db.execute("UPDATE store_schema SET version = ?", [version])


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (0, f"schema version 0 .* which this version \\(schema {SCHEMA_VERSION}\\) cannot migrate"),
        (99, "schema version 99 .* will not guess"),
    ],
)
def test_a_store_of_another_schema_is_refused(tmp_path, capsys, version, message):
    store = tmp_path / "old.duckdb"
    assert check(store) == 2
    capsys.readouterr()
    _with_version(store, version)
    for argv in (["history", str(store)], ["diff", f"{store}#1", f"{store}#1"]):
        assert main(argv) == 2
        assert re.search(message, capsys.readouterr().err)
    assert check(store) == 2
    assert re.search(message, capsys.readouterr().err)
    (runs,) = table_raw(store, "SELECT count(*) FROM runs")[0]
    assert runs == 1  # nothing was appended


def table_raw(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as db:
        return db.execute(sql).fetchall()


def test_an_older_store_is_migrated_when_a_migration_is_known(tmp_path, monkeypatch):
    store = tmp_path / "v1.duckdb"
    assert check(store) == 2
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(store_module, "MIGRATIONS", {SCHEMA_VERSION: ("ALTER TABLE runs ADD COLUMN note VARCHAR",)})
    with pytest.raises(StoreError, match=f"migrated to version {SCHEMA_VERSION + 1} when a run is next appended"):
        Store(store)
    with Store(store, read_only=False) as opened:
        assert opened.query("SELECT version FROM store_schema") == [(SCHEMA_VERSION + 1,)]
        assert opened.query("SELECT count(note) FROM runs") == [(0,)]


def test_files_that_are_not_stores_are_refused(tmp_path, capsys):
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as db:
        db.execute("CREATE TABLE t (x INTEGER)")
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    for path, message in ((other, "not a bitlocker-rules results store"), (text, "cannot open the results store")):
        assert check(path) == 2
        assert message in capsys.readouterr().err
    assert main(["history", str(tmp_path / "missing.duckdb")]) == 2
    assert "no results store here" in capsys.readouterr().err
    assert text.read_text() == "not a database\n"


def test_store_goes_with_fleet(capsys, tmp_path):
    assert main(["check", "--policy", str(POLICY), "--device", str(POLICY), "--store", str(tmp_path / "s")]) == 2
    assert "--store goes with --fleet" in capsys.readouterr().err


def test_a_device_name_holding_a_recovery_password_is_stored_masked(tmp_path):
    key = "123456-234567-345678-456789-567890-678901-789012-890123"
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_text(json.dumps({"deviceName": f"PC {key}", "facts": {"os_version": "1809"}}) + "\n")
    store = tmp_path / "s.duckdb"
    check(store, fleet)
    names = table(store, "SELECT device FROM device_names")
    assert names and key not in repr(names) and "PC " in names[0][0]
    assert key not in repr(table(store, "SELECT text FROM reasons"))


# The queries docs/history.md offers run on a real store, as written.


def doc_queries() -> list[str]:
    text = (ROOT / "docs" / "history.md").read_text(encoding="utf-8")
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def test_the_documented_queries_run(two_runs):
    store, _ = two_runs
    queries = doc_queries()
    assert len(queries) >= 3
    for sql in queries:
        rows = table(store, sql)
        assert rows, sql


def test_the_schema_version_is_documented():
    text = (ROOT / "docs" / "history.md").read_text(encoding="utf-8")
    assert f"schema version {SCHEMA_VERSION}" in text
    for name in (
        "store_schema",
        "runs",
        "run_inputs",
        "run_rulesets",
        "run_rules",
        "patterns",
        "entries",
        "entry_reasons",
        "reasons",
        "devices",
        "device_names",
        "rule_counts",
        "results",
        "result_reasons",
    ):
        assert f"`{name}`" in text, name


def test_the_html_fleet_report_charts_the_runs_of_its_store(tmp_path):
    """Given a store, the HTML fleet page charts the share of devices failing in each run (a
    dot per run, the newest last); a store of one run has no trend yet."""
    store, page = tmp_path / "runs.duckdb", tmp_path / "fleet.html"
    check(store, FLEET, "--format", "html", "--output", str(page))
    assert "Over time" not in page.read_text(encoding="utf-8")
    half = tmp_path / "half.jsonl"  # a second run of every other device
    half.write_text("".join(FLEET.read_text(encoding="utf-8").splitlines(keepends=True)[::2]), encoding="utf-8")
    check(store, half)
    check(store, FLEET, "--format", "html", "--output", str(page))
    html = page.read_text(encoding="utf-8")
    chart = html[html.index("Over time") :]
    chart = chart[: chart.index("</svg>")]
    runs = table(store, "SELECT run_id, devices, failed_devices FROM runs ORDER BY run_id")
    dots = re.findall(r"<title>run (\d+), .+?: (\d+) of (\d+) devices failing", chart)
    assert [(int(r), int(d), int(f)) for r, f, d in dots] == [(r, d, f) for r, d, f in runs]
    assert len(runs) == 3


def test_the_trend_chart_places_each_run_by_its_share_of_failing_devices():
    from bitlocker_rules.history import RunRow
    from bitlocker_rules.report.html.charts import trend_chart

    runs = [
        RunRow(i + 1, f"2026-12-0{i + 1}", "", "1", 200, failed, 0, (), ()) for i, failed in enumerate((0, 50, 200))
    ]
    ys = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', trend_chart(runs))]
    top, bottom = ys[2], ys[0]  # every device failing is the top line, none the bottom
    assert bottom > ys[1] > top and ys[1] == pytest.approx(bottom - (bottom - top) / 4)
