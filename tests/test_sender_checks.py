"""Sender checks against business-email compromise (bot/sender_checks.py, issue 5).

Table-driven tests per rule with the evidence checked, then the spoofing suite:
hand-built messages through the real message processor, none of which may end
ready, and the clean message they are built from, which must stay clean.
"""

from __future__ import annotations

import dataclasses
import email.utils
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import sender_checks as sc
from bot.model import Message, Order, RawMessage, ReasonCode
from bot.processing import MessageProcessor
from bot.resolve import match_customer
from bot.rules import RULES, RuleContext, RuleSettings
from connectors.masterdata import CsvMasterData

TODAY = date(2026, 11, 26)
MASTER = CsvMasterData.load(Path(__file__).resolve().parents[1] / "demo" / "masterdata")
OURS = "mx.kestrel-supply.example"


def message(
    sender: str | None = "jana.becker@nordwind.de",
    name: str | None = "Jana Becker",
    reply_to: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> Message:
    from_header = f"{name} <{sender}>" if name else (sender or "")
    return Message(
        message_id="<t@x>", sha256="0", sender=sender, sender_name=name, reply_to=reply_to,
        headers=(("From", from_header), *headers),
    )


def run(rule, msg: Message, settings: RuleSettings = RuleSettings()) -> list:
    ctx = RuleContext(master=MASTER, today=TODAY, customer=match_customer(MASTER, msg, None, ()), settings=settings, message=msg)
    return list(rule(Order(source="body"), ctx))


def assert_one(reasons: list, expected: str | None, found_part: str) -> None:
    assert len(reasons) == 1, reasons
    (reason,) = reasons
    assert reason.code is ReasonCode.UNVERIFIED_SENDER
    assert reason.field == "sender"
    assert reason.expected == expected
    assert found_part in (reason.found or ""), reason.found


def test_registered_right_after_customer_and_sender():
    names = [r.__name__ for r in RULES]
    at = names.index("customer_and_sender")
    assert names[at + 1 : at + 1 + len(sc.SENDER_RULES)] == [r.__name__ for r in sc.SENDER_RULES]


# --- Authentication-Results --------------------------------------------------------

AR = "Authentication-Results"
SETTINGS = RuleSettings(authserv_id=OURS)
STRICT = RuleSettings(authserv_id=OURS, require_dmarc_pass=True)


@pytest.mark.parametrize(
    ("headers", "settings", "found"),
    [
        ((), RuleSettings(), None),  # not configured: nothing read
        (((AR, "evil.example; dmarc=fail"),), RuleSettings(), None),
        (((AR, f"{OURS}; dkim=pass header.d=nordwind.de; spf=pass; dmarc=pass (p=reject) header.from=nordwind.de"),), SETTINGS, None),
        (((AR, f"{OURS}; dmarc=pass"),), STRICT, None),
        ((), SETTINGS, None),  # no result and none required
        (((AR, f"{OURS}; dmarc=fail header.from=nordwind.de; dkim=none; spf=softfail"),), SETTINGS, "dmarc=fail dkim=none spf=softfail"),
        # a forged copy from another server claiming pass is ignored; ours says fail
        (((AR, f"{OURS}; dmarc=fail"), (AR, "mx.evil.example; dmarc=pass; dkim=pass")), SETTINGS, "1 Authentication-Results from other servers ignored"),
        (((AR, "mx.evil.example; dmarc=pass"), (AR, f"{OURS}; dmarc=fail")), SETTINGS, "dmarc=fail"),
        # a copy with our id below another server's came with the message: not ours
        (((AR, f"{OURS}; dmarc=fail"), (AR, "relay.example; none"), (AR, f"{OURS}; dmarc=pass")), SETTINGS, "dmarc=fail"),
        (((AR, f"{OURS.upper()} 1; dmarc=FAIL"),), SETTINGS, "dmarc=fail"),
        (((AR, f"{OURS}; none"),), STRICT, f"no result from {OURS}"),
        (((AR, "mx.evil.example; dmarc=pass"),), STRICT, f"no result from {OURS}"),
        (((AR, f"{OURS}; dmarc=temperror"),), STRICT, "dmarc=temperror"),
        (((AR, f"{OURS} (comment; dmarc=pass); dmarc=fail"),), SETTINGS, "dmarc=fail"),
    ],
)
def test_authentication_results(headers, settings, found):
    reasons = run(sc.authentication_results, message(headers=headers), settings)
    if found is None:
        assert reasons == []
    else:
        assert_one(reasons, "dmarc=pass", found)


def test_only_the_topmost_run_of_our_headers_counts():
    msg = message(headers=((AR, f"{OURS}; dkim=pass"), (AR, f"{OURS}; dmarc=pass"), (AR, "x.example; dmarc=fail"), (AR, f"{OURS}; dmarc=fail")))
    results, ignored = sc.trusted_authentication_results(msg, OURS)
    assert results == {"dkim": "pass", "dmarc": "pass"}
    assert ignored == 2


# --- Reply-To ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "reply_to", "expected"),
    [
        ("jana.becker@nordwind.de", None, None),
        ("jana.becker@nordwind.de", "einkauf@nordwind.de", None),
        ("jana.becker@nordwind.de", "einkauf@nordwind-logistik.com", None),
        ("jana.becker@nordwind.de", "x@mail.nordwind.de", None),
        ("jana.becker@nordwind.de", "jana.becker@nordwind.de.evil.example", "nordwind.de, nordwind-logistik.com"),
        ("jana.becker@nordwind.de", "jana@gmail.com", "nordwind.de, nordwind-logistik.com"),
        ("someone@unknown.example", "someone@unknown.example", None),
        ("someone@unknown.example", "other@else.example", "unknown.example"),
    ],
)
def test_reply_to_outside_customer(sender, reply_to, expected):
    reasons = run(sc.reply_to_outside_customer, message(sender=sender, reply_to=reply_to))
    if expected is None:
        assert reasons == []
    else:
        assert_one(reasons, expected, reply_to)


