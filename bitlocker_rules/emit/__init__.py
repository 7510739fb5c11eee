"""A repair exported in the shape each policy came in (``repair --emit``), and read back.

``emit_repair`` takes the policies as read (each export's JSON with its ``ImportedPolicy``) and
the repair's changes (fact → new value) and gives one ``Emitted`` request per policy it changes:
a Graph PATCH of an Endpoint protection profile (``profile``) or a custom OMA-URI profile
(``omauri``), a PUT of a settings-catalog policy's settings (``catalog``), a POST of an
endpoint-security intent's ``updateSettings`` action (``intents``: an exported or a snapshot's
intent, given as its record), or the project's own policy JSON (``settings``). Which policy takes a change: each
policy that sets the fact (all of them when they disagree, so the conflict ends, except one that
already says the new value), else the first policy whose shape can express it.
``apply_to`` applies a request to its policy as Graph would; ``read_emitted`` reads a file back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ..importers import ImportedPolicy, import_policies, index_for
from ..importers.detect import CUSTOM_OMA_URI, GRAPH_ENDPOINT_PROTECTION, POLICY_JSON, SETTINGS_CATALOG, detect
from ..importers.intents import is_intent
from ..importers.origins import OriginIndex
from ..reading import read_json
from ..vocabulary import Fact, Vocabulary
from . import catalog, intents, omauri, profile, settings
from .requests import SCHEMA, Emitted, PolicyRef, apply_to, read_emitted, write_emitted
from .values import EmitError, emit_error

__all__ = [
    "SCHEMA",
    "EmitError",
    "Emitted",
    "PolicyRef",
    "apply_to",
    "emit_files",
    "emit_policy",
    "emit_repair",
    "policy_items",
    "read_emitted",
    "write_emitted",
]

GRAPH_PATHS = {
    GRAPH_ENDPOINT_PROTECTION: "/beta/deviceManagement/deviceConfigurations/",
    CUSTOM_OMA_URI: "/beta/deviceManagement/deviceConfigurations/",
    SETTINGS_CATALOG: "/beta/deviceManagement/configurationPolicies/",
}
INTENTS_PATH = "/beta/deviceManagement/intents/"


def policy_items(data: Any) -> list[Any]:
    """The policy objects of a parsed policy file: one object, a Graph page, ``{"value": {…}}``
    or a JSON array, in the order ``import_policies`` reads them."""
    if isinstance(data, list):
        return list(data)
    if isinstance(data, Mapping) and "value" in data and detect(data).kind == "page":
        value = data["value"]
        return list(value) if isinstance(value, list) else [value]
    return [data]


def can_express(index: OriginIndex, policy: ImportedPolicy, document: Mapping[str, Any], fact: Fact) -> bool:
    """Whether a policy of this shape has a place for ``fact``."""
    if is_intent(document):
        return intents.expressible(index, fact)
    if policy.kind == GRAPH_ENDPOINT_PROTECTION:
        return profile.expressible(index, fact, detect(document).graph_type)
    if policy.kind == SETTINGS_CATALOG:
        return catalog.expressible(fact)
    if policy.kind == CUSTOM_OMA_URI:
        return omauri.expressible(fact)
    return policy.kind == POLICY_JSON


def emit_repair(
    policies: Sequence[tuple[Mapping[str, Any], ImportedPolicy]],
    changes: Mapping[str, Any],
    vocabulary: Vocabulary,
) -> tuple[Emitted, ...]:
    """One request per policy the repair changes (``changes``: fact name → new typed value)."""
    index = index_for(vocabulary)
    given: list[dict[str, Any]] = [{} for _ in policies]
    for name, value in changes.items():
        fact = vocabulary.facts[name]
        owners = [n for n, (_, p) in enumerate(policies) if _sets(p, name)]
        if not owners:
            owners = [n for n, (d, p) in enumerate(policies) if can_express(index, p, d, fact)][:1]
        if not owners:
            raise emit_error(f"none of the policies has a place for {name} ({fact.label})")
        # Of several policies that set it (a conflict the change ends), one already saying the new
        # value is left as it is.
        differing = [n for n in owners if not _holds(policies[n][1], name, value)]
        for number in differing or owners:
            given[number][name] = value
    return tuple(
        emit_policy(document, policy, mine, vocabulary)
        for (document, policy), mine in zip(policies, given, strict=True)
        if mine
    )


def emit_files(paths: Sequence[str], changes: Mapping[str, Any], vocabulary: Vocabulary) -> tuple[Emitted, ...]:
    """``emit_repair`` for the policies of policy files, each file read as ``check --policy`` reads it."""
    policies: list[tuple[Mapping[str, Any], ImportedPolicy]] = []
    for path in paths:
        data, source = read_json(path)
        policies += zip(policy_items(data), import_policies(data, vocabulary, origin=source.name), strict=True)
    return emit_repair(policies, changes, vocabulary)


def _sets(policy: ImportedPolicy, name: str) -> bool:
    return name in policy.facts.values or any(c.fact == name for c in policy.facts.conflicts)


def _holds(policy: ImportedPolicy, name: str, value: Any) -> bool:
    """Whether the policy already sets ``name`` to ``value``, and only to it."""
    return (
        value is not None
        and policy.facts.values.get(name) == value
        and not any(c.fact == name for c in policy.facts.conflicts)
    )


def emit_policy(
    document: Mapping[str, Any], policy: ImportedPolicy, changes: Mapping[str, Any], vocabulary: Vocabulary
) -> Emitted:
    """One policy's request: ``changes`` (fact name → new value) in the policy's own shape (an
    intent's record, ``document``, read as the profile ``policy`` was imported from)."""
    index = index_for(vocabulary)
    facts = {vocabulary.facts[name]: value for name, value in changes.items()}
    after = {**policy.facts.values, **changes}
    intent = is_intent(document)
    ref = PolicyRef(policy.policy_id, policy.display_name, intents.KIND if intent else policy.kind, policy.origin)
    file = policy.origin
    if policy.kind == POLICY_JSON:
        return Emitted(ref, None, None, settings.repaired_settings(document, facts, file))
    if not policy.policy_id:
        raise emit_error(
            "the policy has no `id`, so no Graph request can name it",
            file=file,
            help="export it from Graph with its id",
        )
    segment = quote(policy.policy_id, safe="")  # an id is one path segment
    if intent:
        body = intents.update_body(document, facts, after, index, file)
        return Emitted(ref, "POST", f"{INTENTS_PATH}{segment}/updateSettings", body)
    url = GRAPH_PATHS.get(policy.kind, "") + segment
    if policy.kind == GRAPH_ENDPOINT_PROTECTION:
        new = profile.repaired_profile(document, detect(document).graph_type, facts, after, index, file)
        return Emitted(ref, "PATCH", url, profile.patch_body(document, new))
    if policy.kind == SETTINGS_CATALOG:
        new = catalog.repaired_catalog(document, facts, after, index, file)
        return Emitted(ref, "PUT", url, catalog.put_body(new))
    if policy.kind == CUSTOM_OMA_URI:
        new = omauri.repaired_profile(document, facts, after, index, file)
        return Emitted(ref, "PATCH", url, omauri.patch_body(document, new))
    raise emit_error(f"a {policy.kind} input is not a policy the repair can change", file=file)
