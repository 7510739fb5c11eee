"""The adversarial run of issue 11: about 2,650 hostile cases against every command, counted.

Usage (from the repository root, with the project's virtual environment active)::

    python tests/adversarial.py                       # every case (about 2,650; 20-45 min on 2 cores)
    python tests/adversarial.py --family secrets      # one family (repeatable)
    python tests/adversarial.py --limit 200           # an even sample of every family
    python tests/adversarial.py --list                # print the cases, run nothing
    python tests/adversarial.py --report failures.json --keep /tmp/adversarial-cases
    python tests/adversarial.py --progress run.jsonl  # each outcome as it ends; after a stop:
    python tests/adversarial.py --resume run.jsonl    # run only the cases not yet in run.jsonl

Cases are generated deterministically from ``--seed`` (default 11): the same seed gives the
same cases, byte for byte. Each case writes its input files into a fresh folder, runs
``python -m bitlocker_rules ...`` there as a subprocess (``nice``, its own process group,
an address-space limit of ``--memory`` MB, killed after ``--timeout`` seconds), at most
``--jobs`` at a time, and is classified by an oracle written independently of the
production code. A case of the ``tenant`` family first starts a Graph of its own on
127.0.0.1 (the tenant tests' ``graph_fake``, a small tenant) that answers one kind of request
its own hostile way, runs ``pull`` from it, then commands on the snapshot it wrote (or
``apply`` of a repair to it); every command of a case is classified, and its output files
once all have run:

* ``hang``: still running at the time limit (the process group is killed);
* ``traceback``: the word ``Traceback`` on standard error;
* ``crash``: exit code 3 (an internal error, even when reported in one line);
* ``signal``: killed by a signal (for example by the memory limit);
* ``bad-exit``: an exit code other than 0, 1, 2, 3, 4 (documented: undecided) and 130;
* ``leak``: a planted recovery password (48 digits in 8 groups of 6) in standard output,
  standard error or an output file, in any spelling: any separators (or none) between the
  groups, any Unicode decimal digits, JSON ``\\uXXXX`` escapes and HTML entities undone;
* ``escape``: a raw control character (C0 other than tab/newline/carriage return, DEL, C1)
  or a bidirectional mark reaching standard output, standard error or an output file;
* ``damaged``: an input file truncated, changed or removed by the run;
* ``not-run`` (reported, not failing): the case could not be started;
* ``unexpected-exit`` (reported, not failing): a case that names the exit codes it expects
  (for example 2 for ``--output /dev/full``) ended with another.

It prints a table (cases per family, counts per class), writes every failing case (command,
input files, what was wrong, the exception's last line) to ``--report`` and copies the
failing cases' inputs under ``--keep`` so each can be rerun by hand. Exit code 1 when any case
is a hang, traceback, crash, signal, bad exit, leak, escape or damaged input; 0 otherwise.

``tests/test_adversarial.py`` runs a small fixed slice of these cases in CI.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import copy
import csv
import functools
import hashlib
import html
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
RULESETS = ROOT / "rulesets"
POLICY_FILE = str(EXAMPLES / "policy-silent.json")
PIN_POLICY_FILE = str(EXAMPLES / "policy-startup-pin.json")
DEVICE_FILE = str(EXAMPLES / "device-ready.json")
FLEET_FILE = str(EXAMPLES / "fleet.jsonl")
SHIPPED = sorted(p.stem for p in RULESETS.glob("*.rules"))
SMALL_RULESETS = ["tenant_attach", "permissions", "platform_support", "policy_types"]
FORMATS = ["text", "json", "markdown", "sarif", "junit", "html"]
EXTENSIONS = {
    "text": "txt",
    "json": "json",
    "markdown": "md",
    "sarif": "sarif",
    "junit": "xml",
    "html": "html",
}

FAILING = ("hang", "traceback", "crash", "signal", "bad-exit", "leak", "escape", "damaged")
CLASSES = FAILING + ("unexpected-exit", "not-run", "ok")
ALLOWED_EXITS = {0, 1, 2, 4, 130}

ESCAPE_PAYLOADS = [
    "\u001b]0;PWNED\u0007\u001b[2J",
    "evil\u202eexe.txt",
    "\u009b31mC1\u009b0m",
    "bell\u0007bell",
    "\u001b[31mred\u001b[0m",
    "rtl\u2067x\u2069\u200f",
]


# ---------------------------------------------------------------- recovery passwords


def new_password(rng: random.Random) -> list[str]:
    """Eight groups of six digits, each a multiple of 11 below 720,896 (a valid password)."""
    return [f"{11 * rng.randrange(65536):06d}" for _ in range(8)]


_DIGIT_SETS = {"arabic-indic": 0x0660, "fullwidth": 0xFF10, "devanagari": 0x0966}


def _digits_in(text: str, zero: int) -> str:
    return "".join(chr(zero + int(c)) if c.isdigit() else c for c in text)


SPELLINGS = {
    "dashes": lambda g: "-".join(g),
    "none": lambda g: "".join(g),
    "spaces": lambda g: " ".join(g),
    "double-space": lambda g: "  ".join(g),
    "tabs": lambda g: "\t".join(g),
    "newlines": lambda g: "\n".join(g),
    "nbsp": lambda g: "\u00a0".join(g),
    "en-dash": lambda g: "\u2013".join(g),
    "nb-hyphen": lambda g: "\u2011".join(g),
    "underscore": lambda g: "_".join(g),
    "dots": lambda g: ".".join(g),
    "zero-width": lambda g: "\u200b".join(g),
    "adjacent-digits": lambda g: "X9" + "-".join(g) + "7",
    "arabic-indic": lambda g: _digits_in("-".join(g), 0x0660),
    "fullwidth": lambda g: _digits_in("-".join(g), 0xFF10),
    "devanagari": lambda g: _digits_in(" ".join(g), 0x0966),
    "mixed-digits": lambda g: "-".join(_digits_in(x, 0x0660) if i % 2 else x for i, x in enumerate(g)),
}
# Spellings that exist only in raw JSON text: the string decodes to the dashed password.
JSON_SPELLINGS = {
    "json-escaped-dash": lambda g: "\\u002d".join(g),
    "json-escaped-digits": lambda g: "-".join("".join(f"\\u{ord(c):04x}" for c in x) for x in g),
}


def spell(groups: list[str], spelling: str) -> str:
    """The password as it is planted (for JSON spellings, as JSON source text)."""
    if spelling in JSON_SPELLINGS:
        return JSON_SPELLINGS[spelling](groups)
    return SPELLINGS[spelling](groups)


def normalised(text: str) -> str:
    """Undo what a renderer may do to digits: JSON escapes, HTML entities, other scripts."""
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    text = html.unescape(text)
    return "".join(str(unicodedata.digit(c)) if c.isdigit() and not c.isascii() else c for c in text)


def leaked(text: str, groups: list[str]) -> bool:
    """Whether all 48 digits appear in order, at most 80 non-digits between two groups."""
    pattern = r"[^0-9]{0,80}".join(groups)
    return re.search(pattern, normalised(text)) is not None


# ---------------------------------------------------------------- control characters


def _is_control(c: str) -> bool:
    code = ord(c)
    if c in "\t\n\r":
        return False
    return (
        code < 0x20
        or code == 0x7F
        or 0x80 <= code <= 0x9F
        or 0x202A <= code <= 0x202E
        or 0x2066 <= code <= 0x2069
        or code in (0x200E, 0x200F, 0x061C)
    )


def control_chars(text: str) -> list[str]:
    """The distinct raw control and bidi characters in ``text``, as ``U+XXXX``."""
    return sorted({f"U+{ord(c):04X}" for c in text if _is_control(c)})


# ---------------------------------------------------------------- cases


@dataclass
class Case:
    """One hostile run: the command line, its input files, what was planted."""

    family: str
    what: str
    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    stdin: bytes | None = None
    secrets: list[list[str]] = field(default_factory=list)
    expect: set[int] | None = None
    allow_color: bool = False
    name: str = ""
    graph: GraphFault | None = None  # a local Graph started for the case (its address: GRAPH_URL)
    then: list[list[str]] = field(default_factory=list)  # commands run after ``argv``, in the same folder
    timeout: float | None = None  # seconds for each command, when not the run's

    def describe(self) -> dict:
        return {
            "case": self.name,
            "family": self.family,
            "what": self.what,
            "argv": ["bitlocker-rules", *self.argv],
            **({"then": [["bitlocker-rules", *argv] for argv in self.then]} if self.then else {}),
            **({"graph": asdict(self.graph)} if self.graph else {}),
            "files": {n: len(b) for n, b in self.files.items()},
            "stdin_bytes": None if self.stdin is None else len(self.stdin),
            "expect": sorted(self.expect) if self.expect else None,
        }


def dumps(doc) -> bytes:
    """Compact JSON (the C encoder: generation stays fast), non-ASCII kept as it is."""
    return json.dumps(doc, ensure_ascii=False).encode()


def load_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def base_policy() -> dict:
    return load_json(Path(POLICY_FILE))


def base_device() -> dict:
    return load_json(Path(DEVICE_FILE))


def base_rows() -> list[dict]:
    return [json.loads(line) for line in Path(FLEET_FILE).read_text().splitlines()[:6] if line]


def graph_files() -> list[Path]:
    return sorted((EXAMPLES / "graph").glob("*.json"))


GRAPH_POLICIES = {
    "custom-oma-uri.json",
    "endpoint-protection-beta.json",
    "endpoint-protection-startup-pin.json",
    "settings-catalog-bitlocker.json",
}

PLACEHOLDER = "@@PLANT@@"


def _containers(doc, path=()):
    """Every (container, key) in a JSON document, for picking a place to mutate."""
    if isinstance(doc, dict):
        for k in list(doc):
            yield doc, k
            yield from _containers(doc[k], path + (k,))
    elif isinstance(doc, list):
        for i in range(len(doc)):
            yield doc, i
            yield from _containers(doc[i], path + (i,))


def set_somewhere(rng: random.Random, doc, value):
    """A copy of ``doc`` with one randomly chosen value replaced by ``value``."""
    doc = copy.deepcopy(doc)
    places = list(_containers(doc))
    if not places:
        return value
    container, key = rng.choice(places)
    container[key] = value
    return doc


def planted_text(rng, doc, raw: str) -> bytes:
    """``doc`` serialised with one value replaced by the raw JSON text ``raw``."""
    text = dumps(set_somewhere(rng, doc, PLACEHOLDER)).decode()
    return text.replace(json.dumps(PLACEHOLDER), raw, 1).encode("utf-8", "surrogatepass")


def _insert(rng, data: bytes, piece: bytes) -> bytes:
    """``piece`` inserted inside a string literal of ``data`` (after a quote), or anywhere."""
    quotes = [m.end() for m in re.finditer(rb'"[A-Za-z]', data)]
    at = rng.choice(quotes) if quotes else rng.randrange(len(data) + 1)
    return data[:at] + piece + data[at:]


def _dup_key(rng, doc) -> bytes:
    text = dumps(doc).decode()
    keys = re.findall(r'[{,] ?("[^"]+"): ', text)
    key = rng.choice(keys) if keys else '"id"'
    return text.replace(key + ": ", key + ': "DUPLICATE", ' + key + ": ", 1).encode()


# Every JSON mutation: name -> function(rng, doc) -> bytes.
JSON_MUTATIONS = {
    "truncated": lambda r, d: dumps(d)[: r.randrange(1, len(dumps(d)))],
    "wrong-type": lambda r, d: dumps(
        set_somewhere(r, d, r.choice([[], {}, 1, -1.5, None, True, "x", [1, [2]], {"a": {}}, 10**30, ""]))
    ),
    "huge-int": lambda r, d: planted_text(r, d, "9" * r.randint(4301, 40000)),
    "huge-negative-int": lambda r, d: planted_text(r, d, "-" + "7" * r.randint(4301, 9000)),
    "huge-float": lambda r, d: planted_text(
        r, d, r.choice(["1e99999", "-1e400", "1" + "0" * 5000 + ".5", "0." + "1" * 5000, "1e-99999"])
    ),
    "nan": lambda r, d: planted_text(r, d, r.choice(["NaN", "Infinity", "-Infinity"])),
    "deep-array": lambda r, d: planted_text(r, d, "[" * (n := r.randint(1000, 30000)) + "]" * n),
    "deep-object": lambda r, d: planted_text(r, d, '{"a":' * (n := r.randint(1000, 20000)) + "1" + "}" * n),
    "deep-unclosed": lambda r, d: ("[" * r.randint(1000, 100000)).encode(),
    "quadratic-depth": lambda r, d: b"[" * 65 + b'"' + b'\\"' * r.randint(50000, 120000),
    "duplicate-keys": _dup_key,
    "invalid-utf8": lambda r, d: _insert(
        r, dumps(d), r.choice([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80\x80"])
    ),
    "lone-surrogate": lambda r, d: planted_text(r, d, '"\\ud800x"'),
    "utf16-bom": lambda r, d: dumps(d).decode().encode("utf-16"),
    "utf16le-no-bom": lambda r, d: dumps(d).decode().encode("utf-16-le"),
    "utf32": lambda r, d: dumps(d).decode().encode("utf-32"),
    "binary": lambda r, d: r.randbytes(r.choice([1, 17, 4096, 100000])),
    "utf8-bom": lambda r, d: b"\xef\xbb\xbf" + dumps(d),
    "double-bom": lambda r, d: b"\xef\xbb\xbf\xef\xbb\xbf" + dumps(d),
    "nul-byte": lambda r, d: _insert(r, dumps(d), b"\x00"),
    "nul-escape": lambda r, d: planted_text(r, d, '"a\\u0000b"'),
    "long-string": lambda r, d: dumps(set_somewhere(r, d, "A" * r.choice([70000, 200000, 3000000]))),
    "long-key": lambda r, d: planted_text(r, d, '{"' + "k" * 300000 + '": 1}'),
    "long-line": lambda r, d: planted_text(r, d, "[" + ",".join(["1"] * 400000) + "]"),
    "many-keys": lambda r, d: planted_text(r, d, "{" + ",".join(f'"k{i}": {i}' for i in range(50000)) + "}"),
    "empty": lambda r, d: b"",
    "whitespace": lambda r, d: b" \n\t\r\n",
    "top-level-scalar": lambda r, d: r.choice([b"[]", b"42", b'"x"', b"null", b"true", b"[{}]"]),
    "trailing-garbage": lambda r, d: dumps(d) + r.choice([b"}", b",", b"\x00", b" {}", b"//"]),
    "two-documents": lambda r, d: dumps(d) + b"\n" + dumps(d),
    "control-key": lambda r, d: planted_text(r, d, json.dumps({r.choice(ESCAPE_PAYLOADS): r.choice(ESCAPE_PAYLOADS)})),
    "control-value": lambda r, d: dumps(set_somewhere(r, d, r.choice(ESCAPE_PAYLOADS))),
    "byte-flips": lambda r, d: _flip(r, dumps(d)),
    "comments": lambda r, d: b"// comment\n" + dumps(d),
    "single-quotes": lambda r, d: dumps(d).replace(b'"', b"'"),
}


def _flip(rng, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 5)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def pick_format(rng, case_formats=FORMATS):
    fmt = rng.choice(case_formats)
    return ["--format", fmt] if fmt != "text" or rng.random() < 0.5 else []


def check_one(rng, policy="policy.json", device="device.json", rules=None) -> list[str]:
    """A ``check`` (or ``repair``) command line for one device, with random options."""
    rules = rules if rules is not None else rng.choice([None, *SHIPPED])
    argv = ["check"] if rng.random() < 0.8 else ["repair"]
    if rules:
        argv += ["--rules", rules]
    argv += ["--policy", policy, "--device", device]
    if argv[0] == "check":
        argv += pick_format(rng)
        if rng.random() < 0.3:
            argv += ["--output", "report.out"]
        if rng.random() < 0.3:
            argv += ["--verbose"]
    else:
        argv += pick_format(rng, ["text", "json"])
    if rng.random() < 0.15:
        argv.insert(0, "--debug")
    return argv


def fleet_argv(rng, fleet: str, assignments: str | None = None) -> list[str]:
    """A ``check --fleet`` (or ``repair --fleet``) command line with random options."""
    if rng.random() < 0.1 and assignments is None:
        return [
            "repair",
            "--rules",
            rng.choice(SMALL_RULESETS + ["silent_enablement"]),
            "--policy",
            POLICY_FILE,
            "--fleet",
            fleet,
        ]
    argv = ["check", "--rules", rng.choice([*SHIPPED, "silent_enablement"]), "--policy", POLICY_FILE]
    if assignments:
        argv += ["--policy", PIN_POLICY_FILE, "--assignments", assignments]
    argv += ["--fleet", fleet, *pick_format(rng)]
    if rng.random() < 0.4:
        argv += ["--output", "fleet.out"]
    if rng.random() < 0.4:
        argv += ["--jobs", rng.choice(["1", "2"])]
    if rng.random() < 0.1:
        argv.insert(0, "--debug")
    return argv


# ---------------------------------------------------------------- families


def _mutated_documents(rng, n, family, base, file_name, argv_of):
    """``n`` cases, each one JSON mutation of ``base()`` written to ``file_name``."""
    for _ in range(n):
        name = rng.choice(sorted(JSON_MUTATIONS))
        data = JSON_MUTATIONS[name](rng, base())
        yield Case(family, name, argv_of(rng), {file_name: data})


family_policy = functools.partial(
    _mutated_documents,
    family="policy-json",
    base=base_policy,
    file_name="policy.json",
    argv_of=lambda r: check_one(r, device=DEVICE_FILE),
)
family_device = functools.partial(
    _mutated_documents,
    family="device-json",
    base=base_device,
    file_name="device.json",
    argv_of=lambda r: check_one(r, policy=POLICY_FILE),
)


def family_graph(rng, n):
    exports = graph_files()
    for _ in range(n):
        path = rng.choice(exports)
        name = rng.choice(sorted(JSON_MUTATIONS))
        data = JSON_MUTATIONS[name](rng, load_json(path))
        if path.name in GRAPH_POLICIES:
            argv = check_one(rng, policy=path.name, device=DEVICE_FILE)
        else:
            argv = check_one(rng, policy=POLICY_FILE, device=path.name)
        yield Case("graph", f"{path.stem}:{name}", argv, {path.name: data})


def _jsonl(rows_bytes: list[bytes]) -> bytes:
    return b"\n".join(rows_bytes) + b"\n"


def family_fleet_jsonl(rng, n):
    for _ in range(n):
        rows = base_rows()
        name = rng.choice(sorted(JSON_MUTATIONS))
        at = rng.randrange(len(rows))
        encoded = [json.dumps(r).encode() for r in rows]
        bad = JSON_MUTATIONS[name](rng, rows[at])
        encoded[at] = bad.replace(b"\n", b" ") if name != "two-documents" else bad
        data = _jsonl(encoded)
        if name.startswith("utf16") or name == "utf32":
            data = bad  # the whole file in another encoding
        yield Case("fleet-jsonl", name, fleet_argv(rng, "fleet.jsonl"), {"fleet.jsonl": data})


def family_fleet_array(rng, n):
    for _ in range(n):
        rows = base_rows()
        name = rng.choice(sorted(JSON_MUTATIONS))
        if rng.random() < 0.5:
            data = JSON_MUTATIONS[name](rng, rows)  # the array itself
        else:
            at = rng.randrange(len(rows))
            parts = [json.dumps(r).encode() for r in rows]
            parts[at] = JSON_MUTATIONS[name](rng, rows[at])
            data = b"[\n" + b",\n".join(parts) + b"\n]\n"
        yield Case("fleet-array", name, fleet_argv(rng, "fleet.json"), {"fleet.json": data})


def _csv_rows() -> list[list[str]]:
    rows = base_rows()
    facts = sorted({k for r in rows for k in r.get("facts", {})})
    table = [["deviceName", *facts]]
    for r in rows:
        table.append([r.get("deviceName", "")] + [_cell(r.get("facts", {}).get(k)) for k in facts])
    return table


def _cell(value) -> str:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _csv(table) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(table)
    return out.getvalue().encode("utf-8", "surrogatepass")


def _csv_cell(rng, table, value):
    table = copy.deepcopy(table)
    table[rng.randrange(1, len(table))][rng.randrange(len(table[0]))] = value
    return table


CSV_MUTATIONS = {
    "long-cell": lambda r, t: _csv(_csv_cell(r, t, "A" * r.choice([131073, 300000, 2000000]))),
    "unterminated-quote": lambda r, t: _unterminated(r, t),
    "extra-columns": lambda r, t: _csv([row + (["x", "y"] if i == 2 else []) for i, row in enumerate(t)]),
    "missing-columns": lambda r, t: _csv([row[:-3] if i == 2 else row for i, row in enumerate(t)]),
    "blank-rows": lambda r, t: _csv(t[:2] + [[""], [], [""] * len(t[0])] + t[2:]),
    "duplicate-column": lambda r, t: _csv([row + [row[1]] for row in t]),
    "nul": lambda r, t: _csv(_csv_cell(r, t, "a\x00b")),
    "invalid-utf8": lambda r, t: _csv(t).replace(b"Enterprise", b"Ent\xff\xfeprise", 1),
    "control-cell": lambda r, t: _csv(_csv_cell(r, t, r.choice(ESCAPE_PAYLOADS))),
    "control-header": lambda r, t: _csv([t[0] + [r.choice(ESCAPE_PAYLOADS)]] + [row + ["1"] for row in t[1:]]),
    "bom": lambda r, t: b"\xef\xbb\xbf" + _csv(t),
    "utf16": lambda r, t: _csv(t).decode().encode("utf-16"),
    "huge-number-cell": lambda r, t: _csv(_csv_cell(r, t, "9" * r.randint(4301, 50000))),
    "only-header": lambda r, t: _csv(t[:1]),
    "empty": lambda r, t: b"",
    "no-header": lambda r, t: _csv(t[1:]),
    "many-columns": lambda r, t: _csv(
        [[*row, *(f"c{i}" if j == 0 else str(i) for i in range(20000))] for j, row in enumerate(t)]
    ),
    "many-rows": lambda r, t: _csv(t[:1] + t[1:] * 3000),
    "binary": lambda r, t: r.randbytes(5000),
    "lone-cr": lambda r, t: _csv(t).replace(b"\r\n", b"\r"),
    "quoted-newline": lambda r, t: _csv(_csv_cell(r, t, "a\nb\r\nc")),
    "empty-header-name": lambda r, t: _csv([["", *t[0][1:]], *t[1:]]),
    "non-ascii-digits": lambda r, t: _csv(_csv_cell(r, t, _digits_in("10.0.22631", 0x0660))),
    "wrong-types": lambda r, t: _csv(
        _csv_cell(r, t, r.choice(["[1,2]", "{}", "null", "1e999", "-0", "nan", "true false"]))
    ),
}


def _unterminated(rng, table) -> bytes:
    data = _csv(table)
    at = data.index(b"\n") + 1 + rng.randrange(5)
    return data[:at] + b'"' + data[at:]


def family_fleet_csv(rng, n):
    for _ in range(n):
        name = rng.choice(sorted(CSV_MUTATIONS))
        data = CSV_MUTATIONS[name](rng, _csv_rows())
        yield Case("fleet-csv", name, fleet_argv(rng, "fleet.csv"), {"fleet.csv": data})


def base_assignments() -> dict:
    return load_json(EXAMPLES / "assignments.json")


ASSIGNMENT_MUTATIONS = dict(JSON_MUTATIONS)
ASSIGNMENT_MUTATIONS.update(
    {
        "unknown-policy": lambda r, d: dumps({**d, "all_devices": ["no such policy"]}),
        "huge-group": lambda r, d: dumps(
            {**d, "groups": {"G": {"members": [f"D{i}" for i in range(200000)], "policies": ["x"]}}}
        ),
        "many-groups": lambda r, d: dumps(
            {**d, "groups": {f"G{i}": {"members": ["A"], "policies": []} for i in range(30000)}}
        ),
        "control-group-name": lambda r, d: dumps(
            {
                **d,
                "groups": {r.choice(ESCAPE_PAYLOADS): {"members": [r.choice(ESCAPE_PAYLOADS)], "policies": []}},
            }
        ),
        "unknown-key": lambda r, d: dumps({**d, "extra": 1}),
    }
)


def family_assignments(rng, n):
    for _ in range(n):
        name = rng.choice(sorted(ASSIGNMENT_MUTATIONS))
        data = ASSIGNMENT_MUTATIONS[name](rng, base_assignments())
        yield Case(
            "assignments",
            name,
            fleet_argv(rng, FLEET_FILE, assignments="assignments.json"),
            {"assignments.json": data},
        )


# ---------------------------------------------------------------- rule text


def _rule(i: int, require: str, title: str = "T", extra: str = "") -> str:
    return f'rule H-{i:02d} "{title}"\n  severity error\n  require {require}\n{extra}\n'


def _ruleset(body: str, name: str = "hostile") -> bytes:
    return f'ruleset {name} "Hostile rules"\n\n{body}'.encode()


def hostile_rule_texts() -> dict[str, bytes]:
    """Rule files from the issue's list that once hung or crashed a command."""
    chained = "".join(f"define d{i} = d{i - 1} and d{i - 1}\n" for i in range(1, 31))
    nots = "".join(f"define n{i} = not n{i - 1}\n" for i in range(1, 201))
    atoms = " or ".join(f"device.tpm_version == {i}" for i in range(1000, 5000))
    return {
        "count-range": _ruleset(_rule(1, "count(device.volumes) > 1 and count(device.volumes) < 1000000000")),
        "decimal-range": _ruleset(_rule(1, "device.tpm_version > 1.0 and device.tpm_version < 100000000000000.0")),
        "chained-defines": _ruleset("define d0 = device.tpm_present == true\n" + chained + _rule(1, "d30")),
        "chained-nots": _ruleset("define n0 = device.tpm_present == true\n" + nots + _rule(1, "n200")),
        "400-digit-int": _ruleset(_rule(1, "device.tpm_version >= " + "9" * 400)),
        "4300-digit-int": _ruleset(_rule(1, "device.system_partition_mb >= " + "9" * 4400)),
        "4000-atoms": _ruleset(_rule(1, atoms)),
        "1000-rules": _ruleset("".join(_rule(i, f"device.system_partition_mb >= {i}") for i in range(1000))),
        "deep-parens": _ruleset(_rule(1, "(" * 1200 + "device.tpm_present" + ")" * 1200)),
        "deep-nots": _ruleset(_rule(1, "not " * 3000 + "device.tpm_present")),
        "deep-quantifiers": _ruleset(_rule(1, "".join(f"any x{i} in device.volumes: " for i in range(300)) + "true")),
        "long-title": _ruleset(_rule(1, "device.tpm_present", title="T" * 500000)),
        "huge-count-compare": _ruleset(_rule(1, "count(device.volumes) >= " + "9" * 400)),
        "many-or-counts": _ruleset(_rule(1, " or ".join(f"count(device.volumes) == {i}" for i in range(0, 2000, 7)))),
    }