# --- look-alike domains -------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "imitated"),
    [
        ("nordwind.de", None),
        ("mail.nordwind.de", None),
        ("nordwind-logistik.com", None),
        ("bergmann-mb.de", None),  # another customer's own domain is not a look-alike
        ("example.com", None),
        ("gmail.com", None),
        ("nordwlnd.de", "nordwind.de"),
        ("nordwind.co", "nordwind.de"),
        ("nordvvind.de", "nordwind.de"),
        ("n0rdwind.de", "nordwind.de"),
        ("nordwind.com", "nordwind.de"),
        ("nordwind.de.evil.example", "nordwind.de"),
        ("xn--nrdwind-9ig.de", "nordwind.de"),  # Cyrillic о, as punycode
        ("nоrdwind.de", "nordwind.de"),  # Cyrillic о, as Unicode
        ("bergrnann-mb.de", "bergmann-mb.de"),  # rn for m
        ("hoffmann-sohne.de", "hoffmann-soehne.de"),
    ],
)
def test_look_alike_domain(domain, imitated):
    reasons = run(sc.look_alike_domain, message(sender=f"orders@{domain}"))
    if imitated is None:
        assert reasons == []
    else:
        assert_one(reasons, imitated, domain)
        assert imitated in reasons[0].message and domain in reasons[0].message


def test_cyrillic_folds_to_latin():
    assert sc.skeleton("xn--nrdwind-9ig.de") == sc.skeleton("nordwind.de")
    assert "xn--nrdwind-9ig.de".encode().decode("idna") == "nоrdwind.de"


@given(st.sampled_from([d for c in MASTER.customers() for d in c.email_domains]))
def test_no_customer_domain_is_a_look_alike(domain):
    assert sc.look_alike_of(domain, MASTER) is None


# --- display names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sender", "expected", "found"),
    [
        ("Jana Becker", "jana.becker@nordwind.de", None, None),
        ("Nordwind Logistik GmbH", "jana.becker@nordwind.de", None, None),
        ("Jana Becker (Nordwind)", "jana.becker@nordwind-logistik.com", None, None),
        ("Max Muster", "max@example.com", None, None),
        ("orders@nordwind.de", "x@evil.example", "orders@nordwind.de", "orders@nordwind.de <x@evil.example>"),
        ("Jana Becker jana.becker@nordwind.de", "jana@gmail.com", "jana.becker@nordwind.de", "<jana@gmail.com>"),
        ("Nordwind Logistik GmbH", "jana@gmail.com", "nordwind.de, nordwind-logistik.com", "Nordwind Logistik GmbH <jana@gmail.com>"),
        ("Jana Becker | Nordwind", "jana@evil.example", "nordwind.de, nordwind-logistik.com", "Jana Becker | Nordwind"),
        ("Bergmann Maschinenbau AG", "jana.becker@nordwind.de", "bergmann-mb.de, bergmann-ag.com", "Bergmann Maschinenbau AG"),
    ],
)
def test_display_name_impersonation(name, sender, expected, found):
    reasons = run(sc.display_name_impersonation, message(sender=sender, name=name))
    if expected is None:
        assert reasons == []
    else:
        assert_one(reasons, expected, found)


# --- strict From parsing (CVE-2023-27043) ---------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sender", "expected"),
    [
        ("Jana Becker <jana.becker@nordwind.de>", "jana.becker@nordwind.de", None),
        ('"Becker, Jana" <jana.becker@nordwind.de>', "jana.becker@nordwind.de", None),
        ("jana.becker@nordwind.de (Jana Becker)", "jana.becker@nordwind.de", None),
        ('"a@nordwind.de" <b@evil.example>', "b@evil.example", "b@evil.example"),
        ("alice@nordwind.de)<b@evil.example>", "alice@nordwind.de", "one address"),
        ("b@evil.example, jana.becker@nordwind.de", "b@evil.example", "one address"),
        ('"b@evil.example"@nordwind.de', '"b@evil.example"@nordwind.de', "local@domain"),
        ("<b@evil.example>@nordwind.de", "b@evil.example", "one address"),
        ("b@[evil.example]", "b@[evil.example]", "one address"),
    ],
)
def test_strict_sender_address(raw, sender, expected):
    msg = dataclasses.replace(message(sender=sender, name=None), headers=(("From", raw),))
    reasons = run(sc.strict_sender_address, msg)
    if expected is None:
        assert reasons == []
    else:
        assert_one(reasons, expected, raw)


