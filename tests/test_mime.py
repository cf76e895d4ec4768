"""Parsing raw email bytes (extractors.mime), sniffing attachment types (extractors.sniff),
HTML bodies as text (extractors.html_text) and splitting quoted history (extractors.quotes)."""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from bot.errors import UnreadableInput
from bot.model import RawMessage
from extractors import sniff
from extractors.html_text import html_to_text
from extractors.mime import MAX_HEADERS, parse_message
from extractors.quotes import (
    BlockKind,
    forwarded_text,
    is_cover_note,
    order_text,
    signature_start,
    split_quoted,
    subject_prefixes,
)

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def raw(data: bytes, name: str = "test.eml") -> RawMessage:
    return RawMessage(data=data, origin=f"test:{name}", name=name)


def parse(data: bytes):
    return parse_message(raw(data))


def simple(body: str = "Hello,\nplease book 5 pcs AX-1.\n", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.get("from", "Anna Smith <Anna.Smith@Example.COM>")
    msg["To"] = headers.get("to", "Orders <orders@kestrel-supply.com>, b@x.org")
    msg["Subject"] = headers.get("subject", "PO 4711")
    msg["Date"] = headers.get("date", "Tue, 03 Nov 2026 13:51:10 +0100")
    if "message_id" in headers:
        msg["Message-ID"] = headers["message_id"]
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP)


# --- refusing what is not an email -------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \r\n\n\t", "empty"),
        (bytes(range(256)) * 8, "binary"),
        (PDF, "PDF"),
        (b"PK\x03\x04" + b"\x00" * 40, "not an email"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png"),
        (b"Dear team, please find our order below.\n5 pcs AX-1\n", "no email header block"),
        (b"Note: just a text file\n\nwith a colon in its first line\n", "none of From"),
    ],
)
def test_input_that_is_not_an_email_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    """Given bytes that are no email, when parsed, then UnreadableInput names the input and why."""
    with pytest.raises(UnreadableInput) as exc:
        parse_message(raw(data, "inbox/odd.eml"))
    assert exc.value.name == "inbox/odd.eml"
    assert reason.lower() in exc.value.problem.lower()


# --- headers -------------------------------------------------------------------


def test_headers_are_decoded_and_normalised() -> None:
    data = simple(subject="Bestellung für München – dringend", message_id="<abc@mail.example.com>")
    msg = parse(data)
    assert msg.message_id == "<abc@mail.example.com>"
    assert msg.sender == "anna.smith@example.com"
    assert msg.sender_name == "Anna Smith"
    assert msg.sender_domain == "example.com"
    assert msg.to == ("orders@kestrel-supply.com", "b@x.org")
    assert msg.subject == "Bestellung für München – dringend"
    assert msg.sent_at == datetime(2026, 11, 3, 12, 51, 10, tzinfo=UTC)
    assert msg.sent_at.tzinfo is not None
    assert msg.header("subject") == msg.subject
    assert msg.defects == ()
    import hashlib

    assert msg.sha256 == hashlib.sha256(data).hexdigest()


def test_missing_message_id_is_synthesised_from_the_content_hash() -> None:
    msg = parse(simple())
    assert msg.message_id == f"<{msg.sha256}@orderbot.invalid>"
    assert any("Message-ID" in d for d in msg.defects)


def test_reply_to_and_an_unreadable_date_are_handled() -> None:
    data = b"From: a@b.de\nReply-To: Buyer <Buyer@B.de>\nDate: yesterday-ish\nSubject: x\n\nbody\n"
    msg = parse(data)
    assert msg.reply_to == "buyer@b.de"
    assert msg.sent_at is None
    assert any("Date" in d for d in msg.defects)


def test_date_without_zone_is_read_as_utc() -> None:
    msg = parse(b"From: a@b.de\nDate: Tue, 03 Nov 2026 13:51:10 -0000\nSubject: x\n\nbody\n")
    assert msg.sent_at == datetime(2026, 11, 3, 13, 51, 10, tzinfo=UTC)


def test_encoded_words_in_an_unknown_charset_do_not_crash() -> None:
    msg = parse(b"From: =?x-foo?q?J=FCrgen?= <j@b.de>\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus Bonn\n\nbody\n")
    assert msg.sender == "j@b.de"
    assert msg.sender_name == "Jürgen"
    assert msg.subject == "Grüße aus Bonn"


def test_raw_8bit_headers_are_decoded_by_guess_and_noted() -> None:
    msg = parse("From: Jürgen <j@b.de>\nSubject: Bestellung für München\n\nbody\n".encode("latin-1"))
    assert msg.subject == "Bestellung für München"
    assert any("8-bit" in d for d in msg.defects)