def text_mutations(rng, text: str) -> tuple[str, bytes]:
    """One random syntactic mutation of a rule file's text."""
    lines = text.splitlines(keepends=True)
    name = rng.choice(
        [
            "truncate",
            "drop-line",
            "dup-line",
            "swap-lines",
            "insert-char",
            "big-int",
            "control",
            "unknown-fact",
            "bom",
            "nul",
            "invalid-utf8",
            "long-line",
            "deep-parens",
            "crlf",
            "tabs",
        ]
    )
    raw = text.encode()
    if name == "truncate":
        raw = raw[: rng.randrange(1, len(raw))]
    elif name == "drop-line":
        del lines[rng.randrange(len(lines))]
        raw = "".join(lines).encode()
    elif name == "dup-line":
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        raw = "".join(lines).encode()
    elif name == "swap-lines":
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        raw = "".join(lines).encode()
    elif name == "insert-char":
        at = rng.randrange(len(text))
        raw = (text[:at] + rng.choice("(){}[]\"'=<>!,.:#\\@$") + text[at:]).encode()
    elif name == "big-int":
        raw = re.sub(r"\b\d+\b", "9" * rng.choice([400, 5000]), text, count=3).encode()
    elif name == "control":
        raw = text.replace('"', '"' + rng.choice(ESCAPE_PAYLOADS), 3).encode()
    elif name == "unknown-fact":
        raw = re.sub(r"device\.[a-z_]+", "device.no_such_fact", text, count=1).encode()
    elif name == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif name == "nul":
        at = rng.randrange(len(raw))
        raw = raw[:at] + b"\x00" + raw[at:]
    elif name == "invalid-utf8":
        at = rng.randrange(len(raw))
        raw = raw[:at] + b"\xff\xfe" + raw[at:]
    elif name == "long-line":
        raw = raw + b"# " + b"x" * 2_000_000 + b"\n"
    elif name == "deep-parens":
        raw = re.sub(r"require ", "require " + "(" * 1500, text, count=1).encode()
    elif name == "crlf":
        raw = text.replace("\n", "\r\n").encode()
    elif name == "tabs":
        raw = text.replace("  ", "\t").encode()
    return name, raw


