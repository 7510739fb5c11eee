"""Facts about one device: typed values by fact name, where each came from, and conflicts.

The project's own JSON formats are read here (a policy's ``settings`` and a device's
``facts``, keyed by fact name); importers for Graph exports produce the same records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from attrs import field, frozen

from .errors import Diagnostic, InputError, redact, suggest
from .source import SourceText, Span
from .vocabulary import Vocabulary

MAX_INPUT_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 64
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')


@frozen
class Conflict:
    """Two or more sources give one fact different values; the fact counts as unknown."""

    fact: str
    values: tuple[tuple[str, Any], ...]  # (source description, value)


@frozen
class Facts:
    """Typed fact values by name (an absent name is missing), their origins and conflicts."""

    values: Mapping[str, Any] = field(factory=dict, converter=lambda m: MappingProxyType(dict(m)))
    origins: Mapping[str, str] = field(factory=dict, converter=lambda m: MappingProxyType(dict(m)))
    conflicts: tuple[Conflict, ...] = ()
    name: str = ""
    # The policies merged into these facts, each with its own settings, when there are several:
    # rules that read a per-policy fact (the profile type) are decided on each of them.
    profiles: tuple[Facts, ...] = field(default=(), eq=False, repr=False)
    # The same values as a plain dict, for the evaluators' hot path (a read-only proxy's
    # .get costs about twice a dict's). Never mutated.
    table: dict[str, Any] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "table", dict(self.values))

    def get(self, fact: str) -> Any:
        """The value of ``fact``, or None when it is missing."""
        return self.values.get(fact)


def facts_from_mapping(
    mapping: Mapping[str, Any],
    vocabulary: Vocabulary,
    *,
    origin: str = "<input>",
    default_namespace: str = "device",
    allowed: Iterable[str] | None = None,
    path: str = "$",
    name: str = "",
) -> Facts:
    """Typed Facts from ``{fact name: raw value}``; raise InputError listing every bad entry.

    Names without a namespace get ``default_namespace``; ``None`` values are missing.
    """
    allowed = tuple(allowed) if allowed else None
    values, origins, problems = {}, {}, []
    for key, raw in mapping.items():
        fact_name = key if "." in key else f"{default_namespace}.{key}"
        where = _key_path(path, key)
        fact = vocabulary.fact(fact_name)
        if fact is None or (allowed and fact.namespace not in allowed):
            problems.append(_unknown_fact(fact_name, where, origin, vocabulary, allowed))
            continue
        if raw is None:
            continue
        try:
            values[fact.name] = vocabulary.parse_value(fact, raw)
        except ValueError as exc:
            problems.append(Diagnostic(
                "I201", f"{_shown(raw)} is not a valid value for {fact.name} ({fact.label})",
                path=where, file=origin, help=f"expected {exc}",
            ))
            continue
        origins[fact.name] = f"{name or origin} {where}"
    if problems:
        raise InputError(problems)
    apply_grants(values, origins, vocabulary)
    return Facts(values, origins, name=name)


def derived(values: Mapping[str, Any]) -> dict[str, Any]:
    """Facts that follow from others the input gives, and that it does not give itself.

    The OS build revision is the fourth number of the OS version; a version written without
    one (a release name, three numbers) parses with 0 there, which no released build has, so
    0 means "not known".
    """
    version = values.get("device.os_version")
    if version is not None and version.revision and "device.os_build_revision" not in values:
        return {"device.os_build_revision": version.revision}
    return {}


def apply_grants(values: dict[str, Any], origins: dict[str, str], vocabulary: Vocabulary) -> None:
    """Add the permissions the vocabulary's ``[[grants]]`` give the roles named in ``values``.

    When a roles fact (e.g. ``actor.intune_roles``) names a granting role, the permissions fact
    it grants into gains the granted permissions: the union with any permissions given, matched
    by name without regard to case. Built-in roles are a closed list: when no permissions were
    given, every roles fact that grants into the permissions fact is given, and every role they
    name is listed for it, the permissions fact holds exactly what those roles grant, possibly
    nothing. Otherwise a permissions fact that was not given and gains nothing stays missing (a
    custom role, or roles nobody listed, may carry permissions).
    """
    if all(g.roles_fact not in values for g in vocabulary.grants):
        return  # no roles given: nothing to grant, nothing to close
    for permissions_fact in dict.fromkeys(g.permissions_fact for g in vocabulary.grants):
        grants = [g for g in vocabulary.grants if g.permissions_fact == permissions_fact]
        roles_facts = list(dict.fromkeys(g.roles_fact for g in grants))
        named = {fact: [r.get("name") for r in values.get(fact) or ()] for fact in roles_facts}
        matched = [g for g in grants if any(_same_name(name, g.role) for name in named[g.roles_fact])]
        given = values.get(permissions_fact)
        held = tuple(given or ())
        names = {str(r.get("name", "")).casefold() for r in held}
        added = tuple(dict.fromkeys(p for g in matched for p in g.permissions if p.casefold() not in names))
        closed = given is None and all(
            values.get(fact) is not None
            and all(any(_same_name(name, g.role) for g in grants if g.roles_fact == fact) for name in named[fact])
            for fact in roles_facts
        )
        if not added and not closed:
            continue
        values[permissions_fact] = held + tuple(MappingProxyType({"name": p}) for p in added)
        roles = ", ".join(g.role for g in matched) or "none"
        via = (f"built-in roles ({roles}) in {' and '.join(roles_facts)}, which grant only what the vocabulary "
               f"lists" if closed else
               f"role {', '.join(g.role for g in matched if set(g.permissions) & set(added))} (vocabulary grant)")
        before = origins.get(permissions_fact)
        origins[permissions_fact] = f"{before}; {via}" if before else via


def _same_name(a: Any, b: str) -> bool:
    return isinstance(a, str) and a.strip().casefold() == b.casefold()


def _unknown_fact(fact_name, where, origin, vocabulary, allowed) -> Diagnostic:
    choices = [f for f, d in vocabulary.facts.items() if not allowed or d.namespace in allowed]
    hint = suggest(fact_name, choices)
    if hint is None:
        tails = {f.split(".", 1)[1]: f for f in choices}
        close = suggest(fact_name.split(".", 1)[1], tails)
        hint = close and f"did you mean `{tails[close.split('`')[1]]}`?"
    declared = vocabulary.fact(fact_name)
    if declared is not None:
        home = "a --policy file's `settings`" if declared.policy_controlled else "a --device file's `facts`"
        return Diagnostic("I203", f"`{fact_name}` does not belong here", path=where, file=origin,
                          help=f"it is a {declared.namespace} fact: put it in {home}")
    return Diagnostic("I202", f"unknown fact `{fact_name}`", path=where, file=origin, help=hint)


def _key_path(path: str, key: str) -> str:
    """``$.facts.key`` or ``$.facts["a.key"]``; a recovery password in the key is masked before
    it is quoted (JSON would escape other scripts' digits out of the mask's sight)."""
    key = redact(key)
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]" if "." in key else f"{path}.{key}"


def _shown(raw: Any) -> str:
    """A bad value as a message quotes it: JSON as written (other scripts' digits not escaped,
    so the mask sees them), recovery passwords masked, then shortened."""
    shown = redact(json.dumps(raw, ensure_ascii=False))
    return shown if len(shown) <= 80 else shown[:77] + "..."


def merge_facts(parts: Iterable[Facts], name: str = "") -> Facts:
    """Combine facts from several sources; equal values agree, different values conflict.

    A part's own conflicts stay conflicts (merging already merged policies with a device
    keeps them), joined by whatever the other parts give for the same fact. Each part that
    sets policy facts is kept as a profile (a merged part brings its own profiles).
    """
    parts = list(parts)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    given: dict[str, list[tuple[str, Any]]] = {}  # only facts that more than one source sets
    for part in parts:
        for conflict in part.conflicts:
            given.setdefault(conflict.fact, []).extend(conflict.values)
            if conflict.fact in values:
                given[conflict.fact].insert(0, (origins.pop(conflict.fact), values.pop(conflict.fact)))
        for fact, value in part.values.items():
            source = part.origins.get(fact, part.name)
            if fact in given:
                given[fact].append((source, value))
            elif fact in values:
                given[fact] = [(origins.pop(fact), values.pop(fact)), (source, value)]
            else:
                values[fact], origins[fact] = value, source
    conflicts = []
    for fact, sources in given.items():
        # repr tells apart values that == would equate (True and 1, 1 and 1.0).
        if len({repr(v) for _, v in sources}) > 1:
            conflicts.append(Conflict(fact, tuple(sources)))
        else:
            values[fact], origins[fact] = sources[0][1], "; ".join(src for src, _ in sources)
    return Facts(values, origins, tuple(conflicts), name=name, profiles=_profiles(parts))


def _profiles(parts: list[Facts]) -> tuple[Facts, ...]:
    """The policies among ``parts`` (more than one, or none: one policy is the merged facts)."""
    found = [p for part in parts for p in (part.profiles or ([part] if _sets_policy(part) else []))]
    return tuple(found) if len(found) > 1 else ()


def _sets_policy(part: Facts) -> bool:
    return any(f.startswith("policy.") for f in part.values) or any(
        c.fact.startswith("policy.") for c in part.conflicts)


# ---------------------------------------------------------------------------
# JSON input files.


def read_json(path: str | Path) -> tuple[Any, SourceText]:
    """Parse a JSON file; errors carry file, line and column; size and depth are limited."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError([Diagnostic("I001", f"larger than {MAX_INPUT_BYTES} bytes", file=str(path))])
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError([Diagnostic("I002", f"cannot read the file: {exc.strerror}", file=str(path))]) from None
    except UnicodeDecodeError:
        raise InputError([Diagnostic("I003", "not UTF-8 text", file=str(path))]) from None
    return parse_json(text, str(path)), SourceText(text, str(path))


