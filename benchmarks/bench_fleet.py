"""Benchmark: a fleet of devices through every shipped ruleset, against a hand-written floor.

    python benchmarks/bench_fleet.py [--devices 100000] [--sizes 10000,100000] [--jobs 1]
                                     [--formats json,jsonl,text,markdown,html,sarif,junit]
                                     [--policy examples/policy-silent.json] [--seed N]
                                     [--repeat 3] [--repeat-large 1] [--no-cli] [--profile]
                                     [--tracemalloc] [--raw FILE]

What it does (see benchmarks/README.md, section ``bench_fleet.py``, for how to read it):

1. Generates seeded devices as JSON Lines in a temporary folder, one file per size (the
   smaller files are prefixes of the largest): the project's own device rows
   ``{"id", "deviceName", "facts": {...}}`` with fact names from the vocabulary; a third are
   built to pass every rule their device facts decide, a third are near misses (one fact
   off, or missing), a third are random (each fact may be missing; some rows carry action,
   actor (roles included) and tenant facts).
   Generation is not timed.
2. Verifies, on every device of the largest file, that the hand-written floor's typed values
   (built-in role grants included), scenario states and verdicts equal what the tool computes
   (``fleet_device`` + ``merge_facts``, ``engine.resolved``, ``engine.verdicts``); the same on
   the first ``VARIANT_DEVICES`` devices with nine other policies (silent enablement out of
   scope and not known, other rotation settings, profile types and conflicts); and that the
   per-rule counts of every timed run equal the floor's.
3. Times, in a fresh subprocess per run (so peak memory is per run), round-robin:
   - floor: read the file line by line with ``json.loads``, type the raw values with a
     hand-written converter (versions through ``parse_windows_version``) and the built-in role
     grants by hand, run a hand-written Python check of all 77 rules of the 8 shipped rulesets
     (codes 0 pass, 1 fail, 2 unknown, 3 not applicable, Kleene logic; the scenarios inferred
     and the OS build revision derived by hand, as ``Engine.resolved`` does; disputed failures
     and unconfirmed passes reported unknown), count verdicts per rule;
   - floor (extra): the same with ``vocabulary.parse_value`` as the converter;
   - tool: ``read_fleet`` + ``evaluate_fleet(rows, engine, policy, reader=fleet_device)``,
     the path of ``bitlocker-rules check --fleet`` (explanations memoised), no output;
   - tool + JSON Lines (extra): the same with ``write=write_jsonl(/dev/null)`` through the
     command line's masking stream and ``encode=json_text``, what the command does with ``--jsonl``;
   - the command line: ``python -m bitlocker_rules check --fleet FILE --policy POLICY
     --format FORMAT --jobs J``, wall time, started from cached bytecode as an installed package
     is (``cache_bytecode``), for each of ``--formats`` (``jsonl`` is
     ``--format json --jsonl /dev/null``; the report of the other formats is written to a
     temporary file and its size kept), with ``--jobs 1`` and ``--jobs N`` (N = ``--jobs``
     when above 1, else 2);
   - the machine's ceiling for ``--jobs N`` (with ``json`` among ``--formats``): N independent
     commands, ``--format json --jobs 1``, each on 1/N of the fleet (consecutive lines, split
     before timing), started together; wall time until the last ends. Its speed-up over json's
     ``--jobs 1`` is what this moment's machine gives N processes, nothing of ``--jobs`` in it.
4. Prints devices per second, the ratio to the floor, and memory per run (then, per format, the
   command's speed-up from ``--jobs 1`` to ``--jobs N`` and its report's bytes per device): peak RSS, its growth
   over the RSS before the first row, the growth of live Python memory blocks (sampled every
   1,000 rows) and the engine's memo size; with ``--tracemalloc`` also the tracemalloc peak
   (separate untimed runs, about 5x slower). Then a per-stage breakdown of the tool's time
   and, with ``--profile`` or when the tool misses the 2x goal, a cProfile of the tool on the
   smallest size.

The exit code is 1 when the floor and the tool disagree on a typed value, a scenario, a verdict
or a per-rule count, else 0.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import itertools
import json
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
try:  # a checkout without `pip install -e .` still runs
    import bitlocker_rules  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT))

from bitlocker_rules.versions import parse_windows_version  # noqa: E402

DEFAULT_POLICY = ROOT / "examples" / "policy-silent.json"
GOAL_RATIO = 2.0

# ---------------------------------------------------------------------------------------------
# The floor: typing raw values by hand.


def make_converters(vocabulary) -> dict[str, Callable[[Any], Any]]:
    """One hand-written converter per fact, the same conversions as ``vocabulary.parse_typed``."""
    releases = vocabulary.releases

    def boolean(raw):
        if raw is True or raw is False:
            return raw
        if isinstance(raw, str):
            folded = raw.strip().lower()
            if folded == "true":
                return True
            if folded == "false":
                return False
        raise ValueError("true or false")

    def integer(raw):
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            return int(raw)
        raise ValueError("an integer")

    def decimal(raw):
        if isinstance(raw, bool):
            raise ValueError("a number")
        return float(raw)

    def string(raw):
        if not isinstance(raw, str):
            raise ValueError("a string")
        return raw

    def version(raw):
        return parse_windows_version(raw, releases)

    def enum(members):
        exact = {m: m for m in members}
        folded = {m.lower(): m for m in members}

        def convert(raw):
            try:
                return exact[raw]
            except (KeyError, TypeError):
                if isinstance(raw, str) and raw.lower() in folded:
                    return folded[raw.lower()]
                raise ValueError(f"one of {', '.join(members)}") from None

        return convert

    def scalar(ftype):
        if ftype.kind == "enum":
            return enum(ftype.enum.member_names)
        return {"bool": boolean, "integer": integer, "decimal": decimal, "string": string, "version": version}[
            ftype.kind
        ]

    def collection(fields):
        def convert(raw):
            return tuple(MappingProxyType({k: fields[k](v) for k, v in item.items() if v is not None}) for item in raw)

        return convert

    converters = {}
    for name, fact in vocabulary.facts.items():
        if fact.type.kind == "collection":
            converters[name] = collection({f.name: scalar(f.type) for f in fact.type.fields})
        else:
            converters[name] = scalar(fact.type)
    return converters


def vocabulary_converters(vocabulary) -> dict[str, Callable[[Any], Any]]:
    """The extra floor's converters: the library's own ``vocabulary.parse_value``."""
    return {name: (lambda raw, fact=fact: vocabulary.parse_value(fact, raw)) for name, fact in vocabulary.facts.items()}


# Built-in role grants (the vocabulary's [[grants]]), set by init_grants: per permissions fact,
# the roles facts that grant into it, the roles each lists (casefolded), and the grants in file
# order as (roles fact, role casefolded, permissions).
GRANTS: list[tuple[str, dict[str, frozenset[str]], tuple[tuple[str, str, tuple[str, ...]], ...]]] = []
ROLE_FACTS: tuple[str, ...] = ()


def init_grants(vocabulary) -> None:
    """The grants table, read once from the vocabulary (data, like the release names)."""
    global ROLE_FACTS
    GRANTS.clear()
    for permissions_fact in dict.fromkeys(g.permissions_fact for g in vocabulary.grants):
        grants = tuple(
            (g.roles_fact, g.role.casefold(), tuple(g.permissions))
            for g in vocabulary.grants
            if g.permissions_fact == permissions_fact
        )
        listed = {fact: frozenset(role for f, role, _ in grants if f == fact) for fact, _, _ in grants}
        GRANTS.append((permissions_fact, listed, grants))
    ROLE_FACTS = tuple(dict.fromkeys(g.roles_fact for g in vocabulary.grants))


def grant(values: dict[str, Any]) -> None:
    """What built-in roles give, by hand: a role named (case and surrounding spaces aside) adds
    its permissions to those given; when no permissions were given and every roles fact granting
    into them is given and names only listed roles, the permissions are exactly the granted ones
    (a closed list, possibly empty). Otherwise a permissions fact nobody gave stays missing."""
    for permissions_fact, listed, grants in GRANTS:
        named: dict[str, set] = {}
        closed = True
        for roles_fact, roles in listed.items():
            records = values.get(roles_fact)
            names = named[roles_fact] = {
                r.get("name").strip().casefold() if isinstance(r.get("name"), str) else None for r in records or ()
            }
            if records is None or not names <= roles:
                closed = False
        given = values.get(permissions_fact)
        held = tuple(given) if given else ()
        have = {str(r.get("name", "")).casefold() for r in held}
        added = [
            p
            for p in dict.fromkeys(p for fact, role, permissions in grants if role in named[fact] for p in permissions)
            if p.casefold() not in have
        ]
        if added or (closed and given is None):
            values[permissions_fact] = held + tuple(MappingProxyType({"name": p}) for p in added)


def typed_device(
    facts: Mapping[str, Any], convert: Mapping[str, Callable[[Any], Any]], base: Mapping[str, Any]
) -> dict[str, Any]:
    """The policy's typed values plus this device's (bare names are device facts), with what
    the actor's built-in roles grant."""
    values = dict(base)
    for key, raw in facts.items():
        if raw is None:
            continue
        name = key if "." in key else "device." + key
        values[name] = convert[name](raw)
    for roles_fact in ROLE_FACTS:
        if roles_fact in values:
            grant(values)
            break
    return values


# ---------------------------------------------------------------------------------------------
# The floor: every rule of every shipped ruleset, by hand.

