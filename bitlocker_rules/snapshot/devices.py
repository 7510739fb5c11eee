"""A snapshot's managed devices with their encryption report row and recovery keys joined.

``pull`` writes three files about devices, each in Graph's order: ``managed_devices.jsonl``
(the fleet's rows), ``encryption_states.jsonl`` (one ``managedDeviceEncryptionState`` per
device, whose ``id`` is the managed device's: inferred, Microsoft does not state it) and
``recovery_keys.jsonl`` (``bitlockerRecoveryKey`` metadata, ``deviceId`` being the device's
Entra id, ``azureADDeviceId``). A device row's facts are those three inputs imported as
``check --device`` imports them, joined (``importers.joined_device``), so a snapshot checks what the same
records given as files check.

The files are not in one order, so they cannot be merged as sorted streams without sorting
them first; instead each of the two is indexed once per process by the key it is joined on,
compactly: sorted arrays of 64-bit integers (the key's hash, the line's byte offset and its
number), 24 bytes a record; a line is read back when a device asks for it, and its key is
compared, so a hash collision never joins the wrong record. At 100,000 devices and as many
keys the two indexes hold under 5 MB.
"""

from __future__ import annotations

import functools
import os
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import attrs

from ..facts import Facts
from ..importers import ImportedDevice, import_device, import_devices, joined_device
from ..reading import loads_json
from ..source import RecordPlace
from .files import DAMAGED_HELP, DamagedLine, json_kind, line_record, snapshot_error

ENCRYPTION_STATES = "encryption_states.jsonl"
RECOVERY_KEYS = "recovery_keys.jsonl"


class LineIndex:
    """The lines of a JSON Lines file by the value of one key (case-folded), read back on demand."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key
        hashes, offsets, numbers = array("q"), array("q"), array("q")
        self._stream: IO[bytes] | None = None
        self._opened_by = 0  # the process that opened _stream
        self.damaged: list[tuple[int, str]] = []  # the first line that holds no record: (number, what it holds)
        if path.exists():
            for number, offset, value in _keyed_lines(path, key, self.damaged):
                hashes.append(_hash(value))
                offsets.append(offset)
                numbers.append(number)
        order = sorted(range(len(hashes)), key=hashes.__getitem__)
        self.hashes = array("q", (hashes[i] for i in order))
        self.offsets = array("q", (offsets[i] for i in order))
        self.numbers = array("q", (numbers[i] for i in order))

    def records(self, value: str) -> list[tuple[int, dict]]:
        """The records whose key is ``value`` (case-folded), each with its 1-based line number, in file order."""
        return [(number, record) for number, _, record in self.located(value)]

    def located(self, value: str) -> list[tuple[int, int, dict]]:
        """``records``, each with its line's byte offset too: (line number, offset, record)."""
        wanted = _hash(value)
        found = []
        at = bisect_left(self.hashes, wanted)
        while at < len(self.hashes) and self.hashes[at] == wanted:
            record = loads_json(self._line(self.offsets[at]))
            if str(record.get(self.key, "")).strip().casefold() == value.strip().casefold():
                found.append((self.numbers[at], self.offsets[at], record))
            at += 1
        return sorted(found, key=lambda entry: entry[0])

    def _line(self, offset: int) -> bytes:
        # A forked --jobs worker opens the file again: a stream it inherited shares its position
        # with the process it was forked from, which seeks in the same file meanwhile.
        if self._stream is None or self._opened_by != os.getpid():
            self._stream, self._opened_by = self.path.open("rb"), os.getpid()
        self._stream.seek(offset)
        return self._stream.readline()


def _keyed_lines(path: Path, key: str, damaged: list[tuple[int, str]]) -> Iterator[tuple[int, int, str]]:
    """Each line's number, byte offset and value of ``key``. A record without one joins no
    device and is left out; the first line that holds no record is kept in ``damaged``."""
    offset = 0
    with path.open("rb") as stream:
        for number, line in enumerate(stream, 1):
            try:
                value = _keyed_value(line, key)
            except DamagedLine as exc:
                value = None
                if not damaged:
                    damaged.append((number, str(exc)))
            if value is not None and value.strip():
                yield number, offset, value
            offset += len(line)


def _keyed_value(line: bytes, key: str) -> str | None:
    """The ``key`` of the record on ``line`` (None without one); ``DamagedLine`` for a line that
    holds no record, or whose ``key`` is not a string, as Graph's ids are."""
    value = line_record(line).get(key)
    if value is not None and not isinstance(value, str):
        raise DamagedLine(f"gives `{key}` as {json_kind(value)}, not a string as Graph's ids are")
    return value


