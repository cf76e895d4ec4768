"""Typed settings, loaded from YAML plus environment overrides, validated at start.

Secrets are never written in the YAML: a secret value is a reference,
``{"$env": "NAME"}`` (an environment variable) or ``{"$file": "path"}`` (a
file's content, stripped). Any key can be overridden from the environment as
``ORDERBOT_<SECTION>__<KEY>`` (for example ``ORDERBOT_STORE__URL``).

Relative paths in a config file are relative to the directory of that file.
A bad file stops the bot with a ``ConfigError`` naming file, key and problem.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import date
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from bot.errors import ConfigError

DEFAULT_CONFIG = Path("config/orderbot.yaml")
ENV_PREFIX = "ORDERBOT_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Section):
    url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL. Default: a SQLite file orderbot.db in data_dir. "
        "PostgreSQL: postgresql+psycopg://user@host/db (put a password in $env/$file).",
    )


class MasterDataSettings(_Section):
    path: Path = Field(Path("demo/masterdata"), description="Folder with the CSV files of FORMATS.md section 1.")


class FolderSourceSettings(_Section):
    type: Literal["folder"] = "folder"
    name: str = Field(description="A short name for logs and the ledger.")
    path: Path = Field(description="Folder of .eml files and bare PDFs; nothing in it is ever deleted.")
    patterns: tuple[str, ...] = Field(("*.eml", "*.pdf"), description="Glob patterns of files to take.")


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


class PasswordAuth(_Section):
    type: Literal["password"] = "password"
    username: str
    password: SecretStr = Field(description='The password, as {"$env": NAME} or {"$file": path}.')


class OAuth2Auth(_Section):
    """XOAUTH2 (Microsoft 365, Gmail): the access token comes from a command or a file."""

    type: Literal["oauth2"] = "oauth2"
    username: str
    token_command: str | None = Field(None, description="Command that prints a fresh access token on stdout.")
    token_file: Path | None = Field(None, description="File that holds the current access token (kept fresh by another tool).")
    token_lifetime_seconds: int = Field(3000, gt=0, description="Fetch a new token after this long.")
    token_command_timeout: float = Field(30.0, gt=0, description="Seconds token_command may run before it is stopped.")

    @model_validator(mode="after")
    def _one_token_source(self) -> OAuth2Auth:
        if (self.token_command is None) == (self.token_file is None):
            raise ValueError("give exactly one of token_command and token_file")
        return self


class ImapSourceSettings(_Section):
    type: Literal["imap"] = "imap"
    name: str = Field(description="A short name for logs, leases and the ledger.")
    host: str
    port: int | None = Field(None, gt=0, lt=65536, description="Default: 993 for tls, 143 otherwise.")
    security: Literal["tls", "starttls", "plain"] = "tls"
    allow_plain_remote: bool = Field(False, description="Allow an unencrypted connection to a host that is not loopback.")
    tls_verify: bool = Field(True, description="Verify the server's certificate.")
    ca_file: Path | None = Field(None, description="Extra CA bundle for a private certificate authority.")
    auth: Annotated[PasswordAuth | OAuth2Auth, Field(discriminator="type")]
    folders: tuple[str, ...] = Field(("INBOX",), min_length=1, description="Folders to read new orders from.")
    settle: Literal["move", "keyword"] = Field("move", description="After the store commit: move the message, or flag it with a keyword.")
    processed_folder: str = "orderbot/processed"
    review_folder: str = "orderbot/review"
    failed_folder: str = "orderbot/failed"
    keyword_prefix: str = Field("$orderbot-", description="Keyword mode: flags $orderbot-processed, -review, -failed.")
    batch_size: int = Field(100, gt=0, le=5000, description="UIDs per SEARCH result batch and FETCH command.")
    max_message_bytes: int | None = Field(None, gt=0, description="Per-account size cap (default: the global one).")
    connect_timeout: float = Field(30.0, gt=0)
    read_timeout: float = Field(120.0, gt=0)
    idle: bool = Field(False, description="Wait for new mail with IMAP IDLE between runs.")
    idle_renew_seconds: int = Field(540, gt=0, le=600, description="Renew IDLE at least this often (RFC 2177: < 29 min; servers cut at 10).")

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)

    @model_validator(mode="after")
    def _no_plain_text_over_the_network(self) -> ImapSourceSettings:
        if self.security == "plain" and not self.allow_plain_remote and not _is_loopback(self.host):
            raise ValueError(f"security 'plain' sends the password unencrypted to {self.host}; use tls or starttls (or set allow_plain_remote)")
        return self


SourceSettings = Annotated[FolderSourceSettings | ImapSourceSettings, Field(discriminator="type")]


class SmtpSettings(_Section):
    host: str
    port: int | None = Field(None, gt=0, lt=65536, description="Default: 465 for tls, 587 for starttls, 25 for plain.")
    security: Literal["tls", "starttls", "plain"] = "starttls"
    allow_plain_remote: bool = Field(False, description="Allow an unencrypted connection to a host that is not loopback.")
    tls_verify: bool = True
    ca_file: Path | None = None
    auth: Annotated[PasswordAuth | OAuth2Auth, Field(discriminator="type")] | None = None
    timeout: float = Field(30.0, gt=0)

    @property
    def effective_port(self) -> int:
        return self.port or {"tls": 465, "starttls": 587, "plain": 25}[self.security]

    @model_validator(mode="after")
    def _no_plain_text_over_the_network(self) -> SmtpSettings:
        if self.security == "plain" and not self.allow_plain_remote and not _is_loopback(self.host):
            raise ValueError(f"security 'plain' is unencrypted to {self.host}; use tls or starttls (or set allow_plain_remote)")
        return self


class OutboxSettings(_Section):
    path: Path | None = Field(
        None,
        description="Folder where acknowledgement emails are written as .eml files when no SMTP "
        "server is configured. Default: data_dir/outbox.",
    )
    sender: str = Field(
        "orders@example.invalid",
        description="From address of customer email (acknowledgements, clarification requests), "
        "e.g. 'Order desk <orders@example.com>'.",
    )
    templates_dir: Path | None = Field(
        None,
        description="Folder of the Jinja2 reply templates, KIND.LANG.txt. Default: the bundled config/mail.",
    )
    retry_first_seconds: float = Field(
        300.0, gt=0, description="Wait before retrying a mail the server deferred (4xx, unreachable); doubled per attempt."
    )
    retry_max_seconds: float = Field(21600.0, gt=0, description="Longest wait between two attempts of a mail.")
    max_attempts: int = Field(
        10, gt=0, description="A mail still deferred after this many attempts fails, for a person to look at."
    )

    @field_validator("sender")
    @classmethod
    def _sender_is_an_address(cls, sender: str) -> str:
        if "@" not in parseaddr(sender)[1]:
            raise ValueError(f"{sender!r} is not an email address")
        return sender


class ExtractionSettings(_Section):
    templates_dir: Path | None = Field(
        None,
        description="Folder of per-customer extraction templates, NAME.yaml. Default: the bundled config/templates.",
    )


class RulesSettings(_Section):
    path: Path | None = Field(None, description="Rule thresholds file. Default: the bundled config/rules.yaml.")


class ReviewSettings(_Section):
    """The review workbench (``orderbot review serve``)."""

    host: str = Field("127.0.0.1", description="Address the workbench listens on.")
    port: int = Field(8400, gt=0, lt=65536, description="Port the workbench listens on.")
    session_idle_minutes: int = Field(30, gt=0, description="A session unused for this long ends; the handler logs in again.")
    lock_minutes: int = Field(15, gt=0, description="An order a handler opened stays locked to them this long after their last action.")
    secure_cookies: Literal["auto", "always", "never"] = Field(
        "auto", description="Mark cookies Secure: auto = when the request came over HTTPS (X-Forwarded-Proto from a proxy is not trusted)."
    )


class PortalSettings(_Section):
    """The order-entry portal orders are keyed into (``bot.keying``), driven by a recipe."""

    recipe: Path = Field(description="The portal's recipe, e.g. config/portals/demo.yaml.")
    base_url: str = Field(description="Where the portal is, e.g. https://orders.example.com (navigation stays on its origin).")
    username: str
    password: SecretStr = Field(description='The portal password, as {"$env": NAME} or {"$file": path}.')
    workers: int = Field(1, gt=0, le=32, description="Browser contexts keying in parallel (each its own portal session).")
    timeout_seconds: float = Field(15.0, gt=0, description="Longest wait for one page or element.")
    retry_first_seconds: float = Field(30.0, ge=0, description="Pause before keying again after a transient failure; doubled per attempt.")
    retry_max_seconds: float = Field(900.0, ge=0, description="Longest pause between two keying attempts.")
    max_attempts: int = Field(5, gt=0, description="An order still not keyed after this many attempts fails, for a person.")
    stale_after_seconds: float = Field(
        120.0, ge=0, description="An attempt without outcome this old belongs to a dead worker and is reconciled by searching."
    )
    trace_on_failure: bool = Field(True, description="Keep a screenshot and a Playwright trace with an order whose keying failed.")
    artifacts_keep_days: float = Field(14.0, gt=0, description="Screenshots and traces (they hold session cookies) are deleted after this.")
    headless: bool = True

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url.rstrip("/")


class Trigger(_Section):
    """When a job runs: every ``seconds``, or on a ``cron`` expression (five
    fields, minute hour day month day-of-week, in the machine's time zone)."""

    seconds: float | None = Field(None, gt=0, description="Run every this many seconds (the first run at start).")
    cron: str | None = Field(None, description='A crontab expression, e.g. "*/5 7-18 * * mon-fri" (business hours).')

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str | None) -> str | None:
        if cron is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(cron)
            except ValueError as exc:
                raise ValueError(f"{cron!r} is not a valid cron expression: {exc}") from None
        return cron

    @model_validator(mode="after")
    def _one_way(self) -> Trigger:
        if (self.seconds is None) == (self.cron is None):
            raise ValueError("give exactly one of seconds and cron")
        return self


