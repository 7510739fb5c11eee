"""An endpoint-security intent read as the Endpoint protection profile its settings make.

The older endpoint-security policies (``deviceManagement/intents``, Graph's
``deviceManagementIntent`` with its ``settings`` expanded) carry each setting as a
``deviceManagementSettingInstance``: a ``definitionId`` naming the profile property it sets
(``deviceConfiguration--windows10EndpointProtectionConfiguration_<property>``) and the value as JSON
text (``valueJson``). So an intent reads as that profile through the walker that reads profiles,
and each value it gives is placed back at the setting that held it (``$.settings[1].valueJson``,
its ``definitionId`` and the property inside the value named), as a ``--policy`` file and a
snapshot's ``intents.jsonl`` alike. A setting of another shape is noted, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen

from ..jsonpath import JsonPath
from ..outcome import ValueOrigin
from ..reading import loads_json
from . import graph
from .detect import ENDPOINT_SECURITY_INTENT, detect
from .imported import INCOMPLETE, UNREADABLE, Collector, child_path, clean

PROFILE_TYPE = "#microsoft.graph.windows10EndpointProtectionConfiguration"
GRAPH_TYPE = PROFILE_TYPE.rsplit(".", 1)[-1]  # the profile an intent's settings make
# What every setting of a disk encryption intent's definitionId starts with, before the property.
DEFINITION_PREFIX = "deviceConfiguration--windows10EndpointProtectionConfiguration_"

ProfilePath = tuple[str | int, ...]


def is_intent(record: Any) -> bool:
    """Whether ``record`` is an endpoint-security intent (``deviceManagementIntent``), as the
    importers detect one: its type, or, as a pull stores it without one, its shape."""
    return detect(record).kind == ENDPOINT_SECURITY_INTENT


def setting_path(definition_id: Any) -> tuple[str, ...] | None:
    """The profile property a setting's ``definitionId`` names, as its path
    (``..._bitLockerSystemDrivePolicy`` → ``("bitLockerSystemDrivePolicy",)``); None for a
    definition of another template. Graph's property names have no ``_``, so each ``_`` after
    the prefix separates a nested property from its parent."""
    text = str(definition_id)
    if not text.startswith(DEFINITION_PREFIX) or len(text) == len(DEFINITION_PREFIX):
        return None
    return tuple(text[len(DEFINITION_PREFIX) :].split("_"))


def definition_id(path: tuple[str, ...]) -> str:
    """The ``definitionId`` of the setting for the profile property at ``path`` (``setting_path``'s inverse)."""
    return DEFINITION_PREFIX + "_".join(path)


def setting_at(intent: JsonPath, number: int) -> JsonPath:
    """The path of an intent's setting ``number``, the intent at ``intent``."""
    return child_path(child_path(intent, "settings"), number)


@frozen
class UnreadSetting:
    """A setting of an intent that is not read, and why."""

    number: int  # its index in the intent's ``settings``
    definition: str
    why: str


@frozen
class IntentReading:
    """An intent as the profile its settings make, which setting gave each value of it, and the
    settings not read."""

    profile: dict[str, Any]
    givers: Mapping[ProfilePath, int]  # each value's place in the profile → the index of its setting
    definitions: tuple[str, ...]  # each setting's definitionId, by index
    depths: tuple[int, ...]  # how many keys of a place each setting's definitionId names, by index
    unread: tuple[UnreadSetting, ...]

    def origin(self, place: ProfilePath, base: JsonPath) -> ValueOrigin:
        """Where in the intent (at ``base`` in its input) the profile's value at ``place`` came
        from: the setting's ``valueJson``, noted with its ``definitionId`` and, for a value inside
        an object, the property's path in it."""
        for length in range(len(place), 0, -1):
            number = self.givers.get(place[:length])
            if number is not None:
                inside = ".".join(str(key) for key in place[self.depths[number] :])
                note = f"(setting {self.definitions[number]}" + (f", {inside} in its value)" if inside else ")")
                return ValueOrigin(path=child_path(setting_at(base, number), "valueJson"), note=note)
        # Not given by a setting: the profile type, which the intent's template makes.
        return ValueOrigin(path=child_path(base, "templateId"), note="(the template of the intent)")


def read_intent(intent: Mapping[str, Any]) -> IntentReading:
    """An endpoint-security intent as the Endpoint protection profile its settings are made of.

    Each setting of a disk encryption intent names the profile property it sets and carries the
    value as JSON text, so the intent reads as that profile. A nested drive policy comes whole,
    as a complex setting whose ``valueJson`` is the object; a property of a nested object may also
    be named by its path (``..._bitLockerSystemDrivePolicy_encryptionMethod``, INFERRED: see
    docs/emit.md); a setting of another shape is kept in ``unread``, not guessed."""
    profile: dict[str, Any] = {"@odata.type": PROFILE_TYPE, "id": intent.get("id")}
    profile["displayName"] = intent.get("displayName")
    givers: dict[ProfilePath, int] = {}
    definitions: list[str] = []
    depths: list[int] = []
    unread: list[UnreadSetting] = []
    settings = intent.get("settings")
    for number, setting in enumerate(settings if isinstance(settings, list) else ()):
        definition = setting.get("definitionId") if isinstance(setting, Mapping) else None
        definitions.append(clean(definition))
        path = setting_path(definition)
        depths.append(len(path or ()))
        if path is None:
            why = "names no property of the Endpoint protection profile" if definition else "has no `definitionId`"
            unread.append(UnreadSetting(number, clean(definition), why))
            continue
        if "valueJson" not in setting:
            unread.append(UnreadSetting(number, clean(definition), "has no `valueJson`"))
            continue
        try:
            value = loads_json(setting["valueJson"])
        except (TypeError, ValueError):
            unread.append(UnreadSetting(number, clean(definition), "has a `valueJson` that is not JSON text"))
            continue
        if value is not None:  # null: not configured
            _place(profile, list(path), value)
            _given(givers, path, value, number)
    return IntentReading(profile, givers, tuple(definitions), tuple(depths), tuple(unread))


def intent_as_profile(intent: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """The profile ``read_intent`` makes of an intent; a sentence in ``notes`` for each setting not read."""
    reading = read_intent(intent)
    name = intent.get("displayName") or intent.get("id")
    notes += [f"intents `{name}`: setting `{u.definition}` is not read ({u.why})" for u in reading.unread]
    return reading.profile


def import_intent(intent: Mapping[str, Any], collector: Collector, path: JsonPath) -> None:
    """An intent's settings as facts, each at the setting that gave it: the profile its settings
    make walked as a profile is, its places moved back into the intent."""
    if not isinstance(intent.get("settings"), list):
        collector.note(
            INCOMPLETE,
            "the intent's settings are not in this export; read it with $expand=settings",
            path,
        )
        return
    reading = read_intent(intent)
    for unread in reading.unread:
        collector.note(
            UNREADABLE, f"setting `{unread.definition}` is not read: it {unread.why}", setting_at(path, unread.number)
        )
    as_profile = Collector(collector.index, collector.origin, collector.namespaces)
    graph.walk(reading.profile, GRAPH_TYPE, as_profile)
    as_profile.move_into(collector, lambda place: reading.origin(place, path))


def _place(profile: dict[str, Any], path: list[str], value: Any) -> None:
    """``value`` at ``path`` in ``profile``, merged into an object a whole setting gave there."""
    *parents, last = path
    for key in parents:
        child = profile.get(key)
        if not isinstance(child, dict):  # absent, or null in a whole object given before
            child = profile[key] = {}
        profile = child
    if isinstance(value, dict) and isinstance(profile.get(last), dict):
        profile[last].update(value)
    else:
        profile[last] = value


def _given(givers: dict[ProfilePath, int], path: ProfilePath, value: Any, number: int) -> None:
    """Each place ``value`` fills in the profile (its members, for an object) given by setting ``number``."""
    if isinstance(value, dict) and value:
        for key, member in value.items():
            _given(givers, (*path, key), member, number)
    else:
        givers[path] = number
