"""The portal connector: a recipe (``connectors.portal.recipe``) played in a
real browser with Playwright, as a careful clerk would type it.

One ``PlaywrightPortal`` is one browser context (one portal session), used by
one thread: Playwright's sync API is bound to the thread that started it.
Every failure leaves as an exception of ``bot.errors``:

- ``PortalUnavailable``: before the save was clicked (a 5xx, a timeout, the
  portal in maintenance): nothing was saved, try later;
- ``KeyingUncertain``: at or after the save click without a confirmation (a
  5xx, a timeout, the session gone): the order may exist, search for it;
- ``PortalRejected``: the portal answered the save with its own errors;
- ``ConfigError``: the login was refused, or the page does not look as the
  recipe says (a target not found where it must be).

Navigation is limited to the portal's origin. On a failure a screenshot and
the Playwright trace of the attempt are kept for ``diagnostics()`` (they hold
session cookies: the keying stage stores them with the order, never in logs).
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import urljoin, urlsplit

from bot.errors import ConfigError, KeyingUncertain, PortalRejected, PortalUnavailable
from bot.ports import PortalEntry, PortalLine, PortalOrder, Receipt
from connectors.portal import browser
from connectors.portal.recipe import Recipe, Step, Target, render

log = logging.getLogger("orderbot.portal")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PortalSession:
    """Where and as whom: the portal's base URL and a login. The password comes
    from the settings' secret reference, never from the recipe."""

    base_url: str
    username: str
    password: str = field(repr=False)
    timeout_ms: float = 15_000
    trace_on_failure: bool = True
    headless: bool = True


class _ServerError(Exception):
    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.status = status


class _SessionExpired(Exception):
    pass


