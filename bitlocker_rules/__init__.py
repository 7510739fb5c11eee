"""bitlocker-rules: check Intune BitLocker policies against Windows device facts.

Load rulesets once, build facts, evaluate, read an immutable report::

    from bitlocker_rules import Engine
    engine = Engine.load(["silent_enablement"])
    report = engine.evaluate({"device.os_version": "10.0.22631", "policy.tpm_startup_pin": "Blocked"})
    for outcome in report.outcomes:
        print(outcome.rule, outcome.status, [c.sentence() for c in outcome.reasons])
"""

__version__ = "0.1.0"

from .checker import check_ruleset
from .compiler import compile_ruleset
from .engine import Engine, LoadedRuleset, compile_text, load_ruleset, shipped_vocabulary
from .errors import BitLockerRulesError, Diagnostic, InputError, RulesError, VocabularyError
from .facts import Conflict, Facts, facts_from_mapping, load_device_file, load_policy_file, merge_facts
from .interpreter import Interpreter
from .outcome import (
    Condition, ConflictRecord, InputRecord, NoteOutcome, Report, RuleOutcome, RuleTurnOff, Status, SuggestedChange,
)
from .printer import print_expr, print_ruleset
from .source import SourceText, Span
from .syntax import parse_ruleset
from .versions import WindowsVersion, parse_windows_version
from .vocabulary import Fact, FactType, Vocabulary, load_vocabulary

__all__ = [
    "BitLockerRulesError", "Condition", "Conflict", "ConflictRecord", "Diagnostic", "Engine", "Fact", "FactType",
    "Facts", "InputError", "InputRecord", "Interpreter", "LoadedRuleset", "NoteOutcome", "Report", "RuleOutcome",
    "RuleTurnOff", "RulesError", "SourceText", "Span", "Status", "SuggestedChange", "Vocabulary", "VocabularyError",
    "WindowsVersion",
    "check_ruleset", "compile_ruleset", "compile_text", "facts_from_mapping", "load_device_file",
    "load_policy_file", "load_ruleset", "load_vocabulary", "merge_facts", "parse_ruleset",
    "parse_windows_version", "print_expr", "print_ruleset", "shipped_vocabulary",
]
