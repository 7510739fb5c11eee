"""The project's own policy JSON (``{"settings": {fact: value}}``): the repaired values written
in place, each under the key the file already uses for it (``tpm_startup_pin`` or
``policy.tpm_startup_pin``), a new one under its short name."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..versions import WindowsVersion
from ..vocabulary import Fact
from .values import emit_error


def repaired_settings(document: Mapping[str, Any], changes: Mapping[Fact, Any], file: str = "") -> dict[str, Any]:
    """A copy of the policy JSON with each changed fact's value (None removes it)."""
    new = copy.deepcopy(dict(document))
    settings = new.get("settings")
    if not isinstance(settings, dict):
        raise emit_error("the policy JSON has no `settings` object", file=file)
    for fact, value in changes.items():
        short = fact.name.split(".", 1)[1]
        key = fact.name if fact.name in settings else short
        if value is None:
            settings.pop(key, None)
        elif fact.type.kind == "collection":
            raise emit_error(f"{fact.name} is a list; writing lists back is not supported", file=file)
        else:
            settings[key] = str(value) if isinstance(value, WindowsVersion) else value
    return new
