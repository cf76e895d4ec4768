"""DKIM verified with dkimpy (rules.yaml verify_dkim), with an injected DNS look-up.

Messages are signed in the test with a freshly generated RSA key; the "DNS" answers
the selector's TXT record from a dict, or fails like a resolver that timed out."""

from __future__ import annotations

import base64

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.dkim_check import DkimStatus, verify_signatures
from bot.model import OrderState, RawMessage, ReasonCode
from bot.processing import MessageProcessor, parse
from bot.resolve import CustomerMatch
from bot.rules import RuleContext, RuleSettings
from bot.sender_checks import dkim_signatures
from tests.test_pipeline import TODAY, body_order
from tests.test_rules import order

SELECTOR = b"s2026"


@pytest.fixture(scope="module")
def key() -> tuple[bytes, bytes]:
    """(private key PEM, the TXT record publishing its public key)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def signed(data: bytes, domain: bytes, pem: bytes) -> bytes:
    return dkim.sign(data, SELECTOR, domain, pem, include_headers=[b"from", b"to", b"subject", b"message-id", b"date"]) + data


def dns_for(*domains: bytes, record: bytes):
    published = {SELECTOR + b"._domainkey." + d + b".": record for d in domains}

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return published.get(name)

    return lookup


def dns_down(name: bytes, timeout: int = 5) -> bytes | None:
    raise TimeoutError(f"no answer for {name!r} within {timeout}s")


MESSAGE = body_order("4500077001")


def reasons(master, raw: bytes | None, dns, *, settings=RuleSettings(verify_dkim=True)):
    message = parse(RawMessage(raw or MESSAGE, "test", "t.eml"))
    ctx = RuleContext(
        master=master, today=TODAY, customer=CustomerMatch(master.customer("C1001"), True, 0.99),
        settings=settings, message=message, raw_message=raw, dkim_dns=dns,
    )
    return list(dkim_signatures(order(), ctx))


@pytest.mark.parametrize(
    ("case", "message_in", "found_part"),
    [
        ("valid", None, None),
        ("subdomain of the customer's", None, None),
        ("tampered body", "no valid DKIM signature of Nordwind", "d=nordwind.de fail (signature does not verify: body hash mismatch"),
        ("another domain's valid signature", "no valid DKIM signature of Nordwind", "d=evil.example pass"),
        ("no signature", "carries no DKIM signature", "no DKIM-Signature header"),
        ("key not in DNS", "no valid DKIM signature", "d=nordwind.de fail"),
        ("DNS down", "could not be verified", "d=nordwind.de dns_error (key look-up failed"),
        ("bytes not at hand", "not at hand", None),
    ],
)
def test_dkim_signatures(master, key, case, message_in, found_part):
    pem, record = key
    dns = dns_for(b"nordwind.de", b"mail.nordwind.de", b"evil.example", record=record)
    raw: bytes | None = signed(MESSAGE, b"nordwind.de", pem)
    if case == "subdomain of the customer's":
        raw = signed(MESSAGE, b"mail.nordwind.de", pem)
    elif case == "tampered body":
        raw = raw.replace(b"4 pcs AX-1523", b"400 pcs AX-1523")
    elif case == "another domain's valid signature":
        raw = signed(MESSAGE, b"evil.example", pem)
    elif case == "no signature":
        raw = MESSAGE
    elif case == "key not in DNS":
        dns = dns_for(b"elsewhere.example", record=record)
    elif case == "DNS down":
        dns = dns_down
    elif case == "bytes not at hand":
        raw = None
    found = reasons(master, raw, dns)
    if message_in is None:
        assert found == []
        return
    (reason,) = found
    assert reason.code is ReasonCode.UNVERIFIED_SENDER and reason.field == "sender"
    assert reason.expected == "a valid DKIM signature with d= nordwind.de or nordwind-logistik.com"
    assert message_in in reason.message
    if found_part:
        assert found_part in reason.found


def test_off_by_default(master):
    assert reasons(master, MESSAGE, dns_down, settings=RuleSettings()) == []


def test_each_signature_is_reported(key):
    pem, record = key
    twice = signed(signed(MESSAGE, b"nordwind.de", pem), b"evil.example", pem)
    results = verify_signatures(twice, dns_for(b"nordwind.de", b"evil.example", record=record))
    assert [(r.domain, r.status) for r in results] == [("evil.example", DkimStatus.PASS), ("nordwind.de", DkimStatus.PASS)]


def test_the_raw_bytes_reach_the_rule_through_the_processor(master, key):
    """Given verify_dkim, when a signed and an unsigned order are processed, then the
    signed one is ready and the unsigned one goes to review as unverified_sender."""
    pem, record = key
    processor = MessageProcessor(master, today=TODAY, rule_settings=RuleSettings(verify_dkim=True), dkim_dns=dns_for(b"nordwind.de", record=record))
    good = processor.process(RawMessage(signed(body_order("4500077002"), b"nordwind.de", pem), "test", "good.eml"))
    bad = processor.process(RawMessage(body_order("4500077003"), "test", "bad.eml"))
    assert good.states == (OrderState.READY,)
    assert bad.states == (OrderState.NEEDS_REVIEW,)
    assert bad.extraction.orders[0].reason_codes == (ReasonCode.UNVERIFIED_SENDER,)
