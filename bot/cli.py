"""The ``orderbot`` command line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import date, timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot import failpoints
from bot.config import Settings, load_settings, masked
from bot.errors import OrderbotError, PermanentError
from bot.extraction_json import dumps, extraction_to_json
from bot.model import MessageStatus, OrderState, RawMessage
from bot.processing import DuplicateIndex, MessageProcessor, failed_extraction

app = typer.Typer(
    help="orderbot: reads purchase orders from email, extracts and checks them, keys them into the order portal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
from bot.review.cli import corrections_app, review_app, users_app  # noqa: E402
app.add_typer(review_app, name="review"); app.add_typer(users_app, name="users")
app.add_typer(corrections_app, name="corrections")

err = Console(stderr=True)
log = logging.getLogger("orderbot")

ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="Settings file (default: $ORDERBOT_CONFIG, else ./config/orderbot.yaml)."),
]
TemplatesOption = Annotated[
    Optional[Path],
    typer.Option("--templates", help="Folder of per-customer extraction templates (NAME.yaml); default: none."),
]
TodayOption = Annotated[
    Optional[str], typer.Option("--today", help="Reference date YYYY-MM-DD for date checks (default: today).")
]


def _fail(exc: BaseException, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", highlight=False)
    return typer.Exit(code)


def _today(value: str | None, settings: Settings | None = None) -> date:
    if value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise _fail(f"--today: {value!r} is not a date in the form YYYY-MM-DD") from None
    if settings is not None and settings.today is not None:
        return settings.today
    return date.today()


def _settings(path: Path | None) -> Settings:
    try:
        failpoints.active()  # a malformed $ORDERBOT_FAILPOINTS stops every command here, not mid-run
        return load_settings(path)
    except OrderbotError as exc:
        raise _fail(exc) from exc


def _master(directory: Path):
    from connectors.masterdata import CsvMasterData

    try:
        return CsvMasterData.load(directory)
    except PermanentError as exc:
        raise _fail(exc) from exc


def _templates(directory: Path | None):
    """The templates in ``directory`` (validated), or None without one."""
    if directory is None:
        return None
    from extractors.templates import load_templates

    try:
        return load_templates(directory)
    except PermanentError as exc:
        raise _fail(exc) from exc


@app.callback()
def main(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")] = 0,
) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _extract_one(processor: MessageProcessor, raw: RawMessage):
    """One message's extraction; one that cannot be read is reported as needing review."""
    try:
        return processor.process(raw).extraction
    except PermanentError as exc:
        problem = str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad message never ends the call
        log.exception("extraction of %s failed", raw.name)
        problem = f"{raw.name}: unexpected {type(exc).__name__}: {exc}"
    err.print(f"[yellow]{problem}[/] (sent to review as unreadable_document)", highlight=False)
    return failed_extraction(raw, problem)


@app.command()
def extract(
    messages: Annotated[list[Path], typer.Argument(help="Message files (.eml, or bare PDFs), processed in this order.")],
    master_data: Annotated[Path, typer.Option("--master-data", help="Folder with the master-data CSV files.")],
    today: TodayOption = None,
    store_url: Annotated[
        Optional[str], typer.Option("--store-url", help="Also treat POs already held in this store as duplicates.")
    ] = None,
    templates: TemplatesOption = None,
) -> None:
    """Print one extraction result per message as JSON Lines (FORMATS.md section 2)."""
    master = _master(master_data)
    template_set = _templates(templates)
    duplicates = DuplicateIndex()
    store = None
    if store_url:
        from bot.store import Store

        try:
            store = Store.open(store_url)
        except OrderbotError as exc:
            raise _fail(exc) from exc
        duplicates = DuplicateIndex(in_store=lambda c, po: bool(store.find_orders(c, po)))
    processor = MessageProcessor(master, today=_today(today), duplicates=duplicates, templates=template_set)
    failures = 0
    for path in messages:
        try:
            raw = RawMessage(data=path.read_bytes(), origin=f"file:{path}", name=str(path))
        except OSError as exc:
            err.print(f"[red]{path}: cannot read: {exc.strerror}[/]", highlight=False)
            failures += 1
            continue
        result = _extract_one(processor, raw)
        sys.stdout.write(dumps(result) + "\n")
        sys.stdout.flush()
    if store is not None:
        store.close()
    if failures:
        raise typer.Exit(1)


