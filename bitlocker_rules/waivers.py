"""Waivers: accepted risks read from a TOML file, each scoped, justified, approved and expiring.

A waiver names rules and a scope (devices, groups, policies, or every device); a failure of
one of its rules on a device in its scope becomes the outcome ``waived`` (see ``waived``),
after evaluation: the verdicts themselves are never changed. A waiver whose expiry date is
before the run's day applies no longer. Every problem of the file is reported at once, with
the file, the line of the waiver and the key path (``waivers[2].rules[0]``), and a "did you
mean" for a rule, device, group or policy the run does not know.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen

from .errors import Diagnostic, InputError, ProblemList, suggest
from .outcome import AppliedWaiver, Report, Status, WaiverNotice
from .reading import parse_toml, read_source
from .source import SourceText

EVERY_DEVICE = "all"  # ``scope = "all"``: the waiver covers every device
_FIELDS = ("id", "rules", "scope", "justification", "approver", "expires")
_SCOPE_KEYS = ("devices", "groups", "policies")
_TODAY_FORMAT = "YYYY-MM-DD"


@frozen
class WaiverScope:
    """Which devices a waiver covers: every device, or those named, in a group named, or given a
    policy named (any of them: the lists add up). Names and ids are kept case-folded."""

    everything: bool = False
    devices: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    policies: frozenset[str] = frozenset()

    def covers(self, device_keys: Iterable[str], groups: Iterable[str], policies: Iterable[str]) -> bool:
        """Whether a device known by ``device_keys``, in ``groups``, given ``policies`` is in scope."""
        if self.everything:
            return True
        return any(
            not wanted.isdisjoint(k.casefold() for k in given)
            for wanted, given in ((self.devices, device_keys), (self.groups, groups), (self.policies, policies))
            if wanted
        )


@frozen
class Waiver:
    """One accepted risk: its id, the rule ids it waives, its scope, why, who approved it, until when."""

    id: str
    rules: tuple[str, ...]
    scope: WaiverScope
    justification: str
    approver: str
    expires: dt.date
    line: int = 0  # of its ``[[waivers]]`` header in the file (0: not from a file)

    def applied(self) -> AppliedWaiver:
        """The waiver as an outcome carries it."""
        return AppliedWaiver(self.id, self.justification, self.approver, self.expires.isoformat())

    def expired_on(self, today: dt.date) -> bool:
        """Whether it has expired by ``today``: it applies through its expiry date, not after."""
        return self.expires < today


@frozen
class KnownNames:
    """What a waiver may name in this run: rule ids, and where the run has them, device names
    and ids, group names and ids, policy names and ids (None: the run has none to check against)."""

    rules: Collection[str]
    devices: Collection[str] | None = None
    groups: Collection[str] | None = None
    policies: Collection[str] | None = None


@frozen
class Waivers:
    """A waivers file read for one run: every waiver, the day the run counts as today, the
    file's name and SHA-256 (what a results store records)."""

    waivers: tuple[Waiver, ...]
    today: dt.date
    name: str = ""
    sha256: str = ""

    @property
    def active(self) -> tuple[Waiver, ...]:
        """The waivers that apply on ``today``."""
        return tuple(w for w in self.waivers if not w.expired_on(self.today))

    def expired(self) -> tuple[WaiverNotice, ...]:
        """One notice per waiver that no longer applies: ``waiver W-3 expired on 2026-11-30``."""
        return tuple(
            WaiverNotice(w.id, "expired", w.expires.isoformat()) for w in self.waivers if w.expired_on(self.today)
        )

    def notices(self, used: Iterable[str]) -> tuple[WaiverNotice, ...]:
        """The run's warnings: the expired waivers, then the active ones that waived no failure
        (``used``: the ids of those that waived at least one)."""
        seen = set(used)
        unmatched = tuple(WaiverNotice(w.id, "unmatched", "") for w in self.active if w.id not in seen)
        return self.expired() + unmatched

    def matcher(self) -> WaiverMatcher:
        """What finds the waivers of each device (built once per run and process)."""
        return WaiverMatcher(self.active)


