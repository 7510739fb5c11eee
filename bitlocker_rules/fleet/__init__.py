"""Fleets: read devices as a stream (JSON Lines, a JSON array, CSV), evaluate each, summarise.

Memory stays flat as the fleet grows: rows are read one at a time, results are written as
they are made, and only counters are kept. Explanations are memoised per rule and per
combination of the values the rule reads, so a fleet of similar devices pays for the
interpreter once per distinct situation, not once per device.

The stages, one module each: ``rows`` (reading a fleet file), ``devices`` (a row as device
facts), ``results`` (the summary's counters and each device's record), ``evaluation`` (one
process) and ``parallel`` (several).
"""

from .devices import DeviceReader, device_facts, device_subject, fleet_device
from .evaluation import evaluate_fleet
from .parallel import evaluate_fleet_parallel
from .results import (
    DeviceRecord,
    FleetConflict,
    FleetScenario,
    FleetSummary,
    JsonLinesWriter,
    LineBlock,
    LineFile,
    RuleTally,
    device_record,
    failure_reasons,
    json_line,
    json_text,
    outcome_entry,
    write_jsonl,
)
from .rows import BadRow, FleetRow, JsonLine, read_fleet

__all__ = [
    "BadRow",
    "DeviceReader",
    "DeviceRecord",
    "FleetConflict",
    "FleetRow",
    "FleetScenario",
    "FleetSummary",
    "JsonLine",
    "JsonLinesWriter",
    "LineBlock",
    "LineFile",
    "RuleTally",
    "device_facts",
    "device_record",
    "device_subject",
    "evaluate_fleet",
    "evaluate_fleet_parallel",
    "failure_reasons",
    "fleet_device",
    "json_line",
    "json_text",
    "outcome_entry",
    "read_fleet",
    "write_jsonl",
]
