"""The results store: one DuckDB file. The only module of the project that writes SQL.

The schema (``SCHEMA_VERSION``; ``docs/history.md`` documents it table by table) keeps each run
as its devices, each naming a *pattern*: the list of its *entries*, one per rule (a verdict and
the ids of its reasons). Entries and patterns are kept once for the whole store: a rule's
verdict and reasons repeat over devices and runs, and so do whole devices' results. The views
``results`` and ``result_reasons`` give the plain shape, one row per run, device and rule.
Device names too are kept once (``device_names``); a run's ``devices`` name them by id.

A store written with another schema version is migrated when a migration is known, otherwise
refused (``StoreError``, exit 2); it is never read as if it were this one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BitLockerRulesError, Diagnostic, suggest
from .runs import RECORDED_STATUSES, STATUSES, Pattern, RuleResult, RunInfo, RunInput, RunResults, RunRow, TrendPoint

if TYPE_CHECKING:
    from .recorder import RunRecorder

SCHEMA_VERSION = 2
MEMORY_LIMIT = "64MB"  # DuckDB's buffers, whatever the size of a run

_RESULTS_VIEW = (
    "CREATE VIEW results AS SELECT d.run_id, d.row, n.device, e.rule, e.status, e.waiver FROM devices d "
    "JOIN device_names n USING (device_id) "
    "JOIN (SELECT pattern_id, unnest(entries) AS entry_id FROM patterns) p USING (pattern_id) "
    "JOIN entries e USING (entry_id)"
)

_TABLES = (
    "CREATE TABLE store_schema (version INTEGER NOT NULL, written_by VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE runs (run_id INTEGER NOT NULL, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP NOT NULL, "
    "tool_version VARCHAR NOT NULL, devices INTEGER NOT NULL, failed_devices INTEGER NOT NULL, "
    "bad_rows INTEGER NOT NULL)",
    "CREATE TABLE run_inputs (run_id INTEGER NOT NULL, role VARCHAR NOT NULL, name VARCHAR NOT NULL, sha256 VARCHAR)",
    "CREATE TABLE run_rulesets (run_id INTEGER NOT NULL, ruleset VARCHAR NOT NULL, path VARCHAR NOT NULL, "
    "sha256 VARCHAR)",
    "CREATE TABLE run_rules (run_id INTEGER NOT NULL, position SMALLINT NOT NULL, ruleset VARCHAR NOT NULL, "
    "rule VARCHAR NOT NULL, title VARCHAR NOT NULL, severity VARCHAR NOT NULL)",
    "CREATE TABLE entries (entry_id INTEGER NOT NULL, digest VARCHAR NOT NULL, rule VARCHAR NOT NULL, "
    "status VARCHAR NOT NULL, waiver VARCHAR)",
    "CREATE TABLE entry_reasons (entry_id INTEGER NOT NULL, position SMALLINT NOT NULL, reason_id VARCHAR NOT NULL)",
    "CREATE TABLE reasons (reason_id VARCHAR NOT NULL, text VARCHAR NOT NULL)",
    "CREATE TABLE patterns (pattern_id INTEGER NOT NULL, digest VARCHAR NOT NULL, entries INTEGER[] NOT NULL)",
    "CREATE TABLE device_names (device_id INTEGER NOT NULL, device VARCHAR NOT NULL)",
    "CREATE TABLE devices (run_id INTEGER NOT NULL, row INTEGER, device_id INTEGER NOT NULL, "
    "pattern_id INTEGER NOT NULL, policies VARCHAR)",
    "CREATE TABLE rule_counts (run_id INTEGER NOT NULL, rule VARCHAR NOT NULL, pass INTEGER NOT NULL, "
    "fail INTEGER NOT NULL, unknown INTEGER NOT NULL, not_applicable INTEGER NOT NULL, waived INTEGER NOT NULL)",
    _RESULTS_VIEW,
    "CREATE VIEW result_reasons AS SELECT d.run_id, d.row, n.device, e.rule, r.reason_id, t.text FROM devices d "
    "JOIN device_names n USING (device_id) "
    "JOIN (SELECT pattern_id, unnest(entries) AS entry_id FROM patterns) p USING (pattern_id) "
    "JOIN entries e USING (entry_id) JOIN entry_reasons r USING (entry_id) JOIN reasons t USING (reason_id)",
)

# Schema version -> the statements that bring a store of that version to the next one. A store
# of a version with no way here to the current one is refused. Version 2 records waivers: a
# waived result's waiver (entries.waiver; none in a version 1 store) and a rule's waived devices.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE entries ADD COLUMN waiver VARCHAR",
        "ALTER TABLE rule_counts ADD COLUMN waived INTEGER NOT NULL DEFAULT 0",
        "DROP VIEW results",
        _RESULTS_VIEW,
    ),
}

_CSV = "header=false, delim=',', quote='\"', escape='\"', new_line='\\n', auto_detect=false, nullstr=''"


class StoreError(BitLockerRulesError):
    """A store that cannot be opened, read or written as this version's (exit code 2)."""


