"""A snapshot folder's files: where they are, the manifest checked, each kind's records read.

``pull`` (``tenant/``) writes one JSON Lines file per kind of Graph record and ``manifest.json``;
a snapshot is read only when its manifest is one this version reads and says it is complete
(``pull --resume`` finishes one that is not).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from ..errors import Diagnostic, InputError
from ..reading import loads_json
from ..source import JsonPath

SCHEMA = "bitlocker-rules-snapshot"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
DEVICES = "managed_devices"

# Each kind of policy a pull keeps, with the kind of its assignments.
POLICY_KINDS = (
    ("device_configurations", "device_configuration_assignments"),
    ("configuration_policies", "configuration_policy_assignments"),
    ("intents", "intent_assignments"),
)
POLICY_ANNOTATION = "@bitlockerRules.policy"
GROUP_ANNOTATION = "@bitlockerRules.groupId"

ALL_DEVICES = "#microsoft.graph.allDevicesAssignmentTarget"
ALL_USERS = "#microsoft.graph.allLicensedUsersAssignmentTarget"
GROUP = "#microsoft.graph.groupAssignmentTarget"
EXCLUSION = "#microsoft.graph.exclusionGroupAssignmentTarget"
FILTER_ID = "deviceAndAppManagementAssignmentFilterId"
FILTER_TYPE = "deviceAndAppManagementAssignmentFilterType"

SNAPSHOT_PROBLEM = "I701"  # a folder that is not a complete snapshot this version reads, or a damaged one
DAMAGED_HELP = "a pull writes every record whole: pull again into a new folder"


def devices_path(folder: str | Path) -> Path:
    """The managed devices' file of the snapshot in ``folder``."""
    return Path(folder) / f"{DEVICES}.jsonl"


def manifest_path(folder: str | Path) -> Path:
    """The manifest of the snapshot in ``folder``."""
    return Path(folder) / MANIFEST


def snapshot_error(folder: str | Path, message: str, help: str | None = None) -> InputError:
    """An ``InputError`` about the snapshot in ``folder`` (the command line exits 2)."""
    return InputError([Diagnostic(SNAPSHOT_PROBLEM, message, file=str(folder), help=help)])


@frozen
class RecordLine:
    """Where a record of a snapshot is: the folder, the kind of its file, its line."""

    folder: Path
    kind: str
    number: int

    def damaged(self, path: JsonPath, found: Any, wanted: str) -> InputError:
        """The error for a record without what every record of its kind has when ``pull``
        writes it: at ``path`` (a JSON path) it holds ``found`` instead of ``wanted``."""
        message = f"line {self.number}: {json_kind(found)}, not {wanted}"
        file = str(self.folder / f"{self.kind}.jsonl")
        return InputError([Diagnostic(SNAPSHOT_PROBLEM, message, file=file, path=path, help=DAMAGED_HELP)])


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """A snapshot's manifest, checked to be one this version reads (its shape only; see
    ``complete_manifest`` for a snapshot to check)."""
    path = manifest_path(folder)
    try:
        manifest = loads_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise snapshot_error(folder, "this folder holds no snapshot (no manifest.json)") from None
    except (OSError, ValueError) as exc:
        raise snapshot_error(folder, f"manifest.json cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise snapshot_error(folder, "manifest.json is not a bitlocker-rules snapshot manifest")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise snapshot_error(
            folder,
            f"the snapshot's schema version is {manifest.get('schema_version')!r}; this version reads {SCHEMA_VERSION}",
        )
    shapes = {"units": dict, "kinds": dict, "skipped": list, "complete": bool}
    damaged = [key for key, shape in shapes.items() if not isinstance(manifest.get(key), shape)]
    if damaged:
        raise snapshot_error(folder, f"manifest.json is damaged ({', '.join(damaged)})")
    return manifest


def complete_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a complete snapshot; an incomplete one is refused, with how to finish it."""
    manifest = read_manifest(folder)
    if manifest["complete"] is not True:
        why = manifest.get("error") or "the pull has not finished"
        raise snapshot_error(
            folder,
            f"this snapshot is incomplete ({why})",
            help="finish it with `bitlocker-rules pull --out <folder> --resume` (the same --graph-url and --auth)",
        )
    return manifest


def json_kind(found: Any) -> str:
    """What a JSON value is, in words: how a damaged record's field is described."""
    if found is None:
        return "missing or null"
    return f"a JSON {_JSON_KINDS.get(type(found), 'value')}"


_JSON_KINDS = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


class DamagedLine(ValueError):
    """A line of a snapshot's JSON Lines file that is not a record as ``pull`` writes them (one
    JSON object in UTF-8); its message says what it is instead."""


def line_record(line: bytes) -> dict:
    """The record on one line of a snapshot's JSON Lines file; ``DamagedLine`` when it holds none."""
    try:
        record = loads_json(line.decode("utf-8"))
    except UnicodeDecodeError as exc:  # a ValueError too: named first
        raise DamagedLine(f"is not UTF-8 text (byte {exc.start + 1})") from None
    except ValueError as exc:
        raise DamagedLine(f"is not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise DamagedLine("is not a JSON object")
    return record


def records(folder: Path, manifest: Mapping[str, Any], kind: str) -> Iterator[dict]:
    """The records of ``kind`` one at a time (none when the snapshot has no such file)."""
    entry = manifest["kinds"].get(kind)
    if not isinstance(entry, dict):
        return
    path = folder / f"{kind}.jsonl"
    try:
        with path.open("rb") as stream:  # decoded line by line: a line that is not UTF-8 is named
            for number, line in enumerate(stream, 1):
                try:
                    record = line_record(line)
                except DamagedLine as exc:
                    raise snapshot_error(folder, f"{path.name} line {number} {exc}", help=DAMAGED_HELP) from None
                yield record
    except OSError as exc:
        raise snapshot_error(
            folder, f"{path.name} cannot be read ({exc.strerror or exc})", help="pull again into a new folder"
        ) from None
