"""README keeps documenting every command, option and setting."""
import re

import click

from kb.cli import main
from kb.core.config import ENV_DOC
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text("utf-8")


def test_two_commands_come_first():
    first = README.split("## ", 2)[1]
    assert "make run" in first and "make test" in first


def test_every_setting_is_documented():
    for _, (var, _) in ENV_DOC.items():
        assert f"`{var}`" in README, var


def _commands(group, prefix="kb"):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}", cmd


def test_every_command_and_option_is_documented():
    for name, cmd in _commands(main):
        assert f"`{name}" in README, f"{name} missing from README"
        row = next((l for l in README.splitlines() if l.startswith(f"| `{name}")), "")
        for p in cmd.params:
            if isinstance(p, click.Option):
                flag = max(p.opts, key=len)
                assert flag in row, f"{name} {flag} missing from its README row"
