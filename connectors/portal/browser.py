"""Starting Chromium for Playwright: Debian's build when it is there
(Playwright cannot download its own browser everywhere), else Playwright's
managed one; the sandbox on unless running as root (Chromium refuses to start
sandboxed as root); no background traffic.

Headless, Debian's ``chromium-headless-shell`` is preferred over the full
``chromium``: 60 orders
under the chaos faults of tests/test_keying_e2e.py took 52 s with it, 82 s with ``chromium``."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
SYSTEM_HEADLESS_SHELL = Path("/usr/bin/chromium-headless-shell")

# Without these Chromium phones home at start, which a closed network refuses noisily.
QUIET_FLAGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-gpu",
)


def chromium_executable(headless: bool = True) -> str | None:
    """The browser to run: $ORDERBOT_CHROMIUM, then Debian's (its headless shell
    when headless), then None: Playwright's own."""
    configured = os.environ.get("ORDERBOT_CHROMIUM")
    if configured:
        return configured
    if headless and SYSTEM_HEADLESS_SHELL.exists():
        return str(SYSTEM_HEADLESS_SHELL)
    if SYSTEM_CHROMIUM.exists():
        return str(SYSTEM_CHROMIUM)
    found = shutil.which("chromium")
    return found


def launch_options(headless: bool = True) -> dict[str, Any]:
    options: dict[str, Any] = {"headless": headless, "args": list(QUIET_FLAGS)}
    executable = chromium_executable(headless)
    if executable:
        options["executable_path"] = executable
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    options["chromium_sandbox"] = not as_root
    if as_root:
        options["args"].append("--no-sandbox")
    return options


def launch(playwright: Any, headless: bool = True) -> Any:
    """A Chromium ``Browser`` from a started ``sync_playwright()``."""
    return playwright.chromium.launch(**launch_options(headless))


class _ThreadBrowser(threading.local):
    playwright: Any = None
    browser: Any = None
    users: int = 0


_local = _ThreadBrowser()


def acquire(headless: bool = True) -> Any:
    """This thread's Chromium, started on first use. Playwright's sync API allows
    one driver per thread, so every portal session of a thread shares it (each
    in its own browser context); ``release`` once per ``acquire``."""
    from playwright.sync_api import sync_playwright

    if _local.browser is None or not _local.browser.is_connected():
        if _local.playwright is None:
            _local.playwright = sync_playwright().start()
        _local.browser = launch(_local.playwright, headless=headless)
    _local.users += 1
    return _local.browser


def release() -> None:
    _local.users = max(_local.users - 1, 0)
    if _local.users:
        return
    try:
        if _local.browser is not None:
            _local.browser.close()
    finally:
        if _local.playwright is not None:
            _local.playwright.stop()
        _local.browser = _local.playwright = None
