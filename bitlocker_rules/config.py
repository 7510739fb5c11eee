"""Project configuration: ``bitlocker-rules.toml``, or ``[tool.bitlocker-rules]`` in ``pyproject.toml``.

Found from a folder upward, as ruff and black find theirs: in each folder ``bitlocker-rules.toml``
first, then a ``pyproject.toml`` that has the table. Every key is checked: an unknown one is an
error naming its path, with the closest known key; a value of the wrong kind names what was
expected. Paths in the file are relative to the folder it is in.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from .errors import Diagnostic, InputError, suggest
from .reading import parse_toml

OWN_FILE = "bitlocker-rules.toml"
PYPROJECT = "pyproject.toml"
TABLE = ("tool", "bitlocker-rules")
SEVERITIES = ("error", "warning", "info")
REPORT_FORMATS = ("text", "json", "markdown", "sarif", "junit", "html")

# key → (what it must be, the kind of TOML value)
_KEYS: Mapping[str, Any] = {
    "rulesets": "a list of shipped ruleset names or .rules files",
    "fail-on": f"one of {', '.join(SEVERITIES)}",
    "format": f"one of {', '.join(REPORT_FORMATS)}",
    "waivers": "a file name",
    "lint": {"enable": "a list of lint checks (names or codes)", "disable": "a list of lint checks (names or codes)"},
    "fmt": {"line-length": "a whole number of at least 20"},
}


@frozen
class ProjectConfig:
    """What a project's configuration sets (None or empty: not set, the command's default holds)."""

    file: str | None = None
    rulesets: tuple[str, ...] = ()
    fail_on: str | None = None
    format: str | None = None
    waivers: str | None = None
    lint_enable: tuple[str, ...] = ()
    lint_disable: tuple[str, ...] = ()
    line_length: int | None = None

    def lint_wanted(self, code: str, name: str) -> bool:
        """Whether a lint finding (its code and check name) is shown: its check enabled (every
        check, when none is named) and not disabled."""
        named = {code, name}
        return (not self.lint_enable or bool(named & set(self.lint_enable))) and not (named & set(self.lint_disable))


def config_for(file: Path) -> ProjectConfig:
    """The configuration that applies to ``file`` (the nearest up its folders; none when there
    is none, or when it cannot be read: an editor keeps working, ``lint`` reports the file)."""
    found = find_config(file.parent)
    if found is None:
        return ProjectConfig()
    try:
        return load_config(found)
    except InputError:
        return ProjectConfig()


def find_config(start: Path) -> Path | None:
    """The configuration file that applies in ``start``: the nearest up the folders."""
    for folder in (start.resolve(), *start.resolve().parents):
        own = folder / OWN_FILE
        if own.is_file():
            return own
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _has_table(pyproject):
            return pyproject
    return None


def _has_table(pyproject: Path) -> bool:
    try:
        data = parse_toml(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # not ours to judge: a pyproject.toml without the table is not a configuration
    return isinstance(data.get("tool"), dict) and TABLE[1] in data["tool"]


def load_config(path: Path) -> ProjectConfig:
    """The configuration in ``path``; ``InputError`` naming the file and key of each problem."""
    try:
        data = parse_toml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Diagnostic("C001", f"cannot read the configuration: {exc}", file=str(path))]) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Diagnostic("C002", f"not valid TOML: {exc}", file=str(path))]) from None
    prefix: tuple[str, ...] = ()
    if path.name == PYPROJECT:
        data, prefix = data.get("tool", {}).get(TABLE[1], {}), TABLE
    problems = _unknown_keys(data, _KEYS, prefix, str(path))
    if problems:
        raise InputError(problems)
    return _config(data, path, prefix)


def _unknown_keys(data: Mapping[str, Any], known: Mapping[str, Any], prefix: tuple[str, ...], file: str) -> list:
    problems = []
    for key, value in data.items():
        where = (*prefix, key)
        if key not in known:
            hint = suggest(key, known) or "known keys: " + ", ".join(known)
            problems.append(Diagnostic("C003", f"unknown key `{key}`", file=file, path=_dotted(where), help=hint))
        elif isinstance(known[key], Mapping):
            if not isinstance(value, dict):
                problems.append(_wrong(file, where, "a table"))
            else:
                problems += _unknown_keys(value, known[key], where, file)
    return problems


def _config(data: Mapping[str, Any], path: Path, prefix: tuple[str, ...]) -> ProjectConfig:
    folder, file = path.parent, str(path)
    lint, fmt = data.get("lint", {}), data.get("fmt", {})
    waivers = _text(data, "waivers", file, prefix)
    return ProjectConfig(
        file=file,
        rulesets=tuple(_relative(folder, r) for r in _texts(data, "rulesets", file, prefix)),
        fail_on=_choice(data, "fail-on", SEVERITIES, file, prefix),
        format=_choice(data, "format", REPORT_FORMATS, file, prefix),
        waivers=str(folder / waivers) if waivers is not None else None,
        lint_enable=_texts(lint, "enable", file, (*prefix, "lint")),
        lint_disable=_texts(lint, "disable", file, (*prefix, "lint")),
        line_length=_line_length(fmt, file, (*prefix, "fmt")),
    )


def _relative(folder: Path, ruleset: str) -> str:
    """A ``.rules`` file relative to the configuration's folder; a shipped name as it is."""
    return str(folder / ruleset) if ruleset.endswith(".rules") else ruleset


def _text(data: Mapping[str, Any], key: str, file: str, prefix: tuple[str, ...]) -> str | None:
    value = data.get(key)
    if value is not None and not (isinstance(value, str) and value):
        raise InputError([_wrong(file, (*prefix, key), _KEYS[key])])
    return value


def _texts(data: Mapping[str, Any], key: str, file: str, prefix: tuple[str, ...]) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InputError([_wrong(file, (*prefix, key), "a list of texts")])
    return tuple(value)


def _choice(
    data: Mapping[str, Any], key: str, choices: tuple[str, ...], file: str, prefix: tuple[str, ...]
) -> str | None:
    value = data.get(key)
    if value is None or value in choices:
        return value
    hint = suggest(str(value), choices) if isinstance(value, str) else None
    raise InputError([_wrong(file, (*prefix, key), _KEYS[key], hint)])


def _line_length(fmt: Mapping[str, Any], file: str, prefix: tuple[str, ...]) -> int | None:
    value = fmt.get("line-length")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 20):
        raise InputError([_wrong(file, (*prefix, "line-length"), "a whole number of at least 20")])
    return value


def _wrong(file: str, where: tuple[str, ...], expected: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic("C004", f"`{where[-1]}` must be {expected}", file=file, path=_dotted(where), help=hint)


def _dotted(where: tuple[str, ...]) -> str:
    """A key's path as TOML writes it: ``tool.bitlocker-rules.lint.disable``."""
    return ".".join(where)
