"""Prometheus metrics, read from the store at scrape time.

Nothing is counted in process memory: every scrape asks the store, so the
numbers survive restarts, agree between daemons sharing one database, and are
the same numbers the report shows (``bot.reporting`` computes both).

Exposed (all over the store's whole history):

- ``orderbot_orders{state}``: orders in each state.
- ``orderbot_messages{status}``: ledger entries in each status.
- ``orderbot_review_reasons{code}``: orders now in ``needs_review`` by blocking reason code.
- ``orderbot_straight_through_ratio``: straight-through orders / decided orders
  (absent until an order is decided: no data is not a rate of zero).
- ``orderbot_email_to_portal_seconds``: histogram of the time from an email's
  arrival to its order's portal order number.
- ``orderbot_keying_latency_seconds``: histogram of finished keying attempts' durations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from bot.model import OrderState
from bot.reporting import (
    email_to_portal_seconds,
    keying_latency_seconds,
    order_histories,
    straight_through,
)
from bot.store import Store

# Upper bounds in seconds: minutes to days from email to portal; seconds for keying.
EMAIL_TO_PORTAL_BUCKETS = (
    60.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
    4 * 3600.0,
    8 * 3600.0,
    86400.0,
    3 * 86400.0,
)
KEYING_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class StoreCollector(Collector):
    """Collects orderbot's metrics from a store on every scrape. A store that
    cannot be read fails the scrape (the endpoint answers 500), never reports zeros."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        orders = GaugeMetricFamily("orderbot_orders", "Orders in each state.", labels=["state"])
        for state, n in self._store.order_counts().items():
            orders.add_metric([str(state)], n)
        yield orders

        messages = GaugeMetricFamily(
            "orderbot_messages", "Messages in the ledger in each status.", labels=["status"]
        )
        for status, n in self._store.message_counts().items():
            messages.add_metric([str(status)], n)
        yield messages

        reasons = GaugeMetricFamily(
            "orderbot_review_reasons",
            "Orders now in needs_review carrying each blocking reason code.",
            labels=["code"],
        )
        counts = Counter(
            code
            for stored in self._store.orders(OrderState.NEEDS_REVIEW)
            for code in stored.order.blocking_codes
        )
        for code, n in sorted(counts.items()):
            reasons.add_metric([str(code)], n)
        yield reasons

        histories = order_histories(self._store)
        st, decided = straight_through(histories)
        if decided:
            yield GaugeMetricFamily(
                "orderbot_straight_through_ratio",
                "Orders keyed without review among the decided ones (pending orders excluded).",
                value=st / decided,
            )
        yield _histogram(
            "orderbot_email_to_portal_seconds",
            "Time from an email's arrival to its order's portal order number.",
            email_to_portal_seconds(histories),
            EMAIL_TO_PORTAL_BUCKETS,
        )
        yield _histogram(
            "orderbot_keying_latency_seconds",
            "Duration of finished keying attempts.",
            keying_latency_seconds(histories),
            KEYING_BUCKETS,
        )


def _histogram(
    name: str, documentation: str, values: Sequence[float], bounds: Sequence[float]
) -> HistogramMetricFamily:
    buckets = [(floatToGoString(b), float(sum(v <= b for v in values))) for b in bounds]
    buckets.append(("+Inf", float(len(values))))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=sum(values))


def registry_for(store: Store) -> CollectorRegistry:
    """A registry holding only orderbot's collector (no process or GC metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return registry


@dataclass(frozen=True, slots=True)
class MetricsServer:
    """A running metrics endpoint; ``close()`` stops it."""

    server: WSGIServer
    thread: Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(store: Store, port: int, addr: str = "127.0.0.1") -> MetricsServer:
    """Serve ``/metrics`` on ``addr:port`` from a daemon thread (port 0: any
    free port, see ``MetricsServer.port``)."""
    server, thread = start_http_server(port, addr=addr, registry=registry_for(store))
    return MetricsServer(server, thread)
