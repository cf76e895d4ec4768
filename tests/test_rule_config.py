"""config/rules.yaml: thresholds that reach the rules, validated at start."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.rule_config import DEFAULT_RULES, load_rule_settings
from bot.rules import RuleSettings


def test_the_bundled_file_holds_the_defaults():
    assert DEFAULT_RULES.is_file()
    assert load_rule_settings() == RuleSettings()


def test_values_reach_the_settings(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text("price_tolerance: 0.05\nnew_ship_to_needs_review: false\napproximate_rates:\n  - [USD, EUR, 0.95]\n", encoding="utf-8")
    settings = load_rule_settings(path)
    assert settings.price_tolerance == Decimal("0.05")
    assert settings.new_ship_to_needs_review is False
    assert settings.approximate_rates == (("USD", "EUR", Decimal("0.95")),)


def test_new_keys_reach_the_settings(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        "non_blocking: [new_ship_to, past_delivery_date]\nexchange_rates:\n  - [USD, EUR, 0.92]\n"
        "verify_dkim: true\nnew_sender_needs_review: true\n",
        encoding="utf-8",
    )
    settings = load_rule_settings(path)
    assert settings.non_blocking == ("new_ship_to", "past_delivery_date")
    assert settings.exchange_rates == (("USD", "EUR", Decimal("0.92")),)
    assert settings.verify_dkim is True and settings.new_sender_needs_review is True


def test_defaults_are_safe():
    defaults = RuleSettings()
    assert defaults.non_blocking == () and not defaults.verify_dkim and not defaults.new_sender_needs_review


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("price_tolerence: 0.05\n", "price_tolerence: unknown rule setting"),
        ("price_tolerance: lots\n", "price_tolerance: 'lots' is not a number"),
        ("new_ship_to_needs_review: maybe\n", "new_ship_to_needs_review: 'maybe' is not true or false"),
        ("max_days_ahead: 1.5\n", "max_days_ahead: 1.5 is not a whole number"),
        ("approximate_rates:\n  - [USD, EUR]\n", "approximate_rates[0]: expected 3 items"),
        ("- just a list\n", "the top level must be a mapping"),
        ("non_blocking: [new_ship_to, late_delivery]\n", "non_blocking: 'late_delivery' is not a reason code"),
        ("non_blocking: [duplicate_po]\n", "non_blocking: 'duplicate_po' always sends an order to review and cannot be non-blocking"),
        ("non_blocking: [unverified_sender]\n", "non_blocking: 'unverified_sender' always sends"),
        ("non_blocking: new_ship_to\n", "non_blocking: expected a list"),
        ("exchange_rates:\n  - [USD, EUR, 0]\n", "exchange_rates[0]: the rate USD -> EUR must be above 0"),
        ("exchange_rates:\n  - [USD, EUR, lots]\n", "exchange_rates[0][2]: 'lots' is not a number"),
        ("verify_dkim: yes please\n", "verify_dkim: 'yes please' is not true or false"),
        ("new_sender_needs_review: 1\n", "new_sender_needs_review: 1 is not true or false"),
        ("price_tolerance: [\n", "not valid YAML"),
    ],
)
def test_a_bad_file_names_file_key_and_problem(tmp_path: Path, text: str, problem: str):
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rule_settings(path)
    assert str(path) in str(caught.value) and problem in str(caught.value)
