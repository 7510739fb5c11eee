"""A pulled tenant snapshot read back: its policies, who they are assigned to, and its devices.

``pull`` (``tenant/``) writes a folder of Graph records as JSON Lines and a ``manifest.json``;
this package is what reads it, below the fleet (which cannot import ``tenant``), one stage a
module: ``files`` (where the files are; the manifest checked; each kind's records), ``scope``
(assignment filters decided device by device), ``reading`` (the policies through the importers,
an intent as the profile its settings make, and their assignments: ``read_snapshot``) and
``devices`` (each device row with its encryption report row and recovery keys joined: the
fleet's reader, ``device_reader``). The managed devices are the fleet, streamed row by row from
``managed_devices.jsonl`` (``devices_path``).
"""

from __future__ import annotations

from ..importers.intents import intent_as_profile
from .devices import SnapshotReader, device_reader, fact_places
from .files import (
    ALL_DEVICES,
    ALL_USERS,
    EXCLUSION,
    FILTER_ID,
    FILTER_TYPE,
    GROUP,
    MANIFEST,
    POLICY_ANNOTATION,
    POLICY_KINDS,
    SCHEMA,
    SCHEMA_VERSION,
    complete_manifest,
    devices_path,
    manifest_path,
    read_manifest,
)
from .files import records as snapshot_records
from .reading import TenantSnapshot, read_snapshot
from .scope import AssignmentFilter, FilterDecision, SnapshotPolicies

__all__ = [
    "ALL_DEVICES",
    "ALL_USERS",
    "EXCLUSION",
    "FILTER_ID",
    "FILTER_TYPE",
    "GROUP",
    "MANIFEST",
    "POLICY_ANNOTATION",
    "POLICY_KINDS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "AssignmentFilter",
    "FilterDecision",
    "SnapshotPolicies",
    "SnapshotReader",
    "TenantSnapshot",
    "complete_manifest",
    "device_reader",
    "devices_path",
    "fact_places",
    "intent_as_profile",
    "manifest_path",
    "read_manifest",
    "read_snapshot",
    "snapshot_records",
]
