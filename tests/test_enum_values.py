"""Every enum member's raw values, checked against a table written from Microsoft's documentation.

``tests/data/enum_values.toml`` gives, section by section with the URL it was read from, the
Graph, CSP and settings-catalog value of each member (of an enumeration, or of one setting
whose values differ from its enumeration's). It is written apart from
``rulesets/vocabulary.toml``, so a value mistyped or swapped there (Graph ``azureADRegistered``
and ``unknown`` of joinType, say) disagrees with it. Two checks per section:

* the vocabulary declares exactly the table's values (no more, no fewer, none different), and
  every value the vocabulary declares is in some section of the table;
* the importers read each documented raw value, in a minimal export of the source it belongs
  to, as its member, for every fact that takes its values from that section.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_importers import admx, catalog, choice, oma, oma_int, oma_str

from bitlocker_rules import shipped_vocabulary
from bitlocker_rules.importers import import_device, import_policy
from bitlocker_rules.vocabulary import Fact

VOCABULARY = shipped_vocabulary()
TABLE = tomllib.loads((Path(__file__).parent / "data" / "enum_values.toml").read_text(encoding="utf-8"))
SOURCES = ("graph", "graph_number", "graph_type", "csp", "catalog")
# The vocabulary writes an ADMX Boolean data id as 1 / 0 and an <enabled/> / <disabled/> node as
# 1 / 0 (see its header); the table writes them as the CSP documents them.
ADMX_STATE = {"<enabled/>": 1, "<disabled/>": 0}

Key = tuple[str, str, str]  # ("enum" or "fact", its name, source)


def as_declared(raw: Any) -> Any:
    """A documented CSP value in the vocabulary's spelling (Booleans and ADMX states as 1 / 0)."""
    if isinstance(raw, bool):
        return int(raw)
    return ADMX_STATE.get(raw, raw)


def documented() -> dict[Key, dict[str, Any]]:
    """The table: each section's member → value, in the vocabulary's spelling."""
    found: dict[Key, dict[str, Any]] = {}
    for section in (*TABLE["enum"], *TABLE["undocumented"]):
        key = ("enum", section["name"], section["source"])
        assert key not in found, f"{key} appears twice in the table"
        found[key] = {m: as_declared(v) for m, v in section["values"].items()}
    for section in TABLE["fact"]:
        for source in SOURCES:
            if source in section:
                found[("fact", section["name"], source)] = {m: as_declared(v) for m, v in section[source].items()}
    return found


def declared() -> dict[Key, dict[str, Any]]:
    """The vocabulary: each enumeration's and each fact's member → value, per source."""
    found: dict[Key, dict[str, Any]] = {}
    for enum in VOCABULARY.enums.values():
        for member in enum.members:
            for source, value in member.origins.items():
                found.setdefault(("enum", enum.name, source), {})[member.name] = value
    for fact in VOCABULARY.facts.values():
        for member, origins in fact.member_values.items():
            for source, value in origins.items():
                found.setdefault(("fact", fact.name, source), {})[member] = value
    return found


DOCUMENTED, DECLARED = documented(), declared()
SECTIONS = sorted(DOCUMENTED.keys() | DECLARED.keys())


def section_id(key: Key) -> str:
    return "-".join(key)


def test_every_section_cites_a_microsoft_page():
    for section in (*TABLE["enum"], *TABLE["fact"]):
        assert section["url"].startswith("https://learn.microsoft.com/"), section["name"]
        assert section["notes"], section["name"]
    for section in TABLE["undocumented"]:
        assert section["why"], section["name"]


@pytest.mark.parametrize("key", SECTIONS, ids=section_id)
def test_the_vocabulary_declares_the_documented_values(key):
    assert key in DOCUMENTED, f"the vocabulary declares {key} values that no table section documents"
    assert key in DECLARED, f"the table documents {key} values that the vocabulary does not declare"
    wrong = {m: (DECLARED[key].get(m), v) for m, v in DOCUMENTED[key].items() if DECLARED[key].get(m) != v}
    extra = sorted(DECLARED[key].keys() - DOCUMENTED[key].keys())
    assert wrong == {}, f"(declared, documented) differ for {key}"
    assert extra == [], f"{key}: declared, not documented"


# --- the importers read every documented value ---------------------------------------------------


def graph_origin(origins) -> tuple[str, str] | None:
    """(Graph resource, property path) of a fact: its own, else its first alternate."""
    for origin in (origins, *origins.get("also", ())):
        if "graph" in origin:
            return origin.get("graph_type", ""), origin["graph"]
    return None


