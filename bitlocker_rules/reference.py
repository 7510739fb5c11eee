"""Markdown reference pages generated from the declarations: the vocabulary and the rulesets.

``docs/vocabulary.md``, ``docs/rulesets.md`` and ``docs/requirements.md`` are this module's
output; ``bitlocker_rules.pages`` loads what ships and regenerates them (``COMMANDS``).

The renderers take records and return text; they read nothing and the output depends only
on their input (declaration order of facts and rules, sorted enums and releases), so a test
can compare a regenerated page with the committed one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from . import nodes as n
from .citations import Coverage, coverage, load_requirements, registry
from .printer import print_expr, print_rule
from .vocabulary import NAMESPACES, EnumType, Fact, FactType, Scenario, Vocabulary

# The commands that regenerate each page; the pages and tests/test_docs.py quote them.
COMMANDS = {
    "vocabulary": "python -m bitlocker_rules.pages vocabulary > docs/vocabulary.md",
    "rulesets": "python -m bitlocker_rules.pages rulesets > docs/rulesets.md",
    "requirements": "python -m bitlocker_rules.pages requirements > docs/requirements.md",
}

# Raw-value columns, in this order; any other origin key follows, sorted.
_VALUE_KEYS = ("csp", "graph", "catalog")
_VALUE_TITLES = {"csp": "CSP", "graph": "Graph", "catalog": "Settings catalog"}
_NAMESPACE_TITLES = {
    "policy": "Policy settings (`policy.`)",
    "device": "Device facts (`device.`)",
    "actor": "Actor facts (`actor.`)",
    "action": "Action facts (`action.`)",
    "tenant": "Tenant facts (`tenant.`)",
    "scenario": "Scenarios (`scenario.`)",
}
_NAMESPACE_INTROS = {
    "policy": "Settings a policy controls; a repair may change them. Read from the `settings` "
    "of a policy file. A repair lowers a setting (gives it a weaker value, or one not "
    "comparable) only where a failing rule asks: *Strength* lists the values weakest first, "
    "each chain `;`-separated (values no chain orders are not comparable); a missing setting "
    "is weaker than any value.",
    "device": "Facts about the device; no policy changes them. Read from the `facts` of a device file.",
    "actor": "Who performs an administrative action: roles and permissions.",
    "action": "The administrative action a rule is asked about.",
    "tenant": "Tenant and Configuration Manager facts.",
    "scenario": "What a check is about. A rule or ruleset with `scenario NAME` applies only when the "
    "scenario holds: declared (`--scenario NAME`, or naming a ruleset that declares it), "
    "else inferred from the facts as each scenario below says; a scenario neither declared "
    "nor inferable is unknown, so its rules are unknown where they would otherwise fail. "
    "Rules name scenarios with the `scenario` clause, not as facts.",
}


# ---------------------------------------------------------------------------
# Markdown helpers.

_ESCAPE = re.compile(r"([\\`*\[\]<|])")
_LONE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_LINE_START = re.compile(r"^([#>+=-])")


def _text(value: str) -> str:
    """Prose safe for Markdown (no stray emphasis, HTML, block markers or table breaks), on one line."""
    escaped = _ESCAPE.sub(r"\\\1", " ".join(str(value).split()))
    return _LINE_START.sub(r"\\\1", _LONE_UNDERSCORE.sub(r"\\_", escaped))


def _code(value: str) -> str:
    """An inline code span that survives backticks and pipes inside ``value``."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return lines


def _raw(value: Any) -> str:
    """A raw origin value as JSON (strings quoted, booleans lower case), in code."""
    return _code(json.dumps(value, ensure_ascii=False))


# ---------------------------------------------------------------------------
# The vocabulary page.


def _enum_heading(enum: EnumType) -> str:
    # "Enum" keeps the anchor apart from a fact's (`ActionKind` and `action.kind` would collide).
    return f"Enum `{enum.name}`"


def _fact_heading(fact: Fact) -> str:
    return _fact_heading_name(fact.name)


def _fact_heading_name(name: str) -> str:
    return f"`{name}`"


def _type_text(ftype: FactType) -> str:
    """A fact type in words, enums linked to their section."""
    if ftype.enum is not None:
        return f"enum [{_code(ftype.enum.name)}](#{_anchor(_enum_heading(ftype.enum))})"
    if ftype.kind == "collection":
        return "collection of records"
    return ftype.kind


def _value_columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    keys = {k for row in rows for k in row}
    return [k for k in _VALUE_KEYS if k in keys] + sorted(keys - set(_VALUE_KEYS))


