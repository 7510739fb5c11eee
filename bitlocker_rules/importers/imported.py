"""The importers' records (an imported policy or device part, and its notices) and the
collector that builds them while a format's walker reads the input."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import attrs
from attrs import frozen

from ..errors import Diagnostic, InputError, redact
from ..facts import Facts
from ..jsonpath import JsonPath, Segment
from ..outcome import ValueOrigin
from ..source import InputPlace
from ..vocabulary import Fact, Vocabulary
from .origins import NOT_CONFIGURED, Binding, OriginIndex, Unmappable, shown

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


def child_path(path: JsonPath, key: Segment) -> JsonPath:
    """The path of member ``key`` (or element ``key``) of the value at ``path``.

    A member's name is input text: it is masked here, as it is read, so no path written from it
    can show a recovery password (written as JSON, other scripts' digits would be escaped)."""
    return (*path, key if isinstance(key, int) else str(redact(key)))


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
        self.places: dict[str, ValueOrigin] = {}  # where each value is (the subject's name added later)
        self.weak: list[tuple[str, Any, ValueOrigin, bool]] = []  # (fact, value, place, report disagreement)
        self.notices: list[Diagnostic] = []
        self.problems: list[Diagnostic] = []

    # -- values ---------------------------------------------------------------------------

    def take(self, binding: Binding, raw: Any, path: JsonPath, data_id: str | None = None) -> None:
        """Convert ``raw`` through ``binding`` and keep it (or record what was wrong); ``data_id``
        names the ADMX ``<data id=…>`` of the payload at ``path`` the value was read from."""
        fact = binding.fact
        if fact.namespace not in self.namespaces:
            self.note(SKIPPED, f"`{fact.name}` is not read from this kind of input", path)
            return
        place = ValueOrigin(path=path, data_id=data_id)
        if raw is None:
            # A Graph null (or an absent ADMX value) is "not configured".
            if fact.type.enum is not None and fact.type.enum.member(NOT_CONFIGURED):
                self.keep(fact, NOT_CONFIGURED, place, weak=binding.weak)
            return
        if (is_blank(raw) and not fact.policy_controlled) or self.index.means_unknown(binding, raw):
            # An inventory that reports nothing, or a value its source documents as "not
            # known" (notApplicable): the fact is missing, never false.
            return
        try:
            value = self.index.convert(binding, raw)
        except Unmappable as exc:
            self.bad(fact, raw, place, str(exc))
            return
        self.keep(fact, value, place, weak=binding.weak)

    def set(self, fact: Fact, value: Any, path: JsonPath, *, weak: bool = False, quiet: bool = False) -> None:
        """Keep a typed value read at ``path``; a second, different value for the same fact is a problem."""
        self.keep(fact, value, ValueOrigin(path=path), weak=weak, quiet=quiet)

    def keep(self, fact: Fact, value: Any, place: ValueOrigin, *, weak: bool = False, quiet: bool = False) -> None:
        """Keep a typed value read at ``place``; a second, different value for the same fact is a problem."""
        if weak:
            self.weak.append((fact.name, value, place, not quiet))
            return
        if fact.name in self.values and repr(self.values[fact.name]) != repr(value):
            self.problems.append(
                Diagnostic(
                    "I402",
                    f"{fact.name} ({fact.label}) is set twice with different values, "
                    f"at {self.places[fact.name].place()} and here",
                    input_place=self.input_place(place),
                    help="one policy can give a setting only one value; remove one of them",
                )
            )
            return
        if fact.name not in self.values:
            self.values[fact.name], self.places[fact.name] = value, place

    def imply_not_configured(self, bindings: Sequence[Binding], path: JsonPath) -> None:
        """A disabled ADMX parent or a null Graph object: its settings are not configured."""
        for binding in bindings:
            enum = binding.fact.type.enum
            if enum is not None and enum.member(NOT_CONFIGURED) and binding.fact.namespace in self.namespaces:
                self.set(binding.fact, NOT_CONFIGURED, path, weak=True, quiet=True)

    # -- findings -------------------------------------------------------------------------

    def bad(self, fact: Fact, raw: Any, place: ValueOrigin | JsonPath, expected: str, what: str = "") -> None:
        """A value of the wrong type or an unknown enum value (once per value: a property read
        as two facts gives one error)."""
        where = self.input_place(place)
        if any(p.code == "I401" and p.input_place == where for p in self.problems):
            return
        self.problems.append(
            Diagnostic(
                "I401",
                f"{shown(raw)} is not a valid value for {what or fact.name} ({fact.label})",
                input_place=where,
                help=f"expected {redact(expected)}",
            )
        )

    def error(self, code: str, message: str, path: JsonPath, help: str | None = None) -> None:
        """A structural problem (wrong shape, unparseable payload)."""
        self.problems.append(
            Diagnostic(code, redact(message), input_place=self.input_place(path), help=redact(help) if help else None)
        )

    def note(self, code: str, message: str, path: ValueOrigin | JsonPath) -> None:
        """Something read but not used: never silently."""
        self.notices.append(Diagnostic(code, redact(message), severity="note", input_place=self.input_place(path)))

    def input_place(self, place: ValueOrigin | JsonPath) -> InputPlace:
        """Where a value (or the input at a path) is, as a diagnostic names it: this input and the path."""
        if isinstance(place, ValueOrigin):
            return InputPlace(self.origin, place.path, place.data_id)
        return InputPlace(self.origin, place)

    def skip_other_keys(self, item: Mapping[str, Any], read: Collection[str], graph_type: str, path: JsonPath) -> None:
        """A notice for every property of ``item`` outside ``read`` (annotations are no properties)."""
        for key in item:
            if key not in read and not is_annotation(key):
                self.note(
                    SKIPPED,
                    f"`{key}` is not a BitLocker-relevant property of {graph_type}; skipped",
                    child_path(path, key),
                )

    def move_into(self, other: Collector, moved: Callable[[JsonPath], ValueOrigin]) -> None:
        """Everything gathered here given to ``other``, each place moved by ``moved``: this
        collector read a document made in place of ``other``'s input (an intent's profile), and
        ``moved`` says where in the input each of its places came from."""

        def at(path: JsonPath | str | None, data_id: str | None) -> ValueOrigin:
            return attrs.evolve(moved(path if isinstance(path, tuple) else ()), data_id=data_id)

        for name, value in self.values.items():
            place = self.places[name]
            other.keep(self.vocabulary.facts[name], value, at(place.path, place.data_id))
        for name, value, place, report in self.weak:
            other.keep(self.vocabulary.facts[name], value, at(place.path, place.data_id), weak=True, quiet=not report)
        for found, into in ((self.notices, other.notices), (self.problems, other.problems)):
            for diagnostic in found:
                where = diagnostic.input_place or InputPlace()
                into.append(attrs.evolve(diagnostic, input_place=other.input_place(at(where.path, where.data_id))))

    # -- results --------------------------------------------------------------------------

    def facts(self, name: str) -> Facts:
        """The collected Facts; raise InputError when anything was wrong."""
        if self.problems:
            raise InputError(self.problems)
        values, places = dict(self.values), dict(self.places)
        for fact, value, place, report in self.weak:
            if fact not in values:
                values[fact], places[fact] = value, place
            elif report and repr(values[fact]) != repr(value):
                kept = places[fact].place()
                self.note(
                    DISAGREES, f"{place.place()} disagrees with {kept} for {fact}; kept the value at {kept}", place
                )
        origins = {fact: (attrs.evolve(place, input=name),) for fact, place in places.items()}
        return Facts(values, origins, name=name)
