"""Sender checks against business-email compromise (issue 5, "Customer and sender").

Each check is a rule ``(order, ctx) -> Iterable[Reason]`` like those in
``bot.rules``; each reads the message the order came in (``ctx.message``) and
returns ``unverified_sender`` with evidence (``field="sender"``, what was
expected, what was found). None of them changes the order.

- ``authentication_results``: DMARC (with DKIM and SPF as evidence) only from
  the ``Authentication-Results`` header(s) our own server added, recognised by
  the configured authserv-id; every other copy is forgeable and ignored.
- ``reply_to_outside_customer``: replies would go to a domain not the customer's.
- ``look_alike_domain``: the sender's domain is not a customer's, but within a
  small edit distance of one, or the same after homoglyph and punycode folding.
- ``display_name_impersonation``: the display name names a customer, or holds an
  address of another domain, that the actual address does not belong to.
- ``strict_sender_address``: the From header read strictly (CVE-2023-27043):
  a header strict parsing rejects, more than one address, or a parser
  differential goes to review.
- ``dkim_signatures`` (with ``verify_dkim``): a DKIM signature verified with
  dkimpy whose d= domain is the customer's; none, a failing one, or one of
  another domain goes to review, and so does a key DNS could not deliver.
- ``first_order_from_sender`` (with ``new_sender_needs_review``): an address
  that has never sent an order of this customer that went through.
"""

from __future__ import annotations

import inspect
import re
import unicodedata
from collections.abc import Iterable
from email import utils as email_utils
from email._parseaddr import AddressList  # the parser getaddresses() uses
from typing import TYPE_CHECKING

from rapidfuzz.distance import Levenshtein

from bot.dkim_check import DkimStatus, verify_signatures
from bot.model import Message, Order, Reason, ReasonCode
from bot.resolve import _name_core, simplify
from connectors.masterdata import Customer, MasterData

if TYPE_CHECKING:  # bot.rules registers these rules, so it cannot be imported here
    from bot.rules import RuleContext

FIELD = "sender"
MAX_EDIT_DISTANCE = 2
MIN_LOOK_ALIKE_LENGTH = 5  # shorter names are too close to everything to compare

_EMAIL = re.compile(r"[^\s@<>\"'(),;:]+@[^\s@<>\"'(),;:]+\.[^\s@<>\"'(),;:]+")


def _reason(message: str, expected: str | None, found: str | None) -> Reason:
    return Reason(ReasonCode.UNVERIFIED_SENDER, message, field=FIELD, expected=expected, found=found)


def _domain_of(address: str | None) -> str | None:
    if address and "@" in address:
        return address.rsplit("@", 1)[1].strip().strip(".").lower() or None
    return None


def _within(domain: str, domains: Iterable[str]) -> bool:
    """``domain`` is one of ``domains`` or a subdomain of one."""
    return any(domain == d or domain.endswith("." + d) for d in (d.lower() for d in domains))


def _all_customer_domains(master: MasterData) -> list[tuple[str, Customer]]:
    return [(d.lower(), c) for c in master.customers() for d in c.email_domains]


# --- Authentication-Results (RFC 8601) --------------------------------------------

_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")
_RESULT = re.compile(r"^\s*([A-Za-z][\w-]*)\s*=\s*([A-Za-z]+)")


def _parse_authentication_results(value: str) -> tuple[str, dict[str, str]]:
    """(authserv-id, {method: result}) of one header value; the first result per method."""
    text = value
    for _ in range(5):  # nested comments
        text = _COMMENT.sub(" ", text)
    parts = text.split(";")
    head = parts[0].split()
    authserv_id = head[0].strip().lower() if head else ""
    results: dict[str, str] = {}
    for part in parts[1:]:
        if m := _RESULT.match(part):
            results.setdefault(m.group(1).lower(), m.group(2).lower())
    return authserv_id, results


def trusted_authentication_results(message: Message, authserv_id: str) -> tuple[dict[str, str], int]:
    """The results of the topmost run of ``Authentication-Results`` headers carrying
    our ``authserv_id`` (our server prepends its header above any that came with the
    message), and how many other copies were ignored."""
    ours = authserv_id.strip().lower()
    results: dict[str, str] = {}
    ignored = 0
    state = "before"  # before our run, in it, after it
    for name, value in message.headers:
        if name.lower() != "authentication-results":
            continue
        serv, found = _parse_authentication_results(value)
        if state != "after" and serv == ours:
            state = "in"
            for method, result in found.items():
                results.setdefault(method, result)
        else:
            if state == "in":
                state = "after"
            ignored += 1
    return results, ignored


