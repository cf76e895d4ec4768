"""The ``orderbot`` commands as an operator runs them: real processes, real files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEMO_MASTER_DATA
from tests.test_pipeline import body_order

ROOT = Path(__file__).resolve().parents[1]


def orderbot(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300
    )


def test_extract_prints_one_json_line_per_message_in_order_and_flags_duplicates(tmp_path: Path):
    """Given two messages with the same customer and PO and an unreadable file between them,
    when extracted in one call, then three JSON lines come out in order, the unreadable one
    goes to review naming the problem, and the second PO is a duplicate."""
    first, second, broken = tmp_path / "1.eml", tmp_path / "2.eml", tmp_path / "broken.eml"
    first.write_bytes(body_order("PO-88121"))
    broken.write_bytes(b"")
    second.write_bytes(body_order("PO-88121", qty=9))

    result = orderbot("extract", "--master-data", str(DEMO_MASTER_DATA), "--today", "2026-11-26", str(first), str(broken), str(second))

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert list(lines[0]) == ["message_id", "kind", "orders"]
    assert lines[0]["kind"] == "order" and lines[0]["orders"][0]["customer_id"] == "C1001"
    assert lines[1]["orders"][0]["reasons"] == ["unreadable_document"] and lines[1]["orders"][0]["review"] is True
    assert "broken.eml" in result.stderr
    assert "duplicate_po" not in lines[0]["orders"][0]["reasons"]
    assert "duplicate_po" in lines[2]["orders"][0]["reasons"]
    order = lines[0]["orders"][0]
    assert list(order)[:8] == ["source", "customer_id", "po_number", "order_date", "delivery_date", "currency", "ship_to", "lines"]
    assert isinstance(order["lines"][0]["quantity"], str), "quantities are decimal strings, never floats"


def test_extract_rejects_a_bad_date_and_bad_master_data(tmp_path: Path):
    result = orderbot("extract", "--master-data", str(DEMO_MASTER_DATA), "--today", "26.11.2026", str(tmp_path / "x.eml"))
    assert result.returncode == 2 and "--today" in result.stderr
    result = orderbot("extract", "--master-data", str(tmp_path), str(tmp_path / "x.eml"))
    assert result.returncode == 2 and "customers.csv" in result.stderr


def test_eval_runs_the_corpus_and_ends_with_the_summary_line(corpus_dir: Path):
    result = orderbot("eval", str(corpus_dir), "--today", "2026-11-26")
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"overall_f1=\d\.\d{3} wrong_auto=\d+ stp=\d\.\d{2}", last), last
    as_json = json.loads(orderbot("eval", str(corpus_dir), "--today", "2026-11-26", "--json").stdout)
    assert as_json["messages"] == len(list((corpus_dir / "messages").glob("*.eml")))


def test_run_once_status_and_config_check(tmp_path: Path):
    """Given a config with a folder source and a secret from the environment, when the
    operator checks it, runs once twice and asks for the status, then the secret is never
    printed, the summary line is printed, and the second run finds nothing new."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.eml").write_bytes(body_order("4500012377"))
    (inbox / "b.eml").write_bytes(b"not an email")
    config = tmp_path / "orderbot.yaml"
    config.write_text(
        f"data_dir: data\nmaster_data:\n  path: {DEMO_MASTER_DATA}\n"
        "sources:\n  - {type: folder, name: test, path: inbox}\n"
        'store:\n  url: {"$env": TEST_DB_URL}\n',
        encoding="utf-8",
    )
    db = tmp_path / "data" / "canary-pass-9f3.db"
    env = {"TEST_DB_URL": f"sqlite:///{db}"}

    check = orderbot("config", "check", "--config", str(config), env=env)
    assert check.returncode == 0, check.stderr
    assert "canary-pass-9f3" not in check.stdout + check.stderr

    first = orderbot("run", "--once", "--config", str(config), "--today", "2026-11-26", env=env)
    assert first.returncode == 0, first.stderr
    assert re.search(r"orderbot run: received=2 duplicates=0 orders=1 .* failed=1 duration=", first.stdout), first.stdout
    second = orderbot("run", "--once", "--config", str(config), "--today", "2026-11-26", env=env)
    assert "received=0 duplicates=2" in second.stdout
    assert "canary-pass-9f3" not in first.stdout + first.stderr + second.stdout + second.stderr

    status = orderbot("status", "--config", str(config), env=env)
    assert "failed=1" in status.stdout and "mail:     failed=0 queued=0" in status.stdout
    assert "for a person (the review workbench): 1 messages the bot could not read" in status.stdout
    listing = orderbot("orders", "--config", str(config), env=env)
    assert "4500012377" in listing.stdout