RULE_IDS = (
    # encryption_readiness
    "ER-01",
    "ER-02",
    "ER-03",
    "ER-04",
    "ER-05",
    "ER-06",
    "ER-07",
    "ER-08",
    "ER-09",
    "ER-10",
    "ER-11",
    "ER-16",
    "ER-12",
    "ER-13",
    "ER-14",
    "ER-15",
    "ER-30",
    "ER-32",
    "ER-31",
    "ER-17",
    "ER-18",
    "ER-19",
    "ER-20",
    "ER-21",
    "ER-22",
    "ER-23",
    "ER-24",
    "ER-25",
    "ER-26",
    "ER-27",
    "ER-28",
    # key_rotation
    "KR-01",
    "KR-02",
    "KR-03",
    "KR-04",
    "KR-05",
    "KR-06",
    "KR-07",
    "KR-08",
    "KR-09",
    "KR-10",
    # permissions
    "PM-01",
    "PM-02",
    "PM-03",
    "PM-04",
    "PM-05",
    # platform_support
    "PS-01",
    "PS-02",
    "PS-03",
    "PS-04",
    # policy_types
    "PT-02",
    "PT-03",
    "PT-04",
    "PT-05",
    # recovery_keys
    "RK-01",
    "RK-02",
    "RK-03",
    "RK-04",
    "RK-05",
    "RK-06",
    "RK-07",
    "RK-08",
    # silent_enablement
    "SE-00",
    "SE-01",
    "SE-02",
    "SE-03",
    "SE-04",
    "SE-05",
    "SE-06",
    "SE-07",
    "SE-08",
    "SE-09",
    "SE-10",
    "SE-11",
    # tenant_attach
    "TA-01",
    "TA-02",
    "TA-03",
)
N_RULES = len(RULE_IDS)

V1703 = V1803 = V1809 = V1903 = V1909 = V24H2 = None  # release constants, set by init_floor

# Code of a rule without `when`, from its requirement's truth value (True / False / None).
R = {True: 0, False: 1, None: 2}
# Code of a rule with `when`: W[(when, requirement)].
W = {
    (True, True): 0,
    (True, False): 1,
    (True, None): 2,
    (False, True): 3,
    (False, False): 3,
    (False, None): 3,
    (None, True): 0,
    (None, False): 2,
    (None, None): 2,
}
# A rule about a scenario applies when `scenario.<name> == true and <when>` (Kleene). With the
# scenario in scope that is the `when` alone (R, W); out of scope the rule never applies; with
# the scenario not known a false requirement gives unknown instead of fail (what W gives for an
# unknown `when`), a `when` known false still not applicable. Each group of rules about one
# scenario reads its codes from the pair of tables for the device's state of that scenario.
R_UNKNOWN = {True: 0, False: 2, None: 2}
W_UNKNOWN = {key: (2 if code == 1 else code) for key, code in W.items()}
R_OUT = dict.fromkeys(R, 3)
W_OUT = dict.fromkeys(W, 3)
SCOPE = {True: (R, W), False: (R_OUT, W_OUT), None: (R_UNKNOWN, W_UNKNOWN)}
# `disputed` (a failure is reported unknown) and `unconfirmed` (a pass is reported unknown).
DISPUTED = (0, 2, 2, 3)
UNCONFIRMED = (2, 1, 2, 3)

JOINED = frozenset({"AzureADJoined", "HybridAzureADJoined"})
ROTATION_AAD = frozenset({"AzureAD", "AzureADAndHybrid"})
ROTATION_OFF = frozenset({"NotConfigured", "Disabled"})
REMOTE_ENROLLMENTS = frozenset(
    {"WindowsAzureADJoin", "WindowsBulkAzureDomainJoin", "WindowsAzureADJoinUsingDeviceAuth", "WindowsCoManagement"}
)
KB_1809 = frozenset({"KB4497934", "kb4497934"})
BACKUP_ERROR = frozenset({"0x80072f9a", "0x80072F9A"})
ROTATION_FAILED = frozenset({856, 858, 859})
BACKUP_FAILED = frozenset({846, 847})
ROTATION_OK = frozenset({0, 1, 2})
ROTATE_PERMISSIONS = frozenset({"Rotate BitLocker Keys", "Rotate BitLockerKeys (preview)"})
TPM_USABLE = frozenset({"Allowed", "Required"})


def init_floor(vocabulary) -> None:
    """The release constants the rules compare with (resolved once, like the checker does), and
    the built-in role grants the hand typing applies."""
    global V1703, V1803, V1809, V1903, V1909, V24H2
    init_grants(vocabulary)
    rel = vocabulary.releases
    V1703, V1803, V1809, V1903, V1909 = (rel[k] for k in ("1703", "1803", "1809", "1903", "1909"))
    V24H2 = rel["Windows 11 24H2"]


def _and(*xs):
    """Kleene conjunction: False if any is False, else None if any is None, else True."""
    if False in xs:  # `in` uses ==, and 0 == False: operands are only True / False / None here
        return False
    return None if None in xs else True


def _or(*xs):
    """Kleene disjunction."""
    if True in xs:
        return True
    return None if None in xs else False


def _not(x):
    return None if x is None else not x


def _all(items, key, test):
    """`all x in items: test(x.key)`, the item's field None when missing; test gets a non-None."""
    if items is None:
        return None
    result = True
    for item in items:
        value = item.get(key)
        if value is None:
            result = None
        elif not test(value):
            return False
    return result


def _any(items, key, test):
    if items is None:
        return None
    result = False
    for item in items:
        value = item.get(key)
        if value is None:
            result = None
        elif test(value):
            return True
    return result


def _no_detail(details, detail):
    """`all d in device.encryption_status_details: d.detail != detail`."""
    if details is None:
        return None
    result = True
    for item in details:
        value = item.get("detail")
        if value is None:
            result = None
        elif value == detail:
            return False
    return result


def _error_free(events):
    """ER-13: `all e in events: e.error_code is missing or e.error_code not in {...}`."""
    if events is None:
        return None
    for item in events:
        code = item.get("error_code")
        if code is not None and code in BACKUP_ERROR:
            return False
    return True


def floor_scenarios(v: Mapping[str, Any]) -> tuple[bool | None, bool | None, bool | None]:
    """scenario.silent_enablement, .key_rotation and .tenant_attach (None: not known), inferred
    as rulesets/vocabulary.toml's [scenarios] say (nothing is declared in a fleet run, and a
    fleet row cannot give a scenario fact). For the verification; floor_check inlines it."""
    g = v.get
    warn, action, rotation, join = (
        g("policy.warning_for_other_disk_encryption"),
        g("action.kind"),
        g("policy.recovery_password_rotation"),
        g("device.join_type"),
    )
    silent = None
    if warn == "Block":
        silent = True
    elif warn is not None and "Required" in (
        g("policy.tpm_startup_pin"),
        g("policy.tpm_startup_key"),
        g("policy.tpm_startup_key_and_pin"),
    ):
        silent = False  # interactive_startup is inferred, and it excludes silent_enablement
    if action == "RotateKeys":
        rotating = True
    elif rotation is None:
        rotating = None
    elif rotation in ROTATION_OFF:
        rotating = False
    elif rotation == "AzureAD":
        rotating = None if join is None else join == "AzureADJoined"
    else:
        rotating = None if join is None else join in JOINED
    return silent, rotating, (None if action is None else action == "ReadTenantAttachedKey")