@app.command("eval")
def evaluate(
    corpus_dir: Annotated[Path, typer.Argument(help="A labelled corpus: messages/, labels/, masterdata/.")],
    today: TodayOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    show_errors: Annotated[int, typer.Option("--errors", help="Also list the first N field errors.")] = 0,
    templates: TemplatesOption = None,
) -> None:
    """Run extraction over a labelled corpus and score it (FORMATS.md section 3)."""
    from bot.evaluation import load_labels, message_paths, score

    try:
        paths = message_paths(corpus_dir)
        labels = load_labels(corpus_dir)
    except OrderbotError as exc:
        raise _fail(exc) from exc
    master = _master(corpus_dir / "masterdata")
    # Without --templates the score measures the generic extractor alone.
    processor = MessageProcessor(master, today=_today(today), templates=_templates(templates))
    predictions = []
    for path in paths:
        raw = RawMessage(data=path.read_bytes(), origin=f"file:{path}", name=path.name)
        predictions.append(extraction_to_json(_extract_one(processor, raw)))
    scores = score([(label, pred) for (_, label), pred in zip(labels, predictions, strict=True)], names=[n for n, _ in labels])
    if as_json:
        sys.stdout.write(json.dumps(scores.to_json(), indent=2) + "\n")
        return
    if show_errors:
        for error in scores.errors[:show_errors]:
            sys.stdout.write(f"{error.message} po={error.po_number} {error.field}" + (f"[{error.line}]" if error.line else "") + f": expected {error.expected!r} got {error.got!r}\n")
    sys.stdout.write(scores.report() + "\n")


@app.command()
def run(
    once: Annotated[bool, typer.Option("--once", help="One intake cycle, then exit.")] = False,
    config: ConfigOption = None,
    today: TodayOption = None,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log lines as JSON objects with job and run id.")] = False,
) -> None:
    """Take new messages from the configured sources through the pipeline into the
    store: once (--once), or as a daemon on the jobs in `schedule` until SIGTERM."""
    settings = _settings(config)
    from bot.scheduler import Daemon, Jobs, use_json_logs
    from bot.wiring import build_daily_report, build_pipeline

    if log_json or settings.logging.format == "json":
        use_json_logs()
    try:
        pipeline = build_pipeline(settings, today=_today(today, settings))
    except OrderbotError as exc:
        raise _fail(exc) from exc
    fixed = today is not None or settings.today is not None
    dispatch = None
    if settings.executor == "celery":
        from bot.distributed import Dispatcher, celery_message_sender, celery_sender, make_app

        celery_app = make_app(settings)
        dispatcher = Dispatcher(pipeline.store, celery_sender(celery_app), celery_message_sender(celery_app),
                                redispatch_seconds=settings.celery.redispatch_seconds,
                                stale_after_seconds=pipeline.keying.stale_after_seconds)
        # Intake records each message and sends it on; the keying job sends orders and stragglers.
        pipeline.send_message = dispatcher.send_new_message
        dispatch = dispatcher.dispatch
    jobs = Jobs(pipeline, lease_seconds=settings.schedule.lease_seconds, today=None if fixed else date.today,
                dispatch=dispatch)
    if not once:
        # The daemon's one-line summaries are its log: show them without -v.
        scheduler_log = logging.getLogger("orderbot.scheduler")
        if scheduler_log.getEffectiveLevel() > logging.INFO:
            scheduler_log.setLevel(logging.INFO)
        with pipeline.store:
            Daemon(jobs, settings.schedule, metrics=settings.metrics,
                   report=build_daily_report(settings, pipeline)).serve()
        return
    with pipeline.store:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task("intake", total=None)
            summary = jobs.cycle(progress=lambda stage, done: bar.update(task, completed=done, description=stage))
    typer.echo(f"orderbot run: {summary.line()}")
    for problem in summary.errors:
        err.print(f"[yellow]{problem}[/]", highlight=False)


class WorkerQueues(str, Enum):
    all = "all"
    messages = "messages"
    keying = "keying"


