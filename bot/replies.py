"""Emails to customers about their orders: what they say, to whom, and when not.

Two kinds (``MailKind``): the **acknowledgement** of a keyed order (the portal's
order number and the lines as keyed) and the **clarification request** for an
order in review (what is missing or unclear, field by field, from the order's
``Reason`` objects with what was expected and what was found).

The text comes from Jinja2 templates in a folder (``config/mail`` by
default), one file per kind and language: ``acknowledgement.de.txt``,
``clarification.fr.txt``. A template renders like a short email: a
``Subject:`` line (used when the customer's message had no subject; a reply
otherwise keeps theirs with ``Re:``), an empty line, the body. Templates are
plain text (no HTML escaping) with ``StrictUndefined``: ``Templates.load``
renders every file with sample orders, so a misspelt variable stops the bot at
start with the file named, not at the first customer.

A reply is written in the customer's language when a template exists for it:
the language the message is written in when that is clear, else the one of the
customer's country (master data), else English. It is threaded to the
customer's message (``In-Reply-To``, ``References``) and marked
``Auto-Submitted: auto-replied`` (RFC 3834).

No reply is sent (``Suppressed``, recorded by the caller) to an auto-reply or
bulk mail, a list, a bounce, a ``noreply`` sender, or a message without a
sender. ``Reply-To`` is followed only within the domain of ``From``: a
foreign Reply-To is the classic business-email-compromise trick to have order
data sent elsewhere, so the reply goes to ``From`` and the mail notes it.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any

import jinja2

from bot.errors import ConfigError
from bot.model import Message, OrderLine, Reason, ReasonCode
from bot.resolve import customer_country
from bot.store import MailKind, StoredOrder
from connectors.masterdata import MasterData
from extractors.text import guess_language

DEFAULT_TEMPLATES = Path(__file__).resolve().parents[1] / "config" / "mail"
FALLBACK_LANGUAGE = "en"

_TEMPLATE_NAME = re.compile(r"^(?P<kind>[a-z_]+)\.(?P<language>[a-z]{2,3})\.txt$")
_SUBJECT_LINE = re.compile(r"^Subject:[ \t]*(?P<subject>\S.*?)[ \t]*$")
_LINE_FIELD = re.compile(r"^lines\[(?P<index>\d+)\](?:\.(?P<item>\w+))?$")
_REPLY_PREFIX = re.compile(r"^\s*re\s*:", re.IGNORECASE)

# Countries whose language is clear; for others (BE, CH, LU, CA, ...) the
# message text decides, or English.
COUNTRY_LANGUAGES: dict[str, str] = {
    **dict.fromkeys(("DE", "AT", "LI"), "de"),
    **dict.fromkeys(("FR", "MC"), "fr"),
    **dict.fromkeys(("ES", "MX", "AR", "CO", "CL", "PE", "VE", "EC", "UY", "PY", "BO", "CR", "PA", "DO", "GT", "HN", "SV", "NI"), "es"),
    **dict.fromkeys(("IT", "SM", "VA"), "it"),
    **dict.fromkeys(("NL", "SR"), "nl"),
    **dict.fromkeys(("CN", "TW", "HK", "MO"), "zh"),
    **dict.fromkeys(("GB", "UK", "US", "IE", "AU", "NZ"), "en"),
}

# Reasons that are the order desk's business, never put to a customer:
# credit, sender verification, duplicates, and change/cancel requests (a
# person answers those).
INTERNAL_REASONS = frozenset(
    {
        ReasonCode.CREDIT_HOLD,
        ReasonCode.CREDIT_LIMIT,
        ReasonCode.UNVERIFIED_SENDER,
        ReasonCode.UNKNOWN_CUSTOMER,
        ReasonCode.DUPLICATE_PO,
        ReasonCode.CHANGE_REQUEST,
        ReasonCode.CANCELLATION_REQUEST,
    }
)

# Local parts (before any +tag) of senders that must never get an automatic reply.
_NO_REPLY_LOCAL = re.compile(
    r"^(?:mailer-daemon|postmaster|listserv|majordomo|bounces?|owner-.*|.*-request|.*-bounces?)$"
    r"|no[-_.]?reply|do[-_.]?not[-_.]?reply",
    re.IGNORECASE,
)
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk", "auto_reply"})


# --- what templates see ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineView:
    """One order line as a template shows it; quantities as plain decimals ("2.5")."""

    position: int
    quantity: str | None
    uom: str | None
    sku: str | None
    customer_sku: str | None
    description: str | None
    written: str | None  # the line as the customer wrote it


@dataclass(frozen=True, slots=True)
class IssueView:
    """One thing to clarify, from a ``Reason``.

    ``item`` is the field without its line ("quantity", "po_number"), ``line``
    the line position (from 1) when the reason is about a line, ``written`` what
    the customer wrote on that line; ``expected``/``found`` the evidence.
    ``message`` is the bot's own (English) wording, for a template's fallback.
    """

    code: str
    field: str | None
    item: str | None
    line: int | None
    written: str | None
    expected: str | None
    found: str | None
    message: str


# --- results ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """A composed email, ready to queue. ``data`` is exactly what is sent."""

    kind: MailKind
    sender: str  # envelope sender, bare address
    recipient: str  # bare address
    subject: str
    message_id: str
    language: str
    data: bytes
    note: str | None = None  # something a person should know (an ignored Reply-To)


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A reply deliberately not sent, and why."""

    kind: MailKind
    reason: str