def rules_commands(rng, path: str, rule_id: str = "H-01") -> list[list[str]]:
    """Every command that reads a rule file, with ``path`` as the file."""
    return [
        ["check", "--rules", path, "--policy", POLICY_FILE, "--device", DEVICE_FILE],
        ["lint", path],
        ["compare", path, rng.choice(SMALL_RULESETS)],
        ["repair", "--rules", path, "--policy", POLICY_FILE, "--device", DEVICE_FILE],
        ["explain", "--rules", path, rule_id],
        ["rules", "--rules", path],
    ]


def _with_timeout(argv: list[str], timeout_commands: set[str]) -> list[str]:
    return argv + ["--timeout", "2"] if argv[0] in timeout_commands else argv


def family_rules_hostile(rng, n, timeout_commands=frozenset()):
    for name, data in hostile_rule_texts().items():
        for argv in rules_commands(rng, "hostile.rules"):
            yield Case(
                "rules-hostile",
                f"{name}:{argv[0]}",
                _with_timeout(argv, timeout_commands),
                {"hostile.rules": data},
            )


def family_rules_syntax(rng, n):
    for _ in range(n):
        base = rng.choice(SHIPPED)
        text = (RULESETS / f"{base}.rules").read_text(encoding="utf-8")
        name, data = text_mutations(rng, text)
        ids = re.findall(r"^rule (\S+)", text, flags=re.MULTILINE)
        argv = rng.choice(rules_commands(rng, f"{base}.rules", rng.choice(ids)))
        yield Case("rules-syntax", f"{base}:{name}:{argv[0]}", argv, {f"{base}.rules": data})


# ---------------------------------------------------------------- the later commands' inputs

BASE_CONFIG = """rulesets = ["silent_enablement", "key_rotation"]
fail-on = "warning"
format = "text"

[lint]
disable = ["L101"]

[fmt]
line-length = 100
"""

BASE_RUN = [
    {
        "row": 1,
        "device": "device 'CONTOSO-LT-0001'",
        "summary": {"pass": 1, "fail": 1, "unknown": 1, "not_applicable": 0},
        "results": [
            {"rule": "SE-01", "status": "pass"},
            {"rule": "KR-01", "status": "fail", "reasons": ["OS version is 10.0.17134.0 (1803)"]},
            {"rule": "KR-02", "status": "unknown", "reasons": ["Join type is not known"]},
        ],
    },
    {
        "row": 2,
        "device": "device 'CONTOSO-LT-0002'",
        "summary": {"pass": 3, "fail": 0, "unknown": 0, "not_applicable": 0},
        "results": [
            {"rule": "SE-01", "status": "pass"},
            {"rule": "KR-01", "status": "pass"},
            {"rule": "KR-02", "status": "pass"},
        ],
    },
]


def _toml_string(rng, text: str, payload: str) -> str:
    """``text`` with the contents of one of its basic strings replaced by ``payload`` (a TOML
    basic string's contents, escapes allowed), or a key added when it has none."""
    found = list(re.finditer(r'"((?:[^"\\\n]|\\.)*)"', text))
    if not found:
        return text + f'\nplanted = "{payload}"\n'
    match = rng.choice(found)
    return text[: match.start(1)] + payload + text[match.end(1) :]


def _toml_table_line(rng, text: str, line: str) -> str:
    """``line`` added after a random table header (or at the top)."""
    headers = [m.end() for m in re.finditer(r"^\[[^\n]*\]\n", text, flags=re.MULTILINE)]
    at = rng.choice(headers) if headers else 0
    return text[:at] + line + "\n" + text[at:]


def _toml_escaped(payload: str) -> str:
    """``payload`` as a TOML basic string's contents: control characters written as escapes."""
    return "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in payload)


# Every TOML mutation: name -> function(rng, text) -> bytes.
TOML_MUTATIONS = {
    "truncated": lambda r, t: t.encode()[: r.randrange(1, max(2, len(t.encode())))],
    "byte-flips": lambda r, t: _flip(r, t.encode()),
    "invalid-utf8": lambda r, t: _insert(r, t.encode(), b"\xff\xfe"),
    "nul": lambda r, t: _insert(r, t.encode(), b"\x00"),
    "deep-array": lambda r, t: _toml_table_line(r, t, "deep = " + "[" * (n := r.randint(100, 5000)) + "]" * n).encode(),
    "deep-inline-table": lambda r, t: _toml_table_line(
        r, t, "deep = " + "{ a = " * (n := r.randint(100, 3000)) + "1" + " }" * n
    ).encode(),
    "dotted-key": lambda r, t: _toml_table_line(r, t, ".".join(["k"] * r.randint(70, 3000)) + " = 1").encode(),
    "huge-int": lambda r, t: _toml_table_line(r, t, "huge = " + "9" * r.randint(4301, 40000)).encode(),
    "long-string": lambda r, t: _toml_string(r, t, "A" * r.choice([70000, 3000000])).encode(),
    "many-keys": lambda r, t: _toml_table_line(r, t, "\n".join(f"k{i} = {i}" for i in range(50000))).encode(),
    "control-string": lambda r, t: _toml_string(r, t, _toml_escaped(r.choice(ESCAPE_PAYLOADS))).encode(),
    "control-key": lambda r, t: _toml_table_line(r, t, f'"{_toml_escaped(r.choice(ESCAPE_PAYLOADS))}" = 1').encode(),
    "duplicate-key": lambda r, t: _toml_table_line(r, t, "same = 1\nsame = 2").encode(),
    "wrong-type": lambda r, t: re.sub(r'= "[^"\n]*"', "= 1", t, count=1).encode(),
    "empty": lambda r, t: b"",
    "utf16": lambda r, t: t.encode("utf-16"),
    "crlf": lambda r, t: t.replace("\n", "\r\n").encode(),
}


