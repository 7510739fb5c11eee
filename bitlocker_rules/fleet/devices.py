"""A fleet row as device facts: the project's own rows typed directly, Graph records imported."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..engine import Engine
from ..errors import Diagnostic, InputError, clip
from ..facts import Facts, apply_grants, facts_from_mapping
from ..source import RecordPlace
from ..vocabulary import Vocabulary, kept_type

DeviceReader = Callable[[Any, Engine, int], Facts]
_DEVICE_NAMESPACES = ("device", "actor", "action", "tenant")
_NAME_LIMIT = 200  # a device name longer than this is shortened in reports


def device_facts(data: Any, engine: Engine, number: int) -> Facts:
    """A fleet row as device facts: ``{"facts": {...}}`` or a flat ``{fact name: value}`` row."""
    if not isinstance(data, dict):
        raise InputError([Diagnostic("I301", "expected a JSON object for one device")])
    raw = (
        data["facts"]
        if isinstance(data.get("facts"), dict)
        else {k: v for k, v in data.items() if k not in ("id", "deviceName")}
    )
    return facts_from_mapping(
        raw, engine.vocabulary, origin="", name=device_subject(data, number), allowed=_DEVICE_NAMESPACES
    )


def fleet_device(data: Any, engine: Engine, number: int) -> Facts:
    """A fleet row in any device format: the project's rows fast, Graph records through the importers."""
    if isinstance(data, dict) and _own_row(data, engine):
        return device_facts(data, engine, number)
    from ..importers import import_device  # noqa: PLC0415 - loaded only when a row is not the project's own

    return import_device(data, engine.vocabulary, origin=f"row {number}").facts


def row_places(data: Any, engine: Engine, number: int) -> dict[str, RecordPlace]:
    """Where each fact of fleet row ``number`` is in it (``""``: the row itself, in the fleet
    file): a key of the project's own row by its path, a Graph record's values where the
    importers read them. Asked only of the few devices a report points at."""
    row = RecordPlace("", number)
    if not isinstance(data, dict):
        return {"": row}
    if not _own_row(data, engine):
        from ..importers import import_device  # noqa: PLC0415 - as fleet_device: only for a Graph row
        from ..snapshot.devices import fact_places  # noqa: PLC0415 - likewise

        return fact_places(import_device(data, engine.vocabulary, origin=f"row {number}"), row)
    nested = isinstance(data.get("facts"), dict)
    raw, above = (data["facts"], ("facts",)) if nested else (data, ())
    places = {"": row}
    for key in raw:
        namespace = key.partition(".")[0] if "." in key else ""
        fact = key if namespace in _DEVICE_NAMESPACES else f"device.{key}"
        places[fact] = RecordPlace("", number, path=(*above, key))
    return places


def _own_row(data: dict, engine: Engine) -> bool:
    if isinstance(data.get("facts"), dict):
        return True
    facts = engine.vocabulary.facts
    return all(k in ("id", "deviceName") or k in facts or f"device.{k}" in facts for k in data)


def device_subject(data: Any, number: int) -> str:
    """How a report names a device of the project's own row format."""
    name = (data.get("deviceName") or data.get("id")) if isinstance(data, dict) else None
    return f"device {clip(str(name or f'row {number}'), _NAME_LIMIT)!r}"  # repr escapes control characters


class RowTyper:
    """Types the project's own device rows straight into a value dict: the fleet's hot path.

    It gives None for anything it does not take as it is (another format, an unknown name, a
    bad value); the row then goes through ``device_facts`` or the importers, which report
    problems with their JSON paths. Origins are not kept: fleet records do not show them.
    """

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        # By the names a row may use: the fact, the type whose values it keeps without a call
        # (``kept_type``; None: every value is converted) and its converter.
        self.columns: dict[str, tuple[str, type | None, Callable[[Any], Any]]] = {}
        self.roles_facts = frozenset(g.roles_fact for g in vocabulary.grants)
        for name, convert in vocabulary.converters.items():
            namespace, _, bare = name.partition(".")
            column = (name, kept_type(vocabulary.facts[name].type), convert)
            if namespace in _DEVICE_NAMESPACES:
                self.columns[name] = column
            if namespace == "device":
                self.columns[bare] = column

    def values(self, data: Any) -> dict | None:
        """Typed values of a ``{"facts": {...}}`` or flat row, or None (see the class)."""
        if type(data) is not dict:
            return None
        nested = data.get("facts")
        flat = type(nested) is not dict
        raw: dict = data if flat or type(nested) is not dict else nested  # (the type test again: for mypy)
        typed: dict[str, Any] = {}
        columns = self.columns
        try:
            for key, value in raw.items():
                column = columns.get(key)
                if column is None:
                    if flat and key in ("id", "deviceName"):
                        continue
                    return None
                if type(value) is column[1]:  # already typed: kept without a call
                    typed[column[0]] = value
                elif value is not None:
                    typed[column[0]] = column[2](value)
        except ValueError:
            return None
        if not self.roles_facts.isdisjoint(typed):  # most rows name no role: nothing to grant
            apply_grants(typed, {}, self.vocabulary)
        return typed
