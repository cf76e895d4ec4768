"""Reports for handlers and managers, read back from the store's records.

``build_report(store, since, until)`` computes a frozen ``Report``; the
``*_chart`` functions draw its charts as PNG bytes; ``write_report`` writes
``index.html`` and the charts next to it. ``bot.metrics`` shares the order
histories (``order_histories``) so the numbers on the dashboard and in the
report are the same numbers.

Definitions (all days are UTC days, an order belongs to the day it was created):

- decided: the bot's first verdict on an order, its first event into
  ``ready``, ``needs_review``, ``rejected`` or ``failed``.
- straight through: keyed without ever being in ``needs_review``. Not straight
  through: ever in review, or rejected or failed. Any other order (still
  ready or being keyed) is pending and counts in neither.
- reasons for review: the blocking reason codes of orders that were ever in
  ``needs_review`` (warnings did not send the order to a person).
- order size: the sum of quantity x unit price over the lines that state both.
- p95: nearest rank (the smallest value at or above 95 % of the values).
"""

from __future__ import annotations

import io
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import jinja2
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.model import OrderState, ReasonCode
from bot.store import KeyingAttempt, Store
from bot.store.records import Entity, Event, StoredOrder

TEMPLATES = Path(__file__).resolve().parent / "templates"

DECISIONS = frozenset(
    {OrderState.READY, OrderState.NEEDS_REVIEW, OrderState.REJECTED, OrderState.FAILED}
)
UNKNOWN_CUSTOMER = "(unknown)"

# Chart files written next to index.html, by the report section they illustrate.
CHART_FILES = {"volume": "volume.png", "stp": "straight-through.png", "reasons": "reasons.png"}


# --- settings and results --------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnusualSettings:
    """When a change is worth a manager's look.

    A customer is flagged when its order count in the last ``window_days``
    differs from the median count of its earlier windows by ``factor`` (either
    way), given at least ``min_history_windows`` earlier windows; or when its
    average order size there differs from the median size of its earlier
    orders by ``factor``, given at least ``min_history_orders`` of them. A
    review reason is flagged when its share of the reviewed orders in the last
    window exceeds its earlier share by ``share_rise`` (0.2 = 20 points),
    given at least ``min_reviewed`` reviewed orders in each period.
    """

    factor: float = 3.0
    window_days: int = 7
    min_history_windows: int = 4
    min_history_orders: int = 5
    share_rise: float = 0.2
    min_reviewed: int = 5

    def __post_init__(self) -> None:
        if self.factor <= 1:
            raise ValueError(f"factor must be above 1, got {self.factor}")
        if self.window_days < 1:
            raise ValueError(f"window_days must be at least 1, got {self.window_days}")
        if not 0 < self.share_rise <= 1:
            raise ValueError(f"share_rise must be within (0, 1], got {self.share_rise}")
        if min(self.min_history_windows, self.min_history_orders, self.min_reviewed) < 1:
            raise ValueError("the minimum histories must be at least 1")


@dataclass(frozen=True, slots=True)
class DayVolume:
    day: date
    messages: int
    orders: int


@dataclass(frozen=True, slots=True)
class DayRate:
    """Straight-through orders among the decided ones of a day; rate None without any."""

    day: date
    straight_through: int
    decided: int

    @property
    def rate(self) -> float | None:
        return self.straight_through / self.decided if self.decided else None


@dataclass(frozen=True, slots=True)
class ReasonCount:
    customer_id: str
    customer_name: str | None
    code: ReasonCode
    orders: int


@dataclass(frozen=True, slots=True)
class StepTiming:
    """How long one step took, in seconds, over ``count`` orders (or attempts)."""

    step: str
    count: int
    median_seconds: float | None
    p95_seconds: float | None
    max_seconds: float | None
    slowest_order_id: int | None


@dataclass(frozen=True, slots=True)
class CustomerChange:
    """A customer whose orders changed: ``measure`` is ``orders`` (count per
    window) or ``order size``; ``usual`` is the earlier median."""

    customer_id: str
    customer_name: str | None
    measure: str
    recent: float
    usual: float

    @property
    def ratio(self) -> float:
        return self.recent / self.usual


@dataclass(frozen=True, slots=True)
class ReasonRise:
    code: ReasonCode
    earlier_share: float
    recent_share: float


