"""Lint findings as a SARIF 2.1.0 log."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import Any

from ..source import Location
from .results import CODES, Finding

_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def findings_to_sarif(findings: Iterable[Finding], tool_version: str = "") -> dict[str, Any]:
    """A SARIF 2.1.0 log: one run, one result per finding, located in the rule files."""
    findings = list(findings)
    codes = list(dict.fromkeys(f.code for f in findings))
    rules = []
    for code in codes:
        name, description, level = CODES.get(code, ("checker-error", "A rule file does not check", "error"))
        if code not in CODES:
            level = next(f.severity for f in findings if f.code == code)
        rules.append(
            {
                "id": code,
                "name": name,
                "shortDescription": {"text": description},
                "defaultConfiguration": {"level": _SARIF_LEVEL.get(level, "warning")},
            }
        )
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.code,
            "ruleIndex": codes.index(f.code),
            "level": _SARIF_LEVEL.get(f.severity, "warning"),
            "message": {"text": f.message},
            "locations": [_sarif_location(loc) for loc in f.locations[:1]],
        }
        if len(f.locations) > 1:
            result["relatedLocations"] = [
                {**_sarif_location(loc), "id": i, "message": {"text": f.rules[i] if i < len(f.rules) else ""}}
                for i, loc in enumerate(f.locations[1:], start=1)
            ]
        result["properties"] = {"rules": list(f.rules), **f.details}
        results.append(result)
    driver: dict[str, Any] = {"name": "bitlocker-rules", "rules": rules}
    if tool_version:
        driver["version"] = tool_version
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "columnKind": "unicodeCodePoints", "results": results}],
    }


def _sarif_location(loc: Location) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(loc.file)},
            "region": {
                "startLine": loc.start_line,
                "startColumn": loc.start_column,
                "endLine": loc.end_line,
                "endColumn": loc.end_column,
            },
        }
    }


def _uri(path: str) -> str:
    pure: PurePath = PureWindowsPath(path) if "\\" in path else PurePosixPath(path)
    if pure.is_absolute():
        return pure.as_uri()
    return "/".join(pure.parts)