class ScheduleSettings(_Section):
    """The jobs of the daemon (``orderbot run`` without ``--once``, ``bot.scheduler``)."""

    intake: Trigger = Field(Trigger(seconds=60), description="Intake of every source without its own entry in per_source.")
    per_source: dict[str, Trigger] = Field(
        default_factory=dict, description="Intake of one source (by its name) on its own schedule, e.g. business hours."
    )
    keying: Trigger = Field(Trigger(seconds=30), description="The keying worker (it also reconciles stale attempts).")
    acknowledge: Trigger = Field(Trigger(seconds=60), description="Acknowledgements to customers of keyed orders.")
    report: Trigger = Field(
        Trigger(cron="0 7 * * *"), description="The daily report mail (only with report.recipients set)."
    )
    misfire_grace_seconds: float = Field(
        60.0, gt=0, description="A run that could not start within this long of its time is skipped (coalesced)."
    )
    lease_seconds: float = Field(
        120.0, gt=0, description="A job's store lease lasts this long and is renewed while the job runs; a dead daemon's lapses."
    )


class MetricsSettings(_Section):
    """The Prometheus endpoint the daemon serves (``bot.metrics``)."""

    port: int | None = Field(None, ge=0, lt=65536, description="Serve /metrics on this port; none: no endpoint.")
    host: str = Field("127.0.0.1", description="Address the endpoint listens on.")


