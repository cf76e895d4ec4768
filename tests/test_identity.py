"""A message is recognised again whichever mailbox or folder it turns up in."""

from __future__ import annotations

from bot.identity import identify

MESSAGE = (
    b"From: Buyer <buyer@nordwind.de>\r\n"
    b"To: orders@example.com\r\n"
    b"Subject: PO 4711\r\n"
    b"Message-ID: <abc@nordwind.de>\r\n"
    b"\r\n"
    b"Please deliver 4 pcs AX-1410.\r\n"
)


def test_same_message_delivered_twice_has_one_key():
    """Given the same message as two mailboxes store it (own Received and
    Delivered-To headers, CRLF vs LF), when identified, then the keys match."""
    first = b"Received: from mx1 by imap1; Mon, 2 Nov 2026 10:00:00 +0000\r\nDelivered-To: orders@example.com\r\n" + MESSAGE
    second = (b"Return-Path: <buyer@nordwind.de>\nReceived: from mx2\n\tby imap2; Mon, 2 Nov 2026 10:00:05 +0000\n" + MESSAGE).replace(b"\r\n", b"\n")
    assert identify(first).dedup_key == identify(second).dedup_key
    assert identify(first).sha256 != identify(second).sha256, "raw bytes differ, so do their blobs"
    assert identify(first).message_id == "<abc@nordwind.de>"


def test_reused_message_id_with_other_content_is_a_new_message():
    other = MESSAGE.replace(b"4 pcs", b"40 pcs")
    assert identify(MESSAGE).dedup_key != identify(other).dedup_key


def test_message_without_id_gets_a_content_id():
    bare = MESSAGE.replace(b"Message-ID: <abc@nordwind.de>\r\n", b"")
    identity = identify(bare)
    assert identity.message_id == f"<{identity.sha256}@orderbot.invalid>"
    assert identify(bare).dedup_key == identity.dedup_key


def test_garbage_does_not_raise():
    assert identify(b"\x00\xff\xfe garbage").message_id.endswith("@orderbot.invalid>")
    assert identify(b"%PDF-1.4 not really").message_id.endswith("@orderbot.invalid>")
