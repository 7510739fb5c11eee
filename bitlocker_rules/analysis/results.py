"""The records the analyser returns, and its error: frozen, JSON-ready, nothing printed."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, overload

import attrs
from attrs import field, frozen

from ..errors import BitLockerRulesError, Diagnostic
from ..outcome import Condition, Status
from ..source import Location, SourceText, Span
from .values import raw_value


class AnalysisError(BitLockerRulesError):
    """Rules the analyser cannot decide exactly (each diagnostic says which construct)."""


class Undecided(AnalysisError):
    """The analysis did not finish within its time limit (``limit`` seconds): no answer was
    found in time, which says nothing either way. Its diagnostic (A300) says what it was doing."""

    def __init__(self, limit: float, doing: str = "") -> None:
        self.limit = limit
        self.doing = doing
        super().__init__(
            [
                Diagnostic(
                    "A300",
                    f"undecided within {limit:g} s" + (f" ({doing})" if doing else ""),
                    severity="warning",
                    help="give the analysis more time (--timeout SECONDS), or analyse fewer rules at once",
                )
            ]
        )


class Deadline:
    """When an analysis must stop (``limit`` seconds from now; None: no limit), and whom to
    tell, every fifth of a second at most, what it is doing (``progress``, for a display).

    Searches call ``check`` often; past the end it raises ``Undecided``. It is cheap: one
    clock reading, and nothing at all without a limit or a display.
    """

    __slots__ = ("_next", "doing", "end", "limit", "progress")

    def __init__(self, limit: float | None = None, progress: Callable[[str], None] | None = None) -> None:
        self.limit = limit
        self.end = None if limit is None else time.monotonic() + limit
        self.progress = progress
        self.doing = ""
        self._next = 0.0

    @classmethod
    def of(cls, timeout: float | Deadline | None, progress: Callable[[str], None] | None = None) -> Deadline:
        """A deadline from a number of seconds (None: no limit), or the one given."""
        return timeout if isinstance(timeout, Deadline) else cls(timeout, progress)

    def check(self) -> None:
        """Raise ``Undecided`` once the time is up; tell ``progress`` what is being done."""
        if self.end is None and self.progress is None:
            return
        now = time.monotonic()
        if self.end is not None and now > self.end:
            assert self.limit is not None  # an end is set only with a limit
            raise Undecided(self.limit, self.doing)
        if self.progress is not None and now >= self._next:
            self._next = now + 0.2
            self.progress(self.doing)

    def step(self, doing: str) -> None:
        """Say what the analysis does now (the progress display and ``Undecided`` show it)."""
        self.doing = doing
        self.check()


@overload
def location_of(path: str, source: SourceText, span: Span) -> Location: ...
@overload
def location_of(path: str, source: SourceText | None, span: Span | None) -> Location | None: ...
def location_of(path: str, source: SourceText | None, span: Span | None) -> Location | None:
    """Where ``span`` of ``source`` is, as a finding's location (None without a span)."""
    if source is None or span is None:
        return None
    return attrs.evolve(source.location(span), file=path)


@frozen
class Requirement:
    """What one condition of a rule needs of a fact, in the admin's words.

    ``role`` is ``requires`` (a ``require`` clause) or ``applies when`` (the ``when``
    clause); ``required`` is the interpreter's wording (``anything but Require``,
    ``at least 6``), already turned around where the condition sits under a negation.
    """

    rule: str
    ruleset: str
    fact: str
    label: str
    required: str
    text: str
    role: str = "requires"
    location: Location | None = None

    def sentence(self) -> str:
        """``SE-09 requires Compatible TPM startup PIN to be anything but Require``."""
        verb = "to have" if self.required in ("a value", "no value") else "to be"
        if self.role == "applies when":
            verb = "has" if verb == "to have" else "is"
            return f"{self.rule} applies when {self.label} {verb} {self.required}"
        return f"{self.rule} requires {self.label} {verb} {self.required}"