def test_bad_config_stops_with_file_and_key(tmp_path: Path):
    config = tmp_path / "bad.yaml"
    config.write_text("sources:\n  - {type: folder, name: x}\n", encoding="utf-8")
    result = orderbot("run", "--once", "--config", str(config))
    assert result.returncode == 2
    assert "bad.yaml" in result.stderr and "sources.0.folder.path" in result.stderr


def test_demo_keys_the_sample_inbox_into_the_demo_portal(tmp_path: Path):
    """`orderbot demo --no-serve --json` (the loop of `make demo`, without serving)
    starts the demo portal, takes the sample inbox, keys the clean orders with the
    portal's numbers and leaves the rest for review with reasons; a second run keys
    nothing twice."""
    config = tmp_path / "demo.yaml"
    config.write_text(
        f"data_dir: data\nmaster_data:\n  path: {DEMO_MASTER_DATA}\n"
        f"sources:\n  - {{type: folder, name: demo, path: {ROOT / 'demo' / 'inbox'}}}\n",
        encoding="utf-8",
    )
    result = orderbot("demo", "--no-serve", "--json", "--config", str(config), "--today", "2026-11-26", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    orders = report["orders"]
    keyed = [o for o in orders if o["portal_order_number"]]
    review = [o for o in orders if o["state"] == "needs_review"]
    assert report["summary"]["keyed"] == len(keyed) >= 5 and report["summary"]["failed"] == 0
    assert all(o["state"] == "acknowledged" and o["portal_order_number"].startswith("SO-") for o in keyed)
    assert review and all(o["reasons"] for o in review)
    assert len(keyed) + len(review) == len(orders)
    again = json.loads(orderbot("demo", "--no-serve", "--json", "--config", str(config), "--today", "2026-11-26", cwd=tmp_path).stdout)
    assert again["summary"]["received"] == 0 and again["summary"]["keyed"] == 0


def test_a_password_variable_is_not_mistaken_for_a_setting(tmp_path: Path):
    """ORDERBOT_PORTAL_PASSWORD is what the demo-portal config refers to; it is no
    override of a setting (ORDERBOT_SECTION__KEY is), so the config loads."""
    result = orderbot("config", "check", "--config", str(ROOT / "config" / "demo-portal.yaml"),
                      env={"ORDERBOT_PORTAL_PASSWORD": "canary-portal-77"})
    assert result.returncode == 0, result.stderr
    assert '"base_url": "http://127.0.0.1:8080"' in result.stdout
    assert "canary-portal-77" not in result.stdout + result.stderr


def test_report_writes_html_with_charts_from_the_store(tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.eml").write_bytes(body_order("4500019901"))
    config = tmp_path / "orderbot.yaml"
    config.write_text(f"data_dir: data\nmaster_data:\n  path: {DEMO_MASTER_DATA}\n"
                      "sources:\n  - {type: folder, name: test, path: inbox}\n", encoding="utf-8")
    assert orderbot("run", "--once", "--config", str(config), "--today", "2026-11-26").returncode == 0
    out = tmp_path / "report"
    result = orderbot("report", "--since", "2026-01-01", "--out", str(out), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert (out / "index.html").is_file() and (out / "volume.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = orderbot("report", "--since", "26.11.2026", "--out", str(out), "--config", str(config))
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
