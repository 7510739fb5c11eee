"""Appending a fleet run to a store: the store opened (and its schema checked) before the fleet
is read, each device's JSON line staged as it is written, the run added in bulk at the end."""

from __future__ import annotations

from .recorder import RunRecorder, utc_now
from .runs import RunInfo
from .store import Store


class RunWriter:
    """A fleet run (``info``, as ``run_info`` describes it) on its way into a store. ``add`` is
    the fleet path's ``write`` callback; ``finish`` adds the run (nothing is added if it is
    never called: an interrupted run)."""

    def __init__(self, path: str, info: RunInfo) -> None:
        self.store = Store(path, read_only=False)  # a store of another schema is refused before any work
        try:
            known, next_entry = self.store.known_entries()
            self.recorder = RunRecorder(info, known, next_entry)
        except BaseException:
            self.store.close()
            raise
        self.add = self.recorder.add

    def finish(self, failed_devices: int, bad_rows: int) -> int:
        """Add the run to the store; its run id."""
        return self.store.append(self.recorder, utc_now(), failed_devices, bad_rows)

    def close(self) -> None:
        """Close the store and remove the staged files."""
        try:
            self.recorder.close()
        finally:
            self.store.close()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