def floor_check(v: Mapping[str, Any]) -> tuple[int, ...]:
    """The 77 verdict codes of every shipped rule, in ``RULE_IDS`` order."""
    g = v.get
    # --- facts
    os_version = g("device.os_version")
    os_edition = g("device.os_edition")
    join = g("device.join_type")
    enrollment = g("device.enrollment_type")
    role = g("device.user_role")
    tpm_present = g("device.tpm_present")
    tpm_version = g("device.tpm_version")
    tpm_ready = g("device.tpm_ready")
    firmware = g("device.firmware_mode")
    secure_boot = g("device.secure_boot")
    winre = g("device.winre_configured")
    bootable = g("device.bootable_media_present")
    network = g("device.network_available")
    ntfs = g("device.os_drive_ntfs")
    system_mb = g("device.system_partition_mb")
    pcr7_profile = g("device.pcr7_in_validation_profile")
    pcr7_binding = g("device.pcr7_binding_supported")
    dma = g("device.unallowed_dma_buses")
    autopilot = g("device.autopilot_enrolled")
    encrypted = g("device.encrypted")
    os_method = g("device.os_volume_encryption_method")
    protection = g("device.os_volume_protection_status")
    readiness = g("device.encryption_readiness")
    details = g("device.encryption_status_details")
    keys = g("device.recovery_keys")
    events = g("device.bitlocker_events")
    updates = g("device.installed_updates")
    rotation_status = g("device.rotate_recovery_passwords_status")
    revision = g("device.os_build_revision")
    action = g("action.kind")
    intune_roles = g("actor.intune_roles")
    intune_permissions = g("actor.intune_permissions")
    entra_permissions = g("actor.entra_permissions")
    configmgr_permissions = g("actor.configmgr_collection_permissions")
    onprem_user = g("actor.has_onprem_user")
    attach = g("tenant.tenant_attach_configured")
    site = g("tenant.configmgr_site_version")
    kb11121541 = g("tenant.configmgr_kb11121541_installed")
    p_type = g("policy.policy_type")
    p_require = g("policy.require_device_encryption")
    p_warning = g("policy.warning_for_other_disk_encryption")
    p_standard = g("policy.allow_standard_user_encryption")
    p_os_method = g("policy.os_encryption_method")
    p_tpm = g("policy.tpm_startup")
    p_pin = g("policy.tpm_startup_pin")
    p_key = g("policy.tpm_startup_key")
    p_key_pin = g("policy.tpm_startup_key_and_pin")
    p_block_no_tpm = g("policy.block_without_compatible_tpm")
    p_startup_auth = g("policy.additional_authentication_at_startup")
    p_removable_write = g("policy.removable_unprotected_write_access")
    p_rotation = g("policy.recovery_password_rotation")
    p_os_save = g("policy.os_save_recovery_to_azure_ad")
    p_os_backup_first = g("policy.os_require_recovery_backup_before_enabling")
    p_os_password = g("policy.os_recovery_password_usage")
    p_fdv_save = g("policy.fdv_save_recovery_to_azure_ad")
    p_fdv_backup_first = g("policy.fdv_require_recovery_backup_before_enabling")
    p_methods = g("policy.configure_encryption_methods")
    p_message_and_url = g("policy.preboot_recovery_message_and_url")

    # --- the derived fact: the OS build revision is the version's fourth number (0: not known)
    if revision is None and os_version is not None and os_version.revision:
        revision = os_version.revision

    # --- the scenarios (see floor_scenarios), as the tables of their rules' codes
    pin_required = None if p_pin is None else p_pin == "Required"
    key_required = None if p_key is None else p_key == "Required"
    key_pin_required = None if p_key_pin is None else p_key_pin == "Required"
    if p_warning == "Block":
        Rs, Ws = R, W
    elif p_warning is not None and (pin_required or key_required or key_pin_required):
        Rs, Ws = R_OUT, W_OUT  # interactive_startup inferred: it excludes silent_enablement
    else:
        Rs, Ws = R_UNKNOWN, W_UNKNOWN
    if action == "RotateKeys":
        Rk, Wk = R, W
    elif p_rotation is None:
        Rk, Wk = R_UNKNOWN, W_UNKNOWN
    elif p_rotation in ROTATION_OFF:
        Rk, Wk = R_OUT, W_OUT
    else:  # AzureAD covers Microsoft Entra joined devices, AzureADAndHybrid hybrid joined ones too
        Rk, Wk = SCOPE[
            None if join is None else (join == "AzureADJoined" if p_rotation == "AzureAD" else join in JOINED)
        ]
    Rt, Wt = SCOPE[None if action is None else action == "ReadTenantAttachedKey"]

    # --- atoms shared by several rules (None when a fact is missing)
    nv = os_version is None
    ge_1803 = None if nv else os_version >= V1803
    ge_1809 = None if nv else os_version >= V1809
    administrator = None if role is None else role == "Administrator"
    standard_user = None if role is None else role == "StandardUser"
    silent_policy = _and(
        None if p_require is None else p_require == "Require", None if p_warning is None else p_warning == "Block"
    )
    report = details is not None
    no_pin = _not(pin_required)
    no_key = _not(key_required)
    no_key_pin = _not(key_pin_required)
    tpm_12 = _and(tpm_present, None if tpm_version is None else tpm_version >= 1.2)
    joined = None if join is None else join in JOINED
    aad_joined = None if join is None else join == "AzureADJoined"
    standard_allowed = None if p_standard is None else p_standard == "Allow"
    same_method = None if (os_method is None or p_os_method is None) else os_method == p_os_method
    cipher_policy = _and(encrypted, None if p_os_method is None else p_os_method != "NotConfigured")
    xts128 = None if os_method is None else os_method == "XtsAes128"
    autopilot_default = _and(autopilot, xts128)
    not_autopilot_default = _or(
        None if autopilot is None else autopilot is False, None if xts128 is None else not xts128
    )
    has_events = events is not None
    rotating = action == "RotateKeys"  # `action.kind is present and action.kind == ...`: never unknown
    reading_key = action == "ReadRecoveryKey"
    deleting = action == "DeleteAzureADObject"
    key_count = None if keys is None else len(keys)
    below_200 = None if key_count is None else key_count < 200
    custom = None if p_type is None else p_type == "CustomOmaUri"
    tpm_required = None if p_tpm is None else p_tpm == "Required"
    no_pin_allowed = None if p_pin is None else p_pin != "Allowed"
    no_key_allowed = None if p_key is None else p_key != "Allowed"

    # ER-19: if standard_user then os >= 1809 else os >= 1803
    if standard_user is True:
        er19 = ge_1809
    elif standard_user is False:
        er19 = ge_1803
    else:
        er19 = True if (ge_1809 is True and ge_1803 is True) else None
    # ER-31: at most one startup authentication option is required
    er31 = _and(
        _not(_and(tpm_required, _or(pin_required, key_required, key_pin_required))),
        _not(_and(pin_required, _or(key_required, key_pin_required))),
        _not(_and(key_required, key_pin_required)),
    )

    return (
        # encryption_readiness
        Rs[tpm_present],
        W[report, _no_detail(details, "TpmNotAvailable")],
        Ws[tpm_present, tpm_ready],
        W[report, _no_detail(details, "TpmNotReady")],
        Rs[None if bootable is None else bootable is False],
        Rs[winre],
        W[report, _no_detail(details, "WindowsRecoveryEnvironmentNotConfigured")],
        Rs[None if firmware is None else firmware == "UEFI"],
        Rs[None if secure_boot is None else secure_boot == "On"],
        Rs[pcr7_profile],
        Rs[pcr7_binding],
        Ws[None if nv else os_version < V24H2, None if dma is None else dma is False],
        Ws[
            _and(ge_1809, None if nv else os_version < V1903, standard_allowed),
            _or(None if revision is None else revision >= 529, _any(updates, "kb", KB_1809.__contains__)),
        ],
        W[has_events, _error_free(events)],
        R[
            _or(
                None if p_os_password is None else p_os_password != "Blocked",
                None if p_os_backup_first is None else p_os_backup_first != "Required",
            )
        ],
        Rs[_and(no_pin, no_key, no_key_pin)],
        Ws[
            _and(
                None if p_removable_write is None else p_removable_write == "Block",
                None if p_startup_auth is None else p_startup_auth == "Require",
            ),
            _and(None if p_key is None else p_key == "Blocked", None if p_key_pin is None else p_key_pin == "Blocked"),
        ],
        DISPUTED[Rs[_and(no_pin_allowed, no_key_allowed)]],
        R[er31],
        Ws[standard_user, standard_allowed],
        W[report, _no_detail(details, "LoggedOnUserNonAdmin")],
        Rs[er19],
        W[_and(cipher_policy, not_autopilot_default), same_method],
        W[_and(cipher_policy, autopilot_default), same_method],
        W[report, _no_detail(details, "OsVolumeEncryptionMethodMismatch")],
        Rs[network],
        W[report, _no_detail(details, "NetworkError")],
        Rs[joined],
        R[ntfs],
        R[None if system_mb is None else system_mb >= 350],
        W[readiness is not None, None if readiness is None else readiness != "NotReady"],
        # key_rotation
        Rk[None if nv else os_version >= V1909],
        Wk[aad_joined, None if p_rotation is None else p_rotation in ROTATION_AAD],
        Wk[
            None if join is None else join == "HybridAzureADJoined",
            None if p_rotation is None else p_rotation == "AzureADAndHybrid",
        ],
        Wk[joined, None if p_os_save is None else p_os_save == "Enabled"],
        Wk[joined, None if p_os_backup_first is None else p_os_backup_first == "Required"],
        Wk[
            joined,
            _and(
                None if p_fdv_save is None else p_fdv_save == "Enabled",
                None if p_fdv_backup_first is None else p_fdv_backup_first == "Required",
            ),
        ],
        Wk[rotating, joined],
        Wk[rotating, None if enrollment is None else enrollment in REMOTE_ENROLLMENTS],
        Wk[has_events, _all(events, "event_id", lambda e: e not in ROTATION_FAILED)],
        Wk[rotation_status is not None, None if rotation_status is None else rotation_status in ROTATION_OK],
        # permissions
        W[rotating, _any(intune_permissions, "name", ROTATE_PERMISSIONS.__contains__)],
        W[reading_key, _any(entra_permissions, "name", lambda p: p == "microsoft.directory/bitlockerKeys/key/read")],
        UNCONFIRMED[Rt[None if intune_roles is None else len(intune_roles) >= 1]],
        Rt[onprem_user],
        Rt[_any(configmgr_permissions, "name", lambda p: p == "Read BitLocker Recovery Key")],
        # platform_support
        R[None if nv else os_version >= V1703],
        W[None if os_edition is None else os_edition == "Pro", ge_1809],
        R[None if os_edition is None else os_edition != "Home"],
        W[
            _or(
                tpm_required,
                pin_required,
                key_required,
                key_pin_required,
                None if p_block_no_tpm is None else p_block_no_tpm == "Block",
            ),
            tpm_12,
        ],
        # policy_types
        DISPUTED[Ws[silent_policy, None if p_type is None else p_type == "EndpointProtectionTemplate"]],
        Ws[None if p_type is None else p_type == "SecurityBaseline", _and(no_pin, no_key, no_key_pin)],
        W[
            _and(custom, None if p_methods is None else p_methods == "Enabled"),
            p_os_method is not None
            and g("policy.fixed_encryption_method") is not None
            and g("policy.removable_encryption_method") is not None,
        ],
        W[
            _and(custom, None if p_message_and_url is None else p_message_and_url == "Enabled"),
            g("policy.preboot_recovery_message_type") is not None
            and g("policy.preboot_recovery_message") is not None
            and g("policy.preboot_recovery_url") is not None,
        ],
        # recovery_keys
        W[reading_key, None if key_count is None else key_count >= 1],
        W[
            _and(reading_key, None if key_count is None else key_count >= 1),
            _any(keys, "volume_type", lambda t: t == "OperatingSystem"),
        ],
        R[below_200],
        W[below_200, None if key_count is None else key_count < 190],
        W[report, _no_detail(details, "RecoveryKeyBackupFailed")],
        W[has_events, _all(events, "event_id", lambda e: e not in BACKUP_FAILED)],
        W[_and(deleting, aad_joined), None if protection is None else protection != "On"],
        W[encrypted, None if protection is None else protection != "Suspended"],
        # silent_enablement
        Rs[None if p_require is None else p_require == "Require"],
        Ws[administrator, ge_1803],
        Ws[standard_user, ge_1809],
        Rs[joined],
        Rs[tpm_12],
        Rs[None if firmware is None else firmware == "UEFI"],
        Rs[None if p_warning is None else p_warning == "Block"],
        Ws[_not(administrator), standard_allowed],
        Rs[None if p_tpm is None else p_tpm in TPM_USABLE],
        Rs[no_pin],
        Rs[no_key],
        Rs[no_key_pin],
        # tenant_attach
        Rt[attach],
        Rt[None if site is None else site >= 2107],
        Wt[_and(None if site is None else site == 2107, aad_joined), kb11121541],
    )


def run_floor(
    path: Path, policy_values: Mapping[str, Any], convert, probe: Callable[[int], None] | None = None
) -> list[list[int]]:
    """The floor over one JSON Lines file: per-rule counts of codes 0-3."""
    tallies = [[0, 0, 0, 0] for _ in RULE_IDS]
    check = floor_check
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            values = typed_device(row["facts"], convert, policy_values)
            for tally, code in zip(tallies, check(values)):
                tally[code] += 1
            if probe is not None:
                probe(number)
    return tallies


# ---------------------------------------------------------------------------------------------
# Devices.


