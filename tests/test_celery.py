"""``executor: celery`` for real: a daemon reads a folder of order emails,
records each one and sends it over the machine's Redis or RabbitMQ to two
``orderbot worker`` processes (one on the solo pool, one with two threads),
which decide the messages, key the orders into the demo portal from a shared
PostgreSQL store and acknowledge them over SMTP (aiosmtpd). One worker is
killed with SIGKILL mid-keying. Exactly once is checked in the portal's own
test API and in the SMTP server's record."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from email import message_from_bytes
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.distributed import QUEUE, QUEUES, URGENT_QUEUE, celery_sender, make_app
from bot.model import MessageStatus, OrderState
from bot.store import KeyingOutcome, MailKind, MailStatus, Store
from demo.portal.process import portal_process
from tests.conftest import DEMO_MASTER_DATA
from tests.test_crash import _verdicts, _write_inbox
from tests.test_smtp import Recorder, smtp_server
from tests.test_store_contract import _fresh_postgres_database

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("ORDERBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
AMQP_URL = os.environ.get("ORDERBOT_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
PASSWORD = "celery-test-portal-pw"
MESSAGES = 120  # about 105 clean orders: every tenth goes to review, every fiftieth is no email
DEADLINE = 600.0


@pytest.fixture(params=["redis", "amqp"])
def broker_url(request: pytest.FixtureRequest) -> str:
    """The machine's Redis (this test's own database number) or RabbitMQ, with
    orderbot's queues emptied: tasks of an earlier run go."""
    url = REDIS_URL if request.param == "redis" else AMQP_URL
    try:
        clear_queues(url)
    except Exception as exc:  # noqa: BLE001 - unreachable: fail in CI, skip elsewhere
        if os.environ.get("CI"):
            pytest.fail(f"broker {request.param} at {url} is unreachable: {exc}")
        pytest.skip(f"broker {request.param} at {url} is unreachable: {exc}")
    return url


def clear_queues(url: str) -> None:
    if url.startswith("redis"):
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=5).flushdb()
        return
    from kombu import Connection

    with Connection(url, connect_timeout=5) as conn:
        channel = conn.channel()
        for name in QUEUES:
            channel.queue_delete(name)  # also drops a declaration made with other arguments


def _config(tmp_path: Path, portal_url: str, smtp_port: int) -> Path:
    config = tmp_path / "orderbot.yaml"
    config.write_text(
        f"data_dir: data\nmaster_data: {{path: {DEMO_MASTER_DATA}}}\ntoday: 2026-11-26\n"
        'store: {url: {"$env": TEST_STORE_URL}}\n'
        "sources:\n  - {type: folder, name: inbox, path: inbox}\n"
        f"portal:\n  recipe: {ROOT / 'config' / 'portals' / 'demo.yaml'}\n  base_url: {portal_url}\n"
        '  username: clerk\n  password: {"$env": TEST_PORTAL_PW}\n  workers: 1\n  timeout_seconds: 10\n'
        "  retry_first_seconds: 1\n  retry_max_seconds: 2\n  trace_on_failure: false\n"
        f"smtp: {{host: 127.0.0.1, port: {smtp_port}, security: plain}}\n"
        "outbox: {sender: orders@kestrel-supply.example, retry_first_seconds: 1}\n"
        "executor: celery\n"
        f'celery: {{broker_url: {{"$env": TEST_BROKER_URL}}, heartbeat_seconds: 1, visibility_timeout_seconds: 60,'
        " redispatch_seconds: 20, portal_sessions: 2}\n"
        "schedule:\n  intake: {seconds: 2}\n  keying: {seconds: 1}\n  acknowledge: {seconds: 5}\n  lease_seconds: 10\n",
        encoding="utf-8",
    )
    return config


