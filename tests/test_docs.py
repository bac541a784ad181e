"""Documentation that a test keeps true: every command and setting is documented, docs/cli.md is current."""

from __future__ import annotations

from pathlib import Path

import click

from bugsift.cli import main
from bugsift.cli_docs import _commands, render
from bugsift.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def test_every_setting_has_a_description() -> None:
    undocumented = [
        name for name, info in Settings.model_fields.items() if not (info.description or "").strip()
    ]
    assert undocumented == []


def test_every_command_and_option_has_help() -> None:
    for path, command in _commands(main, []):
        assert (command.help or "").strip(), f"bugsift {' '.join(path)} has no help"
        for parameter in command.params:
            if isinstance(parameter, click.Option):
                assert (parameter.help or "").strip(), (
                    f"bugsift {' '.join(path)} {parameter.opts[0]} has no help"
                )


def test_cli_reference_is_current() -> None:
    assert (REPO / "docs" / "cli.md").read_text() == render(), "run: python -m bugsift.cli_docs > docs/cli.md"