@dataclass(frozen=True, slots=True)
class Report:
    since: date
    until: date
    days: tuple[DayVolume, ...]
    straight_through: tuple[DayRate, ...]
    reasons: tuple[ReasonCount, ...]
    steps: tuple[StepTiming, ...]
    email_to_portal: StepTiming
    customer_changes: tuple[CustomerChange, ...]
    reason_rises: tuple[ReasonRise, ...]

    @property
    def overall(self) -> DayRate:
        """Straight-through over the whole range (``day`` is ``until``)."""
        return DayRate(
            self.until,
            sum(d.straight_through for d in self.straight_through),
            sum(d.decided for d in self.straight_through),
        )


# --- one order's life ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderHistory:
    """An order with the arrival of its message, its events and keying attempts."""

    order: StoredOrder
    arrived_at: datetime
    events: tuple[Event, ...]
    attempts: tuple[KeyingAttempt, ...]

    def _first(self, states: Iterable[OrderState]) -> datetime | None:
        wanted = frozenset(states)
        return next((e.at for e in self.events if e.to_state in wanted), None)

    @property
    def decided_at(self) -> datetime | None:
        return self._first(DECISIONS)

    @property
    def ready_at(self) -> datetime | None:
        return self._first([OrderState.READY])

    @property
    def keyed_at(self) -> datetime | None:
        """When the order got its portal order number."""
        return self._first([OrderState.KEYED])

    @property
    def reviewed(self) -> bool:
        return self.order.state is OrderState.NEEDS_REVIEW or any(
            e.to_state is OrderState.NEEDS_REVIEW for e in self.events
        )

    @property
    def straight_through(self) -> bool | None:
        """True or False once it is known, None while the order is pending."""
        if self.reviewed or self.order.state in (OrderState.REJECTED, OrderState.FAILED):
            return False
        return True if self.keyed_at is not None else None

    @property
    def customer(self) -> str:
        return self.order.customer_id or UNKNOWN_CUSTOMER

    @property
    def size(self) -> Decimal | None:
        values = [
            line.quantity.value * line.unit_price.value
            for line in self.order.order.lines
            if line.quantity.value is not None and line.unit_price.value is not None
        ]
        return sum(values, Decimal(0)) if values else None


def order_histories(store: Store) -> list[OrderHistory]:
    """Every order's history, oldest first."""
    arrivals = {m.id: m.received_at for m in store.messages()}
    events: dict[int, list[Event]] = defaultdict(list)
    for event in store.events(Entity.ORDER):
        events[event.entity_id].append(event)
    histories = []
    for order in sorted(store.orders(), key=lambda o: (o.created_at, o.id)):
        own = tuple(events[order.id])
        keyed = any(e.to_state is OrderState.KEYING for e in own)
        histories.append(
            OrderHistory(
                order=order,
                arrived_at=arrivals[order.ledger_id],
                events=own,
                attempts=tuple(store.keying_attempts(order.id)) if keyed else (),
            )
        )
    return histories


def seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds()


def email_to_portal_seconds(histories: Iterable[OrderHistory]) -> list[float]:
    return [s for h in histories if (s := seconds(h.keyed_at, h.arrived_at)) is not None]


def keying_latency_seconds(histories: Iterable[OrderHistory]) -> list[float]:
    """The duration of every finished keying attempt."""
    return [
        s
        for h in histories
        for a in h.attempts
        if (s := seconds(a.finished_at, a.started_at)) is not None
    ]


def straight_through(histories: Iterable[OrderHistory]) -> tuple[int, int]:
    """(straight-through orders, decided orders)."""
    verdicts = [h.straight_through for h in histories]
    return sum(v is True for v in verdicts), sum(v is not None for v in verdicts)


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


# --- the report ------------------------------------------------------------


def build_report(
    store: Store,
    since: date,
    until: date | None = None,
    *,
    settings: UnusualSettings | None = None,
) -> Report:
    """The report for the UTC days ``since`` to ``until`` (both included;
    ``until`` defaults to today). Unusual patterns compare the last
    ``window_days`` up to ``until`` with everything before, also before ``since``."""
    until = until or datetime.now(UTC).date()
    if until < since:
        raise ValueError(f"the report ends ({until}) before it starts ({since})")
    settings = settings or UnusualSettings()
    histories = order_histories(store)
    in_range = [h for h in histories if since <= h.order.created_at.date() <= until]
    days = [since + timedelta(days=n) for n in range((until - since).days + 1)]
    messages = Counter(
        m.received_at.date() for m in store.messages() if since <= m.received_at.date() <= until
    )
    orders_per_day = Counter(h.order.created_at.date() for h in in_range)
    window_start = _start_of(until + timedelta(days=1)) - timedelta(days=settings.window_days)
    return Report(
        since=since,
        until=until,
        days=tuple(DayVolume(d, messages[d], orders_per_day[d]) for d in days),
        straight_through=tuple(_day_rate(d, in_range) for d in days),
        reasons=_reasons_by_customer(in_range),
        steps=_steps(in_range),
        email_to_portal=_timing(
            "email arrival to portal order number",
            [(h.order.id, seconds(h.keyed_at, h.arrived_at)) for h in in_range],
        ),
        customer_changes=_customer_changes(histories, window_start, settings),
        reason_rises=_reason_rises(histories, window_start, settings),
    )


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _day_rate(day: date, histories: Iterable[OrderHistory]) -> DayRate:
    st, decided = straight_through(h for h in histories if h.order.created_at.date() == day)
    return DayRate(day, st, decided)


