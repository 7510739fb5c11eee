"""bitlocker-rules: check Intune BitLocker policies against Windows device facts.

Load rulesets once, build facts, evaluate, read an immutable report::

    from bitlocker_rules import Engine
    engine = Engine.load(["silent_enablement"])
    report = engine.evaluate({"device.os_version": "10.0.22631", "policy.tpm_startup_pin": "Blocked"})
    for outcome in report.outcomes:
        print(outcome.rule, outcome.status, [c.sentence() for c in outcome.reasons])

Intune exports are read with ``load_policies(path)`` and ``load_devices(path)``; a yes-or-no
answer without explanations is ``engine.passes(facts)`` (``engine.decide`` says which rule).
The names in ``__all__`` are the supported API (docs/python-api.md).
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and editors
    from .checker import check_ruleset
    from .compiler import compile_ruleset
    from .engine import Engine, LoadedRuleset, compile_text, load_ruleset
    from .errors import BitLockerRulesError, Diagnostic, InputError, RulesError, VocabularyError
    from .facts import Conflict, Facts, facts_from_mapping, load_device_file, load_policy_file, merge_facts
    from .importers import ImportedDevice, ImportedPolicy, load_devices, load_policies
    from .interpreter import Interpreter
    from .outcome import (
        Cause,
        Citation,
        Condition,
        ConflictRecord,
        Decision,
        InputRecord,
        NoteOutcome,
        Report,
        RuleOutcome,
        RuleRef,
        RuleTurnOff,
        ScenarioRecord,
        Status,
        SuggestedChange,
        Undecided,
        UsageError,
    )
    from .printer import print_expr, print_ruleset
    from .source import SourceText, Span
    from .syntax import parse_ruleset
    from .versions import WindowsVersion, parse_windows_version
    from .vocabulary import Fact, FactType, Vocabulary, load_vocabulary, shipped_vocabulary

    __version__: str

# Each public name and the module it lives in. The names are imported on first use (PEP 562),
# so a command pays only for the modules it needs.
_HOMES = {
    "check_ruleset": "checker",
    "compile_ruleset": "compiler",
    "Engine": "engine",
    "LoadedRuleset": "engine",
    "compile_text": "engine",
    "load_ruleset": "engine",
    "BitLockerRulesError": "errors",
    "Diagnostic": "errors",
    "InputError": "errors",
    "RulesError": "errors",
    "VocabularyError": "errors",
    "Conflict": "facts",
    "Facts": "facts",
    "facts_from_mapping": "facts",
    "load_device_file": "facts",
    "load_policy_file": "facts",
    "merge_facts": "facts",
    "ImportedDevice": "importers",
    "ImportedPolicy": "importers",
    "load_devices": "importers",
    "load_policies": "importers",
    "Interpreter": "interpreter",
    "Cause": "outcome",
    "Citation": "outcome",
    "Condition": "outcome",
    "ConflictRecord": "outcome",
    "Decision": "outcome",
    "InputRecord": "outcome",
    "NoteOutcome": "outcome",
    "Report": "outcome",
    "RuleOutcome": "outcome",
    "RuleRef": "outcome",
    "RuleTurnOff": "outcome",
    "ScenarioRecord": "outcome",
    "Status": "outcome",
    "SuggestedChange": "outcome",
    "Undecided": "outcome",
    "UsageError": "outcome",
    "print_expr": "printer",
    "print_ruleset": "printer",
    "SourceText": "source",
    "Span": "source",
    "parse_ruleset": "syntax",
    "WindowsVersion": "versions",
    "parse_windows_version": "versions",
    "Fact": "vocabulary",
    "FactType": "vocabulary",
    "Vocabulary": "vocabulary",
    "load_vocabulary": "vocabulary",
    "shipped_vocabulary": "vocabulary",
}

__all__ = [
    "BitLockerRulesError",
    "Cause",
    "Citation",
    "Condition",
    "Conflict",
    "ConflictRecord",
    "Decision",
    "Diagnostic",
    "Engine",
    "Fact",
    "FactType",
    "Facts",
    "ImportedDevice",
    "ImportedPolicy",
    "InputError",
    "InputRecord",
    "Interpreter",
    "LoadedRuleset",
    "NoteOutcome",
    "Report",
    "RuleOutcome",
    "RuleRef",
    "RuleTurnOff",
    "RulesError",
    "ScenarioRecord",
    "SourceText",
    "Span",
    "Status",
    "SuggestedChange",
    "Undecided",
    "UsageError",
    "Vocabulary",
    "VocabularyError",
    "WindowsVersion",
    "check_ruleset",
    "compile_ruleset",
    "compile_text",
    "facts_from_mapping",
    "load_device_file",
    "load_devices",
    "load_policies",
    "load_policy_file",
    "load_ruleset",
    "load_vocabulary",
    "merge_facts",
    "parse_ruleset",
    "parse_windows_version",
    "print_expr",
    "print_ruleset",
    "shipped_vocabulary",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use and keep it (PEP 562)."""
    if name == "__version__":
        # The installed distribution's metadata (one version, in pyproject.toml), read when
        # asked: importlib.metadata costs start-up time. A source tree that is not installed
        # says so: "unknown (not installed)".
        value = importlib.import_module(".resources", __name__).installed_version()
        globals()[name] = value
        return value
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'bitlocker_rules' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
