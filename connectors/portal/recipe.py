"""Portal recipes: how to drive one order-entry portal, written as YAML.

A recipe says how to log in, search for an order, enter one (header, a block
repeated per line with "add rows" handling, popups, frames and dialogs), save
it, read the confirmation and read a saved order back. ``load_recipe`` checks
all of it at start: an unknown step, a target without a way to find it, a
variable that does not exist, a regex that does not compile or a hook that
cannot be imported stops the bot with the file and the step named.
``config/portals/demo.yaml`` is the worked example.

A step is a mapping with one action key:

    goto: /orders/new                         a path on the portal (a template)
    fill: {target: T, value: "{po_number}"}   type into a field
    select: {target: T, value: "STD"}         pick an option by value (or label: ...)
    check: {target: T} / uncheck: {target: T}
    click: T                                  click (waits for the page it loads)
    press: {target: T, key: Enter}
    wait_for: T                               until T is visible
    popup: {open: STEP, steps: [...]}         steps in the window STEP opens
          (reloads: true when closing it posts the page back: wait for that)
    frame: {target: {css: "iframe#x"}, steps: [...]}
    hook: "package.module:function"           Python for what YAML cannot say;
                                              called as function(page, values)

Every step may carry ``when: NAME`` (run only when that value is set and not
false) or ``unless: NAME``. A target T finds one element, by preference as a
person would: ``{label: ...}``, ``{role: button, name: ...}``, ``{placeholder:
...}``, ``{text: ...}``, or ``{css: ...}``; strings in it are templates too.
Templates are ``{name}`` or ``{name|url}`` over the values of the order (see
``ENTRY_VALUES`` and ``LINE_VALUES``), formatted in the recipe's ``formats``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError

LOGIN_VALUES = frozenset({"username", "password"})
ENTRY_VALUES = frozenset({
    "customer_id", "po_number", "requested_date", "ship_to_id", "ship_to_text", "urgent", "ship_method",
})
LINE_VALUES = frozenset({"row", "sku", "quantity", "unit_price"})
SEARCH_VALUES = frozenset({"customer_id", "po_number"})
READ_VALUES = frozenset({"order_number"})

ACTIONS = ("goto", "fill", "select", "check", "uncheck", "click", "press", "wait_for", "popup", "frame", "hook")
TARGET_KEYS = ("label", "role", "placeholder", "text", "css")
_TEMPLATE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\|url)?\}")


@dataclass(frozen=True, slots=True)
class Target:
    how: str  # one of TARGET_KEYS
    what: str  # a template
    name: str | None = None  # the accessible name, with role
    exact: bool = True
    nth: int | None = None


@dataclass(frozen=True, slots=True)
class Step:
    action: str
    where: str  # "entry.steps[3]": for error messages
    target: Target | None = None
    value: str | None = None  # template: a path, a value, a key, an option
    by_label: bool = False  # select: value is the option's text
    steps: tuple[Step, ...] = ()  # popup, frame
    opener: Step | None = None  # popup: the step that opens it
    reloads: bool = False  # popup: the page below reloads when it closes
    hook: Callable[..., Any] | None = None
    when: str | None = None
    unless: str | None = None


@dataclass(frozen=True, slots=True)
class Formats:
    date: str = "%Y-%m-%d"  # strftime format of the portal's date fields
    decimal_separator: str = "."
    thousands_separator: str = ""  # only for reading; nothing is typed with it


@dataclass(frozen=True, slots=True)
class Results:
    """Search results: a row per order, cells read with targets inside the row."""

    rows: Target
    order_number: Target
    customer_id: Target | None = None
    po_number: Target | None = None


@dataclass(frozen=True, slots=True)
class LineBlock:
    row: tuple[Step, ...]
    add_rows: tuple[Step, ...] = ()
    max_add_rows: int = 100


@dataclass(frozen=True, slots=True)
class Confirmation:
    target: Target
    regex: re.Pattern[str]  # with a group named "number"


@dataclass(frozen=True, slots=True)
class DialogRule:
    message: re.Pattern[str]
    accept: bool


@dataclass(frozen=True, slots=True)
class ReadBack:
    steps: tuple[Step, ...]
    header: Mapping[str, Target]
    lines: Results | None
    line_cells: Mapping[str, Target]
    true_text: str = "Yes"


@dataclass(frozen=True, slots=True)
class Recipe:
    name: str
    path: Path
    formats: Formats
    login: tuple[Step, ...]
    logged_in: Target | None  # visible after a good login
    login_error: Target | None  # a failed login shows this
    expired: re.Pattern[str]  # a URL matching this means the session expired
    search_steps: tuple[Step, ...]
    results: Results
    entry_steps: tuple[Step, ...]
    lines: LineBlock
    save: tuple[Step, ...]
    confirmation: Confirmation
    errors: Target | None
    dialogs: tuple[DialogRule, ...]
    read: ReadBack | None
    defaults: Mapping[str, str] = field(default_factory=dict)
    before_save: tuple[Step, ...] = ()


class _Loader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {problem}")

    def mapping(self, value: Any, where: str, required: tuple[str, ...] = (), allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, found {type(value).__name__}")
        for key in required:
            if key not in value:
                raise self.fail(where, f"'{key}' is required")
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    raise self.fail(where, f"unknown key '{key}' (allowed: {', '.join(allowed)})")
        return value

    def template(self, value: Any, where: str, names: frozenset[str]) -> str:
        if not isinstance(value, (str, int, float)):
            raise self.fail(where, f"expected text, found {type(value).__name__}")
        text = str(value)
        for match in _TEMPLATE.finditer(text):
            if match.group(1) not in names:
                raise self.fail(where, f"unknown value {{{match.group(1)}}} (known here: {', '.join(sorted(names))})")
        return text

    def regex(self, value: Any, where: str) -> re.Pattern[str]:
        try:
            return re.compile(str(value))
        except re.error as exc:
            raise self.fail(where, f"bad regular expression {value!r}: {exc}") from None

    def target(self, value: Any, where: str, names: frozenset[str]) -> Target:
        if isinstance(value, str):
            value = {"css": value}
        raw = self.mapping(value, where, allowed=(*TARGET_KEYS, "name", "exact", "nth"))
        hows = [key for key in TARGET_KEYS if key in raw]
        if len(hows) != 1:
            raise self.fail(where, f"a target needs exactly one of {', '.join(TARGET_KEYS)}, found {hows or 'none'}")
        how = hows[0]
        name = self.template(raw["name"], f"{where}.name", names) if "name" in raw else None
        if name is not None and how != "role":
            raise self.fail(where, "'name' goes with 'role'")
        nth = raw.get("nth")
        if nth is not None and not isinstance(nth, int):
            raise self.fail(f"{where}.nth", "expected a whole number")
        return Target(how, self.template(raw[how], f"{where}.{how}", names), name, bool(raw.get("exact", True)), nth)

    def condition(self, raw: dict[str, Any], key: str, where: str, names: frozenset[str]) -> str | None:
        name = raw.get(key)
        if name is not None and name not in names:
            raise self.fail(f"{where}.{key}", f"unknown value '{name}' (known here: {', '.join(sorted(names))})")
        return name

    def steps(self, value: Any, where: str, names: frozenset[str]) -> tuple[Step, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(where, "expected a list of steps")
        return tuple(self.step(item, f"{where}[{i}]", names) for i, item in enumerate(value))

    def step(self, value: Any, where: str, names: frozenset[str]) -> Step:
        raw = self.mapping(value, where)
        actions = [key for key in raw if key in ACTIONS]
        extra = [key for key in raw if key not in ACTIONS and key not in ("when", "unless")]
        if len(actions) != 1 or extra:
            raise self.fail(where, f"a step needs exactly one action of {', '.join(ACTIONS)}; found {list(raw)}")
        action = actions[0]
        arg = raw[action]
        when = self.condition(raw, "when", where, names)
        unless = self.condition(raw, "unless", where, names)
        here = f"{where}.{action}"
        if action == "goto":
            return Step(action, where, value=self.template(arg, here, names), when=when, unless=unless)
        if action in ("click", "wait_for"):
            return Step(action, where, target=self.target(arg, here, names), when=when, unless=unless)
        if action in ("check", "uncheck"):
            spec = self.mapping(arg, here, required=("target",), allowed=("target",))
            return Step(action, where, target=self.target(spec["target"], f"{here}.target", names), when=when, unless=unless)
        if action in ("fill", "press"):
            key = "value" if action == "fill" else "key"
            spec = self.mapping(arg, here, required=("target", key), allowed=("target", key))
            return Step(action, where, target=self.target(spec["target"], f"{here}.target", names),
                        value=self.template(spec[key], f"{here}.{key}", names), when=when, unless=unless)
        if action == "select":
            spec = self.mapping(arg, here, required=("target",), allowed=("target", "value", "label"))
            if ("value" in spec) == ("label" in spec):
                raise self.fail(here, "select needs one of 'value' or 'label'")
            key = "value" if "value" in spec else "label"
            return Step(action, where, target=self.target(spec["target"], f"{here}.target", names),
                        value=self.template(spec[key], f"{here}.{key}", names), by_label=key == "label",
                        when=when, unless=unless)
        if action == "popup":
            spec = self.mapping(arg, here, required=("open", "steps"), allowed=("open", "steps", "reloads"))
            return Step(action, where, opener=self.step(spec["open"], f"{here}.open", names),
                        steps=self.steps(spec["steps"], f"{here}.steps", names), reloads=bool(spec.get("reloads")),
                        when=when, unless=unless)
        if action == "frame":
            spec = self.mapping(arg, here, required=("target", "steps"), allowed=("target", "steps"))
            return Step(action, where, target=self.target(spec["target"], f"{here}.target", names),
                        steps=self.steps(spec["steps"], f"{here}.steps", names), when=when, unless=unless)
        return Step(action, where, hook=self.hook(arg, here), when=when, unless=unless)

    def hook(self, value: Any, where: str) -> Callable[..., Any]:
        if not isinstance(value, str) or ":" not in value:
            raise self.fail(where, f"a hook is 'package.module:function', found {value!r}")
        module_name, _, attr = value.partition(":")
        try:
            function = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise self.fail(where, f"cannot import hook {value!r}: {exc}") from None
        if not callable(function):
            raise self.fail(where, f"hook {value!r} is not callable")
        return function

    def results(self, value: Any, where: str, names: frozenset[str]) -> Results:
        raw = self.mapping(value, where, required=("rows", "order_number"),
                           allowed=("rows", "order_number", "customer_id", "po_number"))
        return Results(
            rows=self.target(raw["rows"], f"{where}.rows", names),
            order_number=self.target(raw["order_number"], f"{where}.order_number", names),
            customer_id=self.target(raw["customer_id"], f"{where}.customer_id", names) if "customer_id" in raw else None,
            po_number=self.target(raw["po_number"], f"{where}.po_number", names) if "po_number" in raw else None,
        )

    def recipe(self, data: Any) -> Recipe:
        top = self.mapping(data, "recipe", required=("name", "login", "search", "entry", "save", "confirmation"),
                           allowed=("name", "formats", "login", "session", "search", "entry", "save",
                                    "confirmation", "errors", "dialogs", "read", "defaults"))
        formats = self.mapping(top.get("formats") or {}, "formats", allowed=("date", "decimal_separator", "thousands_separator"))
        defaults = {str(k): str(v) for k, v in self.mapping(top.get("defaults") or {}, "defaults", allowed=tuple(ENTRY_VALUES)).items()}
        login = self.mapping(top["login"], "login", required=("steps",), allowed=("steps", "logged_in", "error"))
        session = self.mapping(top.get("session") or {}, "session", allowed=("expired_url",))
        search = self.mapping(top["search"], "search", required=("steps", "results"), allowed=("steps", "results"))
        entry = self.mapping(top["entry"], "entry", required=("steps", "lines"), allowed=("steps", "lines", "before_save"))
        lines = self.mapping(entry["lines"], "entry.lines", required=("row",), allowed=("row", "add_rows", "max_add_rows"))
        confirmation = self.mapping(top["confirmation"], "confirmation", required=("target", "regex"), allowed=("target", "regex"))
        pattern = self.regex(confirmation["regex"], "confirmation.regex")
        if "number" not in pattern.groupindex:
            raise self.fail("confirmation.regex", "needs a group named 'number', e.g. (?P<number>SO-\\d+)")
        dialogs = []
        for i, rule in enumerate(top.get("dialogs") or []):
            spec = self.mapping(rule, f"dialogs[{i}]", required=("message", "accept"), allowed=("message", "accept"))
            dialogs.append(DialogRule(self.regex(spec["message"], f"dialogs[{i}].message"), bool(spec["accept"])))
        date_format = str(formats.get("date", Formats.date))
        if "%" not in date_format:
            raise self.fail("formats.date", f"expected a strftime format like %d.%m.%Y, found {date_format!r}")
        entry_names = ENTRY_VALUES
        line_names = ENTRY_VALUES | LINE_VALUES
        return Recipe(
            name=str(top["name"]),
            path=self.path,
            formats=Formats(date_format, str(formats.get("decimal_separator", ".")), str(formats.get("thousands_separator", ""))),
            login=self.steps(login["steps"], "login.steps", LOGIN_VALUES),
            logged_in=self.target(login["logged_in"], "login.logged_in", frozenset()) if "logged_in" in login else None,
            login_error=self.target(login["error"], "login.error", frozenset()) if "error" in login else None,
            expired=self.regex(session.get("expired_url", r"/login"), "session.expired_url"),
            search_steps=self.steps(search["steps"], "search.steps", SEARCH_VALUES),
            results=self.results(search["results"], "search.results", SEARCH_VALUES),
            entry_steps=self.steps(entry["steps"], "entry.steps", entry_names),
            lines=LineBlock(self.steps(lines["row"], "entry.lines.row", line_names),
                            self.steps(lines.get("add_rows"), "entry.lines.add_rows", entry_names),
                            int(lines.get("max_add_rows", 100))),
            before_save=self.steps(entry.get("before_save"), "entry.before_save", entry_names),
            save=self.steps(top["save"], "save", entry_names),
            confirmation=Confirmation(self.target(confirmation["target"], "confirmation.target", frozenset()), pattern),
            errors=self.target(top["errors"], "errors", frozenset()) if top.get("errors") else None,
            dialogs=tuple(dialogs),
            read=self.read(top["read"]) if top.get("read") else None,
            defaults=defaults,
        )

    def read(self, value: Any) -> ReadBack:
        raw = self.mapping(value, "read", required=("steps", "header"), allowed=("steps", "header", "lines", "true_text"))
        header_keys = ("customer_id", "po_number", "requested_date", "ship_to_id", "urgent")
        header = {key: self.target(t, f"read.header.{key}", frozenset())
                  for key, t in self.mapping(raw["header"], "read.header", allowed=header_keys).items()}
        lines = None
        cells: dict[str, Target] = {}
        if raw.get("lines"):
            spec = self.mapping(raw["lines"], "read.lines", required=("rows", "sku", "quantity"),
                                allowed=("rows", "sku", "quantity", "unit_price"))
            lines = Results(self.target(spec["rows"], "read.lines.rows", frozenset()),
                            self.target(spec["sku"], "read.lines.sku", frozenset()))
            cells = {key: self.target(spec[key], f"read.lines.{key}", frozenset())
                     for key in ("sku", "quantity", "unit_price") if key in spec}
        return ReadBack(self.steps(raw["steps"], "read.steps", READ_VALUES), header, lines, cells,
                        str(raw.get("true_text", "Yes")))


def load_recipe(path: Path) -> Recipe:
    """Read and check a recipe; ``ConfigError`` names the file, the step and the problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the portal recipe: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return _Loader(path).recipe(data)


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` and ``{name|url}`` from ``values`` (missing: empty)."""
    from urllib.parse import quote

    def one(match: re.Match[str]) -> str:
        value = values.get(match.group(1)) or ""
        return quote(value, safe="") if match.group(2) else value

    return _TEMPLATE.sub(one, template)


__all__ = ["Recipe", "Step", "Target", "load_recipe", "render"]
