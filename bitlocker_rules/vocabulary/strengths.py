"""The strength of policy settings (the vocabulary's ``strength`` keys): which values of a setting
are stronger, so which changes a repair counts as lowering it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import evolve

from ..errors import Diagnostic, suggest
from .declarations import ORDERED_KINDS, Fact, Strength


def add_strengths(data: Mapping[str, Any], facts: dict[str, Fact], problems: list[Diagnostic], origin: str) -> None:
    """Give each policy fact in ``facts`` its strength: its own ``strength``, else its enum's
    (``data`` is the vocabulary's declarations); each problem is added to ``problems``."""
    by_enum = {
        name: _build_strength(
            spec["strength"],
            "enum",
            tuple(m.get("name") for m in spec.get("members", [])),
            problems,
            f"{origin}: enums.{name}",
        )
        for name, spec in data.get("enums", {}).items()
        if isinstance(spec, Mapping) and "strength" in spec
    }
    for index, spec in enumerate(data.get("facts", [])):
        fact = facts.get(spec.get("name", ""))
        if fact is None:
            continue
        where = f"{origin}: facts[{index}] ({fact.name})"
        if "strength" in spec and not fact.policy_controlled:
            problems.append(Diagnostic("V020", f"`{fact.name}`: only a policy setting has a `strength`", path=where))
        elif "strength" in spec:
            values = fact.type.enum.member_names if fact.type.enum else (False, True)
            strength = _build_strength(spec["strength"], fact.type.kind, values, problems, where)
            facts[fact.name] = evolve(fact, strength=strength)
        elif fact.policy_controlled and fact.type.enum is not None and by_enum.get(fact.type.enum.name):
            facts[fact.name] = evolve(fact, strength=by_enum[fact.type.enum.name])


def _build_strength(
    raw: Any, kind: str, values: tuple[Any, ...], problems: list[Diagnostic], where: str
) -> Strength | None:
    """One ``strength`` declaration: ``"higher"`` or ``"lower"`` (ordered facts), ``"none"``,
    or chains of values, each weakest first (enums and booleans)."""
    if raw == "none":
        return Strength("none")
    if raw in ("higher", "lower") and kind in ORDERED_KINDS:
        return Strength(raw)
    if kind not in ("enum", "bool") or not _is_chains(raw):
        problems.append(
            Diagnostic(
                "V020",
                "bad `strength`",
                path=where,
                help='"higher" or "lower" for an ordered fact, "none", or for an enum or a bool a list of chains, '
                'each weakest first: [["NotConfigured", "Allowed", "Required"]]',
            )
        )
        return None
    strange = [v for chain in raw for v in chain if not any(type(v) is type(x) and v == x for x in values)]
    if strange:
        problems.append(
            Diagnostic(
                "V021",
                f"`strength` names `{strange[0]}`, not a value of this setting",
                path=where,
                help=suggest(str(strange[0]), [str(v) for v in values]),
            )
        )
        return None
    chains = [tuple(chain) for chain in raw]
    if "NotConfigured" in values and not any("NotConfigured" in chain for chain in chains):
        # Not configured is the weakest unless the data places it.
        chains = [("NotConfigured", *chain) for chain in chains]
    left = [v for v in values if not any(v in chain for chain in chains)]
    if left:
        problems.append(
            Diagnostic(
                "V022",
                f"`strength` leaves out `{left[0]}`",
                path=where,
                help="put every value in a chain (a chain of one value is comparable with none)",
            )
        )
        return None
    below = _weaker_values(chains)
    if any(v in lower for v, lower in below.items()):
        problems.append(Diagnostic("V023", "the chains of `strength` make a value weaker than itself", path=where))
        return None
    return Strength("chains", tuple(chains), below)


def _is_chains(raw: Any) -> bool:
    """Whether ``raw`` is a non-empty list of non-empty lists of names or booleans."""
    return (
        isinstance(raw, list)
        and bool(raw)
        and all(isinstance(c, list) and c and all(isinstance(v, (str, bool)) for v in c) for c in raw)
    )


def _weaker_values(chains: list[tuple[Any, ...]]) -> dict[Any, frozenset[Any]]:
    """Each value of the chains -> every value weaker than it (the transitive closure)."""
    below: dict[Any, set[Any]] = {v: set() for chain in chains for v in chain}
    for chain in chains:
        for i, value in enumerate(chain):
            below[value].update(chain[:i])
    grown = True
    while grown:
        grown = False
        for lower in below.values():
            more = set().union(*(below[v] for v in lower)) - lower
            if more:
                lower |= more
                grown = True
    return {v: frozenset(lower) for v, lower in below.items()}
