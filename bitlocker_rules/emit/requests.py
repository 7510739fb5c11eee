"""What ``repair --emit`` writes: one request per changed policy, as a file, and read back.

A file is ``{"schema": "bitlocker-rules/emit/1", "policy": {"id", "displayName", "kind",
"source"}, "method", "url", "body"}`` (``docs/schema/emit-1.json``): ``body`` is exactly what
Graph takes at ``url`` with ``method`` (``PATCH`` for a profile, ``PUT`` for a settings-catalog
policy); for the project's own policy JSON ``method`` and ``url`` are null and ``body`` is the
repaired file. ``apply_to`` applies a request to the policy it names as Graph would, which is how
``plan`` and the round-trip tests read it.
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
METHODS = ("PATCH", "PUT")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Where a request may go: one policy of the two collections the emitter writes (docs/schema/emit-1.json).
GRAPH_URL = re.compile(r"/beta/deviceManagement/(deviceConfigurations|configurationPolicies)/[^/?#]+")


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

    def text(self) -> str:
        """The file's text; a recovery password, should a value hold one, is masked."""
        return redact(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")


def apply_to(original: Mapping[str, Any], emitted: Emitted) -> dict[str, Any]:
    """The policy after Graph applied the request: a PATCH sets each property it names (whole,
    as the emitter sends complex properties and collections whole); a PUT replaces what it
    carries; the project's JSON is the body itself."""
    body = copy.deepcopy(dict(emitted.body))
    if emitted.method is None:
        return body
    body.pop("@odata.type", None)
    return {**copy.deepcopy(dict(original)), **body}


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
        found.append((("method",), "must be PATCH, PUT or null"))
    if (method is None) != (url is None) or (
        url is not None and not (isinstance(url, str) and GRAPH_URL.fullmatch(url))
    ):
        found.append((("url",), "must be /beta/deviceManagement/<collection>/<id> when method is given, else null"))
    if not isinstance(data.get("body"), Mapping):
        found.append((("body",), "must be a JSON object"))
    extra = sorted(set(data) - {"schema", "policy", "method", "url", "body"})
    found += [((key,), "is not a member of an emitted request") for key in extra]
    return found