def _version(rng: random.Random, good: bool) -> Any:
    if good:
        build, names = rng.choice(
            [
                (19044, ["21H2"]),
                (19045, ["22H2", "Windows 10 22H2"]),
                (22621, ["Windows 11 22H2"]),
                (22631, ["Windows 11 23H2", "Windows 11"]),
                (26100, ["Windows 11 24H2"]),
                (18363, ["1909"]),
                (19041, ["2004"]),
            ]
        )
    else:
        build, names = rng.choice(
            [(17134, ["1803"]), (17763, ["1809"]), (16299, ["1709"]), (14393, ["1607"]), (15063, ["1703"])]
        )
    form = rng.random()
    if form < 0.6:  # most inventories give the full build with a revision
        return f"10.0.{build}.{rng.choice((1, 2, 3, 376, 1000, 2033, 3593, 4291, 4412, 5011))}"
    if form < 0.8:
        return rng.choice(names)
    return build if form < 0.9 else str(build)


def _details(rng, good):
    if good:
        return rng.choice([[], [{"detail": "NoUserConsent"}], [{"detail": "FixedDriveNotEncrypted"}]])
    return [
        {
            "detail": rng.choice(
                [
                    "TpmNotAvailable",
                    "TpmNotReady",
                    "WindowsRecoveryEnvironmentNotConfigured",
                    "LoggedOnUserNonAdmin",
                    "OsVolumeEncryptionMethodMismatch",
                    "NetworkError",
                    "RecoveryKeyBackupFailed",
                ]
            )
        },
        *rng.choice([[], [{"detail": "NoUserConsent"}], [{}]]),
    ]


def _keys(rng, good):
    def key(i, kind):
        return {
            "key_id": f"{i:08x}-0000-4000-8000-{rng.randrange(16**12):012x}",
            "volume_type": kind,
            "created": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00Z",
        }

    if good:
        return [key(0, "OperatingSystem")] + [key(i, "FixedData") for i in range(1, rng.randint(1, 3))]
    shape = rng.random()
    if shape < 0.4:
        return []
    if shape < 0.8:
        return [key(0, rng.choice(["FixedData", "RemovableData"]))]
    return [key(i, "OperatingSystem") for i in range(rng.choice((195, 200, 201)))]


def _events(rng, good):
    if good:
        return rng.choice([[{"event_id": 845}], [{"event_id": 768}, {"event_id": 845, "error_code": "0x0"}]])
    return [
        rng.choice(
            [
                {"event_id": 846, "error_code": "0x80072f9a"},
                {"event_id": 851, "error_code": "0x80072F9A"},
                {"event_id": 858},
                {"event_id": 847},
                {"event_id": 856},
                {},
            ]
        )
    ]


# Device facts: fact name -> (passing raw values, failing raw values); a callable draws a value.
DEVICE_FACTS: dict[str, tuple[Any, Any]] = {
    "os_version": (lambda r: _version(r, True), lambda r: _version(r, False)),
    "os_edition": (["Enterprise", "Education", "Pro", "enterprise", "ProForWorkstations"], ["Home"]),
    "join_type": (["AzureADJoined", "HybridAzureADJoined", "azureadjoined"], ["AzureADRegistered", "NotJoined"]),
    "enrollment_type": (
        ["WindowsAzureADJoin", "WindowsCoManagement", "WindowsBulkAzureDomainJoin"],
        ["UserEnrollment", "WindowsAutoEnrollment"],
    ),
    "user_role": (["Administrator", "StandardUser", "standarduser"], ["StandardUser"]),
    "tpm_present": ([True, "true"], [False]),
    "tpm_version": ([2.0, 2, "2.0", 1.2], [1.0, "1.0"]),
    "tpm_ready": ([True], [False, "false"]),
    "firmware_mode": (["UEFI", "uefi"], ["LegacyBIOS"]),
    "secure_boot": (["On"], ["Off", "Unsupported"]),
    "winre_configured": ([True, "true"], [False]),
    "bootable_media_present": ([False, "false"], [True]),
    "network_available": ([True], [False]),
    "os_drive_ntfs": ([True], [False]),
    "system_partition_mb": ([500, 529, "350", 1024], [100, "260"]),
    "pcr7_in_validation_profile": ([True], [False]),
    "pcr7_binding_supported": ([True], [False]),
    "unallowed_dma_buses": ([False], [True]),
    "autopilot_enrolled": ([True, False], [True]),
    "encrypted": ([True, False], [True]),
    "os_volume_encryption_method": (["XtsAes256"], ["XtsAes128", "AesCbc128"]),
    "os_volume_protection_status": (["On", "Off"], ["Suspended"]),
    "encryption_readiness": (["Ready", "NotApplicable"], ["NotReady"]),
    "encryption_status_details": (lambda r: _details(r, True), lambda r: _details(r, False)),
    "recovery_keys": (lambda r: _keys(r, True), lambda r: _keys(r, False)),
    "bitlocker_events": (lambda r: _events(r, True), lambda r: _events(r, False)),
    "installed_updates": (lambda r: [{"kb": "KB4497934"}, {"kb": "KB5034441"}], lambda r: [{"kb": "KB5034441"}]),
    "rotate_recovery_passwords_status": ([0, 1, 2], [3, 4, 5]),
    "user_has_bitlocker_management_license": ([True], [False]),
    "os_build_revision": ([529, 2033, "4291"], [1, 376]),  # else derived from a four-number version
}
# Facts most inventories do not carry: present in a passing device with this probability.
OPTIONAL = {
    "encryption_status_details": 0.5,
    "recovery_keys": 0.7,
    "bitlocker_events": 0.3,
    "installed_updates": 0.2,
    "rotate_recovery_passwords_status": 0.2,
    "encryption_readiness": 0.5,
    "enrollment_type": 0.6,
    "autopilot_enrolled": 0.5,
    "user_has_bitlocker_management_license": 0.3,
    "os_build_revision": 0.05,
}
# Action, actor and tenant facts (random devices only).
OTHER_FACTS: dict[str, list[Any]] = {
    "action.kind": ["RotateKeys", "ReadRecoveryKey", "ReadTenantAttachedKey", "DeleteAzureADObject"],
    "actor.intune_permissions": [
        [{"name": "Rotate BitLocker Keys"}],
        [{"name": "View BitLocker keys"}],
        [{"name": "Wipe"}],
        [],
    ],
    "actor.entra_permissions": [[{"name": "microsoft.directory/bitlockerKeys/key/read"}], []],
    "actor.configmgr_collection_permissions": [[{"name": "Read BitLocker Recovery Key"}], [{"name": "Read"}]],
    "actor.has_onprem_user": [True, False],
    # Built-in roles grant permissions (the vocabulary's [[grants]], a closed list); a custom role does not.
    "actor.intune_roles": [
        [{"name": "Help Desk Operator"}],
        [{"name": "Read Only Operator"}],
        [{"name": " help desk operator"}, {"name": "School Administrator"}],
        [{"name": "BitLocker custom role"}],
        [],
    ],
    "actor.entra_roles": [
        [{"name": "Cloud Device Administrator"}],
        [{"name": "Security Operator"}],
        [{"name": "Global Administrator"}],
        [{"name": "Custom directory role"}],
        [],
    ],
    "tenant.tenant_attach_configured": [True, False],
    "tenant.configmgr_site_version": [2107, 2203, 2010, "2107"],
    "tenant.configmgr_kb11121541_installed": [True, False],
}


def _draw(rng: random.Random, choices: Any) -> Any:
    return choices(rng) if callable(choices) else rng.choice(choices)


def _passing(rng: random.Random) -> dict[str, Any]:
    facts = {}
    for name, (good, _) in DEVICE_FACTS.items():
        if rng.random() < OPTIONAL.get(name, 1.0):
            facts[name] = _draw(rng, good)
    if facts.get("encrypted") is True:  # every rule passes: the OS key is escrowed, the report agrees
        facts["recovery_keys"] = _keys(rng, True)
        facts["os_volume_encryption_method"] = "XtsAes256"
        facts["autopilot_enrolled"] = False
    return facts


def _near_miss(rng: random.Random) -> dict[str, Any]:
    facts = _passing(rng)
    name = rng.choice(list(DEVICE_FACTS))
    if rng.random() < 0.25:
        facts.pop(name, None)
    else:
        facts[name] = _draw(rng, DEVICE_FACTS[name][1])
    return facts


def _random(rng: random.Random) -> dict[str, Any]:
    facts = {}
    for name, (good, bad) in DEVICE_FACTS.items():
        if rng.random() < 0.15 + (1 - OPTIONAL.get(name, 1.0)) * 0.7:
            continue
        facts[name] = _draw(rng, good if rng.random() < 0.6 else bad)
    # An action in a fifth of the rows; the actor and tenant facts mostly come with one.
    action = rng.random() < 0.2
    for name, choices in OTHER_FACTS.items():
        if name == "action.kind":
            if action:
                facts[name] = rng.choice(choices)
        elif rng.random() < (0.6 if action else 0.1):
            facts[name] = rng.choice(choices)
    return facts


def generate(sizes: list[int], seed: int, folder: Path) -> dict[int, Path]:
    """One JSON Lines file per size; each smaller file is a prefix of the larger ones."""
    rng = random.Random(seed)
    paths = {n: folder / f"fleet-{n}.jsonl" for n in sizes}
    # One file per size, all open at once (a with per file cannot hold them); closed in the finally below.
    handles = {n: open(p, "w", encoding="utf-8") for n, p in paths.items()}  # noqa: SIM115
    makers = (_passing, _near_miss, _random)
    try:
        for i in range(max(sizes)):
            kind = makers[i % 3]
            row = {
                "id": f"{rng.randrange(16**8):08x}-{i:04x}-4000-8000-{rng.randrange(16**12):012x}",
                "deviceName": f"CONTOSO-{rng.choice(('LT', 'DT', 'SF'))}-{i:06d}",
                "facts": kind(rng),
            }
            line = json.dumps(row) + "\n"
            for n, handle in handles.items():
                if i < n:
                    handle.write(line)
    finally:
        for handle in handles.values():
            handle.close()
    return paths


