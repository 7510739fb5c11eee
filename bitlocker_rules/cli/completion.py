"""``completion``: shell completion scripts for bash, zsh and fish, generated from the parser.

Each option completes by what its value is: a choice among its ``choices``, a file (``FILE``,
``DIR``), a shipped ruleset name or a ``.rules`` file (``NAME|FILE``), a scenario (``--scenario``),
a rule id (``explain``), or nothing it could guess (a number).
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterable

import attrs
from attrs import frozen

from ..engine import Engine
from ..resources import shipped_ruleset_paths
from ..vocabulary import shipped_vocabulary
from .output import print_out
from .parser import AUTH_METHODS, build_parser
from .status import EXIT_PASS

PROGRAM = "bitlocker-rules"


@frozen
class Option:
    """One option or positional argument of a command, and what its value completes to."""

    flags: tuple[str, ...]  # empty for a positional argument
    help: str
    values: str  # "none" (a flag), "file", "words", "rules" (names and .rules files), "any"
    words: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what each word is (a rule's title), where that helps
    repeats: bool = False  # may be given several times (an option) or takes any number (a positional)
    position: int = 0  # a positional argument's place (1, 2, …)


@frozen
class Command:
    """One subcommand: its name, what it does, its options."""

    name: str
    help: str
    options: tuple[Option, ...]


def run_completion(args: argparse.Namespace) -> int:
    """Print the completion script for ``args.shell``."""
    commands, top = describe(build_parser())
    script = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[args.shell](commands, top)
    print_out(script.rstrip("\n"))
    return EXIT_PASS


def describe(parser: argparse.ArgumentParser) -> tuple[tuple[Command, ...], tuple[Option, ...]]:
    """The parser's subcommands and its own top-level options."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help or "" for choice in sub._choices_actions}
    commands = tuple(Command(name, helps.get(name, ""), _options(command)) for name, command in sub.choices.items())
    return commands, tuple(o for o in _options(parser) if o.flags)


def _options(parser: argparse.ArgumentParser) -> tuple[Option, ...]:
    actions = [a for a in parser._actions if not isinstance(a, argparse._SubParsersAction)]
    positionals = [a for a in actions if not a.option_strings]
    return tuple(
        attrs.evolve(
            _option(action),
            position=positionals.index(action) + 1 if action in positionals else 0,
            repeats=isinstance(action, argparse._AppendAction) or action.nargs in ("*", "+"),
        )
        for action in actions
    )


def _option(action: argparse.Action) -> Option:
    help_text = _summary(action.help or "")
    if action.nargs == 0:
        return Option(tuple(action.option_strings), help_text, "none")
    if action.choices:
        return Option(tuple(action.option_strings), help_text, "words", tuple(action.choices))
    if action.dest == "auth":
        return Option(tuple(action.option_strings), help_text, "words", AUTH_METHODS)
    if action.dest == "scenario":
        return Option(tuple(action.option_strings), help_text, "words", tuple(shipped_vocabulary().scenarios))
    if action.dest == "rule_id":
        rules = _rules()
        return Option((), help_text, "words", tuple(rules), tuple(rules.values()))
    if action.metavar in ("FILE", "DIR"):
        return Option(tuple(action.option_strings), help_text, "file")
    if action.metavar and "NAME|FILE" in action.metavar:
        return Option(tuple(action.option_strings), help_text, "rules", tuple(shipped_ruleset_paths()))
    return Option(tuple(action.option_strings), help_text, "any")


def _summary(text: str) -> str:
    """The help text's first clause (up to a ``;`` or a sentence's end outside parentheses)."""
    depth = 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and (char == ";" or text.startswith(". ", index)):
            return text[:index]
    return text


def _rules() -> dict[str, str]:
    """Every shipped rule's id and title."""
    return {rule.id: rule.title for loaded in Engine.load(None).rulesets for rule in loaded.ruleset.rules}


# ---------------------------------------------------------------------------
# bash


def bash_script(commands: tuple[Command, ...], top: tuple[Option, ...]) -> str:
    """A bash completion function for every command and option."""
    function = "_bitlocker_rules"
    lines = [
        f"# bash completion for {PROGRAM}; load with: source <({PROGRAM} completion bash)",
        f"{function}() {{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" command="" i',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in -*) ;; *) command="${COMP_WORDS[i]}"; break ;; esac',
        "    done",
        '    case "$command" in',
        f'        "") COMPREPLY=($(compgen -W {_quoted([c.name for c in commands] + _flags(top))} -- "$cur")) ;;',
    ]
    for command in commands:
        lines.append(f"        {command.name})")
        lines.append('            case "$prev" in')
        for option in command.options:
            if option.flags and option.values != "none":
                lines.append(f"                {'|'.join(option.flags)}) {_bash_values(option)}; return ;;")
        lines.append("            esac")
        positional = next((o for o in command.options if not o.flags), None)
        words = _flags(command.options)
        lines.append('            if [[ "$cur" == -* ]]; then')
        lines.append(f'                COMPREPLY=($(compgen -W {_quoted(words)} -- "$cur"))')
        lines.append("            else")
        lines.append(f"                {_bash_values(positional) if positional else 'COMPREPLY=()'}")
        lines.append("            fi ;;")
    lines += ["    esac", "}", f"complete -o filenames -F {function} {PROGRAM}"]
    return "\n".join(lines) + "\n"