def authentication_results(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    message, authserv_id = ctx.message, ctx.settings.authserv_id
    if message is None or not authserv_id:
        return
    results, ignored = trusted_authentication_results(message, authserv_id)
    found = " ".join(f"{m}={results[m]}" for m in ("dmarc", "dkim", "spf") if m in results) or "no result from " + authserv_id
    if ignored:
        found += f" ({ignored} Authentication-Results from other servers ignored)"
    dmarc = results.get("dmarc")
    if dmarc == "fail":
        yield _reason(f"DMARC failed for {message.sender_domain or 'the sender'} at {authserv_id}", "dmarc=pass", found)
    elif dmarc != "pass" and ctx.settings.require_dmarc_pass:
        yield _reason(f"DMARC did not pass for {message.sender_domain or 'the sender'} at {authserv_id}", "dmarc=pass", found)


# --- Reply-To --------------------------------------------------------------------

def reply_to_outside_customer(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    message = ctx.message
    if message is None or not message.reply_to:
        return
    domain = _domain_of(message.reply_to)
    customer = ctx.customer.customer
    if customer is not None:
        allowed = tuple(customer.email_domains)
        whose = f"{customer.name}'s domains"
    else:
        allowed = (message.sender_domain,) if message.sender_domain else ()
        whose = "the sender's domain"
    if domain is None or not _within(domain, allowed):
        yield _reason(f"Reply-To {message.reply_to} is outside {whose}", ", ".join(allowed) or None, message.reply_to)


# --- look-alike domains ------------------------------------------------------------

# Characters that look like Latin letters (Unicode confusables, the common ones).
_CONFUSABLES = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "һ": "h", "ӏ": "l", "ɡ": "g", "ո": "n", "ս": "u",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w",
    # Latin look-alikes
    "ı": "i", "ł": "l", "ß": "ss", "ø": "o", "đ": "d", "ħ": "h",
})
# Sequences that read alike in most fonts; applied after the map, to both sides.
_SKELETON = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("0", "o"), ("1", "l"), ("i", "l"), ("|", "l"), ("5", "s"))


def _unicode_domain(domain: str) -> str:
    labels = []
    for label in domain.lower().strip(".").split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                try:
                    label = label[4:].encode("ascii").decode("punycode")
                except UnicodeError:
                    pass
        labels.append(label)
    return ".".join(labels)


def skeleton(domain: str) -> str:
    """``domain`` folded so that look-alikes compare equal: punycode decoded,
    compatibility forms and accents removed, confusable letters mapped to Latin."""
    text = unicodedata.normalize("NFKC", _unicode_domain(domain)).lower().translate(_CONFUSABLES)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    for seq, repl in _SKELETON:
        text = text.replace(seq, repl)
    return text


_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ltd", "plc"})


def _name_part(domain: str) -> str:
    """The domain without its public suffix (roughly: no public suffix list here)."""
    labels = domain.split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        labels = labels[:-2]
    elif len(labels) >= 2:
        labels = labels[:-1]
    return labels[-1] if labels else domain


def look_alike_of(domain: str, master: MasterData) -> tuple[str, Customer, str] | None:
    """(customer domain, customer, why) when ``domain`` imitates a customer's domain."""
    domain = domain.lower().strip(".")
    if master.customer_by_domain(domain) is not None:
        return None
    plain = _unicode_domain(domain)
    folded = skeleton(domain)
    for known, customer in _all_customer_domains(master):
        if plain.startswith(known + "."):
            return known, customer, f"starts with {known}"
        if folded == skeleton(known):
            return known, customer, "the same after homoglyph and punycode folding"
        if min(len(plain), len(known)) >= MIN_LOOK_ALIKE_LENGTH:
            distance = Levenshtein.distance(plain, known)
            if distance <= MAX_EDIT_DISTANCE:
                return known, customer, f"edit distance {distance}"
        mine, theirs = _name_part(folded), _name_part(skeleton(known))
        if min(len(mine), len(theirs)) >= MIN_LOOK_ALIKE_LENGTH and Levenshtein.distance(mine, theirs) <= MAX_EDIT_DISTANCE // 2:
            return known, customer, f"name {_name_part(plain)!r} imitates {_name_part(known)!r}"
    return None