def takes(origins, source: str) -> bool:
    """Whether a fact (or field) with ``origins`` is read from ``source``."""
    if source in ("graph", "graph_number"):
        return graph_origin(origins) is not None
    # A Graph enum serialised as numbers that are another source's (graph_numeric) reads those too.
    return source in origins or origins.get("graph_numeric") == source


def readers(key: Key) -> list[tuple[Fact, Fact | None]]:
    """(fact, record field or None) of every fact whose values come from section ``key``."""
    kind, name, source = key
    if kind == "fact":
        return [(VOCABULARY.fact(name), None)]
    if source == "graph_type":
        return [(f, None) for f in VOCABULARY.facts.values() if f.type.enum and f.type.enum.name == name]
    found = []
    for fact in VOCABULARY.facts.values():
        if fact.type.enum and fact.type.enum.name == name and not fact.member_values and takes(fact.origins, source):
            found.append((fact, None))
        for field in fact.type.fields:
            # A record field is read from its own origin, or (a flags collection) from the collection's.
            if (
                field.type.enum
                and field.type.enum.name == name
                and (takes(field.origins, source) or (not field.origins and takes(fact.origins, source)))
            ):
                found.append((fact, field))
    return found


def nested(path: str, raw: Any) -> dict[str, Any]:
    """``{"a": {"b": raw}}`` for the path ``a.b``."""
    out: Any = raw
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


# Properties a Graph resource needs besides the one read, so that it is recognised as that resource.
GRAPH_SHELL = {
    "windows10EndpointProtectionConfiguration": {"id": "e-1", "displayName": "EP"},
    "deviceManagementConfigurationPolicy": {
        "id": "c-1",
        "name": "Catalog",
        "platforms": "windows10",
        "technologies": "mdm",
        "settings": [],
    },
    "bitlockerRecoveryKey": {"id": "k-1", "deviceId": "d-1"},
}


def export(fact: Fact, field: Fact | None, source: str, raw: Any) -> dict[str, Any]:
    """The smallest export of ``source`` that carries ``raw`` for ``fact`` (or its ``field``)."""
    origins = field.origins if field is not None and field.origins else fact.origins
    if source == "graph_type":
        return {"@odata.type": f"#microsoft.graph.{raw}", "id": "p-1", "displayName": "P", "omaSettings": []}
    numeric = origins.get("graph_numeric") == source  # Graph writes these numbers as strings ("1")
    if source in ("graph", "graph_number") or numeric:
        resource, path = graph_origin(origins)
        value = str(raw) if numeric else raw
        return {"@odata.type": f"#microsoft.graph.{resource}", **GRAPH_SHELL.get(resource, {}), **nested(path, value)}
    if source == "catalog":
        did, data_id = origins["catalog"], origins.get("csp_data_id")
        if data_id:  # a child option, under its ADMX parent enabled
            return catalog(choice(did[: -len(data_id) - 1], 1, choice(did, raw)))
        return catalog(choice(did, raw))
    node, data_id = origins["csp"], origins.get("csp_data_id")
    if not fact.policy_controlled:
        return {node: raw}  # a device's CSP read-out
    if data_id:
        return oma(oma_str(node, admx((data_id, str(raw).lower() if isinstance(raw, bool) else raw)), root=""))
    return oma(oma_str(node, raw, root="") if isinstance(raw, str) else oma_int(node, raw, root=""))


def read(fact: Fact, field: Fact | None, data: dict[str, Any]) -> Any:
    """What the importers make of ``data`` for ``fact``: its member, or the members of its records."""
    importer = import_policy if fact.policy_controlled else import_device
    value = importer(data, VOCABULARY, origin="enum-values.json").facts.get(fact.name)
    return [record.get(field.name) for record in value] if field is not None and value is not None else value


def documented_raw(key: Key) -> Iterator[tuple[str, Any]]:
    """(member, raw value as the source writes it) of a section."""
    kind, name, source = key
    for section in (*TABLE["enum"], *TABLE["undocumented"]) if kind == "enum" else TABLE["fact"]:
        if section["name"] == name and (kind == "fact" or section["source"] == source):
            yield from (section["values"] if kind == "enum" else section[source]).items()


@pytest.mark.parametrize("key", sorted(DOCUMENTED), ids=section_id)
def test_the_importers_read_each_documented_value_as_its_member(key):
    facts = readers(key)
    assert facts, f"no fact takes its values from {key}: a section nothing reads"
    wrong = []
    for fact, field in facts:
        for member, raw in documented_raw(key):
            got = read(fact, field, export(fact, field, key[2], raw))
            expected = [member] if field is not None else member
            if got != expected:
                wrong.append((fact.name + (f".{field.name}" if field else ""), raw, got, expected))
    assert wrong == [], "(fact, raw value, read as, documented member)"
