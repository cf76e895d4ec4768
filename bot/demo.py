"""``orderbot demo``: the whole loop on the embedded default.

Starts the bundled demo portal on a free loopback port (its own SQLite file in
``data_dir``, a password made up for this run and never shown), points the
pipeline at it with the demo recipe, takes the sample messages, extracts,
validates, keys the clean orders, leaves the rest for review and returns a
summary of every order.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bot.config import PortalSettings, Settings
from bot.model import OrderState
from bot.pipeline import RunSummary

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
DEMO_RECIPE = CONFIG_DIR / "portals" / "demo.yaml"
DEMO_USER = "clerk"


@dataclass
class DemoResult:
    summary: RunSummary
    portal_url: str
    orders: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        summary = {k: v for k, v in asdict(self.summary).items() if k != "errors"}
        summary["seconds"] = round(self.summary.seconds, 2)
        return {"summary": summary, "portal_url": self.portal_url, "orders": self.orders, "errors": self.summary.errors}


def run_demo(settings: Settings, *, today: date, workers: int = 2) -> DemoResult:
    """One cycle of the embedded default against a demo portal started for it."""
    from bot.wiring import build_pipeline
    from demo.portal.app import PortalConfig, run_in_thread

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    portal_config = PortalConfig(
        db_path=settings.data_dir / "portal.db",
        master_data=settings.master_data.path,
        users={DEMO_USER: password},
    )
    with run_in_thread(portal_config) as server:
        portal = settings.portal or PortalSettings(
            recipe=DEMO_RECIPE, base_url=server.url, username=DEMO_USER, password=password, workers=workers,
        )
        if settings.portal is None:
            settings = settings.model_copy(update={"portal": portal})
        pipeline = build_pipeline(settings, today=today)
        with pipeline.store:
            summary = pipeline.run_once()
            orders = [
                {
                    "id": stored.id,
                    "customer_id": stored.customer_id,
                    "po_number": stored.po_number,
                    "state": str(stored.state),
                    "urgent": stored.urgent,
                    "portal_order_number": stored.portal_order_number,
                    "reasons": [str(code) for code in stored.order.reason_codes]
                    if stored.state in (OrderState.NEEDS_REVIEW, OrderState.FAILED) else [],
                }
                for stored in pipeline.store.orders()
            ]
        return DemoResult(summary, server.url, orders)
