"""Facts about one device: typed values by fact name, where each came from, and conflicts.

The project's own JSON formats are read here (a policy's ``settings`` and a device's
``facts``, keyed by fact name); importers for Graph exports produce the same records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any

from attrs import field, frozen

from .errors import Diagnostic, InputError, ProblemList, redact, shortened, suggest
from .jsonpath import JsonPath, json_path_text, path_segments
from .outcome import Origins, ValueOrigin, as_origins, require, usage_error
from .reading import input_name, read_json
from .vocabulary import Vocabulary, shipped_vocabulary


@frozen
class Conflict:
    """Two or more sources give one fact different values; the fact counts as unknown."""

    fact: str
    values: tuple[tuple[Origins, Any], ...]  # (where the value came from, value)


def _read_only(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(values))


def _read_only_origins(origins: Mapping[str, Origins | str]) -> Mapping[str, Origins]:
    return MappingProxyType({fact: as_origins(origin) for fact, origin in origins.items()})


@frozen
class Facts:
    """Typed fact values by name (an absent name is missing), their origins and conflicts."""

    values: Mapping[str, Any] = field(factory=dict, converter=_read_only)
    # A text given for an origin (a record built by hand) is kept as a note: nothing parses it.
    origins: Mapping[str, Origins] = field(factory=dict, converter=_read_only_origins)
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
    mapping: Mapping[Any, Any],
    vocabulary: Vocabulary | None = None,
    *,
    origin: str = "<input>",
    default_namespace: str = "device",
    allowed: Iterable[str] | None = None,
    path: JsonPath | str = (),
    name: str = "",
) -> Facts:
    """Typed Facts from ``{fact name: raw value}``; raise InputError listing every bad entry.

    Names without a namespace get ``default_namespace``; ``None`` values are missing. The
    vocabulary is the shipped one unless given. ``path`` is where the mapping is in its input
    (segments, or a JSON path's text). UsageError when ``mapping`` is not a mapping.
    """
    require(mapping, Mapping, "facts_from_mapping(mapping)", "a mapping {fact name: value}")
    vocabulary = given_vocabulary(vocabulary, "facts_from_mapping(vocabulary)")
    allowed = tuple(allowed) if allowed else None
    values: dict[str, Any] = {}
    origins: dict[str, Origins] = {}
    problems = ProblemList()  # past its limit only counted: no "did you mean" search per name
    # The mapping's own path: as segments for the values' origins, as text for the messages.
    base = path_segments(path) if isinstance(path, str) else path
    written = path if isinstance(path, str) else json_path_text(path)
    for key, raw in mapping.items():
        if not isinstance(key, str):
            problems.append(
                Diagnostic(
                    "I202",
                    f"a fact name must be a string, not the {type(key).__name__} {_shown(key)}",
                    path=path,
                    file=origin,
                )
            )
            continue
        fact_name = key if "." in key else f"{default_namespace}.{key}"
        # A recovery password in the key is masked before a path quotes it (JSON would escape
        # other scripts' digits out of the mask's sight).
        where = (*base, redact(key)) if base is not None else _key_path(written, key)
        fact = vocabulary.fact(fact_name)
        if fact is None or (allowed and fact.namespace not in allowed):
            if not problems.counted():  # the "did you mean" search is the cost: skipped past the limit
                problems.append(_unknown_fact(fact_name, where, origin, vocabulary, allowed))
            continue
        if raw is None:
            continue
        try:
            values[fact.name] = vocabulary.parse_value(fact, raw)
        except ValueError as exc:
            problems.append(
                Diagnostic(
                    "I201",
                    f"{_shown(raw)} is not a valid value for {fact.name} ({fact.label})",
                    path=where,
                    file=origin,
                    help=f"expected {exc}",
                )
            )
            continue
        # ``key`` names a declared fact here: nothing in it to mask.
        origins[fact.name] = (
            ValueOrigin(name or origin, (*base, key))
            if base is not None
            else ValueOrigin(name or origin, note=_key_path(written, key)),
        )
    if problems:
        raise problems.error()
    apply_grants(values, origins, vocabulary)
    return Facts(values, origins, name=name)


def given_vocabulary(vocabulary: Vocabulary | None, argument: str) -> Vocabulary:
    """``vocabulary``, the shipped one when None; UsageError (naming ``argument``) for anything else."""
    if vocabulary is None:
        return shipped_vocabulary()
    require(vocabulary, Vocabulary, argument, "a Vocabulary (shipped_vocabulary() or load_vocabulary(path)) or None")
    return vocabulary


DERIVED_FACTS = ("device.os_build_revision",)  # the facts ``derived`` can give


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


def apply_grants(values: dict[str, Any], origins: dict[str, Origins], vocabulary: Vocabulary) -> None:
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
        via = (
            f"built-in roles ({roles}) in {' and '.join(roles_facts)}, which grant only what the vocabulary lists"
            if closed
            else f"role {', '.join(g.role for g in matched if set(g.permissions) & set(added))} (vocabulary grant)"
        )
        origins[permissions_fact] = (*origins.get(permissions_fact, ()), ValueOrigin(note=via))


def _same_name(a: Any, b: str) -> bool:
    return isinstance(a, str) and a.strip().casefold() == b.casefold()


def _unknown_fact(
    fact_name: str, where: JsonPath | str, origin: str, vocabulary: Vocabulary, allowed: tuple[str, ...] | None
) -> Diagnostic:
    choices = [f for f, d in vocabulary.facts.items() if not allowed or d.namespace in allowed]
    hint = suggest(fact_name, choices)
    if hint is None:
        tails = {f.split(".", 1)[1]: f for f in choices}
        close = suggest(fact_name.split(".", 1)[1], tails)
        hint = close and f"did you mean `{tails[close.split('`')[1]]}`?"
    declared = vocabulary.fact(fact_name)
    if declared is not None:
        home = "a --policy file's `settings`" if declared.policy_controlled else "a --device file's `facts`"
        return Diagnostic(
            "I203",
            f"`{fact_name}` does not belong here",
            path=where,
            file=origin,
            help=f"it is a {declared.namespace} fact: put it in {home}",
        )
    return Diagnostic("I202", f"unknown fact `{fact_name}`", path=where, file=origin, help=hint)


def _key_path(path: str, key: str) -> str:
    """``$.facts.key`` or ``$.facts["a.key"]``; a recovery password in the key is masked before
    it is quoted (JSON would escape other scripts' digits out of the mask's sight)."""
    key = redact(key)
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]" if "." in key else f"{path}.{key}"


def _shown(raw: Any) -> str:
    """A raw value as a message quotes it: as JSON written as is (other scripts' digits not
    escaped, so the mask sees them), or by its type when it is not JSON (a Python object given
    through the API); recovery passwords masked, then clipped."""
    try:
        shown = json.dumps(raw, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        shown = f"a Python {type(raw).__name__}"
    return shortened(shown, 80)


def merge_facts(parts: Iterable[Facts], name: str = "") -> Facts:
    """Combine facts from several sources; equal values agree, different values conflict.

    A part's own conflicts stay conflicts (merging already merged policies with a device
    keeps them), joined by whatever the other parts give for the same fact. Each part that
    sets policy facts is kept as a profile (a merged part brings its own profiles).
    UsageError when a part is not a Facts record (an imported policy or device: pass its ``.facts``).
    """
    parts = _facts_parts(parts)
    values: dict[str, Any] = {}
    origins: dict[str, Origins] = {}
    given: dict[str, list[tuple[Origins, Any]]] = {}  # only facts that more than one source sets
    for part in parts:
        for conflict in part.conflicts:
            given.setdefault(conflict.fact, []).extend(conflict.values)
            if conflict.fact in values:
                given[conflict.fact].insert(0, (origins.pop(conflict.fact), values.pop(conflict.fact)))
        for fact, value in part.values.items():
            source = part.origins.get(fact) or ((ValueOrigin(part.name),) if part.name else ())
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
            values[fact], origins[fact] = sources[0][1], tuple(o for src, _ in sources for o in src)
    return Facts(values, origins, tuple(conflicts), name=name, profiles=_profiles(parts))


def _profiles(parts: list[Facts]) -> tuple[Facts, ...]:
    """The policies among ``parts`` (more than one, or none: one policy is the merged facts)."""
    found = [p for part in parts for p in (part.profiles or ([part] if _sets_policy(part) else []))]
    return tuple(found) if len(found) > 1 else ()


def _sets_policy(part: Facts) -> bool:
    return any(f.startswith("policy.") for f in part.values) or any(
        c.fact.startswith("policy.") for c in part.conflicts
    )


# ---------------------------------------------------------------------------
# JSON input files.


def load_policy_file(path: str | Path, vocabulary: Vocabulary | None = None) -> Facts:
    """Read the project's own policy JSON: ``{"id", "displayName", "settings": {fact: value}}``.

    An Intune export (Graph JSON) is read by ``bitlocker_rules.load_policies`` instead.
    """
    require(path, (str, PathLike), "load_policy_file(path)", "a file path (str or pathlib.Path)")
    vocabulary = given_vocabulary(vocabulary, "load_policy_file(vocabulary)")
    data, _ = read_json(path)
    settings = _section(data, "settings", path)
    name = f"policy {data.get('displayName') or data.get('id') or Path(input_name(path)).name!r}"
    return facts_from_mapping(
        settings,
        vocabulary,
        origin=input_name(path),
        default_namespace="policy",
        allowed=("policy",),
        path=("settings",),
        name=name,
    )


def load_device_file(path: str | Path, vocabulary: Vocabulary | None = None) -> Facts:
    """Read the project's own device JSON: ``{"id", "deviceName", "facts": {fact: value}}``.

    A Graph ``managedDevice`` or another device export is read by ``bitlocker_rules.load_devices``.
    """
    require(path, (str, PathLike), "load_device_file(path)", "a file path (str or pathlib.Path)")
    vocabulary = given_vocabulary(vocabulary, "load_device_file(vocabulary)")
    data, _ = read_json(path)
    facts = _section(data, "facts", path)
    name = f"device {data.get('deviceName') or data.get('id') or Path(input_name(path)).name!r}"
    return facts_from_mapping(
        facts,
        vocabulary,
        origin=input_name(path),
        default_namespace="device",
        allowed=("device", "actor", "action", "tenant"),
        path=("facts",),
        name=name,
    )


def _facts_parts(parts: object) -> list[Facts]:
    """``merge_facts``'s argument as a list, checked: callers without type checking pass anything."""
    if isinstance(parts, (str, bytes, Facts)) or not isinstance(parts, Iterable):
        raise usage_error("merge_facts(parts)", parts, "a list of Facts records")
    listed = list(parts)
    for part in listed:
        if not isinstance(part, Facts):
            hint = "pass its .facts" if isinstance(getattr(part, "facts", None), Facts) else None
            raise usage_error("merge_facts(parts)", part, "a list of Facts records", hint=hint)
    return listed


def _section(data: Any, key: str, path: str | Path) -> Mapping[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise InputError(
            [
                Diagnostic(
                    "I101",
                    f"expected a JSON object with an object `{key}`",
                    path=(key,),
                    file=input_name(path),
                    help=f'write {{"{key}": {{"<fact name>": <value>, …}}}}; see docs/input-formats.md (an Intune '
                    f"export is read by load_{'policies' if key == 'settings' else 'devices'}, or by the command line)",
                )
            ]
        )
    return data[key]
