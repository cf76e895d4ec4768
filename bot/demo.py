"""``orderbot demo``: the whole loop on the embedded default.

Starts the bundled demo portal on a free loopback port (its own SQLite file in
``data_dir``, a password made up for this run), points the pipeline at it with
the demo recipe, takes the sample messages, extracts, validates, keys the
clean orders, leaves the rest for review and returns a summary of every order.

    with Demo(settings, today=today) as demo:
        listener = demo.listen(port)             # a taken port is refused before the cycle
        result = demo.cycle()                    # --no-serve stops here
        with stop_signals() as stop, demo.serve(listener) as served:
            ...                                  # print served.workbench, served.portal
            stop.wait()

``Demo.serve`` then serves the review workbench on loopback with an account
made for this run (user ``demo``, a random password that lives in memory
only) and keys what handlers approve into the demo portal every few seconds
(``bot.scheduler.Jobs``: keying and acknowledgement under their leases). When
the block ends the keying pass in hand finishes, both servers stop, and the
``demo`` account and its sessions are removed, so the printed password works
only while the demo runs.
"""

from __future__ import annotations

import logging
import secrets
import signal
import socket
import string
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bot.config import PortalSettings, Settings
from bot.errors import PermanentError
from bot.model import MessageStatus, OrderState
from bot.pipeline import Pipeline, RunSummary

log = logging.getLogger("orderbot.demo")

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
DEMO_RECIPE = CONFIG_DIR / "portals" / "demo.yaml"
DEMO_USER = "clerk"  # the demo portal's login
WORKBENCH_USER = "demo"  # the workbench account of a served demo (made and removed by it)
LOOPBACK = "127.0.0.1"
KEYING_SECONDS = 3.0  # how often approved orders are keyed while the demo serves

OrderRow = dict[str, Any]  # one order as the summary (and its JSON) shows it
OnChange = Callable[[RunSummary, list[OrderRow]], None]


