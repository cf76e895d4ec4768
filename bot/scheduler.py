"""The daemon: ``orderbot run`` without ``--once``.

    intake        per source (``schedule.per_source``) or one job for the rest
                  (``schedule.intake``); each source is read under its
                  ``source:NAME`` lease, which ``Pipeline.receive`` takes
    keying        the keying worker under the lease ``job:keying``; it first
                  reconciles attempts a dead worker left (``Keyer.run``)
    acknowledge   acknowledgements of keyed orders under ``job:acknowledge``
    report        the daily report mail (``bot.report_mail``) on its cron, and
                  a catch-up every quarter hour once that time has passed today
                  (the daemon was down then, or the mail server refused)

With ``executor: celery`` intake records each message and sends it to the
workers, and the keying job sends work instead of doing it
(``bot.distributed.Dispatcher``); the daemon stays the one scheduler.

Every job runs with ``max_instances=1``, ``coalesce=True`` and an explicit
``misfire_grace_time``. The leases live in the store, so two daemons, or a
daemon and ``orderbot run --once`` (which goes through the same ``Jobs``),
never run the same job at once: the one that finds the lease taken skips
its run with a log line.

Intake jobs run one at a time in their own thread: they share the pipeline's
per-run caches (credit, history), which are not meant for two threads.
Keying and acknowledgement run in a second pool, so a long keying pass does
not hold intake up.

SIGTERM or SIGINT sets ``stop``: intake stops after the message in hand,
each keying worker after the order in hand, delivery after the mail in
hand; leases are released, the scheduler shuts down (waiting for the
running job) and the process exits 0. At start, leases a killed process of
this host left are released at once (``Jobs.recover``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot import failpoints, holders
from bot.config import MetricsSettings, ScheduleSettings, Trigger
from bot.metrics import MetricsServer, serve_metrics
from bot.pipeline import Pipeline, Progress, RunSummary
from bot.ports import MailSource
from bot.report_mail import DailyReport, ReportMailResult
from bot.store import Store

log = logging.getLogger("orderbot.scheduler")

KEYING_LEASE = "job:keying"
ACKNOWLEDGE_LEASE = "job:acknowledge"
REPORT_CATCH_UP = Trigger(seconds=900)
PROGRESS_SECONDS = 15.0

# The job and run a log line belongs to (read by JsonFormatter).
current_job: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_job", default=None)
current_run: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_run", default=None)


class Stopping(Exception):
    """Raised between two messages once the daemon was told to stop."""


@contextmanager
def job_lease(store: Store, name: str, holder: str, ttl_seconds: float) -> Iterator[bool]:
    """Hold the store lease ``name`` while the block runs, renewed every third of
    its ``ttl_seconds``, and release it after. Yields False (and holds nothing)
    when someone else holds it."""
    if not store.acquire_lease(name, holder, ttl_seconds):
        yield False
        return
    done = threading.Event()

    def renew() -> None:
        while not done.wait(ttl_seconds / 3):
            if not store.acquire_lease(name, holder, ttl_seconds):
                log.warning("lease %s lost to another holder", name)
                return

    renewer = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
    renewer.start()
    try:
        yield True
    finally:
        done.set()
        renewer.join()
        store.release_lease(name, holder)


class Jobs:
    """Intake, keying and acknowledgement, each under its lease; ``orderbot run
    --once`` and the daemon both go through here."""

    def __init__(self, pipeline: Pipeline, *, lease_seconds: float = 120.0, today: Callable[[], date] | None = None,
                 dispatch: Callable[[], RunSummary] | None = None) -> None:
        self.pipeline = pipeline
        # executor: celery: the keying job sends orders to the workers instead of keying them here.
        self.dispatch = dispatch
        self.lease_seconds = lease_seconds
        # A daemon runs for months: without a fixed date, date checks use the day of each run.
        self.today = today

    def intake(self, sources: Sequence[MailSource] | None = None, progress: Progress | None = None) -> RunSummary:
        if self.today is not None:
            self.pipeline.processor.today = self.today()
        # Pipeline.receive leases each source itself (source:NAME): no second lease here.
        return self.pipeline.receive(progress, sources=sources)

    def keying(self, progress: Progress | None = None, stop: Callable[[], bool] | None = None) -> RunSummary:
        if self.dispatch is not None:
            return self._leased(KEYING_LEASE, self.dispatch)
        return self._leased(KEYING_LEASE, lambda: self.pipeline.key(progress, stop))

    def acknowledge(self, stop: Callable[[], bool] | None = None) -> RunSummary:
        return self._leased(ACKNOWLEDGE_LEASE, lambda: self.pipeline.acknowledge(stop))

    def _leased(self, lease: str, body: Callable[[], RunSummary]) -> RunSummary:
        with job_lease(self.pipeline.store, lease, self.pipeline.holder, self.lease_seconds) as held:
            if held:
                return body()
        summary = RunSummary()
        summary.errors.append(f"lease {lease} is held by another process; skipped")
        return summary

    def recover(self) -> list[str]:
        """Release the leases a killed process of this host left behind, so a
        restart need not wait for them to expire; returns their names."""
        freed = self.pipeline.store.release_dead_leases(holders.is_dead)
        if freed:
            log.warning("released leases of a process that is gone: %s", ", ".join(sorted(freed)))
        return freed

    def cycle(self, progress: Progress | None = None) -> RunSummary:
        """One full cycle (``run --once``): intake, keying, acknowledgement."""
        self.recover()
        started = time.monotonic()
        summary = self.intake(progress=progress).then(self.keying(progress), self.acknowledge())
        summary.seconds = time.monotonic() - started
        return summary


def _trigger(trigger: Trigger) -> BaseTrigger:
    if trigger.cron is not None:
        return CronTrigger.from_crontab(trigger.cron)
    assert trigger.seconds is not None
    return IntervalTrigger(seconds=trigger.seconds)


@dataclass(frozen=True)
class JobSpec:
    name: str
    trigger: Trigger
    run: Callable[[Progress], RunSummary | ReportMailResult | None]  # None: nothing to do, nothing to log
    # Intake stops between two messages (Stopping from the progress callback);
    # keying and acknowledgement are given the daemon's stop flag instead.
    stops_between_messages: bool = False


class _BusySkips(logging.Filter):
    """APScheduler warns each time a run is skipped because the last one still
    runs; with ``max_instances=1`` that is the plan, so it shows only at debug level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances reached" in record.getMessage():
            return log.isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("apscheduler.scheduler").addFilter(_BusySkips())


