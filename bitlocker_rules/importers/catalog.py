"""Settings-catalog ``configurationPolicy`` (and the Endpoint security BitLocker profile,
which is one) read through the vocabulary's ``catalog`` origins.

A setting instance's ``settingDefinitionId`` is looked up among the declared catalog ids.
Choice options are ``<settingDefinitionId>_<n>``; ``n`` is matched against the members'
``catalog`` numbers (``[facts.member_values]`` first, then the enum's), or read as 1 = true /
0 = false for a ``bool`` fact. Choice ``children`` are read recursively. An ADMX parent
choice set to ``_0`` (Disabled) makes the ADMX data-id settings below it NotConfigured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..jsonpath import JsonPath
from .detect import graph_type_name
from .imported import INCOMPLETE, SKIPPED, UNDECLARED, UNKNOWN_FAMILY, Collector, child_path
from .origins import CATALOG_PREFIX, Binding, Unmappable

GRAPH_TYPE = "deviceManagementConfigurationPolicy"
POLICY_TYPE_FACT = "policy.policy_type"

# Container properties of deviceManagementConfigurationPolicy (reference 2.8) that are
# provenance or bookkeeping, not settings.
CONTAINER_KEYS = frozenset(
    {
        "id",
        "name",
        "description",
        "platforms",
        "technologies",
        "createdDateTime",
        "lastModifiedDateTime",
        "settingCount",
        "creationSource",
        "roleScopeTagIds",
        "isAssigned",
        "priorityMetaData",
        "templateReference",
        "settings",
        "assignments",
    }
)

CHOICE = "devicemanagementconfigurationchoicesettinginstance"
SIMPLE = "devicemanagementconfigurationsimplesettinginstance"
SIMPLE_COLLECTION = "devicemanagementconfigurationsimplesettingcollectioninstance"
GROUP = "devicemanagementconfigurationgroupsettinginstance"
GROUP_COLLECTION = "devicemanagementconfigurationgroupsettingcollectioninstance"
CHOICE_COLLECTION = "devicemanagementconfigurationchoicesettingcollectioninstance"


def read_policy_type(policy: Mapping[str, Any], collector: Collector, path: JsonPath) -> str | None:
    """``policy.policy_type`` from ``templateReference.templateFamily`` (declared origin)."""
    fact = collector.vocabulary.fact(POLICY_TYPE_FACT)
    if fact is None:
        return None
    binding = next(
        (b for b in collector.index.graph.get(GRAPH_TYPE, {}).get(fact.origins.get("graph", ""), ()) if b.fact is fact),
        None,
    )
    reference = policy.get("templateReference")
    family = reference.get("templateFamily") if isinstance(reference, Mapping) else None
    here = child_path(child_path(path, "templateReference"), "templateFamily")
    plain = collector.index.members_with(fact.type.enum.name if fact.type.enum else "", "graph", "none")
    if binding is None:
        return None
    if family in (None, ""):
        family = "none"
    try:
        member = collector.index.convert(binding, family)
    except Unmappable:
        if not plain:
            return None
        collector.note(
            UNKNOWN_FAMILY,
            f"template family {family!r} is not a kind of BitLocker profile the vocabulary names; read as {plain[0]}",
            here,
        )
        member = plain[0]
    collector.set(fact, member, here)
    return member


def import_catalog(policy: Mapping[str, Any], collector: Collector, path: JsonPath = ()) -> str | None:
    """Read a configurationPolicy's settings; return its policy type."""
    policy_type = read_policy_type(policy, collector, path)
    collector.skip_other_keys(policy, CONTAINER_KEYS, GRAPH_TYPE, path)
    settings = policy.get("settings")
    here = child_path(path, "settings")
    if settings is None:
        collector.note(
            INCOMPLETE,
            "the policy has no `settings`: export it with `?$expand=settings` "
            "(or GET …/configurationPolicies/{id}/settings)",
            here,
        )
        return policy_type
    if not isinstance(settings, list):
        collector.error("I403", "`settings` must be a list", here)
        return policy_type
    for number, setting in enumerate(settings):
        where = child_path(here, number)
        if not isinstance(setting, Mapping):
            collector.error("I403", "a setting must be a JSON object", where)
            continue
        instance = setting.get("settingInstance", setting if "settingDefinitionId" in setting else None)
        if not isinstance(instance, Mapping):
            collector.error("I403", "a setting must carry a `settingInstance` object", where)
            continue
        read_instance(
            instance, collector, child_path(where, "settingInstance") if "settingInstance" in setting else where
        )
    return policy_type