def test_two_from_headers():
    msg = dataclasses.replace(message(), headers=(("From", "a@nordwind.de"), ("From", "b@evil.example")))
    assert_one(run(sc.strict_sender_address, msg), "one From header", "b@evil.example")


# --- the spoofing suite, through the real message processor ------------------------------


def body_order(po: str = "PO-77001", *, from_: str = "Jana Becker <jana.becker@nordwind.de>", extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The clean body order of tests/test_pipeline.py, with its From and extra headers set."""
    msg = EmailMessage()
    for name, value in extra:
        msg[name] = value
    msg["From"] = from_
    msg["To"] = "orders@kestrel-supply.example"
    msg["Subject"] = f"Order {po}"
    msg["Date"] = email.utils.format_datetime(email.utils.parsedate_to_datetime("Mon, 16 Nov 2026 09:00:00 +0100"))
    msg["Message-ID"] = email.utils.make_msgid(domain="nordwind.de")
    msg.set_content(
        "Hello,\n\nplease deliver the following:\n\n"
        "4 pcs AX-1523 Hand dispenser for stretch film\n\n"
        "Delivery address: Nordwind Logistik GmbH, Hafenstrasse 12, 20457 Hamburg, Germany\n"
        f"Our order number: {po}\nRequested delivery: 14.12.2026\n\nRegards\nJana Becker\n"
    )
    return msg.as_bytes()


def raw_order(from_: str, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """``body_order`` with the From header written byte for byte (no re-folding)."""
    data = body_order(extra=extra)
    head, sep, rest = data.partition(b"\n\n")
    lines = [ln for ln in head.split(b"\n") if not ln.lower().startswith(b"from:")]
    return b"\n".join([f"From: {from_}".encode(), *lines]) + sep + rest


def process(data: bytes, settings: RuleSettings = RuleSettings(authserv_id=OURS)):
    processor = MessageProcessor(MASTER, today=TODAY, rule_settings=settings)
    return processor.process(RawMessage(data, "test.eml", "test.eml"))


def test_clean_message_stays_clean():
    decided = process(body_order(extra=((AR, f"{OURS}; dkim=pass header.d=nordwind.de; spf=pass; dmarc=pass header.from=nordwind.de"),)))
    (order,) = decided.extraction.orders
    assert order.reasons == ()
    assert not order.review
    assert [s.value for s in decided.states] == ["ready"]


SPOOFS = {
    "forged Authentication-Results": body_order(
        extra=((AR, f"{OURS}; dmarc=fail header.from=nordwind.de"), (AR, "mx.nordwind.de; dkim=pass; spf=pass; dmarc=pass"))
    ),
    "look-alike nordwlnd.de": body_order(from_="Jana Becker <jana.becker@nordwlnd.de>"),
    "look-alike punycode": body_order(from_="Jana Becker <jana.becker@xn--nrdwind-9ig.de>"),
    "look-alike Cyrillic": body_order(from_="Jana Becker <jana.becker@n\u043erdwind.de>"),
    "display name address": raw_order('"jana.becker@nordwind.de" <jana.becker@evil.example>'),
    "display name company": body_order(from_="Nordwind Logistik GmbH <einkauf@evil.example>"),
    "Reply-To mismatch": body_order(extra=(("Reply-To", "jana.becker@nordwind-de.example"),)),
    "CVE-2023-27043 display @": raw_order('"a@nordwind.de" <b@evil.example>'),
    "CVE-2023-27043 parenthesis": raw_order("jana.becker@nordwind.de)<b@evil.example>"),
    "CVE-2023-27043 two @": raw_order("b@evil.example@nordwind.de"),
    "CVE-2023-27043 quoted local part": raw_order('"b@evil.example"@nordwind.de'),
    "CVE-2023-27043 two addresses": raw_order("b@evil.example, jana.becker@nordwind.de"),
    "CVE-2023-27043 angle then domain": raw_order("<b@evil.example>@nordwind.de"),
}


@pytest.mark.parametrize("name", list(SPOOFS))
def test_spoof_is_never_ready(name):
    decided = process(SPOOFS[name])
    assert decided.extraction.orders, "a spoofed order must still reach the review queue"
    for order, state in zip(decided.extraction.orders, decided.states, strict=True):
        assert order.review, f"{name}: no reason added"
        assert state.value != "ready"


@pytest.mark.parametrize("name", list(SPOOFS))
def test_spoof_is_caught_by_a_sender_check(name):
    (order,) = process(SPOOFS[name]).extraction.orders
    assert any(r.code is ReasonCode.UNVERIFIED_SENDER and r.field == "sender" and r.found for r in order.reasons), order.reasons