class Daemon:
    """The scheduled jobs of one process. ``start`` / ``stop`` for tests and
    embedding; ``serve`` for the command line (signals, block, clean exit)."""

    def __init__(self, jobs: Jobs, schedule: ScheduleSettings, *, metrics: MetricsSettings | None = None,
                 report: DailyReport | None = None) -> None:
        self.jobs = jobs
        self.schedule = schedule
        self.report = report
        self.metrics = metrics or MetricsSettings()
        self.metrics_server: MetricsServer | None = None
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(
            executors={"intake": ThreadPoolExecutor(max_workers=1), "default": ThreadPoolExecutor(max_workers=2)},
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": max(1, round(schedule.misfire_grace_seconds)),
            },
        )

    def specs(self) -> list[JobSpec]:
        sources = self.jobs.pipeline.sources
        own = [s for s in sources if s.name in self.schedule.per_source]
        rest = [s for s in sources if s.name not in self.schedule.per_source]
        specs = [
            JobSpec(f"intake:{s.name}", self.schedule.per_source[s.name], lambda p, s=s: self.jobs.intake([s], p), True)
            for s in own
        ]
        if rest:
            specs.append(JobSpec("intake", self.schedule.intake, lambda p: self.jobs.intake(rest, p), True))
        stop = self.stopping.is_set
        specs.append(JobSpec("keying", self.schedule.keying, lambda p: self.jobs.keying(p, stop)))
        specs.append(JobSpec("acknowledge", self.schedule.acknowledge, lambda p: self.jobs.acknowledge(stop)))
        if self.report is not None:
            report = self.report
            specs.append(JobSpec("report", self.schedule.report, lambda p: report.run()))
            specs.append(JobSpec("report:catch-up", REPORT_CATCH_UP, lambda p: self._catch_up(report)))
        return specs

    def _catch_up(self, report: DailyReport) -> ReportMailResult | None:
        """Today's report, if its time has passed and it is not sent yet."""
        now = datetime.now().astimezone()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        first = _trigger(self.schedule.report).get_next_fire_time(None, midnight)
        if first is None or first > now or report.done():
            return None
        return report.run()

    def start(self, *, paused: bool = False) -> None:
        self.jobs.recover()
        for spec in self.specs():
            first = datetime.now().astimezone() if spec.trigger.seconds is not None else None
            self.scheduler.add_job(
                self._run,
                _trigger(spec.trigger),
                args=(spec,),
                id=spec.name,
                name=spec.name,
                executor="intake" if spec.name.startswith("intake") else "default",
                next_run_time=first,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, round(self.schedule.misfire_grace_seconds)),
            )
        if self.metrics.port is not None:
            self.metrics_server = serve_metrics(self.jobs.pipeline.store, self.metrics.port, self.metrics.host)
            log.info("metrics on http://%s:%d/metrics", self.metrics.host, self.metrics_server.port)
        if failpoints.active():
            log.warning("failpoints armed (%s): this process will kill itself on purpose", failpoints.ENV)
        self.scheduler.start(paused=paused)
        log.info("daemon started (holder %s): %s", self.jobs.pipeline.holder, ", ".join(s.name for s in self.specs()))

    def stop(self) -> None:
        """Let the job in hand finish its message, then shut down (waits)."""
        self.stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self.metrics_server is not None:
            self.metrics_server.close()
            self.metrics_server = None
        log.info("daemon stopped")

    def serve(self) -> None:
        """Run until SIGTERM or SIGINT, then stop cleanly."""
        asked = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            log.info("%s received: finishing the work in hand", signal.Signals(signum).name)
            self.stopping.set()
            asked.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not asked.wait(1.0):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # -- one run of one job ------------------------------------------------------

    def _check_stop(self, _stage: str, _done: int) -> None:
        if self.stopping.is_set():
            raise Stopping

    def _progress_for(self, spec: JobSpec) -> Progress:
        """A long run logs how far it got every ``PROGRESS_SECONDS``; intake
        also stops here between two messages once told to."""
        last = time.monotonic()

        def progress(stage: str, done: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_SECONDS:
                last = now
                log.info("job %s: %s, %d done so far", spec.name, stage, done)
            if spec.stops_between_messages:
                self._check_stop(stage, done)

        return progress

    def _run(self, spec: JobSpec) -> None:
        if self.stopping.is_set():
            return
        job_token = current_job.set(spec.name)
        run_token = current_run.set(uuid.uuid4().hex[:12])
        started = time.monotonic()
        try:
            try:
                result = spec.run(self._progress_for(spec))
            except Stopping:
                log.info("job %s: stopped after the message in hand", spec.name)
                return
            except Exception:  # the daemon lives on; the next run tries again
                log.exception("job %s failed", spec.name)
                return
            if result is None:
                return
            problems: list[str] = []
            if isinstance(result, RunSummary):
                result.seconds = time.monotonic() - started
                problems = result.errors
            elif result.error is not None:
                problems = [result.error]
            log.info("job %s: %s", spec.name, result.line())
            for problem in problems:
                log.warning("job %s: %s", spec.name, problem)
        finally:
            current_run.reset(run_token)
            current_job.reset(job_token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the job and
    run id of the job the line came from."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        job, run = current_job.get(), current_run.get()
        if job is not None:
            entry["job"] = job
            entry["run_id"] = run
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def use_json_logs() -> None:
    """Switch every handler of the root logger to JSON lines."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(JsonFormatter())


__all__ = ["ACKNOWLEDGE_LEASE", "KEYING_LEASE", "Daemon", "JobSpec", "Jobs", "JsonFormatter", "Stopping", "job_lease", "use_json_logs"]