def _fmt_case(rng) -> Case:
    base = rng.choice(SHIPPED)
    name, data = text_mutations(rng, (RULESETS / f"{base}.rules").read_text(encoding="utf-8"))
    form = rng.choice(["--check", "--diff", "-"])
    argv = ["fmt", "-"] if form == "-" else ["fmt", form, "r.rules"]
    return Case("commands", f"fmt{form}:{name}", argv, {"r.rules": data}, stdin=data if form == "-" else None)


def _rule_files(base: str, tests: bytes) -> dict[str, bytes]:
    """A shipped rule file and a case file beside it."""
    return {f"{base}.rules": (RULESETS / f"{base}.rules").read_bytes(), f"{base}.tests.toml": tests}


def _rule_tests_case(rng) -> Case:
    base = rng.choice(SHIPPED)
    name = rng.choice(sorted(TOML_MUTATIONS))
    text = (RULESETS / f"{base}.tests.toml").read_text(encoding="utf-8")
    argv = ["test", f"{base}.rules", *pick_format(rng, ["text", "json", "junit"])]
    if rng.random() < 0.3:
        argv.append("--coverage")
    return Case("commands", f"test:{base}:{name}", argv, _rule_files(base, TOML_MUTATIONS[name](rng, text)))


def _toml_input_case(rng, kind: str) -> Case:
    """A mutated ``--waivers`` or ``--config`` file (``kind``) given to a check or a lint."""
    name = rng.choice(sorted(TOML_MUTATIONS))
    text = (EXAMPLES / "waivers.toml").read_text(encoding="utf-8") if kind == "waivers" else BASE_CONFIG
    argv = rng.choice([check_one(rng, policy=POLICY_FILE, device=DEVICE_FILE), fleet_argv(rng, FLEET_FILE)])
    if argv[0] != "check" or (kind == "config" and rng.random() < 0.3):
        argv = (
            ["lint", "permissions"] if kind == "config" else ["check", "--policy", POLICY_FILE, "--fleet", FLEET_FILE]
        )
    at = 1 if argv[0] != "--debug" else 2
    argv[at:at] = [f"--{kind}", f"{kind}.toml"]
    return Case("commands", f"{kind}:{name}:{argv[0]}", argv, {f"{kind}.toml": TOML_MUTATIONS[name](rng, text)})


def _diff_case(rng) -> Case:
    name = rng.choice(sorted(JSON_MUTATIONS))
    rows = copy.deepcopy(BASE_RUN)
    lines = [dumps(row) for row in rows]
    whole = rng.random() < 0.2
    if whole:
        data = JSON_MUTATIONS[name](rng, rows)
    else:
        i = rng.randrange(len(lines))
        lines[i] = JSON_MUTATIONS[name](rng, rows[i]).replace(b"\n", b" ")
        data = b"\n".join(lines) + b"\n"
    argv = ["diff", "old.jsonl", "new.jsonl", *pick_format(rng, ["text", "json", "markdown", "html"])]
    good = b"\n".join(dumps(row) for row in BASE_RUN) + b"\n"
    files = {"old.jsonl": good, "new.jsonl": data} if rng.random() < 0.5 else {"old.jsonl": data, "new.jsonl": good}
    return Case("commands", f"diff:{'whole' if whole else 'line'}:{name}", argv, files)


def _history_case(rng) -> Case:
    name = rng.choice(["empty", "random", "text", "json", "duckdb-head"])
    data = {
        "empty": b"",
        "random": bytes(rng.randrange(256) for _ in range(rng.randint(1, 20000))),
        "text": b"not a store\n" * 100,
        "json": dumps(BASE_RUN),
        "duckdb-head": b"\x00" * 8 + b"DUCK" + bytes(rng.randrange(256) for _ in range(4096)),
    }[name]
    argv = ["history", "store.duckdb"] + (
        ["--rule", rng.choice(["KR-01", "\u001b]0;x\u0007"])] if rng.random() < 0.4 else []
    )
    return Case("commands", f"history:{name}", argv, {"store.duckdb": data})


def _plan_case(rng) -> Case:
    name = rng.choice(sorted(JSON_MUTATIONS))
    argv = ["plan", "--policy", POLICY_FILE, "--fleet", FLEET_FILE, "--proposal-policy", "proposal.json"]
    argv += ["--timeout", "5", *pick_format(rng, ["text", "json", "markdown", "html"])]
    return Case("commands", f"plan:{name}", argv, {"proposal.json": JSON_MUTATIONS[name](rng, base_policy())})


def _planted_toml_case(rng) -> Case:
    """A recovery password planted in a TOML input's string, in a spelling TOML keeps."""
    groups = new_password(rng)
    target = rng.choice(["waivers", "rule-tests", "config"])
    spelling = rng.choice(["dashes", "none", "spaces", "dots", "arabic-indic", "fullwidth", "adjacent-digits"])
    planted = spell(groups, spelling)
    if target == "waivers":
        text = _toml_string(rng, (EXAMPLES / "waivers.toml").read_text(encoding="utf-8"), planted)
        argv = ["check", "--policy", POLICY_FILE, "--fleet", FLEET_FILE, "--waivers", "w.toml", *pick_format(rng)]
        files = {"w.toml": text.encode()}
    elif target == "rule-tests":
        base = rng.choice(SHIPPED)
        text = _toml_string(rng, (RULESETS / f"{base}.tests.toml").read_text(encoding="utf-8"), planted)
        argv = ["test", f"{base}.rules", *pick_format(rng, ["text", "json", "junit"])]
        files = _rule_files(base, text.encode())
    else:
        text = _toml_string(rng, BASE_CONFIG, planted)
        argv = ["check", "--config", "c.toml", "--policy", POLICY_FILE, "--device", DEVICE_FILE]
        files = {"c.toml": text.encode()}
    return Case("commands", f"plant:{target}:{spelling}", argv, files, secrets=[groups])


COMMAND_CASES = {
    "fmt": _fmt_case,
    "rule-tests": _rule_tests_case,
    "waivers": functools.partial(_toml_input_case, kind="waivers"),
    "config": functools.partial(_toml_input_case, kind="config"),
    "diff": _diff_case,
    "history": _history_case,
    "plan": _plan_case,
    "plant": _planted_toml_case,
}


def family_commands(rng, n):
    """The commands the other families do not reach (``fmt``, ``test``, ``diff``, ``history``,
    ``plan``) and the TOML inputs of every command (waivers, configuration), each input mutated."""
    kinds = list(COMMAND_CASES)
    for _ in range(n):
        yield COMMAND_CASES[rng.choice(kinds)](rng)


# ---------------------------------------------------------------- a pulled snapshot


@functools.cache
def base_snapshot() -> tuple[tuple[str, bytes], ...]:
    """A small tenant pulled from the tenant tests' local Graph (once a process), as its files;
    the Graph's address and the pull's times made fixed, so that a seed gives the same cases."""
    from graph_fake import LocalGraph, Tenant
    from test_tenant_pull import TOKENS, quick

    from bitlocker_rules.tenant import PullOptions, pull

    local = LocalGraph(Tenant(seed=3, policies=4, groups=6, devices=20), page_size=10)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "snapshot"
            pull(PullOptions(folder, local.url, concurrency=1), TOKENS, pacing=quick())
            address = local.url.encode()
            files = {p.name: p.read_bytes().replace(address, b"http://127.0.0.1:1") for p in sorted(folder.iterdir())}
    finally:
        local.stop()
    times = rb'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"'
    files["manifest.json"] = re.sub(times, b'"2026-01-01T00:00:00Z"', files["manifest.json"])
    return tuple(files.items())


def _snapshot_line(rng, files: dict[str, bytes]) -> tuple[str, list[bytes], int]:
    """A JSON Lines file of the snapshot that has records, its lines, and one of them."""
    name = rng.choice(sorted(n for n, data in files.items() if n.endswith(".jsonl") and data.strip()))
    lines = files[name].splitlines()
    return name, lines, rng.randrange(len(lines))


def _snapshot_record_mutated(rng, files):
    name, lines, at = _snapshot_line(rng, files)
    mutation = rng.choice(sorted(JSON_MUTATIONS))
    lines[at] = JSON_MUTATIONS[mutation](rng, json.loads(lines[at]))
    files[name] = b"\n".join(lines) + b"\n"
    return f"{name}:{mutation}"


def _snapshot_manifest_mutated(rng, files):
    mutation = rng.choice(sorted(JSON_MUTATIONS))
    files["manifest.json"] = JSON_MUTATIONS[mutation](rng, json.loads(files["manifest.json"]))
    return f"manifest.json:{mutation}"


