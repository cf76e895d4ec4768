"""A canary password planted in the configuration never shows up in what
orderbot writes: logs at debug level, the screenshots and Playwright traces
kept for a failed keying attempt, the report page, the daily report mail and
the metrics."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from bot.metrics import serve_metrics
from bot.report_mail import DailyReport
from bot.store import Store
from connectors.outbox import OutboxMailer
from demo.portal.process import portal_process
from tests.conftest import DEMO_MASTER_DATA

ROOT = Path(__file__).resolve().parents[1]
CANARY = "canary-Pw-7f3e91"

pytestmark = pytest.mark.browser


def _texts_of(artifact: bytes) -> list[bytes]:
    """The bytes to search: a trace is a zip, so every member, uncompressed."""
    if artifact[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(artifact)) as archive:
            return [archive.read(name) for name in archive.namelist()]
    return [artifact]


def test_the_portal_password_is_in_no_log_trace_or_report(tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("sample-0002.eml", "sample-0003.eml"):
        shutil.copy(ROOT / "demo" / "inbox" / name, inbox / name)
    # Every save commits and then answers 500: the attempts fail after the login,
    # so screenshots and traces are kept, and the searches settle them.
    with portal_process(tmp_path / "portal.db", CANARY, "--commit-then-fail-rate", "1.0", "--test-api") as url:
        config = tmp_path / "orderbot.yaml"
        config.write_text(
            f"data_dir: data\nmaster_data:\n  path: {DEMO_MASTER_DATA}\n"
            "sources:\n  - {type: folder, name: inbox, path: inbox}\n"
            f"portal:\n  recipe: {ROOT / 'config' / 'portals' / 'demo.yaml'}\n  base_url: {url}\n"
            '  username: clerk\n  password: {"$env": CANARY_PW}\n  trace_on_failure: true\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")} | {"CANARY_PW": CANARY}
        run = subprocess.run([sys.executable, "-m", "bot.cli", "-vv", "run", "--once", "--config", str(config),
                              "--today", "2026-11-26"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert run.returncode == 0, run.stderr
        assert "keyed=2" in run.stdout, run.stdout
        report = subprocess.run([sys.executable, "-m", "bot.cli", "-vv", "report", "--since", "2026-01-01",
                                 "--out", str(tmp_path / "report"), "--config", str(config)],
                                capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert report.returncode == 0, report.stderr

    for output in (run.stdout, run.stderr, report.stdout, report.stderr):
        assert CANARY not in output
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'orderbot.db'}") as store:
        artifacts = [a for o in store.orders() for a in store.artifacts(o.id)]
        DailyReport(store, OutboxMailer(tmp_path / "reports"), sender="orderbot@kestrel-supply.example",
                    recipients=["manager@kestrel-supply.example"]).run()
        endpoint = serve_metrics(store, 0)
        try:
            scraped = httpx.get(f"http://127.0.0.1:{endpoint.port}/metrics", timeout=10).text
        finally:
            endpoint.close()
    assert "orderbot_orders" in scraped and CANARY not in scraped
    (mail,) = (tmp_path / "reports").iterdir()
    assert b"image/png" in mail.read_bytes() and CANARY.encode() not in mail.read_bytes()
    assert {a.kind for a in artifacts} == {"screenshot", "trace"}  # the canary had places to hide
    for artifact in artifacts:
        for text in _texts_of(artifact.data):
            assert CANARY.encode() not in text, artifact.name
    for written in (tmp_path / "report").iterdir():
        assert CANARY.encode() not in written.read_bytes()