def _problem(path: str, message: str, help: str | None = None) -> StoreError:
    return StoreError([Diagnostic("H010", message, file=path, help=help)])


class Store:
    """A results store, opened for reading (``read_only``) or for appending runs."""

    def __init__(self, path: str | Path, *, read_only: bool = True) -> None:
        import duckdb  # noqa: PLC0415 - only the history's commands pay for importing DuckDB

        self.path = str(path)
        self._duckdb = duckdb
        if read_only and not Path(path).is_file():
            raise _problem(self.path, "no results store here", "a store is made by `check --fleet ... --store FILE`")
        try:
            self.db = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            raise _problem(
                self.path,
                f"cannot open the results store: {_first_line(exc)}",
                "is it a DuckDB file, not opened for writing by another run?",
            ) from None
        # A run's bulk load works in bounded memory (DuckDB spills to a temporary file beyond it),
        # on one thread beside the fleet's processes; reading a store may use every processor.
        self.db.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        if not read_only:
            self.db.execute("SET threads = 1")
        try:
            self._check_schema(read_only)
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        """Close the file."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The schema and its version

    def _tables(self) -> set[str]:
        return {name for (name,) in self.db.execute("SELECT table_name FROM information_schema.tables").fetchall()}

    def _check_schema(self, read_only: bool) -> None:
        tables = self._tables()
        if not tables and not read_only:
            self._create()
            return
        if "store_schema" not in tables:
            raise _problem(
                self.path,
                "this DuckDB file is not a bitlocker-rules results store (it has no store_schema table)",
                "give --store a new file name, or the file a fleet run wrote",
            )
        rows = self.db.execute("SELECT version, written_by FROM store_schema").fetchall()
        if len(rows) != 1:
            raise _problem(self.path, f"the store's schema table has {len(rows)} rows, not one: it cannot be trusted")
        version, written_by = rows[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise _problem(
                self.path,
                f"the store has schema version {version} (written by bitlocker-rules {written_by}); this "
                f"version of bitlocker-rules reads schema version {SCHEMA_VERSION} and will not guess",
                "upgrade bitlocker-rules to read it, or start a new store",
            )
        steps = list(range(version, SCHEMA_VERSION))
        if any(step not in MIGRATIONS for step in steps):
            raise _problem(
                self.path,
                f"the store has schema version {version} (written by bitlocker-rules {written_by}), which this "
                f"version (schema {SCHEMA_VERSION}) cannot migrate",
                "read it with the version that wrote it, or start a new store",
            )
        if read_only:
            raise _problem(
                self.path,
                f"the store has schema version {version}; it is migrated to version {SCHEMA_VERSION} when "
                "a run is next appended to it",
                "append a run with `check --fleet ... --store FILE`, or read it with the version that wrote it",
            )
        with self._transaction():
            for step in steps:
                for statement in MIGRATIONS[step]:
                    self.db.execute(statement)
            self.db.execute("UPDATE store_schema SET version = ?", [SCHEMA_VERSION])

    def _create(self) -> None:
        from ..resources import installed_version  # noqa: PLC0415 - only a new store asks

        with self._transaction():
            for statement in _TABLES:
                self.db.execute(statement)
            self.db.execute(
                "INSERT INTO store_schema VALUES (?, ?, now()::TIMESTAMP)", [SCHEMA_VERSION, installed_version()]
            )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # Writing a run

    def append(self, recorder: RunRecorder, finished_at: str, failed_devices: int, bad_rows: int) -> int:
        """Add the run a recorder staged, in one transaction; its run id."""
        files = {name: str(path) for name, path in recorder.staged().items()}
        info = recorder.info
        try:
            with self._transaction():
                run_id = self._next_run_id()
                self._append_run(run_id, info, finished_at, recorder.devices, failed_devices, bad_rows)
                self._append_results(run_id, files)
        except self._duckdb.Error as exc:
            raise _problem(self.path, f"cannot write the run to the store: {_first_line(exc)}") from None
        return run_id

    def _next_run_id(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchone()[0])  # type: ignore[index]

    def _append_run(
        self, run_id: int, info: RunInfo, finished_at: str, devices: int, failed_devices: int, bad_rows: int
    ) -> None:
        self.db.execute(
            "INSERT INTO runs VALUES (?, ?::TIMESTAMP, ?::TIMESTAMP, ?, ?, ?, ?)",
            [run_id, info.started_at, finished_at, info.tool_version, devices, failed_devices, bad_rows],
        )
        # A handful of rows each (the inputs, the rulesets, about 80 rules): parameters are fine here.
        self.db.executemany(
            "INSERT INTO run_inputs VALUES (?, ?, ?, ?)", [[run_id, i.role, i.name, i.sha256] for i in info.inputs]
        )
        self.db.executemany(
            "INSERT INTO run_rulesets VALUES (?, ?, ?, ?)",
            [[run_id, r.ruleset, r.path, r.sha256] for r in info.rulesets],
        )
        self.db.executemany(
            "INSERT INTO run_rules VALUES (?, ?, ?, ?, ?, ?)",
            [[run_id, r.position, r.ruleset, r.rule, r.title, r.severity] for r in info.rules],
        )

    def known_entries(self) -> tuple[dict[str, int], int]:
        """The store's entries by digest, and the next free entry id (a recorder numbers new ones from it)."""
        known = dict(self.db.execute("SELECT digest, entry_id FROM entries").fetchall())
        return known, max(known.values(), default=0) + 1

    def _append_results(self, run_id: int, files: dict[str, str]) -> None:
        """The staged CSV files loaded in bulk: entries and reasons are new to the store (the
        recorder knew the store's), patterns not yet in the store get the next ids."""
        execute = self.db.execute
        execute(
            f"INSERT INTO entries SELECT * FROM read_csv(?, {_CSV}, columns={{'entry_id': 'INTEGER', "
            "'digest': 'VARCHAR', 'rule': 'VARCHAR', 'status': 'VARCHAR', 'waiver': 'VARCHAR'})",
            [files["entries"]],
        )
        execute(
            f"INSERT INTO entry_reasons SELECT * FROM read_csv(?, {_CSV}, columns={{'entry_id': 'INTEGER', "
            "'position': 'SMALLINT', 'reason_id': 'VARCHAR'})",
            [files["entry_reasons"]],
        )
        execute(
            f"INSERT INTO reasons SELECT s.reason_id, s.text FROM read_csv(?, {_CSV}, "
            "columns={'reason_id': 'VARCHAR', 'text': 'VARCHAR'}) s "
            "WHERE s.reason_id NOT IN (SELECT reason_id FROM reasons)",
            [files["reasons"]],
        )
        execute(
            f"CREATE TEMP TABLE staged_patterns AS SELECT * FROM read_csv(?, {_CSV}, "
            "columns={'pattern': 'INTEGER', 'digest': 'VARCHAR', 'entries': 'VARCHAR'})",
            [files["patterns"]],
        )
        try:
            execute(
                "CREATE TEMP TABLE pattern_map AS SELECT s.pattern, p.pattern_id FROM staged_patterns s "
                "LEFT JOIN patterns p USING (digest)"
            )
            first_new = execute("SELECT coalesce(max(pattern_id), 0) FROM patterns").fetchone()[0]  # type: ignore[index]
            execute(
                "UPDATE pattern_map SET pattern_id = n.id FROM (SELECT pattern, "
                "? + row_number() OVER (ORDER BY pattern) AS id FROM pattern_map WHERE pattern_id IS NULL) n "
                "WHERE pattern_map.pattern = n.pattern",
                [first_new],
            )
            execute(
                "INSERT INTO patterns SELECT m.pattern_id, s.digest, s.entries::INTEGER[] FROM staged_patterns s "
                "JOIN pattern_map m USING (pattern) WHERE m.pattern_id > ?",
                [first_new],
            )
            execute(
                f"CREATE TEMP TABLE staged_devices AS SELECT * FROM read_csv(?, {_CSV}, columns={{'row': 'INTEGER', "
                "'device': 'VARCHAR', 'pattern': 'INTEGER', 'policies': 'VARCHAR'})",
                [files["devices"]],
            )
            # A device's name is kept once per store: runs name it by its id.
            last = execute("SELECT coalesce(max(device_id), 0) FROM device_names").fetchone()[0]  # type: ignore[index]
            execute(
                "INSERT INTO device_names SELECT ? + row_number() OVER (ORDER BY first_row, device), device FROM "
                "(SELECT device, min(row) AS first_row FROM staged_devices "
                "WHERE device NOT IN (SELECT device FROM device_names) GROUP BY device)",
                [last],
            )
            execute(
                "INSERT INTO devices SELECT ?, s.row, n.device_id, m.pattern_id, s.policies FROM staged_devices s "
                "JOIN device_names n USING (device) JOIN pattern_map m USING (pattern) ORDER BY s.row",
                [run_id],
            )
            counts = ", ".join(
                f"coalesce(sum(per.devices) FILTER (WHERE e.status = '{status}'), 0)::INTEGER"
                for status in RECORDED_STATUSES
            )
            execute(
                f"INSERT INTO rule_counts SELECT ?, e.rule, {counts} FROM "
                "(SELECT pattern_id, count(*) AS devices FROM devices WHERE run_id = ? GROUP BY pattern_id) per "
                "JOIN (SELECT pattern_id, unnest(entries) AS entry_id FROM patterns) p USING (pattern_id) "
                "JOIN entries e USING (entry_id) GROUP BY e.rule",
                [run_id, run_id],
            )
        finally:
            execute("DROP TABLE IF EXISTS temp.staged_devices")
            execute("DROP TABLE IF EXISTS temp.pattern_map")
            execute("DROP TABLE IF EXISTS temp.staged_patterns")

    # Reading

    def runs(self) -> list[RunRow]:
        """Every run, oldest first."""
        rows = self.db.execute(
            f"SELECT run_id, {_TIME.format('started_at')}, {_TIME.format('finished_at')}, tool_version, devices, "
            "failed_devices, bad_rows FROM runs ORDER BY run_id"
        ).fetchall()
        rulesets: dict[int, list[str]] = {}
        for run_id, ruleset in self.db.execute(
            "SELECT run_id, ruleset FROM run_rulesets ORDER BY run_id, rowid"
        ).fetchall():
            rulesets.setdefault(run_id, []).append(ruleset)
        inputs: dict[int, list[RunInput]] = {}
        for run_id, role, name, sha256 in self.db.execute(
            "SELECT run_id, role, name, sha256 FROM run_inputs ORDER BY run_id, rowid"
        ).fetchall():
            inputs.setdefault(run_id, []).append(RunInput(role, name, sha256))
        return [
            RunRow(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                tuple(rulesets.get(row[0], ())),
                tuple(inputs.get(row[0], ())),
            )
            for row in rows
        ]

    def rule_trend(self, rule: str) -> list[TrendPoint]:
        """A rule's counts in each run that evaluated it, oldest first (StoreError for a rule no run has)."""
        known = [name for (name,) in self.db.execute("SELECT DISTINCT rule FROM run_rules ORDER BY rule").fetchall()]
        match = next((name for name in known if name.casefold() == rule.casefold()), None)
        if match is None:
            raise StoreError(
                [
                    Diagnostic(
                        "H011",
                        f"no run in the store evaluated a rule {rule!r}",
                        file=self.path,
                        help=suggest(rule, known),
                    )
                ]
            )
        rows = self.db.execute(
            f"SELECT r.run_id, {_TIME.format('r.started_at')}, c.pass, c.fail, c.unknown, c.not_applicable "
            "FROM runs r JOIN rule_counts c ON c.run_id = r.run_id AND c.rule = ? ORDER BY r.run_id",
            [match],
        ).fetchall()
        return [TrendPoint(row[0], row[1], dict(zip(STATUSES, row[2:]))) for row in rows]

    def run_id(self, selector: str) -> int:
        """A run's id from ``latest``, ``previous`` (the one before the latest) or a number."""
        ids = [run_id for (run_id,) in self.db.execute("SELECT run_id FROM runs ORDER BY run_id DESC").fetchall()]
        wanted: int | None
        if selector == "latest":
            wanted = ids[0] if ids else None
        elif selector == "previous":
            wanted = ids[1] if len(ids) > 1 else None
        else:
            wanted = int(selector) if selector.isdigit() and int(selector) in ids else None
        if wanted is None:
            runs = f"runs {ids[-1]} to {ids[0]}" if ids else "no run"
            raise StoreError(
                [
                    Diagnostic(
                        "H012",
                        f"no run {selector!r} in the store (it has {runs})",
                        file=self.path,
                        help="name a run by its number (`bitlocker-rules history FILE` lists them), latest or previous",
                    )
                ]
            )
        return wanted

    def run_results(self, run_id: int, label: str) -> RunResults:
        """One run's devices and patterns, as ``diff`` compares them."""
        run = RunResults(label)
        reasons: dict[int, list[str]] = {}
        for entry_id, reason in self.db.execute(
            "SELECT entry_id, reason_id FROM entry_reasons ORDER BY entry_id, position"
        ).fetchall():
            reasons.setdefault(entry_id, []).append(reason)
        entries = {
            entry_id: RuleResult(rule, status, tuple(reasons.get(entry_id, ())), waiver or "")
            for entry_id, rule, status, waiver in self.db.execute(
                "SELECT entry_id, rule, status, waiver FROM entries"
            ).fetchall()
        }
        cursor = self.db.execute(
            "SELECT pattern_id, entries FROM patterns WHERE pattern_id IN "
            "(SELECT DISTINCT pattern_id FROM devices WHERE run_id = ?)",
            [run_id],
        )
        for chunk in iter(lambda: cursor.fetchmany(10_000), []):
            for pattern_id, ids in chunk:
                run.add_pattern(pattern_id, Pattern(tuple(entries[i] for i in ids)))
        run.reasons.update(self.db.execute("SELECT reason_id, text FROM reasons").fetchall())
        cursor = self.db.execute(
            "SELECT n.device, d.pattern_id FROM devices d JOIN device_names n USING (device_id) "
            "WHERE d.run_id = ? ORDER BY d.row, d.rowid",
            [run_id],
        )
        for chunk in iter(lambda: cursor.fetchmany(10_000), []):
            for device, pattern_id in chunk:
                run.add_device(device, pattern_id)
        return run

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Any query a user would run on the file (the documented examples are run so by a test)."""
        return self.db.execute(sql).fetchall()


_TIME = "strftime({}, '%Y-%m-%dT%H:%M:%SZ')"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
