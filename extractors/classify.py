"""What kind of message this is: a new order, a change, a cancellation, an inquiry, or other.

Only the subject and the message's own new text are read (never quoted reply
history, never the signature); a forward whose cover note is empty is read
together with the forwarded message, as the extractors do. The evidence words
are in ``vocabulary/text.yaml`` (``kinds``), in many languages.

Precedence, from the strongest claim down:

1. cancellation / change: the new text or subject asks to cancel or to change
   an existing order. With an order document attached this needs clear words,
   since a new PO may mention an older one.
2. an order document attached -> ``order`` (unless the subject says it is a
   remittance, a delivery notice, an auto-reply... and the text names no order).
3. automatic replies (``Auto-Submitted: auto-replied``) -> ``other``.
4. order lines in the body -> ``order`` unless the text clearly asks for a
   quotation/availability/status without ordering (``inquiry``) or is a
   notification (``other``).
5. no order content: ``other`` / ``inquiry`` evidence, else order words alone
   (an order whose document is missing) -> ``order`` with low confidence, else
   ``other``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from bot.model import Message, MessageKind
from extractors.quotes import (
    is_negated,
    order_text,
    phrase_pattern,
    signature_start,
    subject_prefixes,
    text_vocabulary,
)
from extractors.text import find_po_numbers, find_subject_po


# The evidence of a message's kind is at its beginning; a huge body is read this far.
_MAX_TEXT = 20_000


@dataclass(frozen=True, slots=True)
class Classification:
    kind: MessageKind
    confidence: float
    referenced_po: str | None
    evidence: str


@dataclass(frozen=True, slots=True)
class _Evidence:
    subject_strong: tuple[str, ...]
    text_strong: tuple[str, ...]
    weak: tuple[str, ...]

    @property
    def strong(self) -> bool:
        return bool(self.subject_strong or self.text_strong)

    @property
    def score(self) -> float:
        return 3 * len(self.subject_strong) + 2 * len(self.text_strong) + 0.5 * min(len(self.weak), 2)

    def describe(self, kind: str) -> str:
        parts = [f"{w!r} in subject" for w in self.subject_strong]
        parts += [f"{w!r} in text" for w in self.text_strong]
        parts += [f"{w!r} (weak)" for w in self.weak[:3]]
        return f"{kind}: " + ", ".join(parts) if parts else ""


@cache
def _kind_patterns() -> dict[str, tuple]:
    kinds = text_vocabulary()["kinds"]
    return {k: (phrase_pattern(v.get("strong") or []), phrase_pattern(v.get("weak") or [])) for k, v in kinds.items()}


def _hits(pattern: re.Pattern[str], text: str) -> tuple[str, ...]:
    out = []
    for m in pattern.finditer(text):
        if is_negated(text, m.start()):
            continue
        out.append(" ".join(m.group(0).lower().split()))
    return tuple(out)


def _evidence(kind: str, subject: str, text: str) -> _Evidence:
    strong, weak = _kind_patterns()[kind]
    s_strong = _hits(strong, subject)
    t_strong = _hits(strong, text)
    w = _hits(weak, subject) + _hits(weak, text)
    return _Evidence(s_strong, t_strong, w)


@cache
def _order_words() -> re.Pattern[str]:
    return phrase_pattern(text_vocabulary()["kinds"]["order"]["weak"])


def _mentions_order(phrase: str) -> bool:
    """"amend the order", "revised PO", "Änderung zur Bestellung" (not "please change")."""
    return bool(_order_words().search(phrase))

_AUTO_REPLY = re.compile(r"auto-replied|auto_reply|autoreply|vacation|out of office", re.I)


def _auto_reply(message: Message) -> bool:
    if (message.header("Auto-Submitted") or "").lower().startswith("auto-replied"):
        return True
    if message.header("X-Autoreply") or message.header("X-Autorespond"):
        return True
    return bool(_AUTO_REPLY.search(message.header("Precedence") or ""))


def _bulk(message: Message) -> bool:
    precedence = (message.header("Precedence") or "").lower()
    return precedence in ("bulk", "list", "junk") or bool(message.header("List-Unsubscribe"))


def classify(message: Message, *, has_order_document: bool, body_orders: int) -> Classification:
    """The kind of ``message``; ``body_orders`` is how many orders the text extractor found in it."""
    prefixes = subject_prefixes(message.subject)
    subject = prefixes.rest
    text = order_text(message.body, message.quoted, message.subject)
    own = text[: signature_start(text)][:_MAX_TEXT]
    ev = {k: _evidence(k, subject, own) for k in ("cancellation", "change", "inquiry", "other", "order")}
    cancel, change, inquiry, other, order = (ev[k] for k in ("cancellation", "change", "inquiry", "other", "order"))
    po = _referenced_po(subject, own)

    def result(kind: MessageKind, confidence: float, *why: str) -> Classification:
        evidence = "; ".join(w for w in why if w) or "no evidence words"
        # a new order's own PO comes from its extraction; a PO named around it is an older one
        referenced = None if kind is MessageKind.ORDER else po
        return Classification(kind, round(min(max(confidence, 0.0), 1.0), 3), referenced, evidence)

    def conf(e: _Evidence) -> float:
        if e.subject_strong and e.text_strong:
            return 0.95
        if e.strong:
            return 0.85
        return 0.6

    # 1. cancellation / change of an existing order
    order_claims = len(order.text_strong) + len(order.subject_strong)
    for kind, e, rival in (
        (MessageKind.CANCELLATION, cancel, change),
        (MessageKind.CHANGE, change, cancel),
    ):
        if not e.strong or e.score < rival.score:
            continue
        if has_order_document and not e.subject_strong and not any(_mentions_order(w) for w in e.text_strong):
            # "attached PO; please change the invoice address in your records": with a
            # document, only words about the order itself ("amend the order") make a change
            continue
        if has_order_document or body_orders:
            # a new order may mention an old one: the words must outweigh the order's own
            if not e.subject_strong and e.score <= order.score - 1:
                continue
            if body_orders and not e.subject_strong and order_claims and kind is MessageKind.CHANGE:
                continue
        return result(kind, conf(e), e.describe(kind.value), f"PO {po}" if po else "no PO number found")

    # 2. an order document is attached
    if has_order_document:
        if other.subject_strong and not order.strong and not order.weak:
            return result(MessageKind.OTHER, 0.7, other.describe("other"), "document is not described as an order")
        return result(MessageKind.ORDER, 0.95 if order.strong else 0.85, "order document attached", order.describe("order"))

    # 3. automatic replies
    if _auto_reply(message):
        return result(MessageKind.OTHER, 0.95, "automatic reply header")

    # 4. order lines in the body
    if body_orders:
        if inquiry.strong and not order.strong and inquiry.score >= 2:
            return result(MessageKind.INQUIRY, conf(inquiry) - 0.1, inquiry.describe("inquiry"), "items named without ordering")
        if other.strong and not order.strong:
            return result(MessageKind.OTHER, 0.6, other.describe("other"))
        return result(
            MessageKind.ORDER,
            0.95 if order.strong else 0.75,
            f"{body_orders} order(s) in the text",
            order.describe("order"),
        )

    # 5. nothing to order from
    if other.strong and other.score >= inquiry.score:
        return result(MessageKind.OTHER, conf(other), other.describe("other"))
    question = "?" in own or "？" in own
    if inquiry.strong or (inquiry.weak and question):
        return result(MessageKind.INQUIRY, conf(inquiry) if inquiry.strong else 0.55, inquiry.describe("inquiry"))
    if _bulk(message):
        return result(MessageKind.OTHER, 0.8, "bulk/list mail headers")
    if order.strong:
        return result(MessageKind.ORDER, 0.5, order.describe("order"), "order words but no order document or lines")
    if other.weak:
        return result(MessageKind.OTHER, 0.55, other.describe("other"))
    return result(MessageKind.OTHER, 0.4, "no order, change, cancellation or question found")


def _referenced_po(subject: str, text: str) -> str | None:
    found = find_po_numbers(text)
    if found:
        return found[0].value
    hit = find_subject_po(subject)
    if hit:
        return hit.value
    # "cancel order 12345" in the text: the subject's looser order words
    hit = find_subject_po(text)
    return hit.value if hit else None

