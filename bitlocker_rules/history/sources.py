"""Where ``diff`` reads a run: a run in a store (``FILE#RUN``, or a run's name with ``--store``)
or a ``check --fleet --jsonl`` file. A run's name is its number, ``latest`` or ``previous``.
A folder with a snapshot's manifest is a pulled snapshot, which ``diff`` checks first."""

from __future__ import annotations

from pathlib import Path

from ..errors import Diagnostic, InputError
from ..snapshot import manifest_path
from .runs import RunResults, read_jsonl
from .store import Store

_DUCKDB_MAGIC = b"DUCK"  # bytes 8 to 12 of every DuckDB database file


def is_store(path: str) -> bool:
    """Whether ``path`` is a DuckDB file (a results store, or another database the store refuses)."""
    try:
        with open(path, "rb") as stream:
            return stream.read(12)[8:12] == _DUCKDB_MAGIC
    except OSError:
        return False


def is_snapshot(path: str) -> bool:
    """Whether ``path`` is a folder holding a snapshot's manifest (``pull --out``)."""
    return Path(path).is_dir() and manifest_path(path).is_file()


def read_run(spec: str, store: str | None = None) -> RunResults:
    """The run ``spec`` names: with ``store``, a run of it; ``FILE#RUN``, a run of that store;
    otherwise a JSON Lines file of device records."""
    if store is not None:
        return _store_run(store, spec, f"{store}#{spec}")
    path, hash_sign, run = spec.rpartition("#")
    if hash_sign and is_store(path):
        return _store_run(path, run, spec)
    if is_store(spec):
        raise InputError(
            [
                Diagnostic(
                    "H002",
                    "a results store holds many runs: say which",
                    file=spec,
                    help=f"{spec}#latest, {spec}#previous or {spec}#NUMBER "
                    f"(`bitlocker-rules history {spec}` lists them)",
                )
            ]
        )
    try:
        with open(spec, encoding="utf-8") as stream:
            return read_jsonl(stream, spec)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError([Diagnostic("H003", f"cannot read the run: {reason}", file=spec)]) from None


def _store_run(path: str, selector: str, label: str) -> RunResults:
    with Store(Path(path)) as opened:
        run_id = opened.run_id(selector)
        return opened.run_results(run_id, f"{path}#{run_id}" if selector in ("latest", "previous") else label)