def _name(history: OrderHistory) -> str | None:
    return history.order.order.customer_name.value


def _reasons_by_customer(histories: Iterable[OrderHistory]) -> tuple[ReasonCount, ...]:
    counts: Counter[tuple[str, ReasonCode]] = Counter()
    names: dict[str, str | None] = {}
    for h in histories:
        if not h.reviewed:
            continue
        names[h.customer] = _name(h) or names.get(h.customer)
        counts.update((h.customer, code) for code in h.order.order.blocking_codes)
    return tuple(
        ReasonCount(customer, names[customer], code, n)
        for (customer, code), n in sorted(
            counts.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1])
        )
    )


def _timing(step: str, samples: Iterable[tuple[int, float | None]]) -> StepTiming:
    known = [(s, order_id) for order_id, s in samples if s is not None]
    if not known:
        return StepTiming(step, 0, None, None, None, None)
    values = [s for s, _ in known]
    slowest, order_id = max(known)
    return StepTiming(step, len(values), statistics.median(values), p95(values), slowest, order_id)


def _steps(histories: Sequence[OrderHistory]) -> tuple[StepTiming, ...]:
    return (
        _timing(
            "message received to order decided",
            [(h.order.id, seconds(h.decided_at, h.arrived_at)) for h in histories],
        ),
        _timing(
            "ready to keyed", [(h.order.id, seconds(h.keyed_at, h.ready_at)) for h in histories]
        ),
        _timing(
            "keying attempt",
            [
                (a.order_id, seconds(a.finished_at, a.started_at))
                for h in histories
                for a in h.attempts
            ],
        ),
    )


def _customer_changes(
    histories: Sequence[OrderHistory], window_start: datetime, settings: UnusualSettings
) -> tuple[CustomerChange, ...]:
    window = timedelta(days=settings.window_days)
    by_customer: dict[str, list[OrderHistory]] = defaultdict(list)
    for h in histories:
        if h.order.customer_id is not None and h.order.created_at < window_start + window:
            by_customer[h.order.customer_id].append(h)
    changes: list[CustomerChange] = []
    for customer, own in sorted(by_customer.items()):
        earlier = [h for h in own if h.order.created_at < window_start]
        recent = [h for h in own if h.order.created_at >= window_start]
        if not earlier:
            continue
        name = _name(own[-1])
        periods = (window_start - earlier[0].order.created_at) // window
        if periods >= settings.min_history_windows:
            counts = [
                sum(
                    window_start - (k + 1) * window
                    <= h.order.created_at
                    < window_start - k * window
                    for h in earlier
                )
                for k in range(periods)
            ]
            usual = statistics.median(counts)
            if _differs(len(recent), usual, settings.factor):
                changes.append(CustomerChange(customer, name, "orders", len(recent), usual))
        earlier_sizes = [float(s) for h in earlier if (s := h.size) is not None]
        recent_sizes = [float(s) for h in recent if (s := h.size) is not None]
        if len(earlier_sizes) >= settings.min_history_orders and recent_sizes:
            usual = statistics.median(earlier_sizes)
            average = statistics.fmean(recent_sizes)
            if _differs(average, usual, settings.factor):
                changes.append(CustomerChange(customer, name, "order size", average, usual))
    return tuple(changes)


def _differs(recent: float, usual: float, factor: float) -> bool:
    return usual > 0 and (recent >= factor * usual or recent * factor <= usual)


