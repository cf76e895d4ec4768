"""The resolve stage: map what a document says onto master data.

Customer from the sender's domain (or, failing that, from a customer named in
the message), ship-to onto the customer's known addresses, each line's codes
and description onto our SKUs, and the line's unit onto the product's base
unit when none is written. Nothing here decides about review; it only records
what it could and could not resolve (the validate stage judges).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

from rapidfuzz import fuzz, process

from bot.model import Address, Field, Message, Order, OrderLine, Provenance
from connectors.masterdata import Customer, KnownAddress, MasterData

_PUNCT = re.compile(r"[^\w]+", re.UNICODE)
_NUMBERS = re.compile(r"\d+(?:[.,]\d+)?")
# rapidfuzz token_sort_ratio scores (0..100) for description matches
FUZZY_CANDIDATE = 85.0
FUZZY_CONFIDENT = 95.0
FUZZY_MARGIN = 4.0
_LEGAL_FORMS = frozenset(
    "gmbh ag kg co ltd limited inc llc plc sa sas sarl srl spa bv nv sl slu corp corporation company".split()
)


def simplify(text: str | None) -> str:
    """Lower-case, accents and punctuation removed, white space folded."""
    if not text:
        return ""
    text = text.replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_PUNCT.sub(" ", stripped.lower()).split())


def _name_core(name: str) -> str:
    return " ".join(w for w in simplify(name).split() if w not in _LEGAL_FORMS)


@dataclass(frozen=True, slots=True)
class CustomerMatch:
    customer: Customer | None
    by_domain: bool  # True when the sender's domain belongs to the customer
    confidence: float
    named_in_message: bool = False


def customer_country(master: MasterData, customer: Customer) -> str | None:
    """The customer's country: the most common country of its known addresses."""
    countries = [a.country for a in master.addresses(customer.customer_id)]
    return max(set(countries), key=countries.count) if countries else None


def match_customer(
    master: MasterData, message: Message, named: str | None, texts: tuple[str, ...], address: Address | None = None
) -> CustomerMatch:
    """Who sent this order.

    The sender's domain decides when it belongs to a customer. Otherwise a
    customer whose name appears in the document (``named``) or in the message
    texts is taken, or else the one customer a delivery ``address`` is known
    for; such a match is marked as not verified by domain.
    """
    if message.sender_domain and (by_domain := master.customer_by_domain(message.sender_domain)):
        return CustomerMatch(by_domain, True, 0.99)
    candidates: list[tuple[float, Customer]] = []
    haystack = " ".join(simplify(t) for t in texts)
    named_core = _name_core(named) if named else ""
    for customer in master.customers():
        core = _name_core(customer.name)
        if not core:
            continue
        if named_core and (named_core == core or SequenceMatcher(None, named_core, core).ratio() > 0.9):
            candidates.append((0.9, customer))
        elif f" {simplify(customer.name)} " in f" {haystack} ":
            candidates.append((0.8, customer))
    if not candidates and address is not None and not address.is_empty():
        owners = {
            known.customer_id
            for customer in master.customers()
            for known in master.addresses(customer.customer_id)
            if _address_score(address, known) >= _ADDRESS_IDENTIFIES
        }
        if len(owners) == 1:
            return CustomerMatch(master.customer(owners.pop()), False, 0.7, named_in_message=True)
    if not candidates:
        return CustomerMatch(None, False, 0.0)
    candidates.sort(key=lambda c: -c[0])
    best = candidates[0]
    if len(candidates) > 1 and candidates[1][0] == best[0] and candidates[1][1] != best[1]:
        return CustomerMatch(None, False, 0.0)  # two customers named: do not guess
    return CustomerMatch(best[1], False, best[0], named_in_message=True)


# --- ship-to ---------------------------------------------------------------

# Postal code and street agree: the address alone says whose site it is.
_ADDRESS_IDENTIFIES = 3.5


def _address_score(extracted: Address, known: KnownAddress) -> float:
    score = 0.0
    postal = simplify(extracted.postal_code).replace(" ", "")
    known_postal = simplify(known.postal_code).replace(" ", "")
    if postal and known_postal:
        score += 2.0 if postal == known_postal else -1.0
    street, known_street = simplify(extracted.street), simplify(known.street)
    if street and known_street:
        ratio = SequenceMatcher(None, street, known_street).ratio()
        score += 2.0 * ratio if ratio > 0.6 else -1.0
    city, known_city = simplify(extracted.city), simplify(known.city)
    if city and known_city:
        score += 1.0 if city == known_city or known_city in city.split() else -0.5
    name, known_name = simplify(extracted.name), simplify(known.name)
    if name and known_name:
        if name == known_name:
            score += 1.5
        else:
            distinctive = [w for w in _name_core(known_name).split() if len(w) > 2]
            hits = sum(1 for w in distinctive if w in name.split())
            score += 0.5 * hits / max(1, len(distinctive))
            # "our Bilbao site": the site word names the known address' city or its name
            if known_city and known_city in name.split():
                score += 1.0
    return score


