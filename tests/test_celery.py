"""``executor: celery`` for real: the daemon sends orders over the machine's Redis
to two ``orderbot worker`` processes, which key them into the demo portal from
a shared PostgreSQL store; one worker is killed with SIGKILL mid-keying.
Exactly once is checked in the portal's own test API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bot.model import OrderState
from bot.store import KeyingOutcome, Store
from demo.portal.process import portal_process
from tests.conftest import DEMO_MASTER_DATA
from tests.test_keying_e2e import _ready
from tests.test_store_contract import _fresh_postgres_database

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("ORDERBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
PASSWORD = "celery-test-portal-pw"
ORDERS = 100
DEADLINE = 600.0


@pytest.fixture
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is unreachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    client.flushdb()  # this test's own database number: queues of an earlier run go
    return REDIS_URL


def _config(tmp_path: Path, portal_url: str) -> Path:
    (tmp_path / "inbox").mkdir()
    config = tmp_path / "orderbot.yaml"
    config.write_text(
        f"data_dir: data\nmaster_data: {{path: {DEMO_MASTER_DATA}}}\ntoday: 2026-11-26\n"
        'store: {url: {"$env": TEST_STORE_URL}}\n'
        "sources:\n  - {type: folder, name: inbox, path: inbox}\n"
        f"portal:\n  recipe: {ROOT / 'config' / 'portals' / 'demo.yaml'}\n  base_url: {portal_url}\n"
        '  username: clerk\n  password: {"$env": TEST_PORTAL_PW}\n  workers: 1\n  timeout_seconds: 10\n'
        "  retry_first_seconds: 1\n  retry_max_seconds: 2\n  trace_on_failure: false\n"
        "executor: celery\n"
        f'celery: {{broker_url: {{"$env": TEST_BROKER_URL}}, heartbeat_seconds: 1, visibility_timeout_seconds: 60,'
        " redispatch_seconds: 20, portal_sessions: 2}\n"
        "schedule:\n  intake: {seconds: 5}\n  keying: {seconds: 1}\n  acknowledge: {seconds: 5}\n  lease_seconds: 10\n",
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


def test_two_workers_key_every_order_exactly_once_though_one_is_killed(tmp_path: Path, master, redis_url: str):
    with contextmanager(_fresh_postgres_database)() as store_url, Store.open(store_url) as store:
        ids = [_ready(store, f"CEL-{i:04d}", [{"sku": "AX-1523", "quantity": str(1 + i % 7)}], urgent=i % 10 == 0)
               for i in range(ORDERS)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")} | {
            "TEST_STORE_URL": store_url, "TEST_PORTAL_PW": PASSWORD, "TEST_BROKER_URL": redis_url}
        processes: list[Process] = []
        with portal_process(tmp_path / "portal.db", PASSWORD, "--test-api") as url:
            config = str(_config(tmp_path, url))
            try:
                workers = [Process(tmp_path, f"worker-{n}", "worker", "--config", config, env=env) for n in (1, 2)]
                processes += workers
                processes.append(Process(tmp_path, "daemon", "run", "--config", config, env=env))
                victim = workers[0]
                killed_attempt = _kill_mid_keying(store, victim, processes)
                deadline = time.monotonic() + DEADLINE
                while sum(store.get_order(i).portal_order_number is not None for i in ids) < ORDERS:
                    assert time.monotonic() < deadline, _logs(processes)
                    for p in processes[1:]:
                        assert p.process.poll() is None, p.text()
                    time.sleep(1)
                saved = httpx.get(f"{url}/_test/orders", timeout=30).json()
            finally:
                codes = {p.log.stem: p.stop() for p in processes}
        attempts = {i: store.keying_attempts(i) for i in ids}
    assert codes["worker-1"] == -signal.SIGKILL
    assert codes["worker-2"] == 0 and codes["daemon"] == 0, _logs(processes)

    per_po = Counter(o["customer_ref"] for o in saved)
    assert len(saved) == ORDERS and set(per_po) == {f"CEL-{i:04d}" for i in range(ORDERS)}
    assert max(per_po.values()) == 1
    # The victim's open attempt was settled by the other worker: found in the portal, or tried again.
    settled = next(a for a in attempts[killed_attempt.order_id] if a.id == killed_attempt.id)
    assert settled.outcome in (KeyingOutcome.FOUND, KeyingOutcome.RETRY), settled
    holders = Counter(a.holder.split(":")[1] for tried in attempts.values() for a in tried)
    assert len(holders) == 2, holders  # both workers keyed
    outcomes = Counter(a.outcome for tried in attempts.values() for a in tried)
    print(f"\ncelery: {ORDERS} orders, 2 workers, one SIGKILLed mid-keying: portal {len(saved)} orders, none twice; "
          f"attempts {dict(sorted((str(k), v) for k, v in outcomes.items()))}; per worker pid {dict(holders)}")


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