# ---------------------------------------------------------------------------------------------
# One timed run in a fresh process (``--child MODE FILE POLICY``).


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child(mode: str, path: Path, policy: Path, trace: bool) -> dict[str, Any]:
    from bitlocker_rules.cli.output import REPORT_FILE_BUFFER, ShownStream
    from bitlocker_rules.fleet import evaluate_fleet, fleet_device, json_text, read_fleet, write_jsonl
    from bitlocker_rules.fleet.job import fleet_engine

    engine, policy_facts = fleet_engine(None, (str(policy),))
    if mode.startswith("floor"):
        init_floor(engine.vocabulary)
        convert = (make_converters if mode == "floor" else vocabulary_converters)(engine.vocabulary)
        raw_policy = json.loads(policy.read_text(encoding="utf-8"))["settings"]
        policy_values = {
            f"policy.{k}" if "." not in k else k: convert[f"policy.{k}" if "." not in k else k](v)
            for k, v in raw_policy.items()
            if v is not None
        }

        def run():
            return run_floor(path, policy_values, convert, probe)
    else:
        # The command's door: each line masked (and escaped) once, where it is written, through the
        # buffer the command gives a --jsonl file. The child process runs once and exits, so
        # /dev/null stays open for its whole life.
        sink = (
            ShownStream(open(os.devnull, "w", encoding="utf-8", buffering=REPORT_FILE_BUFFER))  # noqa: SIM115
            if mode == "tool-jsonl"
            else None
        )

        def run():  # as the command runs it: rows decoded by the evaluation, lines encoded from the parts
            summary = evaluate_fleet(
                read_fleet(path, decode=False),
                engine,
                policy_facts,
                reader=fleet_device,
                write=write_jsonl(sink) if sink else None,
                progress=probe,
                encode=json_text if sink else None,
            )
            return [[t.counts[s] for s in ("pass", "fail", "unknown", "not_applicable")] for t in summary.rules]

    # Live Python objects, sampled every 1,000 rows (sys.getallocatedblocks: cheap, unlike tracemalloc).
    blocks = [0]

    def probe(done: int) -> None:
        if done % 1000 == 0:
            blocks[0] = max(blocks[0], sys.getallocatedblocks())

    gc.collect()
    rss_setup = _rss_kb("VmRSS")
    blocks_setup = sys.getallocatedblocks()
    if trace:
        import tracemalloc

        tracemalloc.start()
    start = time.perf_counter()
    tallies = run()
    seconds = time.perf_counter() - start
    traced = None
    if trace:
        import tracemalloc

        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {
        "seconds": seconds,
        "tallies": tallies,
        "rss_setup_kb": rss_setup,
        "rss_peak_kb": _rss_kb("VmHWM"),
        "traced_peak": traced,
        "blocks_growth": max(blocks[0] - blocks_setup, 0),
        "memo": engine.explanations_held() if not mode.startswith("floor") else None,
    }


def run_child(mode: str, path: Path, policy: Path, trace: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, str(path), str(policy)]
    if trace:
        cmd.append("--trace")
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=_env())
    if out.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{out.stderr}")
    return json.loads(out.stdout)


CLI_FORMATS = ("json", "jsonl", "text", "markdown", "html", "sarif", "junit")


JSONL_GOAL_RATIO = 1.5  # the tool writing every device's JSON line, against the floor
JOBS_GOAL_SPEEDUP = 1.7  # --jobs 2 against --jobs 1, every format, on two free cores


def _median(runs: dict, size: int, mode: str) -> float:
    return statistics.median(r["seconds"] for r in runs[(size, mode)])


def _paired(runs: dict, size: int, slow: str, fast: str) -> float:
    """The median over rounds of ``slow``'s time over ``fast``'s in the same round: the two runs
    of a pair are a few seconds apart, so a busy minute of the host slows both, where a ratio of
    medians may take one from a busy minute and the other from a quiet one."""
    return statistics.median(a["seconds"] / b["seconds"] for a, b in zip(runs[(size, slow)], runs[(size, fast)]))


def _ratios(runs: dict, size: int, slow: str, fast: str) -> tuple[float, float]:
    """How much faster ``fast`` ran than ``slow``: the ratio of the medians, and paired."""
    return _median(runs, size, slow) / _median(runs, size, fast), _paired(runs, size, slow, fast)


def _speedups(runs: dict, size: int, fmt: str, jobs: int) -> tuple[float, float]:
    """A format's speed-up from --jobs 1 to --jobs ``jobs`` (``_ratios``)."""
    return _ratios(runs, size, f"cli:{fmt}:1", f"cli:{fmt}:{jobs}")


def _ceiling(runs: dict, size: int) -> tuple[float, float]:
    """What the machine gave independent commands on shares of the fleet over json's --jobs 1 (``_ratios``)."""
    return _ratios(runs, size, "cli:json:1", "split")


def print_formats(runs: dict, sizes: list[int], formats: list[str], jobs: list[int]) -> None:
    """Per format: the command with --jobs 1 and --jobs N, the speed-up, the report's bytes per device."""
    rows = []
    for size in sizes:
        for fmt in formats:
            one, many = _median(runs, size, f"cli:{fmt}:1"), _median(runs, size, f"cli:{fmt}:{jobs[-1]}")
            cpu_one, cpu_many = (
                statistics.median(r["cpu_seconds"] for r in runs[(size, f"cli:{fmt}:{j}")]) for j in (1, jobs[-1])
            )
            size_bytes = runs[(size, f"cli:{fmt}:1")][0]["report_bytes"]
            rows.append(
                [
                    f"{size:,}",
                    fmt,
                    f"{one:.2f}",
                    f"{many:.2f}",
                    *(f"{ratio:.2f}x" for ratio in _speedups(runs, size, fmt, jobs[-1])),
                    f"{cpu_one:.2f}",
                    f"{cpu_many:.2f}",
                    f"{cpu_many / cpu_one:.2f}x",
                    f"{size_bytes:,}",
                    f"{size_bytes / size:.1f}",
                ]
            )
    print(
        f"\nThe command per format (wall, median): --jobs 1 against --jobs {jobs[-1]}; the report's size "
        "(jsonl: the fleet document; the device lines go to the null device)"
    )
    print(
        _table(
            [
                "devices",
                "format",
                "--jobs 1 s",
                f"--jobs {jobs[-1]} s",
                "speed-up",
                "paired",
                "--jobs 1 CPU s",
                f"--jobs {jobs[-1]} CPU s",
                "CPU ratio",
                "report bytes",
                "bytes/device",
            ],
            rows,
        )
    )
    print(
        "Speed-up: the ratio of the medians; paired: the median over rounds of the ratio of the round's two runs "
        "(run one after the\nother, so a busy minute of the host slows both).\n"
        "CPU: user + system seconds of the command and its workers. On a busy machine the wall-time speed-up "
        "cannot show;\nthe CPU ratio can: near 1.0x, the work spreads over the processes with little added, "
        f"so on {jobs[-1]} free cores the speed-up\napproaches {jobs[-1]}x less the reading process's share."
    )


def print_ceiling(runs: dict, sizes: list[int], jobs: int) -> None:
    """What the machine gave ``--jobs`` in this run: ``jobs`` independent commands on a share of
    the fleet each, against json's ``--jobs 1`` on the whole (timed in the same rounds)."""
    for size in sizes:
        one, split = _median(runs, size, "cli:json:1"), _median(runs, size, "split")
        many = _median(runs, size, f"cli:json:{jobs}")
        cpu = statistics.median(r["cpu_seconds"] for r in runs[(size, "split")])
        ceiling, paired = _ceiling(runs, size)
        print(
            f"\nThe machine's ceiling, {size:,} devices: {jobs} independent commands (json, --jobs 1), each on "
            f"1/{jobs} of the fleet, started together, {split:.2f} s (CPU {cpu:.2f} s), against {one:.2f} s for "
            f"the whole: {ceiling:.2f}x (paired rounds {paired:.2f}x)."
            f"\njson with --jobs {jobs}: {one / many:.2f}x, "
            f"{split / many:.0%} of that ceiling (100%: --jobs costs what splitting the file by hand would)."
        )


def print_flat(runs: dict, mode: str, small: int, big: int, traced: bool) -> None:
    """The goal of flat memory: peak RSS and its growth over start-up, at the smallest and largest size."""

    def rss(size):
        return statistics.median(r["rss_peak_kb"] for r in runs[(size, mode)]) / 1024

    def growth(size):
        return runs[(size, mode)][0]["rss_peak_kb"] / 1024 - runs[(size, mode)][0]["rss_setup_kb"] / 1024

    # "Flat": the growth over the start-up RSS at the big size is within 8 MB or 1.5x of the small size's.
    flat = growth(big) <= max(1.5 * growth(small), growth(small) + 8)
    peaks = ""
    if traced:
        peaks = (
            f", tracemalloc peak {runs[(small, mode)][0]['traced_peak'] / 2**20:.1f} -> "
            f"{runs[(big, mode)][0]['traced_peak'] / 2**20:.1f} MB"
        )
    print(
        f"  peak memory flat from {small:,} to {big:,} devices ({mode}, one process): peak RSS "
        f"{rss(small):.0f} -> {rss(big):.0f} MB, growth over start-up {growth(small):+.0f} -> "
        f"{growth(big):+.0f} MB{peaks} -> {'MET' if flat else 'NOT MET'}"
    )


def run_cli(path: Path, policy: Path, jobs: int, fmt: str = "json") -> dict[str, Any]:
    """The whole command as a subprocess: wall time, the largest RSS of any of its processes, the
    report's size in bytes and, for ``json`` and ``jsonl`` (the fleet document on standard
    output; ``jsonl`` also writes every device's line to the null device), the summary."""
    cmd = [*_check(policy, "json" if fmt == "jsonl" else fmt), "--fleet", str(path), "--jobs", str(jobs)]
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        report = Path(folder) / f"report.{fmt}"
        if fmt == "jsonl":
            cmd += ["--jsonl", os.devnull]
        elif fmt != "json":
            cmd += ["--output", str(report)]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, env=_env())
        _, status, usage = os.wait4(proc.pid, 0)  # reaped here, so that its rusage is ours
        seconds = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code not in (0, 1):
            raise SystemExit(f"the command failed ({code}):\n{err.read().decode()}")
        text = out.read()
        size = len(text) if fmt in ("json", "jsonl") else report.stat().st_size
        summary = json.loads(text) if fmt in ("json", "jsonl") else None
    return {
        "seconds": seconds,
        "rss_peak_kb": usage.ru_maxrss,
        "summary": summary,
        "report_bytes": size,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }  # its workers included: they were waited for


