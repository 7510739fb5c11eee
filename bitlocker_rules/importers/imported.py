"""The importers' records (an imported policy or device part, and its notices) and the
collector that builds them while a format's walker reads the input."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs
from attrs import frozen

from ..errors import Diagnostic, InputError, redact
from ..facts import Facts
from ..jsonpath import path_segments
from ..outcome import ValueOrigin
from ..vocabulary import Fact, Vocabulary
from .origins import NOT_CONFIGURED, Binding, OriginIndex, Unmappable, shown

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Notice codes (severity "note"): what was read but not turned into a fact, and why.
SKIPPED = "N401"  # not BitLocker-relevant (another Graph property, a non-BitLocker setting)
UNDECLARED = "N402"  # looks BitLocker-related but the vocabulary declares no origin for it
UNREADABLE = "N403"  # present, but the export does not carry a readable value
DISAGREES = "N404"  # an alternate origin disagrees with the primary one; the primary is kept
DROPPED_SECRET = "N405"  # a recovery key / password field: never read, never kept
INCOMPLETE = "N406"  # the export is incomplete (another page exists, settings not expanded)
UNKNOWN_FAMILY = "N407"  # settings-catalog template family the vocabulary does not name


# Properties every Graph entity (deviceConfiguration, managedDevice, ...) carries that are
# read as provenance or are bookkeeping: neither settings nor device facts.
ENTITY_KEYS = frozenset(
    {
        "id",
        "displayName",
        "description",
        "createdDateTime",
        "lastModifiedDateTime",
        "version",
        "roleScopeTagIds",
        "supportsScopeTags",
        "deviceManagementApplicabilityRuleOsEdition",
        "deviceManagementApplicabilityRuleOsVersion",
        "deviceManagementApplicabilityRuleDeviceMode",
    }
)


@frozen
class ImportedPolicy:
    """One policy read from an export: its settings as facts, where it came from, notices.

    ``facts.name`` is ``policy '<display name>' (<id>)`` and every ``facts.origins`` entry is a
    ``ValueOrigin`` with that name and the JSON path of the value, so a merge conflict can name
    both policies and a report can point at the line of each.
    """

    facts: Facts
    policy_id: str
    display_name: str
    kind: str  # detected input kind, e.g. "graph-endpoint-protection" (see detect.py)
    policy_type: str | None  # member of enum PolicyType, or None when not a BitLocker policy
    notices: tuple[Diagnostic, ...] = ()
    origin: str = "<input>"
    api_version: str | None = None  # "beta" / "v1.0" when @odata.context tells

    @property
    def name(self) -> str:
        """How reports name this policy."""
        return self.facts.name


@frozen
class ImportedDevice:
    """Facts about one device read from one input (a managedDevice record, an encryption
    report row, recovery keys, a CSP status read-out, or the project's own device JSON).

    Several parts of one device are combined with ``facts.merge_facts``.
    """

    facts: Facts
    device_id: str  # Intune managedDevice id when the input carries it
    device_name: str
    azure_ad_device_id: str  # Entra device id (joins recovery keys to devices)
    kind: str
    notices: tuple[Diagnostic, ...] = ()
    origin: str = "<input>"
    api_version: str | None = None

    @property
    def name(self) -> str:
        """How reports name this device."""
        return self.facts.name


SECRET_FIELDS = frozenset(
    {
        "key",
        "recoverykey",
        "recoverypassword",
        "recovery_key",
        "recovery_password",
        "password",
        "bitlockerrecoverypassword",
    }
)


def is_secret_field(name: str) -> bool:
    """A field that holds a recovery key or password: never read, never kept."""
    return name.casefold() in SECRET_FIELDS


def is_annotation(key: object) -> bool:
    """An OData annotation: ``@odata.type``, ``createdDateTime@odata.type``,
    ``settings@odata.navigationLink``, an instance annotation ``@ns.term`` or an action link
    ``#microsoft.graph.assign``. Metadata about the payload, never a property of it: ignored
    without a notice (the importers read ``@odata.type`` and ``@odata.context`` themselves,
    where they tell what a resource is)."""
    return isinstance(key, str) and ("@odata." in key or key.startswith(("@", "#")))


def is_blank(raw: Any) -> bool:
    """A Graph string with nothing in it: for a device fact that is missing, never a value."""
    return isinstance(raw, str) and not raw.strip()


def jpath(path: str, key: str | int) -> str:
    """``$.a.b`` / ``$.a[0]`` / ``$["@odata.type"]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = redact(key)  # before JSON quotes it: escaped digits would hide from a later mask
    return f"{path}.{key}" if _IDENT.match(key) else f"{path}[{json.dumps(key)}]"


def clean(text: Any) -> str:
    """A string from the input as records keep it: recovery passwords masked."""
    return redact(text) if isinstance(text, str) else ("" if text is None else redact(str(text)))


def subject_name(kind: str, display: str, ident: str, origin: str) -> str:
    """``policy 'Name' (id)``: display name and id, masked."""
    display, ident = clean(display), clean(ident)
    if display and ident:
        return f"{kind} {display!r} ({ident})"
    if display or ident:
        return f"{kind} {(display or ident)!r}"
    return f"{kind} from {clean(origin)}"


class Collector:
    """Gathers typed values, their JSON paths, notices and problems for one subject."""

    def __init__(self, index: OriginIndex, origin: str, namespaces: tuple[str, ...]) -> None:
        self.index = index
        self.vocabulary: Vocabulary = index.vocabulary
        self.origin = origin
        self.namespaces = namespaces
        self.values: dict[str, Any] = {}
        self.paths: dict[str, str] = {}  # where each value is, as messages name it
        self.places: dict[str, ValueOrigin] = {}  # the same, as a record (the subject's name added later)
        self.weak: list[tuple[str, Any, str, str | None, bool]] = []  # (fact, value, path, note, report disagreement)
        self.notices: list[Diagnostic] = []
        self.problems: list[Diagnostic] = []

    # -- values ---------------------------------------------------------------------------

    def take(self, binding: Binding, raw: Any, path: str, note: str | None = None) -> None:
        """Convert ``raw`` through ``binding`` and keep it (or record what was wrong); ``note``
        says where inside the value at ``path`` it was (an ADMX payload's ``<data id=…>``)."""
        fact = binding.fact
        if fact.namespace not in self.namespaces:
            self.note(SKIPPED, f"`{fact.name}` is not read from this kind of input", path)
            return
        if raw is None:
            # A Graph null (or an absent ADMX value) is "not configured".
            if fact.type.enum is not None and fact.type.enum.member(NOT_CONFIGURED):
                self.set(fact, NOT_CONFIGURED, path, weak=binding.weak, note=note)
            return
        if (is_blank(raw) and not fact.policy_controlled) or self.index.means_unknown(binding, raw):
            # An inventory that reports nothing, or a value its source documents as "not
            # known" (notApplicable): the fact is missing, never false.
            return
        try:
            value = self.index.convert(binding, raw)
        except Unmappable as exc:
            self.bad(fact, raw, f"{path} {note}" if note else path, str(exc))
            return
        self.set(fact, value, path, weak=binding.weak, note=note)

    def set(
        self, fact: Fact, value: Any, path: str, *, weak: bool = False, quiet: bool = False, note: str | None = None
    ) -> None:
        """Keep a typed value; a second, different value for the same fact is a problem."""
        if weak:
            self.weak.append((fact.name, value, path, note, not quiet))
            return
        where = f"{path} {note}" if note else path
        if fact.name in self.values and repr(self.values[fact.name]) != repr(value):
            self.problems.append(
                Diagnostic(
                    "I402",
                    f"{fact.name} ({fact.label}) is set twice with different values, "
                    f"at {self.paths[fact.name]} and here",
                    path=where,
                    file=self.origin,
                    help="one policy can give a setting only one value; remove one of them",
                )
            )
            return
        if fact.name not in self.values:
            self.values[fact.name], self.paths[fact.name] = value, where
            self.places[fact.name] = _place(path, note)

    def imply_not_configured(self, bindings: Sequence[Binding], path: str) -> None:
        """A disabled ADMX parent or a null Graph object: its settings are not configured."""
        for binding in bindings:
            enum = binding.fact.type.enum
            if enum is not None and enum.member(NOT_CONFIGURED) and binding.fact.namespace in self.namespaces:
                self.set(binding.fact, NOT_CONFIGURED, path, weak=True, quiet=True)

    # -- findings -------------------------------------------------------------------------

    def bad(self, fact: Fact, raw: Any, path: str, expected: str, what: str = "") -> None:
        """A value of the wrong type or an unknown enum value (once per value: a property read
        as two facts gives one error)."""
        if any(p.code == "I401" and p.path == path for p in self.problems):
            return
        self.problems.append(
            Diagnostic(
                "I401",
                f"{shown(raw)} is not a valid value for {what or fact.name} ({fact.label})",
                path=path,
                file=self.origin,
                help=f"expected {redact(expected)}",
            )
        )

    def error(self, code: str, message: str, path: str, help: str | None = None) -> None:
        """A structural problem (wrong shape, unparseable payload)."""
        self.problems.append(
            Diagnostic(code, redact(message), path=path, file=self.origin, help=redact(help) if help else None)
        )

    def note(self, code: str, message: str, path: str) -> None:
        """Something read but not used: never silently."""
        self.notices.append(Diagnostic(code, redact(message), severity="note", path=path, file=self.origin))

    def skip_other_keys(self, item: Mapping[str, Any], read: Collection[str], graph_type: str, path: str) -> None:
        """A notice for every property of ``item`` outside ``read`` (annotations are no properties)."""
        for key in item:
            if key not in read and not is_annotation(key):
                self.note(
                    SKIPPED, f"`{key}` is not a BitLocker-relevant property of {graph_type}; skipped", jpath(path, key)
                )

    # -- results --------------------------------------------------------------------------

    def facts(self, name: str) -> Facts:
        """The collected Facts; raise InputError when anything was wrong."""
        if self.problems:
            raise InputError(self.problems)
        values, paths, places = dict(self.values), dict(self.paths), dict(self.places)
        for fact, value, path, note, report in self.weak:
            where = f"{path} {note}" if note else path
            if fact not in values:
                values[fact], paths[fact], places[fact] = value, where, _place(path, note)
            elif report and repr(values[fact]) != repr(value):
                self.note(
                    DISAGREES,
                    f"{where} disagrees with {paths[fact]} for {fact}; kept the value at {paths[fact]}",
                    where,
                )
        origins = {fact: (attrs.evolve(place, input=name),) for fact, place in places.items()}
        return Facts(values, origins, name=name)


def _place(path: str, note: str | None) -> ValueOrigin:
    """A value's place in its input (the input's name is the subject's, given when the facts are made)."""
    segments = path_segments(path)
    if segments is None:  # not a path (never, for paths made by ``jpath``): kept as text
        return ValueOrigin(note=f"{path} {note}" if note else path)
    return ValueOrigin(path=segments, note=note)
