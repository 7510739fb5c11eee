"""The snapshot folder: one JSON Lines file per kind of record and ``manifest.json``.

A pull is made of units (the device configurations and their assignments, the groups and their
members, the managed devices, …). A unit's files are written beside their final names and
renamed when the unit is whole; then the manifest, itself written to a temporary file and
renamed, records the unit as complete. The manifest says ``"complete": true`` only once every
unit is, so a run that stops part-way leaves a snapshot that says it is incomplete (and why),
and ``pull --resume`` redoes only the units it does not record as complete.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import snapshot as reading
from ..errors import InputError, escape_controls, redact
from ..reading import loads_json
from .failures import SNAPSHOT, tenant_error
from .scrub import is_clean, scrubbed

SCHEMA = reading.SCHEMA
SCHEMA_VERSION = reading.SCHEMA_VERSION
MANIFEST = reading.MANIFEST
PARTIAL = ".partial"  # a file of a unit still being written


# One encoder for every record: ``json.dumps`` with options builds an encoder per call, which
# cost as much as encoding a device record.
# Records decoded from JSON cannot refer to themselves: no check for cycles (a fifth of the cost).
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def _compact(record: Any) -> str:
    """A record as one line of JSON."""
    return _COMPACT(record)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_atomically(path: Path, text: str) -> None:
    """``text`` in ``path``, replacing it in one step (a temporary file beside it, then renamed).

    One writer per snapshot (the pulling thread), so the temporary name is fixed; the file is
    created as any other, with the user's umask."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def read_manifest(folder: Path) -> dict[str, Any]:
    """A snapshot's manifest, checked to be one this version can read (by the reader the check
    of a snapshot uses, so a pull and a check agree on what a manifest is)."""
    try:
        return reading.read_manifest(folder)
    except InputError as exc:
        raise tenant_error(SNAPSHOT, exc.diagnostics[0].message, where=str(folder)) from None


class Snapshot:
    """A snapshot folder being written; its manifest is rewritten after each unit."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        self.folder = folder
        self.manifest = manifest

    @classmethod
    def create(cls, folder: Path, graph_url: str, tenant_id: str | None, project_version: str) -> Snapshot:
        """A new snapshot in ``folder`` (created; it must be empty or absent)."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            taken = any(folder.iterdir())
        except OSError as exc:
            raise tenant_error(SNAPSHOT, f"the folder cannot be made ({exc.strerror})", where=str(folder)) from None
        if taken:
            advice = "continue it with --resume" if (folder / MANIFEST).exists() else "choose an empty or new folder"
            raise tenant_error(SNAPSHOT, "the folder is not empty", where=str(folder), help=advice)
        manifest = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "complete": False,
            "tenant_id": tenant_id,
            "graph_url": graph_url,
            "started": _now(),
            "finished": None,
            "project_version": project_version,
            "units": {},
            "kinds": {},
            "skipped": [],
            "requests": {},
            "error": "the pull has not finished",
        }
        snapshot = cls(folder, manifest)
        snapshot.save()
        return snapshot

    @classmethod
    def resume(cls, folder: Path, graph_url: str) -> Snapshot:
        """The incomplete snapshot in ``folder``, to be continued from the same Graph."""
        manifest = read_manifest(folder)
        if manifest.get("complete") is True:
            raise tenant_error(SNAPSHOT, "this snapshot is complete; there is nothing to resume", where=str(folder))
        if manifest.get("graph_url") != graph_url:
            raise tenant_error(
                SNAPSHOT,
                f"this snapshot was pulled from {manifest.get('graph_url')}, not {graph_url}",
                where=str(folder),
                help="resume with the same --graph-url, or pull a new snapshot into another folder",
            )
        for stale in folder.glob(f"*{PARTIAL}"):  # what the stopped run was writing
            stale.unlink()
        manifest["error"] = "the pull has not finished"
        return cls(folder, manifest)

    def done(self, unit: str) -> bool:
        """Whether ``unit`` is complete in this snapshot (a resumed run skips it)."""
        return bool(self.manifest["units"].get(unit, {}).get("complete"))

    @contextlib.contextmanager
    def unit(
        self, name: str, kinds: Mapping[str, str], on_write: Callable[[str], None] | None = None
    ) -> Iterator[UnitWriter]:
        """Write unit ``name`` (its kinds, each with its API version); committed when the block
        ends. ``on_write`` hears the kind of each record written."""
        with _writing(self.folder):
            writer = UnitWriter(self.folder, kinds, on_write)
        try:
            yield writer
            with _writing(self.folder):
                writer.commit()
        except BaseException:
            writer.discard()
            raise
        self.manifest["units"][name] = {"complete": True, "finished": _now()}
        self.manifest["skipped"] = [s for s in self.manifest["skipped"] if s.get("unit") != name]
        self.manifest["skipped"] += [{"unit": name, **entry} for entry in writer.skipped]
        for kind, count in writer.counts.items():
            self.manifest["kinds"][kind] = {"file": f"{kind}.jsonl", "count": count, "api_version": kinds[kind]}
        self.save()

    def records(self, kind: str) -> Iterator[dict]:
        """The records of a completed kind, read back (what later units build on)."""
        path = self.folder / f"{kind}.jsonl"
        try:
            with path.open(encoding="utf-8") as stream:
                yield from map(loads_json, stream)
        except (OSError, ValueError) as exc:
            raise tenant_error(
                SNAPSHOT,
                f"{path.name} cannot be read back ({exc})",
                where=str(self.folder),
                help="the folder was changed since the pull; pull again into a new folder",
            ) from None

    def finish(self, requests: Mapping[str, Any]) -> None:
        """Mark the snapshot complete (every unit is)."""
        self.manifest.update(complete=True, finished=_now(), error=None, requests=dict(requests))
        self.save()

    def fail(self, reason: str, requests: Mapping[str, Any]) -> None:
        """Record why the pull stopped; the snapshot stays incomplete."""
        self.manifest.update(complete=False, error=reason, requests=dict(requests))
        self.save()

    def save(self) -> None:
        """Write the manifest atomically."""
        # A reason may quote what Graph sent, and a note names the record it scrubbed by its id:
        # either can hold a recovery password (masked, as in a record) or half a surrogate pair
        # (escaped, as in a record).
        text = escape_controls(redact(json.dumps(self.manifest, indent=2, ensure_ascii=False))) + "\n"
        try:
            write_atomically(self.folder / MANIFEST, text)
        except OSError as exc:
            raise tenant_error(
                SNAPSHOT, f"manifest.json cannot be written ({exc.strerror})", where=str(self.folder)
            ) from None