@app.command()
def worker(
    config: ConfigOption = None,
    concurrency: Annotated[
        Optional[int], typer.Option(min=1, max=32, help="Threads, each with its own portal session; default: portal.workers.")
    ] = None,
    queues: Annotated[
        WorkerQueues, typer.Option(help="The work this worker takes: messages (intake to decision), keying (orders), or all.")
    ] = WorkerQueues.all,
) -> None:
    """A worker for `executor: celery`: decides the messages the daemon records and
    keys orders into the portal (then acknowledges them), each thread with its
    own browser session, until SIGTERM."""
    settings = _settings(config)
    if settings.executor != "celery":
        raise _fail("orderbot worker needs `executor: celery` in the settings (the embedded default works in the daemon)")
    keys = queues is not WorkerQueues.messages
    if keys and settings.portal is None:
        raise _fail("orderbot worker needs `portal` in the settings to key orders (or --queues messages)")
    try:
        import celery  # noqa: F401 - the extra may be missing
    except ImportError as exc:
        raise _fail(f"{exc}: install the celery extra (pip install 'orderbot[celery]')") from exc
    from bot import holders
    from bot.distributed import MESSAGE_QUEUE, QUEUE, QUEUES, URGENT_QUEUE, WorkerRuntime, make_app, register_tasks
    from bot.keying import Keyer
    from bot.store import Store
    from bot.wiring import build_keying, build_templates, build_worker_pipeline

    if logging.getLogger("orderbot").getEffectiveLevel() > logging.INFO:
        logging.getLogger("orderbot").setLevel(logging.INFO)
    if settings.logging.format == "json":
        from bot.scheduler import use_json_logs

        use_json_logs()
    master = _master(settings.master_data.path)
    try:
        keying = build_keying(settings) if keys else None
        templates = build_templates(settings)
        store = Store.open(settings.store_url)
    except OrderbotError as exc:
        raise _fail(exc) from exc
    holder = holders.holder()
    threads = concurrency or (settings.portal.workers if settings.portal is not None else 1)
    fixed = settings.today
    with store:
        keyer = Keyer(store, master, keying[0], holder=holder, policy=keying[1]) if keying else None
        runtime = WorkerRuntime(
            store, keyer, holder=holder, portal_sessions=settings.celery.portal_sessions,
            heartbeat_seconds=settings.celery.heartbeat_seconds,
            stale_after=timedelta(seconds=settings.portal.stale_after_seconds if settings.portal else 120),
            pipelines=lambda: build_worker_pipeline(settings, store, master, templates, holder=holder,
                                                    today=fixed or date.today()),
            today=None if fixed else date.today,
        )
        celery_app = make_app(settings)
        register_tasks(celery_app, lambda: runtime)
        runtime.start(warm_up=queues is not WorkerQueues.keying)
        wanted = {WorkerQueues.all: QUEUES, WorkerQueues.messages: (MESSAGE_QUEUE,),
                  WorkerQueues.keying: (URGENT_QUEUE, QUEUE)}[queues]
        try:
            celery_app.worker_main([
                "worker", "--pool", "solo" if threads == 1 else "threads", "--concurrency", str(threads),
                "--queues", ",".join(wanted), "--hostname", f"orderbot-{holder.replace(':', '-')}@%h",
                "--without-gossip", "--without-mingle", "--loglevel", "INFO",
            ])
        finally:
            runtime.stop()


portal_app = typer.Typer(help="The bundled demo order-entry portal.", no_args_is_help=True)
app.add_typer(portal_app, name="portal")