def _reason_rises(
    histories: Sequence[OrderHistory], window_start: datetime, settings: UnusualSettings
) -> tuple[ReasonRise, ...]:
    window_end = window_start + timedelta(days=settings.window_days)
    reviewed = [h for h in histories if h.reviewed and h.order.created_at < window_end]
    earlier = [h for h in reviewed if h.order.created_at < window_start]
    recent = [h for h in reviewed if h.order.created_at >= window_start]
    if min(len(earlier), len(recent)) < settings.min_reviewed:
        return ()
    earlier_shares = _shares(earlier)
    rises = [
        ReasonRise(code, earlier_shares.get(code, 0.0), share)
        for code, share in _shares(recent).items()
        if share - earlier_shares.get(code, 0.0) >= settings.share_rise
    ]
    return tuple(sorted(rises, key=lambda r: (r.earlier_share - r.recent_share, r.code)))


def _shares(histories: Sequence[OrderHistory]) -> dict[ReasonCode, float]:
    counts = Counter(code for h in histories for code in h.order.order.blocking_codes)
    return {code: n / len(histories) for code, n in counts.items()}


# --- charts ----------------------------------------------------------------


def _png(figure: Figure) -> bytes:
    """A figure as PNG bytes. Figures are drawn on their own Agg canvas, not
    through pyplot, so no global backend or figure registry is involved."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def volume_chart(report: Report) -> bytes:
    figure = Figure(figsize=(8, 3.5), layout="constrained")
    ax = figure.add_subplot()
    x = range(len(report.days))
    ax.bar([i - 0.2 for i in x], [d.messages for d in report.days], width=0.4, label="messages")
    ax.bar([i + 0.2 for i in x], [d.orders for d in report.days], width=0.4, label="orders")
    _day_axis(ax, [d.day for d in report.days])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Volume per day")
    ax.legend()
    return _png(figure)


def stp_chart(report: Report) -> bytes:
    figure = Figure(figsize=(8, 3.5), layout="constrained")
    ax = figure.add_subplot()
    rates = [d.rate * 100 if d.rate is not None else math.nan for d in report.straight_through]
    ax.plot(range(len(rates)), rates, marker="o")
    ax.set_ylim(0, 100)
    ax.set_ylabel("% straight through")
    _day_axis(ax, [d.day for d in report.straight_through])
    ax.set_title("Straight-through rate per day")
    return _png(figure)


def reasons_chart(report: Report) -> bytes:
    """Stacked bars: one per customer, one colour per reason code."""
    customers = sorted({r.customer_id for r in report.reasons})
    codes = sorted({r.code for r in report.reasons})
    figure = Figure(figsize=(8, max(2.5, 0.5 * len(customers) + 1.5)), layout="constrained")
    ax = figure.add_subplot()
    left = [0] * len(customers)
    for code in codes:
        widths = [
            sum(r.orders for r in report.reasons if r.customer_id == c and r.code == code)
            for c in customers
        ]
        ax.barh(range(len(customers)), widths, left=left, label=str(code))
        left = [a + b for a, b in zip(left, widths)]
    # Customer ids come from mail: never read as mathtext ($...$).
    ax.set_yticks(range(len(customers)), labels=customers, parse_math=False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("orders in review")
    ax.set_title("Reasons for review by customer")
    if codes:
        ax.legend(fontsize="small")
    return _png(figure)


def _day_axis(ax: object, days: Sequence[date]) -> None:
    step = max(1, len(days) // 10)
    ax.set_xticks(  # type: ignore[attr-defined]
        range(0, len(days), step), labels=[d.isoformat() for d in days[::step]], rotation=45
    )


# --- the page --------------------------------------------------------------


def render_html(report: Report, chart_src: Mapping[str, str] | None = None) -> str:
    """The report page; charts are the ``CHART_FILES`` next to it, or the
    ``src`` given per ``CHART_FILES`` key (``cid:`` references in a mail).
    Every value is escaped (customer names and ids come from mail)."""
    charts = dict(chart_src) if chart_src is not None else CHART_FILES
    if charts.keys() != CHART_FILES.keys():
        raise ValueError(f"chart_src must name the charts {sorted(CHART_FILES)}, got {sorted(charts)}")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["duration"] = _duration
    env.globals["zip"] = zip
    return env.get_template("report.html").render(report=report, charts=charts)


def write_report(report: Report, out_dir: Path) -> Path:
    """Write ``index.html`` and its charts into ``out_dir`` (created if
    needed); returns the path of ``index.html``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = {"volume": volume_chart, "stp": stp_chart, "reasons": reasons_chart}
    for key, draw in charts.items():
        (out_dir / CHART_FILES[key]).write_bytes(draw(report))
    index = out_dir / "index.html"
    index.write_text(render_html(report), encoding="utf-8")
    return index


def _duration(value: float | None) -> str:
    if value is None:
        return "–"
    total = round(value)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