class UnitWriter:
    """The files of one unit, written as ``<kind>.jsonl.partial`` until the unit is whole."""

    def __init__(self, folder: Path, kinds: Mapping[str, str], on_write: Callable[[str], None] | None = None) -> None:
        self.folder = folder
        self.on_write = on_write
        self.counts = dict.fromkeys(kinds, 0)
        self.skipped: list[dict[str, str]] = []
        self._streams = {kind: (folder / f"{kind}.jsonl{PARTIAL}").open("w", encoding="utf-8") for kind in kinds}

    def write(self, kind: str, record: Mapping[str, Any], *, clean: bool = False) -> None:
        """One record of ``kind``, secrets scrubbed (each one noted as skipped); ``clean`` when the
        answer it came in was found to hold nothing to scrub (``sent_text``)."""
        self._lines(kind, (self._scrubbed_line(kind, record, clean),))

    def write_all_sent(self, kind: str, sent: Iterable[tuple[Mapping[str, Any], str | None, bool]]) -> None:
        """Records of ``kind``, each ``(record, text, clean)``: as Graph wrote it when ``text`` is its
        text from an answer whose records show nothing to scrub (``sent_text``), else as ``write``
        writes it; all in one write (a write call a record cost half as much again: 0.8 against 0.53 us)."""
        lines = [self._scrubbed_line(kind, record, clean) if text is None else text for record, text, clean in sent]
        self._lines(kind, lines)

    def _scrubbed_line(self, kind: str, record: Mapping[str, Any], clean: bool) -> str:
        line = _compact(record)
        if not clean and not is_clean(line):
            name = str(record.get("id") or record.get("displayName") or "")
            line = _compact(scrubbed(dict(record), self._noting(kind, name)))
        return line

    def _lines(self, kind: str, lines: Sequence[str]) -> None:
        if not lines:
            return
        text = "\n".join([_escaped_line(line) for line in lines]) + "\n"
        try:  # not _writing(): a context manager per record cost as much as the write
            self._streams[kind].write(text)
        except OSError as exc:
            raise _unwritable(self.folder, exc) from None
        self.counts[kind] += len(lines)
        if self.on_write is not None:
            for _ in lines:
                self.on_write(kind)

    def skip(self, kind: str, what: str, why: str) -> None:
        """Note something not read, or not kept, and why."""
        self.skipped.append({"kind": kind, "what": what, "why": why})

    def _noting(self, kind: str, name: str) -> Callable[[str, str], None]:
        return lambda path, why: self.skip(kind, f"{name} {path}".strip(), why)

    def commit(self) -> None:
        """Every file complete: flushed to disk and renamed to its final name."""
        for kind, stream in self._streams.items():
            stream.flush()
            os.fsync(stream.fileno())
            stream.close()
            os.replace(self.folder / f"{kind}.jsonl{PARTIAL}", self.folder / f"{kind}.jsonl")

    def discard(self) -> None:
        """The unit failed: its partial files removed."""
        for kind, stream in self._streams.items():
            with contextlib.suppress(OSError):  # a full disk may refuse the close's flush too
                stream.close()
            with contextlib.suppress(OSError):
                os.unlink(self.folder / f"{kind}.jsonl{PARTIAL}")


@contextlib.contextmanager
def _writing(folder: Path) -> Iterator[None]:
    """A file of the snapshot that cannot be written (a full disk, no permission) as a TenantError."""
    try:
        yield
    except OSError as exc:
        raise _unwritable(folder, exc) from None


def _escaped_line(line: str) -> str:
    """A record's line with its control characters as JSON escapes, which read back as the same
    characters: a snapshot opened in a terminal or an editor shows a bidi override or a C1 code
    Graph sent as its escape, and half a surrogate pair (an answer's ``\ud800``, which the JSON
    decoder lets through) can be written as UTF-8. JSON holds such characters only inside
    strings, where an escape means the same (a kept text has no raw line break)."""
    # In JSON text that is ASCII the one raw control a string may hold is DEL: the decoder
    # refuses the others raw, and the encoder escapes them. Most lines take only these two
    # scans (isascii reads a flag); the full scan costs ~3 us a device line.
    if line.isascii() and "\x7f" not in line:
        return line
    return escape_controls(line)


def _unwritable(folder: Path, exc: OSError) -> Exception:
    return tenant_error(SNAPSHOT, f"the snapshot cannot be written ({exc.strerror or exc})", where=str(folder))