def format_decimal(value: Decimal, separator: str) -> str:
    """Plain digits, the recipe's decimal separator, no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", separator)


def parse_decimal(text: str, separator: str, thousands: str) -> Decimal | None:
    cleaned = text.strip()
    if not cleaned:
        return None
    if thousands:
        cleaned = cleaned.replace(thousands, "")
    cleaned = cleaned.replace(separator, ".")
    try:
        return Decimal(cleaned).normalize()
    except InvalidOperation:
        return None


class PlaywrightPortal:
    """``bot.ports.Portal`` on a recipe. Start with ``open()``, end with ``close()``."""

    def __init__(self, recipe: Recipe, session: PortalSession) -> None:
        self.recipe = recipe
        self.session = session
        self._origin = _origin(session.base_url)
        self._browser: Any = None
        self._context: Any = None
        self._page: Any = None
        self._logged_in = False
        self._status: int | None = None  # of the last page the main frame loaded
        self._dialogs: list[str] = []
        self._unexpected_dialogs: list[str] = []
        self._diagnostics: list[tuple[str, str, bytes]] = []
        self._tracing = False

    # -- lifecycle -------------------------------------------------------------

    def open(self) -> PlaywrightPortal:
        from playwright.sync_api import Error

        try:
            self._browser = browser.acquire(headless=self.session.headless)
            self._context = self._browser.new_context(base_url=self.session.base_url, accept_downloads=False)
            self._context.set_default_timeout(self.session.timeout_ms)
            self._context.route("**/*", self._only_the_portal)
            if self.session.trace_on_failure:
                self._context.tracing.start(screenshots=True, snapshots=True)
                self._context.tracing.stop_chunk()  # each submit records its own chunk
                self._tracing = True
            self._page = self._new_page()
        except Error as exc:
            self.close()
            raise PortalUnavailable(f"cannot start the browser: {exc}") from exc
        return self

    def close(self) -> None:
        if self._context is not None:
            try:
                self._context.close()
            except Exception:  # noqa: BLE001 - closing a dead browser is fine
                log.debug("closing the browser context failed", exc_info=True)
        if self._browser is not None:
            browser.release()
        self._browser = self._context = self._page = None

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def diagnostics(self) -> list[tuple[str, str, bytes]]:
        """The screenshot and trace of the last failure, once (then forgotten)."""
        taken, self._diagnostics = self._diagnostics, []
        return taken

    # -- bot.ports.Portal ------------------------------------------------------

    def find(self, customer_id: str, po_number: str) -> PortalOrder | None:
        values = {"customer_id": customer_id, "po_number": po_number.strip()}
        key = po_number.strip().lower()
        results = self.recipe.results

        def search() -> PortalOrder | None:
            self._run(self.recipe.search_steps, values)
            rows = self._locate(self._page, results.rows, values)
            for i in range(rows.count()):
                row = rows.nth(i)
                number = self._cell(row, results.order_number, values)
                customer = self._cell(row, results.customer_id, values) if results.customer_id else customer_id
                reference = self._cell(row, results.po_number, values) if results.po_number else po_number
                if number and customer == customer_id and reference.strip().lower() == key:
                    return PortalOrder(number, customer, reference.strip())
            return None

        return self._with_session("search", search)

    def submit(self, entry: PortalEntry) -> Receipt:
        values = self._entry_values(entry)
        # Log in before the trace starts, so the password typed is not in it.
        self._with_session("login", lambda: None)
        self._start_chunk()
        clicked_save = False
        try:
            for attempt in (1, 2):
                self._ensure_login()
                self._dialogs.clear()
                self._unexpected_dialogs.clear()
                try:
                    self._run(self.recipe.entry_steps, values)
                    self._enter_lines(entry, values)
                    self._run(self.recipe.before_save, values)
                    clicked_save = True
                    self._run(self.recipe.save, values)
                    break
                except _SessionExpired as exc:
                    if clicked_save:
                        raise KeyingUncertain("the session ended at the save; the order may be saved") from exc
                    self._logged_in = False  # nothing was saved: log in and type it again, once
                    if attempt == 2:
                        raise PortalUnavailable("the portal keeps ending the session while typing") from exc
            number = self._confirmation(values)
        except (PortalUnavailable, PortalRejected, ConfigError):  # KeyingUncertain is a PortalUnavailable
            self._fail_diagnostics("submit")
            raise
        except _ServerError as exc:
            self._fail_diagnostics("submit")
            if clicked_save:
                raise KeyingUncertain(f"{exc} after the save; the order may be saved") from exc
            raise PortalUnavailable(str(exc)) from exc
        except Exception as exc:
            self._fail_diagnostics("submit")
            if _is_timeout(exc) or _is_browser_error(exc):
                if clicked_save:
                    raise KeyingUncertain(f"no answer to the save: {_short(exc)}") from exc
                raise PortalUnavailable(f"the portal did not answer: {_short(exc)}") from exc
            raise
        self._stop_chunk(keep=False)
        return Receipt(number)

    def read(self, order_number: str) -> PortalOrder:
        spec = self.recipe.read
        if spec is None:
            raise ConfigError(f"{self.recipe.path}: the recipe has no 'read' section: orders cannot be read back")
        values = {"order_number": order_number}

        def read_page() -> tuple[dict[str, str], tuple[PortalLine, ...] | None]:
            self._run(spec.steps, values)
            header = {key: self._text(self._page, target, values) for key, target in spec.header.items()}
            if spec.lines is None:
                return header, None
            rows = self._locate(self._page, spec.lines.rows, values)
            found = []
            for i in range(rows.count()):
                cells = {key: self._cell(rows.nth(i), t, values) for key, t in spec.line_cells.items()}
                quantity = self._number(cells.get("quantity", ""))
                if quantity is None:
                    raise ConfigError(f"{self.recipe.path}: read.lines.quantity: {cells.get('quantity')!r} is not a number")
                found.append(PortalLine(cells["sku"].strip(), quantity, self._number(cells.get("unit_price", ""))))
            return header, tuple(found)

        header, lines = self._with_session("read", read_page)
        return PortalOrder(
            order_number=order_number,
            customer_id=header.get("customer_id", "").strip(),
            po_number=header.get("po_number", "").strip(),
            requested_date=self._date(header.get("requested_date")),
            ship_to_id=(header.get("ship_to_id") or "").strip() or None,
            urgent=(header["urgent"].strip() == spec.true_text) if "urgent" in header else None,
            lines=lines,
        )

    # -- login and the session -------------------------------------------------

    def _ensure_login(self) -> None:
        if self._logged_in:
            return
        values = {"username": self.session.username, "password": self.session.password}
        try:
            self._run(self.recipe.login, values, check_session=False)
            self._check_status()
        except _ServerError as exc:
            raise PortalUnavailable(f"login: {exc}") from exc
        if self.recipe.login_error is not None:
            error = self._locate(self._page, self.recipe.login_error, {})
            if error.count() and error.first.is_visible():
                raise ConfigError(f"the portal refused the login of {self.session.username!r}: {error.first.inner_text().strip()}")
        if self.recipe.logged_in is not None:
            try:
                self._locate(self._page, self.recipe.logged_in, {}).first.wait_for(state="visible")
            except Exception as exc:
                if _is_timeout(exc):
                    raise ConfigError(f"{self.recipe.path}: login.logged_in: not shown after logging in as {self.session.username!r}") from exc
                raise
        self._logged_in = True

    def _with_session(self, what: str, action: Callable[[], T]) -> T:
        """Run a read-only action, logged in; log in again once if the session expired."""
        for attempt in (1, 2):
            try:
                self._ensure_login()
                return action()
            except _SessionExpired:
                self._logged_in = False
                if attempt == 2:
                    raise PortalUnavailable(f"{what}: the portal keeps ending the session") from None
            except _ServerError as exc:
                raise PortalUnavailable(f"{what}: {exc}") from exc
            except Exception as exc:
                if _is_timeout(exc) or _is_browser_error(exc):
                    raise PortalUnavailable(f"{what}: {_short(exc)}") from exc
                raise
        raise AssertionError("unreachable")

    # -- playing steps ----------------------------------------------------------

    def _run(self, steps: tuple[Step, ...], values: Mapping[str, str], *, scope: Any = None,
             check_session: bool = True) -> None:
        for step in steps:
            if step.when and not values.get(step.when):
                continue
            if step.unless and values.get(step.unless):
                continue
            self._play(step, values, scope)
            if scope is None:
                self._check_page() if check_session else self._check_status()

    def _play(self, step: Step, values: Mapping[str, str], scope: Any) -> None:
        page = self._page
        where = scope if scope is not None else page
        if step.action == "goto":
            self._status = None
            page.goto(urljoin(self.session.base_url, render(step.value or "", values)))
        elif step.action == "fill":
            self._element(where, step, values).fill(render(step.value or "", values))
        elif step.action == "select":
            option = render(step.value or "", values)
            element = self._element(where, step, values)
            element.select_option(label=option) if step.by_label else element.select_option(value=option)
        elif step.action in ("check", "uncheck"):
            element = self._element(where, step, values)
            element.check() if step.action == "check" else element.uncheck()
        elif step.action == "click":
            self._status = None
            try:
                self._element(where, step, values).click()
            except Exception:
                if scope is not None and getattr(scope, "is_closed", lambda: False)():
                    return  # the click closed its popup, as a lookup window does
                raise
            page.wait_for_load_state()
        elif step.action == "press":
            self._element(where, step, values).press(render(step.value or "", values))
            page.wait_for_load_state()
        elif step.action == "wait_for":
            self._element(where, step, values).wait_for(state="visible")
        elif step.action == "popup":
            assert step.opener is not None
            if step.reloads:
                self._status = None
                with page.expect_navigation(wait_until="load"):
                    self._in_popup(step, values, scope)
            else:
                self._in_popup(step, values, scope)
        elif step.action == "frame":
            assert step.target is not None
            frame = self._locate(where, step.target, values).first.content_frame()
            self._run(step.steps, values, scope=frame)
        elif step.action == "hook":
            assert step.hook is not None
            step.hook(page if scope is None else scope, dict(values))

    def _in_popup(self, step: Step, values: Mapping[str, str], scope: Any) -> None:
        assert step.opener is not None
        with self._page.expect_popup() as opened:
            self._play(step.opener, values, scope)
        popup = opened.value
        popup.wait_for_load_state()
        self._run(step.steps, values, scope=popup)
        if not popup.is_closed():
            popup.wait_for_event("close", timeout=self.session.timeout_ms)

    def _element(self, where: Any, step: Step, values: Mapping[str, str]) -> Any:
        assert step.target is not None
        return self._locate(where, step.target, values).first

    def _locate(self, where: Any, target: Target, values: Mapping[str, str]) -> Any:
        what = render(target.what, values)
        if target.how == "label":
            found = where.get_by_label(what, exact=target.exact)
        elif target.how == "role":
            name = render(target.name, values) if target.name else None
            found = where.get_by_role(what, name=name, exact=target.exact) if name else where.get_by_role(what)
        elif target.how == "placeholder":
            found = where.get_by_placeholder(what, exact=target.exact)
        elif target.how == "text":
            found = where.get_by_text(what, exact=target.exact)
        else:
            found = where.locator(what)
        return found.nth(target.nth) if target.nth is not None else found

    def _cell(self, row: Any, target: Target | None, values: Mapping[str, str]) -> str:
        if target is None:
            return ""
        cell = self._locate(row, target, values)
        return cell.first.inner_text().strip() if cell.count() else ""

    def _text(self, page: Any, target: Target, values: Mapping[str, str]) -> str:
        found = self._locate(page, target, values)
        if not found.count():
            raise ConfigError(f"{self.recipe.path}: nothing on {page.url} matches {target.how}={target.what!r}")
        return found.first.inner_text().strip()

    def _check_status(self) -> None:
        status = self._status
        if status is not None and status >= 500:
            raise _ServerError(status, self._page.url)

    def _check_page(self) -> None:
        """After each step: a 5xx or the login page means the step did not do its work."""
        self._check_status()
        if self.recipe.expired.search(urlsplit(self._page.url).path + "?" + urlsplit(self._page.url).query):
            raise _SessionExpired(self._page.url)

    def _enter_lines(self, entry: PortalEntry, values: dict[str, str]) -> None:
        block = self.recipe.lines
        first = next((s for s in block.row if s.target is not None), None)
        added = 0
        for i, line in enumerate(entry.lines, 1):
            row_values = {**values, **self._line_values(i, line)}
            while first is not None and block.add_rows and not self._locate(self._page, first.target, row_values).count():
                added += 1
                if added > block.max_add_rows:
                    raise ConfigError(f"{self.recipe.path}: entry.lines: row {i} did not appear after {block.max_add_rows} 'add rows'")
                self._run(block.add_rows, values)
            self._run(block.row, row_values)

    def _confirmation(self, values: Mapping[str, str]) -> str:
        """The portal's order number from the confirmation, or why there is none."""
        self._check_after_save()
        confirmation = self.recipe.confirmation
        found = self._locate(self._page, confirmation.target, values)
        if found.count():
            text = found.first.inner_text()
            match = confirmation.regex.search(text)
            if match:
                return match.group("number")
        problems = []
        if self.recipe.errors is not None:
            errors = self._locate(self._page, self.recipe.errors, values)
            problems = [t.strip() for t in errors.all_inner_texts() if t.strip()]
        if self._unexpected_dialogs:
            problems += [f"dialog dismissed: {m}" for m in self._unexpected_dialogs]
        if problems:
            raise PortalRejected("; ".join(problems))
        raise KeyingUncertain(f"no confirmation after the save on {self._page.url}")

    def _check_after_save(self) -> None:
        try:
            self._check_page()
        except _SessionExpired as exc:
            raise KeyingUncertain("the portal showed its login page after the save") from exc

    # -- values ----------------------------------------------------------------

    def _entry_values(self, entry: PortalEntry) -> dict[str, str]:
        defaults = self.recipe.defaults
        return {
            "customer_id": entry.customer_id,
            "po_number": entry.po_number,
            "requested_date": entry.requested_date.strftime(self.recipe.formats.date) if entry.requested_date else "",
            "ship_to_id": entry.ship_to_id or "",
            "ship_to_text": entry.ship_to_text or "",
            "urgent": "1" if entry.urgent else "",
            "ship_method": entry.ship_method or defaults.get("ship_method", ""),
        }

    def _line_values(self, row: int, line: PortalLine) -> dict[str, str]:
        sep = self.recipe.formats.decimal_separator
        return {
            "row": str(row),
            "sku": line.sku,
            "quantity": format_decimal(line.quantity, sep),
            "unit_price": format_decimal(line.unit_price, sep) if line.unit_price is not None else "",
        }

    def _number(self, text: str) -> Decimal | None:
        return parse_decimal(text, self.recipe.formats.decimal_separator, self.recipe.formats.thousands_separator)

    def _date(self, text: str | None) -> date | None:
        if not text or not text.strip():
            return None
        try:
            return datetime.strptime(text.strip(), self.recipe.formats.date).date()
        except ValueError:
            raise ConfigError(f"{self.recipe.path}: read.header.requested_date: {text!r} is not in {self.recipe.formats.date}") from None

    # -- browser plumbing --------------------------------------------------------

    def _new_page(self) -> Any:
        page = self._context.new_page()
        page.on("response", self._remember_status)
        page.on("dialog", self._answer_dialog)
        return page

    def _remember_status(self, response: Any) -> None:
        try:
            if response.request.resource_type == "document" and response.frame == self._page.main_frame:
                self._status = response.status
        except Exception:  # noqa: BLE001 - a response of a closed page
            return

    def _answer_dialog(self, dialog: Any) -> None:
        message = dialog.message
        self._dialogs.append(message)
        for rule in self.recipe.dialogs:
            if rule.message.search(message):
                dialog.accept() if rule.accept else dialog.dismiss()
                return
        self._unexpected_dialogs.append(message)
        dialog.dismiss()

    def _only_the_portal(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")) or _origin(url) == self._origin:
            route.continue_()
        else:
            log.warning("blocked a request outside the portal: %s", _origin(url))
            route.abort("blockedbyclient")

    def _start_chunk(self) -> None:
        if self._tracing:
            self._context.tracing.start_chunk()

    def _stop_chunk(self, keep: bool) -> bytes | None:
        if not self._tracing:
            return None
        if not keep:
            self._context.tracing.stop_chunk()
            return None
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "trace.zip"
            self._context.tracing.stop_chunk(path=str(path))
            return scrub_trace(path.read_bytes(), self.session.password)

    def _fail_diagnostics(self, what: str) -> None:
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        try:
            if self._page is not None and not self._page.is_closed():
                self._diagnostics.append(("screenshot", f"{what}-{stamp}.png", self._page.screenshot(full_page=True)))
        except Exception:
            log.debug("no screenshot of the failed %s", what, exc_info=True)
        try:
            trace = self._stop_chunk(keep=True)
            if trace:
                self._diagnostics.append(("trace", f"{what}-{stamp}.zip", trace))
        except Exception:
            log.debug("no trace of the failed %s", what, exc_info=True)


def scrub_trace(trace: bytes, secret: str) -> bytes:
    """The trace zip with every copy of ``secret`` (as typed, URL- or
    JSON-encoded) overwritten: a re-login inside a recorded chunk must not
    leave the password in a form body or a DOM snapshot."""
    import io
    import json
    import zipfile
    from urllib.parse import quote, quote_plus

    if not secret:
        return trace
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    needles = sorted({form.encode() for form in forms}, key=len, reverse=True)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(trace)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            for needle in needles:
                data = data.replace(needle, b"********")
            target.writestr(item, data)
    return out.getvalue()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _is_timeout(exc: BaseException) -> bool:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    return isinstance(exc, PlaywrightTimeout)


def _is_browser_error(exc: BaseException) -> bool:
    from playwright.sync_api import Error

    return isinstance(exc, Error)


def _short(exc: BaseException) -> str:
    return re.sub(r"\s+", " ", str(exc)).strip()[:200]


__all__ = ["PlaywrightPortal", "PortalSession", "format_decimal", "parse_decimal"]
