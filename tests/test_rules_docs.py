"""Every rule setting is documented: a comment in config/rules.yaml and a mention in README."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.rule_config import DEFAULT_RULES
from bot.rules import RuleSettings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
VALIDATION = README[README.index("## Validation") : README.index("\n## ", README.index("## Validation") + 1)]
RULES_YAML = DEFAULT_RULES.read_text(encoding="utf-8")
NAMES = [f.name for f in dataclasses.fields(RuleSettings)]


@pytest.mark.parametrize("name", NAMES)
def test_every_rule_setting_is_in_the_bundled_file_with_a_comment(name):
    lines = RULES_YAML.splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.startswith(f"{name}:")]
    above = [line for line in lines[max(0, at - 12) : at] if line.startswith("#")]
    assert above, f"{name} has no comment above it in config/rules.yaml"


@pytest.mark.parametrize(
    "name",
    ["non_blocking", "exchange_rates", "split_backorder", "verify_dkim", "new_sender_needs_review", "approximate_rates"],
)
def test_the_readme_validation_section_names_the_setting(name):
    assert f"`{name}`" in VALIDATION