Composed = Reply | Suppressed


# --- templates ------------------------------------------------------------------


class Templates:
    """The reply templates of one folder, each checked at load."""

    def __init__(self, directory: Path, environment: jinja2.Environment, languages: dict[MailKind, frozenset[str]]) -> None:
        self.directory = directory
        self._env = environment
        self._languages = languages

    @classmethod
    def load(cls, directory: Path = DEFAULT_TEMPLATES) -> Templates:
        """Read and check every ``KIND.LANG.txt`` in ``directory``.

        Raises ``ConfigError`` naming the file for a name that is no known kind,
        a syntax error (with its line), a variable that does not exist, a
        missing ``Subject:`` line, or a kind without its English template.
        """
        directory = Path(directory)
        if not directory.is_dir():
            raise ConfigError("the reply templates folder does not exist", path=str(directory))
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory), encoding="utf-8"),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        env.filters["upper_first"] = _upper_first
        found: dict[MailKind, set[str]] = {kind: set() for kind in MailKind}
        templates = cls(directory, env, {})
        for path in sorted(directory.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            match = _TEMPLATE_NAME.match(path.name)
            kinds = {k.value for k in MailKind}
            if match is None or match["kind"] not in kinds:
                raise ConfigError(
                    f"not a reply template name; expected KIND.LANG.txt with KIND one of {', '.join(sorted(kinds))}",
                    path=str(path),
                )
            kind, language = MailKind(match["kind"]), match["language"]
            for context in _samples(kind):
                templates.render(kind, language, context)
            found[kind].add(language)
        for kind, languages in found.items():
            if FALLBACK_LANGUAGE not in languages:
                raise ConfigError(f"no {kind}.{FALLBACK_LANGUAGE}.txt: every kind needs its English template", path=str(directory))
        templates._languages = {k: frozenset(v) for k, v in found.items()}
        return templates

    def languages(self, kind: MailKind) -> frozenset[str]:
        return self._languages.get(kind, frozenset())

    def render(self, kind: MailKind, language: str, context: dict[str, Any]) -> tuple[str, str]:
        """(subject, body) of the template for ``kind`` in ``language``."""
        name = f"{kind}.{language}.txt"
        path = str(self.directory / name)
        try:
            text = self._env.get_template(name).render(context)
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(f"line {exc.lineno}: {exc.message}", path=path) from exc
        except jinja2.TemplateNotFound as exc:
            raise ConfigError("no such template", path=path) from exc
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"{exc.message} (variables: {', '.join(sorted(context))})", path=path) from exc
        except (jinja2.TemplateError, TypeError, ValueError, AttributeError, KeyError) as exc:
            raise ConfigError(f"cannot render: {type(exc).__name__}: {exc}", path=path) from exc
        head, _, body = text.partition("\n")
        match = _SUBJECT_LINE.match(head)
        if match is None or (body and not body.startswith("\n")):
            raise ConfigError("must start with a 'Subject: ...' line and an empty line, then the body", path=path)
        return match["subject"], body.lstrip("\n").rstrip() + "\n"


# --- composing ------------------------------------------------------------------


