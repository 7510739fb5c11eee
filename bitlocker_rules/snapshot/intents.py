"""An endpoint-security intent read as the Endpoint protection profile its settings make."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

PROFILE_TYPE = "#microsoft.graph.windows10EndpointProtectionConfiguration"
INTENT_TYPE = "#microsoft.graph.deviceManagementIntent"
# What every setting of a disk encryption intent's definitionId starts with, before the property.
DEFINITION_PREFIX = "deviceConfiguration--windows10EndpointProtectionConfiguration_"


def is_intent(record: Any) -> bool:
    """Whether ``record`` is an endpoint-security intent (``deviceManagementIntent``): its type,
    or, as a pull stores it without one, a ``templateId`` and a list of settings."""
    if not isinstance(record, Mapping):
        return False
    if record.get("@odata.type") is not None:
        return record["@odata.type"] == INTENT_TYPE
    return "templateId" in record and isinstance(record.get("settings"), list)


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


def intent_as_profile(intent: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """An endpoint-security intent as the Endpoint protection profile its settings are made of.

    Each setting of a disk encryption intent names the profile property it sets
    (``definitionId`` ``deviceConfiguration--windows10EndpointProtectionConfiguration_<property>``)
    and carries the value as JSON text (``valueJson``: Graph's ``deviceManagementSettingInstance``),
    so the intent reads as that profile through the importers that read profiles. A nested drive
    policy comes whole, as a complex setting whose ``valueJson`` is the object; a property of a
    nested object may also be named by its path (``..._bitLockerSystemDrivePolicy_encryptionMethod``);
    a setting of another shape is noted, not guessed."""
    profile: dict[str, Any] = {
        "@odata.type": PROFILE_TYPE,
        "id": intent.get("id"),
        "displayName": intent.get("displayName"),
    }
    settings = intent.get("settings")
    for setting in settings if isinstance(settings, list) else ():
        definition = setting.get("definitionId") if isinstance(setting, dict) else None
        path = setting_path(definition)
        try:
            value = json.loads(setting["valueJson"]) if path else _UNREAD
        except (KeyError, TypeError, ValueError):
            value = _UNREAD
        if value is _UNREAD:
            notes.append(f"intents `{profile['displayName'] or profile['id']}`: setting `{definition}` is not read")
        elif value is not None:  # null: not configured
            _place(profile, list(path or ()), value)
    return profile


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


_UNREAD = object()
