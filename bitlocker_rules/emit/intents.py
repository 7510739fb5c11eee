"""Endpoint-security intents (``deviceManagement/intents``): the repaired settings as the
intent's ``updateSettings`` action takes them.

The intent is read as the Endpoint protection profile its settings make (``importers.intents``,
as ``check`` reads it), the change is written into that profile as for a profile
(``profile.repaired_profile``: nested drive policies kept whole), and each changed property is
sent as the intent setting that carries it: the setting the intent already has for the property
or for an object above it (that object sent whole), otherwise a new setting for the top-level
property (a drive policy as one complex setting holding the whole object, the shape intents are
created with). Each setting goes as a ``deviceManagementSettingInstance``: its ``@odata.type``
(the intent's own, or the one its value's JSON type takes), its ``id`` when it has one, its
``definitionId`` and the value as JSON text (``valueJson``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..importers.intents import GRAPH_TYPE, definition_id, intent_as_profile, setting_path
from ..importers.origins import OriginIndex
from ..vocabulary import Fact
from . import profile
from .values import emit_error

KIND = "endpoint-security-intent"
# A new setting's type, by its value's JSON type (a drive policy is a complex setting).
_TYPES = (
    (bool, "#microsoft.graph.deviceManagementBooleanSettingInstance"),
    (int, "#microsoft.graph.deviceManagementIntegerSettingInstance"),
    (str, "#microsoft.graph.deviceManagementStringSettingInstance"),
    (dict, "#microsoft.graph.deviceManagementComplexSettingInstance"),
)
_BASE_TYPE = "#microsoft.graph.deviceManagementSettingInstance"


def expressible(index: OriginIndex, fact: Fact) -> bool:
    """Whether a disk encryption intent has a setting for ``fact`` (the profile has a property)."""
    return profile.expressible(index, fact, GRAPH_TYPE)


def update_body(
    intent: Mapping[str, Any],
    changes: Mapping[Fact, Any],
    after: Mapping[str, Any],
    index: OriginIndex,
    file: str = "",
) -> dict[str, Any]:
    """The ``updateSettings`` body: ``{"settings": [...]}``, one instance per setting a change is in."""
    current = intent.get("settings")
    if not isinstance(current, list):
        raise emit_error("the intent has no `settings` list (read it with $expand=settings)", file=file)
    held = {path: s for s in current if isinstance(s, dict) and (path := setting_path(s.get("definitionId")))}
    new = profile.repaired_profile(intent_as_profile(intent, []), GRAPH_TYPE, changes, after, index, file)
    sent: dict[tuple[str, ...], dict[str, Any]] = {}
    for fact in changes:
        path = tuple(str(profile.graph_path(index, fact, GRAPH_TYPE)).split("."))
        holder = next((path[:n] for n in range(len(path), 0, -1) if path[:n] in held), path[:1])
        sent[holder] = _instance(held.get(holder), holder, _value_at(new, holder))
    return {"settings": list(sent.values())}


def _value_at(document: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _instance(held: Mapping[str, Any] | None, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """The setting instance carrying ``value`` for the property at ``path``."""
    kind = held.get("@odata.type") if held is not None else None
    if not isinstance(kind, str):
        kind = next((name for python, name in _TYPES if isinstance(value, python)), _BASE_TYPE)
    instance: dict[str, Any] = {"@odata.type": kind}
    if held is not None and held.get("id") is not None:
        instance["id"] = held["id"]
    instance["definitionId"] = definition_id(path)
    instance["valueJson"] = json.dumps(value, ensure_ascii=False)
    return instance
