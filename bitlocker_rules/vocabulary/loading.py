"""Loading ``rulesets/vocabulary.toml``: the declarations checked and built into a ``Vocabulary``,
with every problem reported at once (``VocabularyError``)."""

from __future__ import annotations

import functools
import hashlib
import marshal
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..cache import cache_key, cached
from ..errors import Diagnostic, VocabularyError, suggest
from ..resources import vocabulary_path
from ..versions import WindowsVersion, parse_windows_version
from .declarations import SCALAR_KINDS, EnumMember, EnumType, Fact, FactType, Grant, Scenario
from .model import Vocabulary
from .strengths import add_strengths

_FACT_NAME = re.compile(r"^(policy|device|actor|action|tenant)\.[a-z][a-z0-9_]*$")
_SCENARIO_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MEMBER_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@functools.cache
def shipped_vocabulary() -> Vocabulary:
    """The vocabulary that ships with the package (loaded once per process)."""
    return load_vocabulary(vocabulary_path())


def load_vocabulary(path: str | Path) -> Vocabulary:
    """Load and validate a vocabulary file; raise VocabularyError with every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = cached(cache_key("vocabulary", text), dict, lambda: tomllib.loads(text), marshal.dumps, marshal.loads)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise VocabularyError([Diagnostic("V001", f"cannot read vocabulary: {exc}", path=str(path))]) from None
    except RecursionError:  # tomllib recurses per nested array or inline table
        problem = Diagnostic("V001", "cannot read vocabulary: nested too deeply", path=str(path))
        raise VocabularyError([problem]) from None
    return build_vocabulary(
        data, origin=str(path), fingerprint=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    )


def build_vocabulary(data: Mapping[str, Any], origin: str = "<vocabulary>", *, fingerprint: str = "") -> Vocabulary:
    """Build a Vocabulary from already-parsed declarations (the TOML's shape).

    ``fingerprint`` names the exact text they were read from, so that what is built from this
    vocabulary may be cached between runs; leave it empty for declarations built in code.
    """
    problems: list[Diagnostic] = []
    releases = _build_releases(data.get("releases", {}), problems, origin)
    enums = {name: _build_enum(name, spec, problems, origin) for name, spec in data.get("enums", {}).items()}
    facts: dict[str, Fact] = {}
    for index, spec in enumerate(data.get("facts", [])):
        where = f"{origin}: facts[{index}]"
        fact = _build_fact(spec, enums, problems, where, _FACT_NAME, collection_ok=True)
        if fact is None:
            continue
        if fact.name in facts:
            problems.append(Diagnostic("V002", f"fact `{fact.name}` is declared twice", path=where))
        facts[fact.name] = fact
    grants = _build_grants(data.get("grants", []), facts, problems, origin)
    add_strengths(data, facts, problems, origin)
    scenarios = _build_scenarios(data.get("scenarios", {}), problems, origin)
    facts.update((s.fact, _scenario_fact(s)) for s in scenarios.values())
    if problems:
        raise VocabularyError(problems)
    return Vocabulary(
        facts=facts,
        enums=enums,
        releases=releases,
        origin=origin,
        grants=grants,
        fingerprint=fingerprint,
        scenarios=scenarios,
    )


def _build_scenarios(specs: Mapping[str, Any], problems: list[Diagnostic], origin: str) -> dict[str, Scenario]:
    """``[scenarios.<name>]``: label, description, excludes, inferred_on / inferred_off conditions."""
    scenarios = {}
    for name, spec in specs.items():
        where = f"{origin}: scenarios.{name}"
        if not _SCENARIO_NAME.match(name) or not isinstance(spec, Mapping):
            problems.append(
                Diagnostic(
                    "V016",
                    f"bad scenario `{name}`",
                    path=where,
                    help="a lower-case name with a table of label, description, ...",
                )
            )
            continue
        scenarios[name] = Scenario(
            name,
            str(spec.get("label", name)),
            str(spec.get("description", "")),
            tuple(spec.get("excludes", ())),
            str(spec.get("inferred_on", "")),
            str(spec.get("inferred_off", "")),
            tuple(spec.get("reference", ())),
        )
    for scenario in scenarios.values():
        for other in scenario.excludes:
            if other not in scenarios:
                problems.append(
                    Diagnostic(
                        "V017",
                        f"scenario `{scenario.name}` excludes unknown scenario `{other}`",
                        path=f"{origin}: scenarios.{scenario.name}",
                        help=suggest(other, scenarios),
                    )
                )
    return scenarios


def _scenario_fact(scenario: Scenario) -> Fact:
    """The bool fact ``scenario.<name>``: whether the check is about the scenario."""
    return Fact(
        scenario.fact,
        FactType("bool"),
        f"{scenario.label} (scenario)",
        scenario.description,
        section="Scenarios",
        member_labels={"true": "in scope", "false": "out of scope"},
    )


def _build_grants(specs: list[Any], facts: Mapping[str, Fact], problems: list[Diagnostic], origin: str) -> list[Grant]:
    """``[[grants]]``: role -> permissions, naming two collection facts with a string ``name`` field."""
    grants: list[Grant] = []
    seen: set[tuple[str, str, str]] = set()
    for index, spec in enumerate(specs):
        where = f"{origin}: grants[{index}]"
        role = spec.get("role")
        permissions = spec.get("permissions")
        ok = True
        if not isinstance(role, str) or not role.strip():
            problems.append(Diagnostic("V010", "a grant needs a non-empty `role`", path=where))
            ok = False
        if not isinstance(permissions, list) or not all(isinstance(p, str) and p.strip() for p in permissions):
            problems.append(
                Diagnostic(
                    "V011",
                    "a grant needs `permissions`, a list of names (empty for a built-in role that grants none)",
                    path=where,
                )
            )
            ok = False
        for key in ("roles_fact", "permissions_fact"):
            name = spec.get(key, "")
            fact = facts.get(name)
            if fact is None:
                problems.append(
                    Diagnostic(
                        "V012", f"grant `{key}`: unknown fact `{name}`", path=where, help=suggest(str(name), facts)
                    )
                )
                ok = False
            elif not _names_records(fact):
                problems.append(
                    Diagnostic(
                        "V013",
                        f"grant `{key}`: `{name}` must be a collection whose records have a string field `name`",
                        path=where,
                    )
                )
                ok = False
        if not ok:
            continue
        identity = (str(role).strip().casefold(), spec["roles_fact"], spec["permissions_fact"])
        if identity in seen:
            problems.append(
                Diagnostic(
                    "V014",
                    f"role `{role}` in {spec['roles_fact']} is granted twice into {spec['permissions_fact']}",
                    path=where,
                    help="list every permission of a role in one grant",
                )
            )
            continue
        seen.add(identity)
        grants.append(
            Grant(
                str(role).strip(),
                spec["roles_fact"],
                spec["permissions_fact"],
                tuple(str(p).strip() for p in permissions),
                str(spec.get("description", "")),
                tuple(spec.get("reference", ())),
            )
        )
    return grants


def _names_records(fact: Fact) -> bool:
    """Whether ``fact`` is a collection of records with a string field ``name``."""
    spec = fact.type.field("name") if fact.type.kind == "collection" else None
    return spec is not None and spec.type.kind == "string"


def _build_releases(spec: Mapping[str, str], problems: list[Diagnostic], origin: str) -> dict[str, WindowsVersion]:
    """``[releases]``: a release name -> the version it stands for."""
    releases: dict[str, WindowsVersion] = {}
    for name, text in spec.items():
        try:
            releases[name] = parse_windows_version(text, {})
        except ValueError as exc:
            problems.append(Diagnostic("V003", f"release `{name}`: expected {exc}", path=origin))
    return releases


def _build_enum(name: str, spec: Mapping[str, Any], problems: list[Diagnostic], origin: str) -> EnumType:
    """``[enums.<name>]``: the members in declaration order, each with its label and raw values."""
    members = []
    for raw in spec.get("members", []):
        member_name = raw.get("name", "")
        if not _MEMBER_NAME.match(member_name):
            problems.append(Diagnostic("V004", f"enum {name}: bad member name `{member_name}`", path=origin))
        origins = {k: v for k, v in raw.items() if k not in ("name", "label")}
        members.append(EnumMember(member_name, raw.get("label", member_name), origins))
    return EnumType(name, spec.get("description", ""), tuple(members))


def _build_fact(
    spec: Mapping[str, Any],
    enums: Mapping[str, EnumType],
    problems: list[Diagnostic],
    where: str,
    pattern: re.Pattern[str],
    collection_ok: bool,
) -> Fact | None:
    """One ``[[facts]]`` entry (or a field of a collection's records), or None when it cannot be built."""
    name = spec.get("name", "")
    if not pattern.match(name):
        problems.append(Diagnostic("V005", f"bad fact name `{name}`", path=where))
        return None
    ftype = _build_type(spec, enums, problems, f"{where} ({name})", collection_ok)
    if ftype is None:
        return None
    fact = Fact(
        name=name,
        type=ftype,
        label=spec.get("label", name),
        description=spec.get("description", ""),
        section=spec.get("section", ""),
        default=str(spec.get("default", "")),
        item_label=spec.get("item_label", ""),
        reference=tuple(spec.get("reference", ())),
        origins=spec.get("origins", {}),
        member_labels=spec.get("member_labels", {}),
        member_values=spec.get("member_values", {}),
        per_policy=spec.get("per_policy", False) is True,
    )
    _check_member_keys(fact, problems, where)
    if fact.per_policy and fact.namespace != "policy":
        problems.append(Diagnostic("V015", f"`{name}`: only a policy fact can be per_policy", path=where))
    return fact


def _build_type(
    spec: Mapping[str, Any], enums: Mapping[str, EnumType], problems: list[Diagnostic], where: str, collection_ok: bool
) -> FactType | None:
    """A fact's ``type``: a scalar kind, ``enum <Name>`` or (for a fact, not a field) ``collection``."""
    text = str(spec.get("type", "")).strip()
    if text in SCALAR_KINDS:
        return FactType(text)
    if text.startswith("enum "):
        enum_name = text[5:].strip()
        if enum_name not in enums:
            hint = suggest(enum_name, enums)
            problems.append(Diagnostic("V006", f"unknown enum `{enum_name}`", path=where, help=hint))
            return None
        return FactType("enum", enum=enums[enum_name])
    if text == "collection" and collection_ok:
        fields = [
            _build_fact(f, enums, problems, where, _FIELD_NAME, collection_ok=False) for f in spec.get("fields", [])
        ]
        return FactType("collection", fields=tuple(f for f in fields if f is not None))
    problems.append(Diagnostic("V007", f"unknown type `{text}`", path=where))
    return None


def _check_member_keys(fact: Fact, problems: list[Diagnostic], where: str) -> None:
    keys = set(fact.member_labels) | set(fact.member_values)
    if fact.type.kind == "bool" and set(fact.member_labels) <= {"true", "false"} and not fact.member_values:
        return  # a bool's own words for true and false
    if keys and fact.type.enum is None:
        problems.append(Diagnostic("V008", f"`{fact.name}` has member labels but no enum", path=where))
        return
    for key in sorted(keys):
        if fact.type.enum is not None and fact.type.enum.member(key) is None:
            problems.append(
                Diagnostic("V009", f"`{fact.name}`: `{key}` is not a member of {fact.type.enum.name}", path=where)
            )
