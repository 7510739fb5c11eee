"""The vocabulary: every fact a rule may name, its type, Intune label and origins.

The declarations are data (``rulesets/vocabulary.toml``). One module per stage:
``declarations`` (the records of one fact, type, enumeration, strength, grant, scenario),
``conversion`` (raw input values to typed values), ``model`` (the ``Vocabulary`` as a whole)
and ``loading`` (the TOML checked and built). The names below are the ones importers use.
"""

from .conversion import Converter, is_typed, kept_type, parse_typed, value_converter
from .declarations import (
    NAMESPACES,
    ORDERED_KINDS,
    SCALAR_KINDS,
    EnumMember,
    EnumType,
    Fact,
    FactType,
    Grant,
    Scenario,
    Strength,
)
from .loading import build_vocabulary, load_vocabulary, shipped_vocabulary
from .model import Vocabulary

__all__ = [
    "NAMESPACES",
    "ORDERED_KINDS",
    "SCALAR_KINDS",
    "Converter",
    "EnumMember",
    "EnumType",
    "Fact",
    "FactType",
    "Grant",
    "Scenario",
    "Strength",
    "Vocabulary",
    "build_vocabulary",
    "is_typed",
    "kept_type",
    "load_vocabulary",
    "parse_typed",
    "shipped_vocabulary",
    "value_converter",
]
