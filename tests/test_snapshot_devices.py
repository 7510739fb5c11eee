"""A snapshot's device rows joined with their encryption report row and recovery keys: the join
an admin makes by hand (one device's records as a Graph page), refused when the records are not
one device's, and a compact index whose memory grows by a few bytes a device."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from bitlocker_rules.engine import Engine
from bitlocker_rules.errors import InputError
from bitlocker_rules.importers import import_device
from bitlocker_rules.snapshot.devices import ENCRYPTION_STATES, RECOVERY_KEYS, DeviceJoin, LineIndex

DEVICE = {
    "@odata.type": "#microsoft.graph.managedDevice",
    "id": "d-1",
    "deviceName": "CONTOSO-1",
    "azureADDeviceId": "E-1",
    "osVersion": "10.0.22631.3593",
}
STATE = {
    "@odata.type": "#microsoft.graph.managedDeviceEncryptionState",
    "id": "d-1",
    "deviceName": "CONTOSO-1",
    "encryptionState": "notEncrypted",
    "encryptionReadinessState": "ready",
}
KEYS = [
    {"@odata.type": "#microsoft.graph.bitlockerRecoveryKey", "id": f"k-{n}", "deviceId": "e-1", "volumeType": "1"}
    for n in range(3)
]


@pytest.fixture(scope="module")
def vocabulary():
    return Engine.load().vocabulary


def test_a_page_of_one_devices_records_is_one_device(vocabulary):
    device = import_device({"value": [DEVICE, STATE, *KEYS]}, vocabulary, origin="page.json")
    facts = device.facts
    assert facts.get("device.encrypted") is False and facts.get("device.encryption_readiness") is not None
    assert len(facts.get("device.recovery_keys")) == 3  # the keys are one collection, not three parts
    assert device.device_id == "d-1" and device.azure_ad_device_id == "E-1" and "CONTOSO-1" in facts.name
    assert facts.origins["device.encrypted"][0].path == ("value", 1, "encryptionState")  # where it is in the page


@pytest.mark.parametrize(
    ("records", "says"),
    [
        ([DEVICE, {**STATE, "id": "d-2"}], "2 different device ids"),
        ([DEVICE, {**KEYS[0], "deviceId": "e-2"}], "2 different Entra device ids"),
        ([DEVICE, {**DEVICE, "id": "d-2"}], "2 managed-device records"),
    ],
)
def test_records_of_two_devices_in_one_page_are_refused(vocabulary, records, says):
    with pytest.raises(InputError) as caught:
        import_device({"value": records}, vocabulary, origin="page.json")
    assert caught.value.diagnostics[0].code == "I405" and says in caught.value.diagnostics[0].message


def _write(path: Path, records) -> None:
    with path.open("w", encoding="utf-8") as stream:
        for record in records:
            stream.write(json.dumps(record) + "\n")


def test_the_join_finds_each_devices_row_and_keys_by_their_own_ids(tmp_path, vocabulary):
    _write(tmp_path / ENCRYPTION_STATES, [{**STATE, "id": "other"}, STATE, "not an object"])
    _write(tmp_path / RECOVERY_KEYS, [KEYS[0], {**KEYS[1], "deviceId": "e-2"}, KEYS[2]])
    join = DeviceJoin(tmp_path)
    assert [n for n, _ in join.states.records("D-1")] == [2]
    assert [(n, r["id"]) for n, r in join.keys.records("E-1")] == [(1, "k-0"), (3, "k-2")]  # in file order
    facts = join.device(DEVICE, vocabulary, 7)
    assert facts.get("device.encrypted") is False and len(facts.get("device.recovery_keys")) == 2
    lone = join.device({**DEVICE, "id": "d-9", "azureADDeviceId": "e-9"}, vocabulary, 8)
    assert lone.get("device.recovery_keys") is None  # no key listed: not known, as without a keys file


def test_a_snapshot_without_the_report_or_keys_joins_nothing(tmp_path, vocabulary):
    facts = DeviceJoin(tmp_path).device(DEVICE, vocabulary, 1)
    assert facts.get("device.encrypted") is None and facts.get("device.recovery_keys") is None


def _index_bytes(folder: Path, devices: int) -> tuple[int, int]:
    """What the index of ``devices`` keys holds once built, and the most it held while building."""
    _write(folder / RECOVERY_KEYS, ({**KEYS[0], "id": f"k-{n}", "deviceId": f"e-{n}"} for n in range(devices)))
    tracemalloc.start()
    try:
        index = LineIndex(folder / RECOVERY_KEYS, "deviceId")
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [n for n, _ in index.records(f"e-{devices - 1}")] == [devices]
    return held, peak


def test_the_index_holds_a_few_bytes_a_device(tmp_path):
    (tmp_path / "small").mkdir()
    (tmp_path / "large").mkdir()
    small_held, _ = _index_bytes(tmp_path / "small", 10_000)
    large_held, large_peak = _index_bytes(tmp_path / "large", 100_000)
    assert large_held < 3_000_000, large_held  # three 8-byte numbers a key: 2.4 MB at 100,000
    assert (large_held - small_held) / 90_000 < 30
    assert large_peak < 12_000_000, large_peak  # building sorts 100,000 positions once
