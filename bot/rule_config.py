"""Rule thresholds from ``config/rules.yaml``, validated at start.

Every key of the file is a field of ``bot.rules.RuleSettings``; an unknown key,
a value of the wrong type or a bad number stops the bot with the file, the key
and the problem named. Keys left out keep their defaults.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import yaml

from bot.errors import ConfigError
from bot.rules import RuleSettings, check_non_blocking

DEFAULT_RULES = Path(__file__).resolve().parents[1] / "config" / "rules.yaml"


def _convert(value: Any, kind: Any, *, path: str, key: str) -> Any:
    origin = get_origin(kind)
    if origin is tuple:
        args = get_args(kind)
        if not isinstance(value, list):
            raise ConfigError("expected a list", path=path, key=key)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], path=path, key=f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"expected {len(args)} items, got {len(value)}", path=path, key=key)
        return tuple(_convert(v, a, path=path, key=f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if kind is Decimal:
        if isinstance(value, float):
            value = repr(value)
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ConfigError(f"{value!r} is not a number", path=path, key=key) from None
        if not number.is_finite():
            raise ConfigError(f"{value!r} is not a finite number", path=path, key=key)
        return number
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{value!r} is not true or false", path=path, key=key)
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{value!r} is not a whole number", path=path, key=key)
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{value!r} is not a number", path=path, key=key)
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{value!r} is not text", path=path, key=key)
        return value
    args = get_args(kind)
    if type(None) in args and value is None:
        return None
    non_none = [a for a in args if a is not type(None)]
    if len(non_none) == 1:
        return _convert(value, non_none[0], path=path, key=key)
    raise ConfigError(f"cannot read a value of type {kind}", path=path, key=key)


def load_rule_settings(path: Path | None = None) -> RuleSettings:
    """Rule settings from ``path`` (default: the bundled config/rules.yaml)."""
    path = path or DEFAULT_RULES
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read rules file: {exc.strerror}", path=where) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(f"{line}not valid YAML: {getattr(exc, 'problem', exc)}", path=where) from exc
    if not isinstance(raw, dict):
        raise ConfigError("the top level must be a mapping of rule settings", path=where)
    hints = get_type_hints(RuleSettings)
    known = {f.name for f in dataclasses.fields(RuleSettings)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"unknown rule setting; known ones: {', '.join(sorted(known))}", path=where, key=str(key))
        values[key] = _convert(value, hints[key], path=where, key=key)
    for key in ("exchange_rates", "approximate_rates"):
        for i, (source, target, rate) in enumerate(values.get(key, ())):
            if rate <= 0:
                raise ConfigError(f"the rate {source} -> {target} must be above 0, got {rate}", path=where, key=f"{key}[{i}]")
    try:
        check_non_blocking(values.get("non_blocking", ()))
    except ValueError as exc:
        raise ConfigError(str(exc), path=where, key="non_blocking") from None
    try:
        return dataclasses.replace(RuleSettings(), **values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc), path=where) from exc
