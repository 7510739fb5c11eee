"""Result records: verdicts, the conditions that decided them, and a device's report."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from attrs import frozen

from .errors import BitLockerRulesError, Diagnostic, shortened, suggest
from .jsonpath import JsonPath, json_path_text
from .source import Location, Span, admx_data_text


class Status(str, Enum):  # noqa: UP042 - a StrEnum's str() and format() differ, and reports use them
    """The verdict of one rule on one device."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"
    # Not a verdict: a failure a waiver accepts (``waivers``), set after evaluation; the rule's
    # reasons stay with it. No evaluator returns it, and only a waivers file makes it.
    WAIVED = "waived"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, value: Status | str, argument: str = "status") -> Status:
        """``value`` as a Status: a member, or its value (``"fail"``, ``"not_applicable"``);
        UsageError naming the accepted values otherwise."""
        if isinstance(value, Status):
            return value
        if isinstance(value, str):
            found = _STATUS_BY_VALUE.get(value)
            if found is not None:
                return found
            raise usage_error(argument, value, _STATUS_SPELLINGS, "U002", suggest(value, _STATUS_BY_VALUE))
        raise usage_error(argument, value, _STATUS_SPELLINGS)


_STATUS_BY_VALUE = {s.value: s for s in Status}
_STATUS_SPELLINGS = "a Status or one of " + ", ".join(f'"{s.value}"' for s in Status)


SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
SCENARIO_PREFIX = "scenario."  # the facts the scenarios of a check give a value to


class UsageError(BitLockerRulesError, TypeError, ValueError):
    """A call of the Python API with an argument of the wrong type (U001) or a value that is
    not one of the accepted spellings (U002); the diagnostic says what was expected.

    It is also a ``TypeError`` and a ``ValueError``, so code that catches those catches it.
    It lives with the result records because ``Status`` and the severities are the first
    spellings it checks, and every module that checks arguments may import this one.
    """


def usage_error(argument: str, got: Any, expected: str, code: str = "U001", hint: str | None = None) -> UsageError:
    """The UsageError for ``argument`` (``Report.count(status)``, its location) given ``got``
    where ``expected`` was expected."""
    shown = f"the {type(got).__name__} {_clipped_repr(got)}" if code == "U001" else _clipped_repr(got)
    return UsageError([Diagnostic(code, f"expected {expected}, got {shown}", file=argument, help=hint)])


def _clipped_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a user's object whose repr fails is still named by its type
        text = f"<{type(value).__name__}>"
    return shortened(text, 80)


def require(value: Any, types: type | tuple[type, ...], argument: str, expected: str) -> None:
    """Raise UsageError (U001) unless ``value`` is an instance of ``types``."""
    if not isinstance(value, types):
        raise usage_error(argument, value, expected)


def severity_threshold(fail_on: Any, argument: str = "fail_on") -> str:
    """``fail_on`` checked: one of ``error``, ``warning``, ``info``; UsageError (U002) otherwise."""
    if isinstance(fail_on, str) and fail_on in SEVERITY_RANK:
        return fail_on
    hint = suggest(fail_on, SEVERITY_RANK) if isinstance(fail_on, str) else None
    raise usage_error(
        argument, fail_on, "one of error, warning, info", "U002" if isinstance(fail_on, str) else "U001", hint
    )


def at_or_above(severity: str, fail_on: str) -> bool:
    """Whether a finding of ``severity`` counts under ``--fail-on fail_on`` (unknown counts as error)."""
    return SEVERITY_RANK.get(severity, 0) <= SEVERITY_RANK[severity_threshold(fail_on)]


# Compact verdict codes the compiled evaluator returns, in the order of Status.
STATUS_BY_CODE = (Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE)
CODE_BY_STATUS = {s: i for i, s in enumerate(STATUS_BY_CODE)}