class ReplyWriter:
    """Composes acknowledgements and clarification requests from an order and
    the customer's message (``extractors.mime.parse_message``)."""

    def __init__(
        self,
        templates: Templates,
        *,
        sender: str,
        master: MasterData | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        _, address = parseaddr(sender)
        if "@" not in address:
            raise ConfigError(f"{sender!r} is not an email address", key="outbox.sender")
        self.templates = templates
        self.sender = sender
        self.address = address.lower()
        self.master = master
        self.clock = clock

    def acknowledgement(self, stored: StoredOrder, original: Message | None) -> Composed:
        if stored.portal_order_number is None:
            raise ValueError(f"order {stored.id} has no portal order number: it is not keyed")
        context = {"order_number": stored.portal_order_number}
        return self._compose(MailKind.ACKNOWLEDGEMENT, stored, original, context)

    def clarification(
        self, stored: StoredOrder, original: Message | None, reasons: Sequence[Reason] | None = None
    ) -> Composed:
        """Ask the customer about ``reasons`` (default: the order's own, less the
        internal ones). Raises ``ValueError`` for an internal reason given
        explicitly, or when nothing is left to ask."""
        if reasons is None:
            reasons = [r for r in stored.order.reasons if r.code not in INTERNAL_REASONS]
        else:
            internal = sorted({str(r.code) for r in reasons if r.code in INTERNAL_REASONS})
            if internal:
                raise ValueError(f"never asked of a customer: {', '.join(internal)}")
        if not reasons:
            raise ValueError(f"order {stored.id}: nothing to ask the customer")
        context = {"issues": [_issue(r, stored.order.lines) for r in reasons]}
        return self._compose(MailKind.CLARIFICATION, stored, original, context)

    def language(self, kind: MailKind, stored: StoredOrder, original: Message) -> str:
        available = self.templates.languages(kind)
        country = None
        if self.master is not None and stored.customer_id:
            customer = self.master.customer(stored.customer_id)
            if customer is not None:
                country = customer_country(self.master, customer)
        written = guess_language(f"{original.subject}\n{original.body}")
        for candidate in (written, COUNTRY_LANGUAGES.get((country or "").strip().upper())):
            if candidate in available:
                return candidate
        return FALLBACK_LANGUAGE

    def _compose(self, kind: MailKind, stored: StoredOrder, original: Message | None, extra: dict[str, Any]) -> Composed:
        if original is None:
            return Suppressed(kind, "the order did not come by email: there is no one to reply to")
        recipient, note = reply_address(original)
        why = suppression_reason(original, recipient, own_address=self.address)
        if why is not None:
            return Suppressed(kind, why)
        assert recipient is not None
        language = self.language(kind, stored, original)
        order = stored.order
        customer = self.master.customer(stored.customer_id) if self.master and stored.customer_id else None
        context = {
            "contact_name": original.sender_name,
            "customer_name": customer.name if customer else order.customer_name.value,
            "po_number": order.po_number.value,
            "order_date": order.order_date.value,
            "delivery_date": order.delivery_date.value,
            "lines": [_line(i, line) for i, line in enumerate(order.lines, 1)],
            "original_subject": original.subject,
            "original_date": original.sent_at,
            "sender": self.address,
            **extra,
        }
        template_subject, body = self.templates.render(kind, language, context)
        subject = original.subject or template_subject
        if not _REPLY_PREFIX.match(subject):
            subject = f"Re: {subject}"
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = recipient
        message["Subject"] = subject
        message["Date"] = format_datetime(self.clock().astimezone(UTC))
        message_id = make_msgid(domain=self.address.rsplit("@", 1)[1])
        message["Message-ID"] = message_id
        parent = _real_message_id(original.message_id)
        if parent:
            message["In-Reply-To"] = parent
            message["References"] = " ".join(_references(original, parent))
        message["Auto-Submitted"] = "auto-replied"
        # Ask Exchange and others not to answer this with their own auto-replies.
        message["X-Auto-Response-Suppress"] = "All"
        message.set_content(body)  # (clears Content-* headers: set Content-Language after it)
        message["Content-Language"] = language
        return Reply(
            kind=kind,
            sender=self.address,
            recipient=recipient,
            subject=subject,
            message_id=message_id,
            language=language,
            data=message.as_bytes(policy=email.policy.SMTP),
            note=note,
        )


# --- who gets a reply ---------------------------------------------------------------


def reply_address(original: Message) -> tuple[str | None, str | None]:
    """Where a reply goes, and a note when a Reply-To was not followed.

    ``Reply-To`` counts only when it is in the same domain as ``From``."""
    sender = original.sender
    reply_to = original.reply_to
    if not reply_to or not sender or reply_to == sender:
        return sender, None
    if _domain(reply_to) == _domain(sender):
        return reply_to, None
    return sender, f"Reply-To {reply_to} is outside the sender's domain {_domain(sender)}; replied to From"


def suppression_reason(original: Message, recipient: str | None, *, own_address: str | None = None) -> str | None:
    """Why no automatic reply may go to this message, or None (RFC 3834 section 2)."""
    auto = original.header("Auto-Submitted")
    if auto is not None and auto.split(";")[0].strip().lower() not in ("", "no"):
        return f"the customer's message is automatic (Auto-Submitted: {auto.strip()})"
    precedence = (original.header("Precedence") or "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"the customer's message is bulk or list mail (Precedence: {precedence})"
    for name in ("List-Id", "List-Unsubscribe"):
        if original.header(name) is not None:
            return f"the customer's message came through a mailing list ({name})"
    suppress = {t.strip().lower() for t in re.split(r"[,\s]+", original.header("X-Auto-Response-Suppress") or "")}
    if suppress & {"all", "autoreply"}:
        return "the customer's message asks for no automatic replies (X-Auto-Response-Suppress)"
    for name in ("X-Autoreply", "X-Autorespond"):
        if original.header(name) is not None:
            return f"the customer's message is an auto-reply ({name})"
    return_path = original.header("Return-Path")
    if return_path is not None and return_path.strip() in ("<>", ""):
        return "the customer's message has a null sender (Return-Path: <>), like a bounce"
    if not original.sender:
        return "the customer's message has no sender address"
    for address in dict.fromkeys((original.sender, recipient)):
        if address and _NO_REPLY_LOCAL.search(address.split("@", 1)[0].split("+", 1)[0]):
            return f"{address} is an address that takes no replies"
    if recipient and own_address and recipient.lower() == own_address:
        return "the reply would go to our own address"
    return None


# --- helpers ------------------------------------------------------------------------


def _upper_first(text: str) -> str:
    """Capitalise the first letter only (Jinja's ``capitalize`` lowers the rest)."""
    return text[:1].upper() + text[1:]


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower()


def _real_message_id(message_id: str | None) -> str | None:
    """The customer's Message-ID, unless the parser had to make one up."""
    if not message_id or message_id.endswith("@orderbot.invalid>"):
        return None
    return message_id.strip()


def _references(original: Message, parent: str) -> list[str]:
    """RFC 5322 3.6.4: the parent's References (or its In-Reply-To), then the parent."""
    earlier = original.header("References") or original.header("In-Reply-To") or ""
    ids = [i for i in re.findall(r"<[^<>\s]+>", earlier) if i != parent]
    return [*dict.fromkeys(ids), parent]


def _plain(value: Decimal) -> str:
    """A decimal as written plainly: 4, 2.5 (never 4.000 or 1E+2)."""
    return format(value.normalize(), "f")


def _line(position: int, line: OrderLine) -> LineView:
    return LineView(
        position=position,
        quantity=_plain(line.quantity.value) if line.quantity.present else line.quantity_text,
        uom=line.uom.value,
        sku=line.sku.value,
        customer_sku=line.customer_sku.value,
        description=line.description.value,
        written=_written(line),
    )


def _written(line: OrderLine) -> str | None:
    text = line.text or line.customer_sku.value or line.description.value or (line.codes[0] if line.codes else None)
    return " ".join(text.split()) if text else None


def _issue(reason: Reason, lines: Sequence[OrderLine]) -> IssueView:
    """The rules name a line's field ``lines[N].item`` with N counted from 1."""
    item, line_no, written = reason.field, None, None
    match = _LINE_FIELD.match(reason.field or "")
    if match:
        line_no = int(match["index"])
        item = match["item"] or "line"
        if 1 <= line_no <= len(lines):
            written = _written(lines[line_no - 1])
    return IssueView(
        code=str(reason.code),
        field=reason.field,
        item=item,
        line=line_no,
        written=written,
        expected=reason.expected,
        found=reason.found,
        message=reason.message,
    )


def _samples(kind: MailKind) -> Iterable[dict[str, Any]]:
    """Contexts every template must render: one with every value, one sparse."""
    full_lines = [
        LineView(1, "24", "EA", "AX-2291", "NW-88812", "Pallet wrap 500mm", "24 EA Pallet wrap 500mm NW-88812"),
        LineView(2, "2.5", "KG", None, None, "Tape", "2,5 kg tape"),
    ]
    sparse_lines = [LineView(1, None, None, None, None, None, None)]
    full = {
        "contact_name": "Jana Becker",
        "customer_name": "Nordwind Logistik GmbH",
        "po_number": "4500012345",
        "order_date": date(2026, 11, 20),
        "delivery_date": date(2026, 12, 14),
        "lines": full_lines,
        "original_subject": "Order 4500012345",
        "original_date": datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        "sender": "orders@example.com",
    }
    sparse = {key: None for key in full} | {"lines": sparse_lines, "original_subject": "", "sender": "orders@example.com"}
    if kind is MailKind.ACKNOWLEDGEMENT:
        yield full | {"order_number": "SO-000123"}
        yield sparse | {"order_number": "SO-000123"}
        return
    every_code = [
        IssueView(str(code), f"lines[1].{item}", item, 1, "24 EA Pallet wrap", "3.20", "3.40", f"sample {code}")
        for code, item in zip(ReasonCode, ("quantity", "sku", "unit_price") * 6)
    ]
    order_level = [
        IssueView(str(ReasonCode.MISSING_FIELD), field, field, None, None, None, None, f"{field} is not stated")
        for field in ("po_number", "ship_to", "delivery_date", "lines", "currency")
    ]
    bare = [IssueView(str(code), None, None, None, None, None, None, f"sample {code}") for code in ReasonCode]
    yield full | {"issues": every_code + order_level}
    yield sparse | {"issues": bare}