@portal_app.command("serve")
def portal_serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (or --host).")] = 8080,
    db: Annotated[Path, typer.Option(help="The portal's SQLite file (created if missing; orders are kept).")] = Path("data/portal.db"),
    master_data: Annotated[Path, typer.Option("--master-data", help="Folder of master-data CSVs (FORMATS.md section 1).")] = Path("demo/masterdata"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    user: Annotated[str, typer.Option(help="The login name; its password comes from $ORDERBOT_PORTAL_PASSWORD.")] = "clerk",
    latency_ms: Annotated[int, typer.Option("--latency-ms", help="Added latency per request.")] = 0,
    error_rate: Annotated[float, typer.Option("--error-rate", help="Share of POSTs that fail with HTTP 500 before doing anything.")] = 0.0,
    commit_then_fail_rate: Annotated[float, typer.Option("--commit-then-fail-rate", help="Share of saves that commit, then answer 500.")] = 0.0,
    session_timeout: Annotated[float, typer.Option("--session-timeout", help="Idle seconds before a session expires.")] = 900.0,
    maintenance: Annotated[bool, typer.Option("--maintenance", help="Answer every page with 503 maintenance.")] = False,
    test_api: Annotated[bool, typer.Option("--test-api", help="Serve /_test/orders, a JSON list of saved orders (for exactly-once checks).")] = False,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the fault switches, for repeatable runs.")] = None,
) -> None:
    """Serve the demo legacy portal (Kestrel Order Entry) until interrupted."""
    import os

    from demo.portal.app import PortalConfig, serve

    password = os.environ.get("ORDERBOT_PORTAL_PASSWORD")
    if not password:
        raise _fail("set ORDERBOT_PORTAL_PASSWORD to the password of the portal user "
                    f"{user!r} (the same variable the demo-portal config reads)")
    if not (master_data / "customers.csv").is_file():
        raise _fail(f"--master-data {master_data}: no customers.csv there")
    db.parent.mkdir(parents=True, exist_ok=True)
    config = PortalConfig(db_path=db, master_data=master_data, users={user: password}, session_timeout=session_timeout,
                          latency_ms=latency_ms, error_rate=error_rate, commit_then_fail_rate=commit_then_fail_rate,
                          maintenance=maintenance, test_api=test_api, seed=seed)
    err.print(f"demo portal on http://{host}:{port}/ (user {user!r}); Ctrl-C stops it", highlight=False)
    serve(config, host=host, port=port)


@app.command()
def demo(
    config: ConfigOption = None,
    today: TodayOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary (with --no-serve).")] = False,
    workers: Annotated[int, typer.Option(help="Browser contexts keying in parallel.")] = 2,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Exit after the summary instead of serving the review workbench.")
    ] = False,
    port: Annotated[
        Optional[int],
        typer.Option("--port", min=1, max=65535, help="Workbench port (default: review.port when free, else a free one)."),
    ] = None,
) -> None:
    """The whole loop on the embedded default: start the demo portal, take the
    sample messages, extract, validate, key the clean orders, leave the rest for
    review; then serve the review workbench and key what a handler approves, until
    Ctrl-C (--no-serve: exit after the summary)."""
    from bot.demo import Demo, OrderRow, stop_signals
    from bot.pipeline import RunSummary

    if as_json and not no_serve:
        raise _fail("--json is for scripts and needs --no-serve (without it the demo serves until Ctrl-C)")
    if port is not None and no_serve:
        raise _fail("--port is the workbench's port; --no-serve serves no workbench")
    settings = _settings(config)

    def show(rows: list[OrderRow]) -> None:
        for order in rows:
            where = order["portal_order_number"] or ", ".join(order["reasons"])
            typer.echo(f"  {order['state']:<13} {order['customer_id'] or '?':<6} PO {order['po_number'] or '?':<22} {where}")

    def warn(summary: RunSummary) -> None:
        for problem in summary.errors:
            err.print(f"[yellow]{problem}[/]", highlight=False)

    def changed(summary: RunSummary, rows: list[OrderRow]) -> None:  # after a keying pass while serving
        show(rows)
        warn(summary)

    try:
        with Demo(settings, today=_today(today, settings), workers=workers) as run:
            listener = None if no_serve else run.listen(port)  # a taken --port is refused before the cycle
            result = run.cycle()
            if as_json:
                sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
                return
            show(result.orders)
            typer.echo(f"orderbot demo: {result.summary.line()}")
            warn(result.summary)
            if listener is None:
                typer.echo("Orders left for review: `orderbot review serve` (create a login with `orderbot users add NAME --role handler`).")
                return
            messages, orders = run.counts()
            typer.echo("messages: " + " ".join(f"{k}={v}" for k, v in sorted(messages.items())))
            typer.echo("orders:   " + " ".join(f"{k}={v}" for k, v in sorted(orders.items())))
            with stop_signals() as stop, run.serve(listener, on_change=changed) as served:
                bench, portal = served.workbench, served.portal
                typer.echo(f"\nReview workbench: {bench.url}\n  log in as {bench.user}, password {bench.password}  (for this run only)")
                if portal is not None:
                    typer.echo(f"Demo portal:      {portal.url}\n  log in as {portal.user}, password {portal.password}  (for this run only)")
                typer.echo("Approve an order in the workbench: it is keyed into the portal within seconds. Ctrl-C stops the demo.")
                while not stop.wait(0.5):
                    pass
    except OrderbotError as exc:
        raise _fail(exc) from exc
    typer.echo("orderbot demo: stopped")


