"""The daemon (``orderbot run`` without ``--once``) as an operator runs it: a real
process on a folder source and a SQLite store, stopped with SIGTERM.

Timing: every wait polls a condition up to a deadline; nothing asserts on how
long something took."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.scheduler import KEYING_LEASE, Daemon, Jobs
from bot.store import Store
from bot.wiring import build_pipeline
from tests.conftest import DEMO_MASTER_DATA

ROOT = Path(__file__).resolve().parents[1]
INBOX = ROOT / "demo" / "inbox"
DEADLINE = 20.0


def _config(tmp_path: Path, schedule: str | None = None) -> Path:
    inbox = tmp_path / "inbox"
    if not inbox.exists():
        shutil.copytree(INBOX, inbox)
    schedule = schedule or "  intake: {seconds: 1}\n  keying: {seconds: 1}\n  acknowledge: {seconds: 1}\n"
    config = tmp_path / "orderbot.yaml"
    config.write_text(
        f"data_dir: data\nmaster_data: {{path: {DEMO_MASTER_DATA}}}\ntoday: 2026-11-26\n"
        "sources:\n  - {type: folder, name: inbox, path: inbox}\n"
        f"schedule:\n{schedule}",
        encoding="utf-8",
    )
    return config


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}


class DaemonProcess:
    def __init__(self, tmp_path: Path, config: Path, *args: str, name: str = "daemon") -> None:
        self.log = tmp_path / f"{name}.log"
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config), *args],
            stdout=subprocess.DEVNULL, stderr=self._log_file, env=_env(), cwd=tmp_path,
        )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=DEADLINE)
        finally:
            self._log_file.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log_file.close()


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.kill()


def wait_for(condition: Callable[[], bool], what: str, daemon: DaemonProcess | None = None) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return
        if daemon is not None and daemon.process.poll() is not None:
            pytest.fail(f"daemon exited with {daemon.process.returncode} while waiting for {what}:\n{daemon.text()}")
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}" + (f":\n{daemon.text()}" if daemon else ""))


def _rows(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:  # schema not created yet
            return []


def test_daemon_processes_the_inbox_and_stops_cleanly_on_sigterm(tmp_path: Path, daemons):
    """Given a folder source with the demo inbox and 1-second jobs,
    when the daemon runs with JSON logs and then gets SIGTERM,
    then every message is in the ledger, each job logged a one-line summary with
    its job name and run id, it exits 0 and no lease is left in the store."""
    config = _config(tmp_path)
    db = tmp_path / "data" / "orderbot.db"
    expected = len(list(INBOX.glob("*.eml")))
    daemon = DaemonProcess(tmp_path, config, "--log-json")
    daemons.append(daemon)

    # The summary line comes after the last message is settled (the ledger row comes before).
    wait_for(lambda: f"job intake: received={expected} " in daemon.text(), "the inbox taken in", daemon)
    wait_for(lambda: '"job": "acknowledge"' in daemon.text() and '"job": "keying"' in daemon.text(), "keying and acknowledge runs", daemon)

    assert daemon.terminate() == 0, daemon.text()
    assert _rows(db, "select name, holder from leases") == []
    lines = [json.loads(line) for line in daemon.text().splitlines() if line.startswith("{")]
    summaries = [line for line in lines if line["message"].startswith(f"job {line.get('job')}: received=")]
    assert {s["job"] for s in summaries} >= {"intake", "keying", "acknowledge"}
    assert all(s["run_id"] for s in summaries)
    assert len(_rows(db, "select id from messages")) == expected
    assert lines[-1]["message"] == "daemon stopped"
    # No state left half-done: every message reached a final status.
    assert _rows(db, "select count(*) from messages where status = 'received'") == [(0,)]


def test_a_lease_held_elsewhere_makes_the_job_skip_until_it_is_free(tmp_path: Path, daemons):
    """Given another process holding the intake lease of the source and the keying job's lease,
    when the daemon runs, then it skips those jobs with a log line and takes nothing in;
    once the source lease is released it takes the inbox in, and on SIGTERM it leaves the
    other holder's lease alone."""
    config = _config(tmp_path)
    db = tmp_path / "data" / "orderbot.db"
    settings = load_settings(config, environ={})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with Store.open(settings.store_url) as store:
        assert store.acquire_lease("source:inbox", "other-daemon", 600)
        assert store.acquire_lease(KEYING_LEASE, "other-daemon", 600)
    daemon = DaemonProcess(tmp_path, config)
    daemons.append(daemon)

    wait_for(lambda: "source inbox: another run is reading it; skipped" in daemon.text(), "intake skipped", daemon)
    wait_for(lambda: f"job keying: lease {KEYING_LEASE} is held by another process; skipped" in daemon.text(), "keying skipped", daemon)
    assert _rows(db, "select count(*) from messages") == [(0,)]

    with Store.open(settings.store_url) as store:
        assert store.release_lease("source:inbox", "other-daemon")
    expected = len(list(INBOX.glob("*.eml")))
    wait_for(lambda: _rows(db, "select count(*) from messages") == [(expected,)], "the inbox in the ledger", daemon)

    assert daemon.terminate() == 0, daemon.text()
    assert _rows(db, "select name, holder from leases") == [(KEYING_LEASE, "other-daemon")]