def read_instance(instance: Mapping[str, Any], collector: Collector, path: JsonPath) -> None:
    """One setting instance and, recursively, its children."""
    index = collector.index
    definition = instance.get("settingDefinitionId")
    if not isinstance(definition, str):
        collector.error("I403", "a setting instance must carry a string `settingDefinitionId`", path)
        return
    binding = index.catalog.get(definition)
    admx_children = index.catalog_admx_children(definition)
    kind = graph_type_name(instance) or _kind_by_shape(instance)
    if binding is None and not admx_children:
        _skip(collector, definition, path)
    if kind in (CHOICE, "choice"):
        _choice(instance, definition, binding, admx_children, collector, path)
    elif kind in (SIMPLE, "simple"):
        value = instance.get("simpleSettingValue")
        here = child_path(path, "simpleSettingValue")
        if binding is not None:
            if not isinstance(value, Mapping):
                collector.error("I403", "`simpleSettingValue` must be an object with a `value`", here)
            else:
                collector.take(binding, value.get("value"), child_path(here, "value"))
    elif kind in (SIMPLE_COLLECTION, "simple_collection"):
        values = instance.get("simpleSettingCollectionValue")
        here = child_path(path, "simpleSettingCollectionValue")
        if binding is not None:
            if not isinstance(values, list) or not all(isinstance(v, Mapping) for v in values):
                collector.error("I403", "`simpleSettingCollectionValue` must be a list of objects with a `value`", here)
            else:
                collector.take(binding, [v.get("value") for v in values], here)
    elif kind in (GROUP, GROUP_COLLECTION, "group"):
        for group, where in _groups(instance, path):
            _children(group.get("children"), collector, child_path(where, "children"))
    else:
        if binding is not None or admx_children:
            collector.note(
                UNDECLARED,
                f"setting instance type {instance.get('@odata.type')!r} of `{definition}` is not read; skipped",
                path,
            )


def _groups(instance: Mapping[str, Any], path: JsonPath) -> list[tuple[Mapping[str, Any], JsonPath]]:
    """Each group value of a group setting instance with its path: ``groupSettingCollectionValue[n]``
    of a group collection, or the one ``groupSettingValue`` of a group (each holds ``children``)."""
    if "groupSettingCollectionValue" in instance:
        groups = instance["groupSettingCollectionValue"]
        base = child_path(path, "groupSettingCollectionValue")
        found = [(group, child_path(base, n)) for n, group in enumerate(groups)] if isinstance(groups, list) else []
    else:
        found = [(instance.get("groupSettingValue"), child_path(path, "groupSettingValue"))]
    return [(group, where) for group, where in found if isinstance(group, Mapping)]


def _kind_by_shape(instance: Mapping[str, Any]) -> str:
    if "choiceSettingValue" in instance:
        return "choice"
    if "simpleSettingValue" in instance:
        return "simple"
    if "simpleSettingCollectionValue" in instance:
        return "simple_collection"
    if "groupSettingCollectionValue" in instance or "groupSettingValue" in instance:
        return "group"
    return ""


def _skip(collector: Collector, definition: str, path: JsonPath) -> None:
    if definition.startswith(CATALOG_PREFIX):
        collector.note(UNDECLARED, f"BitLocker setting `{definition}` is not declared in the vocabulary; skipped", path)
    else:
        collector.note(SKIPPED, f"`{definition}` is not a BitLocker setting; skipped", path)


def _choice(
    instance: Mapping[str, Any],
    definition: str,
    binding: Binding | None,
    admx_children: Sequence[Binding],
    collector: Collector,
    path: JsonPath,
) -> None:
    value_obj = instance.get("choiceSettingValue")
    here = child_path(path, "choiceSettingValue")
    if not isinstance(value_obj, Mapping):
        collector.error("I403", "`choiceSettingValue` must be an object", here)
        return
    option = value_obj.get("value")
    option_path = child_path(here, "value")
    if binding is not None or admx_children:
        suffix = _option_suffix(definition, option)
        if suffix is None:
            fact = binding.fact if binding else admx_children[0].fact
            expected = (
                collector.index.expected(binding)
                if binding is not None and binding.fact.type.enum
                else f"an option id `{definition}_<number>`"
            )
            collector.bad(fact, option, option_path, expected, what=definition if binding is None else "")
        else:
            if binding is not None:
                collector.take(binding, suffix, option_path)
            if suffix == 0 and admx_children:
                # An ADMX parent set to Disabled: its data-id settings are not configured.
                collector.imply_not_configured(admx_children, option_path)
    _children(value_obj.get("children"), collector, child_path(here, "children"))


def _option_suffix(definition: str, option: Any) -> int | None:
    if not isinstance(option, str) or not option.startswith(definition + "_"):
        return None
    tail = option[len(definition) + 1 :]
    return int(tail) if tail.isdigit() else None


def _children(children: Any, collector: Collector, path: JsonPath) -> None:
    if children in (None, []):
        return
    if not isinstance(children, list):
        collector.error("I403", "`children` must be a list", path)
        return
    for number, child in enumerate(children):
        if isinstance(child, Mapping):
            read_instance(child, collector, child_path(path, number))
        else:
            collector.error("I403", "a child setting must be a JSON object", child_path(path, number))