@app.command()
def report(
    since: Annotated[str, typer.Option("--since", help="First day of the report, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for index.html and its charts.")],
    until: Annotated[Optional[str], typer.Option("--until", help="Last day, YYYY-MM-DD (default: today).")] = None,
    config: ConfigOption = None,
) -> None:
    """Write the operations report (volume, straight-through rate, review reasons,
    slowest steps, unusual patterns) as HTML with charts."""
    from bot.reporting import build_report, write_report
    from bot.store import Store

    settings = _settings(config)
    first, last = _today(since), _today(until) if until else None
    try:
        with Store.open(settings.store_url) as store:
            page = write_report(build_report(store, first, last), out)
    except (OrderbotError, ValueError) as exc:
        raise _fail(exc) from exc
    typer.echo(f"orderbot report: {page}")


@app.command()
def status(config: ConfigOption = None) -> None:
    """Counts of messages, orders and outgoing mail by state, and what waits for a person."""
    settings = _settings(config)
    from bot.store import MailStatus, Store

    try:
        store = Store.open(settings.store_url)
    except OrderbotError as exc:
        raise _fail(exc) from exc
    with store:
        messages = store.message_counts()
        orders = store.order_counts()
        mail = store.mail_counts()
    typer.echo("messages: " + " ".join(f"{k}={v}" for k, v in sorted(messages.items())))
    typer.echo("orders:   " + " ".join(f"{k}={v}" for k, v in sorted(orders.items())))
    typer.echo("mail:     " + " ".join(f"{k}={v}" for k, v in sorted(mail.items())))
    waiting = {
        "orders to review": orders[OrderState.NEEDS_REVIEW],
        "orders keying gave up on": orders[OrderState.FAILED],
        "messages the bot could not read": messages[MessageStatus.FAILED],
        "mails uncertain or failed": mail[MailStatus.UNCERTAIN] + mail[MailStatus.FAILED],
    }
    typer.echo("for a person (the review workbench): "
               + (", ".join(f"{n} {what}" for what, n in waiting.items() if n) or "nothing"))


@app.command()
def orders(
    config: ConfigOption = None,
    state: Annotated[Optional[str], typer.Option("--state", help="Only orders in this state.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 50,
) -> None:
    """List orders in the store: urgent first, then oldest."""
    from rich.table import Table

    from bot.model import OrderState
    from bot.store import Store

    settings = _settings(config)
    try:
        wanted = OrderState(state) if state else None
    except ValueError:
        raise _fail(f"--state: {state!r} is not one of {', '.join(s.value for s in OrderState)}") from None
    try:
        store = Store.open(settings.store_url)
    except OrderbotError as exc:
        raise _fail(exc) from exc
    table = Table("id", "state", "customer", "PO", "lines", "delivery", "reasons")
    for column in table.columns:
        column.overflow = "fold"
    with store:
        for stored in store.orders(state=wanted, limit=limit):
            order = stored.order
            table.add_row(
                str(stored.id),
                str(stored.state),
                order.customer_id.value or "-",
                order.po_number.value or "-",
                str(len(order.lines)),
                str(order.delivery_date.value or "-"),
                ", ".join(order.reason_codes) or "",
            )
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the settings and print the effective configuration, secrets masked."""
    settings = _settings(config)
    from connectors.masterdata import CsvMasterData

    try:
        CsvMasterData.load(settings.master_data.path)
    except PermanentError as exc:
        raise _fail(exc) from exc
    from bot.wiring import build_templates

    from bot.rule_config import load_rule_settings

    try:
        found = build_templates(settings)
        load_rule_settings(settings.rules.path)
    except PermanentError as exc:
        raise _fail(exc) from exc
    typer.echo(json.dumps(masked(settings), indent=2, default=str))
    err.print(f"[green]configuration is valid[/] ({len(found.templates)} extraction template(s))", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    app()