class WaiverMatcher:
    """The active waivers of a device, by rule id: the first waiver in the file that covers it.

    Devices of one fleet share few distinct combinations of groups and policies, so the waivers
    of each combination are found once; only a device a waiver names by itself is looked at alone.
    """

    def __init__(self, waivers: Iterable[Waiver]) -> None:
        self.waivers = tuple(waivers)
        self.named = frozenset(key for w in self.waivers for key in w.scope.devices)
        self.memo: dict[tuple[frozenset[str], frozenset[str], frozenset[str]], Mapping[str, Waiver]] = {}

    def __bool__(self) -> bool:
        return bool(self.waivers)

    def for_device(
        self, device_keys: Iterable[str], groups: Iterable[str], policies: Iterable[str]
    ) -> Mapping[str, Waiver]:
        """Rule id -> the waiver that waives it on this device (empty when none covers it)."""
        own = frozenset(k.casefold() for k in device_keys) & self.named
        key = (own, frozenset(g.casefold() for g in groups), frozenset(p.casefold() for p in policies))
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self._matching(*key)
        return found

    def _matching(self, own: frozenset[str], groups: frozenset[str], policies: frozenset[str]) -> Mapping[str, Waiver]:
        by_rule: dict[str, Waiver] = {}
        for waiver in self.waivers:
            if waiver.scope.covers(own, groups, policies):
                for rule in waiver.rules:
                    by_rule.setdefault(rule, waiver)
        return by_rule


def waived(report: Report, waivers: Mapping[str, Waiver]) -> Report:
    """``report`` with each failed rule a waiver covers turned into ``waived`` (its reasons kept,
    the waiver named); other verdicts, unknown included, stay as they are."""
    if not waivers or not report.failed:
        return report
    outcomes = tuple(
        attrs.evolve(o, status=Status.WAIVED, waiver=waivers[o.rule].applied())
        if o.status is Status.FAIL and o.rule in waivers
        else o
        for o in report.outcomes
    )
    return attrs.evolve(report, outcomes=outcomes)


def today(given: str | None, environment: Mapping[str, str]) -> dt.date:
    """The day waivers are compared with: ``given`` (``--today``), else the environment's
    ``BITLOCKER_RULES_TODAY``, else today in UTC. InputError for a date not written YYYY-MM-DD."""
    for text, where in ((given, "--today"), (environment.get(TODAY_VARIABLE), TODAY_VARIABLE)):
        if text:
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                raise InputError(
                    [Diagnostic("W001", f"`{text}` is not a date", file=where, help=f"write it {_TODAY_FORMAT}")]
                ) from None
    return dt.datetime.now(dt.UTC).date()


TODAY_VARIABLE = "BITLOCKER_RULES_TODAY"


