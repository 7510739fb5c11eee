"""Intune assignment filters: a filter's rule parsed (``grammar/assignment_filter.lark``) and
evaluated on a Graph ``managedDevice`` record, in three-valued logic.

What is evaluated follows Microsoft's description of filter rules for managed devices
("App and device properties, operators, and rule editing when creating filters in Microsoft
Intune"): properties, operators and values are case-insensitive; ``Null``/``$Null`` is a value
of ``-eq``/``-ne``; ``operatingSystemVersion`` compares as a version with ``-gt -ge -lt -le``.
A comparison gives ``None`` (not evaluated) when the record does not carry the property (a
snapshot pulled without it), when the property has no managedDevice counterpart this module
maps faithfully (``cpuArchitecture``, ``isRooted``, an ``app.`` property), or when the operator
is one whose meaning the documentation does not pin down for us (``-match``/``-notMatch``: a
.NET regular expression, which Python's ``re`` does not read alike). ``and``/``or`` are Kleene's,
so a rule is decided whenever its known parts decide it. The reason a comparison was not
evaluated is kept (``Match.unknown``), so a report can name the property or operator.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from attrs import frozen

from .resources import data_dir


class FilterSyntaxError(ValueError):
    """A filter rule that is not a rule: ``column`` is where (1-based), the message says what was expected."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.column = column


@frozen
class Match:
    """A rule's result on one device: True, False or None (not evaluated), and why it was not."""

    value: bool | None
    unknown: tuple[str, ...] = ()


@frozen
class Comparison:
    """``(device.<property> <operator> <value>)``; ``value`` is a str, None (Null), a tuple of
    str (a list) or a ``Version``."""

    entity: str
    name: str
    operator: str
    value: Any

    def evaluate(self, device: Mapping[str, Any]) -> Match:
        """This comparison on a managedDevice record."""
        problem = self.problem()
        if problem:
            return Match(None, (problem,))
        source = PROPERTIES[self.name.casefold()]
        if source.graph not in device:
            return Match(None, (f"the device record has no `{source.graph}` (for {self.name})",))
        value = source.read(device.get(source.graph))
        return _compare(self, value)

    def problem(self) -> str | None:
        """Why this comparison can never be evaluated here (None when it can)."""
        if self.entity.casefold() != "device":
            return f"`{self.entity}.{self.name}` is not a managed device property"
        source = PROPERTIES.get(self.name.casefold())
        if source is None:
            return f"property `{self.name}` has no managed device record field this version reads faithfully"
        operator = self.operator.lstrip("-").casefold()
        if operator not in source.operators:
            return f"operator `{self.operator}` is not evaluated for `{self.name}`"
        if not _takes(operator, self.value, versions=source.read is _version):
            return f"`{self.operator}` does not take the value given for `{self.name}`"
        return None


@frozen
class Both:
    """``a and b and …``."""

    parts: tuple[Rule, ...]

    def evaluate(self, device: Mapping[str, Any]) -> Match:
        """False when any part is false; else None when any is not evaluated; else True."""
        return _kleene([p.evaluate(device) for p in self.parts], decisive=False)


@frozen
class Either:
    """``a or b or …``."""

    parts: tuple[Rule, ...]

    def evaluate(self, device: Mapping[str, Any]) -> Match:
        """True when any part is true; else None when any is not evaluated; else False."""
        return _kleene([p.evaluate(device) for p in self.parts], decisive=True)


Rule = Comparison | Both | Either


def _kleene(results: list[Match], decisive: bool) -> Match:
    if any(r.value is decisive for r in results):
        return Match(decisive)
    unknown = tuple(dict.fromkeys(why for r in results for why in r.unknown))
    return Match(None, unknown) if unknown else Match(not decisive)


class Version(tuple):
    """A dotted version (``10.0.22631.3235``) that compares number by number; missing trailing parts are 0."""

    __slots__ = ()

    @classmethod
    def parse(cls, text: str) -> Version | None:
        """The version ``text`` writes, or None when it is not digits separated by dots."""
        parts = text.strip().split(".")
        if not all(p.isdigit() and p.isascii() for p in parts):
            return None
        numbers = [int(p) for p in parts]
        while len(numbers) > 1 and numbers[-1] == 0:
            numbers.pop()  # 10.0.22000 and 10.0.22000.0 are the same version
        return cls(numbers)


@frozen
class Property:
    """A filter property: the managedDevice field it reads, how that value reads as the filter's, its operators."""

    graph: str
    operators: frozenset[str]
    read: Callable[[Any], Any] = str


def _text(raw: Any) -> str | None:
    return raw if isinstance(raw, str) else None