@frozen
class ValueOrigin:
    """Where a value came from: the input that gave it, the value's JSON path in it, and a note.

    ``input`` is the input's name in reports (``policy 'Name' (id)``, ``device 'NAME'``);
    ``path`` is None for a value read from no place in a JSON input (a vocabulary grant, a
    scenario's inference, which ``note`` then describes); ``data_id`` names the ADMX
    ``<data id=…>`` inside the OMA-URI payload at ``path`` that held the value; ``note`` says
    anything else about where the value came from.
    """

    input: str = ""
    path: JsonPath | None = None
    note: str | None = None
    data_id: str | None = None

    def text(self) -> str:
        """``policy 'A' (1) $.omaSettings[4].value <data id=Pin>``: how reports write it."""
        return " ".join(part for part in (self.input, self.place()) if part)

    def place(self) -> str:
        """Where in the input: ``$.omaSettings[4].value <data id=Pin>`` (the note alone without a path)."""
        path = json_path_text(self.path) if self.path is not None else ""
        return " ".join(part for part in (path, self.detail()) if part)

    def detail(self) -> str:
        """What the place says beyond the path: ``<data id=Pin>``, the note ('' when neither)."""
        data = admx_data_text(self.data_id) if self.data_id is not None else ""
        return " ".join(part for part in (data, self.note) if part)


Origins = tuple[ValueOrigin, ...]  # a value several inputs agree on (or disagree on) has several


def origins_text(origins: Origins) -> str:
    """Every origin's text, joined by ``; `` (the JSON reports' ``source``)."""
    return "; ".join(origin.text() for origin in origins)


def first_input(origins: Origins) -> str:
    """Who gave a value: the first input named among its origins (else what they say)."""
    return next((o.input for o in origins if o.input), None) or origins_text(origins)


def as_origins(given: Origins | str) -> Origins:
    """Origins as records; a text (a ``Facts`` record built by hand) is kept whole as a note."""
    if isinstance(given, str):
        return (ValueOrigin(note=given),) if given else ()
    return tuple(given)


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
    location: Location | None = None  # where the condition is in the rule text
    conflict: str = ""
    origins: Origins = ()  # where the value came from (several places when policies agree or conflict)
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

    @property
    def scenario(self) -> str:
        """The scenario this condition asks about (``key_rotation`` for ``scenario.key_rotation``), or ""."""
        return self.fact.removeprefix("scenario.") if self.fact.startswith("scenario.") else ""

    def _applicability_sentence(self) -> str:
        if self.missing and self.scenario and not self.conflict:
            return (
                f"Whether the rule applies is not known: the scenario {self.label.removesuffix(' (scenario)')} "
                f"is neither declared nor shown by the input (declare it with --scenario {self.scenario})"
            )
        if self.missing and self.status is not Status.UNKNOWN:
            # A presence test decides on a missing value: `x is present` is false, `x is missing` true.
            if self.status is Status.PASS:
                return f"The rule applies: {self.label} is not given"
            return f"The rule does not apply: {self.label} is not given (it applies when it is)"
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
    encodes: tuple[str, ...]
    status: Status
    reasons: tuple[Condition, ...] = ()
    remediation: str = ""
    events: tuple[int, ...] = ()
    location: Location | None = None  # where the rule is in its file
    applies_because: tuple[Condition, ...] = ()  # for a failure: the conditions that made it apply
    related: tuple[str, ...] = ()  # the sources the rule gives advice about (it encodes none)
    scenarios: tuple[str, ...] = ()  # the scenarios the rule is about
    # Why a verdict is unknown although the facts decide it: the sources disagree, or none
    # confirms that passing is enough.
    caveat: str = ""
    waiver: AppliedWaiver | None = None  # for a waived failure: the waiver that accepts it

    @property
    def advice(self) -> bool:
        """Whether the rule is advice related to its sources rather than what they say."""
        return bool(self.related) and not self.encodes

    @property
    def missing_facts(self) -> tuple[str, ...]:
        """Facts whose absence made the verdict unknown."""
        return tuple(dict.fromkeys(c.fact for c in self.reasons if c.missing))

    @property
    def pending_scenarios(self) -> tuple[str, ...]:
        """For an unknown verdict: the scenarios (``tenant_attach``) that are not known and that
        the rule is about, so the rule was not evaluated; empty otherwise."""
        if self.status is not Status.UNKNOWN:
            return ()
        return tuple(
            dict.fromkeys(
                c.fact.removeprefix(SCENARIO_PREFIX)
                for c in self.reasons
                if c.missing and c.fact.startswith(SCENARIO_PREFIX)
            )
        )

    def short_reason(self) -> str:
        """One phrase for a table cell: the deciding condition, or what is missing or in conflict."""
        if self.caveat:
            return self.caveat
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
class AppliedWaiver:
    """The waiver that turned a failure into ``waived``: its id, why, who approved it, its last day."""

    id: str
    justification: str
    approver: str
    expires: str  # YYYY-MM-DD

    def sentence(self) -> str:
        """``waived by W-1 (approved by J. Doe, until 2027-01-31): legacy kiosks are replaced in Q1``."""
        return f"waived by {self.id} (approved by {self.approver}, until {self.expires}): {self.justification}"