class ReportSettings(_Section):
    """The daily report mail to handlers and managers (``bot.report_mail``)."""

    recipients: tuple[str, ...] = Field((), description="Who gets the daily report; empty: no report mail.")
    days: int = Field(14, gt=0, le=366, description="Days the report covers, up to the day before it is sent.")

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, recipients: tuple[str, ...]) -> tuple[str, ...]:
        for recipient in recipients:
            address = parseaddr(recipient)[1]
            if "@" not in address or address.startswith("@") or address.endswith("@"):
                raise ValueError(f"{recipient!r} is not an email address")
        return recipients


class CelerySettings(_Section):
    """The distributed executor (``executor: celery``, ``bot.distributed``)."""

    broker_url: SecretStr | None = Field(
        None, description='Redis or RabbitMQ URL, e.g. redis://127.0.0.1:6379/0 (with a password: {"$env": NAME}).'
    )
    visibility_timeout_seconds: float = Field(
        3600.0, gt=0,
        description="A task a worker took and did not acknowledge is given to another after this long; "
        "longer than the longest keying.",
    )
    portal_sessions: int | None = Field(
        None, gt=0, description="Portal sessions open at once across all workers (the portal's own limit); none: no cap."
    )
    heartbeat_seconds: float = Field(
        10.0, gt=0, description="A worker renews its lease this often; one silent for 3 beats is dead and its orders are taken over."
    )
    redispatch_seconds: float = Field(
        300.0, gt=0, description="A message or ready order sent to the workers is sent again if still waiting after this long."
    )


