"""The time axis: fleet runs kept in a DuckDB store, listed, and compared (``diff``).

The stages, one module each: ``runs`` (what is kept and compared), ``recorder`` (a fleet
run's JSON lines staged for the store), ``store`` (the DuckDB file: the only SQL of the
project), ``writer`` (a run appended), ``diff`` (two runs compared) and ``sources`` (where
``diff`` reads a run: a store or a JSON Lines file). ``docs/history.md`` documents the schema.
"""

from .diff import CHANGES, CauseMoves, DeviceChange, DevicePresence, Diff, RuleChange, RuleMoves, diff_runs
from .recorder import run_info
from .runs import DeviceKey, Pattern, RuleResult, RunInfo, RunInput, RunResults, RunRow, TrendPoint, reason_id
from .sources import is_store, read_run
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
    "Pattern",
    "RuleChange",
    "RuleMoves",
    "RuleResult",
    "RunInfo",
    "RunInput",
    "RunResults",
    "RunRow",
    "RunWriter",
    "Store",
    "StoreError",
    "TrendPoint",
    "diff_runs",
    "is_store",
    "read_run",
    "reason_id",
    "run_info",
]