def _hash(value: str) -> int:
    return hash(value.strip().casefold())  # per process, as the index is


class DeviceJoin:
    """A snapshot's encryption report rows by managed device id and recovery keys by Entra device id."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.states = LineIndex(folder / ENCRYPTION_STATES, "id")
        self.keys = LineIndex(folder / RECOVERY_KEYS, "deviceId")

    def device(self, data: Any, vocabulary: Any, number: int) -> Facts:
        """The facts of managedDevice row ``data`` (line ``number``) with its report row and keys joined."""
        origin = f"row {number}"
        device = import_device(data, vocabulary, origin=origin)
        joined = [part for part, _ in self._joined(device, vocabulary)]
        return joined_device([device, *joined], origin).facts if joined else device.facts

    def places(self, data: Any, vocabulary: Any, number: int) -> dict[str, RecordPlace]:
        """Where each fact of managedDevice row ``data`` (line ``number`` of the devices file, ``""``
        in the places) was read, as ``device`` joins them: the row (``""`` is the row itself), its
        encryption report row or its first recovery key record, each by line and byte offset."""
        device = import_device(data, vocabulary, origin=f"row {number}")
        places = fact_places(device, RecordPlace("", number))
        for part, record in self._joined(device, vocabulary):
            places = {**fact_places(part, record), **places}  # a fact the row gives too: the row's
        return places

    def _joined(self, device: ImportedDevice, vocabulary: Any) -> list[tuple[ImportedDevice, RecordPlace]]:
        """The encryption report row and the recovery keys of ``device``, each imported from its own
        file, with where it is (the keys: their first record)."""
        found = []
        states = self.states.located(device.device_id) if device.device_id else []
        for number, offset, state in states[:1]:  # one report row a device; a second would be Graph's duplicate
            imported = import_device(state, vocabulary, origin=f"{ENCRYPTION_STATES}#{number}")
            found.append((imported, RecordPlace(str(self.states.path), number, offset)))
        keys = self.keys.located(device.azure_ad_device_id) if device.azure_ad_device_id else []
        if keys:
            number, offset, _ = keys[0]
            records = [record for _, _, record in keys]
            imported = import_devices(records, vocabulary, origin=f"{RECOVERY_KEYS}#{number}")[0]
            found.append((imported, RecordPlace(str(self.keys.path), number, offset)))
        return found


def fact_places(device: ImportedDevice, record: RecordPlace) -> dict[str, RecordPlace]:
    """Each fact of an imported record at its JSON path in ``record`` (``""``: the record itself;
    a fact read from no path, the record)."""
    places = {"": record}
    for fact, origins in device.facts.origins.items():
        path = next((o.path for o in origins if o.path), None)
        places[fact] = attrs.evolve(record, path=path) if path else record
    return places


class SnapshotReader:
    """The fleet's reader of a snapshot's managed devices (picklable: ``--jobs`` workers build
    their own join): each row's facts with its records joined (``__call__``), and where each fact
    was read (``places``, which SARIF points at)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def __call__(self, data: Any, engine: Any, number: int) -> Facts:
        return device_join(self.folder).device(data, engine.vocabulary, number)

    def places(self, data: Any, engine: Any, number: int) -> dict[str, RecordPlace]:
        """Where each fact of the row's device was read (``DeviceJoin.places``)."""
        return device_join(self.folder).places(data, engine.vocabulary, number)


@functools.cache
def device_join(folder: str) -> DeviceJoin:
    """The join of the snapshot in ``folder``, built once per process."""
    return DeviceJoin(Path(folder))


def device_reader(folder: str | Path) -> SnapshotReader:
    """The reader that gives each managed device of the snapshot in ``folder`` its joined records
    (picklable: ``--jobs`` workers build their own join). The files it joins are indexed here,
    once per process: a line of them that holds no record refuses the snapshot (InputError), as
    a line of any other of its files does, rather than leave a device without its records."""
    reader = SnapshotReader(str(Path(folder)))  # one spelling of the folder: one join per process
    join = device_join(reader.folder)
    for index in (join.states, join.keys):
        if index.damaged:
            number, problem = index.damaged[0]
            raise snapshot_error(folder, f"{index.path.name} line {number} {problem}", help=DAMAGED_HELP)
    return reader
