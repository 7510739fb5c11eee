"""docs/tenant.md stays true: its commands run against a local Graph and print what the page
shows; its tables of permissions, clouds, options, files and manifest fields are the code's."""

from __future__ import annotations

import json
import re

import pytest
from graph_fake import LocalGraph, Tenant
from test_docs import DOCS, blocks, commands, matches, run_cli

from bitlocker_rules.cli.parser import AUTH_METHODS
from bitlocker_rules.tenant import EVERY_PERMISSION, Pacing, PullOptions, pull, read_manifest, signin
from bitlocker_rules.tenant.clouds import AUTHORITIES
from bitlocker_rules.tenant.signin import EnvironmentToken

PAGE = (DOCS / "tenant.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def graph():
    local = LocalGraph(Tenant(seed=5, policies=3, groups=10, devices=30), page_size=20)
    yield local
    local.stop()


def test_the_page_runs_its_commands_in_order(graph, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPH_TOKEN", "good-token")
    ran = 0
    for block in blocks("tenant.md", "console"):
        for command in commands(block):
            args = [graph.url if a == "$GRAPH_URL" else a for a in command.args]
            result = run_cli(args, tmp_path)
            assert result.returncode == command.exit, f"`{command.line}`: {result.stdout}{result.stderr}"
            shown = [line.rstrip() for line in command.output.strip("\n").splitlines()]
            actual = [line.rstrip() for line in (result.stdout + result.stderr).strip("\n").splitlines()]
            assert matches(shown, actual), f"`{command.line}` printed:\n" + "\n".join(actual)
            ran += 1
    assert ran == 4


def _table(heading: str) -> list[list[str]]:
    section = PAGE.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def test_the_permissions_are_those_the_calls_need():
    assert {row[0].strip("`") for row in _table("Permissions")} == set(EVERY_PERMISSION)


def test_the_clouds_are_the_code_s_table():
    documented = {}
    for row in _table("National clouds"):
        url = re.search(r"https://([\w.-]+)", row[1])
        assert url, row
        documented[url.group(1)] = row[2].strip("`")
    assert documented == AUTHORITIES


def test_every_pull_option_is_on_the_page():
    from bitlocker_rules.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    options = {s for a in sub.choices["pull"]._actions for s in a.option_strings} - {"-h", "--help", "--debug"}
    assert sorted(o for o in options if f"`{o}" not in PAGE) == []


def test_the_files_and_manifest_fields_are_those_a_pull_writes(graph, tmp_path):
    folder = tmp_path / "snapshot"
    pull(
        PullOptions(folder, graph.url), EnvironmentToken("T", {"T": "good-token"}), pacing=Pacing(sleep=lambda s: None)
    )
    manifest = read_manifest(folder)
    layout = next(b.text for b in blocks("tenant.md", "text") if b.text.startswith("snapshot/"))
    assert set(re.findall(r"[\w]+\.jsonl|manifest\.json", layout)) == {p.name for p in folder.iterdir()}
    example = json.loads(next(b.text for b in blocks("tenant.md", "json")))
    assert example.keys() == manifest.keys()
    assert {row[0] for row in _table("The snapshot")} == {
        ", ".join(f"`{k}`" for k in group) for group in (("schema", "schema_version"), ("started", "finished"))
    } | {f"`{k}`" for k in manifest if k not in ("schema", "schema_version", "started", "finished")}
    for entry in ("units", "kinds", "skipped", "requests"):
        assert type(example[entry]) is type(manifest[entry])
    assert example["kinds"]["device_configurations"].keys() == manifest["kinds"]["device_configurations"].keys()
    assert example["skipped"][0].keys() == manifest["skipped"][0].keys()
    assert example["requests"].keys() == manifest["requests"].keys()
    units = {row[0].strip("`") for row in _table("What is read")}
    assert units == set(manifest["units"])


def test_bash_completes_pull_and_its_auth_methods(tmp_path):
    import shutil

    from test_cli_io import _bash_complete, _script

    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = _script("bash", tmp_path)
    assert "pull" in _bash_complete(script, ["bitlocker-rules", ""])
    assert _bash_complete(script, ["bitlocker-rules", "pull", "--auth", ""]) == list(AUTH_METHODS)
    assert _bash_complete(script, ["bitlocker-rules", "pull", "--res"]) == ["--resume"]
    assert AUTH_METHODS == signin.AUTH_METHODS  # the parser's copy (it imports no tenant code) is the same