class Process:
    def __init__(self, tmp_path: Path, name: str, *args: str, env: dict[str, str]) -> None:
        self.log = tmp_path / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", *args], stdout=out, stderr=out,
                                            env=env, cwd=tmp_path)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def test_two_workers_decide_key_and_acknowledge_exactly_once_though_one_is_killed(tmp_path: Path, master, broker_url: str):
    incoming = _write_inbox(tmp_path / "inbox", master, random.Random(20261202), MESSAGES)
    clean = _verdicts(tmp_path / "inbox", incoming, master)
    assert len(clean) >= 100, len(clean)
    smtp = Recorder()
    with contextmanager(_fresh_postgres_database)() as store_url, Store.open(store_url) as store, smtp_server(smtp) as smtp_port:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")} | {
            "TEST_STORE_URL": store_url, "TEST_PORTAL_PW": PASSWORD, "TEST_BROKER_URL": broker_url}
        processes: list[Process] = []
        with portal_process(tmp_path / "portal.db", PASSWORD, "--test-api") as url:
            config = str(_config(tmp_path, url, smtp_port))
            try:
                # One worker on the solo pool, one on threads with 2 sessions: with the cap of 2
                # sessions across workers, the second one's second thread waits for a slot.
                workers = [Process(tmp_path, f"worker-{n}", "worker", "--config", config, "--concurrency", str(n), env=env)
                           for n in (1, 2)]
                processes += workers
                processes.append(Process(tmp_path, "daemon", "run", "--config", config, env=env))
                victim = workers[0]
                killed_attempt = _kill_mid_keying(store, victim, processes)
                deadline = time.monotonic() + DEADLINE
                while not _settled(store, len(incoming)):
                    assert time.monotonic() < deadline, _logs(processes)
                    for p in processes[1:]:
                        assert p.process.poll() is None, p.text()
                    time.sleep(1)
                saved = httpx.get(f"{url}/_test/orders", timeout=30).json()
            finally:
                codes = {p.log.stem: p.stop() for p in processes}
        statuses = Counter(m.status for m in store.messages())
        orders = store.orders()
        attempts = {o.id: store.keying_attempts(o.id) for o in orders}
        acks = {o.id: store.outgoing_mail_for(o.id, MailKind.ACKNOWLEDGEMENT) for o in orders}
    assert codes["worker-1"] == -signal.SIGKILL
    assert codes["worker-2"] == 0 and codes["daemon"] == 0, _logs(processes)

    # Every message decided (by the workers: the daemon only records and sends).
    assert sum(statuses.values()) == len(incoming) and not statuses[MessageStatus.RECEIVED], statuses
    decided_by = {p.log.stem: len(re.findall(r"message \d+: processed \(orders=", p.text())) for p in workers}
    assert all(decided_by.values()) and sum(decided_by.values()) >= statuses[MessageStatus.PROCESSED], decided_by
    assert not re.search(r"message \d+: processed", processes[2].text())

    # The portal's own record: each clean PO exactly once, nothing else.
    per_po = Counter(o["customer_ref"] for o in saved)
    assert set(per_po) == clean and max(per_po.values()) == 1, sorted(po for po, n in per_po.items() if n > 1)
    # The victim's open attempt was settled by the other worker: found in the portal, or tried again.
    settled = next(a for a in attempts[killed_attempt.order_id] if a.id == killed_attempt.id)
    assert settled.outcome in (KeyingOutcome.FOUND, KeyingOutcome.RETRY), settled
    keyed_by = Counter(a.holder.split(":")[1] for tried in attempts.values() for a in tried)
    assert len(keyed_by) == 2, keyed_by  # both workers keyed

    # The SMTP server's record: one acknowledgement per clean order, none twice; the
    # workers sent them after keying (the daemon's acknowledge job is the catch-up).
    sent = Counter(message_from_bytes(r.data)["Message-ID"] for r in smtp.received)
    assert max(sent.values()) == 1, [m for m, n in sent.items() if n > 1]
    uncertain = sum(1 for mail in acks.values() if mail is not None and mail.status is MailStatus.UNCERTAIN)
    assert uncertain <= 1 and len(sent) >= len(clean) - uncertain, (len(sent), len(clean), uncertain)
    by_workers = sum(len(re.findall(r"order \d+: [^\n]*, acknowledged\n", p.text())) for p in workers)
    assert by_workers >= len(clean) // 2, by_workers
    outcomes = Counter(a.outcome for tried in attempts.values() for a in tried)
    print(f"\ncelery: {len(incoming)} messages decided by 2 workers ({decided_by}), {len(clean)} clean orders; "
          f"one worker SIGKILLed mid-keying: portal {len(saved)} orders, none twice; acknowledgements {len(sent)} "
          f"({by_workers} sent by the workers), none twice; attempts {dict(sorted((str(k), v) for k, v in outcomes.items()))}")