@dataclass
class DemoResult:
    summary: RunSummary
    portal_url: str
    orders: list[OrderRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        summary = {k: v for k, v in asdict(self.summary).items() if k != "errors"}
        summary["seconds"] = round(self.summary.seconds, 2)
        return {"summary": summary, "portal_url": self.portal_url, "orders": self.orders, "errors": self.summary.errors}


@dataclass(frozen=True)
class Login:
    url: str
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Served:
    workbench: Login
    portal: Login | None  # None when settings name another portal: its login is not the demo's to show


def new_password() -> str:
    """16 letters and digits (about 95 bits): one double-click copies it from a terminal."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(16))


class Demo:
    """The demo portal (unless ``settings.portal`` names one) and the pipeline on it, for one run."""

    def __init__(self, settings: Settings, *, today: date, workers: int = 2) -> None:
        self.settings = settings
        self.today = today
        self.workers = workers
        self.portal: Login | None = None
        self.portal_url = ""
        self.pipeline: Pipeline
        self._stack = ExitStack()

    def __enter__(self) -> Demo:
        from bot.wiring import build_pipeline
        from demo.portal.app import PortalConfig, run_in_thread

        with ExitStack() as stack:
            settings = self.settings
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            if settings.portal is None:
                password = new_password()
                config = PortalConfig(
                    db_path=settings.data_dir / "portal.db",
                    master_data=settings.master_data.path,
                    users={DEMO_USER: password},
                )
                server = stack.enter_context(run_in_thread(config))
                self.portal = Login(server.url, DEMO_USER, password)
                portal = PortalSettings(
                    recipe=DEMO_RECIPE, base_url=server.url, username=DEMO_USER, password=password, workers=self.workers,
                )
                settings = settings.model_copy(update={"portal": portal})
            self.portal_url = settings.portal.base_url if settings.portal else ""
            self.pipeline = build_pipeline(settings, today=self.today)
            stack.enter_context(self.pipeline.store)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def cycle(self) -> DemoResult:
        """One pipeline cycle over the configured sources."""
        summary = self.pipeline.run_once()
        return DemoResult(summary, self.portal_url, self.orders())

    def orders(self) -> list[OrderRow]:
        return [
            {
                "id": stored.id,
                "customer_id": stored.customer_id,
                "po_number": stored.po_number,
                "state": str(stored.state),
                "urgent": stored.urgent,
                "portal_order_number": stored.portal_order_number,
                "reasons": [str(code) for code in stored.order.reason_codes]
                if stored.state in (OrderState.NEEDS_REVIEW, OrderState.FAILED) else [],
            }
            for stored in self.pipeline.store.orders()
        ]

    def counts(self) -> tuple[dict[MessageStatus, int], dict[OrderState, int]]:
        """Messages and orders by state, as ``orderbot status`` counts them."""
        store = self.pipeline.store
        return store.message_counts(), store.order_counts()

    def listen(self, port: int | None = None) -> socket.socket:
        """The workbench's loopback socket, bound now so that a taken ``port`` is
        refused before the cycle runs: ``port``, else ``review.port`` when it is
        free, else any free port. Closed when the demo ends."""
        listener = _listen(port, preferred=self.settings.review.port)
        self._stack.callback(listener.close)
        return listener

    @contextmanager
    def serve(self, listener: socket.socket, *, on_change: OnChange | None = None,
              interval: float = KEYING_SECONDS) -> Iterator[Served]:
        """Serve the workbench on ``listener`` with the ``demo`` account, and key
        approved orders every ``interval`` seconds, until the block ends.
        ``on_change`` is called from the keying thread after a pass that changed
        an order or reported a problem, with the orders whose state changed."""
        from bot.review.app import create_app

        review = self.settings.review
        with ExitStack() as stack:
            password = new_password()
            account = _DemoAccount(self.pipeline, idle=timedelta(minutes=review.session_idle_minutes))
            account.create(password)
            stack.callback(account.remove)
            app = create_app(self.pipeline.store, self.pipeline.master, settings=review, mail=self.pipeline.outgoing)
            server = stack.enter_context(_ThreadedServer(app, listener, name="demo-workbench"))
            stack.enter_context(_KeyingLoop(self, interval, on_change))
            yield Served(Login(server.url, WORKBENCH_USER, password), self.portal)


@contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT (Ctrl-C) or SIGTERM while the block runs (main thread only)."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("%s received: stopping the demo", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _listen(port: int | None, *, preferred: int) -> socket.socket:
    """A loopback socket bound to ``port``; without one, to ``preferred`` when it
    is free, else to a free port."""
    if port is None:
        try:
            return _bind(preferred)
        except OSError:
            return _bind(0)
    try:
        return _bind(port)
    except OSError as exc:
        raise PermanentError(
            f"the workbench cannot listen on {LOOPBACK}:{port}: {exc.strerror or exc}; choose another with --port"
        ) from exc


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT, never past a listener
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        raise
    return sock


class _DemoAccount:
    """The ``demo`` handler account of a served demo: made with the run's password,
    removed with its sessions at the end. The name belongs to the demo: an account
    of that name (one a killed run left) is replaced. Audit entries, corrections
    and events name users by name, so they stay."""

    def __init__(self, pipeline: Pipeline, *, idle: timedelta) -> None:
        from bot.review.auth import Accounts
        from bot.review.store import ReviewDb

        self.accounts = Accounts(ReviewDb.for_store(pipeline.store), idle=idle)

    def create(self, password: str) -> None:
        from bot.review.auth import Role

        self.remove()
        self.accounts.add_user(WORKBENCH_USER, Role.HANDLER, password)

    def remove(self) -> None:
        self.accounts.remove_user(WORKBENCH_USER)


class _ThreadedServer:
    """An ASGI app served by uvicorn in a thread on a bound socket."""

    def __init__(self, app: Any, listener: socket.socket, *, name: str) -> None:
        import uvicorn

        host, port = listener.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [listener]}, name=name, daemon=True)

    def __enter__(self) -> _ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                raise PermanentError(f"the workbench did not start on {self.url}")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


class _KeyingLoop:
    """Keys and acknowledges approved orders every ``interval`` seconds in a thread
    (``Jobs.keying`` / ``Jobs.acknowledge``, under their store leases)."""

    def __init__(self, demo: Demo, interval: float, on_change: OnChange | None) -> None:
        from bot.scheduler import Jobs

        self.demo = demo
        self.jobs = Jobs(demo.pipeline)
        self.interval = interval
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-keying", daemon=True)

    def __enter__(self) -> _KeyingLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()  # the order in hand finishes: an attempt is never left half-recorded

    def _run(self) -> None:
        seen = {row["id"]: row["state"] for row in self.demo.orders()}
        while not self._stop.wait(self.interval):
            try:
                keyed = self.jobs.keying(stop=self._stop.is_set)
                summary = RunSummary().then(keyed, self.jobs.acknowledge(stop=self._stop.is_set))
                rows = self.demo.orders()
            except Exception:  # noqa: BLE001 - e.g. the store busy: the next pass tries again
                log.exception("demo keying pass failed")
                continue
            changed = [row for row in rows if seen.get(row["id"]) != row["state"]]
            seen = {row["id"]: row["state"] for row in rows}
            if self.on_change is not None and (changed or summary.errors):
                self.on_change(summary, changed)
