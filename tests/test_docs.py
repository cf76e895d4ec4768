"""README documents every setting and every command (a stranger must find them there)."""

from __future__ import annotations

from pathlib import Path

import typer.main
from pydantic import BaseModel

from bot.cli import app
from bot.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += _keys(annotation, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_every_setting_is_in_the_readme():
    missing = [key for key in _keys(Settings) if f"`{key}" not in README]
    assert not missing, f"settings not documented in README.md: {missing}"


def test_every_command_is_in_the_readme():
    group = typer.main.get_group(app)
    names = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            names += [f"orderbot {name} {sub}" for sub in command.commands]
        else:
            names.append(f"orderbot {name}")
    missing = [n for n in names if n not in README]
    assert not missing, f"commands not documented in README.md: {missing}"
