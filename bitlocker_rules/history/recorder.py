"""Recording a fleet run for the store: a consumer of the JSON lines the fleet path writes.

``RunRecorder.add`` is a ``write`` callback like ``--jsonl``'s: it gets each device's JSON line
in row order (from this process or from ``--jobs`` workers alike) and stages the run in a
temporary folder as CSV files, one row per device and one set of rows per distinct pattern,
so memory stays flat however many devices there are. ``Store.append`` then loads the staged
files in bulk (DuckDB reads the CSV files itself: no row crosses the Python API one by one).
"""

from __future__ import annotations

import csv
import datetime
import json
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from ..errors import redact
from .runs import LineReader, RulesetUsed, RuleUsed, RunInfo, RunInput, file_sha256, pattern_digest

# The staged files: name -> columns (the store's bulk load reads them by these names).
STAGED = {
    "devices": ("row", "device", "pattern", "policies"),
    "patterns": ("pattern", "digest", "entries"),
    "entries": ("entry_id", "digest", "rule", "status", "waiver"),
    "entry_reasons": ("entry_id", "position", "reason_id"),
    "reasons": ("reason_id", "text"),
}


class RunRecorder:
    """Stages one run's device records (JSON lines) for ``Store.append``.

    ``known`` are the entries the store has (by digest) and ``next_entry`` its next free entry
    id: entries keep one id per store, so a pattern's list of entry ids means the same in every run.
    """

    def __init__(self, info: RunInfo, known: dict[str, int] | None = None, next_entry: int = 1) -> None:
        self.info = info
        self._folder = tempfile.TemporaryDirectory(prefix="bitlocker-rules-run-")
        self.folder = Path(self._folder.name)
        self._files: dict[str, IO[str]] = {}
        self._writers: dict[str, Any] = {}
        for name in STAGED:
            stream = open(self.folder / f"{name}.csv", "w", newline="", encoding="utf-8")  # noqa: SIM115 - see close
            self._files[name] = stream
            self._writers[name] = csv.writer(stream, lineterminator="\n")
        self._reader = LineReader(known, next_entry)
        self.devices = 0

    def add(self, line: Any) -> None:
        """One device's JSON line (a ``write`` callback: the fleet path calls it in row order)."""
        self.devices += 1
        where = f"device line {self.devices}"
        reader = self._reader
        head, results = reader.split(str(line), where)
        number, ids = reader.pattern_of(results, where)
        if ids is not None:
            if reader.new_entries:
                self._writers["entries"].writerows(
                    (e.entry_id, e.digest, e.result.rule, e.result.status, e.result.waiver) for e in reader.new_entries
                )
                self._writers["entry_reasons"].writerows(
                    (e.entry_id, i, reason) for e in reader.new_entries for i, reason in enumerate(e.result.reasons)
                )
                reader.new_entries.clear()
            if reader.new_reasons:
                self._writers["reasons"].writerows(reader.new_reasons)
                reader.new_reasons.clear()
            self._writers["patterns"].writerow((number, pattern_digest(ids).hex(), "[" + ",".join(map(str, ids)) + "]"))
        policies = head.get("policies")
        self._writers["devices"].writerow(
            (head.get("row"), head["device"], number, redact(json.dumps(policies)) if policies is not None else None)
        )

    def staged(self) -> dict[str, Path]:
        """The staged files, complete (call once every device was added)."""
        for stream in self._files.values():
            stream.close()
        return {name: self.folder / f"{name}.csv" for name in STAGED}

    def close(self) -> None:
        """Remove the staged files."""
        for stream in self._files.values():
            stream.close()
        self._folder.cleanup()


def run_info(
    engine: Any,
    policies: Iterable[str],
    assignments: str | None,
    fleet: str,
    version: str,
    snapshot: str | None = None,
    waivers: str | None = None,
) -> RunInfo:
    """What a run is, as the store records it: the time now, the inputs with their digests (a
    snapshot's manifest among them), the rulesets with theirs, and the rules in the engine's
    order (``engine``: an ``Engine``); a waivers file (``check --waivers``) with its digest too."""
    given = [("snapshot", snapshot)] if snapshot else []
    given += [("policy", p) for p in policies] + ([("assignments", assignments)] if assignments else [])
    given.append(("fleet", fleet))
    given += [("waivers", waivers)] if waivers else []
    inputs = [RunInput(role, str(redact(path)), file_sha256(path)) for role, path in given]
    rulesets = tuple(RulesetUsed(loaded.id, loaded.path, file_sha256(loaded.path)) for loaded in engine.rulesets)
    rules = tuple(
        RuleUsed(position, loaded.id, rule.id, rule.title, rule.severity)
        for position, (loaded, rule) in enumerate((loaded, rule) for loaded in engine.rulesets for rule in loaded.rules)
    )
    return RunInfo(utc_now(), version, tuple(inputs), rulesets, rules)


def utc_now() -> str:
    """The time now, UTC, ISO 8601 to the microsecond."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