def test_header_bomb_is_capped_and_the_important_headers_survive() -> None:
    """Given 20,000 junk headers before Message-ID, when parsed, then junk is dropped, the
    message still parses quickly, and the defect says so."""
    junk = b"".join(b"X-Junk-%d: %s\n" % (i, b"v" * 60) for i in range(20_000))
    data = b"From: a@b.de\nSubject: bomb\n" + junk + b"Message-ID: <late@x>\n\nbody text\n"
    msg = parse(data)
    assert msg.message_id == "<late@x>"
    assert msg.body == "body text\n"
    assert len(msg.headers) <= MAX_HEADERS + 5
    assert any("header bomb" in d for d in msg.defects)


def test_one_giant_header_is_truncated() -> None:
    msg = parse(b"From: a@b.de\nSubject: " + b"A" * 300_000 + b"\n\nbody\n")
    assert len(msg.subject) < 70_000
    assert any("truncated" in d for d in msg.defects)


def test_mbox_from_line_and_crlf_line_endings() -> None:
    msg = parse(b"From a@b.de Mon Jan  1 00:00:00 2026\r\nFrom: a@b.de\r\nSubject: s\r\n\r\nline1\r\nline2\r\n")
    assert msg.subject == "s"
    assert msg.body == "line1\nline2\n"


# --- bodies and charsets -------------------------------------------------------


def test_unknown_charset_falls_back_and_is_recorded() -> None:
    data = "From: a@b.de\nSubject: x\nContent-Type: text/plain; charset=x-unknown-42\n\nGrüße, 5 Stück\n"
    msg = parse(data.encode("latin-1"))
    assert msg.body == "Grüße, 5 Stück\n"
    assert any("x-unknown-42" in d for d in msg.defects)


def test_wrongly_declared_charset_is_repaired() -> None:
    data = "From: a@b.de\nSubject: x\nContent-Type: text/plain; charset=utf-8\n\nBitte 5 Stück für Müller liefern.\n"
    msg = parse(data.encode("cp1252"))
    assert "Stück für Müller" in msg.body
    assert any("not valid utf-8" in d for d in msg.defects)


def test_declared_legacy_charset_is_used() -> None:
    body = "请安排发货，订单号：CG1234\n"
    data = (
        b"From: a@b.cn\nSubject: x\nContent-Type: text/plain; charset=gb2312\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(body.encode("gb2312"))
    )
    assert parse(data).body == body


def test_text_plain_is_preferred_over_html() -> None:
    msg = EmailMessage()
    msg["From"] = "a@b.de"
    msg["Subject"] = "x"
    msg.set_content("plain version\n")
    msg.add_alternative("<p>html version</p>", subtype="html")
    assert parse(msg.as_bytes()).body == "plain version\n"


def test_html_only_body_becomes_structured_text_and_blockquote_history_is_split_off() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body>"
        "<p>Hi,</p><p>please deliver:</p>"
        "<table><tr><th>Code</th><th>Qty</th></tr><tr><td>AX-1</td><td>5</td></tr></table>"
        "<script>alert(1)</script>"
        "<div>On Mon, 2 Nov 2026 Bob wrote:</div><blockquote><p>old PO 999</p></blockquote>"
        "</body></html>"
    )
    msg = EmailMessage()
    msg["From"] = "a@b.de"
    msg["Subject"] = "x"
    msg.set_content(html, subtype="html")
    parsed = parse(msg.as_bytes())
    assert parsed.body == "Hi,\n\nplease deliver:\n\nCode\tQty\nAX-1\t5\n"
    assert "old PO 999" in parsed.quoted
    assert "alert" not in parsed.body + parsed.quoted


def test_format_flowed_soft_breaks_are_joined() -> None:
    data = (
        b"From: a@b.de\nSubject: x\nContent-Type: text/plain; charset=utf-8; format=flowed\n\n"
        b"Please deliver 5 pcs of AX-1 to our \nLeeds site.\nThanks\n"
    )
    assert parse(data).body.startswith("Please deliver 5 pcs of AX-1 to our Leeds site.\n")


# --- attachments ---------------------------------------------------------------


def _with_attachments() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "a@b.de"
    msg["Subject"] = "PO 1"
    msg.set_content("see attached\n")
    msg.add_alternative("<p>see attached<img src='cid:logo'></p>", subtype="html")
    html = msg.get_payload()[1]
    html.add_related(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, maintype="image", subtype="png", cid="<logo>", filename="image001.png")
    msg.add_attachment(PDF, maintype="application", subtype="octet-stream", filename="PO-1.pdf")
    msg.add_attachment(b"sku;qty\nAX-1;5\nAX-2;7\n", maintype="text", subtype="plain", filename="order.csv")
    msg.add_attachment(b"\xff\xd8\xff" + b"\x00" * 200_000, maintype="image", subtype="jpeg", filename="scan.jpg")
    return msg


