"""Result records: verdicts, the conditions that decided them, and a device's report."""

from __future__ import annotations

from enum import Enum

from attrs import frozen

from .source import Span


class Status(str, Enum):
    """The verdict of one rule on one device."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"

    def __str__(self) -> str:
        return self.value


SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


def at_or_above(severity: str, fail_on: str) -> bool:
    """Whether a finding of ``severity`` counts under ``--fail-on fail_on`` (unknown counts as error)."""
    return SEVERITY_RANK.get(severity, 0) <= SEVERITY_RANK[fail_on]


# Compact verdict codes the compiled evaluator returns, in the order of Status.
STATUS_BY_CODE = (Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE)
CODE_BY_STATUS = {s: i for i, s in enumerate(STATUS_BY_CODE)}


@frozen
class Condition:
    """One atomic condition that decided a verdict.

    ``fact`` is the fact name (``device.volumes[1].protection_status`` for a record field);
    ``actual`` is the value as the admin reads it, or None when the fact is missing;
    ``required`` says what the rule needs, in the same words; ``text`` and ``span`` are
    the condition as written in the rule file.
    """

    fact: str
    label: str
    actual: str | None
    required: str
    status: Status
    text: str = ""
    span: Span | None = None
    origin: str = ""
    conflict: str = ""
    source: str = ""  # where the value came from: "policy 'Name' (id) $.json.path"
    decisive: bool = True  # in the minimal set that alone decides the verdict
    role: str = "require"  # "when" for a condition of the rule's applicability

    @property
    def missing(self) -> bool:
        """Whether the fact had no value."""
        return self.actual is None

    def sentence(self) -> str:
        """One line a reviewer can act on."""
        if self.role == "when":
            return self._applicability_sentence()
        if self.missing and self.conflict:
            return f"{self.label} is in conflict ({self.conflict}); the rule needs {self.required}"
        if self.missing:
            return f"{self.label} is not known (fact {self.fact} is missing); the rule needs {self.required}"
        verb = "as required" if self.status is Status.PASS else f"the rule needs {self.required}"
        return f"{self.label} is {self.actual}; {verb}"

    def _applicability_sentence(self) -> str:
        if self.missing:
            why = f"in conflict ({self.conflict})" if self.conflict else f"not known (fact {self.fact} is missing)"
            return f"Whether the rule applies is not known: {self.label} is {why}"
        if self.status is Status.PASS:
            return f"The rule applies: {self.label} is {self.actual}"
        return f"The rule does not apply: {self.label} is {self.actual} (it applies when it is {self.required})"


@frozen
class RuleOutcome:
    """The verdict of one rule on one device, with the conditions that decided it."""

    ruleset: str
    rule: str
    title: str
    severity: str
    sources: tuple[str, ...]
    status: Status
    reasons: tuple[Condition, ...] = ()
    remediation: str = ""
    events: tuple[int, ...] = ()
    location: str = ""
    applies_because: tuple[Condition, ...] = ()  # for a failure: the conditions that made it apply

    @property
    def missing_facts(self) -> tuple[str, ...]:
        """Facts whose absence made the verdict unknown."""
        return tuple(dict.fromkeys(c.fact for c in self.reasons if c.missing))

    def short_reason(self) -> str:
        """One phrase for a table cell: the deciding condition, or what is missing or in conflict."""
        if self.status is Status.PASS or not self.reasons:
            return ""
        if self.status is Status.UNKNOWN:
            conflicted = [c.label for c in self.reasons if c.conflict]
            if conflicted:
                return "conflict: " + ", ".join(dict.fromkeys(conflicted))
            return "missing: " + ", ".join(dict.fromkeys(c.label for c in self.reasons if c.missing))
        failing = [c for c in self.reasons if c.status is Status.FAIL]
        deciding = [c for c in failing if c.decisive] or failing or list(self.reasons)
        first = deciding[0]
        more = f" (+{len(deciding) - 1} more)" if len(deciding) > 1 else ""
        return (f"{first.label}: missing" if first.missing else f"{first.label} is {first.actual}") + more


@frozen
class NoteOutcome:
    """An informational note and whether it applies to the device (None: cannot tell)."""

    ruleset: str
    rule: str
    title: str
    sources: tuple[str, ...]
    applies: bool | None
    rationale: str = ""


@frozen
class ConflictRecord:
    """A setting that assigned policies give different values: each source with its value."""

    fact: str
    label: str
    values: tuple[tuple[str, str, str], ...]  # (source, raw value, value as Intune shows it)

    def sentence(self) -> str:
        """``Compatible TPM startup PIN: policy 'A' sets X; policy 'B' sets Y``."""
        given = "; ".join(f"{source} sets {shown}" for source, _, shown in self.values)
        return f"{self.label}: {given}"


@frozen
class InputRecord:
    """One input file the facts were read from: its name in reports, path and kind."""

    name: str
    file: str
    kind: str


@frozen
class SuggestedChange:
    """One setting of the smallest policy change that makes the failing rules pass."""

    fact: str
    label: str
    current: str
    new: str

    def sentence(self) -> str:
        """``Compatible TPM startup PIN: Require startup PIN with TPM → Do not allow …``."""
        return f"{self.label}: {self.current} → {self.new}"


@frozen
class Report:
    """Every outcome for one device (or one policy with one device)."""

    subject: str
    outcomes: tuple[RuleOutcome, ...]
    notes: tuple[NoteOutcome, ...] = ()
    conflicts: tuple[ConflictRecord, ...] = ()
    inputs: tuple[InputRecord, ...] = ()
    # The fewest policy settings to change so every rule a policy can fix passes (computed by
    # the analyser's repair); and the rules only a device change can fix.
    suggested_changes: tuple[SuggestedChange, ...] = ()
    device_prerequisites: tuple[str, ...] = ()

    def count(self, status: Status) -> int:
        """How many rules ended with ``status``."""
        return sum(1 for o in self.outcomes if o.status is status)

    @property
    def failed(self) -> tuple[RuleOutcome, ...]:
        """Rules that failed."""
        return tuple(o for o in self.outcomes if o.status is Status.FAIL)

    @property
    def passed(self) -> bool:
        """True when no rule failed."""
        return not self.failed

    def exit_code(self, fail_on: str = "info") -> int:
        """0 when nothing failed at or above ``fail_on`` severity, else 1."""
        return int(any(at_or_above(o.severity, fail_on) for o in self.failed))