def _member_rows(members: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[str]:
    """A table of members: name, label and one column per raw-value kind present."""
    columns = _value_columns([values for _, _, values in members])
    headers = ["Member (rule text)", "Intune label"] + [_VALUE_TITLES.get(c, _code(c)) for c in columns]
    rows = [
        [_code(name), _text(label)] + [_raw(values[c]) if c in values else "" for c in columns]
        for name, label, values in members
    ]
    return _table(headers, rows)


def _effective_members(fact: Fact) -> list[tuple[str, str, Mapping[str, Any]]]:
    """The members of an enum fact with this fact's labels and raw values (they override the enum's)."""
    enum = fact.type.enum
    assert enum is not None
    return [
        (m.name, fact.member_label(m.name), {**m.origins, **fact.member_values.get(m.name, {})}) for m in enum.members
    ]


def _origin_rows(fact: Fact) -> list[list[str]]:
    origins = dict(fact.origins)
    rows = []
    if "csp" in origins:
        node = _code(origins.pop("csp"))
        data_id = origins.pop("csp_data_id", None)
        rows.append(["CSP node", node + (f", data id {_code(data_id)}" if data_id else "")])
    elif "csp_data_id" in origins:
        rows.append(["CSP data id", _code(origins.pop("csp_data_id"))])
    if "graph" in origins or "graph_type" in origins:
        path = origins.pop("graph", None)
        resource = origins.pop("graph_type", None)
        text = _code(path) if path else "(no property)"
        if resource:
            text += f" on {_code(resource)}"
        if origins.pop("inverted", False):
            text += " (inverted: the Graph Boolean has the opposite polarity of the CSP value)"
        rows.append(["Graph property", text])
    if "catalog" in origins:
        rows.append(["Settings catalog id", _code(origins.pop("catalog"))])
    for key in sorted(origins):
        rows.append([_code(key), _raw(origins[key])])
    return rows


def _fact_section(fact: Fact, level: str = "###", scenario: Scenario | None = None) -> list[str]:
    lines = [f"{level} {_fact_heading(fact)}", ""]
    rows = [
        ["Intune label", _text(fact.label)],
        ["Type", _type_text(fact.type)],
    ]
    if fact.section:
        rows.append(["Section", _text(fact.section)])
    if fact.item_label:
        rows.append(["One record is", _text(fact.item_label)])
    if fact.default:
        rows.append(["Default", _text(fact.default)])
    if fact.strength is not None:
        rows.append(["Strength", _strength_text(fact)])
    if fact.per_policy:
        rows.append(
            [
                "Several policies",
                "describes each policy: a rule that reads it is decided on each "
                "assigned policy's own settings (a fail on any fails; else a pass on one passes)",
            ]
        )
    rows += _origin_rows(fact) + _scenario_rows(scenario)
    reference = fact.reference or (scenario.reference if scenario is not None else ())
    if reference:
        rows.append(["Reference", _references(reference)])
    lines += _table(["", ""], rows)
    if fact.description:
        lines += ["", _text(fact.description)]
    if fact.type.enum is not None:
        lines += ["", "Members:", ""] + _member_rows(_effective_members(fact))
    if fact.type.kind == "collection":
        lines += ["", "Record fields (write `x.<field>` inside `any x in …`, `all x in …`, `count(x in …: …)`):", ""]
        lines += _table(
            ["Field", "Type", "Label", "Description"],
            [[_code(f.name), _type_text(f.type), _text(f.label), _text(f.description)] for f in fact.type.fields],
        )
    return lines + [""]


def _scenario_rows(scenario: Scenario | None) -> list[list[str]]:
    """How a scenario is declared and inferred, as rows of its fact's table."""
    if scenario is None:
        return []
    rows = [
        [
            "Declared by",
            f"`--scenario {scenario.name}`, or naming a ruleset whose header says `scenario {scenario.name}`",
        ]
    ]
    for word, text in (("in scope", scenario.inferred_on), ("out of scope", scenario.inferred_off)):
        if text.strip():
            rows.append([f"Inferred {word} when", _code(" ".join(text.split()))])
    if scenario.excludes:
        rows.append(["Excludes", ", ".join(_code(name) for name in scenario.excludes)])
    return rows


def _references(refs: Sequence[str]) -> str:
    """Cited documents by title, each linked to its URL (``[[documents]]`` of rulesets/requirements.toml).

    A third-party document says so; an id that is not a document shows as code.
    """
    known = registry()
    cells = []
    for ref in refs:
        item = known.get(ref)
        if item is None or item.kind != "document":
            cells.append(_code(ref))
            continue
        title = f"[{_text(item.title)}]({item.url})" if item.url else _text(item.title)
        cells.append(title + (" (third party)" if item.third_party else ""))
    return "; ".join(cells)


def _strength_text(fact: Fact) -> str:
    """Which values of a policy setting are stronger (its ``strength``), in the admin's words."""
    strength = fact.strength
    assert strength is not None
    if strength.order == "none":
        return "no value is stronger than another"
    if strength.order in ("higher", "lower"):
        return f"a {strength.order} value is stronger"
    return _text(
        "; ".join(
            " < ".join(fact.member_label(v) if isinstance(v, str) else json.dumps(v) for v in chain)
            for chain in strength.chains
        )
    )


def _enum_users(vocabulary: Vocabulary) -> dict[str, list[tuple[Fact, str]]]:
    """Enum name -> the facts (and record fields, by name) of that type, in declaration order."""
    users: dict[str, list[tuple[Fact, str]]] = {}
    for fact in vocabulary.facts.values():
        if fact.type.enum is not None:
            users.setdefault(fact.type.enum.name, []).append((fact, ""))
        for spec in fact.type.fields:
            if spec.type.enum is not None:
                users.setdefault(spec.type.enum.name, []).append((fact, spec.name))
    return users


def _enum_section(enum: EnumType, users: Sequence[tuple[Fact, str]]) -> list[str]:
    lines = [f"### {_enum_heading(enum)}", ""]
    if enum.description:
        lines += [_text(enum.description), ""]
    lines += _member_rows([(m.name, m.label, m.origins) for m in enum.members])
    if users:
        links = ", ".join(
            f"[{_code(fact.name)}](#{_anchor(_fact_heading(fact))})" + (f" (field {_code(field)})" if field else "")
            for fact, field in users
        )
        lines += ["", f"Used by: {links}."]
    return lines + [""]


def render_vocabulary_markdown(vocabulary: Vocabulary) -> str:
    """The vocabulary as a Markdown reference: releases, enumerations, then facts by namespace."""
    facts_by_ns = {ns: [f for f in vocabulary.facts.values() if f.namespace == ns] for ns in NAMESPACES}
    enums = sorted(vocabulary.enums.values(), key=lambda e: e.name)
    users = _enum_users(vocabulary)
    lines = [
        "# Vocabulary reference",
        "",
        "<!-- Generated from rulesets/vocabulary.toml; do not edit. Regenerate with:",
        f"     {COMMANDS['vocabulary']} -->",
        "",
        "Every fact a rule may name, with its type, the label Intune (or msinfo32, or the encryption",
        "report) shows for it, and where its value comes from: the BitLocker CSP node and ADMX data",
        "id, the Microsoft Graph property and resource, and the settings-catalog setting id. The",
        "declarations live in `rulesets/vocabulary.toml`; this page is generated from them.",
        "*Reference* lists the documents a declaration rests on, each linked by its title; they are",
        "the documents listed in `rulesets/requirements.toml` (third-party material is marked so).",
        "",
        f"{len(vocabulary.facts)} facts, {len(vocabulary.enums)} enumerations, "
        f"{len(vocabulary.releases)} Windows release names.",
        "",
        "- [Windows releases](#windows-releases)",
        "- [Enumerations](#enumerations)",
    ]
    for ns in NAMESPACES:
        if facts_by_ns[ns]:
            lines.append(f"- [{_NAMESPACE_TITLES[ns]}](#{_anchor(_NAMESPACE_TITLES[ns])})")
    grants = tuple(getattr(vocabulary, "grants", ()))
    if grants:
        lines.append("- [Role grants](#role-grants)")
    lines += [
        "",
        "## Windows releases",
        "",
        "Release names a rule may compare `device.os_version` with (`>= 1809`, `>= 21H2`,",
        '`>= "Windows 11"`); names are matched without regard to case or spaces. `21H2` and `22H2`',
        'alone are the Windows 10 releases; write `"Windows 11 22H2"` for Windows 11.',
        "",
    ]
    releases = sorted(vocabulary.releases.items(), key=lambda item: (item[1], item[0]))
    lines += _table(["Release name", "Version"], [[_code(name), _code(str(v))] for name, v in releases])
    lines += [
        "",
        "## Enumerations",
        "",
        "Rules write a member by its name, without quotes (`policy.tpm_startup_pin != Required`); a",
        "bare name takes its type from the other side of the comparison. Input files may write the",
        "name in any case. The CSP, Graph and settings-catalog columns are the raw values an",
        "exported policy carries for the member.",
        "",
    ]
    for enum in enums:
        lines += _enum_section(enum, users.get(enum.name, []))
    for ns in NAMESPACES:
        facts = facts_by_ns[ns]
        if not facts:
            continue
        lines += [f"## {_NAMESPACE_TITLES[ns]}", "", _NAMESPACE_INTROS[ns], ""]
        lines += _table(
            ["Fact", "Type", "Intune label"],
            [[f"[{_code(f.name)}](#{_anchor(_fact_heading(f))})", _type_text(f.type), _text(f.label)] for f in facts],
        )
        lines.append("")
        for fact in facts:
            lines += _fact_section(
                fact, scenario=vocabulary.scenarios.get(fact.name.split(".", 1)[1]) if ns == "scenario" else None
            )
    if grants:
        lines += _grants_section(grants)
    return "\n".join(lines).rstrip("\n") + "\n"


def _grants_section(grants: Sequence[Any]) -> list[str]:
    """Built-in roles and the permissions they carry (``[[grants]]``), in declaration order."""
    lines = [
        "## Role grants",
        "",
        "When an input names one of these built-in roles in the roles fact, the permissions fact",
        "gains the role's permissions (matched by name without regard to case), in addition to",
        "any permissions the input lists.",
        "",
    ]
    rows = [
        [
            _text(g.role),
            f"[{_code(g.roles_fact)}](#{_anchor(_fact_heading_name(g.roles_fact))})",
            f"[{_code(g.permissions_fact)}](#{_anchor(_fact_heading_name(g.permissions_fact))})",
            "<br>".join(_text(p) for p in g.permissions),
            " ".join(
                filter(None, [_text(g.description), "Reference: " + _references(g.reference) if g.reference else ""])
            ),
        ]
        for g in grants
    ]
    return lines + _table(["Role", "Roles fact", "Permissions fact", "Permissions", "Notes"], rows) + [""]


# ---------------------------------------------------------------------------
# The rulesets page.


def _rule_heading(rule: n.Rule) -> str:
    return f"{rule.id}: {rule.title}"


def render_rulesets_markdown(loaded_rulesets: Iterable[Any]) -> str:
    """Every ruleset (id, title, source, file) and every rule and note in full, with its text.

    Takes objects with ``.ruleset`` (a ``nodes.Ruleset``) and ``.path``, such as the
    ``LoadedRuleset`` records of ``Engine.load()``. Rule text is printed from the tree it is
    given: a parsed ruleset prints constants as written (``1809``, ``"KB4497934"``); a checked
    one prints the resolved values (``10.0.17763.0``).
    """
    loaded = list(loaded_rulesets)
    lines = [
        "# Shipped rulesets",
        "",
        "<!-- Generated from rulesets/*.rules; do not edit. Regenerate with:",
        f"     {COMMANDS['rulesets']} -->",
        "",
        "The rulesets that ship with bitlocker-rules, every rule and note with its sources, the",
        "BitLocker event ids it relates to, why it exists and how to fix a device that fails it.",
        "Rule text is shown in canonical form: one clause per line, long texts joined on one line",
        "(`bitlocker-rules explain RULE_ID` shows a rule as written in its file).",
        "The language is described in [language.md](language.md) and the facts in",
        "[vocabulary.md](vocabulary.md).",
        "",
    ]
    for item in loaded:
        ruleset: n.Ruleset = item.ruleset
        title = f"{ruleset.id}: {ruleset.title}"
        lines.append(f"- [{_text(title)}](#{_anchor(title)})")
    lines.append("")
    for item in loaded:
        lines += _ruleset_section(item.ruleset, str(item.path))
    return "\n".join(lines).rstrip("\n") + "\n"


def _ruleset_section(ruleset: n.Ruleset, path: str) -> list[str]:
    lines = [f"## {ruleset.id}: {_text(ruleset.title)}", ""]
    rows = [["Ruleset id", _code(ruleset.id)], ["Title", _text(ruleset.title)]]
    if ruleset.document:
        rows.append(["Source", _text(ruleset.document)])
    rows.append(["File", _code(path.replace("\\", "/"))])
    rows.append(["Rules", str(sum(1 for r in ruleset.rules if r.kind == "rule"))])
    rows.append(["Notes", str(sum(1 for r in ruleset.rules if r.kind == "note"))])
    lines += _table(["", ""], rows) + [""]
    lines += _table(
        ["Id", "Kind", "Severity", "Title"],
        [
            [f"[{rule.id}](#{_anchor(_rule_heading(rule))})", rule.kind, rule.severity, _text(rule.title)]
            for rule in ruleset.rules
        ],
    )
    lines.append("")
    if ruleset.definitions:
        lines += ["Definitions the rules use:", "", "```rules"]
        lines += [f"define {d.name} = {print_expr(d.expr)}" for d in ruleset.definitions]
        lines += ["```", ""]
    for rule in ruleset.rules:
        lines += _rule_section(rule, ruleset, path)
    return lines


def _rule_section(rule: n.Rule, ruleset: n.Ruleset, path: str) -> list[str]:
    lines = [f"### {_text(_rule_heading(rule))}", ""]
    rows = [
        ["Kind", _rule_kind(rule)],
        ["Severity", rule.severity],
        [
            "Encodes" if rule.encodes or not rule.related else "Advice about",
            _citations(rule.encodes or rule.related) or "none",
        ],
        ["Scenario", ", ".join(_code(s) for s in rule.scenarios or ruleset.scenarios) or "any"],
        ["Events", ", ".join(str(e) for e in rule.events) or "none"],
    ]
    if rule.disputed:
        rows.append(["Sources disagree", _text(rule.disputed) + " A failure is reported as unknown."])
    if rule.unconfirmed:
        rows.append(["Not confirmed", _text(rule.unconfirmed) + " A pass is reported as unknown."])
    if ruleset.text is not None and rule.span is not None:
        line, _ = ruleset.text.position(rule.span.start)
        rows.append(["Defined at", _code(f"{path.replace(chr(92), '/')}:{line}")])
    lines += _table(["", ""], rows) + [""]
    if rule.rationale:
        lines += [f"**Rationale.** {_text(rule.rationale)}", ""]
    if rule.remediation:
        lines += [f"**Remediation.** {_text(rule.remediation)}", ""]
    lines += ["```rules", print_rule(rule), "```", ""]
    return lines


def _rule_kind(rule: n.Rule) -> str:
    if rule.kind == "note":
        return "note (informational; never fails)"
    return (
        "advice (the project's advice about the ids it cites, not what they say)"
        if not rule.encodes and rule.related
        else "rule"
    )


def _citations(refs: Sequence[str]) -> str:
    """Cited ids with their titles: ``S9 (Compatible TPM startup PIN is not …)``."""
    known = registry()
    return "; ".join(f"{_code(ref)} {_text(known[ref].title)}" if ref in known else _code(ref) for ref in refs)


# ---------------------------------------------------------------------------
# The requirements page: every citable id and how the shipped rules encode it.


def render_requirements_markdown(rulesets: Sequence[ShownRuleset]) -> str:
    """Documents, requirements and causes with the rules that encode each, then id by id how."""
    parsed = [item.ruleset for item in rulesets]
    table = coverage(parsed)
    rules = {rule.id: (rule, item.ruleset) for item in rulesets for rule in item.ruleset.rules}
    documents = [r for r in load_requirements() if r.kind == "document"]
    lines = [
        "# Requirements, causes and the rules that encode them",
        "",
        "<!-- Generated from rulesets/requirements.toml and the shipped rules; do not edit. Regenerate with:",
        f"     {COMMANDS['requirements']} -->",
        "",
        "The shipped rules rest on the public documents listed first. The ids P1 ... M1 number the",
        "items of the Intune page *Encrypt Windows devices with BitLocker in Intune* (version of 6",
        "December 2021); F1 ... F19 number the documented causes of failed silent encryption, each",
        "with the documents that describe it. A rule **encodes** an id (`sources`) when it says",
        "what the id says and applies when its condition holds; it gives **advice** about an id",
        "(`related`) when it goes beyond it. `bitlocker-rules rules --coverage` counts encodings only.",
        "Where the rules deliberately do not encode an item as the 2021 page words it, the",
        "*deviation* says why (usually: Microsoft's current page says otherwise).",
        "",
        "- [Documents](#documents)",
        "- [Requirements of the Intune BitLocker page](#requirements-of-the-intune-bitlocker-page)",
        "- [Documented failure causes](#documented-failure-causes)",
        "- [How each item is encoded](#how-each-item-is-encoded)",
        "",
        "## Documents",
        "",
    ]
    lines += _table(
        ["Id", "Document", "Published"],
        [
            [
                _code(d.id),
                f"[{_text(d.title)}]({d.url})" if d.url else _text(d.title),
                _text(", ".join(p for p in (d.publisher, d.date) if p)),
            ]
            for d in documents
        ],
    )
    lines += ["", "## Requirements of the Intune BitLocker page", ""]
    lines += _table(
        ["Id", "Area", "Requirement", "Encoded by", "Advice", "Deviation"],
        [
            [
                _link_id(c.requirement.id),
                c.requirement.area,
                _text(c.requirement.title),
                _rule_links(c.rules),
                _rule_links(c.advice),
                "yes" if c.requirement.deviation else "",
            ]
            for c in table
            if c.requirement.kind == "requirement"
        ],
    )
    lines += ["", "## Documented failure causes", ""]
    lines += _table(
        ["Id", "Events", "Cause", "Documents", "Encoded by", "Advice"],
        [
            [
                _link_id(c.requirement.id),
                c.requirement.area.removeprefix("events "),
                _text(c.requirement.title),
                ", ".join(_code(d) for d in c.requirement.documents),
                _rule_links(c.rules),
                _rule_links(c.advice),
            ]
            for c in table
            if c.requirement.kind == "cause"
        ],
    )
    lines += [
        "",
        "## How each item is encoded",
        "",
        "Each item's words, then every rule that encodes it or gives advice about it, with the",
        "scenario it applies in and its conditions as written, then any deviation.",
        "",
    ]
    for c in table:
        lines += _encoding_section(c, rules)
    return "\n".join(lines).rstrip("\n") + "\n"


def _definitions_used(ruleset: n.Ruleset, *exprs: n.Expr | None) -> list[tuple[str, n.Expr]]:
    """The ruleset's definitions a parsed rule names, each once, those they name included."""
    defined = {d.name: d.expr for d in ruleset.definitions}
    found: dict[str, n.Expr] = {}
    stack = [e for e in exprs if e is not None]
    while stack:
        node = stack.pop()
        if isinstance(node, n.Name) and len(node.path) == 1 and node.path[0] in defined and node.path[0] not in found:
            found[node.path[0]] = defined[node.path[0]]
            stack.append(defined[node.path[0]])
        stack.extend(n.children(node))
    return list(found.items())


def _link_id(ref: str) -> str:
    return f"[{ref}](#{ref.lower()})"


def _rule_links(cited: Sequence[str]) -> str:
    return ", ".join(ref.split("/", 1)[1] for ref in cited)


def _encoding_section(c: Coverage, rules: Mapping[str, tuple[n.Rule, n.Ruleset]]) -> list[str]:
    item = c.requirement
    lines = [f"### {item.id}", "", f"*{_text(item.title)}*" + (f" ({_text(item.area)})" if item.area else ""), ""]
    for word, cited in (("Encoded by", c.rules), ("Advice", c.advice)):
        for ref in cited:
            rule, ruleset = rules[ref.split("/", 1)[1]]
            scenario = ", ".join(rule.scenarios or ruleset.scenarios) or "any"
            caveat = (
                " Disputed: a failure is reported as unknown."
                if rule.disputed
                else " Unconfirmed: a pass is reported as unknown."
                if rule.unconfirmed
                else ""
            )
            lines.append(
                f"- {word} **{rule.id}** ({rule.kind if rule.kind == 'note' else rule.severity}; "
                f"scenario: {scenario}): {_text(rule.title)}.{caveat}"
            )
            if rule.applicability is not None:
                lines.append(f"  Applies when `{print_expr(rule.applicability)}`.")
            for requirement in rule.requires:
                lines.append(f"  Requires `{print_expr(requirement)}`.")
            for name, expr in _definitions_used(ruleset, rule.applicability, *rule.requires):
                lines.append(f"  Where `{name}` is `{print_expr(expr)}`.")
    if not c.rules and not c.advice:
        lines.append("- Not encoded by any shipped rule.")
    if item.deviation:
        lines += ["", f"**Deviation.** {_text(item.deviation)}"]
    return lines + [""]


# ---------------------------------------------------------------------------
# What the rulesets and requirements pages show of a ruleset.


class ShownRuleset(NamedTuple):
    """A ruleset with the path the rulesets page shows for it."""

    ruleset: n.Ruleset
    path: str


__all__ = [
    "COMMANDS",
    "ShownRuleset",
    "render_requirements_markdown",
    "render_rulesets_markdown",
    "render_vocabulary_markdown",
]