@frozen
class WaiverNotice:
    """A warning about a waiver of the run: it expired (``date``: its last day), or it waived nothing."""

    waiver: str
    kind: str  # "expired" or "unmatched"
    date: str = ""

    def sentence(self) -> str:
        """``waiver W-3 expired on 2026-11-30; it no longer applies``, or ``waiver W-4 matched nothing``."""
        if self.kind == "expired":
            return f"waiver {self.waiver} expired on {self.date}; it no longer applies"
        return f"waiver {self.waiver} matched nothing: no failure of its rules in its scope"


@frozen
class NoteOutcome:
    """An informational note and whether it applies to the device (None: cannot tell)."""

    ruleset: str
    rule: str
    title: str
    encodes: tuple[str, ...]
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
class Citation:
    """An id a rule cites (``S9``, ``F8``, ``bitlocker-csp``), as a report shows it.

    ``kind`` is ``requirement`` (of the Intune BitLocker page), ``cause`` (a documented cause
    of failed silent encryption), ``document``, or empty for an id the shipped list lacks;
    ``source`` names the document(s) a requirement or cause comes from.
    """

    id: str
    title: str
    url: str = ""
    kind: str = ""
    document: str = ""

    def sentence(self) -> str:
        """``S9: Compatible TPM startup PIN is not … (Encrypt Windows devices with BitLocker in Intune)``."""
        if not self.title:
            return self.id
        return f"{self.id}: {self.title}" + (f" ({self.document})" if self.document else "")


@frozen
class ScenarioRecord:
    """A scenario the check can be about: whether it holds, and how that was decided.

    ``holds`` is None when it was neither declared nor can be inferred; ``how`` is
    ``declared``, ``excluded`` (by a declared scenario), ``inferred`` or ``unknown``;
    ``because`` says by what, in the admin's words.
    """

    name: str
    label: str
    fact: str
    holds: bool | None
    how: str
    because: str

    @property
    def state(self) -> str:
        """``in scope``, ``out of scope`` or ``not known``."""
        return {True: "in scope", False: "out of scope", None: "not known"}[self.holds]

    def provenance(self) -> str:
        """``declared with --scenario silent_enablement``, ``inferred from …`` and so on."""
        if self.how == "declared":
            return f"declared {self.because}".rstrip()
        if self.how == "excluded":
            return f"because {self.because}"
        if self.how == "inferred":
            return f"inferred from {self.because}"
        return f"not declared, and the input does not show it ({self.because})"

    def sentence(self) -> str:
        """``Silent enablement: in scope, inferred from Warning for other disk encryption is Block``."""
        return f"{self.label}: {self.state}, {self.provenance()}"


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
        """``Compatible TPM startup PIN: Require startup PIN with TPM → Allow startup PIN with TPM``."""
        return f"{self.label}: {self.current} → {self.new}"


@frozen
class RuleTurnOff:
    """Changes that would only turn a failing rule off (it would no longer apply), offered
    apart from the fix because no policy change makes the rule pass."""

    rule: str
    title: str
    changes: tuple[SuggestedChange, ...]

    def sentence(self) -> str:
        """``T-2 A PIN needs TPM 2.0: Compatible TPM startup PIN: Require … → Allow …``."""
        return f"{self.rule} {self.title}: " + "; ".join(c.sentence() for c in self.changes)


