"""``orderbot review serve``, ``orderbot users add``, ``orderbot corrections export``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.config import Settings, load_settings
from bot.errors import OrderbotError

review_app = typer.Typer(help="The review workbench: handlers resolve flagged orders in a web UI.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts of the review workbench.", no_args_is_help=True)
corrections_app = typer.Typer(help="Corrections made in the workbench, as labelled examples.", no_args_is_help=True)

err = Console(stderr=True)
PASSWORD_ENV = "ORDERBOT_NEW_PASSWORD"

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Settings file (default: $ORDERBOT_CONFIG, else ./config/orderbot.yaml)."),
]


def _fail(message: object) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(2)


def _settings(path: Path | None) -> Settings:
    # $ORDERBOT_NEW_PASSWORD is no setting: keep it out of the ORDERBOT_* overrides.
    environ = {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}
    try:
        return load_settings(path, environ=environ)
    except OrderbotError as exc:
        raise _fail(exc) from exc


def _store(settings: Settings):
    from bot.store import Store

    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return Store.open(settings.store_url)
    except OrderbotError as exc:
        raise _fail(exc) from exc


@review_app.command("serve")
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option("--host", help="Listen address (default: review.host).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Listen port (default: review.port).")] = None,
) -> None:
    """Serve the review workbench (behind a TLS-terminating proxy outside loopback)."""
    import uvicorn

    from bot.review.app import create_app
    from bot.wiring import build_mail_queue
    from connectors.masterdata import CsvMasterData

    settings = _settings(config)
    try:
        master = CsvMasterData.load(settings.master_data.path)
        store = _store(settings)
        mail = build_mail_queue(settings, store, master)
    except OrderbotError as exc:
        raise _fail(exc) from exc
    app = create_app(store, master, settings=settings.review, mail=mail)
    with store:
        uvicorn.run(app, host=host or settings.review.host, port=port or settings.review.port, proxy_headers=False)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user's login name (one word).")],
    role: Annotated[str, typer.Option("--role", help="handler or supervisor.")] = "handler",
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help=f"Read the password from this file (else ${PASSWORD_ENV}, else a prompt).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Create a workbench account; the password is never an argument."""
    from bot.review.auth import Accounts, Role
    from bot.review.store import ReviewDb

    if role not in {r.value for r in Role}:
        raise _fail(f"--role: {role!r} is not one of handler, supervisor")
    if password_file is not None:
        try:
            password = password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _fail(f"cannot read {password_file}: {exc.strerror}") from exc
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _settings(config)
    from datetime import timedelta

    with _store(settings) as store:
        accounts = Accounts(ReviewDb.for_store(store), idle=timedelta(minutes=settings.review.session_idle_minutes))
        try:
            user = accounts.add_user(name, role, password)
        except OrderbotError as exc:
            raise _fail(exc) from exc
    typer.echo(f"user {user.name} ({user.role}) added")


@corrections_app.command("export")
def corrections_export(
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file (default: standard output).")] = None,
    config: ConfigOption = None,
) -> None:
    """Print every correction as JSON Lines: document, field, wrong, right, provenance."""
    from bot.review.corrections import Corrections
    from bot.review.store import ReviewDb

    settings = _settings(config)
    with _store(settings) as store:
        corrections = Corrections(ReviewDb.for_store(store))
        if out is None:
            n = corrections.export(sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as handle:
                n = corrections.export(handle)
    err.print(f"{n} correction(s) exported", highlight=False)
