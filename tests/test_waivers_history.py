"""Waivers in the results store and in ``diff``: which waiver applied is recorded, and a failure
that becomes waived is "waived", not "fixed"."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from test_report_formats import load_schema, validate
from test_waivers_fleet import POLICY, waiver, write_inputs

from bitlocker_rules.cli import main
from bitlocker_rules.history.store import SCHEMA_VERSION

DAY = "2026-12-06"


def check(paths: dict[str, str], store: Path, *extra: str) -> int:
    argv = ["check", "--policy", POLICY, "--fleet", paths["fleet"], "--assignments", paths["assignments"]]
    return main([*argv, "--store", str(store), "--quiet", *extra])


def waived_run(paths: dict[str, str], store: Path, day: str = DAY) -> int:
    return check(paths, store, "--waivers", paths["waivers"], "--today", day)


def rows(store: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(store), read_only=True) as db:
        return db.execute(sql).fetchall()


def diff_json(capsys, store: Path, old: int, new: int) -> dict:
    assert main(["diff", f"{store}#{old}", f"{store}#{new}", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_store_records_which_waiver_applied_and_the_waivers_file(tmp_path):
    paths = write_inputs(tmp_path, 10, [waiver("W-1", ["SE-05"], {"groups": ["Legacy"]})])
    store = tmp_path / "runs.duckdb"
    assert waived_run(paths, store) == 1
    waived = rows(store, "SELECT device, rule, waiver FROM results WHERE status = 'waived' ORDER BY device")
    assert waived == [(f"device 'PC-00{i}'", "SE-05", "W-1") for i in (0, 3, 6)]
    assert rows(store, "SELECT count(*) FROM results WHERE status <> 'waived' AND waiver IS NOT NULL") == [(0,)]
    [(name, digest)] = rows(store, "SELECT name, sha256 FROM run_inputs WHERE role = 'waivers'")
    assert name == paths["waivers"] and len(digest) == 64
    assert rows(store, "SELECT waived, fail FROM rule_counts WHERE rule = 'SE-05'") == [(3, 1)]


def test_diff_tells_waived_from_fixed(tmp_path, capsys):
    paths = write_inputs(tmp_path, 10, [waiver("W-1", ["SE-05"], {"groups": ["Legacy"]})])
    store = tmp_path / "runs.duckdb"
    check(paths, store)
    waived_run(paths, store)
    found = diff_json(capsys, store, 1, 2)
    assert validate(found, load_schema("diff-1.json")) == []
    assert found["totals"]["waived"] == 3 and found["totals"]["fixed"] == 0
    changes = [
        (d["device"], c["rule"], c["before"], c["after"], c["kinds"]) for d in found["devices"] for c in d["changes"]
    ]
    assert changes == [(f"device 'PC-00{i}'", "SE-05", "fail", "waived", ["waived"]) for i in (0, 3, 6)]
    rule = next(r for r in found["rules"] if r["rule"] == "SE-05")
    assert (rule["before"]["fail"], rule["after"]["fail"], rule["after"]["waived"], rule["waived"]) == (4, 1, 3, 3)
    assert main(["diff", f"{store}#1", f"{store}#2"]) == 0
    assert "0 fixed" in capsys.readouterr().out


def test_an_expired_waiver_is_no_longer_waived_and_newly_failing(tmp_path, capsys):
    paths = write_inputs(tmp_path, 10, [waiver("W-1", ["SE-05"], "all")])  # expires 2027-01-31
    store = tmp_path / "runs.duckdb"
    waived_run(paths, store)
    waived_run(paths, store, day="2027-02-01")
    found = diff_json(capsys, store, 1, 2)
    assert found["totals"]["no_longer_waived"] == 4 and found["totals"]["newly_failing"] == 4
    assert main(["diff", f"{store}#1", f"{store}#2", "--fail-on", "new-failures"]) == 1


def test_a_diff_of_runs_without_waivers_has_no_waiver_fields(tmp_path, capsys):
    paths = write_inputs(tmp_path, 10, [waiver("W-1", ["SE-05"], "all")])
    store = tmp_path / "runs.duckdb"
    check(paths, store)
    check(paths, store)
    found = diff_json(capsys, store, 1, 2)
    assert "waived" not in found["totals"] and all("waived" not in r["after"] for r in found["rules"])


def _as_version_1(store: Path) -> None:
    """The store as schema version 1 wrote it (no waiver column, no waived count)."""
    with duckdb.connect(str(store)) as db:
        db.execute("DROP VIEW results")
        db.execute("ALTER TABLE entries DROP COLUMN waiver")
        db.execute("ALTER TABLE rule_counts DROP COLUMN waived")
        db.execute(
            "CREATE VIEW results AS SELECT d.run_id, d.row, n.device, e.rule, e.status FROM devices d "
            "JOIN device_names n USING (device_id) "
            "JOIN (SELECT pattern_id, unnest(entries) AS entry_id FROM patterns) p USING (pattern_id) "
            "JOIN entries e USING (entry_id)"
        )
        db.execute("UPDATE store_schema SET version = 1")


def test_a_version_1_store_is_migrated_when_a_run_is_appended(tmp_path, capsys):
    assert SCHEMA_VERSION == 2
    paths = write_inputs(tmp_path, 10, [waiver("W-1", ["SE-05"], "all")])
    store = tmp_path / "runs.duckdb"
    check(paths, store)
    _as_version_1(store)
    assert main(["history", str(store)]) == 2
    assert "migrated to version 2 when a run is next appended" in capsys.readouterr().err
    waived_run(paths, store)
    assert rows(store, "SELECT version FROM store_schema") == [(2,)]
    assert rows(store, "SELECT run_id, count(*) FROM results WHERE waiver IS NOT NULL GROUP BY run_id") == [(2, 4)]
    assert rows(store, "SELECT run_id, waived FROM rule_counts WHERE rule = 'SE-05' ORDER BY run_id") == [
        (1, 0),
        (2, 4),
    ]
    found = diff_json(capsys, store, 1, 2)
    assert found["totals"]["waived"] == 4 and found["totals"]["fixed"] == 0


def test_a_recovery_password_in_a_waiver_id_is_masked_in_the_lines_and_the_store(tmp_path):
    key = "123456-234567-345678-456789-567890-678901-789012-890123"
    paths = write_inputs(tmp_path, 10, [waiver(f"W {key}", ["SE-05"], "all")])
    store, lines = tmp_path / "runs.duckdb", tmp_path / "lines.jsonl"
    assert waived_run(paths, store) == 1
    check(paths, tmp_path / "other.duckdb", "--waivers", paths["waivers"], "--today", DAY, "--jsonl", str(lines))
    written = lines.read_text(encoding="utf-8")
    assert '"status": "waived"' in written and key not in written
    stored = rows(store, "SELECT DISTINCT waiver FROM results WHERE waiver IS NOT NULL")
    assert len(stored) == 1 and key not in repr(stored)
