"""Patch files: a Graph PATCH body applied over one of today's policies as exported.

A patch file is either a wrapper ``{"policy": "<policy id>", "patch": {...}}`` or a bare PATCH
body whose file name is the policy's id (``<id>.json`` or ``<id>.patch.json``). The body is
applied as Graph applies a PATCH to a policy: each property given replaces the exported one,
except that an object given over an object is applied member by member (a nested drive policy
may be given in part), and a list of settings given over a list of settings is applied per
setting, matched by its key: a settings-catalog setting by its instance's
``settingDefinitionId`` (a choice's children likewise), an OMA-URI setting by its ``omaUri``, an
intent's setting by its ``definitionId``;
a setting of a new key is added. Anything else given replaces what was there.

A file ``repair --emit`` wrote (``"schema": "bitlocker-rules/emit/1"``) is a patch too: its
request applied as Graph applies it (``emit.apply_to``: a PATCH sets each property it names, a
PUT replaces what it carries, an intent's ``updateSettings`` replaces each setting it sends by
``definitionId``, the project's own JSON is the repaired file), so ``repair --emit`` then ``plan
--patch`` shows the repair's effect on every device; with ``--snapshot`` today's export of a
policy is its record in the snapshot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attrs import frozen

from ..emit.requests import SCHEMA as EMITTED
from ..emit.requests import Emitted, apply_to, read_emitted
from ..errors import Diagnostic, InputError
from ..reading import read_json

_WRAPPER_KEYS = frozenset({"policy", "patch"})


@frozen
class Patch:
    """A patch file read: the policy it names, its body, where it came from, and whether it was wrapped."""

    policy_id: str
    body: dict
    origin: str
    wrapped: bool
    emitted: Emitted | None = None  # a file repair --emit wrote: its request, applied as Graph would

    def applied(self, exported: Any) -> Any:
        """The exported policy with this patch applied (an endpoint-security intent changed by its
        ``updateSettings``, which the importers read as an intent)."""
        return apply_to(exported, self.emitted) if self.emitted is not None else patched(exported, self.body)


def read_patch(path: str) -> Patch:
    """Read a patch file; InputError naming the bad field."""
    data, source = read_json(path)
    if isinstance(data, dict) and data.get("schema") == EMITTED:
        emitted = read_emitted(path)
        return Patch(emitted.policy.id, dict(emitted.body), source.name, True, emitted)
    if isinstance(data, dict) and set(data) == _WRAPPER_KEYS:
        if not isinstance(data["policy"], str) or not data["policy"].strip():
            raise _bad(source.name, "$.policy", "expected the id of the policy the patch applies to (a string)")
        if not isinstance(data["patch"], dict):
            raise _bad(source.name, "$.patch", "expected a Graph PATCH body (a JSON object)")
        return Patch(data["policy"].strip(), data["patch"], source.name, True)
    if not isinstance(data, dict):
        raise _bad(source.name, "$", 'expected a Graph PATCH body or {"policy": "<id>", "patch": {...}}')
    return Patch(_target(path), data, source.name, False)


def _target(path: str) -> str:
    """The policy id a bare body's file name gives."""
    name = Path(path).name
    for suffix in (".patch.json", ".json"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _bad(origin: str, path: str, message: str) -> InputError:
    return InputError([Diagnostic("I801", message, file=origin, path=path)])


def patched(exported: Any, body: Any) -> Any:
    """``exported`` with ``body`` applied over it (a new value; neither is changed)."""
    if isinstance(exported, dict) and isinstance(body, dict):
        result = dict(exported)
        for key, value in body.items():
            result[key] = patched(exported[key], value) if key in exported else value
        return result
    if isinstance(exported, list) and isinstance(body, list) and _keyed(exported) and _keyed(body):
        return _patched_settings(exported, body)
    return body


def _setting_key(item: Any) -> str | None:
    """A setting's key in a list of settings (None: not a setting)."""
    if not isinstance(item, dict):
        return None
    instance = item.get("settingInstance")
    found = instance.get("settingDefinitionId") if isinstance(instance, dict) else None
    found = found or item.get("settingDefinitionId") or item.get("omaUri") or item.get("definitionId")
    return found if isinstance(found, str) else None


def _keyed(items: list) -> bool:
    return bool(items) and all(_setting_key(item) is not None for item in items)


def _patched_settings(exported: list, body: list) -> list:
    """Each setting of ``body`` applied over the exported setting of its key, or added."""
    result = list(exported)
    where = {_setting_key(item): i for i, item in enumerate(result)}
    for item in body:
        key = _setting_key(item)
        if key in where:
            result[where[key]] = patched(result[where[key]], item)
        else:
            where[key] = len(result)
            result.append(item)
    return result