def _settled(store: Store, messages: int) -> bool:
    """Every message decided, nothing left to key, every keyed order's acknowledgement settled."""
    counts = store.message_counts()
    if sum(counts.values()) < messages or counts.get(MessageStatus.RECEIVED):
        return False
    if any(store.orders(state=state) for state in (OrderState.READY, OrderState.KEYING)):
        return False
    for stored in store.orders(state=OrderState.KEYED):
        mail = store.outgoing_mail_for(stored.id, MailKind.ACKNOWLEDGEMENT)
        if mail is None or mail.status not in (MailStatus.UNCERTAIN, MailStatus.FAILED):
            return False
    return True


def _kill_mid_keying(store: Store, victim: Process, processes: list[Process]):
    """SIGKILL the victim once it has keyed a few orders and holds an open attempt."""
    deadline = time.monotonic() + DEADLINE
    mine = f":{victim.process.pid}:"
    while time.monotonic() < deadline:
        assert victim.process.poll() is None, victim.text()
        counts = store.order_counts()
        keyed = counts.get(OrderState.KEYED, 0) + counts.get(OrderState.ACKNOWLEDGED, 0)
        open_attempts = [a for a in store.unfinished_attempts() if mine in a.holder]
        if keyed >= 10 and open_attempts:
            victim.process.kill()
            victim.process.wait()
            return open_attempts[0]
        time.sleep(0.05)
    pytest.fail("the victim never held an open attempt:\n" + _logs(processes))


def _logs(processes: list[Process]) -> str:
    return "\n".join(f"--- {p.log.name}\n{p.text()[-3000:]}" for p in processes)


def test_urgent_orders_are_taken_first(broker_url: str):
    """Given five orders waiting on the broker, when an urgent one is sent after
    them, then a consumer reading the queues as a worker does (prefetch 1, the
    worker's queue order) takes the urgent one first: on Redis from its own
    queue, on RabbitMQ by its priority in the keying queue."""
    from kombu import Consumer

    settings = Settings(executor="celery", celery={"broker_url": broker_url},
                        store={"url": "postgresql+psycopg://orderbot@127.0.0.1/orderbot"})
    app = make_app(settings)
    with app.connection_for_write() as conn:
        for queue in app.conf.task_queues:
            queue(conn.default_channel).declare()
    send = celery_sender(app)
    for order_id in range(5):
        send(QUEUE, order_id)
    send(URGENT_QUEUE, 99)
    taken: list[int] = []

    def on_message(body, message) -> None:
        taken.append(body[0][0])  # Celery's message protocol 2: (args, kwargs, embed)
        message.ack()

    with app.connection_for_read() as conn:
        queues = [q for name in QUEUES for q in app.conf.task_queues if q.name == name]
        with Consumer(conn, queues=queues, callbacks=[on_message], prefetch_count=1):
            deadline = time.monotonic() + 30
            while len(taken) < 6 and time.monotonic() < deadline:
                conn.drain_events(timeout=5)
    assert taken[0] == 99 and sorted(taken[1:]) == [0, 1, 2, 3, 4], taken