def test_attachments_are_sniffed_and_body_images_are_not_documents() -> None:
    msg = parse(_with_attachments().as_bytes())
    docs = {d.name: d for d in msg.documents}
    assert set(docs) == {"PO-1.pdf", "order.csv", "scan.jpg"}
    assert docs["PO-1.pdf"].content_type == sniff.PDF
    assert docs["PO-1.pdf"].declared_type == "application/octet-stream"
    assert docs["PO-1.pdf"].data == PDF
    assert docs["order.csv"].content_type == sniff.CSV
    assert docs["scan.jpg"].content_type == "image/jpeg"
    assert msg.body == "see attached\n"


def test_duplicate_attachment_names_are_made_unique() -> None:
    msg = EmailMessage()
    msg["From"] = "a@b.de"
    msg["Subject"] = "x"
    msg.set_content("two\n")
    for _ in range(2):
        msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="PO.pdf")
    assert [d.name for d in parse(msg.as_bytes()).documents] == ["PO.pdf", "PO (2).pdf"]


def test_nested_rfc822_forward_contributes_its_documents_and_text() -> None:
    """Given a PO email attached as message/rfc822 to a 'please process' note, when parsed,
    then the inner PDF is a document of the outer message and the inner text is a forward."""
    inner = EmailMessage()
    inner["From"] = "Buyer <buyer@customer.example>"
    inner["Subject"] = "PO 4711"
    inner["Date"] = "Mon, 02 Nov 2026 09:00:00 +0100"
    inner.set_content("Please deliver 10 pcs AX-1 under PO 4711.\n\nOn Sun, 1 Nov 2026 Desk wrote:\n> your PO 999 is confirmed\n")
    inner.add_attachment(PDF, maintype="application", subtype="pdf", filename="PO-4711.pdf")
    outer = EmailMessage()
    outer["From"] = "colleague@customer.example"
    outer["Subject"] = "FW: PO 4711"
    outer.set_content("FYI - please process\n")
    outer.add_attachment(inner)
    msg = parse(outer.as_bytes())
    assert [d.name for d in msg.documents] == ["PO-4711.pdf"]
    assert msg.body == "FYI - please process\n"
    assert "PO 4711" in msg.quoted
    text = order_text(msg.body, msg.quoted, msg.subject)
    assert "Please deliver 10 pcs AX-1 under PO 4711." in text
    assert "999" not in text  # the forwarded message's own reply history is not order text


def test_nesting_beyond_the_limit_is_cut_with_a_defect() -> None:
    data = b"From: a@b.de\nSubject: deep\nContent-Type: multipart/mixed; boundary=b0\n\n"
    for i in range(60):
        data += b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1)
    data += b"--b60\nContent-Type: text/plain\n\nhello\n"
    msg = parse(data)
    assert any("nesting" in d for d in msg.defects)


# --- sniffing ------------------------------------------------------------------


def _xlsx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF, sniff.PDF),
        (b"\r\n\r\n" + PDF, sniff.PDF),
        (_xlsx(), sniff.XLSX),
        (b"PK\x03\x04garbage", sniff.ZIP),
        (b'<?xml version="1.0"?><Order><Line/></Order>', sniff.XML),
        (b"<Order xmlns='urn:x'><Id>1</Id></Order>", sniff.XML),
        (b"<!DOCTYPE html><html><body>x</body></html>", sniff.HTML),
        (b"sku;qty;price\nAX-1;5;1,20\nAX-2;7;3,40\n", sniff.CSV),
        (b"\xef\xbb\xbfsku,qty\nAX-1,5\nAX-2,7\n", sniff.CSV),
        ("Artikel\tMenge\nAX-1\t5\nAX-2\t7\n".encode("utf-16"), sniff.CSV),
        (b"Dear team, please deliver the goods. Thanks a lot, really.\nBest regards, Anna and the whole team here.\n", sniff.TEXT),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"II*\x00\x08\x00", "image/tiff"),
        (b"\x00\x01\x02\x03\x04binary", sniff.OCTET),
        (b"", sniff.OCTET),
        (b"From: a@b.de\nTo: c@d.de\nSubject: x\n\nbody\n", sniff.EMAIL),
    ],
)
def test_sniff_from_bytes(data: bytes, expected: str) -> None:
    assert sniff.sniff(data) == expected


