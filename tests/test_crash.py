"""The crash test of the daemon: 200 incoming orders, SIGKILL at 20 moments.

A real ``orderbot run`` process takes a folder of 200 order emails, keys the
clean ones into the demo portal (its own process, Chromium driven by the demo
recipe) and acknowledges them over SMTP (aiosmtpd in this process). It is
killed with SIGKILL 20 times and restarted each time: half of the kills come
after a random time, half from failpoints (``bot.failpoints``) at the narrow
windows a random kill seldom finds: between a portal submit and the store
write, between an SMTP send and the store write, between the commit of a
message and the settling of its source, and between the keying attempt's
commit and the portal.

At the end, checked against the portal's test API and the SMTP server's
record, not the store's word: every clean order keyed exactly once, nothing
else keyed, every message in a final state, no acknowledgement sent twice,
no keying attempt left unsettled. The numbers are printed for the issue note
(``pytest -s tests/test_crash.py``)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from email import message_from_bytes
from pathlib import Path

import httpx
import pytest

from bot.model import MessageStatus, OrderState, RawMessage
from bot.processing import DuplicateIndex, MessageProcessor
from bot.store import KeyingOutcome, MailKind, MailStatus, Store
from demo.portal.process import portal_process
from tests.conftest import DEMO_MASTER_DATA
from tests.test_smtp import Recorder, smtp_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
ORDERS = 200
KILLS = 20
SEED = 20261201
PASSWORD = "crash-test-portal-pw"
# The failpoint lives, in this order after the first (intake, while there is intake to do) is shuffled.
FAILPOINTS = ["intake.after_commit"] + ["keying.after_submit"] * 4 + ["keying.after_begin"] * 2 + ["mail.after_send"] * 2 + [
    "intake.after_commit"]
# Customers in good standing without a credit limit, and the one address of each the mail names.
CUSTOMERS = {
    "hollandiafoods.nl": ("Hollandia Foods B.V.", "Waalhaven Z.z. 19", "3089 JH Rotterdam", "NL"),
    "bergmann-mb.de": ("Bergmann Maschinenbau AG", "Industriestraße 48", "70565 Stuttgart", "DE"),
    "dupont-fils.fr": ("Atelier Dupont & Fils SARL", "8 quai de la Fosse", "44000 Nantes", "FR"),
    "tvpackaging.co.uk": ("Thames Valley Packaging Ltd", "3 Portman Road", "RG30 1EA Reading", "GB"),
    "ferretti-alimentari.it": ("Ferretti Alimentari S.p.A.", "Strada Baganzola 12", "43126 Parma", "IT"),
    "rheinland-kt.de": ("Rheinland Kunststofftechnik GmbH", "Industriestraße 3", "53117 Bonn", "DE"),
}
DEADLINE_SECONDS = 900


@dataclass(frozen=True)
class Incoming:
    name: str
    po: str
    clean: bool  # written to pass every check (the bot's own verdict is in _verdicts)


def _write_inbox(inbox: Path, master, rng: random.Random, count: int = ORDERS) -> list[Incoming]:
    """``count`` order emails: most clean, every tenth with a part number we do
    not carry (to review), every fiftieth not an email at all (failed)."""
    products = [p for p in master.products() if p.uom == "EA" and p.stock > 5000]
    inbox.mkdir()
    made = []
    for i in range(count):
        name = f"order-{i:04d}.eml"
        if i % 50 == 49:
            (inbox / name).write_bytes(b"\x00\xff not a message %d \xfe" % i)
            made.append(Incoming(name, "", clean=False))
            continue
        domain = rng.choice(sorted(CUSTOMERS))
        company, street, city, country = CUSTOMERS[domain]
        po = f"CR-{i:05d}"
        lines = [f"- {p.sku} {p.description}, {rng.randint(1, 9)} pcs" for p in rng.sample(products, rng.randint(1, 2))]
        clean = i % 10 != 3
        if not clean:
            lines.append(f"- ZQ-{9000 + i} Special fitting, {rng.randint(1, 9)} pcs")
        body = (
            f"Hi,\n\nPO number: {po}\nDelivery date: 2026-12-{rng.randint(10, 28)}\n"
            f"Ship to: {company}, {street}, {city}, {country}\n\n" + "\n".join(lines) + "\n\nThanks,\nJo Buyer\n"
        )
        (inbox / name).write_bytes(
            (f"From: Jo Buyer <purchasing@{domain}>\r\nTo: orders@kestrel-supply.example\r\n"
             f"Subject: Purchase order {po}\r\nDate: Mon, 23 Nov 2026 09:{i % 60:02d}:00 +0100\r\n"
             f"Message-ID: <{po}.{i}@{domain}>\r\nMIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
             + body.replace("\n", "\r\n")).encode()
        )
        made.append(Incoming(name, po, clean))
    return made


def _verdicts(inbox: Path, incoming: list[Incoming], master) -> set[str]:
    """The POs an uncrashed run makes ready: what the crashed daemon must key.
    (The NER model may doubt a line the generator meant to be clean; the bot's
    verdict decides, and it must not change because of a crash.)"""
    processor = MessageProcessor(master, today=date(2026, 11, 26), duplicates=DuplicateIndex())
    ready = set()
    for message in incoming:
        if not message.po:
            continue
        raw = RawMessage(data=(inbox / message.name).read_bytes(), origin="crash-test", name=message.name)
        decided = processor.process(raw)
        if all(state is OrderState.READY for state in decided.states):
            ready.add(message.po)
    return ready


def _config(tmp_path: Path, portal_url: str, smtp_port: int) -> Path:
    config = tmp_path / "orderbot.yaml"
    config.write_text(
        f"data_dir: data\nmaster_data: {{path: {DEMO_MASTER_DATA}}}\ntoday: 2026-11-26\n"
        "sources:\n  - {type: folder, name: inbox, path: inbox}\n"
        f"portal:\n  recipe: {ROOT / 'config' / 'portals' / 'demo.yaml'}\n  base_url: {portal_url}\n"
        '  username: clerk\n  password: {"$env": CRASH_PORTAL_PW}\n  workers: 2\n  timeout_seconds: 10\n'
        "  retry_first_seconds: 1\n  retry_max_seconds: 2\n  max_attempts: 8\n  trace_on_failure: false\n"
        f"smtp: {{host: 127.0.0.1, port: {smtp_port}, security: plain}}\n"
        "outbox: {sender: orders@kestrel-supply.example, retry_first_seconds: 1}\n"
        "schedule:\n  intake: {seconds: 1}\n  keying: {seconds: 1}\n  acknowledge: {seconds: 1}\n"
        "  lease_seconds: 30\n",
        encoding="utf-8",
    )
    return config


class Daemon:
    def __init__(self, tmp_path: Path, config: Path, life: int, failpoint: str | None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")} | {"CRASH_PORTAL_PW": PASSWORD}
        if failpoint:
            env["ORDERBOT_FAILPOINTS"] = failpoint
        self.log = tmp_path / f"daemon-{life:02d}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
                                            stdout=subprocess.DEVNULL, stderr=out, env=env, cwd=tmp_path)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _settled(db: Path, incoming: list[Incoming]) -> bool:
    """Every message in a final state and every order at rest (nothing left to key or acknowledge)."""
    if not db.exists():
        return False
    with Store.open(f"sqlite:///{db}") as store:
        counts = store.message_counts()
        if sum(counts.values()) < len(incoming) or counts.get(MessageStatus.RECEIVED):
            return False
        busy = (OrderState.READY, OrderState.KEYING, OrderState.EXTRACTED)
        for stored in store.orders(state=OrderState.KEYED):
            mail = store.outgoing_mail_for(stored.id, MailKind.ACKNOWLEDGEMENT)
            if mail is None or mail.status not in (MailStatus.UNCERTAIN, MailStatus.FAILED):
                return False  # an acknowledgement still to come
        return not any(store.orders(state=state) for state in busy)


def test_sigkill_at_twenty_moments_keys_every_clean_order_exactly_once(tmp_path: Path, master):
    rng = random.Random(SEED)
    incoming = _write_inbox(tmp_path / "inbox", master, rng)
    clean = _verdicts(tmp_path / "inbox", incoming, master)
    assert not clean & {m.po for m in incoming if not m.clean} and len(clean) > 150, len(clean)
    db = tmp_path / "data" / "orderbot.db"
    smtp = Recorder()
    kills: list[str] = []
    plan = FAILPOINTS[:1] + rng.sample(FAILPOINTS[1:], len(FAILPOINTS) - 1)
    started = time.monotonic()
    with smtp_server(smtp) as smtp_port, portal_process(tmp_path / "portal.db", PASSWORD, "--test-api") as url:
        config = _config(tmp_path, url, smtp_port)
        life = 0
        while True:
            life += 1
            assert time.monotonic() - started < DEADLINE_SECONDS, f"no end after {life} lives; kills {kills}"
            killing = len(kills) < KILLS
            # Even lives die at a failpoint (or by the timer if it is not reached), odd ones by the timer.
            failpoint = None
            if killing and life % 2 == 0 and plan:
                failpoint = f"{plan.pop(0)}={rng.randint(1, 4)}"
            daemon = Daemon(tmp_path, config, life, failpoint)
            limit = time.monotonic() + (rng.uniform(2.0, 14.0) if failpoint is None else 40.0)
            while daemon.process.poll() is None and (not killing or time.monotonic() < limit):
                if not killing and _settled(db, incoming):
                    break
                time.sleep(0.2)
            if daemon.process.poll() is not None:
                assert daemon.process.returncode == -signal.SIGKILL, daemon.text()
                assert failpoint and f"failpoint {failpoint.split('=')[0]}: SIGKILL" in daemon.text(), daemon.text()
                kills.append(failpoint.split("=")[0])
                continue
            if killing:
                daemon.process.kill()
                daemon.process.wait()
                kills.append("timer")
                continue
            daemon.process.send_signal(signal.SIGTERM)
            assert daemon.process.wait(timeout=60) == 0, daemon.text()
            break
        portal = httpx.get(f"{url}/_test/orders", timeout=30).json()
    elapsed = time.monotonic() - started

    # The portal's own record: each clean PO exactly once, nothing else.
    per_po = Counter(o["customer_ref"] for o in portal)
    assert max(per_po.values()) == 1, sorted(po for po, n in per_po.items() if n > 1)
    assert set(per_po) == clean, (sorted(clean - set(per_po))[:10], sorted(set(per_po) - clean)[:10])

    with Store.open(f"sqlite:///{db}") as store:
        messages = store.messages()
        assert len(messages) == ORDERS
        statuses = Counter(m.status for m in messages)
        assert not statuses[MessageStatus.RECEIVED], statuses
        assert statuses[MessageStatus.FAILED] == ORDERS // 50
        assert not store.unfinished_attempts(), "keying attempts left unsettled"
        states = Counter()
        numbers = {o["order_number"] for o in portal}
        uncertain_acks = 0
        for stored in store.orders():
            states[stored.state] += 1
            if stored.po_number in clean:
                assert stored.state in (OrderState.ACKNOWLEDGED, OrderState.KEYED), (stored.po_number, stored.state)
                assert stored.portal_order_number in numbers
                mail = store.outgoing_mail_for(stored.id, MailKind.ACKNOWLEDGEMENT)
                if stored.state is OrderState.KEYED:
                    # Keyed, but its acknowledgement is uncertain (the process died after sending
                    # it): left for a person, never sent again.
                    assert mail is not None and mail.status is MailStatus.UNCERTAIN, (stored.po_number, mail)
                    uncertain_acks += 1
            else:
                assert stored.state is OrderState.NEEDS_REVIEW, (stored.po_number, stored.state)
        attempts = Counter(a.outcome for o in store.orders() for a in store.keying_attempts(o.id))
        ack_ids = {store.outgoing_mail_for(o.id, MailKind.ACKNOWLEDGEMENT).message_id
                   for o in store.orders() if store.outgoing_mail_for(o.id, MailKind.ACKNOWLEDGEMENT)}

    # The SMTP server's record: one acknowledgement per clean order at most, and all of them
    # but the uncertain ones (those the server has, but the store could not record).
    sent = Counter(message_from_bytes(r.data)["Message-ID"] for r in smtp.received)
    assert max(sent.values()) == 1, [m for m, n in sent.items() if n > 1]
    assert set(sent) <= ack_ids
    assert len(sent) >= len(clean) - uncertain_acks
    assert len(kills) == KILLS
    assert {"keying.after_submit", "mail.after_send", "timer"} <= set(kills), kills
    print(
        f"\ncrash test: {ORDERS} messages, {len(clean)} clean orders (ready in an uncrashed run), {len(kills)} SIGKILLs "
        f"({', '.join(f'{k} x{n}' for k, n in sorted(Counter(kills).items()))}), {life} daemon lives, {elapsed:.0f} s\n"
        f"  portal: {len(portal)} orders, duplicates 0; store: "
        + " ".join(f"{s}={n}" for s, n in sorted(states.items())) + "\n"
        "  keying attempts: " + " ".join(f"{o}={n}" for o, n in sorted(attempts.items(), key=str)) + "\n"
        f"  acknowledgements received by SMTP: {len(sent)} (none twice); uncertain after a kill: {uncertain_acks}"
    )
    assert attempts[KeyingOutcome.FOUND] > 0  # a kill after a submit was settled by searching the portal
