"""The time axis: fleet runs kept in a DuckDB store, listed, and compared (``diff``).

The stages, one module each: ``runs`` (what is kept and compared), ``recorder`` (a fleet
run's JSON lines staged for the store), ``store`` (the DuckDB file: the only SQL of the
project), ``writer`` (a run appended), ``diff`` (two runs compared), ``drift`` (two snapshots' policies
compared) and ``sources`` (where ``diff`` reads a run: a store, a JSON Lines file, or a snapshot
to check). ``docs/history.md`` documents the schema.
"""

from .diff import CHANGES, CauseMoves, DeviceChange, DevicePresence, Diff, RuleChange, RuleMoves, diff_runs, with_drift
from .drift import Drift, PolicyDrift, SettingChange, Target, policy_drift
from .recorder import run_info
from .runs import (
    DeviceKey,
    Pattern,
    RuleResult,
    RunInfo,
    RunInput,
    RunLines,
    RunResults,
    RunRow,
    TrendPoint,
    reason_id,
)
from .sources import is_snapshot, is_store, read_run
from .store import SCHEMA_VERSION, Store, StoreError
from .writer import RunWriter

__all__ = [
    "CHANGES",
    "SCHEMA_VERSION",
    "CauseMoves",
    "DeviceChange",
    "DeviceKey",
    "DevicePresence",
    "Diff",
    "Drift",
    "Pattern",
    "PolicyDrift",
    "RuleChange",
    "RuleMoves",
    "RuleResult",
    "RunInfo",
    "RunInput",
    "RunLines",
    "RunResults",
    "RunRow",
    "RunWriter",
    "SettingChange",
    "Store",
    "StoreError",
    "Target",
    "TrendPoint",
    "diff_runs",
    "is_snapshot",
    "is_store",
    "policy_drift",
    "read_run",
    "reason_id",
    "run_info",
    "with_drift",
]