class LoggingSettings(_Section):
    format: Literal["text", "json"] = Field("text", description="Log lines as text, or as JSON objects carrying run id and job.")


class Settings(_Section):
    data_dir: Path = Field(Path("data"), description="Where the SQLite store and the outbox live.")
    store: StoreSettings = StoreSettings()
    master_data: MasterDataSettings = MasterDataSettings()
    sources: tuple[SourceSettings, ...] = Field((), description="Where messages come from.")
    outbox: OutboxSettings = OutboxSettings()
    rules: RulesSettings = RulesSettings()
    extraction: ExtractionSettings = ExtractionSettings()
    smtp: SmtpSettings | None = Field(None, description="Outgoing mail server; without it, mail goes to the outbox folder.")
    review: ReviewSettings = ReviewSettings()
    portal: PortalSettings | None = Field(None, description="The order-entry portal; without it, clean orders stay ready.")
    today: date | None = Field(None, description="Fix the reference date for date checks (tests, replays).")
    max_message_bytes: int = Field(
        25_000_000, gt=0, description="Messages larger than this are recorded and sent to review, not parsed."
    )
    max_decide_attempts: int = Field(
        3, ge=1, le=100,
        description="A message whose deciding killed the process this many times is marked failed, not tried again.",
    )
    schedule: ScheduleSettings = ScheduleSettings()
    logging: LoggingSettings = LoggingSettings()
    metrics: MetricsSettings = MetricsSettings()
    report: ReportSettings = ReportSettings()
    executor: Literal["inprocess", "celery"] = Field(
        "inprocess", description="Where keying runs: threads of the daemon, or Celery tasks on `orderbot worker` processes."
    )
    celery: CelerySettings = CelerySettings()

    @field_validator("sources")
    @classmethod
    def _unique_source_names(cls, sources: tuple[SourceSettings, ...]) -> tuple[SourceSettings, ...]:
        names = [s.name for s in sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicates)}")
        return sources

    @model_validator(mode="after")
    def _celery_needs_a_broker_and_a_shared_store(self) -> Settings:
        if self.executor != "celery":
            return self
        if self.celery.broker_url is None:
            raise ValueError("executor: celery needs celery.broker_url (redis://... or amqp://...)")
        if self.store.url is None or not self.store.url.get_secret_value().startswith("postgresql"):
            raise ValueError("executor: celery needs store.url on PostgreSQL: workers share the store")
        return self

    @model_validator(mode="after")
    def _scheduled_sources_exist(self) -> Settings:
        unknown = sorted(set(self.schedule.per_source) - {s.name for s in self.sources})
        if unknown:
            raise ValueError(f"schedule.per_source names no configured source: {', '.join(unknown)}")
        return self

    @property
    def store_url(self) -> str:
        if self.store.url is not None:
            return self.store.url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'orderbot.db'}"

    @property
    def outbox_path(self) -> Path:
        return self.outbox.path or self.data_dir / "outbox"


