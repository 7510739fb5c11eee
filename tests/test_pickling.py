"""Every exception the library raises on purpose survives a pickle round trip (worker
processes of ``--jobs`` send errors back pickled): the same class, message and diagnostics.

The classes are found by enumeration, so a new one is tested without being listed here.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil

import pytest

import bitlocker_rules
from bitlocker_rules.errors import BitLockerRulesError, Diagnostic, DuplicateKeyError
from bitlocker_rules.source import SourceText, Span


def every_module() -> None:
    """Import every module of the package, so that every exception class is defined."""
    for info in pkgutil.walk_packages(bitlocker_rules.__path__, "bitlocker_rules."):
        if not info.name.endswith("__main__"):  # running it would run the command line
            importlib.import_module(info.name)


def subclasses(cls: type) -> set[type]:
    """Every class below ``cls``, at any depth."""
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= subclasses(sub)
    return found


every_module()
ERRORS = sorted(subclasses(BitLockerRulesError) | {BitLockerRulesError}, key=lambda c: (c.__module__, c.__name__))

DIAGNOSTIC = Diagnostic(
    "E123",
    "something is wrong",
    source=SourceText("rule X\n", "r.rules"),
    span=Span(5, 6),
    help="write it otherwise",
    path="$.facts.x",
    file="f.json",
)

# Classes with an __init__ of their own, and the arguments that build one.
OWN_ARGUMENTS = {"Undecided": (2.5, "searching for a witness")}


def build(cls: type[BitLockerRulesError]) -> BitLockerRulesError:
    """An instance of ``cls``: from a diagnostic, or from its own arguments."""
    if cls.__init__ is BitLockerRulesError.__init__:
        return cls([DIAGNOSTIC])
    assert cls.__name__ in OWN_ARGUMENTS, f"{cls.__name__} has its own __init__{inspect.signature(cls)}: add it"
    return cls(*OWN_ARGUMENTS[cls.__name__])


def test_enumeration_finds_the_errors_of_every_layer():
    names = {cls.__name__ for cls in ERRORS}
    assert {
        "RulesError",
        "InputError",
        "VocabularyError",
        "UsageError",
        "AnalysisError",
        "Undecided",
        "WorkerError",
    } <= names


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_error_survives_pickling_with_its_diagnostics(cls):
    error = build(cls)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert copy.diagnostics == error.diagnostics and copy.diagnostics
    assert str(copy) == str(error) == copy.render()
    assert vars(copy) == vars(error)  # Undecided's limit and doing too


def test_duplicate_key_error_survives_pickling_with_its_key():
    error = DuplicateKeyError("tpm_version")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is DuplicateKeyError
    assert copy.key == "tpm_version" and str(copy) == str(error)
