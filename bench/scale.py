"""Scale-out benchmark: orders per hour with 1, 2 and 4 Celery worker processes.

The same orders (3 lines each) are keyed into the demo portal (its own process,
fresh database per run) by ``orderbot worker`` processes fed over the machine's
Redis from a PostgreSQL store (``executor: celery``), and, beside them, by the
in-process default (the daemon's keying threads on SQLite) with 1 and 2
browser contexts. For each run it prints orders/hour, the ratio to one
worker, and where the CPU went (the machine's busy share, the portal's and
Redis's CPU seconds), then estimates how many workers a peak of 10,000
orders/hour needs from the CPU each order cost.

The other unit of work, one message from intake to decision, is measured the
same way: copies of the demo inbox (emails with PDF, spreadsheet and body
orders; each copy with its own Message-ID) recorded and sent by a daemon-side
pipeline to 1, 2 and 4 ``orderbot worker --queues messages`` processes,
beside the in-process default (the daemon's one intake thread, SQLite).

    .venv/bin/python bench/scale.py [--orders 40] [--workers 1 2 4] [--copies 6]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379
($ORDERBOT_BENCH_PG_URL, $ORDERBOT_BENCH_REDIS_URL to point elsewhere).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import redis
import sqlalchemy as sa
from keying import MASTER, PASSWORD, RECIPE, demo_keyer, make_orders

from bot.config import Settings
from bot.distributed import Dispatcher, celery_message_sender, celery_sender, make_app
from bot.model import MessageStatus, RawMessage
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.folder import FolderSource
from connectors.masterdata import CsvMasterData
from demo.portal.process import portal_process

PG_ADMIN = os.environ.get("ORDERBOT_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ORDERBOT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
LINES = 3
PEAK = 10_000
DEMO_INBOX = MASTER.parent / "inbox"
TODAY = __import__("datetime").date(2026, 11, 26)


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine spent not idle, all cores."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def portal_pid(url: str) -> int:
    port = url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"portal" in cmd and port.encode() in cmd:
                return int(entry.name)
    raise SystemExit(f"no portal process on {url}")


def redis_cpu_seconds(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


@contextmanager
def fresh_database():
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"orderbot_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Run:
    def __init__(self, label: str, orders: int, seconds: float, cpu: float, portal_cpu: float, broker_cpu: float,
                 cores: int) -> None:
        self.label, self.orders, self.seconds = label, orders, seconds
        self.cpu, self.portal_cpu, self.broker_cpu, self.cores = cpu, portal_cpu, broker_cpu, cores

    @property
    def per_hour(self) -> float:
        return 3600 * self.orders / self.seconds

    def line(self, base: float, unit: str = "orders") -> str:
        busy = self.cpu / (self.seconds * self.cores)
        return (f"{self.label:<22} {self.per_hour:>7.0f} {unit}/h  x{self.per_hour / base:4.2f}   "
                f"machine busy {busy:4.0%}   CPU/{unit[:-1]} {self.cpu / self.orders:5.2f} s "
                f"(portal {self.portal_cpu / self.orders:4.2f} s, Redis {self.broker_cpu / self.orders * 1000:4.1f} ms)")


def celery_run(tmp: Path, master: CsvMasterData, orders: int, workers: int, broker: redis.Redis) -> Run:
    run = tmp / f"celery-{workers}"
    run.mkdir()
    broker.flushdb()
    with fresh_database() as store_url, Store.open(store_url) as store, \
            portal_process(run / "portal.db", PASSWORD) as url:
        make_orders(store, master, orders, LINES)
        config = run / "orderbot.yaml"
        config.write_text(
            f"data_dir: {run}\nmaster_data: {{path: {MASTER}}}\n"
            'store: {url: {"$env": BENCH_STORE_URL}}\nexecutor: celery\n'
            'celery: {broker_url: {"$env": BENCH_BROKER_URL}, heartbeat_seconds: 5}\n'
            f"portal:\n  recipe: {RECIPE}\n  base_url: {url}\n  username: clerk\n"
            '  password: {"$env": BENCH_PORTAL_PW}\n  workers: 1\n  trace_on_failure: false\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")} | {
            "BENCH_STORE_URL": store_url, "BENCH_BROKER_URL": REDIS_URL, "BENCH_PORTAL_PW": PASSWORD}
        logs = [(run / f"worker-{n}.log").open("wb") for n in range(workers)]
        procs = [subprocess.Popen([sys.executable, "-m", "bot.cli", "worker", "--config", str(config)],
                                  stdout=log, stderr=log, env=env) for log in logs]
        try:
            wait_ready(run, procs)
            settings = Settings(executor="celery", celery={"broker_url": REDIS_URL}, store={"url": store_url})
            dispatcher = Dispatcher(store, celery_sender(make_app(settings)))
            pid = portal_pid(url)
            cpu0, portal0, broker0 = busy_cpu_seconds(), process_cpu_seconds(pid), redis_cpu_seconds(broker)
            started = time.perf_counter()
            dispatcher.dispatch()
            while sum(o.portal_order_number is not None for o in store.orders()) < orders:
                if time.perf_counter() - started > 1800 or any(p.poll() is not None for p in procs):
                    raise SystemExit(f"{workers} workers did not key all orders: see {run}")
                time.sleep(0.25)
            seconds = time.perf_counter() - started
            cpu, portal_cpu = busy_cpu_seconds() - cpu0, process_cpu_seconds(pid) - portal0
            broker_cpu = redis_cpu_seconds(broker) - broker0
        finally:
            stop(procs, logs)
    return Run(f"celery, {workers} worker(s)", orders, seconds, cpu, portal_cpu, broker_cpu, os.cpu_count() or 1)


def inprocess_run(tmp: Path, master: CsvMasterData, orders: int, contexts: int) -> Run:
    run = tmp / f"inprocess-{contexts}"
    run.mkdir()
    with Store.open(f"sqlite:///{run / 'store.db'}") as store, portal_process(run / "portal.db", PASSWORD) as url:
        make_orders(store, master, orders, LINES)
        keyer = demo_keyer(store, master, url, contexts, trace_on_failure=False)
        pid = portal_pid(url)
        cpu0, portal0 = busy_cpu_seconds(), process_cpu_seconds(pid)
        started = time.perf_counter()
        report = keyer.run()
        seconds = time.perf_counter() - started
        cpu, portal_cpu = busy_cpu_seconds() - cpu0, process_cpu_seconds(pid) - portal0
        if report.keyed != orders:
            raise SystemExit(f"in-process keyed {report.keyed} of {orders}: {report.errors[:3]}")
    return Run(f"in-process, {contexts} context(s)", orders, seconds, cpu, portal_cpu, 0.0, os.cpu_count() or 1)


def copy_inbox(target: Path, copies: int) -> int:
    """``copies`` of every demo message, each with a Message-ID of its own."""
    target.mkdir()
    count = 0
    for copy in range(copies):
        for path in sorted(DEMO_INBOX.glob("*.eml")):
            data = re.sub(rb"(?im)^message-id:[^\r\n]*", f"Message-ID: <bench-{copy}-{path.stem}@bench>".encode(),
                          path.read_bytes(), count=1)
            (target / f"{copy:02d}-{path.name}").write_bytes(data)
            count += 1
    return count


def messages_inprocess_run(tmp: Path, master: CsvMasterData, copies: int) -> Run:
    inbox = tmp / "messages-inprocess"
    count = copy_inbox(inbox, copies)
    with Store.open(f"sqlite:///{tmp / 'messages.db'}") as store:
        pipeline = Pipeline(store=store, master=master, sources=[FolderSource("inbox", inbox)], today=TODAY)
        first = min(inbox.glob("*.eml"))  # load the models first, as a worker does at start
        pipeline.processor.process(RawMessage(data=first.read_bytes(), origin="warm-up", name=first.name))
        cpu0 = busy_cpu_seconds()
        started = time.perf_counter()
        summary = pipeline.receive()
        seconds = time.perf_counter() - started
        cpu = busy_cpu_seconds() - cpu0
        if summary.received != count or store.message_counts()[MessageStatus.RECEIVED]:
            raise SystemExit(f"in-process decided {summary.received} of {count}: {summary.errors[:3]}")
    return Run("in-process, 1 thread", count, seconds, cpu, 0.0, 0.0, os.cpu_count() or 1)


def messages_celery_run(tmp: Path, master: CsvMasterData, copies: int, workers: int, broker: redis.Redis) -> Run:
    run = tmp / f"messages-celery-{workers}"
    run.mkdir()
    count = copy_inbox(run / "inbox", copies)
    broker.flushdb()
    with fresh_database() as store_url, Store.open(store_url) as store:
        config = run / "orderbot.yaml"
        config.write_text(
            f"data_dir: {run}\nmaster_data: {{path: {MASTER}}}\ntoday: {TODAY}\n"
            'store: {url: {"$env": BENCH_STORE_URL}}\nexecutor: celery\n'
            'celery: {broker_url: {"$env": BENCH_BROKER_URL}, heartbeat_seconds: 5}\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")} | {
            "BENCH_STORE_URL": store_url, "BENCH_BROKER_URL": REDIS_URL}
        logs = [(run / f"worker-{n}.log").open("wb") for n in range(workers)]
        procs = [subprocess.Popen([sys.executable, "-m", "bot.cli", "worker", "--config", str(config), "--queues", "messages"],
                                  stdout=log, stderr=log, env=env) for log in logs]
        try:
            wait_ready(run, procs)
            settings = Settings(executor="celery", celery={"broker_url": REDIS_URL}, store={"url": store_url})
            daemon = Pipeline(store=store, master=master, sources=[FolderSource("inbox", run / "inbox")], today=TODAY,
                              send_message=celery_message_sender(make_app(settings)))
            cpu0, broker0 = busy_cpu_seconds(), redis_cpu_seconds(broker)
            started = time.perf_counter()
            summary = daemon.receive()
            if summary.dispatched != count:
                raise SystemExit(f"the daemon side sent {summary.dispatched} of {count}: {summary.errors[:3]}")
            while store.message_counts()[MessageStatus.RECEIVED]:
                if time.perf_counter() - started > 1800 or any(p.poll() is not None for p in procs):
                    raise SystemExit(f"{workers} workers did not decide all messages: see {run}")
                time.sleep(0.1)
            seconds = time.perf_counter() - started
            cpu, broker_cpu = busy_cpu_seconds() - cpu0, redis_cpu_seconds(broker) - broker0
        finally:
            stop(procs, logs)
    return Run(f"celery, {workers} worker(s)", count, seconds, cpu, 0.0, broker_cpu, os.cpu_count() or 1)


def wait_ready(run: Path, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + 120
    while sum("ready." in (run / f"worker-{n}.log").read_text(errors="replace") for n in range(len(procs))) < len(procs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise SystemExit(f"workers did not start: see {run}")
        time.sleep(0.2)


def stop(procs: list[subprocess.Popen], logs: list) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
    for log in logs:
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--copies", type=int, default=6, help="copies of the demo inbox for the message runs (0: none)")
    args = parser.parse_args()
    master = CsvMasterData.load(MASTER)
    broker = redis.Redis.from_url(REDIS_URL)
    broker.ping()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for contexts in (1, 2):
            runs.append(inprocess_run(Path(tmp), master, args.orders, contexts))
            print(runs[-1].line(runs[0].per_hour), flush=True)
        first = None
        for workers in args.workers:
            runs.append(celery_run(Path(tmp), master, args.orders, workers, broker))
            first = first or runs[-1]
            print(runs[-1].line(first.per_hour), flush=True)
    celery_runs = [r for r in runs if r.label.startswith("celery")]
    best = max(celery_runs, key=lambda r: r.per_hour)
    cores = os.cpu_count() or 1
    print(f"\n{args.orders} orders of {LINES} lines per run, {cores} cores. Ratios: in-process runs to 1 context, "
          "celery runs to 1 worker.")
    print(f"best here: {best.label}, {best.per_hour:.0f} orders/h; the machine was "
          f"{best.cpu / (best.seconds * cores):.0%} busy there")
    ours = min((r.cpu - r.portal_cpu) / r.orders for r in celery_runs)  # worker, browser, store, broker
    best_workers = int(best.label.split(",")[1].split()[0])
    machines = math.ceil(PEAK / best.per_hour)
    print(f"peak {PEAK} orders/h: {ours:.2f} CPU s per order on orderbot's side (the portal's own CPU left out), "
          f"about {PEAK * ours / 3600:.1f} busy cores; by throughput {machines} machines like this one with "
          f"{best_workers} workers each ({machines * best_workers} workers, {machines * best.per_hour:.0f} orders/h), "
          "if the portal takes that many sessions")
    if args.copies:
        message_runs(master, broker, args.copies, args.workers)


def message_runs(master: CsvMasterData, broker: redis.Redis, copies: int, worker_counts: list[int]) -> None:
    print("\nmessages, intake to decision:", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        base = messages_inprocess_run(Path(tmp), master, copies)
        print(base.line(base.per_hour, "messages"), flush=True)
        runs = []
        for workers in worker_counts:
            runs.append(messages_celery_run(Path(tmp), master, copies, workers, broker))
            print(runs[-1].line(runs[0].per_hour, "messages"), flush=True)
    best = max(runs, key=lambda r: r.per_hour)
    cpu = min(r.cpu / r.orders for r in runs)
    print(f"{base.orders} messages per run. Ratios: celery runs to 1 worker. Best: {best.label}, "
          f"{best.per_hour:.0f} messages/h ({best.per_hour / base.per_hour:.2f}x the in-process intake thread); "
          f"{cpu:.2f} CPU s per message, {PEAK * cpu / 3600:.1f} busy cores for {PEAK} messages/h")

if __name__ == "__main__":
    main()
