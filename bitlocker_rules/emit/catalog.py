"""Settings-catalog and endpoint-security policies (``deviceManagementConfigurationPolicy``):
the repaired settings written as setting instances, choice children kept valid.

A fact's ``catalog`` origin is its ``settingDefinitionId``. A choice takes the option
``<id>_<number>``; a simple setting its integer or string. An ADMX child (a fact with a
``csp_data_id``) lives in its parent choice's ``children``: a parent set to ``_0`` carries no
children, and a parent that becomes ``_1`` gets every child the repaired policy gives a value
(a child without one is refused, never invented). The request replaces the policy's settings
whole (``PUT …/configurationPolicies/{id}``, as the Intune portal saves a policy: a PATCH of the
policy does not take ``settings``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..importers.origins import CATALOG, OriginIndex
from ..vocabulary import Fact
from .values import catalog_option, emit_error, member_raw, raw_value, written

CHOICE = "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance"
SIMPLE = "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance"
SIMPLE_VALUE = {
    "integer": "#microsoft.graph.deviceManagementConfigurationIntegerSettingValue",
    "string": "#microsoft.graph.deviceManagementConfigurationStringSettingValue",
}
# What a PUT of the policy carries: its writable properties (ids, dates and counts are Graph's).
WRITABLE = ("@odata.type", "name", "description", "platforms", "technologies", "roleScopeTagIds", "templateReference")


def expressible(fact: Fact) -> bool:
    """Whether the settings catalog has a setting for ``fact``."""
    return bool(fact.origins.get("catalog"))


def repaired_catalog(
    document: Mapping[str, Any],
    changes: Mapping[Fact, Any],
    after: Mapping[str, Any],
    index: OriginIndex,
    file: str = "",
) -> dict[str, Any]:
    """A copy of the policy whose settings carry each changed fact's value (None removes it);
    ``after`` is every setting of the repaired policy, for the children a parent needs."""
    missing = "the policy has no `settings` list (export it with ?$expand=settings)"
    return written(document, "settings", changes, lambda items: _Writer(items, after, index, file), missing, file)


def put_body(new: Mapping[str, Any]) -> dict[str, Any]:
    """The PUT body: the policy's writable properties and its whole settings list."""
    body = {key: new[key] for key in WRITABLE if key in new}
    body["settings"] = new["settings"]
    return body


def instances(settings: list[Any]) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    """Every setting instance with the list it sits in (top-level settings wrap theirs)."""
    for item in settings:
        if isinstance(item, dict):
            instance = item.get("settingInstance", item)
            if isinstance(instance, dict):
                yield from _with_children(instance, settings)


def _with_children(instance: dict[str, Any], holder: list[Any]) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    yield instance, holder
    value = instance.get("choiceSettingValue")
    children = value.get("children") if isinstance(value, dict) else None
    for child in children if isinstance(children, list) else ():
        if isinstance(child, dict):
            yield from _with_children(child, children)  # type: ignore[arg-type]