def test_ole_container_is_told_apart_by_name() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100
    assert sniff.sniff(ole, "Order.XLS") == sniff.XLS
    assert sniff.sniff(ole) == sniff.OLE


def test_decode_text_never_raises() -> None:
    assert sniff.decode_text("Grüße".encode("cp1252"), "x-nonsense").text == "Grüße"
    assert sniff.decode_text("Grüße".encode()).charset == "utf-8"
    assert sniff.decode_text(bytes(range(256))).text  # something, never an exception


# --- HTML as text ---------------------------------------------------------------


def test_html_to_text_structure() -> None:
    html = (
        "<div>Dear team,<br>please book:</div><ul><li>5 pcs AX-1</li><li>2 cases BR-2</li></ul>"
        "<ol><li>first</li><li>second</li></ol><p style='display:none'>hidden</p>"
        "<table><tr><td>A</td><td>B &amp; C</td></tr></table><p>Regards&nbsp;Anna</p>"
    )
    assert html_to_text(html) == (
        "Dear team,\nplease book:\n- 5 pcs AX-1\n- 2 cases BR-2\n1. first\n2. second\n\nA\tB & C\n\nRegards Anna\n"
    )


def test_html_to_text_survives_broken_markup() -> None:
    assert "text" in html_to_text("<div><p>text<table><tr><td>cell</div></b></i><<>>")


# --- quoted history -------------------------------------------------------------


@pytest.mark.parametrize(
    "marker",
    [
        "On Tue, 17 Nov 2026 at 04:43, Kestrel Order Desk <orders@kestrel-supply.com> wrote:",
        "Am 17.11.2026 um 04:43 schrieb Kestrel Order Desk <orders@kestrel-supply.com>:",
        "Le mar. 17 nov. 2026 à 04:43, Kestrel <orders@kestrel-supply.com> a écrit :",
        "El mar, 17 nov 2026 a las 4:43, Kestrel (<orders@kestrel-supply.com>) escribió:",
        "Il giorno mar 17 nov 2026 alle ore 04:43 Kestrel <orders@kestrel-supply.com> ha scritto:",
        "Op di 17 nov. 2026 om 04:43 schreef Kestrel <orders@kestrel-supply.com>:",
        "-----Original Message-----",
        "----- Ursprüngliche Nachricht -----",
        "------------------ 原始邮件 ------------------",
    ],
)
def test_reply_markers_split_off_history(marker: str) -> None:
    text = f"Please book 5 pcs AX-1 under PO 100.\n\n{marker}\n> Your PO 999 is confirmed.\n> Regards\n"
    split = split_quoted(text)
    assert split.new == "Please book 5 pcs AX-1 under PO 100.\n"
    assert "999" in split.quoted
    assert split.blocks[0].kind is BlockKind.REPLY


def test_wrapped_gmail_attribution_over_two_lines() -> None:
    text = "New order below.\n\nOn Tue, 17 Nov 2026 at 04:43, Kestrel Order Desk <orders@kestrel-supply.com>\nwrote:\n> old PO 999\n"
    assert split_quoted(text).new == "New order below.\n"


def test_outlook_header_block_in_a_reply_and_in_a_forward() -> None:
    block = (
        "________________________________\n"
        "Von: Kestrel Order Desk <orders@kestrel-supply.com>\n"
        "Gesendet: Dienstag, 17. November 2026 04:43\n"
        "An: Einkauf <einkauf@example.de>\n"
        "Betreff: Auftragsbestätigung AB-1 zu Ihrer Bestellung 999\n\n"
        "Sehr geehrte Damen und Herren, wir bestätigen Bestellung 999.\n"
    )
    text = "Bitte liefern Sie 5 Stück AX-1.\n\n" + block
    reply = split_quoted(text, "AW: Auftragsbestätigung AB-1")
    assert reply.new == "Bitte liefern Sie 5 Stück AX-1.\n"
    assert reply.blocks[0].kind is BlockKind.REPLY
    forward = split_quoted(text, "WG: Auftragsbestätigung AB-1")
    assert forward.blocks[0].kind is BlockKind.FORWARD
    assert forward.blocks[0].subject == "Auftragsbestätigung AB-1 zu Ihrer Bestellung 999"
    assert forward.blocks[0].text.startswith("Sehr geehrte")


def test_interleaved_quotes_keep_the_new_lines() -> None:
    text = "> Can you confirm PO 999?\nYes, and please add 5 pcs AX-1.\n> Thanks\nWill do.\n"
    split = split_quoted(text)
    assert split.new == "Yes, and please add 5 pcs AX-1.\nWill do.\n"
    assert "999" in split.quoted