_LINE_EDITS = {
    "deleted": lambda lines, at: lines[:at] + lines[at + 1 :],
    "doubled": lambda lines, at: lines[: at + 1] + lines[at:],
    "blank": lambda lines, at: lines[:at] + [b""] + lines[at:],
    "cut": lambda lines, at: lines[:at] + [lines[at][: len(lines[at]) // 2]] + lines[at + 1 :],
    "crlf": lambda lines, at: [line + b"\r" for line in lines],
    "emptied": lambda lines, at: [],
}


def _snapshot_line_edited(rng, files):
    name, lines, at = _snapshot_line(rng, files)
    edit = rng.choice([*sorted(_LINE_EDITS), "removed"])
    if edit == "removed":
        del files[name]
    else:
        edited = _LINE_EDITS[edit](lines, at)
        files[name] = b"\n".join(edited) + b"\n" if edited else b""
    return f"{name}:{edit}"


def _snapshot_text_planted(rng, files, text: str) -> str:
    """``text`` as one string value of a record (a name, an id, a filter's rule, a key)."""
    name, lines, at = _snapshot_line(rng, files)
    record = json.loads(lines[at])
    strings = [(c, k) for c, k in _containers(record) if isinstance(c[k], str)]
    container, key = rng.choice(strings) if strings else (record, "displayName")
    container[key] = text
    lines[at] = dumps(record)
    files[name] = b"\n".join(lines) + b"\n"
    return f"{name}:{key}"


def _snapshot_argv(rng) -> list[str]:
    """A command that reads the snapshot ``snap`` (``diff`` compares it with the unchanged ``base``)."""
    kind = rng.choice(["check", "check", "check", "repair", "plan", "diff", "store"])
    if kind == "check":
        argv = ["check", "--snapshot", "snap", *pick_format(rng)]
        if rng.random() < 0.3:
            argv += ["--output", "snap.out"]
        if rng.random() < 0.3:
            argv += ["--jobs", "2"]
        if rng.random() < 0.2:
            argv += ["--jsonl", "lines.jsonl"]
        return argv
    if kind == "repair":
        return ["repair", "--snapshot", "snap", "--rules", rng.choice([*SMALL_RULESETS, "silent_enablement"])]
    if kind == "plan":
        return ["plan", "--snapshot", "snap", "--rules", "silent_enablement", "--proposal-policy", POLICY_FILE]
    if kind == "diff":
        return ["diff", "--rules", rng.choice([*SMALL_RULESETS, "silent_enablement"]), "base", "snap"]
    return ["check", "--snapshot", "snap", "--store", "runs.duckdb", "--quiet"]


def family_snapshot(rng, n):
    """A pulled snapshot with one file damaged (a record, a line, the manifest) or a planted
    password or control text, read by every command that takes a snapshot."""
    base = dict(base_snapshot())
    for _ in range(n):
        files, secrets = dict(base), []
        kind = rng.choice(["record", "record", "line", "manifest", "secret", "escape"])
        if kind == "record":
            what = _snapshot_record_mutated(rng, files)
        elif kind == "line":
            what = _snapshot_line_edited(rng, files)
        elif kind == "manifest":
            what = _snapshot_manifest_mutated(rng, files)
        elif kind == "secret":
            groups = new_password(rng)
            spelling = rng.choice(sorted(SPELLINGS))
            what = f"{_snapshot_text_planted(rng, files, spell(groups, spelling))}:{spelling}"
            secrets = [groups]
        else:
            what = _snapshot_text_planted(rng, files, rng.choice(ESCAPE_PAYLOADS))
        argv = _snapshot_argv(rng)
        inputs = {f"snap/{name}": data for name, data in files.items()}
        if argv[0] == "diff":
            inputs.update({f"base/{name}": data for name, data in base.items()})
        yield Case("snapshot", f"{kind}:{what}:{argv[0]}", argv, inputs, secrets=secrets)


# ---------------------------------------------------------------- a hostile live Graph

GRAPH_URL = "@@GRAPH@@"  # in a case's command line: the address of the local Graph started for it
GRAPH_TOKEN_VARIABLE = "ADVERSARIAL_GRAPH_TOKEN"
# What the pull and apply ask Graph for, by a piece of the request's path (matched case-blind).
GRAPH_ASKED = (
    "deviceConfigurations",
    "configurationPolicies",
    "intents",
    "assignmentFilters",
    "/groups",
    "transitiveMembers",
    "managedDevices",
    "EncryptionStates",
    "recoveryKeys",
    "assignments",
    "settings",
    "$batch",
)
# What apply asks for: each policy it changes (read, then written), an intent's updateSettings.
APPLY_ASKED = ("deviceConfigurations", "configurationPolicies", "intents", "updateSettings")
GRAPH_STATUSES = (
    (500, None),
    (502, None),
    (503, "1"),
    (429, "0"),
    (429, "soon"),
    (429, "Wed, 21 Oct 2015 07:28:00 GMT"),
    (400, None),
    (401, None),
    (403, None),
    (404, None),
    (409, None),
)
GRAPH_BODIES = {
    "html": (b"<html><body>502 Bad Gateway</body></html>", "text/html"),
    "empty": (b"", "application/json"),
    "array": (b"[]", "application/json"),
    "no-value": (b'{"@odata.context": "x"}', "application/json"),
    "value-not-list": (b'{"value": {"id": "x"}}', "application/json"),
    "items-not-objects": (b'{"value": [1, "x", null, []]}', "application/json"),
    "text-plain-json": (b'{"value": []}', "text/plain"),
}
GRAPH_LINKS = {
    "itself": lambda url: url,
    "other-host": lambda url: "http://attacker.example/beta/deviceManagement/managedDevices",
    "other-scheme": lambda url: "file:///etc/passwd",
    "not-a-string": lambda url: 42,
    "relative": lambda url: "/beta/deviceManagement/managedDevices?$skiptoken=1",
    "control": lambda url: url + "\u001b]0;PWNED\u0007",
    "long": lambda url: url + "&x=" + "a" * 200_000,
}


@dataclass(frozen=True)
class GraphFault:
    """How the local Graph started for a case answers the requests whose path holds ``asked``
    (the first ``times`` of them): ``kind`` is ``answer`` or ``item`` (a JSON mutation of the
    whole answer or of one of its records), ``status``, ``body``, ``link`` (its
    ``@odata.nextLink``), ``secret`` or ``escape`` (text planted in a string of a record),
    ``dropped`` (the connection closes mid-answer); ``detail`` names which."""

    kind: str
    asked: str
    detail: str
    times: int
    seed: int

    def answer(self, fake, request):
        """The faulty answer to ``request`` (a werkzeug Response), or None to answer it as Graph."""
        import graph_fake
        from werkzeug import Response

        if self.kind == "status":  # Graph's error message, which the command may quote, is hostile too
            status, retry_after, groups = json.loads(self.detail)
            message = f"{ESCAPE_PAYLOADS[0]} refused {spell(groups, 'spaces')}"
            body = json.dumps({"error": {"code": "Hostile", "message": message}})
            headers = {"Retry-After": retry_after} if retry_after else None
            return Response(body, status=status, content_type="application/json", headers=headers)
        if self.kind == "body":
            body, content_type = GRAPH_BODIES[self.detail]
            return Response(body, status=200, content_type=content_type)
        if self.kind == "dropped":
            return graph_fake.dropped(request)
        found = _graph_answer(fake, request)
        if not isinstance(found, dict):
            return None
        rng = random.Random(f"{self.seed}:{request.full_path}")
        listed = "responses" if "responses" in found else "value"  # a batch's answers, or a page's records
        items = found.get(listed)
        if self.kind == "answer":
            return _json_answer(JSON_MUTATIONS[self.detail](rng, found), request)
        if self.kind == "link":
            return _json_answer(dumps({**found, "@odata.nextLink": GRAPH_LINKS[self.detail](request.url)}), request)
        if not isinstance(items, list) or not items:
            return None
        found = copy.deepcopy(found)
        at = rng.randrange(len(items))
        if self.kind == "item":
            text = dumps({**found, listed: [PLACEHOLDER]}).replace(
                dumps(PLACEHOLDER), JSON_MUTATIONS[self.detail](rng, items[at]), 1
            )
            return _json_answer(text, request)
        strings = [(c, k) for c, k in _containers(found[listed][at]) if isinstance(c[k], str)]
        if not strings:
            return None
        container, key = rng.choice(strings)
        container[key] = spell(*json.loads(self.detail)) if self.kind == "secret" else self.detail
        return _json_answer(dumps(found), request)


def _graph_answer(fake, request) -> dict | None:
    """What the local Graph would answer ``request`` with, as JSON (None where it has no page)."""
    if request.method == "POST" and request.path.endswith("/$batch"):
        return json.loads(fake.batch(request).get_data())
    return fake.route(request)


def _json_answer(body: bytes, request):
    """``body`` as Graph's answer. A request of a batch gets it only where a batch can carry it
    (JSON that Python reads back); else the request is answered as Graph would."""
    from graph_fake import BATCHED
    from werkzeug import Response

    if request.environ.get(BATCHED):
        try:
            json.loads(body)
        except ValueError:
            return None
    return Response(body, status=200, content_type="application/json")


class LiveGraph:
    """A local Graph (the tenant tests' ``LocalGraph``, a small tenant) answering as ``fault`` says."""

    def __init__(self, fault: GraphFault) -> None:
        from graph_fake import LocalGraph, Tenant

        self.local = LocalGraph(Tenant(seed=3, policies=4, groups=6, devices=20), page_size=10)
        self.url = self.local.url
        left, lock, fake = [fault.times], threading.Lock(), self.local.fake

        def answer(request):
            if fault.asked.lower() not in request.path.lower():
                return None
            with lock:
                if left[0] <= 0:
                    return None
                left[0] -= 1
            return fault.answer(fake, request)

        fake.faults.append(answer)

    def stop(self) -> None:
        self.local.stop()


def _graph_fault(rng, seed: int, asked_from: tuple[str, ...] = GRAPH_ASKED) -> tuple[GraphFault, list[list[str]]]:
    """A fault on one of the requests ``asked_from`` names, and the passwords it plants."""
    kind = rng.choice(["answer", "item", "item", "status", "body", "link", "secret", "escape", "dropped"])
    asked = rng.choice(asked_from)
    secrets: list[list[str]] = []
    times = rng.choice([1, 1, 2, 3, 1000])
    if kind in ("answer", "item"):
        detail = rng.choice(sorted(JSON_MUTATIONS))
    elif kind == "status":
        status, retry_after = rng.choice(GRAPH_STATUSES)
        secrets = [new_password(rng)]
        detail = json.dumps([status, retry_after, secrets[0]])
        if status >= 500 or status == 429:
            times = rng.choice([1, 2])  # every answer failing waits out the backoff of every retry
    elif kind == "body":
        detail = rng.choice(sorted(GRAPH_BODIES))
    elif kind == "link":
        detail = rng.choice(sorted(GRAPH_LINKS))
    elif kind == "secret":
        secrets = [new_password(rng)]
        detail = json.dumps([secrets[0], rng.choice(sorted(SPELLINGS))])
    elif kind == "escape":
        detail = rng.choice(ESCAPE_PAYLOADS)
    else:
        detail, times = "", rng.choice([1, 2])
    return GraphFault(kind, asked, detail, times, seed), secrets


@functools.cache
def base_emitted() -> tuple[tuple[str, bytes], ...]:
    """A repair of one policy of each kind the base snapshot holds, as ``repair --emit`` writes
    it (``emitted/<file>``): what ``apply`` sends to the local Graph of a case, whose tenant is
    the snapshot's, so each request names a policy it holds."""
    from test_apply import other

    from bitlocker_rules import shipped_vocabulary
    from bitlocker_rules.emit import emit_repair, write_emitted
    from bitlocker_rules.importers import import_policy

    vocabulary, files = shipped_vocabulary(), dict(base_snapshot())
    kinds = ("device_configurations", "configuration_policies", "intents")
    emitted, seen = [], set()
    for record in (json.loads(line) for kind in kinds for line in files[f"{kind}.jsonl"].splitlines()):
        policy = import_policy(record, vocabulary, origin="snapshot")
        facts = [f for f in ("policy.require_device_encryption", "policy.tpm_startup_pin") if f in policy.facts.values]
        if policy.kind in seen or not facts:
            continue
        seen.add(policy.kind)
        change = {facts[0]: other(facts[0], policy.facts.values[facts[0]])}
        emitted += emit_repair([(record, policy)], change, vocabulary)
    with tempfile.TemporaryDirectory() as tmp:
        return tuple((f"emitted/{p.name}", p.read_bytes()) for p in write_emitted(tmp, emitted))


def family_tenant(rng, n):
    """``pull`` from a local Graph that answers one kind of request its own hostile way (a
    mutated answer or record, an error status, a body that is no page, a bad next link, a
    password or control text in a record, a dropped connection), then commands on the
    snapshot it wrote, whatever the pull's exit; or ``apply`` of an emitted repair to it."""
    from graph_fake import PLANTED_IN_TEXT, PLANTED_KEY

    signing = ["--auth", "token-env", GRAPH_TOKEN_VARIABLE, "--graph-url", GRAPH_URL]
    for _ in range(n):
        applying = rng.random() < 0.25  # apply: the one command that writes to the tenant
        fault, secrets = _graph_fault(rng, rng.randrange(2**32), APPLY_ASKED if applying else GRAPH_ASKED)
        # The fake tenant's own planted passwords (a recovery key, a password in a text) count too.
        known = [PLANTED_KEY.split("-"), PLANTED_IN_TEXT.split("-")]
        what = f"{fault.kind}:{fault.asked}:{ascii(fault.detail)[:40]}:x{fault.times}"
        if applying:
            argv = ["apply", "emitted", *signing, *(["--yes"] if rng.random() < 0.7 else [])]
            files = dict(base_emitted())
            yield Case("tenant", f"apply:{what}", argv, files, secrets=[*secrets, *known], graph=fault, timeout=90.0)
            continue
        pull = ["pull", "--out", "snap", *signing, "--concurrency", rng.choice(["1", "4"])]
        pull += ["--quiet"] if rng.random() < 0.3 else []
        then = [["check", "--snapshot", "snap", *pick_format(rng)]]
        if rng.random() < 0.3:
            then.append(["pull", "--out", "snap", "--resume", *signing])
        yield Case("tenant", what, pull, secrets=[*secrets, *known], graph=fault, then=then, timeout=90.0)


# ---------------------------------------------------------------- secrets and escapes


def _plant_kinds():
    """Where a planted text goes: name -> function(rng, raw JSON text, plain text) -> (argv, files)."""

    def planted(rng, raw, doc, name_key, section, new_value):
        """``doc`` with ``raw`` as its name, its id, one value of ``section`` or a new key there."""
        where = rng.choice([name_key, "id", "value", "key"])
        if where in (name_key, "id"):
            doc[where] = PLACEHOLDER
        elif where == "value":
            doc[section][rng.choice(sorted(doc[section]))] = PLACEHOLDER
        else:
            doc[section]["@@KEY@@"] = new_value
        text = dumps(doc).decode().replace(json.dumps(PLACEHOLDER), raw)
        return text.replace('"@@KEY@@"', raw).encode("utf-8", "surrogatepass")

    def policy_doc(rng, raw):
        return planted(rng, raw, base_policy(), "displayName", "settings", "Enabled")

    def device_doc(rng, raw):
        return planted(rng, raw, base_device(), "deviceName", "facts", 1)

    def malformed(rng, raw):
        return ('{"id": ' + raw + ', "settings": {' + rng.choice(["", "}", "1", '"a" 2'])).encode(
            "utf-8", "surrogatepass"
        )

    def fleet_row(rng, raw):
        rows = [json.dumps(r) for r in base_rows()]
        row = json.loads(rows[1])
        row[rng.choice(["deviceName", "id"])] = PLACEHOLDER
        rows[1] = json.dumps(row).replace(json.dumps(PLACEHOLDER), raw)
        if rng.random() < 0.3:
            rows[2] = '{"deviceName": ' + raw + ', "facts": {'  # a bad row
        return ("\n".join(rows) + "\n").encode("utf-8", "surrogatepass")

    def recovery_keys(rng, raw):
        doc = load_json(EXAMPLES / "graph" / "recovery-keys.json")
        doc["value"][0]["key"] = PLACEHOLDER
        return dumps(doc).decode().replace(json.dumps(PLACEHOLDER), raw).encode("utf-8", "surrogatepass")

    def assignments(rng, raw):
        doc = base_assignments()
        text = dumps(doc).decode()
        target = rng.choice(['"Kiosks"', '"contoso-lt-6920"', '"CONTOSO-SF-6116"'])
        return text.replace(target, raw, 1).encode("utf-8", "surrogatepass")

    def one(files_name, make, argv_of):
        return lambda rng, raw, plain: (argv_of(rng), {files_name: make(rng, raw)})

    def csv_fleet(rng, raw, plain):
        table = _csv_rows()
        if rng.random() < 0.2:
            table[0].append(plain)
            for row in table[1:]:
                row.append("1")
        else:
            table = _csv_cell(rng, table, plain)
        return fleet_argv(rng, "fleet.csv"), {"fleet.csv": _csv(table)}

    def rule_file(rng, raw, plain):
        where = rng.choice(["title", "rationale", "source", "literal", "malformed"])
        quoted = plain.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
        if where == "title":
            text = _rule(1, "device.tpm_present", title=quoted)
        elif where == "rationale":
            text = _rule(1, "device.tpm_present", extra=f'  rationale "{quoted}"')
        elif where == "source":
            text = _rule(1, "device.tpm_present", extra=f'  sources "{quoted}"')
        elif where == "literal":
            text = _rule(1, "device.system_partition_mb >= " + re.sub(r"\D", "", plain))
        else:
            text = _rule(1, "device.tpm_version >= " + plain)
        argv = rng.choice(rules_commands(rng, "secret.rules"))
        return argv, {"secret.rules": _ruleset(text).replace(b"\r", b"")}

    def argv_text(rng, raw, plain):
        return rng.choice(
            [
                ["explain", plain],
                ["explain", "--rules", plain, "SE-01"],
                ["check", "--rules", plain, "--policy", POLICY_FILE, "--device", DEVICE_FILE],
                ["check", "--format", plain],
                ["lint", "--scenario", plain],
                ["check", "--policy", plain + ".json", "--device", DEVICE_FILE],
                ["compare", plain, "tenant_attach"],
                ["completion", plain],
                [plain],
                ["check", "--" + plain],
                ["check", "--fleet", FLEET_FILE, "--jobs", plain, "--policy", POLICY_FILE],
                ["lint", "--fail-on", plain],
                ["repair", "--device", plain],
            ]
        ), {}

    return {
        "policy": one("policy.json", policy_doc, lambda r: check_one(r, device=DEVICE_FILE)),
        "device": one("device.json", device_doc, lambda r: check_one(r, policy=POLICY_FILE)),
        "malformed-policy": one("policy.json", malformed, lambda r: check_one(r, device=DEVICE_FILE)),
        "malformed-device": one("device.json", malformed, lambda r: check_one(r, policy=POLICY_FILE)),
        "fleet-row": one("fleet.jsonl", fleet_row, lambda r: fleet_argv(r, "fleet.jsonl")),
        "graph-recovery-key": one(
            "recovery-keys.json",
            recovery_keys,
            lambda r: check_one(r, policy=POLICY_FILE, device="recovery-keys.json"),
        ),
        "assignments": one(
            "assignments.json",
            assignments,
            lambda r: fleet_argv(r, FLEET_FILE, assignments="assignments.json"),
        ),
        "csv-cell": csv_fleet,
        "rule-text": rule_file,
        "argv": argv_text,
    }


PLANT_KINDS = _plant_kinds()


def family_secrets(rng, n):
    spellings = sorted(SPELLINGS) + sorted(JSON_SPELLINGS)
    for _ in range(n):
        groups = new_password(rng)
        kind = rng.choice(sorted(PLANT_KINDS) + ["split-fields"])
        spelling = rng.choice(spellings)
        if spelling in JSON_SPELLINGS and kind in ("csv-cell", "rule-text", "argv"):
            spelling = "dashes"
        raw_text = spell(groups, spelling)
        plain = spell(groups, spelling if spelling not in JSON_SPELLINGS else "dashes")
        raw = '"' + raw_text + '"' if spelling in JSON_SPELLINGS else json.dumps(plain, ensure_ascii=False)
        if kind == "split-fields":
            doc = base_device()
            doc["id"] = "-".join(groups[:4])
            doc["deviceName"] = "-".join(groups[4:])
            argv, files = (check_one(rng, policy=POLICY_FILE), {"device.json": dumps(doc)})
        else:
            argv, files = PLANT_KINDS[kind](rng, raw, plain)
        yield Case("secrets", f"{kind}:{spelling}:{argv[0] if argv else ''}", argv, files, secrets=[groups])


def family_escapes(rng, n):
    for _ in range(n):
        payload = rng.choice(ESCAPE_PAYLOADS)
        kind = rng.choice(sorted(PLANT_KINDS))
        argv, files = PLANT_KINDS[kind](rng, json.dumps(payload), payload)
        if rng.random() < 0.3 and argv and argv[0] == "check" and "--verbose" not in argv:
            argv = argv + ["--verbose"]
        yield Case(
            "escapes",
            f"{kind}:{payload.encode('unicode_escape').decode()[:12]}:{argv[0] if argv else ''}",
            argv,
            files,
        )


# ---------------------------------------------------------------- command lines and I/O


def argv_cases(rng) -> list[tuple[str, list[str], set[int] | None]]:
    one = ["--policy", POLICY_FILE, "--device", DEVICE_FILE]
    fleet = ["--policy", POLICY_FILE, "--fleet", FLEET_FILE]
    cases = [
        ("no-arguments", [], None),
        ("help", ["--help"], {0}),
        ("version", ["--version"], {0}),
        ("misspelled-command", ["chek"], {2}),
        ("misspelled-command", ["lnt"], {2}),
        ("unknown-option", ["check", "--frobnicate"], {2}),
        ("unknown-option", ["lint", "--jobs", "2"], {2}),
        ("misspelled-format", ["check", *one, "--format", "jsn"], {2}),
        ("old-format-name", ["check", *one, "--format", "table"], None),
        ("misspelled-ruleset", ["check", "--rules", "silent_enablment", *one], {2}),
        ("misspelled-ruleset", ["lint", "silent_enablment"], {2}),
        ("misspelled-ruleset", ["compare", "silent_enablment", "key_rotation"], {2}),
        ("misspelled-scenario", ["check", "--scenario", "silent", *one], {2}),
        ("fail-on", ["check", *one, "--fail-on", "critical"], {2}),
        ("color", ["check", *one, "--color", "sometimes"], {2}),
        ("jobs-without-fleet", ["check", *one, "--jobs", "2"], {2}),
        ("assignments-without-fleet", ["check", *one, "--assignments", "x.json"], {2}),
        ("device-and-fleet", ["check", *one, "--fleet", FLEET_FILE], {2}),
        ("quiet-and-verbose", ["check", *one, "--quiet", "--verbose"], None),
        ("missing-value", ["check", "--policy"], {2}),
        ("missing-value", ["explain"], {2}),
        ("explain-unknown", ["explain", "XX-99"], {2}),
        ("explain-empty", ["explain", ""], {2}),
        ("explain-long", ["explain", "SE-" + "0" * 100000], {2}),  # below the kernel's 128 KiB
        ("explain-newline", ["explain", "SE-01\n"], None),
        ("explain-lowercase", ["explain", "se-01"], {0}),
        ("completion-unknown", ["completion", "powershell"], {2}),
        ("completion-empty", ["completion", ""], {2}),
        ("many-arguments", ["lint", *(["tenant_attach"] * 3000)], None),
        ("many-options", ["check", *one, *(["--verbose"] * 5000)], None),
        ("double-dash", ["check", "--", "--policy"], {2}),
        ("rules-dir-as-file", ["check", "--rules", str(RULESETS), *one], {2}),
        ("compare-same", ["compare", "tenant_attach", "tenant_attach"], {0}),
        ("compare-union", ["compare", "tenant_attach,permissions", "permissions"], None),
        ("compare-empty-side", ["compare", ",", "permissions"], {2}),
        ("lint-nothing", ["lint", "/nonexistent.rules"], {2}),
        ("rules-coverage", ["rules", "--coverage"], {0}),
        ("debug-position", ["check", "--debug", *one], None),
        ("color-always", ["check", *one, "--color", "always"], None),
    ]
    for shell in ("bash", "zsh", "fish"):
        cases.append((f"completion-{shell}", ["completion", shell], {0}))
    for jobs in ("0", "-1", "100000", str(2**64), "abc", "1e3", "1.5", "", " 2"):
        cases.append((f"jobs={jobs!r}", ["check", *fleet, "--jobs", jobs], None))
    for fmt in FORMATS + ["table", "TEXT", "Json", ""]:
        cases.append((f"format={fmt!r}", ["check", *fleet, "--format", fmt], None))
        cases.append((f"lint-format={fmt!r}", ["lint", "tenant_attach", "--format", fmt], None))
    for cmd in ("check", "rules", "explain", "lint", "compare", "repair", "completion"):
        cases.append((f"{cmd}-help", [cmd, "--help"], {0}))
        cases.append((f"{cmd}-bad-option", [cmd, "--nope"], {2}))
        cases.append((f"{cmd}-prefix-option", [cmd, "--d"], None))
    return cases


def family_argv(rng, n):
    for what, argv, expect in argv_cases(rng):
        yield Case("argv", what, argv, {}, expect=expect, allow_color="always" in argv)


def io_cases(rng) -> list[Case]:
    # The shipped fleet keeps one row that cannot be read ("Windows 95", which makes a run exit
    # 2 as documented); piped fleets here are its readable rows, so 0 or 1 is the right answer.
    rows = b"".join(r for r in Path(FLEET_FILE).read_bytes().splitlines(keepends=True) if b"Windows 95" not in r)
    policy, device = Path(POLICY_FILE).read_bytes(), Path(DEVICE_FILE).read_bytes()
    rules = (RULESETS / "tenant_attach.rules").read_bytes()
    one = ["--policy", POLICY_FILE, "--device", DEVICE_FILE]
    c = []

    def add(what, argv, files=None, stdin=None, expect=None):
        c.append(Case("io", what, argv, files or {}, stdin=stdin, expect=expect))

    for fmt in FORMATS:
        base = ["check", "--rules", "silent_enablement", "--policy", POLICY_FILE]
        add(f"fleet-dash:{fmt}", base + ["--fleet", "-", "--format", fmt], stdin=rows, expect={0, 1})
        add(
            f"fleet-dev-stdin:{fmt}",
            base + ["--fleet", "/dev/stdin", "--format", fmt],
            stdin=rows,
            expect={0, 1},
        )
        add(
            f"fleet-dash-jobs:{fmt}",
            base + ["--fleet", "-", "--jobs", "2", "--format", fmt],
            stdin=rows,
            expect={0, 1},
        )
        add(f"output-dash:{fmt}", ["check", *one, "--format", fmt, "--output", "-"], expect={0, 1})
        add(f"output-dev-full:{fmt}", ["check", *one, "--format", fmt, "--output", "/dev/full"], expect={2})
        add(
            f"fleet-output-dev-full:{fmt}",
            base + ["--fleet", FLEET_FILE, "--format", fmt, "--output", "/dev/full"],
            expect={2},
        )
        add(
            f"fleet-output-is-fleet:{fmt}",
            base + ["--fleet", "f.jsonl", "--format", fmt, "--output", "f.jsonl"],
            {"f.jsonl": rows},
            expect={2},
        )
        add(
            f"output-is-policy:{fmt}",
            ["check", "--policy", "p.json", "--device", DEVICE_FILE, "--format", fmt, "--output", "p.json"],
            {"p.json": policy},
            expect={2},
        )
    piped = [  # (what, command line, standard input, expected exit codes)
        ("policy-dash", ["check", "--policy", "-", "--device", DEVICE_FILE], policy, {0, 1}),
        ("device-dash", ["check", "--policy", POLICY_FILE, "--device", "-"], device, {0, 1}),
        ("policy-dev-stdin", ["check", "--policy", "/dev/stdin", "--device", DEVICE_FILE], policy, {0, 1}),
        ("both-dash", ["check", "--policy", "-", "--device", "-"], policy, {2}),
        ("repair-policy-dash", ["repair", "--policy", "-", "--device", DEVICE_FILE], policy, {0, 1}),
        ("repair-fleet-dash", ["repair", "--policy", POLICY_FILE, "--fleet", "-"], rows, {0, 1}),
    ]
    for what, argv, stdin, expect in piped:
        add(what, argv, stdin=stdin, expect=expect)
    add("lint-dash", ["lint", "-"], stdin=rules, expect={0, 1, 2})
    add("stdin-empty", ["check", "--policy", "-", "--device", DEVICE_FILE], stdin=b"", expect={2})
    add(
        "stdin-binary",
        ["check", "--policy", POLICY_FILE, "--fleet", "-"],
        stdin=random.Random(1).randbytes(20000),
    )
    for flag in ("--policy", "--device", "--fleet", "--rules", "--assignments"):
        argv = {
            "--policy": ["check", "--policy", "/dev/zero", "--device", DEVICE_FILE],
            "--device": ["check", "--policy", POLICY_FILE, "--device", "/dev/zero"],
            "--fleet": ["check", "--policy", POLICY_FILE, "--fleet", "/dev/zero"],
            "--rules": ["check", "--rules", "/dev/zero", *one],
            "--assignments": [
                "check",
                "--policy",
                POLICY_FILE,
                "--fleet",
                FLEET_FILE,
                "--assignments",
                "/dev/zero",
            ],
        }[flag]
        add(f"dev-zero{flag}", argv, expect={2})
    add("dev-zero-lint", ["lint", "/dev/zero"], expect={2})
    add("dev-zero-compare", ["compare", "/dev/zero", "tenant_attach"], expect={2})
    add(
        "dev-zero-fleet-csv-name",
        ["check", "--policy", POLICY_FILE, "--fleet", "z.csv"],
        {"z.csv": b"deviceName\n" + b"A" * 5_000_000},
        expect=None,
    )
    add(
        "output-is-device",
        ["check", "--policy", POLICY_FILE, "--device", "d.json", "--output", "d.json"],
        {"d.json": device},
        expect={2},
    )
    add(
        "output-is-assignments",
        [
            "check",
            "--policy",
            POLICY_FILE,
            "--fleet",
            FLEET_FILE,
            "--assignments",
            "a.json",
            "--output",
            "a.json",
        ],
        {"a.json": Path(EXAMPLES / "assignments.json").read_bytes()},
        expect={2},
    )
    add(
        "output-is-rules",
        ["check", "--rules", "r.rules", *one, "--output", "r.rules"],
        {"r.rules": rules},
        expect={2},
    )
    add("lint-output-is-input", ["lint", "r.rules", "--output", "r.rules"], {"r.rules": rules}, expect={2})
    add(
        "fleet-jobs2-output-is-policy",
        ["check", "--policy", "p.json", "--fleet", FLEET_FILE, "--jobs", "2", "--output", "p.json"],
        {"p.json": policy},
        expect={2},
    )
    add(
        "output-via-symlink",
        ["check", "--policy", POLICY_FILE, "--fleet", "f.jsonl", "--output", "./sub/../f.jsonl"],
        {"f.jsonl": rows, "sub/.keep": b""},
        expect={2},
    )
    add("output-dir", ["check", *one, "--output", "."], expect={2})
    add("output-missing-dir", ["check", *one, "--output", "no/such/dir/r.txt"], expect={2})
    add("input-dir", ["check", "--policy", ".", "--device", DEVICE_FILE], expect={2})
    add("input-missing", ["check", "--policy", "nope.json", "--device", DEVICE_FILE], expect={2})
    add("lint-output-dev-full", ["lint", "tenant_attach", "--output", "/dev/full"], expect={2})
    return c


def family_io(rng, n):
    yield from io_cases(rng)


FAMILIES = {
    "policy-json": (family_policy, 220),
    "device-json": (family_device, 200),
    "graph": (family_graph, 200),
    "fleet-jsonl": (family_fleet_jsonl, 170),
    "fleet-array": (family_fleet_array, 110),
    "fleet-csv": (family_fleet_csv, 170),
    "assignments": (family_assignments, 110),
    "rules-hostile": (family_rules_hostile, 0),
    "rules-syntax": (family_rules_syntax, 200),
    "secrets": (family_secrets, 330),
    "escapes": (family_escapes, 150),
    "argv": (family_argv, 0),
    "io": (family_io, 0),
    "commands": (family_commands, 200),
    "snapshot": (family_snapshot, 200),
    "tenant": (family_tenant, 150),
}


def commands_with_timeout() -> set[str]:
    """The commands whose ``--help`` offers ``--timeout`` in the code under test."""
    found = set()
    for command in ("check", "lint", "compare", "repair"):
        run = subprocess.run(
            [sys.executable, "-m", "bitlocker_rules", command, "--help"],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if "--timeout" in run.stdout:
            found.add(command)
    return found


def generate(seed: int = 11, timeout_commands: frozenset = frozenset(), families=None) -> list[Case]:
    """Every case (or those of ``families``), in a fixed order; each family draws from its
    own seeded generator, so one family's cases do not depend on which others are made."""
    cases = []
    for family, (make, n) in FAMILIES.items():
        if families is not None and family not in families:
            continue
        rng = random.Random(f"{seed}:{family}")
        made = make(rng, n, timeout_commands) if family == "rules-hostile" else make(rng, n)
        for i, case in enumerate(made):
            case.name = f"{family}-{i:04d}"
            cases.append(case)
    return cases


# ---------------------------------------------------------------- running


@dataclass
class Outcome:
    """What one case did and which classes it falls in."""

    case: Case
    code: int | None
    seconds: float
    classes: list[str]
    problems: list[str]
    exception: str = ""
    stderr_head: str = ""


def _command(argv: list[str], memory_mb: int) -> list[str]:
    """The case's command line, niced and with an address-space limit (no ``preexec_fn``:
    cases run from threads)."""
    return [
        "nice",
        "-n",
        "10",
        "prlimit",
        f"--as={memory_mb * 1024 * 1024}",
        sys.executable,
        "-m",
        "bitlocker_rules",
        *argv,
    ]


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _read(path: Path, cap: int = 64 * 1024 * 1024) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(cap).decode("utf-8", errors="replace")
    except OSError:
        return ""


STORE_ROWS = " (its rows)"  # an output that is a results store, read as the rows it holds


def _is_store(path: Path) -> bool:
    """Whether ``path`` is a DuckDB database (a results store, ``--store``): its magic bytes."""
    try:
        with open(path, "rb") as f:
            return f.read(12)[8:12] == b"DUCK"
    except OSError:
        return False


def _output_name(path: Path, work: Path) -> str:
    name = path.relative_to(work).as_posix()
    return name + STORE_ROWS if _is_store(path) else name


def _store_rows(path: Path) -> str:
    """Every row of every table of a results store, as text: a store's pages may compress the
    strings they hold, so its bytes would hide a password that its rows give back."""
    import duckdb

    try:
        with duckdb.connect(str(path), read_only=True) as db:
            tables = [t for (t,) in db.execute("SELECT table_name FROM information_schema.tables").fetchall()]
            return "\n".join(repr(row) for t in tables for row in db.execute(f'SELECT * FROM "{t}"').fetchall())
    except duckdb.Error as error:
        return f"(the store cannot be read: {error})"


def run_case(case: Case, root: Path, timeout: float, memory_mb: int) -> Outcome:
    """Run one case in a fresh folder under ``root`` and classify it: its command, then each of
    ``case.then`` (whatever the exit code before, unless a command hung or did not start),
    with a local Graph of its own when the case has a fault for one."""
    folder = root / case.name
    work = folder / "in"
    work.mkdir(parents=True)
    for name, data in case.files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(data)
    before = {name: _digest(work / name) for name in case.files}
    graph = LiveGraph(case.graph) if case.graph is not None else None
    runs: list[tuple[list[str], Run]] = []
    try:
        for step, argv in enumerate([case.argv, *case.then]):
            if graph is not None:
                argv = [graph.url if a == GRAPH_URL else a for a in argv]
            run = _run_command(case, argv, work, folder / f"{step}", case.timeout or timeout, memory_mb)
            runs.append((argv, run))
            if run.code is None:  # hung or not started: what follows would read what it left half made
                break
    finally:
        if graph is not None:
            graph.stop()
    outputs = {
        _output_name(p, work): _store_rows(p) if _is_store(p) else _read(p)
        for p in sorted(work.rglob("*"))
        if p.is_file() and p.relative_to(work).as_posix() not in case.files
    }
    after = {n: _digest(work / n) for n in case.files}
    classes, problems = [], []
    for step, (argv, run) in enumerate(runs):
        # The files are read once all commands have run: they count with the last.
        files = (outputs, before) if step == len(runs) - 1 else ({}, {})
        if not run.started:
            found, said = ["not-run"], [run.stderr]
        else:
            found, said = classify(case, run.code, run.hung, run.stdout, run.stderr, files[0], files[1], after, work)
        classes += [c for c in found if c not in classes]
        problems += [f"{argv[0]} (command {step + 1}): {text}" if len(runs) > 1 else text for text in said]
    if len(classes) > 1 and "ok" in classes:
        classes.remove("ok")
    shown = next(
        (run for _, run in runs if run.code is None or run.code == 3 or "Traceback" in run.stderr), runs[-1][1]
    )
    exception = ""
    if "Traceback" in shown.stderr:
        tail = [line for line in shown.stderr.strip().splitlines() if line.strip()]
        exception = tail[-1][:300] if tail else ""
    return Outcome(
        case,
        None if shown.hung else shown.code,
        round(sum(run.seconds for _, run in runs), 2),
        classes,
        problems,
        exception,
        shown.stderr[:400].encode("unicode_escape").decode(),
    )


@dataclass
class Run:
    """One command of a case: its exit code (None when it hung or did not start), its streams."""

    code: int | None
    hung: bool
    seconds: float
    stdout: str = ""
    stderr: str = ""
    started: bool = True


def _run_command(case: Case, argv: list[str], work: Path, streams: Path, timeout: float, memory_mb: int) -> Run:
    """Run ``argv`` in ``work``, standard output and error into files named from ``streams``."""
    out_path, err_path = streams.with_suffix(".stdout"), streams.with_suffix(".stderr")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(COLUMNS="120", PYTHONDONTWRITEBYTECODE="1")
    if case.graph is not None:
        env[GRAPH_TOKEN_VARIABLE] = "good-token"  # the token the local Graph takes
    start = time.monotonic()
    hung = False
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        try:
            proc = subprocess.Popen(
                _command(argv, memory_mb),
                cwd=work,
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.PIPE if case.stdin is not None else subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as error:  # the case cannot be started (say, an argument over 128 KiB)
            return Run(None, False, 0.0, "", f"not started: {error}", started=False)
        try:
            proc.communicate(input=case.stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            hung = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        except BrokenPipeError:
            proc.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):  # workers left behind by a crashed parent
            os.killpg(proc.pid, signal.SIGKILL)
    seconds = time.monotonic() - start
    return Run(None if hung else proc.returncode, hung, seconds, _read(out_path), _read(err_path))


def classify(case, code, hung, stdout, stderr, outputs, before, after, work):
    """The classes of one run and a sentence per problem."""
    classes, problems = [], []

    def add(cls, text):
        if cls not in classes:
            classes.append(cls)
        problems.append(text)

    if hung:
        add("hang", "still running at the time limit")
    elif code is not None and code < 0:
        add("signal", f"killed by signal {-code}")
    elif code == 3:
        add("crash", "exit code 3 (internal error)")
    elif code not in ALLOWED_EXITS:
        add("bad-exit", f"exit code {code}")
    if "Traceback" in stderr:
        add("traceback", "a traceback on standard error")
    streams = {"stdout": stdout, "stderr": stderr, **{f"output {n}": t for n, t in outputs.items()}}
    for where, text in streams.items():
        for groups in case.secrets:
            if leaked(text, groups):
                add("leak", f"the planted password {'-'.join(groups)} in {where}")
        if where.endswith(STORE_ROWS):
            continue  # a store's rows are data, never shown as they are: only what they give away counts
        if case.allow_color:
            text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        found = control_chars(text)
        if found:
            add("escape", f"raw control characters {', '.join(found)} in {where}")
    for name, digest in before.items():
        if after[name] != digest:
            size = (work / name).stat().st_size if (work / name).exists() else None
            state = "removed" if size is None else ("truncated" if size < len(case.files[name]) else "changed")
            add("damaged", f"input {name} {state} ({len(case.files[name])} -> {size} bytes)")
    if not hung and case.expect and code not in case.expect and code in ALLOWED_EXITS:
        add("unexpected-exit", f"exit code {code}, expected one of {sorted(case.expect)}")
    if not classes:
        classes.append("ok")
    return classes, problems


def run_all(cases, jobs: int, timeout: float, memory_mb: int, progress=True):
    """Run the cases ``jobs`` at a time; yields outcomes in completion order.

    A KeyboardInterrupt (or SIGTERM, see ``main``) stops the run cleanly: no new case
    starts, the running ones finish (within ``timeout``), and what was run is yielded."""
    root = Path(tempfile.mkdtemp(prefix="adversarial-"))
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    futures, yielded = [], set()
    try:
        futures = [pool.submit(run_case, c, root, timeout, memory_mb) for c in cases]
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            outcome = future.result()
            yielded.add(future)
            shutil.rmtree(root / outcome.case.name, ignore_errors=True)
            if progress and (done % 50 == 0 or done == len(cases)):
                print(f"  {done}/{len(cases)} cases run", file=sys.stderr, flush=True)
            yield outcome
    except KeyboardInterrupt:
        print("  interrupted: finishing the running cases", file=sys.stderr, flush=True)
        pool.shutdown(wait=True, cancel_futures=True)
        for future in futures:
            finished = future.done() and not future.cancelled()
            if finished and future not in yielded and future.exception() is None:
                yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(root, ignore_errors=True)


def run_order(cases, seed: int) -> list[Case]:
    """The cases shuffled (seeded), so that a run stopped early covers every family."""
    order = list(cases)
    random.Random(f"{seed}:order").shuffle(order)
    return order


# ---------------------------------------------------------------- reporting


def summary_table(outcomes) -> str:
    """Cases per family and the count of each class (a case may be in several)."""
    per = collections.defaultdict(collections.Counter)
    for o in outcomes:
        per[o.case.family]["cases"] += 1
        for cls in o.classes:
            per[o.case.family][cls] += 1
    columns = ["cases", *CLASSES]
    width = max(len(f) for f in [*per, "family", "total"]) + 2
    lines = ["family".ljust(width) + "".join(c.rjust(max(len(c), 5) + 2) for c in columns)]
    total = collections.Counter()
    for family in FAMILIES:
        if family in per:
            total.update(per[family])
            lines.append(family.ljust(width) + "".join(str(per[family][c]).rjust(max(len(c), 5) + 2) for c in columns))
    lines.append("total".ljust(width) + "".join(str(total[c]).rjust(max(len(c), 5) + 2) for c in columns))
    return "\n".join(lines)


def failing(outcome: Outcome) -> bool:
    return any(c in FAILING for c in outcome.classes)


def keep_inputs(case: Case, keep: Path):
    folder = keep / case.name
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in case.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    if case.stdin is not None:
        (folder / "STDIN").write_bytes(case.stdin)
    (folder / "ARGV.json").write_text(json.dumps([case.argv, *case.then], ensure_ascii=True))
    if case.graph is not None:  # rerun with LiveGraph(GraphFault(**json.load(GRAPH.json)))
        (folder / "GRAPH.json").write_text(json.dumps(asdict(case.graph), ensure_ascii=True))


def record(outcome: Outcome) -> dict:
    return {
        **outcome.case.describe(),
        "exit_code": outcome.code,
        "seconds": outcome.seconds,
        "classes": outcome.classes,
        "problems": outcome.problems,
        "exception": outcome.exception,
        "stderr_head": outcome.stderr_head,
    }


def resumed(progress: str, cases: list[Case]) -> list[Outcome]:
    """The outcomes recorded in a progress file, for the cases of this run."""
    by_name = {c.name: c for c in cases}
    outcomes = []
    for line in Path(progress).read_text().splitlines():
        r = json.loads(line)
        if r["case"] in by_name:
            outcomes.append(
                Outcome(
                    by_name[r["case"]],
                    r["exit_code"],
                    r["seconds"],
                    r["classes"],
                    r["problems"],
                    r["exception"],
                    r["stderr_head"],
                )
            )
    return outcomes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--family", action="append", choices=sorted(FAMILIES))
    parser.add_argument("--limit", type=int, help="an even sample of about N cases")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    parser.add_argument("--memory", type=int, default=2048, help="MB of address space per case")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once")
    parser.add_argument("--report", default="adversarial-failures.json")
    parser.add_argument("--keep", help="copy failing cases' inputs into this folder")
    parser.add_argument("--list", action="store_true", help="list the cases, run nothing")
    parser.add_argument("--progress", help="write every case's outcome here as it ends (JSON Lines)")
    parser.add_argument("--resume", help="a --progress file of a stopped run: run only the cases not in it")
    args = parser.parse_args(argv)
    cases = generate(args.seed, frozenset(commands_with_timeout()), args.family)
    if args.limit and args.limit < len(cases):
        step = len(cases) / args.limit
        cases = [cases[int(i * step)] for i in range(args.limit)]
    if args.list:
        for c in cases:
            print(c.name, c.what, json.dumps(c.argv, ensure_ascii=True)[:200])
        return 0
    started = time.monotonic()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    outcomes = resumed(args.resume, cases) if args.resume else []
    done = {o.case.name for o in outcomes}
    progress = args.progress or args.resume
    with open(progress, "a" if args.resume else "w") if progress else open(os.devnull, "w") as log:
        todo = [c for c in run_order(cases, args.seed) if c.name not in done]
        for outcome in run_all(todo, args.jobs, args.timeout, args.memory):
            outcomes.append(outcome)
            log.write(json.dumps(record(outcome), ensure_ascii=True) + "\n")
            log.flush()
    outcomes.sort(key=lambda o: o.case.name)
    bad = [o for o in outcomes if failing(o) or {"unexpected-exit", "not-run"} & set(o.classes)]
    Path(args.report).write_text(
        json.dumps(
            {
                "seed": args.seed,
                "cases": len(outcomes),
                "generated": len(cases),
                "seconds": round(time.monotonic() - started),
                "summary": summary_table(outcomes).splitlines(),
                "failing": [record(o) for o in bad],
            },
            indent=1,
            ensure_ascii=True,
        )
    )
    if args.keep:
        for o in bad:
            keep_inputs(o.case, Path(args.keep))
    print(summary_table(outcomes))
    n_failing = sum(failing(o) for o in outcomes)
    print(
        f"\n{len(outcomes)} of {len(cases)} cases in {time.monotonic() - started:.0f} s; {n_failing} failing; "
        f"details in {args.report}"
    )
    return 1 if n_failing else 0


if __name__ == "__main__":
    sys.exit(main())
