"""The examples of the documentation are what the program accepts: every
settings block of README.md validates; of docs/scaling.md the settings block
validates, every ``orderbot`` command line of the systemd units
and the compose file parses with the real command line (options that exist,
values of the right kind), and the compose file is YAML with the services the
text names. Neither systemd nor a container engine runs them here."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "scaling.md"


def _blocks(kind: str, doc: Path = DOC) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("block", _blocks("yaml", ROOT / "README.md"), ids=lambda b: b.split(":", 1)[0])
def test_every_settings_example_of_the_readme_validates(block: str, tmp_path: Path):
    path = tmp_path / "orderbot.yaml"
    path.write_text(block, encoding="utf-8")
    settings = load_settings(path, environ={"ORDERBOT_IMAP_PASSWORD": "imap-secret"})
    assert settings.sources or settings.smtp  # the example's section was read, not ignored


def _parses(argv: list[str]) -> str:
    """Parse ``orderbot ARGS`` with the real command line without running it (``--help``
    last: an option that does not exist is refused before help is shown); its usage line."""
    assert argv[0].endswith("orderbot"), argv
    result = CliRunner().invoke(app, [*argv[1:], "--help"])
    assert result.exit_code == 0, result.output
    return next((line.strip() for line in result.output.splitlines() if "Usage:" in line), "")


def _command_lines() -> list[list[str]]:
    lines = [shlex.split(m) for block in _blocks("ini") for m in re.findall(r"^ExecStart=(.*)$", block, flags=re.M)]
    (compose,) = _blocks("yaml")[-1:]
    services = yaml.safe_load(compose)["services"]
    lines += [s["command"] for s in services.values() if s.get("command", [""])[0] == "orderbot"]
    return lines


def test_the_settings_example_validates(tmp_path: Path):
    (settings_block,) = [b for b in _blocks("yaml") if "executor: celery" in b]
    path = tmp_path / "orderbot.yaml"
    path.write_text(settings_block, encoding="utf-8")
    settings = load_settings(path, environ={"ORDERBOT_DB_URL": "postgresql+psycopg://orderbot@db.internal/orderbot",
                                            "ORDERBOT_BROKER_URL": "redis://:secret@broker.internal:6379/0",
                                            "ORDERBOT_PORTAL_PASSWORD": "portal-secret"})
    assert settings.executor == "celery" and settings.celery.portal_sessions == 8
    assert settings.store_url.startswith("postgresql+psycopg://") and settings.portal.workers == 2


@pytest.mark.parametrize("argv", _command_lines(), ids=lambda argv: " ".join(argv[1:3]))
def test_every_command_line_of_the_examples_parses(argv: list[str]):
    assert re.match(r"Usage: \S+ (run|worker) ", _parses(argv)), _parses(argv)


def test_a_wrong_option_in_an_example_would_be_caught():
    result = CliRunner().invoke(app, ["worker", "--concurency", "4", "--help"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_the_compose_example_has_the_services_the_text_names():
    services = yaml.safe_load(_blocks("yaml")[-1])["services"]
    assert set(services) == {"postgres", "redis", "daemon", "worker"}
    assert services["worker"]["deploy"]["replicas"] == 4 and "daemon" not in services["worker"].get("depends_on", [])
    assert len(_command_lines()) == 4  # two units, two services