def _named(names: Mapping[str, str]) -> Callable[[Any], Any]:
    """A Graph enumeration's value as the word a filter compares (an unmapped value stays as Graph wrote it)."""

    def read(raw: Any) -> str | None:
        return names.get(raw.casefold(), raw) if isinstance(raw, str) else None

    return read


def _sku(raw: Any) -> str | None:
    """``skuNumber`` (Win32_OperatingSystem.OperatingSystemSKU) as the filter's operatingSystemSKU value."""
    return _SKU_NAMES.get(raw) if isinstance(raw, int) and not isinstance(raw, bool) else None


def _version(raw: Any) -> Version | None:
    return Version.parse(raw) if isinstance(raw, str) else None


_STRING_OPERATORS = frozenset(
    {"eq", "ne", "in", "notin", "startswith", "notstartswith", "endswith", "notendswith", "contains", "notcontains"}
)
_EQUALITY = frozenset({"eq", "ne", "in", "notin"})
_ORDER = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})


def _takes(operator: str, value: Any, versions: bool) -> bool:
    """Whether ``operator`` compares with ``value``: Null with -eq/-ne, a list with -in/-notIn,
    a version (bare or quoted) for a version property, a quoted string otherwise."""
    if value is None:
        return operator in ("eq", "ne")
    if versions:
        return isinstance(value, Version) or (isinstance(value, str) and Version.parse(value) is not None)
    if operator in ("in", "notin"):
        return isinstance(value, tuple) and not isinstance(value, Version)
    return isinstance(value, str)


# The documented Windows values of operatingSystemSKU, by Win32 SKU number (the table of
# "Supported filter device and app properties"); a number not listed is not evaluated.
_SKU_NAMES = {
    49: "BusinessN", 203: "CloudEdition", 202: "CloudEditionN", 101: "Core", 99: "CoreCountrySpecific",
    98: "CoreN", 100: "CoreSingleLanguage", 121: "Education", 122: "EducationN", 4: "Enterprise",
    72: "EnterpriseEval", 171: "EnterpriseG", 172: "EnterpriseGN", 27: "EnterpriseN", 84: "EnterpriseNEval",
    125: "EnterpriseS", 129: "EnterpriseSEval", 126: "EnterpriseSN", 136: "Holographic", 123: "IoTUAP",
    131: "IoTUAPCommercial", 188: "IoTEnterprise", 119: "PPIPro", 48: "Professional",
    164: "ProfessionalEducation", 165: "ProfessionalEducationN", 161: "ProfessionalWorkstation",
    162: "ProfessionalN", 138: "ProfessionalSingleLanguage", 175: "ServerRdsh",
}  # fmt: skip

# Filter property (case-folded) -> the managedDevice field that holds it.
PROPERTIES = {
    "devicename": Property("deviceName", _STRING_OPERATORS, _text),
    "manufacturer": Property("manufacturer", _STRING_OPERATORS, _text),
    "model": Property("model", _STRING_OPERATORS, _text),
    "osversion": Property("osVersion", _STRING_OPERATORS, _text),
    "operatingsystemversion": Property("osVersion", _ORDER, _version),
    "enrollmentprofilename": Property("enrollmentProfileName", _STRING_OPERATORS, _text),
    "devicecategory": Property("deviceCategoryDisplayName", _STRING_OPERATORS, _text),
    "operatingsystemsku": Property("skuNumber", _STRING_OPERATORS, _sku),
    "deviceownership": Property(
        "managedDeviceOwnerType", _EQUALITY, _named({"company": "Corporate", "personal": "Personal"})
    ),
    "devicetrusttype": Property(
        "joinType",
        _EQUALITY,
        _named(
            {
                "azureadjoined": "Azure AD joined",
                "azureadregistered": "Azure AD registered",
                "hybridazureadjoined": "Hybrid Azure AD joined",
            }
        ),
    ),
}

# The managedDevice fields the evaluable properties read: what a pull asks for beside the facts'.
DEVICE_FIELDS = tuple(sorted({p.graph for p in PROPERTIES.values()}))


def _compare(comparison: Comparison, value: Any) -> Match:
    """``value`` (the device's, as the filter reads it) against the comparison's; None when unknown."""
    operator, wanted = comparison.operator.lstrip("-").casefold(), comparison.value
    if operator in ("eq", "ne") and wanted is None:
        return Match((value is None) == (operator == "eq"))
    if value is None:
        return Match(None, (f"the device has no {comparison.name} value to compare",))
    if operator in _ORDER and isinstance(value, Version):
        bound = wanted if isinstance(wanted, Version) else Version.parse(wanted)
        if bound is None:
            return Match(None, (f"`{wanted}` is not a version",))
        return Match(_ORDERED[operator](value, bound))
    if isinstance(wanted, tuple):
        found = value.casefold() in {w.casefold() for w in wanted}
        return Match(found if operator == "in" else not found)
    negated = operator.startswith("not") or operator == "ne"
    test = _TESTS[operator.removeprefix("not") if operator != "ne" else "eq"]
    return Match(test(value.casefold(), wanted.casefold()) != negated)