def match_ship_to(extracted: Address, known: tuple[KnownAddress, ...]) -> tuple[KnownAddress | None, float]:
    """The known address the extracted one refers to, and how sure that is."""
    if extracted.is_empty() or not known:
        return None, 0.0
    scored = sorted(((_address_score(extracted, k), k) for k in known), key=lambda s: -s[0])
    best_score, best = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else float("-inf")
    if best_score < 1.0 or best_score - runner_up < 0.5:
        return None, 0.0
    confidence = min(0.99, 0.6 + best_score / 10)
    return best, confidence


def known_to_address(known: KnownAddress) -> Address:
    return Address(known.name, known.street, known.postal_code, known.city, known.country, known.address_id)


# --- lines -----------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    """Products indexed for description look-up."""

    by_description: dict[str, str]

    @classmethod
    def build(cls, master: MasterData) -> Catalogue:
        return cls({simplify(p.description): p.sku for p in master.products()})

    def find(self, text: str | None) -> tuple[str | None, float]:
        """An exact catalogue description inside ``text`` (longest wins)."""
        key = simplify(text)
        if not key:
            return None, 0.0
        if key in self.by_description:
            return self.by_description[key], 0.95
        padded = f" {key} "
        best = max(
            ((desc, sku) for desc, sku in self.by_description.items() if f" {desc} " in padded),
            key=lambda d: len(d[0]),
            default=None,
        )
        if best is not None:
            return best[1], 0.9
        return self._fuzzy(key)

    def _fuzzy(self, key: str) -> tuple[str | None, float]:
        """The closest description by rapidfuzz, with a confidence that sends doubt to review.

        Numbers in a description are the product (500mm is not 450mm), so a
        fuzzy match whose numbers differ is never confident. A match must also
        clearly beat the runner-up.
        """
        found = [f for f in process.extract(key, list(self.by_description), scorer=fuzz.token_sort_ratio, limit=5) if f[1] >= FUZZY_CANDIDATE]
        if not found:
            return None, 0.0
        numbers = _NUMBERS.findall(key)
        same = [f for f in found if _NUMBERS.findall(f[0]) == numbers]
        if same:
            description, score, _ = same[0]
            clear = len(same) == 1 or score - same[1][1] >= FUZZY_MARGIN
            confident = clear and score >= FUZZY_CONFIDENT
        else:
            description, score, _ = found[0]
            if len(found) > 1 and score - found[1][1] < FUZZY_MARGIN:
                return None, 0.0
            confident = False
        # Below the rules' low-confidence threshold unless the match is nearly exact.
        return self.by_description[description], 0.75 if confident else 0.45


def resolve_line(line: OrderLine, master: MasterData, catalogue: Catalogue, customer_id: str | None) -> OrderLine:
    provenance = line.quantity.provenance or line.description.provenance
    candidates = [c for c in (line.sku.value, line.customer_sku.value, *line.codes) if c]
    for code in candidates:
        if customer_id and (sku := master.cross_reference(customer_id, code)):
            line = replace(
                line,
                sku=Field(master.product(sku).sku if master.product(sku) else sku, 0.97, Provenance("masterdata", rule="customer_items")),
                customer_sku=Field(code, 0.95, provenance),
            )
            break
        if product := master.product(code):
            customer_sku = line.customer_sku
            if customer_sku.value and simplify(customer_sku.value) == simplify(code):
                customer_sku = Field(None)
            line = replace(line, sku=Field(product.sku, 0.97, provenance), customer_sku=customer_sku)
            break
    else:
        sku, confidence = catalogue.find(line.description.value or line.text)
        line = replace(line, sku=Field(sku, confidence, Provenance("masterdata", rule="catalogue_description")) if sku else Field(None))
    if not line.uom.present and line.sku.value and (product := master.product(line.sku.value)):
        line = replace(line, uom=Field(product.uom, 0.8, Provenance("masterdata", rule="base_uom")))
    return line


# --- the stage ---------------------------------------------------------------


def resolve_order(order: Order, message: Message, master: MasterData, catalogue: Catalogue, texts: tuple[str, ...]) -> tuple[Order, CustomerMatch]:
    match = match_customer(master, message, order.customer_name.value, texts, order.ship_to.value)
    customer_id = match.customer.customer_id if match.customer else None
    order = replace(
        order,
        customer_id=Field(customer_id, match.confidence, Provenance("header" if match.by_domain else "body", rule="sender_domain" if match.by_domain else "customer_name"))
        if customer_id
        else Field(None),
    )
    if order.ship_to.present and customer_id:
        known, confidence = match_ship_to(order.ship_to.value, master.addresses(customer_id))
        if known is not None:
            confidence = min(confidence, max(order.ship_to.confidence, 0.5) + 0.3)
            order = replace(order, ship_to=Field(known_to_address(known), round(confidence, 3), order.ship_to.provenance))
    lines = tuple(resolve_line(line, master, catalogue, customer_id) for line in order.lines)
    return replace(order, lines=lines), match