def test_two_daemons_on_one_store_take_every_message_once(tmp_path: Path, daemons):
    """Given two daemons on the same store and inbox,
    when both run, then each message is in the ledger once, both exit 0 on SIGTERM
    and no lease is left."""
    config = _config(tmp_path)
    db = tmp_path / "data" / "orderbot.db"
    expected = len(list(INBOX.glob("*.eml")))
    first = DaemonProcess(tmp_path, config, name="first")
    daemons.append(first)
    # The second starts once the first created the store (two schema creations would race).
    wait_for(lambda: bool(_rows(db, "select count(*) from leases")), "the store", first)
    second = DaemonProcess(tmp_path, config, name="second")
    daemons.append(second)

    wait_for(lambda: "job intake: " in second.text(), "an intake run of the second daemon", second)
    wait_for(lambda: _rows(db, "select count(*) from messages") == [(expected,)], "the inbox in the ledger", first)

    assert first.terminate() == 0, first.text()
    assert second.terminate() == 0, second.text()
    assert _rows(db, "select count(*), count(distinct sha256) from messages") == [(expected, expected)]
    assert _rows(db, "select name, holder from leases") == []


@pytest.mark.parametrize(
    ("schedule", "key"),
    [
        ('  intake: {cron: "*/5 7-25 * * mon-fri"}\n', "schedule.intake.cron"),
        ("  keying: {seconds: 30, cron: '* * * * *'}\n", "schedule.keying"),
        ("  per_source: {nowhere: {seconds: 5}}\n", "schedule.per_source"),
    ],
)
def test_a_bad_schedule_stops_start_up_naming_the_key(tmp_path: Path, schedule: str, key: str):
    config = _config(tmp_path, schedule)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        check=False, capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert key in " ".join(result.stderr.split())


def test_jobs_are_declared_with_one_instance_coalesced_and_a_grace_time(tmp_path: Path):
    """Given a source with its own schedule and one without, the daemon declares one
    intake job each, keying and acknowledge; every job has max_instances=1,
    coalesce and the configured misfire grace time."""
    (tmp_path / "other").mkdir()
    config = _config(tmp_path, '  per_source: {inbox: {cron: "*/5 7-18 * * mon-fri"}}\n  misfire_grace_seconds: 45\n')
    text = config.read_text(encoding="utf-8").replace(
        "sources:\n", "sources:\n  - {type: folder, name: other, path: other}\n"
    )
    config.write_text(text, encoding="utf-8")
    settings = load_settings(config, environ={})
    pipeline = build_pipeline(settings, today=date(2026, 11, 26))
    with pipeline.store:
        daemon = Daemon(Jobs(pipeline), settings.schedule)
        names = [spec.name for spec in daemon.specs()]
        assert names == ["intake:inbox", "intake", "keying", "acknowledge"]
        daemon.start(paused=True)
        try:
            jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
        finally:
            daemon.stop()
    assert set(jobs) == set(names)
    for job in jobs.values():
        assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 45)
        assert job.executor == ("intake" if job.id.startswith("intake") else "default")
    assert "cron" in str(jobs["intake:inbox"].trigger)