def look_alike_domain(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    message = ctx.message
    if message is None or not message.sender_domain:
        return
    if hit := look_alike_of(message.sender_domain, ctx.master):
        known, customer, why = hit
        yield _reason(
            f"sender domain {message.sender_domain} looks like {known} of {customer.name} ({why}) but is not theirs",
            known,
            message.sender_domain,
        )


# --- display names ---------------------------------------------------------------------

MIN_BRAND_LENGTH = 6


def _brand_words(customer: Customer) -> set[str]:
    """The first word of the customer's name when its domains start with it
    ("nordwind" of Nordwind Logistik GmbH, nordwind.de); generic words ("foods",
    "industrie") are not brands."""
    words = _name_core(customer.name).split()
    labels = {_name_part(d.lower()) for d in customer.email_domains}
    if words and len(words[0]) >= MIN_BRAND_LENGTH and any(label.startswith(words[0]) for label in labels):
        return {words[0]}
    return set()


def display_name_impersonation(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    message = ctx.message
    if message is None or not message.sender_name:
        return
    display, domain = message.sender_name, message.sender_domain
    for address in _EMAIL.findall(display):
        other = _domain_of(address)
        if other and other != domain:
            yield _reason(
                f"the display name shows {address}, but the mail came from {message.sender}",
                address,
                f"{display} <{message.sender}>",
            )
            return
    words = f" {simplify(display)} "
    for customer in ctx.master.customers():
        if domain and _within(domain, customer.email_domains):
            continue
        core = _name_core(customer.name)
        named = (core and f" {core} " in words) or any(f" {w} " in words for w in _brand_words(customer))
        if named:
            yield _reason(
                f"the display name {display!r} names {customer.name}, but {message.sender or 'the address'} is not one of theirs",
                ", ".join(customer.email_domains),
                f"{display} <{message.sender}>",
            )
            return


# --- strict From parsing (CVE-2023-27043) ------------------------------------------------

_HAS_STRICT = "strict" in inspect.signature(email_utils.getaddresses).parameters
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def _balanced_parentheses(value: str) -> bool:
    depth, escaped, quoted = 0, False, False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"' and depth == 0:
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def strict_addresses(value: str) -> list[tuple[str, str]] | None:
    """The addresses of one address header read strictly, or None when strict parsing
    rejects it: ``getaddresses(strict=True)`` where Python has it (3.11.10+), else the
    same checks done here (balanced parentheses, no ``[`` in an address, as many
    addresses as unquoted commas say)."""
    if _HAS_STRICT:
        found = email_utils.getaddresses([value], strict=True)
    else:
        if not _balanced_parentheses(value):
            return None
        found = [("", "") if "[" in addr else (name, addr) for name, addr in AddressList(value).addresslist]
        if len(found) != _QUOTED.sub('""', value).count(",") + 1:
            return None
    if not found or any(not addr for _, addr in found):
        return None
    return found


def strict_sender_address(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    message = ctx.message
    if message is None:
        return
    froms = [v for k, v in message.headers if k.lower() == "from"]
    if not froms:
        return  # no From at all: the customer checks already send it to review
    if len(froms) > 1:
        yield _reason(f"the message has {len(froms)} From headers", "one From header", " | ".join(froms))
        return
    raw = froms[0]
    found = strict_addresses(raw)
    if found is None:
        yield _reason("the From header is rejected by strict address parsing (CVE-2023-27043)", "one address", raw)
        return
    if len(found) > 1:
        yield _reason(f"the From header holds {len(found)} addresses", "one address", raw)
        return
    name, addr = found[0]
    if addr.count("@") != 1:
        yield _reason(f"the From address {addr!r} has {addr.count('@')} @ signs", "local@domain", raw)
    elif addr.strip("<>").lower() != (message.sender or ""):
        yield _reason(f"strict parsing reads the From address as {addr!r}, the message parser as {message.sender!r}", addr, raw)
    elif "@" in name or "@" in (message.sender_name or ""):
        yield _reason("the From display name holds an @ that could pass for the address", message.sender, raw)


# --- DKIM, verified here --------------------------------------------------------------


def dkim_signatures(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    customer = ctx.customer.customer
    if not ctx.settings.verify_dkim or ctx.message is None or customer is None:
        return  # no customer: unknown_customer already sends it to review
    expected = "a valid DKIM signature with d= " + " or ".join(customer.email_domains)
    if ctx.raw_message is None:
        yield _reason("DKIM could not be verified: the message as received is not at hand", expected, None)
        return
    results = verify_signatures(ctx.raw_message, ctx.dkim_dns)
    found = "; ".join(map(str, results)) or "no DKIM-Signature header"
    if any(r.status is DkimStatus.PASS and r.domain and _within(r.domain, customer.email_domains) for r in results):
        return
    if any(r.status is DkimStatus.DNS_ERROR for r in results):
        yield _reason("DKIM could not be verified: a signing key could not be fetched from DNS (try again later)", expected, found)
    elif not results:
        yield _reason(f"the message carries no DKIM signature, so it cannot be told to come from {customer.name}", expected, found)
    else:
        yield _reason(f"no valid DKIM signature of {customer.name}'s domains", expected, found)


# --- a sender never seen before ----------------------------------------------------------


def first_order_from_sender(order: Order, ctx: RuleContext) -> Iterable[Reason]:
    customer = ctx.customer.customer
    message = ctx.message
    if not ctx.settings.new_sender_needs_review or message is None or customer is None or not message.sender:
        return
    if not ctx.sender_seen(customer.customer_id, message.sender):
        yield _reason(
            f"first order from {message.sender} for {customer.customer_id}",
            f"an address that sent {customer.customer_id}'s orders before",
            message.sender,
        )


SENDER_RULES = (
    authentication_results,
    reply_to_outside_customer,
    look_alike_domain,
    display_name_impersonation,
    strict_sender_address,
    dkim_signatures,
    first_order_from_sender,
)
