"""The documentation's ``manage.py flowr_*`` commands exist with the options
it shows, and the command table lists every option each command has."""

from __future__ import annotations

import re
from argparse import ArgumentParser
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
#: ``manage.py flowr_x ...`` up to the end of its code span or line
MENTION = re.compile(r"manage\.py (flowr_\w+)([^`\n]*)")
OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][\w-]*)")
#: what every Django command accepts
BASE_OPTIONS = {"-h", "--help", "--version", "-v", "--verbosity", "--settings", "--pythonpath", "--traceback"}
BASE_OPTIONS |= {"--no-color", "--force-color", "--skip-checks"}
TABLE = ROOT / "docs" / "commands.md"


def flowr_commands() -> list[str]:
    return sorted(name for name, app in get_commands().items() if app == "flowr")


def parser(command: str) -> ArgumentParser:
    return load_command_class("flowr", command).create_parser("manage.py", command)


def mentions() -> list[tuple[str, str, str]]:
    """(page, command, what follows it) for every mention in the docs."""
    found = []
    for page in PAGES:
        for command, rest in MENTION.findall(page.read_text(encoding="utf-8")):
            found.append((page.relative_to(ROOT).as_posix(), command, rest))
    return found


def synopses() -> dict[str, str]:
    """The command table's first column: command -> its arguments."""
    rows = re.findall(r"^\| `manage\.py (flowr_\w+)([^`]*)` \|", TABLE.read_text(encoding="utf-8"), re.M)
    return dict(rows)


def test_the_docs_mention_commands():
    assert len(mentions()) >= len(flowr_commands())


@pytest.mark.parametrize(("page", "command", "rest"), mentions())
def test_a_documented_command_has_the_options_shown(page, command, rest):
    assert command in flowr_commands(), f"{page}: no command {command}"
    options = set(parser(command)._option_string_actions)
    shown = set(OPTION.findall(rest.replace("\\|", "|")))
    assert shown <= options, f"{page}: {command} has no option {sorted(shown - options)}"


def test_the_table_lists_every_command():
    assert sorted(synopses()) == flowr_commands()


@pytest.mark.parametrize("command", flowr_commands())
def test_the_table_lists_every_option_and_argument(command):
    synopsis = synopses()[command].replace("\\|", "|")
    actions = parser(command)._actions
    own = {option for action in actions for option in action.option_strings} - BASE_OPTIONS
    listed = set(OPTION.findall(synopsis))
    documented_or_alias = {
        option
        for action in actions
        if set(action.option_strings) & listed  # one spelling shown is enough (-o or --output)
        for option in action.option_strings
    }
    assert own <= documented_or_alias, f"{command}: undocumented {sorted(own - documented_or_alias)}"
    positionals = [action for action in actions if not action.option_strings]
    shown = re.findall(r"\b[A-Z][A-Z_]*\b", re.split(r"[\[(]", synopsis, maxsplit=1)[0])
    assert len(shown) == len(positionals), f"{command}: positional arguments {shown} vs {[a.dest for a in positionals]}"
