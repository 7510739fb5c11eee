"""The built-rulesets cache: a cached run answers exactly as an uncached one, and never trusts a bad entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bitlocker_rules import Engine, cache
from bitlocker_rules.engine import load_ruleset
from bitlocker_rules.report.json_report import render_json

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "policy-silent.json"
DEVICE = ROOT / "examples" / "device-legacy.json"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("BITLOCKER_RULES_CACHE", str(folder))
    return folder


def _report_json(engine: Engine) -> dict:
    from bitlocker_rules.facts import load_device_file, load_policy_file, merge_facts

    facts = merge_facts([load_policy_file(POLICY), load_device_file(DEVICE)])
    return json.loads(render_json(engine.evaluate(facts)))


def test_a_cached_load_reports_exactly_as_a_fresh_one(cache_dir, monkeypatch):
    monkeypatch.setenv("BITLOCKER_RULES_CACHE", "off")
    fresh = _report_json(Engine.load())
    monkeypatch.setenv("BITLOCKER_RULES_CACHE", str(cache_dir))
    first = _report_json(Engine.load())  # builds and stores
    stored = sorted(p.name.split("-")[0] for p in cache_dir.iterdir())
    second = _report_json(Engine.load())  # reads back
    assert stored.count("ruleset") == 8 and "scenarios" in stored
    assert fresh == first == second


def test_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("BITLOCKER_RULES_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    Engine.load(["silent_enablement"])
    assert not any(tmp_path.iterdir())


def test_an_edited_rule_file_is_rebuilt(cache_dir, tmp_path):
    rules = tmp_path / "mine.rules"
    text = 'ruleset mine "Mine"\nrule M-01 "A startup PIN"\n  require policy.tpm_startup_pin == {}\n'
    rules.write_text(text.format("Required"))
    assert load_ruleset(rules).verdicts({"policy.tpm_startup_pin": "Blocked"}) == (1,)
    rules.write_text(text.format("Blocked"))
    assert load_ruleset(rules).verdicts({"policy.tpm_startup_pin": "Blocked"}) == (0,)


@pytest.mark.parametrize("damage", [b"", b"not a pickle", b"\x80\x05K\x01."])
def test_a_damaged_entry_is_rebuilt_not_trusted(cache_dir, damage):
    expected = _report_json(Engine.load())
    for entry in cache_dir.iterdir():
        entry.write_bytes(damage)
    assert _report_json(Engine.load()) == expected


@pytest.mark.skipif(os.name != "posix", reason="folder permissions are POSIX")
def test_a_folder_others_can_write_to_is_never_read(cache_dir):
    cache_dir.mkdir(mode=0o700)
    cache_dir.chmod(0o777)
    Engine.load(["silent_enablement"])
    assert not any(cache_dir.iterdir())


def test_the_cache_is_trimmed(cache_dir, monkeypatch, tmp_path):
    monkeypatch.setattr(cache, "MAX_ENTRIES", 3)
    for i in range(6):
        rules = tmp_path / f"r{i}.rules"
        rules.write_text(f'ruleset r{i} "R"\nrule R-{i:02} "R"\n  require policy.tpm_startup_pin == Required\n')
        load_ruleset(rules)
    assert len(list(cache_dir.iterdir())) == 3


def test_a_cached_check_never_loads_the_parser(cache_dir):
    """The point of the cache: a warm ``check`` imports neither lark nor the checker's parser."""
    program = (
        "import sys\n"
        "from bitlocker_rules.cli import main\n"
        "try:\n"
        f"    main(['check', '--policy', {str(POLICY)!r}, '--device', {str(DEVICE)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m == 'lark' or m.endswith('.syntax')), file=sys.stderr)\n"
    )
    env = {**os.environ, "BITLOCKER_RULES_CACHE": str(cache_dir)}
    runs = [
        subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, cwd=ROOT)
        for _ in range(2)
    ]
    cold, warm = (run.stderr.splitlines()[-1] for run in runs)
    assert cold == "LOADED ['bitlocker_rules.syntax', 'lark']"
    assert warm == "LOADED []"
    assert runs[0].stdout == runs[1].stdout


def test_a_cached_tree_hashes_as_a_fresh_one_in_another_process(cache_dir):
    """String hashes differ between processes: a hash cached in a node must not outlive its process."""
    program = (
        "from bitlocker_rules.engine import compile_text, load_ruleset, resolve_ruleset\n"
        "cached = load_ruleset('silent_enablement').ruleset\n"
        "fresh = compile_text(resolve_ruleset('silent_enablement').read_text(), 'rulesets/silent_enablement.rules')"
        ".ruleset\n"
        "assert cached == fresh\n"
        "pairs = [(a, b) for r, s in zip(cached.rules, fresh.rules) for a, b in zip(r.requires, s.requires)]\n"
        "assert pairs and all(hash(a) == hash(b) for a, b in pairs)\n"
        "print('ok', len(pairs))\n"
    )
    for seed in ("1", "2"):
        env = {**os.environ, "BITLOCKER_RULES_CACHE": str(cache_dir), "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, cwd=ROOT)
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("ok")


def test_an_edited_grammar_is_a_new_key(cache_dir, monkeypatch):
    from bitlocker_rules import engine

    load_ruleset("silent_enablement")
    monkeypatch.setattr(engine, "grammar_text", lambda: "an edited grammar")
    load_ruleset("silent_enablement")
    assert sum(p.name.startswith("ruleset-") for p in cache_dir.iterdir()) == 2
