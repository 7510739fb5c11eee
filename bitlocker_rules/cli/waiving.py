"""``--waivers`` and ``--today``: the one place a command reads its waivers file and says its warnings.

``check`` on one device and ``check --fleet`` / ``--snapshot`` read the file through here,
with what the run can check names against: its rules, its devices, groups and policies.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable

from ..assignments import device_keys
from ..engine import Engine
from ..fleet import read_fleet
from ..fleet.job import FleetSetup
from ..fleet.waiving import FleetWaivers, known_names
from ..importers import ImportedDevice, ImportedPolicy
from ..outcome import WaiverNotice
from ..waivers import KnownNames, Waivers, names_devices, read_waivers, today
from .output import STANDARD_STREAM, say


def rule_ids(engine: Engine) -> list[str]:
    """Every rule id of the run's rulesets."""
    return [rule.id for loaded in engine.rulesets for rule in loaded.rules]


def device_waivers(
    args: argparse.Namespace, engine: Engine, policies: Iterable[ImportedPolicy], devices: Iterable[ImportedDevice]
) -> Waivers | None:
    """``check``'s waivers (None without --waivers): names checked against the rules, the
    --device files' names and ids and the --policy files' ids and display names."""
    if args.waivers is None:
        return None
    devices = list(devices)
    named = {k for d in devices for k in (d.device_name, d.device_id, d.azure_ad_device_id) if k}
    known = KnownNames(
        frozenset(rule_ids(engine)),
        named if devices else None,
        None,
        {k for p in policies for k in (p.policy_id, p.display_name) if k},
    )
    return read_waivers(args.waivers, known, today(args.today, os.environ))


def fleet_waivers(args: argparse.Namespace, setup: FleetSetup, fleet: str) -> tuple[Waivers, FleetWaivers] | None:
    """``check --fleet``'s waivers (None without --waivers), and what finds each row's own. A
    waiver that names devices has them checked against the fleet's, read once more first
    (standard input cannot be: then they are taken as given, and a note says so)."""
    if args.waivers is None:
        return None
    on = today(args.today, os.environ)
    names = None
    if names_devices(args.waivers):
        if fleet != STANDARD_STREAM:
            names = fleet_device_names(fleet)
        elif not args.quiet:
            say(f"note: {args.waivers}: the devices a waiver names are not checked against a fleet read from -")
    known = known_names(rule_ids(setup.engine), setup.policy, setup.imported, names)
    waivers = read_waivers(args.waivers, known, on)
    return waivers, FleetWaivers(waivers.matcher(), setup.policy, setup.imported)


def fleet_device_names(fleet: str) -> set[str]:
    """The names and ids of a fleet file's devices (rows that cannot be read are left to the run)."""
    return {key for row in read_fleet(fleet) for key in device_keys(row.data)}


def say_notices(notices: Iterable[WaiverNotice], args: argparse.Namespace) -> None:
    """Each waiver warning on standard error too (the reports carry them as data)."""
    if args.quiet:
        return
    for notice in notices:
        say(f"warning: {args.waivers}: {notice.sentence()}")
