"""Benchmark: the silent_enablement ruleset against a hand-written floor and peer engines.

    python benchmarks/bench_silent_enablement.py [--devices 20000] [--repeat 5] [--json FILE]

What it does (see benchmarks/README.md for how to read the output):

1. Generates ``--devices`` seeded device+policy fact sets, a third passing every rule, a third
   near misses (one fact off or missing), a third random (each fact may be missing). Raw
   JSON-like values are typed with ``Vocabulary.parse_value`` exactly as the engine does; the
   typed values are plain dicts ``{fact name: value}`` with missing facts absent. A tenth of
   the near misses and random sets carry ``scenario.silent_enablement`` themselves (as a
   declaration would give it); for the others the scenario is inferred per device, so it is
   in scope, out of scope (interactive startup) or not known. Generation is outside the timing.
2. Times, in one run, the median of ``--repeat`` passes over all devices (``time.perf_counter``,
   garbage collector off during a pass, engines interleaved round-robin so drift hits all):
   - the floor: a hand-written Python function returning the 12 verdict codes (0 pass, 1 fail,
     2 unknown, 3 not applicable, Kleene logic) of every rule of silent_enablement, the
     scenario resolved by hand as the vocabulary's conditions and the resolver do;
   - ``engine.verdicts(values)``: the scenario facts resolved (``Engine.resolved``), then the
     compiled verdict function; and, to show where the time goes, the resolution alone and
     the compiled function alone on values resolved beforehand;
   - the reference interpreter ``loaded.interpreter.verdict(rule, values)`` for every rule;
   - for the peers, which decide one thing, a second floor: a hand-written function for the
     combined decision "ready" (every rule passes or does not apply), and rule-engine,
     cedarpy and regopy (when installed) encoding that same combined decision, each timed per
     call including the adaptation of the typed values into the peer's input;
   - the engine's own decisions: ``engine.passes(facts)`` (that same yes-or-no question, a
     compiled function that stops at the first rule that does not pass) against the combined
     floor, and ``engine.decide(facts)`` (pass, fail or unknown, stopping at the first failing
     rule) against a third floor, hand-written for that three-valued decision.
3. Checks every engine against its floor on every device and prints the mismatches.
4. Times ``python -m bitlocker_rules check`` on the shipped examples (median of 10 runs, the
   first run discarded).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
try:  # a checkout without `pip install -e .` still runs
    import bitlocker_rules  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT))

from tabulate import tabulate  # noqa: E402

from bitlocker_rules import Engine, Facts, Status, WindowsVersion  # noqa: E402
from bitlocker_rules.engine import load_ruleset  # noqa: E402
from bitlocker_rules.interpreter import caveated  # noqa: E402
from bitlocker_rules.outcome import CODE_BY_STATUS  # noqa: E402

# ---------------------------------------------------------------------------------------------
# The facts silent_enablement reads (and the scenario fact its header adds to every rule).

RDE = "policy.require_device_encryption"
WARN = "policy.warning_for_other_disk_encryption"
ROLE = "device.user_role"
OS = "device.os_version"
JOIN = "device.join_type"
TPM_PRESENT = "device.tpm_present"
TPM_VERSION = "device.tpm_version"
FIRMWARE = "device.firmware_mode"
ASUE = "policy.allow_standard_user_encryption"
STARTUP = "policy.tpm_startup"
PIN = "policy.tpm_startup_pin"
KEY = "policy.tpm_startup_key"
KEY_PIN = "policy.tpm_startup_key_and_pin"
SCENARIO = "scenario.silent_enablement"
FACTS = (RDE, WARN, ROLE, OS, JOIN, TPM_PRESENT, TPM_VERSION, FIRMWARE, ASUE, STARTUP, PIN, KEY, KEY_PIN)
RULE_IDS = ("SE-00", "SE-01", "SE-02", "SE-03", "SE-04", "SE-05", "SE-06", "SE-07", "SE-08", "SE-09", "SE-10", "SE-11")
N_RULES = len(RULE_IDS)

# ---------------------------------------------------------------------------------------------
# Seeded device generation (raw values as the JSON inputs carry them, several spellings).

OS_LOW = ["1607", "1703", "1709", 16299, "10.0.15063.0"]  # before 1803
OS_MID = ["1803", "10.0.17134.1304", 17134]  # 1803 up to (not incl.) 1809
OS_HIGH = [
    "1809",
    "1909",
    "21H2",
    "10.0.19045.4291",
    22631,
    "Windows 11",
    "10.0.26100.1742",
    "Windows 11 23H2",
]  # 1809 and later
PASS_VALUES: dict[str, list[Any]] = {
    RDE: ["Require", "require"],
    WARN: ["Block"],
    ROLE: ["Administrator", "StandardUser"],
    OS: OS_HIGH,
    JOIN: ["AzureADJoined", "HybridAzureADJoined"],
    TPM_PRESENT: [True, "true"],
    TPM_VERSION: [1.2, 2.0, "2.0", 2],
    FIRMWARE: ["UEFI", "uefi"],
    ASUE: ["Allow"],
    STARTUP: ["Allowed", "Required"],
    PIN: ["Blocked", "Allowed", "NotConfigured"],
    KEY: ["Blocked", "Allowed", "NotConfigured"],
    KEY_PIN: ["Blocked", "Allowed", "NotConfigured"],
}
OFF_VALUES: dict[str, list[Any]] = {
    RDE: ["NotConfigured"],
    WARN: ["NotConfigured"],
    ROLE: ["StandardUser"],  # set on an administrator device running 1803 (see _near_miss)
    OS: OS_LOW,
    JOIN: ["AzureADRegistered", "NotJoined", "Unknown"],
    TPM_PRESENT: [False, "false"],
    TPM_VERSION: [1.0, "1.1", 0],
    FIRMWARE: ["LegacyBIOS"],
    ASUE: ["NotConfigured"],
    STARTUP: ["Blocked", "NotConfigured"],
    PIN: ["Required"],
    KEY: ["Required"],
    KEY_PIN: ["Required"],
}
ANY_VALUES = {f: PASS_VALUES[f] + OFF_VALUES[f] + (OS_MID if f == OS else []) for f in FACTS}
# A tenth of the near misses and random sets give the scenario themselves (what declaring it,
# `--scenario silent_enablement` or `--rules silent_enablement`, gives every device), mostly true.
SCENARIO_GIVEN = 0.1
SCENARIO_VALUES = [True, True, True, "true", False]


def _passing(rng: random.Random) -> dict[str, Any]:
    raw = {f: rng.choice(PASS_VALUES[f]) for f in FACTS}
    if raw[ROLE] == "Administrator" and rng.random() < 0.3:
        raw[OS] = rng.choice(OS_MID)  # administrators pass from 1803 on
        if rng.random() < 0.5:
            raw[ASUE] = "NotConfigured"  # SE-07 does not apply to a known administrator
    if raw[OS] in OS_HIGH and rng.random() < 0.1:
        raw[ROLE] = None  # role unknown: both role rules may apply; 1809+ passes
    return raw


def _near_miss(rng: random.Random) -> dict[str, Any]:
    raw = _passing(rng)
    if raw[ASUE] != "Allow":
        raw[ASUE] = "Allow"  # so that changing the role cannot make SE-07 a second miss
    fact = rng.choice(FACTS)
    if rng.random() < 0.25:
        raw[fact] = None  # one fact missing
    elif fact == ROLE:
        raw[OS] = rng.choice(OS_MID)  # an administrator on 1803 passes; a standard user not
        raw[ROLE] = "StandardUser"
    elif fact == OS:
        raw[OS] = rng.choice(OS_LOW + (OS_MID if raw[ROLE] != "Administrator" else []))
    else:
        raw[fact] = rng.choice(OFF_VALUES[fact])
    if rng.random() < SCENARIO_GIVEN:
        raw[SCENARIO] = rng.choice(SCENARIO_VALUES)
    return raw


def _random(rng: random.Random) -> dict[str, Any]:
    raw = {f: None if rng.random() < 0.15 else rng.choice(ANY_VALUES[f]) for f in FACTS}
    if rng.random() < SCENARIO_GIVEN:
        raw[SCENARIO] = rng.choice(SCENARIO_VALUES)
    return raw


def generate(count: int, seed: int, engine: Engine) -> tuple[list[dict[str, Any]], list[str]]:
    """``count`` typed fact dicts (missing facts absent) and the category of each."""
    rng = random.Random(seed)
    makers = (("pass", _passing), ("near miss", _near_miss), ("random", _random))
    kinds = [makers[i * 3 // count][0] if count else "" for i in range(count)]
    rng.shuffle(kinds)
    by_name = dict(makers)
    vocabulary = engine.vocabulary
    decls = {f: vocabulary.fact(f) for f in (*FACTS, SCENARIO)}
    devices = []
    for kind in kinds:
        raw = by_name[kind](rng)
        devices.append({f: vocabulary.parse_value(decls[f], v) for f, v in raw.items() if v is not None})
    return devices, kinds


# ---------------------------------------------------------------------------------------------
# The floor: the 12 rules of silent_enablement by hand, same verdict codes, Kleene logic.
#
# Every rule is about the scenario silent_enablement (the ruleset's header), so its
# applicability is `scenario.silent_enablement == true and <when>`. The scenario is the value
# the device's facts give, else inferred as rulesets/vocabulary.toml and the resolver say: in
# scope when Warning for other disk encryption is Block; out of scope when interactive_startup,
# which excludes it, is inferred (the warning known and not Block, and a startup PIN, key, or
# key and PIN option Require); otherwise unknown (silent_enablement has no inferred_off).
# Out of scope, every rule does not apply. In scope, a rule whose `when` is true or has no
# `when` fails where its requirement is false; with the scenario (or the `when`) unknown it is
# unknown there instead: so the floor computes every rule once, with `fail` = 1 or 2.

V1803 = WindowsVersion(10, 0, 17134, 0)
V1809 = WindowsVersion(10, 0, 17763, 0)
JOINED = frozenset({"AzureADJoined", "HybridAzureADJoined"})
TPM_STARTUP_OK = frozenset({"Allowed", "Required"})
NOT_APPLICABLE = (3,) * N_RULES


def floor_scenario(f: Mapping[str, Any]) -> bool | None:
    """scenario.silent_enablement for one device: given, inferred, or None (unknown)."""
    scenario = f.get(SCENARIO)
    if scenario is None:
        warn = f.get(WARN)
        if warn == "Block":
            scenario = True
        elif warn is not None and (
            f.get(PIN) == "Required" or f.get(KEY) == "Required" or f.get(KEY_PIN) == "Required"
        ):
            scenario = False
    return scenario


def floor_verdicts(f: Mapping[str, Any]) -> tuple[int, ...]:
    """Verdict codes of every rule of silent_enablement, in file order."""
    get = f.get
    warn, pin, key, key_pin = get(WARN), get(PIN), get(KEY), get(KEY_PIN)
    # scenario.silent_enablement: given, else inferred (see floor_scenario)
    scenario = get(SCENARIO)
    if scenario is None:
        if warn == "Block":
            scenario = True
        elif warn is not None and (pin == "Required" or key == "Required" or key_pin == "Required"):
            return NOT_APPLICABLE  # interactive startup inferred: it excludes silent enablement
    elif scenario is False:
        return NOT_APPLICABLE
    fail = 1 if scenario is True else 2  # the code of a false requirement where the rule may apply
    rde, role, os_version = get(RDE), get(ROLE), get(OS)
    # SE-00: require policy.require_device_encryption == Require
    se00 = 2 if rde is None else (0 if rde == "Require" else fail)
    # SE-01: when user_role == Administrator require os_version >= 1803
    if role is not None and role != "Administrator":
        se01 = 3
    elif os_version is None:
        se01 = 2
    elif os_version >= V1803:
        se01 = 0
    else:
        se01 = 2 if role is None else fail
    # SE-02: when user_role == StandardUser require os_version >= 1809
    if role is not None and role != "StandardUser":
        se02 = 3
    elif os_version is None:
        se02 = 2
    elif os_version >= V1809:
        se02 = 0
    else:
        se02 = 2 if role is None else fail
    # SE-03: require join_type in {AzureADJoined, HybridAzureADJoined}
    join = get(JOIN)
    se03 = 2 if join is None else (0 if join in JOINED else fail)
    # SE-04: require tpm_present and tpm_version >= 1.2
    present, version = get(TPM_PRESENT), get(TPM_VERSION)
    if present is False or (version is not None and not version >= 1.2):
        se04 = fail
    elif present is None or version is None:
        se04 = 2
    else:
        se04 = 0
    # SE-05: require firmware_mode == UEFI
    firmware = get(FIRMWARE)
    se05 = 2 if firmware is None else (0 if firmware == "UEFI" else fail)
    # SE-06: require warning_for_other_disk_encryption == Block
    se06 = 2 if warn is None else (0 if warn == "Block" else fail)
    # SE-07: when not user_role == Administrator require allow_standard_user_encryption == Allow
    if role == "Administrator":
        se07 = 3
    else:
        asue = get(ASUE)
        if asue is None:
            se07 = 2
        elif asue == "Allow":
            se07 = 0
        else:
            se07 = 2 if role is None else fail
    # SE-08: require tpm_startup in {Allowed, Required}
    startup = get(STARTUP)
    se08 = 2 if startup is None else (0 if startup in TPM_STARTUP_OK else fail)
    # SE-09, SE-10, SE-11: the startup PIN / key / key and PIN are not Required
    se09 = 2 if pin is None else (fail if pin == "Required" else 0)
    se10 = 2 if key is None else (fail if key == "Required" else 0)
    se11 = 2 if key_pin is None else (fail if key_pin == "Required" else 0)
    return (se00, se01, se02, se03, se04, se05, se06, se07, se08, se09, se10, se11)


def floor_ready(f: Mapping[str, Any]) -> bool:
    """The combined decision: every rule passes or does not apply (unknown is not ready).

    Out of scope nothing applies, so the device is "ready" for silent enablement vacuously. In
    scope or with the scenario unknown every rule that may apply must pass: the same test.
    """
    get = f.get
    scenario, warn = get(SCENARIO), get(WARN)
    pin, key, key_pin = get(PIN), get(KEY), get(KEY_PIN)
    if scenario is False:
        return True
    if (
        scenario is None
        and warn is not None
        and warn != "Block"
        and (pin == "Required" or key == "Required" or key_pin == "Required")
    ):
        return True  # interactive startup inferred: silent enablement is out of scope
    if get(RDE) != "Require" or warn != "Block":
        return False
    os_version = get(OS)
    if os_version is None:
        return False  # whatever the role, a role rule applies (or may) and needs the version
    role = get(ROLE)
    if os_version < (V1803 if role == "Administrator" else V1809):
        return False  # role missing: both role rules may apply, so 1809 is needed
    if get(JOIN) not in JOINED or get(TPM_PRESENT) is not True or get(FIRMWARE) != "UEFI":
        return False
    version = get(TPM_VERSION)
    if version is None or not version >= 1.2:
        return False
    if (role != "Administrator" and get(ASUE) != "Allow") or get(STARTUP) not in TPM_STARTUP_OK:
        return False
    return not (
        pin is None or pin == "Required" or key is None or key == "Required" or key_pin is None or key_pin == "Required"
    )


def ready_from_codes(codes: tuple[int, ...]) -> bool:
    """The combined decision read off verdict codes."""
    return 1 not in codes and 2 not in codes


def floor_decision(f: Mapping[str, Any]) -> bool | None:
    """The three-valued decision, hand-written: False at the first rule that fails, else None
    when a rule is unknown, else True (every rule passes or does not apply): ``engine.decide``.

    Unlike ``floor_ready`` it cannot stop at an unknown rule: a later one may still fail. In
    scope a requirement known false fails its rule (when the rule's role condition is known);
    with the scenario not known it leaves the rule unknown.
    """
    get = f.get
    scenario, warn = get(SCENARIO), get(WARN)
    pin, key, key_pin = get(PIN), get(KEY), get(KEY_PIN)
    if scenario is None:
        if warn == "Block":
            scenario = True
        elif warn is not None and (pin == "Required" or key == "Required" or key_pin == "Required"):
            return True  # interactive startup inferred: silent enablement is out of scope
    elif scenario is False:
        return True
    sure = scenario is True
    unknown = False
    rde = get(RDE)
    if rde != "Require":  # SE-00
        if sure and rde is not None:
            return False
        unknown = True
    role, os_version = get(ROLE), get(OS)
    for needed, minimum in (("Administrator", V1803), ("StandardUser", V1809)):  # SE-01, SE-02
        if role is None or role == needed:
            if os_version is None:
                unknown = True
            elif os_version < minimum:
                if sure and role is not None:
                    return False
                unknown = True
    join = get(JOIN)
    if join not in JOINED:  # SE-03
        if sure and join is not None:
            return False
        unknown = True
    present, version = get(TPM_PRESENT), get(TPM_VERSION)
    if present is False or (version is not None and not version >= 1.2):  # SE-04
        if sure:
            return False
        unknown = True
    elif present is None or version is None:
        unknown = True
    firmware = get(FIRMWARE)
    if firmware != "UEFI":  # SE-05
        if sure and firmware is not None:
            return False
        unknown = True
    if warn != "Block":  # SE-06
        if sure and warn is not None:
            return False
        unknown = True
    if role != "Administrator":  # SE-07
        asue = get(ASUE)
        if asue != "Allow":
            if sure and role is not None and asue is not None:
                return False
            unknown = True
    startup = get(STARTUP)
    if startup not in TPM_STARTUP_OK:  # SE-08
        if sure and startup is not None:
            return False
        unknown = True
    for setting in (pin, key, key_pin):  # SE-09, SE-10, SE-11
        if setting is None or setting == "Required":
            if sure and setting is not None:
                return False
            unknown = True
    return None if unknown else True


def decision_from_codes(codes: tuple[int, ...]) -> bool | None:
    """The three-valued decision read off verdict codes."""
    return False if 1 in codes else None if 2 in codes else True


DECIDED = {Status.PASS: True, Status.FAIL: False, Status.UNKNOWN: None}  # Decision.status -> floor_decision


# ---------------------------------------------------------------------------------------------
# Engines. Each builder returns (decide one device, optional decide all devices at once).


class Bench:
    """One row: a per-device callable (or a whole-batch callable) and what it is checked against."""

    clock: Callable[[], float] = time.perf_counter  # --clock cpu: time.process_time

    def __init__(
        self,
        name: str,
        workload: str,
        floor: str,
        setup_ms: float,
        per_device: Callable[[Any], Any] | None = None,
        batch: Callable[[list], list] | None = None,
        mode: str = "per call",
        devices: list | None = None,
        unwrap: Callable[[Any], Any] | None = None,
    ) -> None:
        self.name, self.workload, self.floor, self.setup_ms = name, workload, floor, setup_ms
        self.per_device, self.batch, self.mode = per_device, batch, mode
        self.devices = devices  # an engine-specific view of the devices, else the shared one
        self.unwrap = unwrap  # what of a result is checked (untimed), e.g. the one ruleset's codes
        self.times: list[float] = []
        self.results: list | None = None
        self.mismatches: int | None = None
        self.note = ""

    def run(self, devices: list) -> float:
        devices = self.devices if self.devices is not None else devices
        fn = self.per_device
        gc.collect()
        gc.disable()
        try:
            clock = Bench.clock
            start = clock()
            results = [fn(d) for d in devices] if fn is not None else self.batch(devices)
            elapsed = clock() - start
        finally:
            gc.enable()
        if self.results is None:
            self.results = results if self.unwrap is None else [self.unwrap(r) for r in results]
        self.times.append(elapsed)
        return elapsed


def _timed_setup(build: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    built = build()
    return built, (time.perf_counter() - start) * 1000


def version_list(v: WindowsVersion) -> list[int]:
    return [v.major, v.minor, v.build, v.revision]


def version_long(v: WindowsVersion) -> int:
    """A Windows version as one integer that orders like the version (Cedar has no version type)."""
    return ((v.major * 100 + v.minor) * 100_000 + v.build) * 100_000 + v.revision


# Short input names for the peers; the typed values are renamed and adapted per call.
PEER_NAMES = {
    RDE: "rde",
    WARN: "warn",
    ROLE: "role",
    OS: "os",
    JOIN: "join",
    TPM_PRESENT: "tpm_present",
    TPM_VERSION: "tpm_version",
    FIRMWARE: "firmware",
    ASUE: "asue",
    STARTUP: "startup",
    PIN: "pin",
    KEY: "key",
    KEY_PIN: "key_pin",
    SCENARIO: "scenario",
}

# Each peer encodes floor_ready: out of scope (the scenario given false, or interactive startup
# inferred) is ready; otherwise every rule must pass.
RULE_ENGINE_TEXT = """
scenario == false
or (scenario == null and warn != null and warn != "Block"
    and (pin == "Required" or key == "Required" or key_pin == "Required"))
or (rde == "Require" and warn == "Block"
and os != null
and ((role == "Administrator" and os >= [10, 0, 17134, 0])
     or (role != "Administrator" and os >= [10, 0, 17763, 0]))
and join in ["AzureADJoined", "HybridAzureADJoined"]
and tpm_present == true and tpm_version != null and tpm_version >= 1.2
and firmware == "UEFI" and (role == "Administrator" or asue == "Allow")
and startup in ["Allowed", "Required"]
and pin != null and pin != "Required" and key != null and key != "Required"
and key_pin != null and key_pin != "Required")
"""


def rule_engine_bench() -> Bench:
    import rule_engine

    rule, setup = _timed_setup(lambda: rule_engine.Rule(RULE_ENGINE_TEXT))
    matches = rule.matches
    items = tuple(PEER_NAMES.items())

    def decide(f: Mapping[str, Any]) -> bool:
        record = {short: f.get(name) for name, short in items}  # every symbol must resolve
        os_version = record["os"]
        if os_version is not None:
            record["os"] = version_list(os_version)
        return matches(record)

    return Bench("rule-engine Rule.matches, flat record", "1 decision", "ready", setup, decide)


CEDAR_POLICY = """
permit (principal, action == Action::"enableSilently", resource)
when { context has scenario && !context.scenario };

permit (principal, action == Action::"enableSilently", resource)
when {
  !(context has scenario) &&
  context has warn && context.warn != "Block" &&
  ((context has pin && context.pin == "Required") ||
   (context has key && context.key == "Required") ||
   (context has key_pin && context.key_pin == "Required"))
};

permit (principal, action == Action::"enableSilently", resource)
when {
  context has rde && context.rde == "Require" &&
  context has warn && context.warn == "Block" &&
  context has os &&
  (if context has role && context.role == "Administrator"
     then context.os >= 1000017134_00000
     else context.os >= 1000017763_00000) &&
  context has join && ["AzureADJoined", "HybridAzureADJoined"].contains(context.join) &&
  context has tpm_present && context.tpm_present &&
  context has tpm_version && context.tpm_version.greaterThanOrEqual(decimal("1.2")) &&
  context has firmware && context.firmware == "UEFI" &&
  ((context has role && context.role == "Administrator") ||
   (context has asue && context.asue == "Allow")) &&
  context has startup && ["Allowed", "Required"].contains(context.startup) &&
  context has pin && context.pin != "Required" &&
  context has key && context.key != "Required" &&
  context has key_pin && context.key_pin != "Required"
};
""".replace("1000017134_00000", str(version_long(V1803))).replace("1000017763_00000", str(version_long(V1809)))


# Bound once as a default below: the request builder runs per device and reads it as a local.
_PEER_ITEMS = tuple(PEER_NAMES.items())


def _cedar_request(f: Mapping[str, Any], items=_PEER_ITEMS) -> dict[str, Any]:
    context = {short: f[name] for name, short in items if name in f}
    if "os" in context:
        context["os"] = version_long(context["os"])
    if "tpm_version" in context:  # Cedar has no float: decimal extension, at most 4 digits
        context["tpm_version"] = {"__extn": {"fn": "decimal", "arg": f"{context['tpm_version']:.4f}"}}
    return {
        "principal": 'Device::"device"',
        "action": 'Action::"enableSilently"',
        "resource": 'Policy::"policy"',
        "context": context,
    }


def cedarpy_benches() -> list[Bench]:
    import cedarpy

    (policies, entities), setup = _timed_setup(
        lambda: (cedarpy.PolicySet.from_str(CEDAR_POLICY), cedarpy.Entities.from_json_str("[]"))
    )
    is_authorized, is_authorized_batch = cedarpy.is_authorized, cedarpy.is_authorized_batch

    def decide(f: Mapping[str, Any]) -> bool:
        result = is_authorized(_cedar_request(f), policies, entities)
        if result.diagnostics.errors:
            raise RuntimeError(f"cedar evaluation error: {result.diagnostics.errors}")
        return result.allowed

    def decide_all(devices: list) -> list[bool]:
        results = is_authorized_batch([_cedar_request(f) for f in devices], policies, entities)
        return [r.allowed for r in results]

    return [
        Bench("cedarpy is_authorized", "1 decision", "ready", setup, decide),
        Bench(
            "cedarpy is_authorized_batch", "1 decision", "ready", setup, batch=decide_all, mode="batch: 1 call, all N"
        ),
    ]


REGO_MODULE = """
package se

import rego.v1

default ready := false

ready if {
  input.scenario == false
}

ready if {
  not scenario_given
  input.warn != "Block"
  startup_required
}

ready if {
  input.rde == "Require"
  input.warn == "Block"
  os_ok
  input.join in {"AzureADJoined", "HybridAzureADJoined"}
  input.tpm_present == true
  input.tpm_version >= 1.2
  input.firmware == "UEFI"
  asue_ok
  input.startup in {"Allowed", "Required"}
  input.pin != "Required"
  input.key != "Required"
  input.key_pin != "Required"
}

os_ok if {
  input.role == "Administrator"
  input.os >= [10, 0, 17134, 0]
}

os_ok if {
  not input.role == "Administrator"
  input.os >= [10, 0, 17763, 0]
}

asue_ok if {
  input.role == "Administrator"
}

asue_ok if {
  input.asue == "Allow"
}

scenario_given if {
  input.scenario == true
}

scenario_given if {
  input.scenario == false
}

startup_required if {
  input.pin == "Required"
}

startup_required if {
  input.key == "Required"
}

startup_required if {
  input.key_pin == "Required"
}

"""


def regopy_bench() -> Bench:
    import regopy

    def build():
        interpreter = regopy.Interpreter()
        interpreter.add_module("se.rego", REGO_MODULE)
        bundle = interpreter.build(None, ["se/ready"])
        if not bundle.ok():
            raise RuntimeError("regopy: the bundle did not build")
        return interpreter, bundle

    (interpreter, bundle), setup = _timed_setup(build)
    set_input, query, make_input = interpreter.set_input, interpreter.query_bundle_entrypoint, regopy.Input
    items = tuple(PEER_NAMES.items())

    def decide(f: Mapping[str, Any]) -> bool:
        document = {short: f[name] for name, short in items if name in f}  # missing = undefined
        if "os" in document:
            document["os"] = version_list(document["os"])
        set_input(make_input(document))
        output = query(bundle, "se/ready")
        if not output.ok():
            raise RuntimeError(f"regopy error: {output}")
        results = output.results
        return bool(results) and results[0].expressions == [True]

    return Bench("regopy bundle entrypoint, Input()", "1 decision", "ready", setup, decide)


PEERS = (("rule-engine", rule_engine_bench), ("cedarpy", cedarpy_benches), ("regopy", regopy_bench))


# ---------------------------------------------------------------------------------------------
# Verification.


def check_codes(bench: Bench, expected: list[tuple[int, ...]], devices: list) -> dict[str, int]:
    """Per-rule mismatch counts; prints the first mismatching device and rule."""
    per_rule: Counter[str] = Counter()
    first = None
    for index, (got, want) in enumerate(zip(bench.results, expected)):
        if got != want:
            for rule, g, w in zip(RULE_IDS, got, want):
                if g != w:
                    per_rule[rule] += 1
                    if first is None:
                        first = (index, rule, g, w)
    bench.mismatches = sum(per_rule.values())
    if first is not None:
        index, rule, got, want = first
        print(f"\nBUG? {bench.name}: first mismatch on device #{index}, rule {rule}: got {got}, floor says {want}")
        print("  device:", {k: str(v) for k, v in devices[index].items()})
        print("  per rule:", dict(per_rule))
    return dict(per_rule)


def check_scenario(bench: Bench, expected: list[bool | None], devices: list) -> None:
    """The scenario fact of the resolved values against the floor's (None: not known)."""
    wrong = [i for i, (g, w) in enumerate(zip(bench.results, expected)) if g is not w]
    bench.mismatches = len(wrong)
    if wrong:
        index = wrong[0]
        print(
            f"\nBUG? {bench.name}: {len(wrong)} mismatches; first on device #{index}: "
            f"{SCENARIO} {bench.results[index]}, floor says {expected[index]}"
        )
        print("  device:", {k: str(v) for k, v in devices[index].items()})


def check_ready(bench: Bench, expected: list[bool | None], devices: list) -> None:
    """Each result against the floor's (a yes-or-no one as a bool, a three-valued one as it is)."""
    wrong = [
        i
        for i, (g, w) in enumerate(zip(bench.results, expected))
        if (g is not w if bench.floor == "decision" else bool(g) != w)
    ]
    bench.mismatches = len(wrong)
    if wrong:
        index = wrong[0]
        print(
            f"\n{bench.name}: {len(wrong)} mismatches; first on device #{index}: "
            f"got {bench.results[index]}, floor says {expected[index]}"
        )
        print("  device:", {k: str(v) for k, v in devices[index].items()})


# ---------------------------------------------------------------------------------------------
# The command line, as a user runs it.


def time_cli(runs: int) -> dict[str, Any]:
    """Wall time of one `check` (median of ``runs`` after one discarded warm-up run).

    Measured twice: in this environment as it is (where PYTHONDONTWRITEBYTECODE may be set, so
    a checkout's modules are compiled from source on every run), and with a bytecode cache in a
    temporary folder (what an installed wheel has: pip writes .pyc files at install time).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    check = [
        sys.executable,
        "-m",
        "bitlocker_rules",
        "check",
        "--rules",
        "silent_enablement",
        "--policy",
        "examples/policy-silent.json",
        "--device",
        "examples/device-ready.json",
    ]
    bare = [sys.executable, "-c", "pass"]
    figures: dict[str, Any] = {
        "command": " ".join(["python", *check[1:]]),
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
    }
    with tempfile.TemporaryDirectory(prefix="bitlocker-rules-pyc-") as cache:
        cached = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = cache
        variants = (("check", check, env), ("check, bytecode cached", check, cached), ("python -c pass", bare, env))
        for label, argv, run_env in variants:
            times, codes = [], set()
            for i in range(runs + 1):
                start = time.perf_counter()
                done = subprocess.run(argv, cwd=ROOT, env=run_env, capture_output=True)
                elapsed = time.perf_counter() - start
                codes.add(done.returncode)
                if done.returncode not in (0, 1):
                    raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
                if i:
                    times.append(elapsed)
            figures[label] = {
                "median_ms": statistics.median(times) * 1000,
                "min_ms": min(times) * 1000,
                "max_ms": max(times) * 1000,
                "exit_codes": sorted(codes),
            }
    return figures


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20_240_601)
    parser.add_argument("--cli-runs", type=int, default=10, help="timed CLI runs (one more is discarded)")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI timing")
    parser.add_argument("--no-interpreter", action="store_true", help="skip the (slow) interpreter row")
    parser.add_argument("--no-peers", action="store_true", help="skip rule-engine, cedarpy and regopy")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="time with time.perf_counter (wall) or time.process_time (this process's CPU "
        "time: steadier on a machine other work shares)",
    )
    args = parser.parse_args(argv)
    Bench.clock = time.process_time if args.clock == "cpu" else time.perf_counter

    # --- setup (untimed, except each engine's own setup_ms)
    # The scenario is not declared (Engine.load(["silent_enablement"]) would declare it, as
    # `--rules silent_enablement` does): each device's values give it or it is inferred, the
    # general case of `check` and of fleets. Engine.resolved resolves every scenario of the
    # vocabulary (and the derived facts) for each device, as the engine does before any verdict.
    engine, load_ms = _timed_setup(lambda: Engine([load_ruleset("silent_enablement")]))
    declaring, declaring_ms = _timed_setup(lambda: Engine.load(["silent_enablement"]))
    loaded = engine.rulesets[0]
    assert tuple(r.id for r in loaded.rules) == RULE_IDS, [r.id for r in loaded.rules]
    assert set(loaded.ruleset.scenarios) == {"silent_enablement"} and not engine.scenarios.declared
    start = time.perf_counter()
    devices, kinds = generate(args.devices, args.seed, engine)
    # engine.passes and engine.decide take Facts records; every row reads the same dicts (each
    # record's table), so no row gains from where its devices lie in memory.
    facts = [Facts(d) for d in devices]
    devices = [f.table for f in facts]
    gen_s = time.perf_counter() - start
    resolved = [engine.resolved(d) for d in devices]  # for the rows that time only the verdicts
    proxied = [MappingProxyType(d) for d in resolved]

    verdicts, engine_verdicts, resolve = loaded.verdicts, engine.verdicts, engine.resolved
    interpreter, rules, code_of = loaded.interpreter, loaded.rules, CODE_BY_STATUS

    def interpret(values: Mapping[str, Any]) -> tuple[int, ...]:
        values = resolve(values)
        return tuple([code_of[caveated(rule, interpreter.verdict(rule, values)[0])[0]] for rule in rules])

    def compiled_ready(values: Mapping[str, Any]) -> bool:
        codes = engine_verdicts(values)[0]
        return 1 not in codes and 2 not in codes

    label = f"{N_RULES} verdicts"
    benches = [
        Bench("python hand-written (floor)", label, "verdicts", 0.0, floor_verdicts),
        Bench(
            "bitlocker-rules engine.verdicts (resolve + compiled)",
            label,
            "verdicts",
            load_ms,
            engine_verdicts,
            unwrap=lambda codes: codes[0],
        ),
        Bench(
            "engine.resolved only: scenarios + derived facts (extra)",
            "resolve",
            "scenario",
            load_ms,
            resolve,
            unwrap=lambda values: values.get(SCENARIO),
        ),
        Bench(
            "compiled verdicts only, values resolved beforehand (extra)",
            label,
            "verdicts",
            load_ms,
            verdicts,
            devices=resolved,
        ),
        Bench(
            "compiled only, over a Facts.values proxy (extra)", label, "verdicts", load_ms, verdicts, devices=proxied
        ),
        Bench(
            "engine.verdicts, scenario declared as by --rules (extra)",
            label,
            "declared",
            declaring_ms,
            declaring.verdicts,
            unwrap=lambda codes: codes[0],
        ),
    ]
    if not args.no_interpreter:
        benches.append(
            Bench(f"bitlocker-rules interpreter (resolve + .verdict x{N_RULES})", label, "verdicts", load_ms, interpret)
        )
    passes_ms = _timed_setup(lambda: engine.passes(facts[0]))[1]  # compiles the decision function
    decide_ms = _timed_setup(lambda: engine.decide(facts[0]))[1]
    benches += [
        Bench("python hand-written, combined (floor)", "1 decision", "ready", 0.0, floor_ready),
        Bench("bitlocker-rules compiled -> combined", "1 decision", "ready", load_ms, compiled_ready),
        Bench(
            "bitlocker-rules engine.passes (stops at the first rule not passing)",
            "1 decision",
            "ready",
            load_ms + passes_ms,
            engine.passes,
            devices=facts,
        ),
        Bench(
            "python hand-written, pass/fail/unknown (floor)", "1 decision, 3-valued", "decision", 0.0, floor_decision
        ),
        Bench(
            "bitlocker-rules engine.decide (stops at the first failing rule)",
            "1 decision, 3-valued",
            "decision",
            load_ms + decide_ms,
            engine.decide,
            devices=facts,
            unwrap=lambda decision: DECIDED[decision.status],
        ),
    ]
    missing_peers = []
    for label, build in () if args.no_peers else PEERS:
        try:
            built = build()
        except ImportError:
            missing_peers.append(label)
            continue
        benches.extend(built if isinstance(built, list) else [built])

    print(
        f"bitlocker-rules silent_enablement benchmark: {args.devices} devices (seed {args.seed}), "
        f"median of {args.repeat}; Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"generation and typing {gen_s:.2f} s (untimed); Engine.load {load_ms:.1f} ms")

    # --- timing, interleaved so that machine drift spreads over every engine
    for _ in range(args.repeat):
        for bench in benches:
            bench.run(devices)

    # --- verification against the floors
    want_codes = benches[0].results
    want_ready = [floor_ready(d) for d in devices]
    want_decision = [floor_decision(d) for d in devices]
    want_scenario = [floor_scenario(d) for d in devices]
    assert want_ready == [ready_from_codes(c) for c in want_codes], "the two floors disagree"
    assert want_decision == [decision_from_codes(c) for c in want_codes], "the decision floor disagrees"
    assert all(c == NOT_APPLICABLE for c, s in zip(want_codes, want_scenario) if s is False), (
        "the floor applies a rule out of its scenario"
    )
    # Declared, the scenario holds on every device whatever its values say.
    want_declared = [floor_verdicts({**d, SCENARIO: True}) for d in devices]
    per_rule_mismatches = {}
    for bench in benches:
        if bench.floor == "verdicts":
            per_rule_mismatches[bench.name] = check_codes(bench, want_codes, devices)
        elif bench.floor == "declared":
            per_rule_mismatches[bench.name] = check_codes(bench, want_declared, devices)
        elif bench.floor == "scenario":
            check_scenario(bench, want_scenario, devices)
        elif bench.floor == "decision":
            check_ready(bench, want_decision, devices)
        else:
            check_ready(bench, want_ready, devices)

    # --- what the devices exercise
    by_kind = Counter((k, ready) for k, ready in zip(kinds, want_ready))
    print(
        "devices: "
        + ", ".join(
            f"{k}: {by_kind[k, True] + by_kind[k, False]} ({by_kind[k, True]} ready)"
            for k in ("pass", "near miss", "random")
        )
    )
    states = {True: "in scope", False: "out of scope", None: "not known"}
    given = Counter((SCENARIO in d, want) for d, want in zip(devices, want_scenario))
    print(
        f"{SCENARIO}: "
        + ", ".join(
            f"{states[s]} {given[False, s] + given[True, s]} ({given[True, s]} given by the values)"
            for s in (True, False, None)
        )
    )
    names = ("pass", "fail", "unknown", "n/a")
    dist = [[rule, *(Counter(c[i] for c in want_codes)[code] for code in range(4))] for i, rule in enumerate(RULE_IDS)]
    print("verdicts per rule (floor):")
    print(tabulate(dist, headers=["rule", *names], tablefmt="simple"))

    # --- the table
    floors = {
        "verdicts": statistics.median(benches[0].times),
        "ready": statistics.median(next(b for b in benches if b.floor == "ready").times),
        "decision": statistics.median(next(b for b in benches if b.floor == "decision").times),
    }
    floors["scenario"] = floors["declared"] = floors["verdicts"]
    rows, figures = [], []
    for bench in benches:
        median = statistics.median(bench.times)
        ratio = median / floors[bench.floor]
        rows.append(
            [
                bench.name,
                bench.workload,
                bench.mode,
                f"{median:.4f}",
                f"{median / args.devices * 1e6:.2f}",
                f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.2f}x",
                f"{bench.setup_ms:.1f}",
                f"{min(bench.times):.4f}-{max(bench.times):.4f}",
                bench.mismatches,
            ]
        )
        figures.append(
            {
                "engine": bench.name,
                "workload": bench.workload,
                "mode": bench.mode,
                "total_s_median": median,
                "us_per_decision": median / args.devices * 1e6,
                "ratio_vs_floor": ratio,
                "floor": bench.floor,
                "setup_ms": bench.setup_ms,
                "min_s": min(bench.times),
                "max_s": max(bench.times),
                "times_s": bench.times,
                "mismatches": bench.mismatches,
            }
        )
    for label in missing_peers:
        rows.append([label, "1 decision", "", "not installed", "", "", "", "", ""])
        figures.append({"engine": label, "installed": False})
    print()
    print(
        tabulate(
            rows,
            headers=[
                "engine",
                "workload",
                "mode",
                "total s (median)",
                "us / decision",
                "vs floor",
                "setup ms",
                "min-max s",
                "mismatches",
            ],
            tablefmt="github",
            disable_numparse=True,
        )
    )
    print(
        f"vs floor: {N_RULES}-verdict rows and the resolve row against the hand-written {N_RULES}-verdict "
        "floor, which resolves the scenario by hand\n(the declared row is checked against the floor with the "
        "scenario given on every device, the resolve row on the scenario fact\nit gives); 1-decision rows "
        "against the hand-written combined floor; 3-valued rows against the hand-written pass/fail/unknown floor."
    )
    print(f"clock: {'time.process_time (CPU time of this process)' if args.clock == 'cpu' else 'time.perf_counter'}")

    compiled = next(f for f in figures if f["engine"].startswith("bitlocker-rules engine.verdicts"))
    only = next(f for f in figures if f["engine"].startswith("compiled verdicts only"))
    goal_compiled = compiled["ratio_vs_floor"] <= 1.5
    print(
        f"\ngoal compiled <= 1.5x floor: {'MET' if goal_compiled else 'NOT MET'} "
        f"(engine.verdicts, scenario resolution included: {compiled['ratio_vs_floor']:.2f}x; "
        f"the compiled function alone on resolved values: {only['ratio_vs_floor']:.2f}x)"
    )

    passes = next(f for f in figures if f["engine"].startswith("bitlocker-rules engine.passes"))
    decide = next(f for f in figures if f["engine"].startswith("bitlocker-rules engine.decide"))
    combined = next(f for f in figures if "compiled -> combined" in f["engine"])
    goal_passes = passes["ratio_vs_floor"] <= 1.2
    print(
        f"goal engine.passes <= 1.2x the combined floor: {'MET' if goal_passes else 'NOT MET'} "
        f"({passes['ratio_vs_floor']:.2f}x; engine.decide {decide['ratio_vs_floor']:.2f}x the pass/fail/unknown "
        f"floor; the verdicts then combined: {combined['ratio_vs_floor']:.2f}x)"
    )

    cli = None
    if not args.no_cli:
        cli = time_cli(args.cli_runs)
        c, warm, bare = cli["check"], cli["check, bytecode cached"], cli["python -c pass"]
        goal_cli = c["median_ms"] < 300
        dont = cli["PYTHONDONTWRITEBYTECODE"]
        print(f"\nCLI `{cli['command']}`, median of {args.cli_runs} runs after 1 discarded:")
        print(
            f"  as this environment runs it{' (PYTHONDONTWRITEBYTECODE=' + dont + ')' if dont else ''}: "
            f"{c['median_ms']:.0f} ms (min {c['min_ms']:.0f}, max {c['max_ms']:.0f}, exit {c['exit_codes']})"
        )
        print(
            f"  with a bytecode cache (as an installed wheel): {warm['median_ms']:.0f} ms "
            f"(min {warm['min_ms']:.0f}, max {warm['max_ms']:.0f})"
        )
        print(f"  `python -c pass` on this machine: {bare['median_ms']:.0f} ms")
        print(f"goal CLI check < 300 ms: {'MET' if goal_cli else 'NOT MET'} ({c['median_ms']:.0f} ms)")

    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "devices": args.devices,
                    "repeat": args.repeat,
                    "seed": args.seed,
                    "python": platform.python_version(),
                    "machine": platform.machine(),
                    "cpus": os.cpu_count(),
                    "engine_load_ms": load_ms,
                    "generation_s": gen_s,
                    "clock": args.clock,
                    "rows": figures,
                    "per_rule_mismatches": per_rule_mismatches,
                    "cli": cli,
                    "verdict_distribution": {r[0]: dict(zip(names, r[1:])) for r in dist},
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"figures written to {args.json}")
    bad = any(b.mismatches for b in benches)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