def _bash_values(option: Option) -> str:
    if option.values == "file":
        return 'COMPREPLY=($(compgen -f -- "$cur"))'
    if option.values == "rules":
        return (
            f'COMPREPLY=($(compgen -W {_quoted(option.words)} -- "$cur") '
            '$(compgen -f -X "!*.rules" -- "$cur") $(compgen -d -- "$cur"))'
        )
    if option.values == "words":
        return f'COMPREPLY=($(compgen -W {_quoted(option.words)} -- "$cur"))'
    return "COMPREPLY=()"


def _flags(options: tuple[Option, ...]) -> list[str]:
    return [flag for option in options for flag in option.flags]


def _quoted(words: Iterable[str]) -> str:
    return shlex.quote(" ".join(words))


# ---------------------------------------------------------------------------
# zsh


def zsh_script(commands: tuple[Command, ...], top: tuple[Option, ...]) -> str:
    """A zsh completion function (``_arguments``), with each option's help as its description."""
    lines = [
        f"#compdef {PROGRAM}",
        f"# zsh completion for {PROGRAM}: save as _{PROGRAM} in a folder of $fpath",
        "",
        f"_{PROGRAM.replace('-', '_')}() {{",
        "    local context state state_descr line",
        "    typeset -A opt_args",
        "    _arguments -C \\",
    ]
    lines += [f"        {_zsh_spec(o)} \\" for o in top]
    lines += [
        "        '1:command:->command' \\",
        "        '*::argument:->argument'",
        "    case $state in",
        "        command)",
        "            local -a commands",
        "            commands=(" + " ".join(_zsh_quote(f"{c.name}:{c.help}") for c in commands) + ")",
        "            _describe -t commands command commands ;;",
        "        argument)",
        "            case $line[1] in",
    ]
    for command in commands:
        specs = [_zsh_spec(o) for o in command.options]
        lines.append(f"                {command.name}) _arguments " + " ".join(specs) + " ;;")
    lines += ["            esac ;;", "    esac", "}", "", f'_{PROGRAM.replace("-", "_")} "$@"']
    return "\n".join(lines) + "\n"


def _zsh_spec(option: Option) -> str:
    description = option.help.replace("[", "(").replace("]", ")").replace(":", " ")
    action = {
        "none": "",
        "file": ":file:_files",
        "any": ":value: ",
        "words": f":value:({' '.join(option.words)})"
        if not option.notes
        else ":value:((" + " ".join(f'{w}\\:"{_zsh_note(n)}"' for w, n in zip(option.words, option.notes)) + "))",
        "rules": f":ruleset:{{_alternative 'names:ruleset:({' '.join(option.words)})' "
        "'files:rules file:_files -g \"*.rules\"'}",
    }
    if not option.flags:
        return _zsh_quote(f"{'*' if option.repeats else option.position}{action[option.values] or ':value: '}")
    repeat = "*" if option.repeats else ""
    flags = option.flags[0] if len(option.flags) == 1 else "{" + ",".join(option.flags) + "}"
    return repeat + (
        _zsh_quote(f"{flags}[{description}]{action[option.values]}")
        if len(option.flags) == 1
        else flags + _zsh_quote(f"[{description}]{action[option.values]}")
    )


def _zsh_note(text: str) -> str:
    return text.replace("\\", "").replace('"', "").replace("'", "")


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# ---------------------------------------------------------------------------
# fish


def fish_script(commands: tuple[Command, ...], top: tuple[Option, ...]) -> str:
    """fish ``complete`` lines: the commands first, then each command's options."""
    lines = [
        f"# fish completion for {PROGRAM}: save as ~/.config/fish/completions/{PROGRAM}.fish",
        f"complete -c {PROGRAM} -f",
    ]
    lines += [
        f"complete -c {PROGRAM} -n '__fish_use_subcommand' -a {c.name} -d {_fish_quote(c.help)}" for c in commands
    ]
    lines += [_fish_line("__fish_use_subcommand", o) for o in top]
    for command in commands:
        condition = f"__fish_seen_subcommand_from {command.name}"
        for option in command.options:
            lines += _fish_noted(condition, option) if option.notes else [_fish_line(condition, option)]
    return "\n".join(lines) + "\n"


def _fish_line(condition: str, option: Option) -> str:
    parts = [f"complete -c {PROGRAM} -n {_fish_quote(condition)}"]
    for flag in option.flags:
        parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
    parts.append(
        {
            "none": "",
            "file": "-r -F",
            "any": "-x",
            "words": f"-x -a {_fish_quote(' '.join(option.words))}",
            "rules": f"-r -F -a {_fish_quote(' '.join(option.words))}",
        }[option.values]
    )
    if option.help:
        parts.append(f"-d {_fish_quote(option.help)}")
    return " ".join(part for part in parts if part)


def _fish_noted(condition: str, option: Option) -> list[str]:
    """One line per word, so each has its own description (a rule id and its title)."""
    return [
        f"complete -c {PROGRAM} -n {_fish_quote(condition)} -x -a {_fish_quote(word)} -d {_fish_quote(note)}"
        for word, note in zip(option.words, option.notes)
    ]


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
