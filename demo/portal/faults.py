"""Injected faults read from the live configuration: latency, maintenance, random 500s."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from demo.portal.app import PortalConfig

TEST_PREFIX = "/_test/"
STATIC_PREFIX = "/static/"


class Dice:
    """A seeded random source shared by every request."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def hits(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate


class FaultMiddleware:
    """Sleeps, answers 503 in maintenance and fails POSTs with 500 before the app sees them."""

    def __init__(self, app: ASGIApp, config: PortalConfig, dice: Dice,
                 render_error: Callable[[int, str, str], Response]) -> None:
        self.app, self.config, self.dice, self.render_error = app, config, dice, render_error

    def server_error(self) -> Response:
        return self.render_error(500, "Internal Server Error",
                                 "The server encountered an internal error. Please try again later.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(TEST_PREFIX):
            await self.app(scope, receive, send)
            return
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)
        if scope["path"].startswith(STATIC_PREFIX):
            await self.app(scope, receive, send)
            return
        if self.config.maintenance:
            response = self.render_error(503, "System maintenance",
                                         "The system is down for maintenance. Please try again later.")
        elif scope["method"] == "POST" and self.dice.hits(self.config.error_rate):
            response = self.server_error()
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)