@frozen
class Decision:
    """Whether a device passes a set of rules, without the explanations (``Engine.decide``).

    ``status`` is ``Status.PASS`` (every rule counted passes or does not apply),
    ``Status.FAIL`` (``ruleset``, ``rule``, ``title`` and ``severity`` name the first rule
    that fails, in report order) or ``Status.UNKNOWN`` (none fails; they name the first rule
    that is unknown). Truthy only when it passes (unknown is not a pass), as ``Engine.passes``.
    """

    status: Status
    ruleset: str = ""
    rule: str = ""
    title: str = ""
    severity: str = ""

    def __bool__(self) -> bool:
        return self.status is Status.PASS


PASSED = Decision(Status.PASS)


def decision_of(outcomes: Iterable[RuleOutcome], fail_on: str = "info") -> Decision:
    """The decision ``outcomes`` imply, counting the rules at or above ``fail_on`` severity."""
    fail_on = severity_threshold(fail_on)
    counted = [o for o in outcomes if at_or_above(o.severity, fail_on)]
    first = next((o for o in counted if o.status is Status.FAIL), None) or next(
        (o for o in counted if o.status is Status.UNKNOWN), None
    )
    if first is None:
        return PASSED
    return Decision(first.status, first.ruleset, first.rule, first.title, first.severity)


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
    # Apart from the fix: changes that would only turn off a failing rule no policy makes pass.
    turn_off_changes: tuple[RuleTurnOff, ...] = ()
    scenarios: tuple[ScenarioRecord, ...] = ()  # what the check is about, and how that was decided
    citations: tuple[Citation, ...] = ()  # every id the rules cite, with its title
    # Given a waivers file: the run counts waived failures apart (True), and warns of waivers
    # that expired or waived nothing.
    waivers_given: bool = False
    waiver_notices: tuple[WaiverNotice, ...] = ()

    def citation(self, ref: str) -> Citation:
        """The citation of ``ref`` (the id alone when the report does not know it)."""
        return next((c for c in self.citations if c.id == ref), Citation(ref, ""))

    def causes(self) -> tuple[Cause, ...]:
        """The distinct root causes of the failures, and the settings in conflict, worst first."""
        return find_causes(self.outcomes, self.conflicts)

    def undecided(self) -> tuple[Undecided, ...]:
        """The unknown rules grouped by what they miss, leaving out those whose scenario is not
        known (see ``not_evaluated``) and those unknown only through a conflict (a cause)."""
        return group_undecided(self.outcomes)

    def not_evaluated(self, scenario: str) -> tuple[RuleOutcome, ...]:
        """The rules left unknown because ``scenario`` (a name) is not known."""
        return tuple(o for o in self.outcomes if scenario in o.pending_scenarios)

    def relevant_scenarios(self) -> tuple[ScenarioRecord, ...]:
        """The scenarios a report shows: those a rule of the report is about, and those declared."""
        about = {name for o in self.outcomes for name in o.scenarios}
        return tuple(s for s in self.scenarios if s.name in about or s.how == "declared")

    def count(self, status: Status | str) -> int:
        """How many rules ended with ``status``: a Status or its value (``"fail"``); UsageError otherwise."""
        status = Status.of(status, "Report.count(status)")
        return sum(1 for o in self.outcomes if o.status is status)

    @property
    def waived(self) -> tuple[RuleOutcome, ...]:
        """Rules that failed and a waiver accepts (not counted as failed)."""
        return tuple(o for o in self.outcomes if o.status is Status.WAIVED)

    def counted_statuses(self) -> tuple[Status, ...]:
        """The statuses a report counts: the four verdicts, and ``waived`` when a waivers file was given."""
        return (*STATUS_BY_CODE, Status.WAIVED) if self.waivers_given or self.waived else STATUS_BY_CODE

    @property
    def failed(self) -> tuple[RuleOutcome, ...]:
        """Rules that failed (a waived failure is not among them)."""
        return tuple(o for o in self.outcomes if o.status is Status.FAIL)

    @property
    def passed(self) -> bool:
        """True when no rule failed."""
        return not self.failed

    def decision(self, fail_on: str = "info") -> Decision:
        """The decision this report implies (``Engine.decide`` gives the same without the report)."""
        return decision_of(self.outcomes, severity_threshold(fail_on, "Report.decision(fail_on)"))

    def exit_code(self, fail_on: str = "info") -> int:
        """0 when nothing failed at or above ``fail_on`` severity (error, warning, info), else 1."""
        fail_on = severity_threshold(fail_on, "Report.exit_code(fail_on)")
        return int(any(at_or_above(o.severity, fail_on) for o in self.failed))