@pytest.mark.parametrize(
    "marker",
    [
        "---------- Forwarded message ---------",
        "Begin forwarded message:",
        "-------- Weitergeleitete Nachricht --------",
        "-------- Message transféré --------",
        "---------- Mensaje reenviado ----------",
        "-------- Messaggio inoltrato --------",
        "---------- Doorgestuurd bericht ----------",
    ],
)
def test_forward_of_an_order_with_an_empty_cover_note_is_the_order(marker: str) -> None:
    """Given a forward whose cover says only 'FYI', when the order text is asked for, then it
    is the forwarded message's own text without that message's reply history."""
    text = (
        f"FYI\n\n{marker}\nFrom: Buyer <buyer@x.de>\nDate: Mon, 2 Nov 2026\nSubject: Order\nTo: me\n\n"
        "Please deliver 10 pcs AX-1, PO 4711.\n\nOn Sun, 1 Nov 2026, Desk <d@k.com> wrote:\n> PO 999 confirmed\n"
    )
    split = split_quoted(text, "Fwd: Order")
    assert split.new == "FYI\n"
    assert split.forwards
    text_to_read = order_text(split.new, split.quoted, "Fwd: Order")
    assert "Please deliver 10 pcs AX-1, PO 4711." in text_to_read
    assert "999" not in text_to_read


def test_forward_with_its_own_order_lines_is_not_a_cover_note() -> None:
    body = "Please book:\n- 5 pcs AX-1\n- 2 cases BR-2\n"
    assert not is_cover_note(body)
    quoted = "---------- Forwarded message ---------\nFrom: x\nSubject: y\n\nold order 10 pcs ZZ-9\n"
    assert order_text(body, quoted) == body


def test_reply_history_is_never_order_text() -> None:
    quoted = "On Mon, 2 Nov 2026, Desk wrote:\n> 50 x MQ-6617, PO 999\n"
    assert order_text("Thanks!\n", quoted) == "Thanks!\n"
    assert forwarded_text(quoted) == ""


def test_subject_prefixes() -> None:
    assert subject_prefixes("RE: AW: Order 1").reply
    assert subject_prefixes("WG: RE: Order 1").forward
    assert subject_prefixes("Fwd: [EXT] Order 1").rest == "[EXT] Order 1"
    p = subject_prefixes("Re[2]: TR: Bestellung 5")
    assert p.reply and p.rest == "Bestellung 5"
    assert not subject_prefixes("Return goods").reply


@pytest.mark.parametrize(
    "closing",
    ["Best regards,", "Mit freundlichen Grüßen", "Cordialement,", "Saludos cordiales,", "Distinti saluti", "Met vriendelijke groet,", "谢谢", "Thanks, Anna", "thanks!"],
)
def test_signature_starts_at_the_closing(closing: str) -> None:
    text = f"Please deliver 5 pcs AX-1.\n\n{closing}\nAnna Smith\nACME Ltd\n1 Main Road, Leeds LS1 1AA\n"
    assert text[signature_start(text) :].startswith(closing)


def test_signature_without_closing_is_the_contact_paragraph() -> None:
    text = "Please deliver 5 pcs AX-1.\n\nAnna Smith\nACME Ltd\nTel. +44 113 000000\nwww.acme.example\n"
    assert text[signature_start(text) :].startswith("Anna Smith")


def test_no_signature() -> None:
    text = "Please deliver 5 pcs AX-1.\n"
    assert signature_start(text) == len(text)


def test_a_cover_note_closing_does_not_cut_off_the_forwarded_order() -> None:
    body = "FYI\n\nThanks,\nMike\n"
    quoted = (
        "---------- Forwarded message ---------\nFrom: Jen <j@x.com>\nSubject: order\n\n"
        "- 5 pcs AX-1234\n- 2 cases BR-2345\n\nRegards\nJen\n"
    )
    assert order_text(body, quoted) == "FYI\n\n- 5 pcs AX-1234\n- 2 cases BR-2345\n\nRegards\nJen\n"


def test_xml_with_a_leading_comment_or_doctype_is_sniffed_as_xml():
    """Given order XML that opens with a comment or a DOCTYPE instead of <?xml,
    when sniffed, then it is XML (so the structured-order reader sees it)."""
    from extractors.sniff import XML, sniff

    assert sniff(b"<!-- exported by ERP -->\n<Order xmlns='urn:x'><ID>1</ID></Order>") == XML
    assert sniff(b"<!DOCTYPE Order>\n<Order><ID>1</ID></Order>") == XML