def test_a_stop_ends_intake_after_the_message_in_hand(tmp_path: Path):
    """Given the demo inbox, when the daemon is told to stop while intake takes the
    first message, then that message is committed and settled, no other is taken,
    and the source lease is released."""
    config = _config(tmp_path)
    settings = load_settings(config, environ={})
    pipeline = build_pipeline(settings, today=date(2026, 11, 26))
    with pipeline.store:
        daemon = Daemon(Jobs(pipeline), settings.schedule)
        spec = next(s for s in daemon.specs() if s.name == "intake")
        check = daemon._check_stop

        def signal_during_first_message(stage: str, done: int) -> None:
            daemon.stopping.set()  # what SIGTERM does
            check(stage, done)

        daemon._check_stop = signal_during_first_message  # type: ignore[method-assign]
        daemon._run(spec)
        counts = pipeline.store.message_counts()
    db = settings.data_dir / "orderbot.db"
    assert sum(counts.values()) == 1 and counts.get("received", 0) == 0, counts
    assert _rows(db, "select name from leases") == []


def test_the_reference_date_follows_the_calendar_unless_fixed(tmp_path: Path):
    """Given a daemon running past midnight, intake checks dates against the day of
    the run; a fixed date (--today, `today`) stays fixed."""
    settings = load_settings(_config(tmp_path), environ={})
    pipeline = build_pipeline(settings, today=date(2026, 11, 26))
    with pipeline.store:
        Jobs(pipeline, today=lambda: date(2026, 11, 27)).intake(sources=[])
        assert pipeline.processor.today == date(2026, 11, 27)
        Jobs(pipeline).intake(sources=[])
        assert pipeline.processor.today == date(2026, 11, 27)


def test_the_daemon_serves_metrics_and_mails_the_daily_report_once(tmp_path: Path, daemons):
    """Given a daemon with a metrics port, two report recipients and the report job
    every second, when it has taken the inbox in, then /metrics shows the ledger,
    each recipient got the report (with its charts) once although the job ran again
    and again, and after SIGTERM the endpoint is gone."""
    import email
    import socket

    import httpx

    from demo.portal.process import free_port
    from tests.test_smtp import Recorder, smtp_server

    handler = Recorder()
    with smtp_server(handler) as smtp_port:
        metrics_port = free_port()
        config = _config(tmp_path, "  intake: {seconds: 1}\n  keying: {seconds: 1}\n  acknowledge: {seconds: 1}\n"
                                   "  report: {seconds: 1}\n")
        config.write_text(
            config.read_text(encoding="utf-8")
            + f"metrics: {{port: {metrics_port}}}\n"
            "report: {recipients: [manager@kestrel-supply.example, desk@kestrel-supply.example], days: 7}\n"
            f"smtp: {{host: 127.0.0.1, port: {smtp_port}, security: plain}}\n",
            encoding="utf-8",
        )
        expected = len(list(INBOX.glob("*.eml")))
        daemon = DaemonProcess(tmp_path, config)
        daemons.append(daemon)
        wait_for(lambda: f"job intake: received={expected} " in daemon.text(), "the inbox taken in", daemon)
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        processed = [line for line in scraped.splitlines() if line.startswith('orderbot_messages{status="processed"}')]
        assert processed and float(processed[0].split()[-1]) > 0, scraped

        def reports() -> list:
            return [r for r in handler.received if b"X-Orderbot-Report:" in r.data]

        wait_for(lambda: len(reports()) == 2, "the report mail to both recipients", daemon)
        wait_for(lambda: daemon.text().count("job report: report ") >= 3, "more runs of the report job", daemon)
        assert "already sent" in daemon.text()
        assert daemon.terminate() == 0, daemon.text()

    assert sorted(r.rcpt_tos[0] for r in reports()) == ["desk@kestrel-supply.example", "manager@kestrel-supply.example"]
    mail = email.message_from_bytes(reports()[0].data)
    assert [p.get_content_type() for p in mail.walk()].count("image/png") == 3
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", metrics_port)) != 0  # the endpoint went with the daemon