# --- causes and undecided rules: what a report leads with ------------------------------------------


@frozen
class RuleRef:
    """A rule as a cause or a group of undecided rules lists it.

    ``required`` is what the rule needs of the cause's setting or fact, in the admin's words
    (empty when the rule is listed for another reason).
    """

    ruleset: str
    rule: str
    title: str
    severity: str
    status: Status
    required: str = ""
    advice: bool = False

    @classmethod
    def of(cls, outcome: RuleOutcome, required: str = "") -> RuleRef:
        """The reference to ``outcome``'s rule."""
        return cls(
            outcome.ruleset, outcome.rule, outcome.title, outcome.severity, outcome.status, required, outcome.advice
        )


@frozen
class Cause:
    """One root cause: a setting or fact with the value at fault, and every rule it breaks.

    ``kind`` is ``setting`` (a policy setting), ``fact`` (a device, tenant or admin fact),
    ``conflict`` (assigned policies give the setting different values: ``values`` holds each
    policy's, and the rules that read it are unknown) or ``rule`` (a failure no condition
    explains: the rule alone). ``fixes`` are the rules' remediations, each once; ``origins``
    is where the value came from, when known.
    """

    kind: str
    fact: str
    label: str
    actual: str | None
    rules: tuple[RuleRef, ...]
    fixes: tuple[str, ...] = ()
    events: tuple[int, ...] = ()
    origins: Origins = ()
    values: tuple[tuple[str, str, str], ...] = ()  # for a conflict: (input, raw value, shown value)

    @property
    def severity(self) -> str:
        """The worst severity of the rules it breaks."""
        return min((r.severity for r in self.rules), key=lambda s: SEVERITY_RANK.get(s, 0), default="info")

    def sentence(self) -> str:
        """``OS version is 10.0.17134.0 (1803)``; for a conflict, who sets what."""
        if self.kind == "conflict":
            return f"{self.label} is in conflict: " + "; ".join(f"{src} sets {shown}" for src, _, shown in self.values)
        return self.label if self.actual is None else f"{self.label} is {self.actual}"


@frozen
class Undecided:
    """Unknown rules that miss the same facts (``(fact, label)`` pairs), or share a caveat."""

    facts: tuple[tuple[str, str], ...]
    caveat: str
    rules: tuple[RuleRef, ...]

    def sentence(self) -> str:
        """``Encryption status and Autopilot enrolled are not known``, or the caveat."""
        if not self.facts:
            return self.caveat
        labels = [label for _, label in self.facts]
        named = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
        return f"{named} {'is' if len(labels) == 1 else 'are'} not known"


def find_causes(outcomes: Iterable[RuleOutcome], conflicts: Iterable[ConflictRecord] = ()) -> tuple[Cause, ...]:
    """The distinct causes of the failing outcomes, and the settings in conflict, worst first.

    A failing rule is blamed on its decisive failing requirements (what alone forces the
    failure); one setting or fact with one value is one cause, however many rules it breaks.
    Sorted by the worst severity, then by how many rules, then failures before conflicts.
    """
    outcomes = tuple(outcomes)
    found: dict[tuple[str, str | None], list] = {}  # key -> [first condition, [(outcome, required)]]
    for outcome in outcomes:
        if outcome.status is not Status.FAIL:
            continue
        for condition in _at_fault(outcome):
            key = (condition.fact, condition.actual) if condition.fact else ("", outcome.rule)
            entry = found.setdefault(key, [condition, []])
            if all(o is not outcome for o, _ in entry[1]):  # an `or` names one fact twice: one rule once
                entry[1].append((outcome, condition.required))
    causes = [_value_cause(condition, blamed) for condition, blamed in found.values()]
    causes += [c for c in (_conflict_cause(record, outcomes) for record in conflicts) if c.rules]
    order = {id(c): i for i, c in enumerate(causes)}
    return tuple(
        sorted(
            causes, key=lambda c: (SEVERITY_RANK.get(c.severity, 0), -len(c.rules), c.kind == "conflict", order[id(c)])
        )
    )