def split_fleet(path: Path, parts: int) -> list[Path]:
    """``path``'s lines in ``parts`` files of consecutive lines, as even as whole lines allow."""
    lines = path.read_bytes().splitlines(keepends=True)
    step = -(-len(lines) // parts)
    pieces = []
    for k in range(parts):
        piece = path.with_name(f"{path.stem}-part{k + 1}of{parts}.jsonl")
        piece.write_bytes(b"".join(lines[k * step : (k + 1) * step]))
        pieces.append(piece)
    return pieces


def run_split(pieces: list[Path], policy: Path) -> dict[str, Any]:
    """What the machine gives ``--jobs N`` right now, with nothing of ``--jobs`` itself: N
    independent commands (``--format json --jobs 1``), each on its own 1/N of the fleet, started
    together; wall time until the last ends, CPU of all, the largest RSS of one. Timed in the same round as the --jobs
    rows, so that its speed-up over ``--jobs 1`` is the most this moment's machine allows them."""
    cmd = _check(policy, "json")
    errors = [tempfile.TemporaryFile() for _ in pieces]  # noqa: SIM115 - closed below
    start = time.perf_counter()
    procs = [
        subprocess.Popen([*cmd, "--fleet", str(piece)], stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT, env=_env())
        for piece, err in zip(pieces, errors)
    ]
    cpu, peak, codes = 0.0, 0, []
    for proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)  # reaped here, so that its rusage is ours
        cpu += usage.ru_utime + usage.ru_stime
        peak = max(peak, usage.ru_maxrss)
        codes.append(os.waitstatus_to_exitcode(status))
    seconds = time.perf_counter() - start
    for code, err in zip(codes, errors):
        err.seek(0)
        if code not in (0, 1):
            raise SystemExit(f"the command on a part of the fleet failed ({code}):\n{err.read().decode()}")
        err.close()
    return {"seconds": seconds, "cpu_seconds": cpu, "rss_peak_kb": peak, "tallies": None}


def _check(policy: Path, fmt: str) -> list[str]:
    """The start of every timed command: ``check`` with the policy, in ``fmt``, run from this checkout."""
    return [sys.executable, "-m", "bitlocker_rules", "check", "--policy", str(policy), "--format", fmt]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def cache_bytecode(path: Path, policy: Path, formats: list[str], jobs: list[int], folder: Path) -> None:
    """The commands start from cached bytecode, as an installed package does (pip writes .pyc
    files at install time), not compiling this checkout's modules on every run, as they do where
    PYTHONDONTWRITEBYTECODE is set (about 0.3 s a run, the same for --jobs 1 and --jobs N, so it
    lowered every speed-up). The cache is a private folder of ``folder``, filled by running each
    timed command once, untimed, on the first 200 devices: every module it imports (this
    package's, the standard library's, the dependencies') is then cached."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # for the child processes (``_env``)
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    small = folder / "warm-up.jsonl"
    with path.open("rb") as stream:
        small.write_bytes(b"".join(itertools.islice(stream, 200)))
    for fmt in formats:
        for j in jobs:
            run_cli(small, policy, j, fmt)


# ---------------------------------------------------------------------------------------------
# Verification.

SCENARIO_FACTS = ("scenario.silent_enablement", "scenario.key_rotation", "scenario.tenant_attach")


def verify(path: Path, policy: Path, limit: int | None = None) -> dict[str, Any]:
    """Floor typed values, scenarios and verdicts against the tool's, on every device of ``path``
    (the first ``limit``)."""
    from bitlocker_rules.facts import merge_facts
    from bitlocker_rules.fleet import fleet_device
    from bitlocker_rules.fleet.job import fleet_engine

    engine, policy_facts = fleet_engine(None, (str(policy),))
    init_floor(engine.vocabulary)
    ids = [(loaded.id, rule.id) for loaded in engine.rulesets for rule in loaded.rules]
    if [r for _, r in ids] != list(RULE_IDS):
        raise SystemExit(f"the shipped rules changed; the floor covers {RULE_IDS}, the engine has {ids}")
    if engine.scenarios.declared or {
        f"scenario.{s}" for loaded in engine.rulesets for r in loaded.rules for s in r.scenarios
    } != set(SCENARIO_FACTS):
        raise SystemExit("the scenarios the rules are about changed; the floor resolves " + ", ".join(SCENARIO_FACTS))
    convert = make_converters(engine.vocabulary)
    policy_values = dict(policy_facts.values)
    devices = value_mismatch = scenario_mismatch = 0
    mismatches: dict[str, int] = {}
    first: tuple | None = None
    first_value: tuple | None = None
    tallies = [[0, 0, 0, 0] for _ in RULE_IDS]
    scenarios = [{True: 0, False: 0, None: 0} for _ in SCENARIO_FACTS]
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if limit is not None and number > limit:
                break
            row = json.loads(line)
            mine = typed_device(row["facts"], convert, policy_values)
            theirs = merge_facts([policy_facts, fleet_device(row, engine, number)]).values
            if mine != dict(theirs):
                value_mismatch += 1
                if first_value is None:
                    differ = sorted(f for f in set(mine) | set(theirs) if mine.get(f) != theirs.get(f))
                    first_value = (number, {f: (repr(mine.get(f)), repr(theirs.get(f))) for f in differ})
            states = floor_scenarios(mine)
            resolved = engine.resolved(theirs)
            if states != tuple(resolved.get(f) for f in SCENARIO_FACTS):
                scenario_mismatch += 1
                if first is None:
                    first = (number, "scenarios", states, tuple(resolved.get(f) for f in SCENARIO_FACTS), row)
            for counts, state in zip(scenarios, states):
                counts[state] += 1
            floor = floor_check(mine)
            tool = tuple(code for codes in engine.verdicts(theirs) for code in codes)
            devices += 1
            for tally, code in zip(tallies, floor):
                tally[code] += 1
            if floor != tool:
                for rule, a, b in zip(RULE_IDS, floor, tool):
                    if a != b:
                        mismatches[rule] = mismatches.get(rule, 0) + 1
                        if first is None:
                            first = (number, rule, a, b, row)
    return {
        "devices": devices,
        "value_mismatches": value_mismatch,
        "rule_mismatches": mismatches,
        "scenario_mismatches": scenario_mismatch,
        "first": first,
        "first_value": first_value,
        "tallies": tallies,
        "scenarios": scenarios,
    }


# Policies the verification also runs the first VARIANT_DEVICES devices with, so that the rules
# about policy settings and the scenarios see what examples/policy-silent.json never gives:
# silent enablement out of scope (interactive startup) and not known, rotation for hybrid
# joined devices, disabled and not configured, and the conflicts and profile types the rules
# look for. (Some verdicts no policy can give: see README.md.)
VARIANT_DEVICES = 3000
VARIANT_POLICIES: dict[str, dict[str, Any]] = {
    "interactive-startup baseline": {
        "policy_type": "SecurityBaseline",
        "require_device_encryption": "Require",
        "warning_for_other_disk_encryption": "NotConfigured",
        "allow_standard_user_encryption": "Allow",
        "os_encryption_method": "XtsAes128",
        "tpm_startup": "Required",
        "tpm_startup_pin": "Required",
        "tpm_startup_key": "Allowed",
        "tpm_startup_key_and_pin": "Blocked",
        "block_without_compatible_tpm": "Block",
        "additional_authentication_at_startup": "Require",
        "recovery_password_rotation": "AzureADAndHybrid",
        "os_save_recovery_to_azure_ad": "Enabled",
        "os_require_recovery_backup_before_enabling": "Required",
        "os_recovery_password_usage": "Blocked",
        "fdv_save_recovery_to_azure_ad": "Enabled",
        "fdv_require_recovery_backup_before_enabling": "Required",
    },
    "silent baseline with conflicts": {
        "policy_type": "SecurityBaseline",
        "require_device_encryption": "NotConfigured",
        "warning_for_other_disk_encryption": "Block",
        "allow_standard_user_encryption": "NotConfigured",
        "tpm_startup": "Required",
        "tpm_startup_pin": "Allowed",
        "tpm_startup_key": "Allowed",
        "tpm_startup_key_and_pin": "Required",
        "removable_unprotected_write_access": "Block",
        "additional_authentication_at_startup": "Require",
        "recovery_password_rotation": "NotConfigured",
        "os_recovery_password_usage": "Allowed",
        "os_require_recovery_backup_before_enabling": "Required",
        "fdv_save_recovery_to_azure_ad": "NotConfigured",
    },
    "silent with startup PIN and key": {
        "policy_type": "EndpointProtectionTemplate",
        "require_device_encryption": "Require",
        "warning_for_other_disk_encryption": "Block",
        "allow_standard_user_encryption": "Allow",
        "tpm_startup": "Allowed",
        "tpm_startup_pin": "Required",
        "tpm_startup_key": "Required",
        "tpm_startup_key_and_pin": "Blocked",
        "recovery_password_rotation": "AzureADAndHybrid",
        "os_save_recovery_to_azure_ad": "Enabled",
        "os_require_recovery_backup_before_enabling": "Required",
    },
    "endpoint security disk encryption": {
        "policy_type": "EndpointSecurityDiskEncryption",
        "require_device_encryption": "Require",
        "warning_for_other_disk_encryption": "Block",
        "allow_standard_user_encryption": "Allow",
        "os_encryption_method": "XtsAes256",
        "tpm_startup": "Blocked",
        "tpm_startup_pin": "Blocked",
        "tpm_startup_key": "Blocked",
        "tpm_startup_key_and_pin": "Blocked",
        "block_without_compatible_tpm": "NotConfigured",
        "removable_unprotected_write_access": "Block",
        "additional_authentication_at_startup": "NotConfigured",
        "recovery_password_rotation": "AzureAD",
        "os_save_recovery_to_azure_ad": "NotConfigured",
        "os_require_recovery_backup_before_enabling": "NotConfigured",
    },
    "security baseline without the warning": {
        "policy_type": "SecurityBaseline",
        "require_device_encryption": "Require",
        "tpm_startup_pin": "Blocked",
        "tpm_startup_key": "Allowed",
        "tpm_startup_key_and_pin": "NotConfigured",
    },
    "custom OMA-URI, a method missing": {
        "policy_type": "CustomOmaUri",
        "require_device_encryption": "Require",
        "warning_for_other_disk_encryption": "NotConfigured",
        "configure_encryption_methods": "Enabled",
        "os_encryption_method": "XtsAes256",
        "fixed_encryption_method": "XtsAes256",
        "preboot_recovery_message_and_url": "Enabled",
        "preboot_recovery_message_type": "CustomMessage",
        "preboot_recovery_message": "Call the help desk",
        "preboot_recovery_url": "",
        "recovery_password_rotation": "Disabled",
        "tpm_startup_pin": "Allowed",
        "tpm_startup_key": "Blocked",
        "removable_unprotected_write_access": "Block",
        "additional_authentication_at_startup": "Require",
    },
    "custom OMA-URI, the message missing": {
        "policy_type": "CustomOmaUri",
        "require_device_encryption": "Require",
        "warning_for_other_disk_encryption": "Block",
        "configure_encryption_methods": "Enabled",
        "os_encryption_method": "XtsAes256",
        "fixed_encryption_method": "XtsAes256",
        "removable_encryption_method": "AesCbc256",
        "preboot_recovery_message_and_url": "Enabled",
        "preboot_recovery_message_type": "CustomUrl",
        "preboot_recovery_url": "https://aka.ms/recovery",
    },
    "security baseline, little else": {"policy_type": "SecurityBaseline", "warning_for_other_disk_encryption": "Block"},
    "custom OMA-URI, nothing else": {"policy_type": "CustomOmaUri"},
}


def write_variant_policies(folder: Path) -> dict[str, Path]:
    paths = {}
    for i, (name, settings) in enumerate(VARIANT_POLICIES.items()):
        path = folder / f"policy-variant-{i}.json"
        path.write_text(json.dumps({"id": f"variant-{i}", "displayName": name, "settings": settings}), encoding="utf-8")
        paths[name] = path
    return paths


def report_check(label: str, check: dict[str, Any], seconds: float) -> None:
    print(
        f"{label} ({seconds:.1f} s): typed values differing from the tool's: {check['value_mismatches']}; "
        f"scenario facts differing: {check['scenario_mismatches']}; devices x rules with a different verdict: "
        f"{sum(check['rule_mismatches'].values())}"
    )
    states = ", ".join(
        f"{fact.split('.')[1]} in/out/not known {c[True]}/{c[False]}/{c[None]}"
        for fact, c in zip(SCENARIO_FACTS, check["scenarios"])
    )
    print(f"  scenarios: {states}")
    if check["first_value"]:
        number, differ = check["first_value"]
        print(f"  FIRST VALUE MISMATCH: row {number}: (floor, tool) {differ}")
    if check["first"]:
        number, rule, a, b, row = check["first"]
        print(
            f"  FIRST MISMATCH: row {number}, rule {rule}: floor {a}, tool {b}; mismatches per rule "
            f"{check['rule_mismatches']}\n  row: {json.dumps(row)[:600]}"
        )


def exercised(tallies: list[list[int]]) -> str:
    shown = {c: sum(1 for t in tallies if t[c]) for c in range(4)}
    return (
        f"rules showing each verdict at least once: pass {shown[0]}, fail {shown[1]}, unknown {shown[2]}, "
        f"n/a {shown[3]} (of {len(tallies)})"
    )


# ---------------------------------------------------------------------------------------------
# Where the tool's time goes (in this process, on the smallest file).


def breakdown(path: Path, policy: Path, passes: int = 3) -> list[tuple[str, float]]:
    """Per-device microseconds of each stage of ``evaluate_fleet``'s default path, each timed alone (best pass)."""
    from bitlocker_rules.errors import redact
    from bitlocker_rules.fleet import evaluate_fleet, fleet_device, json_text, read_fleet
    from bitlocker_rules.fleet import evaluation as fleet_module
    from bitlocker_rules.fleet.job import fleet_engine

    engine, policy_facts = fleet_engine(None, (str(policy),))
    init_floor(engine.vocabulary)
    convert = make_converters(engine.vocabulary)
    policy_values = dict(policy_facts.values)
    rows = list(read_fleet(path))
    raws = _json_lines(path)
    typed = [typed_device(r["facts"], convert, policy_values) for r in raws]
    n = len(rows)
    codes = fleet_module.VerdictPath(engine, policy_facts)
    base = dict(policy_facts.table)
    own = [codes.typer.values(r.data) for r in rows]
    merged = [{**base, **values} for values in own]
    resolved = [engine.resolved(values) for values in merged]
    rulesets = engine.rulesets

    def count(wanted: bool, cold: bool = False):
        if cold:
            engine.forget_explanations()
        tally = fleet_module.Tally(engine)  # evaluation imports it from results
        return [codes.count(dict(values), tally, wanted) for values in resolved]

    tally = fleet_module.Tally(engine)
    records = [codes.evaluate(row, fleet_device, True, tally) for row in rows]
    stages: list[tuple[str, Callable[[], Any]]] = [
        ("floor: json.loads per line", lambda: _json_lines(path)),
        (
            "floor: typing (hand-written converters)",
            lambda: [typed_device(r["facts"], convert, policy_values) for r in raws],
        ),
        (f"floor: hand-written check of {N_RULES} rules (scenarios included)", lambda: [floor_check(v) for v in typed]),
        ("read_fleet (json.loads + FleetRow)", lambda: list(read_fleet(path))),
        ("typing the row (vocabulary converters)", lambda: [codes.typer.values(r.data) for r in rows]),
        ("policy values + device values", lambda: [{**base, **values} for values in own]),
        ("engine.resolved (scenario and derived facts)", lambda: [engine.resolved(v) for v in merged]),
        (
            "compiled verdicts of the 8 rulesets on resolved values",
            lambda: [[r.verdicts(v) for r in rulesets] for v in resolved],
        ),
        ("engine.verdicts (= the two above)", lambda: [engine.verdicts(v) for v in merged]),
        (
            "count verdicts, explain failed/unknown (memo warm; resolved values, verdicts included)",
            lambda: count(False),
        ),
        ("the same, memo emptied first", lambda: count(False, cold=True)),
        ("the same + the record's parts (for --jsonl)", lambda: count(True)),
        (
            "the JSON line, straight from the parts, masked (for --jsonl)",
            lambda: [redact(fleet_module.output(r, json_text)) for r in records],
        ),
        (
            "evaluate_fleet end to end (= tool)",
            lambda: evaluate_fleet(read_fleet(path), engine, policy_facts, reader=fleet_device),
        ),
    ]
    results = []
    for name, fn in stages:
        times: list[float] = []
        while len(times) < passes and sum(times) < 2.0:  # slow stages once, fast ones up to `passes` times
            gc.collect()
            gc.disable()  # the inputs held here for every stage would make collections cost more than in a run
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
            gc.enable()
        results.append((name, min(times) / n * 1e6))  # the best pass: other work on the machine only adds
    return results