class _Writer:
    """Writes facts into one policy's settings list."""

    def __init__(self, settings: list[Any], after: Mapping[str, Any], index: OriginIndex, file: str) -> None:
        self.settings, self.after, self.index, self.file = settings, after, index, file

    def find(self, definition: str) -> tuple[dict[str, Any], list[Any]] | None:
        return next(((i, h) for i, h in instances(self.settings) if i.get("settingDefinitionId") == definition), None)

    def write(self, fact: Fact, value: Any) -> None:
        definition = fact.origins.get("catalog")
        if not definition:
            raise emit_error(f"the settings catalog has no setting for {fact.name} ({fact.label})", file=self.file)
        found = self.find(definition)
        if value is None:
            if found is not None:
                self._remove(*found)
            return
        if found is not None:
            self._update(found[0], fact, definition, value)
        elif fact.origins.get("csp_data_id"):
            self._add_child(fact, definition, value)
        else:
            self.append(self.instance(fact, value))

    def append(self, instance: dict[str, Any]) -> None:
        """A new top-level setting, its id after the highest numeric id (Graph numbers them from 0)."""
        taken = [int(i) for s in self.settings if isinstance(s, dict) and str(i := s.get("id", "")).isdigit()]
        self.settings.append({"id": str(max(taken, default=-1) + 1), "settingInstance": instance})

    def _remove(self, instance: dict[str, Any], holder: list[Any]) -> None:
        for number, item in enumerate(holder):
            if item is instance or (isinstance(item, dict) and item.get("settingInstance") is instance):
                del holder[number]
                return

    def _update(self, instance: dict[str, Any], fact: Fact, definition: str, value: Any) -> None:
        if "simpleSettingValue" in instance:
            simple = instance["simpleSettingValue"]
            if not isinstance(simple, dict):
                instance["simpleSettingValue"] = simple = {}
            simple["value"] = raw_value(self.index, fact, value, "catalog")
            return
        choice = instance.get("choiceSettingValue")
        if not isinstance(choice, dict):
            instance["choiceSettingValue"] = choice = {}
        option = catalog_option(self.index, fact, definition, value)
        was = choice.get("value")
        choice["value"] = option
        self._keep_children_valid(definition, choice, was, option)

    def _keep_children_valid(self, definition: str, choice: dict[str, Any], was: Any, option: str) -> None:
        """A disabled ADMX parent carries no children; one newly enabled gets them all."""
        children = self.index.catalog_admx_children(definition)
        if not children:
            return
        if option == f"{definition}_0":
            choice["children"] = []
        elif was != option:
            given = [b.fact for b in children if self.has(b.fact)]
            # A child read from a parent that was off is Not configured, a value with no catalog option.
            unset = [f for f in given if f.type.kind == "enum" and self.option_of(f) is None]
            if unset:
                raise emit_error(
                    f"enabling {definition} needs a value for each of its settings; the repaired policy gives "
                    + ", ".join(f"{f.label} ({f.name}) {self.child_value(f)}" for f in unset)
                    + ", which an enabled parent cannot carry",
                    file=self.file,
                    help="give each of them a value in the repair (the Intune page lists the choices)",
                )
            choice["children"] = [self.instance(f, self.child_value(f)) for f in given]

    def option_of(self, fact: Fact) -> Any:
        """The catalog's raw value of ``fact``'s repaired member (None: the catalog has none)."""
        return member_raw(self.index, fact, self.child_value(fact), CATALOG)

    def has(self, fact: Fact) -> bool:
        """Whether the repaired policy gives ``fact`` a value."""
        return self.after.get(fact.name) is not None

    def child_value(self, fact: Fact) -> Any:
        return self.after[fact.name]

    def _add_child(self, fact: Fact, definition: str, value: Any) -> None:
        """An ADMX child whose instance is absent: under its parent, the parent enabled."""
        parent_id = definition[: -len(fact.origins["csp_data_id"]) - 1]
        found = self.find(parent_id)
        parent: dict[str, Any]
        if found is None:
            parent = {"@odata.type": CHOICE, "settingDefinitionId": parent_id, "choiceSettingValue": {"children": []}}
            self.append(parent)
        else:
            parent = found[0]
        choice = parent.get("choiceSettingValue")
        if not isinstance(choice, dict):
            parent["choiceSettingValue"] = choice = {}
        was, enabled = choice.get("value"), f"{parent_id}_1"
        choice["value"] = enabled
        self._keep_children_valid(parent_id, choice, was, enabled)
        child = self.find(definition)
        if child is None:
            choice.setdefault("children", []).append(self.instance(fact, value))
        else:
            self._update(child[0], fact, definition, value)

    def instance(self, fact: Fact, value: Any) -> dict[str, Any]:
        """A new setting instance for ``fact``: a choice for an enum or bool, else a simple value."""
        definition = fact.origins["catalog"]
        kind = fact.type.kind
        if kind in ("enum", "bool"):
            return {
                "@odata.type": CHOICE,
                "settingDefinitionId": definition,
                "choiceSettingValue": {"value": catalog_option(self.index, fact, definition, value), "children": []},
            }
        if kind not in SIMPLE_VALUE:
            raise emit_error(f"{fact.name} ({kind}) cannot be written as a catalog setting", file=self.file)
        return {
            "@odata.type": SIMPLE,
            "settingDefinitionId": definition,
            "simpleSettingValue": {"@odata.type": SIMPLE_VALUE[kind], "value": raw_value(self.index, fact, value, "")},
        }