def parse_json(text: str, name: str = "<input>") -> Any:
    """Parse JSON text with the same errors and limits as ``read_json``."""
    source = SourceText(text, name)
    depth_at = _too_deep(text)
    if depth_at is not None:
        raise InputError([Diagnostic("I004", f"JSON nested deeper than {MAX_JSON_DEPTH} levels",
                                     source=source, span=Span(depth_at, depth_at + 1))])
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError([Diagnostic("I005", f"malformed JSON: {exc.msg}", source=source,
                                     span=Span(exc.pos, exc.pos + 1))]) from None


def _too_deep(text: str) -> int | None:
    """Offset of the first bracket past MAX_JSON_DEPTH, ignoring brackets inside strings."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return None
    depth = 0
    blanked = _STRINGS.sub(lambda m: " " * len(m.group()), text)
    for match in re.finditer(r"[\[\]{}]", blanked):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            return match.start()
    return None


def load_policy_file(path: str | Path, vocabulary: Vocabulary) -> Facts:
    """Read the project's own policy JSON: ``{"id", "displayName", "settings": {fact: value}}``."""
    data, _ = read_json(path)
    settings = _section(data, "settings", path)
    name = f"policy {data.get('displayName') or data.get('id') or Path(path).name!r}"
    return facts_from_mapping(settings, vocabulary, origin=str(path), default_namespace="policy",
                              allowed=("policy",), path="$.settings", name=name)


def load_device_file(path: str | Path, vocabulary: Vocabulary) -> Facts:
    """Read the project's own device JSON: ``{"id", "deviceName", "facts": {fact: value}}``."""
    data, _ = read_json(path)
    facts = _section(data, "facts", path)
    name = f"device {data.get('deviceName') or data.get('id') or Path(path).name!r}"
    return facts_from_mapping(facts, vocabulary, origin=str(path), default_namespace="device",
                              allowed=("device", "actor", "action", "tenant"), path="$.facts", name=name)


def _section(data: Any, key: str, path) -> Mapping[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise InputError([Diagnostic(
            "I101", f"expected a JSON object with an object `{key}`", path=f"$.{key}", file=str(path),
            help=f'write {{"{key}": {{"<fact name>": <value>, …}}}}; see docs/input-formats.md',
        )])
    return data[key]
