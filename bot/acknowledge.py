"""The acknowledgement email a customer gets once the portal has given an order number."""

from __future__ import annotations

from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import formatdate, getaddresses, make_msgid

from bot.store import LedgerEntry, StoredOrder


def acknowledgement(stored: StoredOrder, entry: LedgerEntry, raw: bytes, *, sender: str) -> EmailMessage | None:
    """A reply threaded to the customer's message, or None when it has no sender address."""
    headers = BytesHeaderParser(policy=default).parsebytes(raw[:262_144]) if not raw.startswith(b"%PDF") else None
    if headers is None:
        return None
    reply_to = getaddresses([str(headers.get("Reply-To") or headers.get("From") or "")])
    address = next((addr for _, addr in reply_to if "@" in addr), None)
    if address is None:
        return None
    order = stored.order
    po = order.po_number.value or "(no PO number)"
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = address
    subject = str(headers.get("Subject") or f"PO {po}")
    reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reply["Date"] = formatdate(localtime=False)
    reply["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    if entry.message_id and not entry.message_id.endswith("@orderbot.invalid>"):
        reply["In-Reply-To"] = entry.message_id
        reply["References"] = entry.message_id
    lines = [
        "Thank you for your order.",
        "",
        f"Your PO:          {po}",
        f"Our order number: {stored.portal_order_number}",
    ]
    if order.delivery_date.value:
        lines.append(f"Requested date:   {order.delivery_date.value:%d.%m.%Y}")
    lines += ["", "Lines:"]
    for line in order.lines:
        qty = format(line.quantity.value, "f") if line.quantity.value is not None else "?"
        lines.append(f"  {qty} {line.uom.value or ''} {line.sku.value or line.customer_sku.value or ''}".rstrip())
    lines += ["", "This confirmation was sent automatically by the order desk."]
    reply.set_content("\n".join(lines) + "\n")
    return reply
