"""A poison message against a real ``orderbot run`` process: each time the
process begins to decide it, it dies (SIGKILL at the failpoint
``intake.while_deciding``, as the OOM killer would). After three deaths the next
run marks it failed instead of dying a fourth time, and the orders behind it in
the inbox go through: one bad message never stops intake for good."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.model import MessageStatus
from bot.store import Store
from tests.conftest import DEMO_MASTER_DATA
from tests.test_pipeline import body_order

pytestmark = pytest.mark.slow


def _run_once(tmp_path: Path, config: Path, failpoint: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
    if failpoint:
        env["ORDERBOT_FAILPOINTS"] = failpoint
    return subprocess.run([sys.executable, "-m", "bot.cli", "run", "--once", "--config", str(config)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


def test_a_message_that_kills_the_process_three_times_is_failed_and_intake_goes_on(tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a-poison.eml").write_bytes(body_order("4500071"))  # the folder is read in name order
    (inbox / "b-order.eml").write_bytes(body_order("4500072"))
    (inbox / "c-order.eml").write_bytes(body_order("4500073"))
    config = tmp_path / "orderbot.yaml"
    config.write_text(f"data_dir: data\nmaster_data: {{path: {DEMO_MASTER_DATA}}}\ntoday: 2026-11-26\n"
                      "sources:\n  - {type: folder, name: inbox, path: inbox}\n", encoding="utf-8")

    for life in range(3):
        died = _run_once(tmp_path, config, "intake.while_deciding=1")
        assert died.returncode == -signal.SIGKILL, (life, died.stderr)
        assert "failpoint intake.while_deciding: SIGKILL" in died.stderr

    last = _run_once(tmp_path, config, None)

    assert last.returncode == 0, last.stderr
    assert "failed=1" in last.stdout and "a-poison.eml" in last.stderr
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'orderbot.db'}") as store:
        entries = {e.name: e for e in store.messages()}
        poison = entries["a-poison.eml"]
        assert poison.status is MessageStatus.FAILED and "died 3 time(s)" in poison.reason
        assert {name: e.status for name, e in entries.items() if name != "a-poison.eml"} == {
            "b-order.eml": MessageStatus.PROCESSED, "c-order.eml": MessageStatus.PROCESSED}
        assert sorted(o.po_number for o in store.orders()) == ["4500072", "4500073"]