_TESTS: dict[str, Callable[[str, str], bool]] = {
    "eq": str.__eq__,
    "startswith": str.startswith,
    "endswith": str.endswith,
    "contains": str.__contains__,
}
_ORDERED: dict[str, Callable[[Version, Version], bool]] = {
    "eq": Version.__eq__,
    "ne": Version.__ne__,
    "gt": Version.__gt__,
    "ge": Version.__ge__,
    "lt": Version.__lt__,
    "le": Version.__le__,
}


def parse_filter(rule: str) -> Rule:
    """A filter's rule as a tree of comparisons; FilterSyntaxError (with the column) when it is not one."""
    from lark.exceptions import UnexpectedInput  # noqa: PLC0415 - lark is loaded only by a run that parses a filter

    depth = _nesting(rule)
    if depth > MAX_NESTING:
        raise FilterSyntaxError(f"parentheses nested {depth} deep; at most {MAX_NESTING} are read", 1)
    try:
        tree = _parser().parse(rule)
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        at_end = getattr(token, "type", None) == "$END"
        column = len(rule) + 1 if at_end else getattr(exc, "column", 0) or 0
        raise FilterSyntaxError(_expected(exc, rule), column) from None
    return _built(tree)


MAX_NESTING = 64  # parentheses; a deeper rule is refused before anything recurses over it


def _nesting(rule: str) -> int:
    """How deep the rule's parentheses go (outside quoted values)."""
    deepest = depth = 0
    for part in rule.split('"')[::2]:  # the text between quoted values
        for char in part:
            depth += (char == "(") - (char == ")")
            deepest = max(deepest, depth)
    return deepest


def _expected(exc: Any, rule: str) -> str:
    """What the parser wanted where it stopped, in words."""
    token = getattr(exc, "token", None)
    at = getattr(exc, "pos_in_stream", None)
    if token is not None and getattr(token, "type", None) != "$END":
        found = repr(str(token)[:20])
    elif token is None and isinstance(at, int) and at < len(rule):
        found = repr(rule[at : at + 12])
    else:
        found = "the end of the rule"
    names = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
    wanted = sorted({_WORDS[name] for name in names if name in _WORDS})
    return f"unexpected {found}" + (f"; expected {', '.join(wanted)}" if wanted else "")


_WORDS = {
    "PROPERTY": "a property such as device.model",
    "OPERATOR": "an operator such as -eq",
    "STRING": 'a "quoted" value',
    "NULL": "$null",
    "VERSION": "a version",
    "LSQB": "a [list]",
    "LPAR": "(",
    "RPAR": ")",
    "AND": "and",
    "OR": "or",
    "COMMA": ",",
    "$END": "the end of the rule",
}


@functools.cache
def _parser() -> Any:
    # One parser per process; the contextual lexer tells `or` the joiner from an operator word.
    from lark import Lark  # noqa: PLC0415 - see parse_filter

    grammar = (data_dir("grammar") / "assignment_filter.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", maybe_placeholders=False)


def _built(node: Any) -> Rule:
    """lark's parse tree (``data`` and ``children``; its tokens are str) as ``Comparison``,
    ``Both`` and ``Either`` records."""
    if node.data == "comparison":
        name, operator, value = node.children
        entity, _, field = str(name).partition(".")
        return Comparison(entity, field, str(operator), _value(value))
    parts = tuple(_built(child) for child in node.children if hasattr(child, "data"))
    return Both(parts) if node.data == "both" else Either(parts)


def _value(node: Any) -> Any:
    """A comparison's value: a str, None (Null), a version, or a tuple of str (a list)."""
    tokens = [str(t) for t in node.children if t is not None]
    if node.data == "text":
        return tokens[0][1:-1]
    if node.data == "null":
        return None
    if node.data == "version":
        return Version.parse(tokens[0]) or tokens[0]
    return tuple(t[1:-1] for t in tokens)


def problems(rule: Rule) -> tuple[str, ...]:
    """Why parts of ``rule`` can never be evaluated (the property or operator), each once."""
    if isinstance(rule, Comparison):
        problem = rule.problem()
        return (problem,) if problem else ()
    return tuple(dict.fromkeys(p for part in rule.parts for p in problems(part)))