@frozen
class Witness:
    """A concrete assignment found by the analyser and confirmed by the interpreter.

    ``values`` holds every fact of the assignment that has a value (typed, as the
    evaluators take them); ``missing`` the facts the analyser chose to leave missing;
    ``shown`` (fact, label, value in the admin's words) rows; ``outcomes`` the verdict of
    every rule involved, as the interpreter gives it.
    """

    values: Mapping[str, Any]
    missing: tuple[str, ...] = ()
    shown: tuple[tuple[str, str, str], ...] = ()
    outcomes: tuple[tuple[str, Status], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The assignment as plain JSON values (enum member names, versions as text)."""
        return {name: raw_value(value) for name, value in self.values.items()}


def requirement_fields(r: Requirement) -> dict[str, Any]:
    """A requirement as JSON-ready data, without its location (a lint finding carries its own)."""
    return {
        "rule": r.rule,
        "ruleset": r.ruleset,
        "fact": r.fact,
        "label": r.label,
        "role": r.role,
        "required": r.required,
        "text": r.text,
        "sentence": r.sentence(),
    }


def _requirement_dict(r: Requirement) -> dict[str, Any]:
    return {**requirement_fields(r), "location": str(r.location) if r.location else None}


def _witness_dict(w: Witness) -> dict[str, Any]:
    return {
        "values": w.to_json(),
        "missing": list(w.missing),
        "shown": [{"fact": f, "label": label, "value": shown} for f, label, shown in w.shown],
        "outcomes": {rule: str(status) for rule, status in w.outcomes},
    }


@frozen
class RuleConflict:
    """Rules that cannot all be satisfied together; removing any one of them resolves it.

    ``device_facts`` (repair only) are the device facts that block: with them free the
    rules could be satisfied; empty when no device could satisfy them. ``passing`` (repair
    only) are the rules of the set that must pass, not merely not apply (they fail now).
    """

    rules: tuple[str, ...]
    rulesets: tuple[str, ...]
    requirements: tuple[Requirement, ...] = ()
    device_facts: tuple[str, ...] = ()
    passing: tuple[str, ...] = ()

    def message(self) -> str:
        """One paragraph: which rules, and condition by condition what each requires."""
        names = [f"{r} ({s})" for r, s in zip(self.rules, self.rulesets)]
        head = " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]
        many = len(names) > 2
        if set(self.passing) >= set(self.rules):
            text = f"{head} cannot all pass together" if many else f"{head} cannot both pass"
        else:
            text = f"{head} cannot all be satisfied together" if many else f"{head} cannot both be satisfied"
            if self.passing:
                text += " with " + " and ".join(self.passing) + " passing"
        if self.requirements:
            text += ": " + "; ".join(r.sentence() for r in self.requirements)
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "rules": list(self.rules),
            "rulesets": list(self.rulesets),
            "message": self.message(),
            "requirements": [_requirement_dict(r) for r in self.requirements],
            "device_facts": list(self.device_facts),
            "passing": list(self.passing),
        }


@frozen
class Satisfiability:
    """The answer of ``check_satisfiable``: a witness, or a minimal conflicting set of rules;
    or, past the time limit, neither: ``satisfiable`` None and ``undecided`` saying so
    (``undecided within 30 s``)."""

    satisfiable: bool | None
    witness: Witness | None = None
    conflict: RuleConflict | None = None
    undecided: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "satisfiable": self.satisfiable,
            "witness": _witness_dict(self.witness) if self.witness else None,
            "conflict": self.conflict.to_dict() if self.conflict else None,
            "undecided": self.undecided or None,
        }


# Lint codes: (name, short description, default severity). ``Finding.name`` and SARIF read them.
CODES = {
    "L100": ("not-analysed", "A rule uses a construct the analyser does not decide", "warning"),
    "L101": ("never-passes", "A rule can never pass", "error"),
    "L102": ("never-fails", "A rule can never fail", "warning"),
    "L103": ("never-applicable", "A rule's applicability condition can never be true", "warning"),
    "L104": ("redundant", "A rule is implied by another rule", "warning"),
    "L105": ("equivalent", "Two rules are satisfied by exactly the same facts", "warning"),
    "L106": ("unused-definition", "A definition is never used", "warning"),
    "L107": ("conflict", "Rules cannot all be satisfied together", "error"),
    "L108": ("undecided", "Lint did not finish within its time limit", "info"),
    "L110": ("bad-suppression", "A suppression comment without a reason, or naming no known check", "warning"),
    "L111": ("unused-suppression", "A suppression comment that hid no finding", "warning"),
}


@frozen
class Finding:
    """One lint result: a code, a severity, a message, the rules and places it concerns."""

    code: str
    severity: str
    message: str
    rules: tuple[str, ...] = ()
    locations: tuple[Location, ...] = ()
    details: Mapping[str, Any] = field(factory=dict)

    @property
    def name(self) -> str:
        """The short name of the finding's code (``never-passes``)."""
        return CODES.get(self.code, ("checker-error", "", ""))[0]

    def render(self) -> str:
        """``path:line:col: severity[code]: message`` (one line per further location)."""
        where = str(self.locations[0]) if self.locations else "<rules>"
        lines = [f"{where}: {self.severity}[{self.code}]: {self.message}"]
        lines += [f"  see also {loc}" for loc in self.locations[1:]]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data."""
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "rules": list(self.rules),
            "locations": [
                {
                    "path": loc.file,
                    "line": loc.start_line,
                    "column": loc.start_column,
                    "end_line": loc.end_line,
                    "end_column": loc.end_column,
                }
                for loc in self.locations
            ],
            "details": dict(self.details),
        }


@frozen
class Difference:
    """An assignment that satisfies one side of a comparison and not the other."""

    satisfies: str
    fails: str
    witness: Witness
    failing_rules: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "satisfies": self.satisfies,
            "fails": self.fails,
            "failing_rules": list(self.failing_rules),
            "witness": _witness_dict(self.witness),
        }


@frozen
class Comparison:
    """``relation`` of A to B: ``stricter`` (A's satisfying set is inside B's), ``looser``,
    ``equivalent`` or ``incomparable``; a witness for each direction that differs. Past the
    time limit the relation is ``undecided``: ``undecided`` says what was decided and what
    not (a difference found by then is kept)."""

    relation: str
    a_not_b: Difference | None = None
    b_not_a: Difference | None = None
    undecided: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "relation": self.relation,
            "a_not_b": self.a_not_b.to_dict() if self.a_not_b else None,
            "b_not_a": self.b_not_a.to_dict() if self.b_not_a else None,
            "undecided": self.undecided or None,
        }


@frozen
class SettingChange:
    """Set ``fact`` (Intune ``label``) from ``old`` to ``new`` (both in the Intune words)."""

    fact: str
    label: str
    old: str
    new: str
    old_value: Any = None
    new_value: Any = None
    alternatives: tuple[str, ...] = ()

    def sentence(self) -> str:
        """``Compatible TPM startup PIN: Require startup PIN with TPM → Allow startup PIN with TPM``."""
        return f"{self.label}: {self.old} → {self.new}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (raw values as the policy JSON writes them)."""
        return {
            "fact": self.fact,
            "label": self.label,
            "old": self.old,
            "new": self.new,
            "old_value": raw_value(self.old_value),
            "new_value": raw_value(self.new_value),
            "alternatives": list(self.alternatives),
        }


@frozen
class Prerequisite:
    """A failing rule no policy change makes pass on this device, and the device facts that
    block it.

    ``conditions`` are the failing conditions in the evaluator's words (on the facts now);
    ``needed`` shows, per blocking fact, a value under which the rule could pass.
    """

    rule: str
    ruleset: str
    title: str
    facts: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()
    needed: tuple[tuple[str, str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "rule": self.rule,
            "ruleset": self.ruleset,
            "title": self.title,
            "facts": list(self.facts),
            "conditions": [c.sentence() for c in self.conditions],
            "needed": [{"fact": f, "label": label, "value": shown} for f, label, shown in self.needed],
        }


@frozen
class TurnOff:
    """Policy changes that only turn a failing rule off: it would no longer apply, because no
    policy change makes it pass (it needs the device, or conflicts with rules kept). Shown apart
    from the fix: it silences the rule rather than fixing what it checks. ``changes`` come on
    top of the repair's, the fewest that keep every other rule at its goal."""

    rule: str
    ruleset: str
    title: str
    changes: tuple[SettingChange, ...]

    def sentence(self) -> str:
        """``SE-02 Windows supports …: Allow standard users …: Allow → Not configured``."""
        return f"{self.rule} {self.title}: " + "; ".join(c.sentence() for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "rule": self.rule,
            "ruleset": self.ruleset,
            "title": self.title,
            "changes": [c.to_dict() for c in self.changes],
        }


@frozen
class Repair:
    """The smallest change to policy settings that makes a device's failing rules pass.

    ``changes`` makes every failing rule a policy can fix pass (not merely not apply), keeps
    the rules that pass or do not apply satisfied and the unknown ones from failing, lowers
    a setting only where the rules leave no other way (an inclusion-minimal set of lowered
    settings, by the vocabulary's strength orders), and is optimal in the number of settings
    changed among such repairs. ``prerequisites`` lists failing rules only a device change
    can make pass; ``conflicts`` lists minimal sets of rules that no policy brings to their
    goals together on this device; ``left_out`` the rule of each conflict (its last) that the
    repair does not make pass. ``turn_off`` offers, apart, the changes that would only turn
    such a rule off. ``outcomes`` are the verdicts after the change.
    """

    changes: tuple[SettingChange, ...]
    prerequisites: tuple[Prerequisite, ...] = ()
    conflicts: tuple[RuleConflict, ...] = ()
    outcomes: tuple[tuple[str, Status], ...] = ()
    left_out: tuple[str, ...] = ()
    turn_off: tuple[TurnOff, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether the changes alone make every failing rule pass."""
        return not self.prerequisites and not self.conflicts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "complete": self.complete,
            "changes": [c.to_dict() for c in self.changes],
            "prerequisites": [p.to_dict() for p in self.prerequisites],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "left_out": list(self.left_out),
            "turn_off": [t.to_dict() for t in self.turn_off],
            "outcomes": {rule: str(status) for rule, status in self.outcomes},
        }


@frozen
class FleetChange:
    """One candidate change across a fleet and how many devices satisfy every rule with it."""

    change: SettingChange | None
    devices_satisfied: int


@frozen
class FleetRepair:
    """The single policy change that makes the most devices satisfy every selected rule."""

    best: FleetChange
    before: int
    total: int
    ranking: tuple[FleetChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""

        def one(c: FleetChange) -> dict[str, Any]:
            return {"change": c.change.to_dict() if c.change else None, "devices_satisfied": c.devices_satisfied}

        return {
            "best": one(self.best),
            "before": self.before,
            "total": self.total,
            "ranking": [one(c) for c in self.ranking],
        }