def read_waivers(path: str | Path, known: KnownNames, on: dt.date) -> Waivers:
    """Read a waivers file; InputError lists every problem with its line and key path."""
    source = read_source(path)
    try:
        data = parse_toml(source.text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError([_syntax_error(source.name, exc)]) from None
    reader = _Reader(source, known)
    waivers = reader.waivers(data)
    if reader.problems:
        raise reader.problems.error()
    digest = hashlib.sha256(source.text.encode("utf-8", "surrogatepass")).hexdigest()
    return Waivers(waivers, on, source.name, digest)


def names_devices(path: str | Path) -> bool:
    """Whether a waiver of the file names devices (False for a file ``read_waivers`` will refuse):
    a fleet's device names are read for the check only then."""
    try:
        data = parse_toml(read_source(path).text)
    except (tomllib.TOMLDecodeError, InputError):
        return False
    tables = data.get("waivers")
    return isinstance(tables, list) and any(
        isinstance(t, dict) and isinstance(t.get("scope"), dict) and "devices" in t["scope"] for t in tables
    )


_KEY_WRITTEN = re.compile(r"\s*(\w+)\s*[=.]")  # a line that gives a key (or a dotted key's first part)
_TOML_PLACE = re.compile(r"^(?P<message>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")


def _syntax_error(name: str, exc: tomllib.TOMLDecodeError) -> Diagnostic:
    """A TOML syntax error at its line and column (``tomllib`` gives them in its message)."""
    found = _TOML_PLACE.match(str(exc))
    if found is None:
        return Diagnostic("W010", f"not valid TOML: {exc}", file=name)
    return Diagnostic("W010", f"not valid TOML: {found['message']}", file=f"{name}:{found['line']}:{found['column']}")


class _Reader:
    """Checks a waivers file's shape and names, collecting every problem."""

    def __init__(self, source: SourceText, known: KnownNames) -> None:
        self.source, self.known = source, known
        self.problems = ProblemList()  # past its limit counted: no line search nor "did you mean" each
        self.lines = source.text.splitlines()
        self.headers = [i + 1 for i, line in enumerate(self.lines) if re.match(r"\s*\[\[\s*waivers\s*\]\]", line)]
        self.keys: dict[int, dict[str, int]] = {}  # by a waiver's header line: each key's first line

    def key_line(self, header: int, at: str) -> int:
        """The line of the key ``at`` names in the waiver whose header is on line ``header`` (the
        header's when the key is not written there, as for a missing key)."""
        found = re.match(r"waivers\[\d+\]\.(\w+)", at)
        if not header or found is None:
            return header
        return self.key_lines(header).get(found[1], header)

    def key_lines(self, header: int) -> dict[str, int]:
        """The line each key is first written on in the waiver whose header is on line ``header``
        (found once per waiver: a waiver of thousands of keys was searched once per problem)."""
        lines = self.keys.get(header)
        if lines is None:
            following = [h for h in self.headers if h > header]
            end = following[0] if following else len(self.lines) + 1
            lines = self.keys[header] = {}
            for number in range(header + 1, end):
                written = _KEY_WRITTEN.match(self.lines[number - 1])
                if written is not None:
                    lines.setdefault(written[1], number)
        return lines

    def waivers(self, data: Mapping[str, Any]) -> tuple[Waiver, ...]:
        for key in data:
            if key != "waivers" and not self.problems.counted():
                self.problem(0, key, f"unknown key `{key}`", suggest(key, ["waivers"]) or "write [[waivers]] tables")
        tables = data.get("waivers", [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            self.problem(0, "waivers", "expected [[waivers]] tables")
            return ()
        read = [self.waiver(i, table) for i, table in enumerate(tables)]
        self.check_ids_unique(read)
        return tuple(w for w in read if w is not None)

    def waiver(self, index: int, table: Mapping[str, Any]) -> Waiver | None:
        at = f"waivers[{index}]"
        line = self.headers[index] if index < len(self.headers) else 0
        for key in table:
            if key not in _FIELDS and not self.problems.counted():
                self.problem(line, f"{at}.{key}", f"unknown key `{key}`", suggest(key, _FIELDS))
        missing = [key for key in _FIELDS if key not in table]
        for key in missing:
            self.problem(line, f"{at}.{key}", f"a waiver needs `{key}`", _FIELD_HELP[key])
        before = len(self.problems)
        texts = {key: self.text(table, key, line, at) for key in ("id", "justification", "approver") if key in table}
        rules = self.rules(table.get("rules"), line, at) if "rules" in table else ()
        scope = self.scope(table.get("scope"), line, at) if "scope" in table else WaiverScope()
        expires = self.date(table.get("expires"), line, at) if "expires" in table else None
        if missing or len(self.problems) > before or expires is None:
            return None
        return Waiver(texts["id"], rules, scope, texts["justification"], texts["approver"], expires, line)

    def text(self, table: Mapping[str, Any], key: str, line: int, at: str) -> str:
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.problem(line, f"{at}.{key}", f"`{key}` must be a non-empty string")
            return ""
        return value.strip()

    def rules(self, value: Any, line: int, at: str) -> tuple[str, ...]:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(v, str) for v in names):
            self.problem(line, f"{at}.rules", "`rules` must be a rule id or a non-empty list of rule ids")
            return ()
        for i, name in enumerate(names):
            self.known_name(name, self.known.rules, "rule", line, f"{at}.rules[{i}]")
        return tuple(names)

    def scope(self, value: Any, line: int, at: str) -> WaiverScope:
        if value == EVERY_DEVICE:
            return WaiverScope(everything=True)
        if not isinstance(value, dict) or not value:
            self.problem(
                line,
                f"{at}.scope",
                f'`scope` must be "{EVERY_DEVICE}" or a table of devices, groups and/or policies',
                'for example: scope = { groups = ["Kiosks"] }',
            )
            return WaiverScope()
        for key in value:
            if key not in _SCOPE_KEYS:
                self.problem(line, f"{at}.scope.{key}", f"unknown scope `{key}`", suggest(key, _SCOPE_KEYS))
        kinds = (("devices", self.known.devices, "device"), ("groups", self.known.groups, "group"))
        lists = {
            key: self.names(value.get(key, []), known, kind, line, f"{at}.scope.{key}") for key, known, kind in kinds
        }
        policies = self.names(value.get("policies", []), self.known.policies, "policy", line, f"{at}.scope.policies")
        return WaiverScope(False, lists["devices"], lists["groups"], policies)

    def names(self, value: Any, known: Collection[str] | None, kind: str, line: int, at: str) -> frozenset[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(line, at, "expected a list of names or ids")
            return frozenset()
        for i, name in enumerate(value):
            self.known_name(name.strip(), known, kind, line, f"{at}[{i}]")
        return frozenset(v.strip().casefold() for v in value)

    def known_name(self, name: str, known: Collection[str] | None, kind: str, line: int, at: str) -> None:
        """A problem when the run knows its ``kind``s and ``name`` is none of them (case aside)."""
        if known is None or name.casefold() in {k.casefold() for k in known}:
            return
        hint = suggest(name, known) or (f"this run has no {kind}" if not known else f"no {kind} of this run is close")
        self.problem(line, at, f"unknown {kind} `{name}`", hint)

    def date(self, value: Any, line: int, at: str) -> dt.date | None:
        if isinstance(value, dt.datetime):
            self.problem(line, f"{at}.expires", "`expires` must be a date, not a date and time", _FIELD_HELP["expires"])
            return None
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.problem(line, f"{at}.expires", f"`expires` must be a date, got {value!r}", _FIELD_HELP["expires"])
        return None

    def check_ids_unique(self, read: list[Waiver | None]) -> None:
        seen: set[str] = set()
        for i, waiver in enumerate(read):
            if waiver is not None and waiver.id in seen:
                self.problem(waiver.line, f"waivers[{i}].id", f"the id `{waiver.id}` is given to two waivers")
            if waiver is not None:
                seen.add(waiver.id)

    def problem(self, line: int, at: str, message: str, hint: str | None = None) -> None:
        line = self.key_line(line, at)
        where = f"{self.source.name}:{line}" if line else self.source.name
        self.problems.append(Diagnostic("W002", message, file=where, path=at, help=hint))


_FIELD_HELP = {
    "id": 'a short name the reports show, e.g. id = "W-1"',
    "rules": 'the rule ids it waives, e.g. rules = ["SE-05"]',
    "scope": 'scope = "all", or a table: scope = { devices = [...], groups = [...], policies = [...] }',
    "justification": "why the risk is accepted",
    "approver": "who accepted it",
    "expires": "the last day it applies, e.g. expires = 2027-01-31",
}