def profile(path: Path, policy: Path, limit: int = 25) -> str:
    from bitlocker_rules.fleet import evaluate_fleet, fleet_device, read_fleet
    from bitlocker_rules.fleet.job import fleet_engine

    engine, policy_facts = fleet_engine(None, (str(policy),))
    profiler = cProfile.Profile()
    profiler.enable()
    evaluate_fleet(read_fleet(path), engine, policy_facts, reader=fleet_device)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    text = out.getvalue().replace(str(ROOT) + os.sep, "").replace(os.path.dirname(os.__file__) + os.sep, "")
    return "\n".join(
        line
        for line in text.splitlines()
        if (line.strip() and not line.startswith(("   List reduced", "   Ordered by")))
        or line.startswith("   Ordered by")
    )


# ---------------------------------------------------------------------------------------------


def _json_lines(path: Path) -> list[Any]:
    """Each line of a JSON Lines file decoded, read line by line as the command reads it."""
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def fmt(r: list[Any]) -> str:
        return "  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(r, widths)))

    return "\n".join([fmt(headers), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)])


_SPIN = "import time\ns = time.perf_counter()\nx = 0\nfor i in range(8_000_000): x += i\nprint(time.perf_counter() - s)"


def effective_cores() -> float:
    """How many CPU-bound processes the machine runs at full speed right now (2 = two free cores)."""

    def spin(count: int) -> float:
        procs = [
            subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True) for _ in range(count)
        ]
        return statistics.mean(float(p.communicate()[0]) for p in procs)

    alone = min(spin(1) for _ in range(2))
    together = min(spin(2) for _ in range(2))
    return 2 * alone / together


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=100_000, help="the largest fleet (default 100000)")
    parser.add_argument("--sizes", default="10000,100000", help="fleet sizes to time (default 10000,100000)")
    parser.add_argument("--jobs", type=int, default=1, help="also run the command with --jobs N (default: 1 and 2)")
    parser.add_argument(
        "--formats",
        default=",".join(CLI_FORMATS),
        help=f"the command's report formats to time (default {','.join(CLI_FORMATS)})",
    )
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    parser.add_argument("--seed", type=int, default=20240521)
    parser.add_argument("--repeat", type=int, default=3, help="runs per row for fleets up to 20000 devices")
    parser.add_argument("--repeat-large", type=int, default=1, help="runs per row for larger fleets")
    parser.add_argument("--no-cli", action="store_true", help="skip the command-line rows")
    parser.add_argument("--raw", type=Path, help="also write every timed run, in round order, to this JSON file")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the tool even within the goal")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also measure the tracemalloc peak of floor and tool per size (untimed runs, ~5x slower)",
    )
    parser.add_argument("--child", nargs=3, metavar=("MODE", "FILE", "POLICY"), help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        mode, file, policy = args.child
        print(json.dumps(child(mode, Path(file), Path(policy), args.trace)))
        return 0

    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()} | {args.devices})
    sizes = [s for s in sizes if s <= args.devices] or [args.devices]
    policy = args.policy.resolve()
    jobs = sorted({1, args.jobs if args.jobs > 1 else 2})
    started = time.perf_counter()
    print(
        f"bench_fleet: Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"sizes {sizes}; policy {policy.relative_to(ROOT) if policy.is_relative_to(ROOT) else policy}; "
        f"seed {args.seed}; load average {_load()}"
    )

    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        t0 = time.perf_counter()
        paths = generate(sizes, args.seed, Path(tmp))
        print(
            f"generated {max(sizes)} devices in {time.perf_counter() - t0:.1f} s "
            f"({paths[max(sizes)].stat().st_size / 2**20:.1f} MB of JSON Lines)"
        )

        # --- verification (untimed)
        print()
        t0 = time.perf_counter()
        check = verify(paths[max(sizes)], policy)
        codes = [sum(t[c] for t in check["tallies"]) for c in range(4)]
        report_check(f"verification on {check['devices']} devices", check, time.perf_counter() - t0)
        print(
            f"  verdicts over all devices x {N_RULES} rules: pass {codes[0]}, fail {codes[1]}, unknown {codes[2]}, "
            f"n/a {codes[3]}; {exercised(check['tallies'])}"
        )
        checks = [check]
        for name, variant in write_variant_policies(Path(tmp)).items():
            t0 = time.perf_counter()
            checks.append(verify(paths[min(sizes)], variant, VARIANT_DEVICES))
            report_check(
                f"  with the policy '{name}', {checks[-1]['devices']} devices", checks[-1], time.perf_counter() - t0
            )
        together = [[sum(c["tallies"][i][code] for c in checks) for code in range(4)] for i in range(N_RULES)]
        print(
            f"  all verifications together: {exercised(together)}; never: "
            + "; ".join(
                f"{label} {', '.join(RULE_IDS[i] for i in range(N_RULES) if not together[i][code]) or '-'}"
                for code, label in enumerate(("pass", "fail", "unknown", "n/a"))
            )
        )
        disagree = any(c["first"] or c["first_value"] for c in checks)

        # --- timing, round-robin, a fresh process per run
        modes = ["floor", "floor-vocab", "tool", "tool-jsonl"]
        formats = [f for f in args.formats.split(",") if f.strip()]
        split = not args.no_cli and "json" in formats  # the machine's ceiling for --jobs, beside json's --jobs 1
        if not args.no_cli:
            modes += [f"cli:{fmt}:{j}" for fmt in formats for j in jobs]
            cache_bytecode(paths[min(sizes)], policy, formats, jobs, Path(tmp))
        if split:
            modes.append("split")
            pieces = {size: split_fleet(paths[size], jobs[-1]) for size in sizes}
        runs: dict[tuple[int, str], list[dict]] = {}
        cores_before = effective_cores()
        for size in sizes:
            repeats = args.repeat if size <= 20_000 else args.repeat_large
            for _ in range(repeats):
                for mode in modes:
                    if mode == "split":
                        result = run_split(pieces[size], policy)
                    elif mode.startswith("cli"):
                        _, fmt, j = mode.split(":")
                        result = run_cli(paths[size], policy, int(j), fmt)
                        summary = result.pop("summary")
                        result["tallies"] = (
                            None
                            if summary is None
                            else [
                                [r[s] for s in ("pass", "fail", "unknown", "not_applicable")] for r in summary["rules"]
                            ]
                        )
                    else:
                        result = run_child(mode, paths[size], policy)
                    runs.setdefault((size, mode), []).append(result)
            if args.tracemalloc:  # untimed: the Python heap peak of the evaluation itself (about 5x slower)
                for mode in ("floor", "tool"):
                    traced = run_child(mode, paths[size], policy, trace=True)
                    runs[(size, mode)][0]["traced_peak"] = traced["traced_peak"]

        if args.raw is not None:
            timed = {
                f"{size} {mode}": [{k: v for k, v in r.items() if k != "tallies"} for r in results]
                for (size, mode), results in runs.items()
            }
            args.raw.write_text(json.dumps(timed, indent=1), encoding="utf-8")

        # counts of every run must equal the floor's over the same prefix
        wrong_counts = []
        for (size, mode), results in runs.items():
            first = runs[(size, "floor")][0]["tallies"]
            for result in results:
                if result["tallies"] is not None and result["tallies"] != first:
                    wrong_counts.append((size, mode))
        print(
            "per-rule counts of every timed run equal the floor's: "
            + ("yes" if not wrong_counts else f"NO, differing runs: {sorted(set(wrong_counts))}")
        )

        cores_after = effective_cores()
        labels = {
            "floor": "floor: json.loads + hand typing + hand rules",
            "floor-vocab": "floor, typing by vocabulary.parse_value",
            "tool": "tool: read_fleet + evaluate_fleet",
            "tool-jsonl": "tool + write_jsonl(/dev/null)",
            "split": f"{jobs[-1]} commands at once, each json --jobs 1 on 1/{jobs[-1]} (wall)",
        }
        labels.update(
            {
                f"cli:{fmt}:{j}": f"CLI --format {fmt} --jobs {j} (wall)"
                if fmt != "jsonl"
                else f"CLI --format json --jsonl --jobs {j} (wall)"
                for fmt in formats
                for j in jobs
            }
        )
        rows = []
        headline: dict[int, float] = {}
        for size in sizes:
            floor_s = statistics.median(r["seconds"] for r in runs[(size, "floor")])
            for mode in modes:
                results = runs[(size, mode)]
                secs = [r["seconds"] for r in results]
                med = statistics.median(secs)
                if mode == "tool":
                    headline[size] = med / floor_s
                peak = statistics.median(r["rss_peak_kb"] for r in results) / 1024
                setup = results[0].get("rss_setup_kb")
                traced = results[0].get("traced_peak")
                blocks = results[0].get("blocks_growth")
                memo = results[0].get("memo")
                rows.append(
                    [
                        f"{size:,}",
                        labels[mode],
                        len(secs),
                        f"{med:.2f}",
                        f"{min(secs):.2f}-{max(secs):.2f}" if len(secs) > 1 else "",
                        f"{size / med:,.0f}",
                        f"{med / floor_s:.2f}x",
                        f"{peak:.0f}",
                        f"{(peak - setup / 1024):+.0f}" if setup else "",
                        f"{blocks / 1000:+.0f}k" if blocks is not None else "",
                        f"{memo:,}" if memo is not None else "",
                        *([f"{traced / 2**20:.1f}" if traced is not None else ""] if args.tracemalloc else []),
                    ]
                )
        print()
        print(
            _table(
                [
                    "devices",
                    "row",
                    "runs",
                    "median s",
                    "min-max s",
                    "devices/s",
                    "vs floor",
                    "peak RSS MB",
                    "RSS growth MB",
                    "live blocks growth",
                    "memo entries",
                    *(["tracemalloc peak MB"] if args.tracemalloc else []),
                ],
                rows,
            )
        )
        print(
            "\nRSS growth: peak RSS (VmHWM) minus RSS after loading engine and policy, before the first row. "
            "Live blocks growth: the most\nPython memory blocks alive (sys.getallocatedblocks, sampled every "
            "1,000 rows) minus the count before the first row.\nMemo entries: explanations memoised by the "
            "engine at the end (capped at 50,000). CLI rows: wall time including start-up (from cached "
            "bytecode,\nas an installed package starts); peak RSS is the largest of any one of its processes "
            "(wait4 ru_maxrss)."
        )

        if not args.no_cli:
            print_formats(runs, sizes, formats, jobs)
        if split:
            print_ceiling(runs, sizes, jobs[-1])
        big, small = max(sizes), min(sizes)
        print(
            f"\nEffective cores before / after the timed runs: {cores_before:.1f} / {cores_after:.1f} of "
            f"{os.cpu_count()} (two CPU-bound processes together vs one alone; below 2, other work shares the "
            "machine:\nevery row slows, and the --jobs rows cannot scale)"
        )
        print("\nGoals:")
        for size in sizes:
            ratio = headline[size]
            print(
                f"  tool within {GOAL_RATIO:.0f}x of the floor on one process, {size:,} devices: "
                f"{ratio:.2f}x -> {'MET' if ratio <= GOAL_RATIO else 'NOT MET'}"
            )
            jsonl = _median(runs, size, "tool-jsonl") / _median(runs, size, "floor")
            print(
                f"  tool + JSON Lines within {JSONL_GOAL_RATIO}x of the floor, {size:,} devices: {jsonl:.2f}x -> "
                f"{'MET' if jsonl <= JSONL_GOAL_RATIO else 'NOT MET'}"
            )
            if not args.no_cli:
                ceiling = "{:.2f}x (paired rounds {:.2f}x)".format(*_ceiling(runs, size)) if split else "n/a"
                for fmt in formats:
                    speedup, paired = _speedups(runs, size, fmt, jobs[-1])
                    print(
                        f"  --jobs {jobs[-1]} at least {JOBS_GOAL_SPEEDUP}x faster than --jobs 1, --format {fmt}, "
                        f"{size:,} devices: {speedup:.2f}x (paired rounds {paired:.2f}x) -> "
                        f"{'MET' if speedup >= JOBS_GOAL_SPEEDUP else 'NOT MET'}"
                        f" (needs two free cores; this run's ceiling, {jobs[-1]} independent commands: {ceiling})"
                    )
        if big != small:
            for mode in ("tool", "tool-jsonl"):
                print_flat(runs, mode, small, big, args.tracemalloc and mode == "tool")

        # --- where the time goes
        print(
            f"\nWhere the tool's time goes ({small:,} devices, in this process, each stage alone; "
            "best of up to 3 passes):"
        )
        stages = breakdown(paths[small], policy)
        total = dict(stages)["evaluate_fleet end to end (= tool)"]
        print(
            _table(
                ["stage", "us/device", "share of tool"],
                [
                    [name, f"{us:.1f}", f"{us / total:.0%}" if not name.startswith("floor") else ""]
                    for name, us in stages
                ],
            )
        )
        if args.profile or any(r > GOAL_RATIO for r in headline.values()):
            print(f"\ncProfile of evaluate_fleet on {small:,} devices (tool over the goal, or --profile):")
            print(profile(paths[small], policy))
    print(f"total {time.perf_counter() - started:.0f} s; load average at the end {_load()}")
    return 1 if disagree or wrong_counts else 0


if __name__ == "__main__":
    sys.exit(main())
