"""The project configuration applied to a command line: what the file sets fills what the
command line leaves unset (options given always win)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import ProjectConfig, find_config, load_config

# What a command uses when neither the command line nor the configuration says.
FAIL_ON = {"check": "info", "lint": "warning"}
FORMAT = "text"
LINE_LENGTH = 100


def configured(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with the configuration's settings where the command line gave none."""
    if args.command not in ("check", "lint", "fmt"):
        return args
    config = project_config(args)
    args.config_file = config.file
    args.config_table = "tool.bitlocker-rules." if (config.file or "").endswith("pyproject.toml") else ""
    if args.command == "fmt":
        args.line_length = _first(args.line_length, config.line_length, LINE_LENGTH)
        return args
    args.fail_on = _first(args.fail_on, config.fail_on, FAIL_ON[args.command])
    if args.command == "check":
        args.format = _first(args.format, config.format, FORMAT)
        args.rules = args.rules or (list(config.rulesets) or None)
        if getattr(args, "waivers", None) is None and config.waivers is not None:
            args.waivers = config.waivers  # check --waivers FILE, as if given
    else:
        args.format = _first(args.format, None, FORMAT)
        args.paths = args.paths or list(config.rulesets)
        args.lint_enable, args.lint_disable = config.lint_enable, config.lint_disable
    return args


def project_config(args: argparse.Namespace) -> ProjectConfig:
    """The configuration named by --config, else the nearest one up from the working folder
    (none with --no-config)."""
    if getattr(args, "no_config", False):
        return ProjectConfig()
    if getattr(args, "config", None):
        return load_config(Path(args.config))
    found = find_config(Path.cwd())
    return load_config(found) if found is not None else ProjectConfig()


def _first(*values: Any) -> Any:
    """The first value that is set."""
    return next(v for v in values if v is not None)
