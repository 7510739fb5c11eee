"""An endpoint-security intent read as the Endpoint protection profile its settings make."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def intent_as_profile(intent: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """An endpoint-security intent as the Endpoint protection profile its settings are made of.

    Each setting of a disk encryption intent names the profile property it sets
    (``definitionId`` ``deviceConfiguration--windows10EndpointProtectionConfiguration_<property>``)
    and carries the value as JSON text (``valueJson``: Graph's ``deviceManagementSettingInstance``),
    so the intent reads as that profile through the importers that read profiles. A property of
    a nested object is named by its path (``..._bitLockerSystemDrivePolicy_encryptionMethod``:
    Graph's property names have no ``_``); a setting of another shape is noted, not guessed."""
    profile: dict[str, Any] = {
        "@odata.type": _PROFILE_TYPE,
        "id": intent.get("id"),
        "displayName": intent.get("displayName"),
    }
    settings = intent.get("settings")
    for setting in settings if isinstance(settings, list) else ():
        definition = setting.get("definitionId") if isinstance(setting, dict) else None
        prefix, _, name = str(definition).partition("_")
        try:
            value = json.loads(setting["valueJson"]) if prefix == _INTENT_PREFIX and name else _UNREAD
        except (KeyError, TypeError, ValueError):
            value = _UNREAD
        if value is _UNREAD:
            notes.append(f"intents `{profile['displayName'] or profile['id']}`: setting `{definition}` is not read")
        elif value is not None:  # null: not configured
            _place(profile, name.split("_"), value)
    return profile


def _place(profile: dict[str, Any], path: list[str], value: Any) -> None:
    """``value`` at ``path`` in ``profile``, merged into an object a whole setting gave there."""
    *parents, last = path
    for key in parents:
        child = profile.get(key)
        profile = profile.setdefault(key, {}) if not isinstance(child, dict) else child
    if isinstance(value, dict) and isinstance(profile.get(last), dict):
        profile[last].update(value)
    else:
        profile[last] = value


_PROFILE_TYPE = "#microsoft.graph.windows10EndpointProtectionConfiguration"
_INTENT_PREFIX = "deviceConfiguration--windows10EndpointProtectionConfiguration"
_UNREAD = object()
