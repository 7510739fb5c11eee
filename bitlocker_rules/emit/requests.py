"""What ``repair --emit`` writes: one request per changed policy, as a file, and read back.

A file is ``{"schema": "bitlocker-rules/emit/1", "policy": {"id", "displayName", "kind",
"source"}, "method", "url", "body"}`` (``docs/schema/emit-1.json``): ``body`` is exactly what
Graph takes at ``url`` with ``method`` (``PATCH`` for a profile, ``PUT`` for a settings-catalog
policy, ``POST`` of an endpoint-security intent's ``updateSettings`` action); for the project's
own policy JSON ``method`` and ``url`` are null and ``body`` is the repaired file. ``apply_to``
applies a request to the policy it names as Graph would, which is how ``plan`` and the round-trip
tests read it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from ..errors import Diagnostic, InputError, redact
from ..reading import read_json

SCHEMA = "bitlocker-rules/emit/1"
METHODS = ("PATCH", "PUT", "POST")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Where a request may go (docs/schema/emit-1.json): a PATCH or PUT to one policy of the two
# collections the emitter writes, a POST to one intent's updateSettings action.
GRAPH_URL = re.compile(r"/beta/deviceManagement/(deviceConfigurations|configurationPolicies)/[^/?#]+")
ACTION_URL = re.compile(r"(/beta/deviceManagement/intents/[^/?#]+)/updateSettings")


@frozen
class PolicyRef:
    """The policy a request changes: its Graph id, display name, input kind and file."""

    id: str
    display_name: str
    kind: str
    source: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready data, with Graph's spelling of the display name."""
        return {"id": self.id, "displayName": self.display_name, "kind": self.kind, "source": self.source}


@frozen
class Emitted:
    """One policy's repaired settings in the shape it came in: a Graph request, or for the
    project's own JSON (``method`` None) the repaired file as ``body``."""

    policy: PolicyRef
    method: str | None
    url: str | None
    body: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The file's JSON (``docs/schema/emit-1.json``)."""
        return {
            "schema": SCHEMA,
            "policy": self.policy.to_dict(),
            "method": self.method,
            "url": self.url,
            "body": self.body,
        }

    def file_name(self) -> str:
        """``<policy id or file stem>.<kind>.json``, safe on every file system."""
        stem = self.policy.id or Path(self.policy.source).stem or "policy"
        return f"{_UNSAFE.sub('_', stem)}.{self.policy.kind}.json"

    @property
    def resource(self) -> str | None:
        """The path of the policy the request changes: its URL, or an action's URL without the action."""
        action = ACTION_URL.fullmatch(self.url or "")
        return action.group(1) if action else self.url

    def text(self) -> str:
        """The file's text; a recovery password, should a value hold one, is masked."""
        return redact(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")


def apply_to(original: Mapping[str, Any], emitted: Emitted) -> dict[str, Any]:
    """The policy after Graph applied the request: a PATCH sets each property it names (whole,
    as the emitter sends complex properties and collections whole); a PUT replaces what it
    carries; an intent's ``updateSettings`` replaces each setting of the ``definitionId`` it
    sends and adds the others; the project's JSON is the body itself."""
    body = copy.deepcopy(dict(emitted.body))
    if emitted.method is None:
        return body
    if emitted.method == "POST":
        return {**copy.deepcopy(dict(original)), "settings": updated_settings(original.get("settings"), body)}
    body.pop("@odata.type", None)
    return {**copy.deepcopy(dict(original)), **body}


def updated_settings(settings: Any, body: Mapping[str, Any]) -> list[Any]:
    """An intent's settings after ``updateSettings``: each sent setting in place of the one of
    its ``definitionId`` (the one Graph holds keeps its place), or added after them."""
    result = copy.deepcopy(list(settings)) if isinstance(settings, list) else []
    where = {s.get("definitionId"): n for n, s in enumerate(result) if isinstance(s, Mapping)}
    for sent in body.get("settings") or ():
        number = where.get(sent.get("definitionId"))
        if number is None:
            where[sent.get("definitionId")] = len(result)
            result.append(copy.deepcopy(sent))
        else:
            result[number] = copy.deepcopy(sent)
    return result


def write_emitted(directory: str | Path, emitted: Sequence[Emitted]) -> list[Path]:
    """Write each request as a file in ``directory`` (made if missing); return the paths."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for item in emitted:
        path = folder / item.file_name()
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(item.text(), encoding="utf-8")
        temporary.replace(path)
        written.append(path)
    return written


def read_emitted(path: str | Path) -> Emitted:
    """A file ``repair --emit`` wrote, checked: each problem names its JSON path."""
    data, source = read_json(path)
    problems = _problems(data)
    if problems:
        raise InputError(
            [
                Diagnostic("I420", message, path=where, file=source.name, help=f"expected a {SCHEMA} file")
                for where, message in problems
            ]
        )
    policy = data["policy"]
    return Emitted(
        PolicyRef(policy["id"], policy["displayName"], policy["kind"], policy["source"]),
        data["method"],
        data["url"],
        data["body"],
    )


_URL_EXPECTED = {
    "PATCH": "must be /beta/deviceManagement/<collection>/<id> for a PATCH",
    "PUT": "must be /beta/deviceManagement/<collection>/<id> for a PUT",
    "POST": "must be /beta/deviceManagement/intents/<id>/updateSettings for a POST",
}


def _url_fits(method: str, url: Any) -> bool:
    """Whether ``url`` is where ``method`` may go: an intent's action takes POST, a policy PATCH or PUT."""
    pattern = ACTION_URL if method == "POST" else GRAPH_URL
    return isinstance(url, str) and pattern.fullmatch(url) is not None


def _problems(data: Any) -> list[tuple[tuple, str]]:
    if not isinstance(data, Mapping):
        return [((), "must be a JSON object")]
    found: list[tuple[tuple, str]] = []
    if data.get("schema") != SCHEMA:
        found.append((("schema",), f"must be {json.dumps(SCHEMA)}"))
    policy = data.get("policy")
    if not isinstance(policy, Mapping):
        found.append((("policy",), "must be an object with id, displayName, kind and source"))
    else:
        found += [
            (("policy", k), "must be a string")
            for k in ("id", "displayName", "kind", "source")
            if not isinstance(policy.get(k), str)
        ]
    method, url = data.get("method"), data.get("url")
    if method is not None and method not in METHODS:
        found.append((("method",), "must be PATCH, PUT, POST or null"))
    elif (method is None) != (url is None) or (url is not None and not _url_fits(str(method), url)):
        found.append((("url",), _URL_EXPECTED.get(str(method), "must be null when method is null")))
    body = data.get("body")
    if not isinstance(body, Mapping):
        found.append((("body",), "must be a JSON object"))
    elif method == "POST" and not (
        isinstance(body.get("settings"), list) and all(isinstance(s, Mapping) for s in body["settings"])
    ):
        found.append((("body", "settings"), "must be a list of setting instances (objects)"))
    extra = sorted(set(data) - {"schema", "policy", "method", "url", "body"})
    found += [((key,), "is not a member of an emitted request") for key in extra]
    return found