# --- loading ---------------------------------------------------------------


def _resolve_secrets(node: Any, *, path: str, key: str, base: Path, environ: Mapping[str, str]) -> Any:
    """Replace ``{"$env": NAME}`` / ``{"$file": PATH}`` by their value."""
    if isinstance(node, Mapping):
        if set(node) == {"$env"}:
            name = str(node["$env"])
            if name not in environ:
                raise ConfigError(f"environment variable {name} is not set", path=path, key=key)
            return environ[name]
        if set(node) == {"$file"}:
            secret_path = base / str(node["$file"])
            try:
                return secret_path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read secret file {secret_path}: {exc.strerror}", path=path, key=key) from exc
        if any(str(k).startswith("$") for k in node):
            raise ConfigError("a secret reference is {'$env': NAME} or {'$file': PATH}", path=path, key=key)
        return {
            k: _resolve_secrets(v, path=path, key=f"{key}.{k}" if key else str(k), base=base, environ=environ)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_resolve_secrets(v, path=path, key=f"{key}[{i}]", base=base, environ=environ) for i, v in enumerate(node)]
    return node


_PATH_KEYS = {"data_dir", "path", "token_file", "ca_file", "templates_dir", "recipe"}


def _anchor_paths(node: Any, base: Path) -> Any:
    """Make relative paths relative to the config file's directory."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in _PATH_KEYS and isinstance(v, str) and not Path(v).is_absolute():
                out[k] = os.path.normpath(base / v)
            else:
                out[k] = _anchor_paths(v, base)
        return out
    if isinstance(node, list):
        return [_anchor_paths(v, base) for v in node]
    return node


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """ORDERBOT_STORE__URL=... -> {"store": {"url": ...}}. Values may be JSON."""
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "ORDERBOT_CONFIG":
            continue
        keys = name[len(ENV_PREFIX) :].lower().split("__")
        if len(keys) == 1 and keys[0] not in Settings.model_fields:
            continue  # ORDERBOT_PORTAL_PASSWORD and the like: a secret a file refers to, not a setting
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if isinstance(value, (int, float)) and not isinstance(value, bool) and keys[-1] in ("url",):
            value = raw
        node = tree
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return tree


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def load_settings(path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Load settings from ``path`` (or $ORDERBOT_CONFIG, or ./config/orderbot.yaml if present).

    Without a file, built-in defaults apply, relative to the working directory.
    """
    environ = os.environ if environ is None else environ
    if path is None and environ.get("ORDERBOT_CONFIG"):
        path = Path(environ["ORDERBOT_CONFIG"])
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    raw: dict[str, Any] = {}
    where = "<defaults>"
    base = Path.cwd()
    if path is not None:
        where = str(path)
        base = path.resolve().parent
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config file: {exc.strerror}", path=where) from exc
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f"line {mark.line + 1}: " if mark is not None else ""
            raise ConfigError(f"{line}not valid YAML: {getattr(exc, 'problem', exc)}", path=where) from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError("the top level must be a mapping of keys to values", path=where)
        # An empty section ("store:" with only comments under it) means its defaults.
        loaded = {k: v for k, v in loaded.items() if v is not None}
        raw = _anchor_paths(_resolve_secrets(loaded, path=where, key="", base=base, environ=environ), base)
    overrides = _resolve_secrets(_env_overrides(environ), path="environment", key="", base=Path.cwd(), environ=environ)
    merged = _merge(raw, overrides)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise ConfigError(f"{first['msg']}{more}", path=where, key=key or None) from None


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, every secret shown as '********'."""
    return json.loads(settings.model_dump_json())