def group_undecided(outcomes: Iterable[RuleOutcome]) -> tuple[Undecided, ...]:
    """Unknown rules grouped by the facts they miss (or by their caveat), in report order.

    A rule whose scenario is not known is left out (it was not evaluated), and so is one that
    misses nothing but settings in conflict (the conflict is a cause).
    """
    groups: dict[tuple, list[RuleOutcome]] = {}
    for outcome in outcomes:
        if outcome.status is not Status.UNKNOWN or outcome.pending_scenarios:
            continue
        missing = tuple(dict.fromkeys((c.fact, c.label) for c in outcome.reasons if c.missing and not c.conflict))
        if outcome.caveat:
            key: tuple = ((), outcome.caveat)
        elif missing:
            key = (missing, "")
        elif any(c.conflict for c in outcome.reasons):
            continue
        else:
            key = ((), outcome.short_reason() or outcome.title)
        groups.setdefault(key, []).append(outcome)
    return tuple(
        Undecided(facts, caveat, _by_severity(RuleRef.of(o) for o in members))
        for (facts, caveat), members in groups.items()
    )


def _at_fault(outcome: RuleOutcome) -> list[Condition]:
    """The conditions a failure is blamed on: the decisive failing requirements (else every failing one)."""
    failing = [c for c in outcome.reasons if c.status is Status.FAIL and c.role == "require"]
    failing = [c for c in failing if c.decisive] or failing or [c for c in outcome.reasons if c.status is Status.FAIL]
    return failing or [Condition("", outcome.title, None, "", Status.FAIL)]


def _value_cause(condition: Condition, blamed: list[tuple[RuleOutcome, str]]) -> Cause:
    outcomes = [o for o, _ in blamed]
    kind = "rule" if not condition.fact else "setting" if condition.fact.startswith("policy.") else "fact"
    return Cause(
        kind,
        condition.fact,
        condition.label,
        condition.actual,
        _by_severity(RuleRef.of(o, required) for o, required in blamed),
        _fixes(outcomes),
        _events(outcomes),
        condition.origins,
    )


def _conflict_cause(record: ConflictRecord, outcomes: tuple[RuleOutcome, ...]) -> Cause:
    """A setting in conflict, with the rules it leaves undecided (or breaks, per policy)."""
    seen: dict[str, tuple[RuleOutcome, str]] = {}  # one entry per rule, however often it reads the setting
    for outcome in outcomes:
        for c in outcome.reasons:
            if outcome.status is not Status.PASS and c.fact == record.fact and c.conflict:
                seen.setdefault(outcome.rule, (outcome, c.required))
    blamed = list(seen.values())
    return Cause(
        "conflict",
        record.fact,
        record.label,
        None,
        _by_severity(RuleRef.of(o, required) for o, required in blamed),
        _fixes(o for o, _ in blamed),
        _events(o for o, _ in blamed),
        tuple(ValueOrigin(name) for name, _, _ in record.values),
        record.values,
    )


def _by_severity(refs: Iterable[RuleRef]) -> tuple[RuleRef, ...]:
    """Worst severity first; otherwise in report order (the sort is stable)."""
    return tuple(sorted(refs, key=lambda r: SEVERITY_RANK.get(r.severity, 0)))


def _fixes(outcomes: Iterable[RuleOutcome]) -> tuple[str, ...]:
    """The remediations of ``outcomes`` (sorted worst first), each once."""
    ordered = sorted(outcomes, key=lambda o: SEVERITY_RANK.get(o.severity, 0))
    return tuple(dict.fromkeys(o.remediation for o in ordered if o.remediation))


def _events(outcomes: Iterable[RuleOutcome]) -> tuple[int, ...]:
    return tuple(sorted({e for o in outcomes for e in o.events}))
